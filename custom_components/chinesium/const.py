"""Constants for the chinesium integration.

Timing constants are read through the module (``const.X``) at call time so
tests can patch them to short values.
"""

from __future__ import annotations

from datetime import timedelta
import logging
import os
from typing import Final

from .protocol import Family, SessionOptions
from .protocol.discovery import PPPP_SEARCH_PORT as _PPPP_PORT, TEG_SEARCH_PORT as _TEG_PORT

DOMAIN: Final = "chinesium"
LOGGER = logging.getLogger(__package__)

CONF_UID: Final = "uid"
CONF_FAMILY: Final = "family"

SESSION_OPTIONS: SessionOptions = SessionOptions()
"""Options for every camera session (tests bind 127.0.0.1 and shorten timeouts)."""

DISCOVERY_TIMEOUT: float = 1.5
"""Seconds to collect discovery replies."""
DISCOVERY_BIND_HOST: str = "0.0.0.0"  # noqa: S104 - discovery listens on the LAN
"""Local address discovery sockets bind to."""
TEG_SEARCH_PORT: int = _TEG_PORT
"""UDP port TEG cameras answer searches on (tests point it at an emulator)."""
PPPP_SEARCH_PORT: int = _PPPP_PORT
"""UDP port PPPP cameras answer searches on."""
SCAN_HOSTS: list[str] = [
    host.strip() for host in os.environ.get("CHINESIUM_SCAN_HOSTS", "").split(",") if host.strip()
]
"""Extra unicast targets (``host`` or ``host:port``) added to every LAN scan.

Seeded from the ``CHINESIUM_SCAN_HOSTS`` environment variable (comma separated),
which ``scripts/develop`` uses to point the scan at emulated cameras.
"""
BROADCAST: bool = os.environ.get("CHINESIUM_BROADCAST", "1").strip().lower() not in {
    "0",
    "false",
    "no",
    "off",
}
"""Broadcast searches on the LAN; ``CHINESIUM_BROADCAST=0`` limits scans to unicast hosts."""
SCAN_INTERVAL: timedelta = timedelta(minutes=15)
"""How often the background scan looks for new or moved cameras."""

RECONNECT_MIN_DELAY: float = 1.0
"""First reconnect delay in seconds; doubles on every failure."""
RECONNECT_MAX_DELAY: float = 60.0
"""Reconnect delay cap in seconds."""
STATS_INTERVAL: timedelta = timedelta(seconds=5)
"""How often session statistics are copied into the coordinator state."""
FRAME_STALE_AFTER: float = 5.0
"""Seconds without a frame after which the stream counts as stalled."""
STREAM_FRAME_TIMEOUT: float = 10.0
"""Seconds an MJPEG stream waits for the next frame before ending."""

CREDENTIAL_FIELDS: Final[dict[Family, tuple[str, ...]]] = {
    Family.TEG: ("password",),
    Family.PPPP: ("username", "password"),
}
"""Credential fields a user may have to enter, per camera family."""

FAMILY_LABELS: Final[dict[Family, str]] = {
    Family.TEG: "TEG",
    Family.PPPP: "PPPP",
}
MANUFACTURERS: Final[dict[Family, str]] = {
    Family.TEG: "IWFCam",
    Family.PPPP: "PPPP (CS2 Network)",
}
