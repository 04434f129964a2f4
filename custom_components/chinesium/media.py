"""The integration's media servers: ``stream_source()`` and the opt-in LAN restream.

The local server (127.0.0.1, ephemeral port) serves ``stream_source()`` of
H.264/H.265 cameras and of MJPEG cameras transcoded for HA's stream. A LAN
server exists only for a ``host:port`` a user chose in a camera's options. A
server runs while at least one entry holds it (started before the camera
platform loads, stopped after the last entry released it). Each camera is a
source behind its own token.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .protocol.media.server import MediaServer

LOCAL = ("127.0.0.1", 0)
"""Address of the local server (ephemeral port)."""

MEDIA: HassKey[dict[tuple[str, int], _Shared]] = HassKey("chinesium_media_servers")


@dataclass(slots=True)
class _Shared:
    server: MediaServer
    users: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


async def async_acquire_server(
    hass: HomeAssistant, entry_id: str, address: tuple[str, int] = LOCAL
) -> MediaServer:
    """The running server at ``address`` (started on first use), held for ``entry_id``.

    Raises ``OSError`` when a LAN address cannot be bound.
    """
    servers = hass.data.setdefault(MEDIA, {})
    shared = servers.get(address)
    if shared is None:
        shared = servers[address] = _Shared(MediaServer(*address))
    async with shared.lock:
        if not shared.server.running:
            await shared.server.start()
        shared.users.add(entry_id)
    return shared.server


def server_at(hass: HomeAssistant, address: tuple[str, int] = LOCAL) -> MediaServer | None:
    """The server at ``address`` if one exists."""
    shared = hass.data.get(MEDIA, {}).get(address)
    return shared.server if shared is not None else None


async def async_release_server(
    hass: HomeAssistant, entry_id: str, address: tuple[str, int] = LOCAL
) -> None:
    """Remove ``entry_id``'s source and release its hold; the last one stops the server."""
    shared = hass.data.get(MEDIA, {}).get(address)
    if shared is None:
        return
    shared.server.remove_source(entry_id)
    async with shared.lock:
        shared.users.discard(entry_id)
        if not shared.users and shared.server.running:
            await shared.server.stop()
