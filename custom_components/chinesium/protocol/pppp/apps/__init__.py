"""PPPP application layers spoken over DRW channels (pppp.md §6).

* :mod:`.shix` — SHIX JSON (``06 0a a0 80``), default admin/6666.
* :mod:`.ilnk` — iLnk binary (``11 0a``), default admin/admin.
* :mod:`.avframe` — the common 32-byte A/V frame header and frame reassembly.
* :mod:`.identify` — which layer a camera speaks (and names for the ones we cannot).
"""

from __future__ import annotations

from .avframe import AvFrame, FrameAssembler, FrameHeader
from .base import AppClient
from .identify import AppLayer, Identification
from .ilnk import IlnkClient
from .shix import ShixClient

CLIENTS: dict[AppLayer, type[AppClient]] = {
    AppLayer.SHIX: ShixClient,
    AppLayer.ILNK: IlnkClient,
}
"""App-layer clients by layer (the layers this library can speak)."""

__all__ = [
    "CLIENTS",
    "AppClient",
    "AppLayer",
    "AvFrame",
    "FrameAssembler",
    "FrameHeader",
    "Identification",
    "IlnkClient",
    "ShixClient",
]
