"""Pre-rendered JPEG frames for the emulated cameras.

All encoding happens once, at construction. :meth:`FrameSource.next_frame`
only splices a JPEG comment (COM) segment carrying a frame counter right
after the SOI marker, so every returned frame has unique bytes while staying
a valid baseline JPEG, at the cost of one memory copy.
"""

from __future__ import annotations

import io
import math
import random
import struct

from PIL import Image, ImageDraw

__all__ = ["FrameSource", "render_jpeg"]

_SOI = b"\xff\xd8"
_COM_LEN = 2 + 4 + 8  # length field + b"emu#" + u64 counter


def render_jpeg(
    index: int, *, count: int, width: int, height: int, quality: int, rng: random.Random
) -> bytes:
    """Render one test picture (gradient, moving shapes, noise, frame number)."""
    phase = index / max(count, 1)
    # Horizontal/vertical gradient whose hue drifts with the frame index.
    grad = Image.linear_gradient("L")
    xs = grad.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    ys = grad.resize((width, height))
    shift = int(255 * phase)
    r = xs.point(lambda v: (v + shift) & 0xFF)
    g = ys
    b = Image.new("L", (width, height), 96 + (index * 37) % 128)
    img = Image.merge("RGB", (r, g, b))
    draw = ImageDraw.Draw(img)
    # A few moving shapes.
    cx = int(width / 2 + width / 3 * math.cos(2 * math.pi * phase))
    cy = int(height / 2 + height / 3 * math.sin(2 * math.pi * phase))
    draw.ellipse((cx - 60, cy - 60, cx + 60, cy + 60), fill=(255, 230, 40), outline=(0, 0, 0))
    bx = int((width - 100) * phase)
    draw.rectangle((bx, height - 110, bx + 100, height - 30), fill=(30, 60, 220))
    # Some "sensor noise" dots so the JPEG has realistic entropy (~20 KB).
    for _ in range(900):
        x = rng.randrange(width)
        y = rng.randrange(height)
        c = rng.randrange(256)
        draw.point((x, y), fill=(c, c, c))
    # Frame number, drawn big with the default bitmap font scaled via size.
    text = f"FAKECAM {index:03d}"
    draw.rectangle((10, 10, 330, 62), fill=(0, 0, 0))
    draw.text((20, 14), text, fill=(255, 255, 255), font_size=36)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, progressive=False, optimize=False)
    return buf.getvalue()


class FrameSource:
    """Cycles through ``count`` pre-rendered baseline JPEGs, unique per call."""

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        count: int = 24,
        quality: int = 70,
        seed: int = 0,
    ) -> None:
        """Render ``count`` pictures of ``width`` x ``height`` now."""
        if count < 1:
            raise ValueError("count must be >= 1")
        self.width = width
        self.height = height
        rng = random.Random(seed)
        # Keep each frame without its SOI; next_frame() re-adds SOI + COM.
        self._bodies: list[bytes] = []
        for i in range(count):
            jpeg = render_jpeg(i, count=count, width=width, height=height, quality=quality, rng=rng)
            assert jpeg[:2] == _SOI
            self._bodies.append(jpeg[2:])
        self._index = 0
        self._counter = 0

    @property
    def count(self) -> int:
        """Number of distinct pre-rendered pictures."""
        return len(self._bodies)

    @property
    def frames_made(self) -> int:
        """How many frames :meth:`next_frame` returned so far."""
        return self._counter

    def next_frame(self) -> bytes:
        """Return the next JPEG; its bytes differ from every earlier one."""
        body = self._bodies[self._index]
        self._index = (self._index + 1) % len(self._bodies)
        self._counter += 1
        com = struct.pack(">2sH4sQ", b"\xff\xfe", _COM_LEN, b"emu#", self._counter)
        return b"".join((_SOI, com, body))
