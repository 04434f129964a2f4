"""Shared pieces of the PPPP application layers: channel protocol and client base.

An application layer talks over DRW channels of a PPPP connection. The
clients here only need a tiny slice of the transport's channel API
(:class:`ChannelLike`), which keeps them testable with an in-memory fake.
Replies on the control channel are parsed by a layer-specific incremental
decoder and handed to whoever waits for them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import logging
from typing import Any, ClassVar, Protocol, overload

from ...controls import Capability, NightMode, PtzDirection
from ...errors import (
    CameraTimeoutError,
    ChinesiumError,
    MalformedPacketError,
    UnsupportedCameraError,
    UnsupportedCommandError,
)
from ...model import Codec
from .avframe import AudioFormat, FrameHeader, audio_format
from .layers import AppLayer

_LOGGER = logging.getLogger(__name__)

CONTROL_CHANNEL = 0
VIDEO_CHANNEL = 1
AUDIO_CHANNEL = 2


class WrongLayerError(UnsupportedCameraError):
    """The camera answered in another application layer (``layer``)."""

    def __init__(self, layer: AppLayer) -> None:
        """Name the layer the camera's reply was recognised as."""
        from .registry import DISPLAY_NAMES  # noqa: PLC0415 - the registry imports the clients

        super().__init__(layer.value, f"camera speaks {DISPLAY_NAMES[layer]}")
        self.layer = layer


class UnknownLayerError(UnsupportedCameraError):
    """The camera answered with an application-layer magic no layer uses (``magic``)."""

    def __init__(self, magic: bytes) -> None:
        """Keep the first bytes the camera sent."""
        super().__init__(
            "unknown", f"camera answered with an unknown app-layer magic {magic[:8].hex(' ')}"
        )
        self.magic = bytes(magic[:16])


@dataclass(frozen=True, slots=True)
class MediaUnit:
    """One H.264/H.265 access unit cut by a layer with its own media framing."""

    data: bytes
    keyframe: bool
    codec: Codec | None
    """Codec told by the NAL headers (``None``: not visible in this unit)."""
    pts: int | None = None
    header: bytes = b""
    """The layer's frame header (raw, for diagnostics)."""


NOT_A_NUMBER = -99
"""What :func:`json_result` reads from a ``result`` that is not a number."""


@overload
def json_result(reply: dict[str, Any], missing: int) -> int: ...
@overload
def json_result(reply: dict[str, Any], missing: None) -> int | None: ...
def json_result(reply: dict[str, Any], missing: int | None) -> int | None:
    """The ``result`` field of a JSON reply as an int (SHIX, LookCam).

    ``missing`` when the field is absent, :data:`NOT_A_NUMBER` when it is not a number.
    """
    value = reply.get("result")
    if value is None:
        return missing
    try:
        return int(value)
    except (TypeError, ValueError):
        return NOT_A_NUMBER


class ChannelLike(Protocol):
    """The part of the transport's ``DrwChannel`` an app layer uses."""

    def write(self, data: bytes) -> None:
        """Queue ``data`` for reliable, in-order delivery."""

    def set_packet_handler(self, cb: Callable[[bytes], None] | None) -> None:
        """Receive every in-order payload through ``cb`` instead of ``read()``."""


class MediaChannelLike(ChannelLike, Protocol):
    """The media channel as an app layer sees it (adds the index-restart quirk)."""

    def allow_index_restart(self) -> None:
        """Accept the peer's next index 0 as a restart of its count."""


class MagicFramer:
    """Split a byte stream into frames that start with a fixed magic.

    Bytes before the magic are dropped and counted in ``skipped``. Once
    ``header_size`` bytes are buffered, ``frame_size(header)`` gives the whole
    frame's size, or ``None`` for an impossible length: then the magic is
    skipped and the search resumes after it.
    """

    def __init__(
        self,
        magic: bytes,
        header_size: int,
        frame_size: Callable[[bytearray], int | None],
    ) -> None:
        """Start with an empty buffer."""
        self._magic = magic
        self._header_size = header_size
        self._frame_size = frame_size
        self._buf = bytearray()
        self.skipped = 0

    def frames(self, data: bytes) -> list[bytes]:
        """Add bytes; return the complete frames (header included)."""
        buf = self._buf
        buf += data
        magic = self._magic
        out: list[bytes] = []
        while True:
            start = buf.find(magic)
            if start < 0:
                keep = 1 if buf.endswith(magic[:1]) else 0
                self.skipped += len(buf) - keep
                del buf[: len(buf) - keep]
                break
            if start:
                self.skipped += start
                del buf[:start]
            if len(buf) < self._header_size:
                break
            end = self._frame_size(buf)
            if end is None:
                self.skipped += len(magic)
                del buf[: len(magic)]
                continue
            if len(buf) < end:
                break
            out.append(bytes(buf[:end]))
            del buf[:end]
        return out


class ReplyWaiter[M]:
    """Match decoded reply messages to pending requests by a predicate."""

    def __init__(self) -> None:
        """No one waits yet."""
        self._waiting: list[tuple[Callable[[M], bool], asyncio.Future[M]]] = []
        self.unsolicited = 0

    def deliver(self, msg: M) -> None:
        """Resolve the first waiter whose predicate accepts ``msg``."""
        for i, (pred, fut) in enumerate(self._waiting):
            if not fut.done() and pred(msg):
                fut.set_result(msg)
                del self._waiting[i]
                return
        self.unsolicited += 1

    async def wait(self, pred: Callable[[M], bool], seconds: float, what: str) -> M:
        """Wait up to ``seconds`` for a message accepted by ``pred``."""
        fut: asyncio.Future[M] = asyncio.get_running_loop().create_future()
        entry = (pred, fut)
        self._waiting.append(entry)
        try:
            async with asyncio.timeout(seconds):
                return await fut
        except TimeoutError as err:
            raise CameraTimeoutError(f"no reply to {what}") from err
        finally:
            if entry in self._waiting:
                self._waiting.remove(entry)

    def fail(self, err: ChinesiumError) -> None:
        """Fail every pending wait (connection lost)."""
        for _, fut in self._waiting:
            if not fut.done():
                fut.set_exception(err)
        self._waiting.clear()


class AppClient(ABC):
    """An application layer spoken over a PPPP connection's DRW channels.

    Subclasses decode control-channel bytes into messages, then implement
    :meth:`login`, :meth:`start_video` and :meth:`stop_video`. Media arrive on
    :data:`VIDEO_CHANNEL`; the session feeds them to a frame assembler.
    """

    layer: ClassVar[AppLayer]
    """The layer this client speaks (its registry key)."""
    name: ClassVar[str] = ""
    """Short app-layer name (``"shix"``, ``"ilnk"``, ``"vstarcam"``) = ``layer.value``."""
    display_name: ClassVar[str] = ""
    """Human-readable layer name (shown in Home Assistant)."""
    magic: ClassVar[bytes] = b""
    """First bytes of the camera's control messages (identifies the layer)."""
    supported: ClassVar[bool] = True
    """False for a client that exists but must not be offered yet."""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    """What the layer offers beyond live video (e.g. ``SNAPSHOT`` = :meth:`snapshot_jpeg`).

    The registry's view; an instance may report fewer (:meth:`live_capabilities`)
    once the camera told what it has."""
    resolutions: ClassVar[tuple[str, ...]] = ()
    """Values :meth:`set_resolution` accepts."""
    night_modes: tuple[NightMode, ...] = ()
    """Modes :meth:`set_night_mode` accepts (may be narrowed per camera)."""
    default_credentials: tuple[tuple[str, str], ...] = ()
    """Factory (username, password) pairs to try, most common first."""
    video_channel: int = VIDEO_CHANNEL
    control_channel: ClassVar[int] = CONTROL_CHANNEL
    """DRW channel of commands and replies (LookCam: 1)."""
    own_media: ClassVar[bool] = False
    """True when the layer cuts its media itself (:meth:`media_units`) instead of
    using the common ``55 aa 15 a8`` frame header."""
    firmware: str | None = None
    """Firmware version, when the layer's login or status replies carry one."""
    video_codecs: frozenset[Codec] = frozenset({Codec.JPEG})
    """Codecs this layer's cameras stream (decides whether HA's stream is offered)."""
    audio_channel: ClassVar[int | None] = None
    """DRW channel of the camera's audio frames (``55 aa 15 a8`` header); ``None``:
    the layer has no audio we know. It may equal :attr:`video_channel` (iLnk)."""
    audio_rate: ClassVar[int] = 8000
    """Sample rate of the camera's audio."""

    def __init__(self, control: ChannelLike, *, reply_timeout: float = 3.0) -> None:
        """Attach to the control channel (installs its packet handler)."""
        self._control = control
        self.reply_timeout = reply_timeout
        self.malformed = 0
        self.first_payload: bytes | None = None
        """The first control payload received (identifies the camera's layer)."""
        control.set_packet_handler(self._on_control)

    def detach(self) -> None:
        """Remove the packet handler from the control channel."""
        self._control.set_packet_handler(None)

    def feed(self, payload: bytes) -> None:
        """Feed control-channel bytes received outside the packet handler."""
        self._on_control(payload)

    def _on_control(self, payload: bytes) -> None:
        if self.first_payload is None:
            self.first_payload = payload[:16]
            from .registry import layer_from_payload  # noqa: PLC0415 - imports the clients

            spoken = layer_from_payload(payload)
            if spoken is not None and spoken is not self.layer:
                self.fail_pending(WrongLayerError(spoken))
                return
            if spoken is None and not payload.startswith(self.magic):
                self.fail_pending(UnknownLayerError(payload[:16]))
                return
        try:
            self._feed_control(payload)
        except MalformedPacketError:
            self.malformed += 1
            _LOGGER.debug("%s: undecodable control payload %s", self.name, payload[:32].hex())

    @abstractmethod
    def _feed_control(self, payload: bytes) -> None:
        """Decode control-channel bytes and dispatch the complete messages."""

    @abstractmethod
    def fail_pending(self, err: ChinesiumError) -> None:
        """Fail every request waiting for a reply."""

    @abstractmethod
    async def login(self, username: str, password: str) -> None:
        """Log in; raise AuthenticationError on wrong credentials."""

    @abstractmethod
    async def start_video(self) -> None:
        """Ask the camera to stream video on :attr:`video_channel`."""

    def attach_video(self, channel: MediaChannelLike, sink: Callable[[bytes], None]) -> None:
        """Route the media channel's in-order payloads to ``sink`` (call before start_video)."""
        channel.set_packet_handler(sink)

    def attach_audio(self, channel: MediaChannelLike, sink: Callable[[bytes], None]) -> None:
        """Route the audio channel's in-order payloads to ``sink`` (when it is its own)."""
        channel.set_packet_handler(sink)

    async def start_audio(self) -> None:
        """Ask the camera to send audio (layers with an :attr:`audio_channel`)."""
        raise UnsupportedCommandError("audio")

    async def stop_audio(self) -> None:  # noqa: B027 - optional: most layers need nothing
        """Ask the camera to stop sending audio (best effort; no reply awaited)."""

    def audio_format(self, header: FrameHeader) -> AudioFormat | None:
        """The coding of an audio frame with ``header`` (``None``: not audio)."""
        return audio_format(header)

    def media_units(self, payload: bytes) -> list[MediaUnit]:
        """Access units completed by one media payload (layers with :attr:`own_media`)."""
        raise NotImplementedError

    async def snapshot_jpeg(self) -> bytes:
        """Ask the camera for a still JPEG (layers with the ``"snapshot"`` capability)."""
        raise UnsupportedCameraError(self.name, f"{self.display_name} has no still-image command")

    @abstractmethod
    async def stop_video(self) -> None:
        """Ask the camera to stop streaming (best effort; no reply awaited)."""

    # -- controls (defaults: unsupported; layers override what they offer)

    def live_capabilities(self) -> frozenset[Capability]:
        """Capabilities of this camera (the class's, minus what the camera said it lacks)."""
        return self.capabilities

    async def ptz_move(self, direction: PtzDirection) -> None:
        """Start moving in ``direction`` (STOP: stop)."""
        raise UnsupportedCommandError("ptz")

    async def ptz_step(self, direction: PtzDirection) -> None:
        """One step in ``direction`` (default: start, then stop)."""
        await self.ptz_move(direction)
        await self.ptz_move(PtzDirection.STOP)

    async def set_night_mode(self, mode: NightMode) -> None:
        """Switch IR-cut / IR LEDs."""
        raise UnsupportedCommandError("set_night_mode")

    async def set_light(self, on: bool) -> None:
        """Switch the white light / lamp."""
        raise UnsupportedCommandError("set_light")

    async def set_orientation(self, flip: bool, mirror: bool) -> None:
        """Set flip and mirror together."""
        raise UnsupportedCommandError("set_flip")

    async def set_resolution(self, value: str) -> None:
        """Switch the stream to ``value`` (one of :attr:`resolutions`)."""
        raise UnsupportedCommandError("set_resolution")

    async def reboot(self) -> None:
        """Ask the camera to reboot."""
        raise UnsupportedCommandError("reboot")

    async def read_state(self) -> dict[str, Any]:
        """Query the camera; return :class:`~...controls.CameraState` fields it reported."""
        return {}
