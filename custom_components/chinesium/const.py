"""Constants for the chinesium integration.

Timing constants are read through the module (``const.X``) at call time so
tests can patch them to short values.
"""

from __future__ import annotations

from collections.abc import Mapping
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

# -- options (entry.options, set by the options flow) ------------------------------------
CONF_STREAM_MODE: Final = "stream_mode"
"""How the session is kept: ``STREAM_MODE_ALWAYS`` or ``STREAM_MODE_ON_DEMAND``."""
STREAM_MODE_ALWAYS: Final = "always"
"""Keep the camera session connected all the time (default)."""
STREAM_MODE_ON_DEMAND: Final = "on_demand"
"""Connect only while a viewer or snapshot needs frames."""
STREAM_MODES: Final = (STREAM_MODE_ALWAYS, STREAM_MODE_ON_DEMAND)
DEFAULT_STREAM_MODE: Final = STREAM_MODE_ALWAYS
CONF_MAX_FPS: Final = "max_fps"
"""Frame rate cap for MJPEG viewers; 0 = no cap."""
DEFAULT_MAX_FPS: Final = 0
MAX_FPS_LIMIT: Final = 30
"""Largest value the options flow accepts for ``max_fps``."""
CONF_SCAN_HOSTS: Final = "scan_hosts"
"""Extra unicast discovery targets: ``host``, ``host:port`` or CIDR ``a.b.c.d/nn``."""
SCAN_CIDR_MIN_PREFIX: Final = 22
"""Largest network (smallest prefix length) a ``scan_hosts`` CIDR may name."""
ON_DEMAND_LINGER: float = 30.0
"""Seconds an on-demand session stays connected after the last viewer/snapshot."""

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


def scan_hosts_from_env(environ: Mapping[str, str]) -> list[str]:
    """Parse ``CHINESIUM_SCAN_HOSTS`` (comma separated ``host[:port]``)."""
    return [
        host.strip() for host in environ.get("CHINESIUM_SCAN_HOSTS", "").split(",") if host.strip()
    ]


def broadcast_from_env(environ: Mapping[str, str]) -> bool:
    """Parse ``CHINESIUM_BROADCAST``: broadcast unless it is 0/false/no/off."""
    return environ.get("CHINESIUM_BROADCAST", "1").strip().lower() not in {
        "0",
        "false",
        "no",
        "off",
    }


SCAN_HOSTS: list[str] = scan_hosts_from_env(os.environ)
"""Extra unicast targets (``host`` or ``host:port``) added to every LAN scan.

Seeded from the ``CHINESIUM_SCAN_HOSTS`` environment variable, which
``scripts/develop`` uses to point the scan at emulated cameras.
"""
BROADCAST: bool = broadcast_from_env(os.environ)
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
