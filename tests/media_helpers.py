"""Frames for the media tests: real H.264/H.265 access units with camera-like pts."""

from __future__ import annotations

from custom_components.chinesium.protocol.model import Codec, Frame
from fakecam.h26x import H264, H265, encode_loop

FAKECAM_CODEC = {Codec.H264: H264, Codec.H265: H265}


def h26x_frames(
    codec: Codec = Codec.H264,
    *,
    width: int = 640,
    height: int = 480,
    count: int = 30,
    gop: int = 15,
    fps: int = 15,
    start_pts: int = 1_000_000,
    start_seq: int = 1,
) -> list[Frame]:
    """``count`` frames (a replayed closed-GOP loop), pts in camera ms, seq from ``start_seq``."""
    loop = encode_loop(
        FAKECAM_CODEC[codec], width=width, height=height, fps=fps, frames=max(gop, 30), gop=gop
    )
    step = 1000 // fps
    out = []
    for i in range(count):
        au = loop[i % len(loop)]
        out.append(
            Frame(
                data=au.data,
                width=width,
                height=height,
                timestamp=1000.0 + i / fps,
                seq=start_seq + i,
                codec=codec,
                keyframe=au.keyframe,
                pts=start_pts + i * step,
            )
        )
    return out


def fake_frames(pattern: str, *, codec: Codec = Codec.H264, start_seq: int = 1) -> list[Frame]:
    """Frames whose data is their seq, ``pattern`` like ``"KPPKPP"`` (K = keyframe)."""
    return [
        Frame(
            data=str(start_seq + i).encode(),
            width=0,
            height=0,
            timestamp=100.0 + i / 15,
            seq=start_seq + i,
            codec=codec,
            keyframe=c == "K",
            pts=1000 + i * 66,
        )
        for i, c in enumerate(pattern)
    ]
