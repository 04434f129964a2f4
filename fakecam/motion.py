"""Scripted motion scenario for the emulated cameras' JPEG pictures.

A :class:`MotionScript` describes a static, textured scene watched by a noisy
sensor: objects (dark blocks) cross the picture at known times, and the light
changes slowly (the whole picture gets brighter over ``10 s`` and darker again),
which a motion detector must ignore. :func:`motion_frames` renders it as
``(timestamp, jpeg)`` pairs for unit tests; :class:`MotionFrameSource` is a
drop-in frame source for the emulators (``TegCameraConfig(motion=...)``,
``PpppCameraConfig(motion=...)``, ``--motion`` on the command line), where the
script time is the frame index divided by the frame rate and the script loops
every ``period`` seconds.

Rendering is deterministic: frame ``i`` of a script looks the same every time
(the noise is seeded with ``(seed, i)``). One 640x480 frame costs about 5 ms.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import io
from typing import Any

__all__ = [
    "Crossing",
    "LightRamp",
    "MotionFrameSource",
    "MotionScript",
    "motion_frames",
    "render_frame",
]


@dataclass(frozen=True, slots=True)
class Crossing:
    """One object crossing the picture horizontally.

    It enters at ``start`` (script seconds; its leading edge at the picture
    border), leaves ``duration`` seconds later. ``size`` is its width and
    height as fractions of the picture's (0.16 x 0.22 covers 3.5 % of it),
    ``y`` its vertical centre (fraction), ``rightward`` the direction.
    """

    start: float
    duration: float = 2.0
    size: tuple[float, float] = (0.16, 0.22)
    y: float = 0.55
    rightward: bool = True
    grey: int = 40

    @property
    def end(self) -> float:
        """Script time when the object has left the picture."""
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class LightRamp:
    """The light goes linearly from its previous level to ``gain`` during [start, end]."""

    start: float
    end: float
    gain: float


_DEFAULT_CROSSINGS = (
    Crossing(5.0),
    Crossing(18.0, rightward=False, y=0.4),  # right at the end of a brightening
    Crossing(35.0, duration=3.0, size=(0.14, 0.2), y=0.7),
)
# +35 % brighter over 10 s, hold, back down over 8 s: slow auto-exposure drift.
_DEFAULT_LIGHT = (LightRamp(8.0, 18.0, 1.35), LightRamp(24.0, 32.0, 1.0))


@dataclass(frozen=True, slots=True)
class MotionScript:
    """A looping scene: crossings at known times, sensor noise, slow light changes.

    ``noise`` is the sensor noise (standard deviation, grey levels, fresh every
    frame); ``light`` the brightness ramps (a multiplicative gain, 1.0 at the
    start of the loop). ``period`` is the loop length in seconds.
    """

    crossings: tuple[Crossing, ...] = _DEFAULT_CROSSINGS
    light: tuple[LightRamp, ...] = _DEFAULT_LIGHT
    noise: float = 4.0
    period: float = 40.0
    seed: int = 0

    def moving(self, t: float) -> bool:
        """Whether an object is in the picture at script time ``t`` (looped)."""
        t %= self.period
        return any(c.start <= t < c.end for c in self.crossings)

    def gain(self, t: float) -> float:
        """Light gain at script time ``t`` (looped)."""
        t %= self.period
        level = 1.0
        for ramp in self.light:
            if t >= ramp.end:
                level = ramp.gain
            elif t > ramp.start:
                span = max(ramp.end - ramp.start, 1e-9)
                return level + (ramp.gain - level) * (t - ramp.start) / span
        return level

    def without_motion(self) -> MotionScript:
        """The same scene (noise, light) with nobody crossing it."""
        return MotionScript((), self.light, self.noise, self.period, self.seed)


_SCENES: dict[tuple[int, int, int], Any] = {}


def _scene(width: int, height: int, seed: int) -> Any:
    """Static textured background: float32 (h, w) luma (cached)."""
    key = (width, height, seed)
    cached = _SCENES.get(key)
    if cached is not None:
        return cached
    import numpy as np  # noqa: PLC0415 - only for the motion scenario

    rng = np.random.default_rng([seed, 0x5CE7E])
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    grey = 70.0 + 60.0 * xs + 30.0 * ys  # a wall lit from one side
    grey = grey + 10.0 * np.sin(xs * 40.0)  # some texture
    for _ in range(6):  # "furniture": static boxes
        x0, x1 = sorted(rng.integers(0, width, 2))
        y0, y1 = sorted(rng.integers(height // 3, height, 2))
        grey[y0:y1, x0:x1] += float(rng.uniform(-40, 40))
    scene = grey.astype(np.float32)
    _SCENES[key] = scene
    return scene


_NOISE: dict[tuple[int, int, int], Any] = {}
_NOISE_BANK = 8
_NOISE_PAD = 64


def _noise_bank(width: int, height: int, seed: int) -> Any:
    """Unit Gaussian fields, a bit larger than the picture (cached)."""
    key = (width, height, seed)
    bank = _NOISE.get(key)
    if bank is None:
        import numpy as np  # noqa: PLC0415

        rng = np.random.default_rng([seed, 0x0015E])
        shape = (_NOISE_BANK, height + _NOISE_PAD, width + _NOISE_PAD)
        bank = _NOISE[key] = rng.standard_normal(shape, dtype=np.float32)
    return bank


def render_frame(
    script: MotionScript, index: int, t: float, *, width: int, height: int, quality: int = 70
) -> bytes:
    """Render frame ``index`` (script time ``t``) of ``script`` as a baseline JPEG."""
    import numpy as np  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    scene = _scene(width, height, script.seed)
    gain = script.gain(t)
    img = scene * gain
    tl = t % script.period
    for c in script.crossings:
        if not c.start <= tl < c.end:
            continue
        bw = max(1, int(c.size[0] * width))
        bh = max(1, int(c.size[1] * height))
        progress = (tl - c.start) / c.duration
        travel = int(progress * (width + bw))
        x0 = travel - bw if c.rightward else width - travel
        y0 = int(c.y * height - bh / 2)
        xa, xb = max(0, x0), min(width, x0 + bw)
        ya, yb = max(0, y0), min(height, y0 + bh)
        if xa < xb and ya < yb:
            img[ya:yb, xa:xb] = c.grey * gain
    if script.noise > 0:
        # Fresh-looking noise every frame: a random window of a pre-drawn field.
        rng = np.random.default_rng([script.seed, index])
        k, dy, dx = (int(v) for v in rng.integers(0, [_NOISE_BANK, _NOISE_PAD, _NOISE_PAD]))
        field = _noise_bank(width, height, script.seed)[k, dy : dy + height, dx : dx + width]
        img += field * script.noise
    luma = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L")
    # A warm tint through constant chroma planes: JPEG stores YCbCr as is.
    cb = Image.new("L", (width, height), 118)
    cr = Image.new("L", (width, height), 134)
    buf = io.BytesIO()
    Image.merge("YCbCr", (luma, cb, cr)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def motion_frames(
    script: MotionScript | None = None,
    *,
    seconds: float | None = None,
    fps: float = 15.0,
    width: int = 640,
    height: int = 480,
    quality: int = 70,
    t0: float = 0.0,
) -> Iterator[tuple[float, bytes]]:
    """Yield ``(timestamp, jpeg)`` for ``seconds`` of the script (default: one period).

    ``timestamp`` is ``t0`` plus the script time; nothing waits in real time.
    """
    script = script or MotionScript()
    total = script.period if seconds is None else seconds
    count = round(total * fps)
    for i in range(count):
        t = i / fps
        yield t0 + t, render_frame(script, i, t, width=width, height=height, quality=quality)


class MotionFrameSource:
    """Emulator frame source playing a :class:`MotionScript` (frame index / fps = time)."""

    def __init__(
        self,
        script: MotionScript | None = None,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        quality: int = 70,
    ) -> None:
        """Nothing is rendered up front; each :meth:`next_frame` renders one picture."""
        if fps <= 0:
            raise ValueError("fps must be > 0")
        self.script = script or MotionScript()
        self.width = width
        self.height = height
        self.fps = fps
        self.quality = quality
        self._counter = 0

    @property
    def frames_made(self) -> int:
        """How many frames :meth:`next_frame` returned so far."""
        return self._counter

    @property
    def script_time(self) -> float:
        """Script time of the next frame (seconds since the source started, looped)."""
        return (self._counter / self.fps) % self.script.period

    def next_frame(self) -> bytes:
        """Render the next picture of the script."""
        i = self._counter
        self._counter += 1
        return render_frame(
            self.script,
            i,
            i / self.fps,
            width=self.width,
            height=self.height,
            quality=self.quality,
        )
