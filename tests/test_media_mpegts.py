"""MPEG-TS muxing of real H.264/H.265 access units, read back with PyAV."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import itertools
from typing import Any

import av
import pytest

from custom_components.chinesium.protocol.media import MediaHub, MpegTsMuxer, mpegts_chunks
from custom_components.chinesium.protocol.model import Codec, Frame

from .media_helpers import h26x_frames

SIZES = [(640, 480), (1280, 720)]
AV_NAME = {Codec.H264: "h264", Codec.H265: "hevc"}


def demux(ts: bytes) -> tuple[Any, list[Any], int]:
    """(video stream, packets, decoded frame count) of a TS byte string."""
    container: Any = av.open(io.BytesIO(ts), "r", format="mpegts")
    try:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        ctx: Any = av.CodecContext.create(stream.codec_context.name, "r")
        decoded = 0
        for p in packets:
            decoded += len(ctx.decode(av.Packet(bytes(p))))
        decoded += len(ctx.decode(None))
        return stream, packets, decoded
    finally:
        container.close()


def check_ts(ts: bytes, codec: Codec, size: tuple[int, int], count: int) -> None:
    assert ts[0] == 0x47
    assert len(ts) % 188 == 0
    stream, packets, decoded = demux(ts)
    assert stream.codec_context.name == AV_NAME[codec]
    assert (stream.codec_context.width, stream.codec_context.height) == size
    assert len(packets) == count
    assert packets[0].is_keyframe
    assert decoded == count
    dts = [p.dts for p in packets]
    assert all(b > a for a, b in itertools.pairwise(dts))
    assert all(p.pts == p.dts for p in packets)


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
@pytest.mark.parametrize("size", SIZES)
def test_mux_and_demux(codec: Codec, size: tuple[int, int]) -> None:
    frames = h26x_frames(codec, width=size[0], height=size[1], count=45)
    out = bytearray()
    with MpegTsMuxer(codec) as muxer:
        for f in frames:
            out += muxer.mux(f)
        assert len(out) > 0  # flush_packets: bytes come out as frames go in
        out += muxer.close()
    assert muxer.closed
    assert muxer.frames == 45
    check_ts(bytes(out), codec, size, 45)
    # 66 ms camera steps -> 5940 ticks (rebased to the first frame).
    _, packets, _ = demux(bytes(out))
    assert packets[1].dts - packets[0].dts == 66 * 90


def test_skips_until_first_keyframe_and_repairs_timestamps() -> None:
    frames = h26x_frames(Codec.H264, count=30, gop=15)
    frames[20] = dataclasses.replace(frames[20], pts=frames[19].pts)  # duplicate stamp
    frames[25] = dataclasses.replace(frames[25], pts=None)
    out = bytearray()
    with MpegTsMuxer(Codec.H264) as muxer:
        for f in frames[5:]:  # starts mid-GOP
            out += muxer.mux(f)
        out += muxer.close()
    assert muxer.skipped == 10
    check_ts(bytes(out), Codec.H264, (640, 480), 15)


def test_other_codec_is_skipped_and_jpeg_refused() -> None:
    with pytest.raises(ValueError):
        MpegTsMuxer(Codec.JPEG)
    frames = h26x_frames(Codec.H264, count=15)
    with MpegTsMuxer(Codec.H265) as muxer:
        assert muxer.mux(frames[0]) == b""
        assert muxer.skipped == 1
    with pytest.raises(ValueError):
        muxer.mux(frames[0])
    assert muxer.close() == b""


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
async def test_mpegts_chunks_from_a_late_subscription(codec: Codec) -> None:
    hub = MediaHub()
    frames = h26x_frames(codec, count=60, gop=15)
    for f in frames[:20]:
        hub.publish(f)
    sub = hub.subscribe()  # cached GOP: frames 16-20
    chunks: list[bytes] = []

    async def read() -> None:
        async for chunk in mpegts_chunks(sub):
            chunks.append(chunk)

    reader = asyncio.create_task(read())
    for f in frames[20:]:
        hub.publish(f)
        await asyncio.sleep(0)
    async with asyncio.timeout(10):
        while sub.queued:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
    hub.close()
    await asyncio.wait_for(reader, 10)
    check_ts(b"".join(chunks), codec, (640, 480), 45)


async def test_mpegts_chunks_ends_on_codec_change_and_on_jpeg() -> None:
    hub = MediaHub()
    sub = hub.subscribe()
    for f in h26x_frames(Codec.H264, count=15):
        hub.publish(f)
    hub.publish(h26x_frames(Codec.H265, count=1, start_seq=16)[0])
    data = b"".join([c async for c in mpegts_chunks(sub)])
    check_ts(data, Codec.H264, (640, 480), 15)
    sub.close()

    jpeg_hub = MediaHub()
    jpeg_sub = jpeg_hub.subscribe()
    jpeg_hub.publish(Frame(b"\xff\xd8\xff\xd9", 1, 1, 0.0, 1))
    assert [c async for c in mpegts_chunks(jpeg_sub)] == []
    jpeg_sub.close()
