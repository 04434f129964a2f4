"""The one registry of PPPP application layers (pppp.md §6.1-§6.6).

Every layer this library recognises has one :class:`LayerEntry`: its display
name, the first bytes of its control messages, and the client class when the
library can speak it. Layers we can only name are registered as "recognised,
not supported" entries (``client`` is ``None``). The lookup tables used
elsewhere (:data:`SUPPORTED`, :data:`CLIENTS`, :data:`DISPLAY_NAMES`,
:data:`PAYLOAD_MAGICS`) are all derived from :data:`REGISTRY`.

Supported layers declare themselves on their client class
(:attr:`AppClient.layer`, ``display_name``, ``magic``, ``supported``,
``capabilities``); :func:`entry_for_client` turns such a class into an entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...controls import Capability
from .base import AppClient
from .ilnk import IlnkClient
from .layers import AppLayer
from .lookcam import LookcamClient
from .shix import ShixClient
from .vstarcam import VstarcamClient


@dataclass(frozen=True, slots=True)
class LayerEntry:
    """One application layer: name, magic, client (``None`` = recognised only)."""

    layer: AppLayer
    display_name: str
    magic: bytes | None
    """First bytes of a control message (``None``: not recognisable by payload)."""
    client: type[AppClient] | None = None
    capabilities: frozenset[Capability] = frozenset()
    """What the client can do or report beyond live video (see :class:`Capability`)."""
    resolutions: tuple[str, ...] = ()
    """Resolutions the layer can switch to."""

    @property
    def supported(self) -> bool:
        """True when this library can speak the layer."""
        return self.client is not None and self.client.supported


def entry_for_client(client: type[AppClient]) -> LayerEntry:
    """Registry entry declared by an app client class."""
    return LayerEntry(
        client.layer,
        client.display_name,
        client.magic,
        client,
        frozenset(client.capabilities),
        client.resolutions,
    )


_SPOKEN: tuple[type[AppClient], ...] = (ShixClient, IlnkClient, VstarcamClient, LookcamClient)

_RECOGNISED: tuple[LayerEntry, ...] = (
    LayerEntry(AppLayer.CAMHI, "CamHi", b"\x99\x99\x99\x99"),
    LayerEntry(AppLayer.YI, "Yi / Kami", b"\x78\x56\x34\x12"),
    LayerEntry(AppLayer.MEARI, "Meari (CloudEdge)", b"\x56\x56\x50\x99"),
    LayerEntry(AppLayer.IBABY, "iBaby", b"BABYCARE"),
    LayerEntry(AppLayer.TUYA, "Tuya", None),
    LayerEntry(AppLayer.XIAOMI, "Xiaomi CS2", None),
)

REGISTRY: dict[AppLayer, LayerEntry] = {
    entry.layer: entry for entry in (*map(entry_for_client, _SPOKEN), *_RECOGNISED)
}
"""Every known layer, spoken or only recognised."""

SUPPORTED: frozenset[AppLayer] = frozenset(e.layer for e in REGISTRY.values() if e.supported)
"""Layers this library can speak."""

CLIENTS: dict[AppLayer, type[AppClient]] = {
    e.layer: e.client for e in REGISTRY.values() if e.client is not None and e.supported
}
"""App-layer clients by layer (the layers this library can speak)."""

DISPLAY_NAMES: dict[AppLayer, str] = {e.layer: e.display_name for e in REGISTRY.values()}
"""Human-readable layer names (shown in Home Assistant and in errors)."""

PAYLOAD_MAGICS: tuple[tuple[bytes, AppLayer], ...] = tuple(
    sorted(
        ((e.magic, e.layer) for e in REGISTRY.values() if e.magic),
        key=lambda item: -len(item[0]),
    )
)
"""First bytes of a control message for each layer, longest magic first."""


def layer_from_payload(payload: bytes | bytearray | memoryview) -> AppLayer | None:
    """Recognise a layer by the first bytes of a control-channel message."""
    head = bytes(payload[:8])
    for magic, layer in PAYLOAD_MAGICS:
        if head.startswith(magic):
            return layer
    return None
