"""TimestampSanitizer: monotonic ms through jitter, repeats, steps back, wraps and jumps."""

from __future__ import annotations

import itertools

import pytest

from custom_components.chinesium.protocol.media import TimestampSanitizer

STEP = 67


def run(pts: list[int | None], arrivals: list[float] | None = None) -> list[int]:
    san = TimestampSanitizer(nominal_step_ms=STEP, max_jump_ms=2000)
    arrivals = arrivals or [1000.0 + i / 15 for i in range(len(pts))]
    return [san.sanitize(p, a) for p, a in zip(pts, arrivals, strict=True)]


def strictly_increasing(values: list[int]) -> bool:
    return all(b > a for a, b in itertools.pairwise(values))


def test_starts_at_zero_and_keeps_jitter() -> None:
    out = run([5000, 5066, 5140, 5190, 5270])
    assert out == [0, 66, 140, 190, 270]


def test_duplicate_continues_at_nominal_step() -> None:
    out = run([1000, 1066, 1066, 1133])
    assert out == [0, 66, 66 + STEP, 66 + STEP + 67]
    assert strictly_increasing(out)


def test_backwards_step_continues_at_nominal_step_and_rebases() -> None:
    out = run([1000, 1066, 500, 566, 633])
    assert out == [0, 66, 66 + STEP, 66 + STEP + 66, 66 + STEP + 133]
    assert strictly_increasing(out)


def test_32bit_wrap_is_a_small_forward_step() -> None:
    top = (1 << 32) - 40
    out = run([top - 66, top, 26, 92])
    assert out == [0, 66, 132, 198]


def test_wrap_of_values_already_reduced_or_not() -> None:
    # A camera that sends the unreduced counter (>= 2**32) wraps the same way.
    out = run([(1 << 32) - 10, (1 << 32) + 56])
    assert out == [0, 66]


def test_jump_over_two_seconds_is_replaced() -> None:
    out = run([0, 66, 66 + 60_000, 66 + 60_066, 66 + 60_132])
    assert out == [0, 66, 66 + STEP, 66 + STEP + 66, 66 + STEP + 132]


def test_jump_up_to_the_limit_is_kept() -> None:
    out = run([0, 2000, 4001])
    assert out == [0, 2000, 2000 + STEP]


def test_none_uses_arrival_time() -> None:
    out = run([None, None, None, None], [10.0, 10.07, 10.07, 10.2])
    assert out == [0, 70, 70 + STEP, 70 + STEP + 130]


def test_switch_between_pts_and_arrival_is_a_nominal_step() -> None:
    out = run([None, 123_456, 123_522, None], [10.0, 10.07, 10.14, 10.2])
    assert out == [0, STEP, STEP + 66, STEP + 66 + STEP]


def test_last_and_reset() -> None:
    san = TimestampSanitizer(nominal_step_ms=40)
    assert san.last is None
    san.sanitize(100, 0.0)
    assert san.sanitize(140, 0.0) == 40
    assert san.last == 40
    san.reset()
    assert san.sanitize(900, 0.0) == 0


def test_long_mixed_sequence_stays_monotonic() -> None:
    pts: list[int | None] = []
    t = (1 << 32) - 3000
    for i in range(300):
        t += 66 + (i % 5) - 2  # jitter
        if i == 50:
            pts.append(pts[-1])  # duplicate
            continue
        if i == 100:
            t -= 5000  # clock steps back
        if i == 200:
            t += 60_000  # clock leaps ahead
        pts.append(t)
    out = run(pts)
    assert out[0] == 0
    assert strictly_increasing(out)
    steps = [b - a for a, b in itertools.pairwise(out)]
    assert max(steps) <= 2000


def test_bad_step() -> None:
    with pytest.raises(ValueError):
        TimestampSanitizer(nominal_step_ms=0)
