"""Camera clock sanitizer: turn whatever a camera stamps into monotonic ms.

Muxers refuse a backwards or repeated dts, and Home Assistant's stream worker
restarts on a jump of tens of seconds (ha-notes §17 fact 14). Cheap cameras do
all of these: their millisecond clock wraps at 2**32, repeats a stamp, steps
back on an NTP update or leaps ahead after a pause. The sanitizer keeps the
good steps (so real frame spacing and jitter survive) and replaces every bad
one with the nominal frame step.
"""

from __future__ import annotations

_WRAP = 1 << 32
_HALF_WRAP = 1 << 31


class TimestampSanitizer:
    """Map camera pts (ms, 32-bit) or arrival times to monotonic ms from 0.

    The first frame maps to 0. After that, a step in ``(0, max_jump_ms]`` is
    kept as it is; a backwards step, a repeat or a jump over ``max_jump_ms``
    continues at ``nominal_step_ms`` instead (and the input is rebased there).
    A 32-bit millisecond wrap counts as the small forward step it really is.
    Frames without a pts use their arrival time (seconds) instead; a switch
    between the two sources is a discontinuity (nominal step).
    """

    __slots__ = ("_last_in", "_last_kind", "_last_out", "max_jump_ms", "nominal_step_ms")

    def __init__(self, *, nominal_step_ms: int = 67, max_jump_ms: int = 2000) -> None:
        """``nominal_step_ms`` is one frame period (67 ms = 15 fps)."""
        if nominal_step_ms < 1:
            raise ValueError("nominal_step_ms must be >= 1")
        self.nominal_step_ms = int(nominal_step_ms)
        self.max_jump_ms = int(max_jump_ms)
        self._last_in = 0
        self._last_kind = -1  # -1 nothing yet, 0 camera pts, 1 arrival time
        self._last_out = -1

    @property
    def last(self) -> int | None:
        """The last output value (``None`` before the first frame)."""
        return None if self._last_out < 0 else self._last_out

    def reset(self) -> None:
        """Forget the history: the next frame maps to 0 again."""
        self._last_kind = -1
        self._last_out = -1

    def sanitize(self, pts: int | None, arrival: float) -> int:
        """Return the monotonic output ms for one frame.

        ``pts`` is the camera's ms clock (``None`` when the protocol has none);
        ``arrival`` is the wall-clock arrival time in seconds (``time.time()``).
        """
        if pts is None:
            kind = 1
            raw = round(arrival * 1000.0)
        else:
            kind = 0
            raw = int(pts) % _WRAP
        if self._last_kind < 0:
            out = 0
        elif kind != self._last_kind:
            out = self._last_out + self.nominal_step_ms
        else:
            delta = raw - self._last_in
            if kind == 0:
                # Signed distance modulo 2**32: a wrap is a small forward step.
                delta = (delta + _HALF_WRAP) % _WRAP - _HALF_WRAP
            if 0 < delta <= self.max_jump_ms:
                out = self._last_out + delta
            else:
                out = self._last_out + self.nominal_step_ms
        self._last_in = raw
        self._last_kind = kind
        self._last_out = out
        return out
