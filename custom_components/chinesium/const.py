"""Constants for the chinesium integration (runtime tunables live in ``settings``)."""

from __future__ import annotations

import logging
from typing import Final

from .protocol import Family

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
CONF_MOTION_SENSITIVITY: Final = "motion_sensitivity"
"""Motion detection sensitivity in percent (0-100; higher: smaller changes count)."""
DEFAULT_MOTION_SENSITIVITY: Final = 50
CONF_MOTION_HOLD: Final = "motion_hold"
"""Seconds the motion sensor stays on after the last motion."""
DEFAULT_MOTION_HOLD: Final = 5
MAX_MOTION_HOLD: Final = 600
"""Largest hold time the options flow accepts, seconds."""
CONF_HLS: Final = "hls"
"""MJPEG cameras: transcode to H.264 for HA's stream (HLS, WebRTC, recording) while watched."""
CONF_AUDIO: Final = "audio"
"""Carry the camera's sound (AAC) in the stream; requested from the camera only while used."""
CONF_RESTREAM: Final = "restream"
"""Offer the camera to NVRs on the LAN (MPEG-TS, and MJPEG for MJPEG cameras)."""
CONF_RESTREAM_HOST: Final = "restream_host"
"""Address the LAN restream listens on (``0.0.0.0``: every interface)."""
DEFAULT_RESTREAM_HOST: Final = "0.0.0.0"  # noqa: S104 - opt-in LAN listener
CONF_RESTREAM_PORT: Final = "restream_port"
DEFAULT_RESTREAM_PORT: Final = 18554
DATA_RESTREAM_TOKEN: Final = "restream_token"  # noqa: S105 - a key name, not a secret
"""Entry data: the camera's LAN restream token (rotated from the UI)."""
CONF_SCAN_HOSTS: Final = "scan_hosts"
"""Extra unicast discovery targets: ``host``, ``host:port`` or CIDR ``a.b.c.d/nn``."""
SCAN_CIDR_MIN_PREFIX: Final = 22
"""Largest network (smallest prefix length) a ``scan_hosts`` CIDR may name."""
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
