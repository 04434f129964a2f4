"""Motion detection computed from the camera's own frames.

These cameras send no motion events over the LAN, so :class:`MotionDetector`
compares each analysed picture with a slowly adapting background:

* **Picture**: a small grey image, 16 cells wide, 5x5 pixels per cell (80x60
  for 4:3). JPEG frames are decoded with Pillow's draft mode (libjpeg's 1/8 DCT
  scaling, luma only: a fraction of a full decode). H.264/H.265: keyframes only,
  decoded by one persistent PyAV decoder per codec and scaled down by swscale;
  other frames only advance the hold timer. Pillow, numpy and ``av`` are
  imported on first use (all three ship with Home Assistant; ``av`` once
  ``stream`` is loaded).
* **Rate**: at most ``max_fps`` analyses per second (default 5, by frame
  timestamps); the other frames are skipped before decoding. At 15 fps an
  object is seen within 2-3 frames, so nothing is lost at 5 fps.
* **Light**: the picture is first fitted to the background as ``a*bg + b``
  (robust least squares), so slow or global brightness/gain changes (auto
  exposure drift) leave no residual. A change over more than half of the cells
  at once (IR switch, camera moved) re-seeds the background instead of
  reporting motion.
* **Thresholds**: per cell, the mean absolute residual must exceed
  ``max(floor, k * noise)``, where ``noise`` is the cell's own running level
  (learnt while it is still), so a noisy or flickering corner needs more.
  ``sensitivity`` (0..1) sets ``floor``, ``k`` and how many cells must change.
  Motion is reported when enough cells change in two analyses in a row (or in
  one, when analyses are at least 0.5 s apart, e.g. H.264 keyframes).
* **Output**: :attr:`MotionDetector.motion` stays on for ``hold`` seconds
  after the last analysis that saw motion; :meth:`MotionDetector.feed` returns
  the new state when it changes; ``on_change`` is called likewise.

The first second after start (or :meth:`MotionDetector.reset`) only learns.
All time comes from :attr:`Frame.timestamp`, so frames can be fed faster than
real time. Not thread-safe: feed one detector from one thread at a time.
An analysed frame costs about 1 ms (JPEG) up to an IDR decode (H.26x, several
ms at 720p), so a caller in an event loop should run only the frames for which
:meth:`MotionDetector.due` is true in an executor, one at a time; ``on_change``
then runs in that thread (or use :meth:`MotionDetector.feed`'s return value).
"""

from __future__ import annotations

from collections.abc import Callable
import io
import logging
import math
from typing import Any

from .model import Codec, Frame

__all__ = ["MotionDetector"]

_LOGGER = logging.getLogger(__name__)

_COLS = 16  # cells across the picture
_CELL = 5  # analysis pixels per cell side
_WARMUP = 1.0  # seconds of learning after start/reset
_BG_TAU = 2.0  # background time constant (still cells), seconds
_BG_TAU_ACTIVE = 20.0  # ... in changed cells: a parked object fades in slowly
_NOISE_TAU = 10.0  # per-cell noise level time constant, seconds
_NOISE_TAU_WARMUP = 0.5
_NOISE_INIT = 1.0  # grey levels, mean absolute residual of a still cell
_GLOBAL_FRACTION = 0.5  # more cells than this changing at once: a global change
_CONFIRM_GAP = 0.5  # analyses this far apart need no second confirmation
_MAX_DT = 5.0
_BANDS = 8  # brightness bands of the tone-change fit
_BAND_MIN = 0.02  # a band needs this fraction of the pixels
_DECODER = {Codec.H264: "h264", Codec.H265: "hevc"}


class MotionDetector:
    """Frame-differencing motion detector with a hold time (see module docstring).

    ``sensitivity`` 0..1 (higher = smaller/fainter changes count), ``hold``
    seconds the state stays on after the last motion, ``max_fps`` the most
    pictures analysed per second of frame time, ``on_change`` called with the
    new state whenever it changes (from :meth:`feed` or :meth:`reset`).
    """

    def __init__(
        self,
        *,
        sensitivity: float = 0.5,
        hold: float = 5.0,
        max_fps: float = 5.0,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        """Validate the settings; nothing is imported or decoded yet."""
        if not 0.0 <= sensitivity <= 1.0:
            raise ValueError("sensitivity must be within 0..1")
        if hold < 0:
            raise ValueError("hold must be >= 0")
        if max_fps <= 0:
            raise ValueError("max_fps must be > 0")
        self.sensitivity = sensitivity
        self.hold = hold
        self.max_fps = max_fps
        self.on_change = on_change
        s = sensitivity
        self._floor = 12.0 - 9.0 * s  # grey levels: 12 .. 3
        self._k = 5.0 - 2.5 * s  # times the cell's noise level: 5 .. 2.5
        self._min_cells = max(1, round(3.0 - 2.0 * s))  # 3 .. 1 cells (0.5 % of 4:3 each)
        self._decoders: dict[Codec, Any] = {}
        self._no_av = False
        self.frames_analysed = 0
        """Pictures decoded and compared (diagnostics)."""
        self.errors = 0
        """Frames that could not be decoded (diagnostics)."""
        self._motion = False
        self._score = 0.0
        self._bg: Any = None
        self._noise: Any = None
        self._learn_until = 0.0
        self._last_analysis: float | None = None
        self._streak = 0
        self._last_ts: float | None = None
        self._next_at = -math.inf
        self._last_motion: float | None = None

    # ---- public API

    @property
    def motion(self) -> bool:
        """Whether motion was seen within the last ``hold`` seconds."""
        return self._motion

    @property
    def score(self) -> float:
        """Fraction of the picture (cells, 0..1) that changed in the last analysis."""
        return self._score

    def due(self, frame: Frame) -> bool:
        """Whether :meth:`feed` would decode and analyse ``frame`` (a cheap check).

        Lets a caller run only these frames in an executor (other frames only
        advance the hold timer, which the next analysed frame does as well).
        """
        if not self._analysable(frame):
            return False
        ts = frame.timestamp
        return ts >= self._next_at or (self._last_ts is not None and ts < self._last_ts)

    def feed(self, frame: Frame) -> bool | None:
        """Account for one frame; return the new :attr:`motion` if it changed, else ``None``.

        Cheap for frames that are skipped (rate limit, H.26x non-keyframes);
        an analysed frame costs a small decode (see bench/RESULTS.md, Motion).
        """
        ts = frame.timestamp
        if self._last_ts is not None and ts < self._last_ts:
            self._next_at = ts  # the clock stepped back: do not stall
        self._last_ts = ts
        changed: bool | None = None
        if self._analysable(frame) and ts >= self._next_at:
            period = 1.0 / self.max_fps
            self._next_at = max(self._next_at, ts - 0.5 * period) + period
            picture = self._picture(frame)
            if picture is not None and self._compare(picture, ts):
                self._last_motion = ts
                if not self._motion:
                    changed = self._set(True)
        if (
            self._motion
            and changed is None
            and self._last_motion is not None
            and ts - self._last_motion >= self.hold
        ):
            changed = self._set(False)
        return changed

    def reset(self) -> None:
        """Forget the background and turn motion off (call when frames stop)."""
        self._clear()
        self._score = 0.0
        if self._motion:
            self._set(False)

    # ---- state

    def _clear(self) -> None:
        self._bg = None
        self._noise = None
        self._learn_until = 0.0
        self._last_analysis = None
        self._streak = 0
        self._last_ts = None
        self._next_at = -math.inf
        self._last_motion = None

    def _set(self, value: bool) -> bool:
        self._motion = value
        if self.on_change is not None:
            try:
                self.on_change(value)
            except Exception:
                _LOGGER.exception("motion on_change callback failed")
        return value

    def _analysable(self, frame: Frame) -> bool:
        if frame.codec is Codec.JPEG:
            return True
        return frame.keyframe and not self._no_av

    # ---- decoding

    def _picture(self, frame: Frame) -> Any:
        """The frame as a small float32 grey array, or ``None`` if undecodable."""
        try:
            if frame.codec is Codec.JPEG:
                return self._jpeg_picture(frame.data)
            return self._h26x_picture(frame)
        except ImportError as err:
            self._no_av = True
            _LOGGER.warning("motion detection on H.264/H.265 needs PyAV: %s", err)
        except Exception as err:  # a corrupt frame must not stop the stream
            self.errors += 1
            _LOGGER.debug("motion: frame %d not decodable: %s", frame.seq, err)
            if frame.codec is not Codec.JPEG:
                self._decoders.pop(frame.codec, None)
        return None

    @staticmethod
    def _jpeg_picture(data: bytes) -> Any:
        import numpy as np  # noqa: PLC0415 - imported on first use
        from PIL import Image  # noqa: PLC0415

        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
            img.draft("L", (max(1, w // 8), max(1, h // 8)))
            small = img.convert("L") if img.mode != "L" else img
            size = _analysis_size(w, h)
            if small.size != size:
                small = small.resize(size, Image.Resampling.BOX)
            return np.asarray(small, dtype=np.float32)

    def _h26x_picture(self, frame: Frame) -> Any:
        import av  # noqa: PLC0415 - heavy, only for H.26x cameras
        import numpy as np  # noqa: PLC0415

        ctx: Any = self._decoders.get(frame.codec)
        if ctx is None:
            ctx = av.CodecContext.create(_DECODER[frame.codec], "r")
            ctx.thread_count = 1
            ctx.skip_frame = "NONKEY"
            self._decoders[frame.codec] = ctx
        pictures = ctx.decode(av.Packet(frame.data))
        if not pictures:
            pictures = ctx.decode(None)
            ctx.flush_buffers()
        if not pictures:
            raise ValueError("keyframe gave no picture")
        pic = pictures[-1]
        w, h = _analysis_size(pic.width, pic.height)
        small = pic.reformat(width=w, height=h, format="gray", interpolation="AREA")
        return np.asarray(small.to_ndarray(), dtype=np.float32)

    # ---- comparison

    def _compare(self, g: Any, ts: float) -> bool:
        """Compare picture ``g`` with the background, update it; True = motion seen."""
        import numpy as np  # noqa: PLC0415

        self.frames_analysed += 1
        rows = g.shape[0] // _CELL
        if self._bg is None or self._bg.shape != g.shape:
            self._bg = g.copy()
            self._noise = np.full((rows, _COLS), _NOISE_INIT, dtype=np.float32)
            self._learn_until = ts + _WARMUP
            self._last_analysis = ts
            self._streak = 0
            self._score = 0.0
            return False
        prev = self._last_analysis if self._last_analysis is not None else ts
        dt = min(max(ts - prev, 0.0), _MAX_DT)
        self._last_analysis = ts
        bg = self._bg
        resid = _light_residual(g, bg)
        cells = np.abs(resid).reshape(rows, _CELL, _COLS, _CELL).mean(axis=(1, 3))
        thresholds = np.maximum(self._floor, self._k * self._noise)
        active = cells > thresholds
        n_active = int(active.sum())
        fraction = n_active / active.size
        learning = ts < self._learn_until
        if fraction > _GLOBAL_FRACTION:
            # The whole picture changed at once: adopt it as the new background.
            self._bg = g.copy()
            self._streak = 0
            self._score = fraction
            return False
        # Noise level: learnt from still cells only.
        tau_n = _NOISE_TAU_WARMUP if learning else _NOISE_TAU
        beta = 1.0 - math.exp(-dt / tau_n)
        still = ~active
        self._noise[still] += beta * (cells[still] - self._noise[still])
        # Background: fast where still, slow where something changed.
        a_still = 1.0 - math.exp(-dt / _BG_TAU)
        a_active = 1.0 - math.exp(-dt / _BG_TAU_ACTIVE)
        alpha = np.where(active, np.float32(a_active), np.float32(a_still)).astype(np.float32)
        alpha_px = np.repeat(np.repeat(alpha, _CELL, axis=0), _CELL, axis=1)
        bg += alpha_px * (g - bg)
        self._score = fraction
        if learning or n_active < self._min_cells:
            self._streak = 0
            return False
        self._streak += 1
        return self._streak >= 2 or dt >= _CONFIRM_GAP


def _analysis_size(width: int, height: int) -> tuple[int, int]:
    """Analysis picture size: 16 cells across, whole cells down (at least one)."""
    rows = max(1, round(_COLS * height / width)) if width > 0 else 12
    return _COLS * _CELL, rows * _CELL


def _light_residual(g: Any, bg: Any) -> Any:
    """``g`` minus the background passed through the picture's tone change.

    The tone change (gain, offset, gamma, clipping) is fitted as a monotone
    curve through the mean of ``g`` per background brightness band, twice: the
    second fit ignores the pixels that changed most (a moving object).
    """
    import numpy as np  # noqa: PLC0415

    flat_bg = bg.ravel()
    flat_g = g.ravel()
    band = np.minimum((flat_bg * (_BANDS / 256.0)).astype(np.intp), _BANDS - 1)
    min_count = max(1.0, _BAND_MIN * flat_bg.size)
    weights: Any = None
    pred: Any = flat_bg
    for _ in range(2):
        cnt = np.bincount(band, weights=weights, minlength=_BANDS)
        wb = flat_bg if weights is None else flat_bg * weights
        wg = flat_g if weights is None else flat_g * weights
        sum_b = np.bincount(band, weights=wb, minlength=_BANDS)
        sum_g = np.bincount(band, weights=wg, minlength=_BANDS)
        ok = cnt >= min_count
        if int(ok.sum()) >= 2:
            xs = sum_b[ok] / cnt[ok]
            ys = sum_g[ok] / cnt[ok]
            # Extend the end segments linearly over the whole grey range.
            lo = ys[0] - (xs[0] + 256.0) * (ys[1] - ys[0]) / max(xs[1] - xs[0], 1e-6)
            hi = ys[-1] + (512.0 - xs[-1]) * (ys[-1] - ys[-2]) / max(xs[-1] - xs[-2], 1e-6)
            xs = np.concatenate(([-256.0], xs, [512.0]))
            ys = np.concatenate(([lo], ys, [hi]))
            pred = np.interp(flat_bg, xs, ys)
        else:  # (almost) uniform picture: an offset only
            pred = flat_bg + (float(flat_g.mean()) - float(flat_bg.mean()))
        resid = np.abs(flat_g - pred)
        spread = float(np.median(resid)) * 3.0 + 2.0
        weights = (resid <= spread).astype(np.float64)
    return (flat_g - pred).reshape(g.shape).astype(np.float32)
