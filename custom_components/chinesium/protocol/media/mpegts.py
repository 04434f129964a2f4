"""H.264/H.265 access units into MPEG-TS with PyAV, without transcoding.

Each client gets its own muxer (ha-notes §17 fact 10): packets carry
pts = dts in 1/90000 from the frame's ms ``pts`` and their keyframe flag; the
container flushes after every packet. A PyAV output container must always be
closed (an unclosed one crashes the interpreter at exit, §17 fact 15), so
:class:`MpegTsMuxer` is a context manager and :func:`mpegts_chunks` closes it
in ``finally``. ``av`` is imported on first use.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..model import Codec, Frame
from .timestamps import TimestampSanitizer

if TYPE_CHECKING:
    from types import TracebackType

    from .hub import Subscription

TS_TIME_BASE = Fraction(1, 90000)
"""MPEG-TS clock: 90 kHz."""
_STREAM_CODEC = {Codec.H264: "h264", Codec.H265: "hevc"}


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

    def __init__(self, codec: Codec, *, nominal_step_ms: int = 67) -> None:
        """``codec`` is H264 or H265 (``ValueError`` for JPEG)."""
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
        try:
            self._stream: Any = self._container.add_stream(_STREAM_CODEC[codec])
        except BaseException:
            self._container.close()
            raise
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

    def close(self) -> bytes:
        """Finish the stream (idempotent); return the last TS bytes."""
        if self._closed:
            return b""
        self._closed = True
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
