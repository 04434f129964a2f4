"""StillConverter: H.264/H.265 keyframes to JPEG (Pillow), cached per keyframe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import dataclasses
import io

from PIL import Image
import pytest

from custom_components.chinesium.protocol.media import MediaHub, StillConverter, StillError
from custom_components.chinesium.protocol.model import Codec, Frame

from .media_helpers import h26x_frames


def picture(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
@pytest.mark.parametrize("size", [(640, 480), (1280, 720)])
def test_keyframe_to_jpeg(codec: Codec, size: tuple[int, int]) -> None:
    frames = h26x_frames(codec, width=size[0], height=size[1], count=16, gop=15)
    conv = StillConverter()
    first = conv.jpeg(frames[0])
    img = picture(first)
    assert img.format == "JPEG"
    assert img.size == size
    # Cached: same bytes object, no second conversion.
    assert conv.jpeg(frames[0]) is first
    assert conv.conversions == 1
    assert conv.cache_hits == 1
    # The next keyframe (a different picture) is converted again by the same decoder.
    second = conv.jpeg(frames[15])
    assert second != first
    assert picture(second).size == size
    assert conv.conversions == 2


def test_picture_content_survives() -> None:
    """The test pattern's bright square is where the encoder put it (levels are right)."""
    frame = h26x_frames(Codec.H264, count=1)[0]
    img = picture(StillConverter().jpeg(frame)).convert("L")
    # fakecam draws a 64x64 square of luma 235 at x 0..64, y height/3.
    inside = img.getpixel((32, 480 // 3 + 32))
    assert isinstance(inside, int)
    assert inside >= 225


def test_jpeg_frames_pass_through() -> None:
    data = b"\xff\xd8jpeg\xff\xd9"
    frame = Frame(data, 1, 1, 0.0, 1)
    assert StillConverter().jpeg(frame) is data


def test_non_keyframe_and_garbage_are_refused() -> None:
    frames = h26x_frames(Codec.H264, count=2)
    conv = StillConverter()
    with pytest.raises(StillError):
        conv.jpeg(frames[1])
    garbage = dataclasses.replace(frames[0], data=b"\x00\x00\x00\x01\x09\x10" * 4, seq=99)
    with pytest.raises(StillError):
        conv.jpeg(garbage)
    # The converter recovers with a good keyframe.
    assert picture(conv.jpeg(frames[0])).size == (640, 480)


def test_same_seq_new_data_is_not_a_cache_hit() -> None:
    """A reconnected session restarts seq at 1: the cache compares the data too."""
    a = h26x_frames(Codec.H264, count=16)
    conv = StillConverter()
    conv.jpeg(a[0])
    reused = dataclasses.replace(a[15], seq=a[0].seq)
    conv.jpeg(reused)
    assert conv.conversions == 2


def test_from_hub_latest_keyframe_in_threads() -> None:
    hub = MediaHub()
    for f in h26x_frames(Codec.H265, count=20):
        hub.publish(f)
    key = hub.latest_keyframe
    assert key is not None
    conv = StillConverter()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: conv.jpeg(key), range(8)))
    assert len({id(r) for r in results}) == 1
    assert conv.conversions == 1
    conv.close()
    assert picture(conv.jpeg(key)).size == (640, 480)
