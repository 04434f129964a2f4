"""H.264/H.265 access units (and optional AAC audio) into MPEG-TS with PyAV.

Each client gets its own muxer (ha-notes §17 fact 10): packets carry
pts = dts in 1/90000 from the frame's ms ``pts`` and their keyframe flag; the
container flushes after every packet. A PyAV output container must always be
closed (an unclosed one crashes the interpreter at exit, §17 fact 15), so
:class:`MpegTsMuxer` is a context manager and :func:`mpegts_chunks` closes it
in ``finally``. ``av`` is imported on first use.

Audio: with ``audio_rate`` the muxer also carries one AAC stream (PyAV's
``aac`` encoder; ha-notes §17 fact 8: HA's worker keeps aac audio). Decoded
PCM chunks (8 kHz from the cameras) are resampled to ``audio_rate`` and timed
by a running sample clock anchored to the video timeline (hub pts), resynced
after a gap. Video is copied, never re-encoded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from fractions import Fraction
import logging
from typing import TYPE_CHECKING, Any, Protocol

from ..model import AudioChunk, Codec, Frame
from .timestamps import TimestampSanitizer

if TYPE_CHECKING:
    from types import TracebackType

    from .hub import Subscription

_LOGGER = logging.getLogger(__name__)
TS_TIME_BASE = Fraction(1, 90000)
"""MPEG-TS clock: 90 kHz."""
_STREAM_CODEC = {Codec.H264: "h264", Codec.H265: "hevc"}
AAC_RATE = 16000
"""Sample rate of the AAC stream (camera audio is resampled to it)."""
AAC_BIT_RATE = 32000
AUDIO_WAIT = 2.0
"""Seconds :func:`mpegts_av_chunks` waits for the first audio chunk after the
first keyframe before it starts a video-only stream."""


class _Sink:
    """File-like write target for PyAV; collects what the muxer writes."""

    __slots__ = ("chunks",)

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


class MpegTsMuxer:
    """Synchronous MPEG-TS muxer for one client and one H.264/H.265 stream.

    :meth:`mux` takes frames in order and returns the TS bytes produced so far
    (possibly empty); frames before the first keyframe are skipped. Timestamps
    are rebased to 0 and kept strictly increasing (a frame without ``pts``
    uses its arrival time). Always :meth:`close` it (or use ``with``).
    """

    def __init__(
        self, codec: Codec, *, nominal_step_ms: int = 67, audio_rate: int | None = None
    ) -> None:
        """``codec`` is H264 or H265 (``ValueError`` for JPEG).

        ``audio_rate``: also carry an AAC mono stream at that rate (see
        :meth:`mux_audio`).
        """
        if codec not in _STREAM_CODEC:
            raise ValueError(f"MPEG-TS carries H.264/H.265, not {codec}")
        import av  # noqa: PLC0415 - heavy, only for H.26x users

        self.codec = codec
        self._av: Any = av
        self._sink = _Sink()
        self._clock = TimestampSanitizer(nominal_step_ms=nominal_step_ms)
        self._container: Any = av.open(
            self._sink, "w", format="mpegts", container_options={"flush_packets": "1"}
        )
        self._audio: Any = None
        try:
            self._stream: Any = self._container.add_stream(_STREAM_CODEC[codec])
            if audio_rate is not None:
                self._audio = self._container.add_stream("aac", rate=audio_rate)
                self._audio.codec_context.layout = "mono"
                self._audio.codec_context.bit_rate = AAC_BIT_RATE
        except BaseException:
            self._container.close()
            raise
        self.audio_rate = audio_rate
        self._origin: int | None = None
        self._resampler: Any = None
        self._a_in_rate = 0
        self._a_next: int | None = None
        self.audio_chunks = 0
        """Audio chunks muxed."""
        self.audio_skipped = 0
        """Audio chunks skipped (no audio stream, before video, or too far behind)."""
        self._started = False
        self._closed = False
        self.frames = 0
        """Frames muxed."""
        self.skipped = 0
        """Frames skipped (before the first keyframe, or of another codec)."""

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def mux(self, frame: Frame) -> bytes:
        """Add one access unit; return the TS bytes written since the last call."""
        if self._closed:
            raise ValueError("muxer is closed")
        if frame.codec is not self.codec or not (self._started or frame.keyframe):
            self.skipped += 1
            return b""
        if not self._started:
            self._origin = frame.pts
        self._started = True
        ts = self._clock.sanitize(frame.pts, frame.timestamp) * 90
        packet: Any = self._av.Packet(frame.data)
        packet.pts = ts
        packet.dts = ts
        packet.time_base = TS_TIME_BASE
        packet.is_keyframe = frame.keyframe
        packet.stream = self._stream
        self._container.mux(packet)
        self.frames += 1
        return self._sink.take()

    @property
    def has_audio(self) -> bool:
        """True when the stream carries AAC audio."""
        return self._audio is not None

    def mux_audio(self, chunk: AudioChunk) -> bytes:
        """Add one PCM chunk (s16 mono, hub pts); return the TS bytes written.

        Skipped without an audio stream, before the first video keyframe, or
        without a pts. Samples follow each other on a running clock; a chunk
        more than 1 s ahead of it restarts the clock there (a gap), one more
        than 1 s behind is dropped.
        """
        if self._closed:
            raise ValueError("muxer is closed")
        origin = self._origin
        if self._audio is None or origin is None or chunk.pts is None or not chunk.data:
            self.audio_skipped += 1
            return b""
        rel_ms = chunk.pts - origin
        rate = chunk.rate
        pos = rel_ms * rate // 1000
        if rate != self._a_in_rate:
            self._resampler = None
            self._a_next = None
        if self._a_next is None or pos - self._a_next > rate:
            if pos < 0:
                self.audio_skipped += 1
                return b""
            self._a_next = pos
            self._resampler = None  # timeline restarts: a fresh resampler
        elif self._a_next - pos > rate:
            self.audio_skipped += 1
            return b""
        av = self._av
        if self._resampler is None:
            self._resampler = av.AudioResampler(
                format="fltp", layout="mono", rate=self.audio_rate, frame_size=1024
            )
            self._a_in_rate = rate
        samples = len(chunk.data) // 2
        frame: Any = av.AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(chunk.data[: samples * 2])
        frame.sample_rate = rate
        frame.pts = self._a_next
        frame.time_base = Fraction(1, rate)
        self._a_next += samples
        for resampled in self._resampler.resample(frame):
            for packet in self._audio.encode(resampled):
                if packet.pts is not None and packet.pts >= 0:  # not the encoder priming
                    self._container.mux(packet)
        self.audio_chunks += 1
        return self._sink.take()

    def close(self) -> bytes:
        """Finish the stream (idempotent); return the last TS bytes."""
        if self._closed:
            return b""
        self._closed = True
        try:
            if self._audio is not None and self._resampler is not None:
                for packet in self._audio.encode(None):
                    if packet.pts is not None and packet.pts >= 0:
                        self._container.mux(packet)
        except Exception as err:  # never leave the container open
            _LOGGER.debug("AAC flush failed: %s", err)
        self._container.close()
        return self._sink.take()

    def __enter__(self) -> MpegTsMuxer:
        """Use as a context manager: closed on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the container."""
        self.close()


async def mpegts_chunks(
    subscription: Subscription | AsyncIterable[Frame],
) -> AsyncIterator[bytes]:
    """MPEG-TS bytes for one client, read from a hub subscription (or any frame iterable).

    Starts at the first keyframe (a fresh subscription begins at the cached
    GOP). Ends when the subscription closes or when the stream stops being
    H.264/H.265 of the first frame's codec. The muxer is always closed; the
    caller owns (and closes) the subscription.
    """
    muxer: MpegTsMuxer | None = None
    try:
        async for frame in subscription:
            if muxer is None:
                if frame.codec not in _STREAM_CODEC:
                    return
                muxer = MpegTsMuxer(frame.codec)
            elif frame.codec is not muxer.codec:
                break
            chunk = muxer.mux(frame)
            if chunk:
                yield chunk
        if muxer is not None:
            tail = muxer.close()
            if tail:
                yield tail
    finally:
        if muxer is not None:
            muxer.close()


class MediaReader(Protocol):
    """Anything with :meth:`Subscription.get_media` (a hub subscription taking audio)."""

    async def get_media(self) -> Frame | AudioChunk | None:
        """The next frame or audio chunk; ``None`` at the end."""
        ...  # pragma: no cover


async def mpegts_av_chunks(
    subscription: MediaReader,
    *,
    audio_wait: float = AUDIO_WAIT,
    audio_rate: int = AAC_RATE,
) -> AsyncIterator[bytes]:
    """MPEG-TS bytes with video and, when the camera sends it, AAC audio.

    ``subscription`` must take audio (``hub.subscribe(audio=True)``). After
    the first keyframe, video is held for up to ``audio_wait`` s until the
    first audio chunk arrives: then the stream gets an AAC track, otherwise
    it is video only (a camera without audio costs one ``audio_wait`` of
    latency, nothing more). Ends like :func:`mpegts_chunks`.
    """
    loop = asyncio.get_running_loop()
    pending: list[Frame | AudioChunk] = []
    deadline: float | None = None
    has_audio = False
    ended = False
    muxer: MpegTsMuxer | None = None
    try:
        while True:
            timeout = None if deadline is None else deadline - loop.time()
            if timeout is not None and timeout <= 0:
                break
            try:
                item = await asyncio.wait_for(subscription.get_media(), timeout)
            except TimeoutError:
                break
            if item is None:
                ended = True
                break
            if isinstance(item, AudioChunk):
                if deadline is not None:
                    has_audio = True
                    pending.append(item)
                    break
                continue  # before the first keyframe
            if item.codec not in _STREAM_CODEC:
                return
            if deadline is None:
                if not item.keyframe:
                    continue
                deadline = loop.time() + audio_wait
            pending.append(item)
        first = next((i for i in pending if isinstance(i, Frame)), None)
        if first is None:
            return
        muxer = MpegTsMuxer(first.codec, audio_rate=audio_rate if has_audio else None)
        for item in pending:
            chunk = muxer.mux_audio(item) if isinstance(item, AudioChunk) else muxer.mux(item)
            if chunk:
                yield chunk
        pending.clear()
        while not ended:
            item = await subscription.get_media()
            if item is None:
                break
            if isinstance(item, AudioChunk):
                if not has_audio:
                    continue
                chunk = muxer.mux_audio(item)
            elif item.codec is not muxer.codec:
                break
            else:
                chunk = muxer.mux(item)
            if chunk:
                yield chunk
        tail = muxer.close()
        if tail:
            yield tail
    finally:
        if muxer is not None:
            muxer.close()
