"""Picture checks for the control tests: decode frames, compare pictures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import io

from PIL import Image, ImageChops, ImageStat

from custom_components.chinesium.protocol import CameraSession, Frame

WAIT = 8.0
"""Generous seconds to wait for a command's effect to show in the frames."""


def decode(frame: Frame | bytes) -> Image.Image:
    """Decode a JPEG frame to RGB."""
    data = frame.data if isinstance(frame, Frame) else frame
    img = Image.open(io.BytesIO(data))
    img.load()
    return img.convert("RGB")


def diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel value (0 = identical)."""
    if a.size != b.size:
        return 255.0
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def greyness(img: Image.Image) -> int:
    """Largest |R-G| or |G-B| over the picture (0 for a grey picture)."""
    r, g, b = img.split()
    return max(
        ImageChops.difference(r, g).getextrema()[1], ImageChops.difference(g, b).getextrema()[1]
    )


def brightness(img: Image.Image) -> float:
    """Mean luma."""
    return float(ImageStat.Stat(img.convert("L")).mean[0])


def shifted(img: Image.Image, pan: int, tilt: int) -> Image.Image:
    """What the emulator shows after ``pan`` steps right and ``tilt`` steps up."""
    w, h = img.size
    return ImageChops.offset(img, -pan * (w // 32), tilt * (h // 32))


async def wait_picture(
    session: CameraSession, pred: Callable[[Image.Image], bool], what: str, timeout: float = WAIT
) -> Image.Image:
    """Wait for a frame whose decoded picture satisfies ``pred``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Image.Image | None = None
    while loop.time() < deadline:
        last = decode(await session.next_frame(timeout=deadline - loop.time() + 1))
        if pred(last):
            return last
    raise AssertionError(
        f"no frame showed {what} (last size {None if last is None else last.size})"
    )
