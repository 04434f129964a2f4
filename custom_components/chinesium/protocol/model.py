"""Typed values shared by every camera family: camera descriptions, frames, stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
import time
from typing import Any


class Family(StrEnum):
    """Protocol family a camera speaks."""

    TEG = "teg"
    PPPP = "pppp"


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """What discovery (or a manual probe) learned about one camera.

    ``uid`` is the stable identity (TEG UID, PPPP device ID); ``host``/``port``
    are where the session is opened. ``app_layer`` names the PPPP application
    layer (``"shix"``, ``"ilnk"``, ...) or is ``None`` for TEG. ``supported`` is
    false when the library recognises the camera but cannot stream from it.
    ``extra`` holds family-specific details (e.g. the PPPP obfuscation key).
    """

    uid: str
    host: str
    port: int
    family: Family
    app_layer: str | None = None
    name: str | None = None
    model: str | None = None
    supported: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def as_dict(self) -> dict[str, Any]:
        """Serialise to JSON-safe primitives (config entries, diagnostics)."""
        return {
            "uid": self.uid,
            "host": self.host,
            "port": self.port,
            "family": str(self.family),
            "app_layer": self.app_layer,
            "name": self.name,
            "model": self.model,
            "supported": self.supported,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CameraInfo:
        """Inverse of :meth:`as_dict`; unknown keys are ignored."""
        return cls(
            uid=str(data["uid"]),
            host=str(data["host"]),
            port=int(data["port"]),
            family=Family(data["family"]),
            app_layer=data.get("app_layer"),
            name=data.get("name"),
            model=data.get("model"),
            supported=bool(data.get("supported", True)),
            extra=dict(data.get("extra") or {}),
        )


@dataclass(frozen=True, slots=True)
class Credentials:
    """Login credentials; which fields matter depends on the family.

    TEG uses ``password`` as the 12-character token (``None`` = the camera's
    no-password token). PPPP app layers use ``username`` and ``password``
    (``None`` = try the app layer's known defaults).
    """

    username: str | None = None
    password: str | None = None


class Codec(StrEnum):
    """How a frame's bytes are encoded."""

    JPEG = "jpeg"
    H264 = "h264"
    H265 = "h265"


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete media frame: a JPEG picture or an H.264/H.265 access unit.

    ``data`` is a whole JPEG (FF D8 ... FF D9) for :attr:`Codec.JPEG`, or one
    Annex-B access unit for H.264/H.265 (a keyframe carries its SPS/PPS).
    ``timestamp`` is wall-clock seconds (``time.time()``) when the last packet
    arrived; ``seq`` counts the frames delivered by the session (1, 2, ...).
    ``pts`` is the presentation time in ms from the camera clock when the
    protocol carries one (``None``: only ``timestamp`` is known).
    ``width``/``height`` are 0 when not known.
    """

    data: bytes
    width: int
    height: int
    timestamp: float
    seq: int
    codec: Codec = Codec.JPEG
    keyframe: bool = True
    pts: int | None = None

    @classmethod
    def now(cls, jpeg: bytes, width: int, height: int, seq: int) -> Frame:
        """Build a JPEG frame stamped with the current time."""
        return cls(jpeg, width, height, time.time(), seq)


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Decoded camera audio: mono signed 16-bit little-endian PCM at ``rate`` Hz.

    ``timestamp`` is wall-clock seconds when it arrived; ``seq`` counts the
    chunks a session delivered; ``pts`` is the camera's ms clock when the
    protocol carries one (a :class:`~.media.MediaHub` replaces it with a
    pts on its video timeline).
    """

    data: bytes
    rate: int
    timestamp: float
    seq: int
    pts: int | None = None

    @property
    def samples(self) -> int:
        """Number of samples."""
        return len(self.data) // 2


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What a session learned about its camera, filled in by each family.

    The only view the integration has of a session's internals: no consumer
    reads private attributes. Fields are ``None``/0 until known.
    """

    local_port: int = 0
    """Local UDP port of the session socket (reuse it so the camera reuses our slot)."""
    app_layer: str | None = None
    """PPPP application layer spoken (``"shix"``, ``"ilnk"``, ...); ``None`` for TEG."""
    firmware: str | None = None
    """Firmware version the camera reported."""
    model: str | None = None
    """Model name the camera reported."""
    codec: Codec | None = None
    """Video codec of the live stream, once the first frame arrived."""
    width: int = 0
    """Picture width when known."""
    height: int = 0
    """Picture height when known."""


@dataclass(slots=True)
class SessionStats:
    """Counters a session keeps; cheap to update on the hot path."""

    packets: int = 0
    """Datagrams received from the camera (any kind)."""
    media_packets: int = 0
    """Media datagrams received."""
    frames_ok: int = 0
    """Frames delivered intact."""
    frames_dropped: int = 0
    """Frames given up on (missing packets, bad JPEG)."""
    duplicates: int = 0
    """Media packets seen twice."""
    malformed: int = 0
    """Datagrams that failed to decode (ignored)."""
    resend_requests: int = 0
    """NAKs / retransmission requests we sent."""
    retransmissions: int = 0
    """Our own packets we had to send again (PPPP DRW)."""
    bytes_received: int = 0
    """Payload bytes received."""

    def as_dict(self) -> dict[str, int]:
        """Return the counters as a plain dict (diagnostics, CLI)."""
        return {name: getattr(self, name) for name in self.__slots__}
