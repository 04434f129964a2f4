"""The integration's local MPEG-TS server: ``stream_source()`` of H.264/H.265 cameras.

One :class:`MediaServer` per Home Assistant instance, bound to 127.0.0.1 on an
ephemeral port. It runs while at least one camera entry that streams H.264 or
H.265 is set up (started before the camera platform loads, stopped after the
last such entry unloaded). Each camera is a source behind its own random token.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .protocol.media.server import MediaServer

MEDIA: HassKey[_Shared] = HassKey("chinesium_media_server")


@dataclass(slots=True)
class _Shared:
    server: MediaServer = field(default_factory=lambda: MediaServer("127.0.0.1", 0))
    users: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


async def async_acquire_server(hass: HomeAssistant, entry_id: str) -> MediaServer:
    """The running server (started on first use), held for ``entry_id``."""
    shared = hass.data.setdefault(MEDIA, _Shared())
    async with shared.lock:
        if not shared.server.running:
            await shared.server.start()
        shared.users.add(entry_id)
    return shared.server


async def async_release_server(hass: HomeAssistant, entry_id: str) -> None:
    """Remove ``entry_id``'s source and release its hold; the last one stops the server."""
    shared = hass.data.get(MEDIA)
    if shared is None:
        return
    shared.server.remove_source(entry_id)
    async with shared.lock:
        shared.users.discard(entry_id)
        if not shared.users and shared.server.running:
            await shared.server.stop()
