"""chinesium protocol library: local-only clients for cheap Wi-Fi cameras.

Pure asyncio, no Home Assistant imports. Public API:

* :func:`discover` — search the LAN (broadcast and/or unicast hosts).
* :func:`open_session` — connect to a discovered camera; returns a started
  :class:`CameraSession` delivering :class:`Frame` objects.
* :class:`CameraInfo`, :class:`Credentials`, :class:`Frame`,
  :class:`SessionStats`, :class:`SessionOptions` and the errors in
  :mod:`.errors`.
* :mod:`.controls` — :class:`Capability`, :class:`PtzDirection`,
  :class:`NightMode`, :class:`CameraState` for the session's typed commands
  (``ptz``, ``set_night_mode``, ``set_light``, ``set_flip``, ``set_mirror``,
  ``set_resolution``, ``reboot``, ``refresh_state``).
* :mod:`.media` — codec-aware pipeline for H.264/H.265 (and JPEG) frames:
  per-camera hub, timestamp sanitizer, MPEG-TS muxer and HTTP restream,
  keyframe stills. Imported separately; PyAV is loaded only when needed.
"""

from __future__ import annotations

from .controls import CameraState, Capability, NightMode, PtzDirection
from .discovery import discover
from .errors import (
    AuthenticationError,
    CameraConnectionError,
    CameraFullError,
    CameraRejectedError,
    CameraTimeoutError,
    ChinesiumError,
    MalformedPacketError,
    SessionClosedError,
    UnsupportedCameraError,
    UnsupportedCommandError,
)
from .model import (
    AudioChunk,
    CameraInfo,
    Codec,
    Credentials,
    Family,
    Frame,
    SessionFacts,
    SessionStats,
)
from .session import CameraSession, SessionOptions
from .trace import TraceRecorder

__all__ = [
    "AudioChunk",
    "AuthenticationError",
    "CameraConnectionError",
    "CameraFullError",
    "CameraInfo",
    "CameraRejectedError",
    "CameraSession",
    "CameraState",
    "CameraTimeoutError",
    "Capability",
    "ChinesiumError",
    "Codec",
    "Credentials",
    "Family",
    "Frame",
    "MalformedPacketError",
    "NightMode",
    "PtzDirection",
    "SessionClosedError",
    "SessionFacts",
    "SessionOptions",
    "SessionStats",
    "TraceRecorder",
    "UnsupportedCameraError",
    "UnsupportedCommandError",
    "create_session",
    "discover",
    "expected_codecs",
    "open_session",
]


def create_session(
    info: CameraInfo,
    credentials: Credentials | None = None,
    options: SessionOptions | None = None,
    *,
    trace: TraceRecorder | None = None,
) -> CameraSession:
    """Build (but do not start) the right session class for ``info.family``.

    ``trace`` records the first datagrams each way and the identification and
    login steps, credentials redacted (for bug reports and diagnostics).
    """
    if not info.supported:
        raise UnsupportedCameraError(info.app_layer or str(info.family))
    if info.family is Family.TEG:
        from .teg.session import TegSession  # noqa: PLC0415

        session = TegSession(info, credentials, options)
        session.trace = trace
        return session
    if info.family is Family.PPPP:
        from .pppp.session import open_pppp_session  # noqa: PLC0415

        return open_pppp_session(info, credentials, options, trace=trace)
    raise UnsupportedCameraError(str(info.family))


async def open_session(
    info: CameraInfo,
    credentials: Credentials | None = None,
    options: SessionOptions | None = None,
    *,
    trace: TraceRecorder | None = None,
) -> CameraSession:
    """Connect to a camera, log in and start live video; raises a ChinesiumError."""
    session = create_session(info, credentials, options, trace=trace)
    await session.start()
    return session


def expected_codecs(info: CameraInfo) -> frozenset[Codec]:
    """Video codecs a camera is expected to stream, before its first frame arrives.

    TEG cameras send MJPEG; a PPPP camera's app layer decides (unknown layers:
    JPEG until a frame tells otherwise).
    """
    if info.family is Family.PPPP and info.app_layer:
        from .pppp.apps import CLIENTS, AppLayer  # noqa: PLC0415

        try:
            client = CLIENTS.get(AppLayer(info.app_layer))
        except ValueError:
            client = None
        if client is not None:
            return client.video_codecs
    return frozenset({Codec.JPEG})
