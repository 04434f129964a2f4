"""Motion detection (protocol/motion.py) on the scripted fakecam scenario."""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from typing import Any

import pytest

from custom_components.chinesium.protocol.model import Codec, Frame
from custom_components.chinesium.protocol.motion import MotionDetector
from fakecam.motion import (
    Crossing,
    LightRamp,
    MotionFrameSource,
    MotionScript,
    motion_frames,
)

FPS = 15.0


@cache
def _frames(script: MotionScript, seconds: float | None = None) -> tuple[tuple[float, bytes], ...]:
    return tuple(motion_frames(script, seconds=seconds, fps=FPS))


def _run(
    detector: MotionDetector, frames: tuple[tuple[float, bytes], ...]
) -> list[tuple[float, bool]]:
    """Feed every frame (no real-time waiting); return the state changes."""
    events = []
    for i, (t, jpeg) in enumerate(frames):
        changed = detector.feed(Frame(jpeg, 640, 480, t, i + 1))
        if changed is not None:
            events.append((t, changed))
    return events


SCRIPT = MotionScript()


def test_every_crossing_detected_within_one_second() -> None:
    hold = 2.0
    events = _run(MotionDetector(hold=hold), _frames(SCRIPT))
    ons = [t for t, on in events if on]
    offs = [t for t, on in events if not on]
    assert len(SCRIPT.crossings) == 3
    assert len(ons) == len(SCRIPT.crossings), events
    for crossing, t_on in zip(SCRIPT.crossings, ons, strict=True):
        assert crossing.start <= t_on <= crossing.start + 1.0, (crossing, events)
    # Off again after each crossing (the last one leaves 2 s before the end of the loop).
    for crossing, t_off in zip(SCRIPT.crossings, offs, strict=True):
        assert crossing.end <= t_off <= crossing.end + hold + 1.0, (crossing, events)


@pytest.mark.parametrize("sensitivity", [0.0, 0.5, 0.8])
def test_noise_and_light_drift_never_trigger(sensitivity: float) -> None:
    still = SCRIPT.without_motion()
    assert still.gain(20.0) > 1.3  # the light really changes (+35 % over 10 s)
    frames = _frames(still)
    assert frames[-1][0] >= 30.0
    detector = MotionDetector(sensitivity=sensitivity)
    assert _run(detector, frames) == []
    assert not detector.motion
    assert detector.frames_analysed > 150


def test_faster_light_ramp_and_heavy_noise_do_not_trigger() -> None:
    script = MotionScript(
        crossings=(),
        light=(LightRamp(3.0, 8.0, 0.7), LightRamp(12.0, 22.0, 1.3)),
        noise=10.0,
        period=32.0,
        seed=7,
    )
    assert _run(MotionDetector(), _frames(script)) == []


def test_small_faint_and_fast_objects_detected() -> None:
    script = MotionScript(
        crossings=(
            Crossing(3.0, size=(0.1, 0.15)),  # 1.5 % of the picture
            Crossing(9.0, grey=90),  # low contrast
            Crossing(15.0, duration=0.8),  # quick
        ),
        period=20.0,
        seed=3,
    )
    events = _run(MotionDetector(hold=1.0), _frames(script))
    ons = [t for t, on in events if on]
    assert len(ons) == 3, events
    for crossing, t_on in zip(script.crossings, ons, strict=True):
        assert crossing.start <= t_on <= crossing.start + 1.0, events


@pytest.mark.parametrize("hold", [1.0, 4.0])
def test_hold_time(hold: float) -> None:
    script = MotionScript(crossings=(Crossing(3.0),), light=(), period=12.0)
    detector = MotionDetector(hold=hold)
    events = _run(detector, _frames(script))
    assert [on for _, on in events] == [True, False], events
    t_on, t_off = events[0][0], events[1][0]
    crossing = script.crossings[0]
    # Motion is seen until the object leaves; the state holds for `hold` after that.
    assert crossing.end + hold - 0.5 <= t_off <= crossing.end + hold + 0.5, events
    assert t_off - t_on >= hold


def test_on_change_matches_feed_and_reset_turns_off() -> None:
    calls: list[bool] = []
    detector = MotionDetector(hold=30.0, on_change=calls.append)
    events = _run(detector, _frames(SCRIPT, 7.0))
    assert [on for _, on in events] == [True]
    assert calls == [True]
    assert detector.motion
    assert detector.score > 0
    detector.reset()
    assert not detector.motion
    assert detector.score == 0.0
    assert calls == [True, False]
    detector.reset()  # already off: no second call
    assert calls == [True, False]
    # After a reset the background is learnt again: still frames give no motion.
    still = _frames(SCRIPT.without_motion(), 4.0)
    assert _run(detector, still) == []


def test_rate_limit_and_timestamps() -> None:
    frames = _frames(SCRIPT.without_motion(), 10.0)
    default = MotionDetector()
    _run(default, frames)
    assert 45 <= default.frames_analysed <= 55  # 5 per second of frame time
    every = MotionDetector(max_fps=100.0)
    _run(every, frames)
    assert every.frames_analysed == len(frames)


def test_undecodable_frame_is_counted_not_raised() -> None:
    detector = MotionDetector()
    assert detector.feed(Frame(b"\xff\xd8garbage", 640, 480, 1.0, 1)) is None
    assert detector.errors == 1
    assert not detector.motion


@pytest.mark.parametrize(
    "kwargs", [{"sensitivity": -0.1}, {"sensitivity": 1.5}, {"hold": -1.0}, {"max_fps": 0.0}]
)
def test_invalid_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        MotionDetector(**kwargs)


def test_frame_source_plays_the_script() -> None:
    src = MotionFrameSource(SCRIPT, fps=FPS)
    first = src.next_frame()
    assert first[:2] == b"\xff\xd8"
    assert first == _frames(SCRIPT, 1.0)[0][1]  # deterministic
    assert src.frames_made == 1
    assert src.script_time == pytest.approx(1 / FPS)
    assert SCRIPT.moving(5.5)
    assert not SCRIPT.moving(4.9)


def test_emulator_options() -> None:
    import argparse

    from fakecam.__main__ import add_teg_arguments, build_teg_configs
    from fakecam.pppp import PpppCameraConfig, add_arguments, config_from_args
    from fakecam.teg import TegCamera, TegCameraConfig

    cam = TegCamera(TegCameraConfig(motion=SCRIPT))
    assert isinstance(cam.frames, MotionFrameSource)
    assert cam.frames.script is SCRIPT
    assert not isinstance(TegCamera(TegCameraConfig()).frames, MotionFrameSource)
    teg = argparse.ArgumentParser()
    add_teg_arguments(teg)
    assert build_teg_configs(teg.parse_args(["--motion"]))[0].motion == MotionScript()
    assert build_teg_configs(teg.parse_args([]))[0].motion is None
    pppp = argparse.ArgumentParser()
    add_arguments(pppp)
    assert config_from_args(pppp.parse_args(["--motion"])).motion == MotionScript()
    assert config_from_args(pppp.parse_args([])).motion is None
    assert PpppCameraConfig().motion is None


# ---- H.264 / H.265: keyframes only ----------------------------------------------------


def _encode_square(codec: str, moving: bool, seconds: int = 8) -> list[tuple[bytes, bool]]:
    """A static textured picture; a dark square crosses it when ``moving``."""
    av: Any = pytest.importorskip("av")
    np: Any = pytest.importorskip("numpy")
    w, h, fps = 320, 240, 15
    ctx: Any = av.CodecContext.create({"h264": "libx264", "h265": "libx265"}[codec], "w")
    ctx.width, ctx.height, ctx.pix_fmt = w, h, "yuv420p"
    ctx.framerate, ctx.time_base, ctx.thread_count = Fraction(fps), Fraction(1, fps), 1
    params = "keyint=5:min-keyint=5:scenecut=0:repeat-headers=1:bframes=0"
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency", f"{ctx.codec.name}-params": params}
    if codec == "h265":
        ctx.options = {**ctx.options, "x265-params": params + ":log-level=error"}
    ys = np.arange(h)[:, None]
    xs = np.arange(w)[None, :]
    base = (60 + 100 * xs / w + 40 * ys / h).astype(np.uint8)
    out: list[tuple[bytes, bool]] = []
    for i in range(seconds * fps):
        y = base.copy()
        t = i / fps
        if moving and 3.0 <= t < 6.0:
            x0 = int((t - 3.0) / 3.0 * (w + 48)) - 48
            y[100:148, max(0, x0) : max(0, x0 + 48)] = 20
        yuv = np.full((h * 3 // 2, w), 128, dtype=np.uint8)
        yuv[:h] = y
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = i
        frame.pict_type = "I" if i % 5 == 0 else "NONE"
        for pkt in ctx.encode(frame):
            out.append((bytes(pkt), bool(pkt.is_keyframe)))
    for pkt in ctx.encode(None):
        out.append((bytes(pkt), bool(pkt.is_keyframe)))
    return out


def _feed_h26x(
    detector: MotionDetector, units: list[tuple[bytes, bool]], codec: Codec
) -> list[tuple[float, bool]]:
    events = []
    for i, (data, key) in enumerate(units):
        t = i / FPS
        changed = detector.feed(Frame(data, 0, 0, t, i + 1, codec=codec, keyframe=key))
        if changed is not None:
            events.append((t, changed))
    return events


def test_h264_identical_loop_keyframes_no_motion() -> None:
    pytest.importorskip("av")
    from fakecam.h26x import encode_loop

    loop = encode_loop("h264", width=640, height=480, fps=15, frames=15, gop=15)
    assert sum(f.keyframe for f in loop) == 1
    units = [(f.data, f.keyframe) for f in loop] * 12  # 12 s, one keyframe per second
    detector = MotionDetector()
    assert _feed_h26x(detector, units, Codec.H264) == []
    assert detector.frames_analysed == 12
    assert detector.errors == 0


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_h26x_moving_square_detected(codec: str) -> None:
    kind = Codec.H264 if codec == "h264" else Codec.H265
    still = MotionDetector()
    assert _feed_h26x(still, _encode_square(codec, moving=False), kind) == []
    assert still.frames_analysed > 0
    detector = MotionDetector(hold=1.0)
    events = _feed_h26x(detector, _encode_square(codec, moving=True), kind)
    assert events, "the square was not seen"
    assert events[0][1] is True
    assert 3.0 <= events[0][0] <= 4.0, events
    assert detector.errors == 0


def test_due_matches_analysed_frames() -> None:
    frames = _frames(SCRIPT, 4.0)
    detector = MotionDetector()
    due = 0
    for i, (t, jpeg) in enumerate(frames):
        frame = Frame(jpeg, 640, 480, t, i + 1)
        before = detector.frames_analysed
        is_due = detector.due(frame)
        due += is_due
        detector.feed(frame)
        assert (detector.frames_analysed > before) == is_due
    assert due == detector.frames_analysed > 0
    # Only due frames fed (the executor pattern): same decisions, same cadence.
    only_due = MotionDetector(hold=2.0)
    events = []
    for i, (t, jpeg) in enumerate(_frames(SCRIPT, 12.0)):
        frame = Frame(jpeg, 640, 480, t, i + 1)
        if only_due.due(frame):
            changed = only_due.feed(frame)
            if changed is not None:
                events.append((t, changed))
    assert [on for _, on in events] == [True, False], events
    assert 5.0 <= events[0][0] <= 6.0
    # A non-key H.264 frame is never due.
    assert not MotionDetector().due(Frame(b"", 0, 0, 1.0, 1, codec=Codec.H264, keyframe=False))
