"""PPPP application layers spoken over DRW channels (pppp.md §6).

* :mod:`.shix` — SHIX JSON (``06 0a a0 80``), default admin/6666.
* :mod:`.ilnk` — iLnk binary (``11 0a``), default admin/admin.
* :mod:`.vstarcam` — VStarcam CGI (``01 0a 00 00``), default admin/888888, H.264/H.265.
* :mod:`.lookcam` — LookCam JSON (``a0 af af af``, commands on channel 1, HEVC/H.264 on 0).
* :mod:`.registry` — the one table of layers (spoken and only recognised).
* :mod:`.avframe` — the common 32-byte A/V frame header and frame reassembly.
* :mod:`.identify` — which layer a camera speaks (and names for the ones we cannot).
"""

from __future__ import annotations

from .avframe import AvFrame, FrameAssembler, FrameHeader
from .base import AppClient
from .identify import Identification
from .ilnk import IlnkClient
from .layers import AppLayer
from .lookcam import LookcamClient
from .registry import CLIENTS, DISPLAY_NAMES, REGISTRY, SUPPORTED, LayerEntry
from .shix import ShixClient
from .vstarcam import VstarcamClient

__all__ = [
    "CLIENTS",
    "DISPLAY_NAMES",
    "REGISTRY",
    "SUPPORTED",
    "AppClient",
    "AppLayer",
    "AvFrame",
    "FrameAssembler",
    "FrameHeader",
    "Identification",
    "IlnkClient",
    "LayerEntry",
    "LookcamClient",
    "ShixClient",
    "VstarcamClient",
]
