"""H.264/H.265 test pictures for emulated cameras, encoded once with PyAV.

Emulators replay a closed GOP loop (encoded at start, then sent again and
again), which costs next to no CPU per frame (ha-notes §17 facts 5-6).
Every keyframe carries its parameter sets in-band (``repeat-headers``), so any
GOP can be decoded on its own. ``av`` is imported lazily: the JPEG emulators
do not need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One Annex-B access unit."""

    data: bytes
    keyframe: bool


H264 = "h264"
H265 = "h265"
_ENCODERS = {H264: "libx264", H265: "libx265"}


@lru_cache(maxsize=8)
def encode_loop(
    codec: str = H264,
    *,
    width: int = 640,
    height: int = 480,
    fps: int = 15,
    frames: int = 30,
    gop: int = 15,
) -> tuple[EncodedFrame, ...]:
    """Encode ``frames`` pictures (a moving test pattern) as a closed-GOP loop.

    The loop starts with a keyframe and has one every ``gop`` frames; it can be
    replayed end to end. Cached per argument set.
    """
    import av  # noqa: PLC0415 - heavy, only for H.26x emulators
    import numpy as np  # noqa: PLC0415

    if codec not in _ENCODERS:
        raise ValueError(f"unknown codec {codec!r}")
    ctx: Any = av.CodecContext.create(_ENCODERS[codec], "w")
    ctx.width = width
    ctx.height = height
    ctx.pix_fmt = "yuv420p"
    ctx.framerate = Fraction(fps, 1)
    ctx.time_base = Fraction(1, fps)
    ctx.thread_count = 1
    if codec == H264:
        ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1:bframes=0",
        }
    else:
        ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x265-params": (
                f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1:bframes=0:log-level=error"
            ),
        }
    out: list[EncodedFrame] = []
    ys = np.arange(height, dtype=np.uint16)[:, None]
    xs = np.arange(width, dtype=np.uint16)[None, :]
    for i in range(frames):
        # A diagonal gradient that slides right, with a bright square that moves.
        y = ((xs + ys + i * 8) % 256).astype(np.uint8)
        x0 = (i * 16) % max(1, width - 64)
        y[height // 3 : height // 3 + 64, x0 : x0 + 64] = 235
        yuv = np.full((height * 3 // 2, width), 128, dtype=np.uint8)
        yuv[:height] = y
        frame: Any = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = i
        frame.pict_type = "I" if i % gop == 0 else "NONE"
        out.extend(_packets(ctx.encode(frame)))
    out.extend(_packets(ctx.encode(None)))
    return tuple(out)


def _packets(packets: Any) -> list[EncodedFrame]:
    return [EncodedFrame(bytes(p), bool(p.is_keyframe)) for p in packets]
