"""Motion detection cost (protocol/motion.py); appends a "Motion" section to RESULTS.md.

    .venv/bin/python bench/motion.py            # full run (~1 min), appends
    .venv/bin/python bench/motion.py --quick    # smoke run, nothing appended

Frames are made before the clock starts: JPEG pictures of the fakecam motion
scenario (``fakecam.motion``: noise, light drift, objects crossing) and H.264
(the same pictures encoded with libx264, one keyframe per second). Each case
feeds ``S`` seconds of 15 fps video to a fresh ``MotionDetector`` as fast as
possible (no real-time waiting) and reports ``time.process_time()`` per second
of video (= % of one core for one camera), plus the wall time of single
``feed`` calls (analysed frames vs skipped ones) to decide where ``feed`` may run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import append_results, machine_description  # type: ignore[import-not-found]

from custom_components.chinesium.protocol.model import Codec, Frame
from custom_components.chinesium.protocol.motion import MotionDetector

FPS = 15


def jpeg_frames(width: int, height: int, seconds: float) -> list[Frame]:
    """The motion scenario as JPEG frames (timestamps = video time)."""
    from fakecam.motion import MotionScript, motion_frames

    return [
        Frame(jpeg, width, height, t, i + 1)
        for i, (t, jpeg) in enumerate(
            motion_frames(MotionScript(), seconds=seconds, fps=FPS, width=width, height=height)
        )
    ]


def h264_frames(jpegs: list[Frame]) -> list[Frame]:
    """The same scenario encoded as H.264 (libx264 ultrafast, keyframe every second)."""
    from fractions import Fraction
    import io

    import av
    from PIL import Image

    width, height = jpegs[0].width, jpegs[0].height
    ctx: Any = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.framerate, ctx.time_base, ctx.thread_count = Fraction(FPS), Fraction(1, FPS), 1
    ctx.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "x264-params": f"keyint={FPS}:min-keyint={FPS}:scenecut=0:repeat-headers=1:bframes=0",
    }
    units: list[tuple[bytes, bool]] = []
    for i, f in enumerate(jpegs):
        picture = av.VideoFrame.from_image(Image.open(io.BytesIO(f.data)).convert("RGB"))
        picture = picture.reformat(format="yuv420p")
        picture.pts = i
        units += [(bytes(p), bool(p.is_keyframe)) for p in ctx.encode(picture)]
    units += [(bytes(p), bool(p.is_keyframe)) for p in ctx.encode(None)]
    return [
        Frame(data, width, height, i / FPS, i + 1, codec=Codec.H264, keyframe=key)
        for i, (data, key) in enumerate(units)
    ]


def measure(frames: list[Frame], **kwargs: Any) -> dict[str, Any]:
    """CPU per video second and per-call wall times for one detector."""
    det = MotionDetector(**kwargs)
    det.feed(frames[0])  # imports (numpy, Pillow, av) and decoder creation off the clock
    det.reset()
    det = MotionDetector(**kwargs)
    analysed: list[float] = []
    skipped: list[float] = []
    motion_on = 0
    cpu0 = time.process_time()
    for frame in frames:
        before = det.frames_analysed
        t0 = time.perf_counter()
        changed = det.feed(frame)
        dt = time.perf_counter() - t0
        (analysed if det.frames_analysed > before else skipped).append(dt)
        motion_on += changed is True
    cpu = time.process_time() - cpu0
    video_s = frames[-1].timestamp - frames[0].timestamp + 1 / FPS
    return {
        "cpu_pct": 100.0 * cpu / video_s,
        "analysed": len(analysed),
        "per_s": len(analysed) / video_s,
        "an_med_ms": 1000 * statistics.median(analysed),
        "an_max_ms": 1000 * max(analysed),
        "sk_med_us": 1e6 * statistics.median(skipped) if skipped else 0.0,
        "errors": det.errors,
        "motion_on": motion_on,
    }


def main() -> None:
    """Run the cases, print a table, append it unless ``--quick``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short run, nothing appended")
    parser.add_argument("--seconds", type=float, default=40.0)
    args = parser.parse_args()
    seconds = 6.0 if args.quick else args.seconds
    cases: list[tuple[str, list[Frame], dict[str, Any]]] = []
    vga = jpeg_frames(640, 480, seconds)
    hd = jpeg_frames(1280, 720, seconds)
    cases += [
        ("JPEG 640x480@15, default (≤ 5 analyses/s)", vga, {}),
        ("JPEG 640x480@15, every frame (max_fps=15)", vga, {"max_fps": 15.0}),
        ("JPEG 1280x720@15, default", hd, {}),
    ]
    try:
        import av  # noqa: F401
    except ImportError:
        print("av not installed: H.264 cases skipped")
    else:
        cases += [
            ("H.264 640x480@15, keyframes only (1/s)", h264_frames(vga), {}),
            ("H.264 1280x720@15, keyframes only (1/s)", h264_frames(hd), {}),
        ]
    keys = {
        label: statistics.mean(len(f.data) for f in frames if f.keyframe) / 1024
        for label, frames, _ in cases
        if frames[0].codec is Codec.H264
    }
    sizes = ", ".join(f"{k.split(',')[0]}: IDR {v:.0f} KiB" for k, v in keys.items()) or "-"
    rows = []
    for label, frames, kwargs in cases:
        r = measure(frames, **kwargs)
        row = (
            f"| {label} | {r['cpu_pct']:.2f} % | {r['per_s']:.1f} | "
            f"{r['an_med_ms']:.2f} ms (max {r['an_max_ms']:.2f}) | {r['sk_med_us']:.1f} µs | "
            f"{r['motion_on']} / {r['errors']} |"
        )
        print(row, flush=True)
        rows.append(row)
    body = "\n".join(
        [
            f"{seconds:.0f} s of video per case, fed as fast as possible to one fresh "
            "`MotionDetector` (sensitivity 0.5); CPU = `time.process_time()` / seconds of "
            "video = share of one core per camera. JPEG = the fakecam motion scenario "
            "(noise, light drift, 3 crossings per 40 s); H.264 = the same pictures "
            "encoded with libx264 ultrafast, gop 15; the sensor noise makes the keyframes "
            f"realistic in size ({sizes}).",
            "",
            "| case | CPU (% of one core) | analyses/s | `feed` analysed (median) | "
            "`feed` skipped (median) | motion on / errors |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(machine_description())
    if not args.quick:
        append_results("Motion: bench/motion.py", body)


if __name__ == "__main__":
    main()
