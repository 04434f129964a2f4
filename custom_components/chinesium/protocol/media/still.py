"""Still pictures (JPEG) from H.264/H.265 keyframes.

One persistent decoder per codec decodes the latest keyframe; Pillow encodes
the picture (ha-notes §17 facts 19-21: PyAV's mjpeg encoder gives wrong
levels). Each keyframe is converted once and cached. The API is synchronous
and thread-safe: the Home Assistant layer calls it in the executor. ``av``
and Pillow are imported on first H.26x use.
"""

from __future__ import annotations

import io
import threading
from typing import Any

from ..model import Codec, Frame

_DECODER = {Codec.H264: "h264", Codec.H265: "hevc"}


class StillError(ValueError):
    """The frame cannot become a still (not a keyframe, or undecodable)."""


class StillConverter:
    """Turn keyframes into JPEG bytes, caching the last result.

    :meth:`jpeg` returns a JPEG frame's data unchanged; an H.264/H.265 keyframe
    is decoded and encoded at ``quality``. The same keyframe twice (same
    ``seq`` and data) is served from the cache.
    """

    def __init__(self, *, quality: int = 80) -> None:
        """``quality`` is Pillow's JPEG quality (1-95)."""
        self.quality = quality
        self._lock = threading.Lock()
        self._decoders: dict[Codec, Any] = {}
        self._cached: tuple[Frame, bytes] | None = None
        self.conversions = 0
        """Keyframes decoded and encoded (cache misses)."""
        self.cache_hits = 0
        """Requests answered from the cache."""

    def jpeg(self, frame: Frame) -> bytes:
        """JPEG bytes for ``frame`` (a JPEG frame or an H.264/H.265 keyframe).

        Raises :class:`StillError` for a non-key frame or one that does not decode.
        """
        if frame.codec is Codec.JPEG:
            return frame.data
        if not frame.keyframe:
            raise StillError("a still needs a keyframe")
        with self._lock:
            cached = self._cached
            if cached is not None and _same(cached[0], frame):
                self.cache_hits += 1
                return cached[1]
            picture = self._decode(frame)
            out = io.BytesIO()
            picture.to_image().save(out, "JPEG", quality=self.quality)
            data = out.getvalue()
            self._cached = (frame, data)
            self.conversions += 1
            return data

    def close(self) -> None:
        """Drop the decoders and the cache (they are recreated on demand)."""
        with self._lock:
            self._decoders.clear()
            self._cached = None

    def _decode(self, frame: Frame) -> Any:
        import av  # noqa: PLC0415 - heavy, only for H.26x users

        ctx: Any = self._decoders.get(frame.codec)
        if ctx is None:
            ctx = av.CodecContext.create(_DECODER[frame.codec], "r")
            ctx.thread_count = 1
            ctx.low_delay = True
            ctx.skip_frame = "NONKEY"
            self._decoders[frame.codec] = ctx
        try:
            pictures = ctx.decode(av.Packet(frame.data))
            if not pictures:
                # A decoder that holds frames back: drain it, then make it reusable.
                pictures = ctx.decode(None)
                ctx.flush_buffers()
        except av.FFmpegError as err:
            self._decoders.pop(frame.codec, None)
            raise StillError(f"keyframe does not decode: {err}") from err
        if not pictures:
            self._decoders.pop(frame.codec, None)
            raise StillError("keyframe gave no picture")
        return pictures[-1]


def _same(a: Frame, b: Frame) -> bool:
    return a is b or (a.seq == b.seq and a.codec is b.codec and a.data == b.data)
