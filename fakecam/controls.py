"""Camera controls of the emulators: PTZ, night mode, light, flip/mirror, resolution.

One :class:`CameraControls` per emulated camera holds what the commands set,
and :meth:`CameraControls.render` turns a plain frame into what the camera
"sees" with those settings, so every command has a visible effect:

* PTZ: the picture window moves (the scene is shifted, wrapping around, by
  ``width // 32`` pixels per pan step and ``height // 32`` per tilt step);
  a started move advances one step at once and one more every ``ptz_interval`` s
  until stopped; the position is clamped to ``±PTZ_LIMIT`` steps.
* Night mode on (or auto while :attr:`CameraControls.dark`): grey picture
  (R == G == B) with a white "IR" overlay.
* Light on: brighter picture (+60 on every channel).
* Flip: upside down; mirror: left-right.
* Resolution: the picture is scaled to the selected size.

Transformed pictures are cached per (source picture, settings), so a
steady state costs one JPEG encode per distinct source picture.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
import io
import time

from PIL import Image, ImageChops, ImageDraw, ImageOps

__all__ = ["PTZ_LIMIT", "CameraControls", "Picture", "apply_picture"]

PTZ_LIMIT = 8
"""Pan and tilt range in steps (each way)."""
_CACHE_SIZE = 96
_COM_END = 16  # SOI + the 14-byte COM segment fakecam.frames splices in


@dataclass(frozen=True, slots=True)
class Picture:
    """The settings that change the picture."""

    pan: int = 0
    """Steps to the right (negative: left)."""
    tilt: int = 0
    """Steps up (negative: down)."""
    grey: bool = False
    light: bool = False
    flip: bool = False
    mirror: bool = False
    size: tuple[int, int] | None = None
    """Output size (``None``: the source size)."""


def apply_picture(jpeg: bytes, pic: Picture) -> bytes:
    """Render ``jpeg`` as seen with ``pic`` (a new baseline JPEG)."""
    img: Image.Image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    w, h = img.size
    if pic.pan or pic.tilt:
        # Camera turns right => the scene moves left; tilts up => the scene moves down.
        img = ImageChops.offset(img, -pic.pan * (w // 32), pic.tilt * (h // 32))
    if pic.size is not None and pic.size != img.size:
        img = img.resize(pic.size)
    if pic.flip:
        img = img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    if pic.mirror:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if pic.grey:
        img = ImageOps.grayscale(img).convert("RGB")
        draw = ImageDraw.Draw(img)
        draw.rectangle((8, img.height - 40, 70, img.height - 8), fill=(255, 255, 255))
        draw.text((16, img.height - 38), "IR", fill=(0, 0, 0), font_size=26)
    if pic.light:
        img = img.point(lambda v: min(255, v + 60))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=75, progressive=False, optimize=False)
    return buf.getvalue()


class CameraControls:
    """What the emulated camera's controls are set to, and the picture they give."""

    def __init__(
        self, width: int, height: int, *, ptz_interval: float = 0.25, dark: bool = False
    ) -> None:
        """Native picture size ``width`` x ``height``; ``dark``: what AUTO night mode sees."""
        self.native = (width, height)
        self.size = (width, height)
        """Current output size (set by a resolution command)."""
        self.ptz_interval = ptz_interval
        self.dark = dark
        self.pan = 0
        self.tilt = 0
        self.night_mode = "auto"
        """``"auto"``, ``"on"`` or ``"off"``."""
        self.light = False
        self.flip = False
        self.mirror = False
        self.ptz_commands = 0
        self._move = (0, 0)
        self._moved_at = 0.0
        self._cache: OrderedDict[tuple[bytes, Picture], bytes] = OrderedDict()

    # -- commands

    def ptz_start(self, dx: int, dy: int) -> None:
        """Start moving (dx: +1 right / -1 left, dy: +1 up / -1 down): one step now."""
        self.ptz_commands += 1
        self._advance()
        if dx:
            self._move = (dx, self._move[1])
        if dy:
            self._move = (self._move[0], dy)
        self._step(dx, dy)
        self._moved_at = time.monotonic()

    def ptz_stop(self, *, pan: bool = True, tilt: bool = True) -> None:
        """Stop the pan and/or tilt motor."""
        self.ptz_commands += 1
        self._advance()
        dx, dy = self._move
        self._move = (0 if pan else dx, 0 if tilt else dy)

    def set_night(self, mode: str) -> None:
        """``"auto"``, ``"on"`` (IR, grey picture) or ``"off"``."""
        if mode not in ("auto", "on", "off"):
            raise ValueError(mode)
        self.night_mode = mode

    def set_orientation(self, flip: bool, mirror: bool) -> None:
        """Set flip and mirror together."""
        self.flip, self.mirror = flip, mirror

    @property
    def orientation_bits(self) -> int:
        """bit 0 flip, bit 1 mirror (TEG, VStarcam and iLnk style)."""
        return int(self.flip) | int(self.mirror) << 1

    @property
    def night(self) -> bool:
        """True when the picture is grey (IR on)."""
        return self.night_mode == "on" or (self.night_mode == "auto" and self.dark)

    def reset(self) -> None:
        """Back to power-on defaults (reboot)."""
        self.size = self.native
        self.pan = self.tilt = 0
        self.night_mode = "auto"
        self.light = self.flip = self.mirror = False
        self._move = (0, 0)

    # -- picture

    def picture(self) -> Picture:
        """The current settings (advances a running PTZ move)."""
        self._advance()
        return Picture(
            self.pan,
            self.tilt,
            self.night,
            self.light,
            self.flip,
            self.mirror,
            None if self.size == self.native else self.size,
        )

    def render(self, jpeg: bytes) -> bytes:
        """``jpeg`` as seen with the current settings (unchanged when all are neutral)."""
        pic = self.picture()
        if pic == _NEUTRAL:
            return jpeg
        com = jpeg[2:_COM_END] if jpeg[2:4] == b"\xff\xfe" else b""
        key = (jpeg[2 + len(com) :], pic)
        out = self._cache.get(key)
        if out is None:
            out = apply_picture(jpeg, pic)
            self._cache[key] = out
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        # Keep the source's per-frame comment so every frame stays unique.
        return out[:2] + com + out[2:]

    # -- internals

    def _step(self, dx: int, dy: int) -> None:
        self.pan = max(-PTZ_LIMIT, min(PTZ_LIMIT, self.pan + dx))
        self.tilt = max(-PTZ_LIMIT, min(PTZ_LIMIT, self.tilt + dy))

    def _advance(self) -> None:
        dx, dy = self._move
        if not (dx or dy):
            return
        now = time.monotonic()
        while now - self._moved_at >= self.ptz_interval:
            self._moved_at += self.ptz_interval
            self._step(dx, dy)


_NEUTRAL = Picture()
