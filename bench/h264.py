"""H.264 end to end (issue 10): PPPP ingest + hub + MPEG-TS server, stills, open latency.

    .venv/bin/python bench/h264.py            # full run (~2 min), appends to RESULTS.md
    .venv/bin/python bench/h264.py --quick    # smoke run (1 camera, short), nothing appended

One run measures, side by side:

* ``stream`` (one worker process per camera count N): N emulated VStarcam
  cameras (720p15 H.264, GOP 15) run in a *separate* emulator process on
  127.0.0.x. The measured worker opens one PPPP session per camera, publishes
  every frame to a ``MediaHub`` and serves it with ``MediaServer``; one
  MPEG-TS HTTP client per camera reads in *another* process. CPU
  (``time.process_time``) and RSS are those of the measured worker only:
  ingest (UDP, DRW, reassembly) + hub + mux + HTTP server. The N=1 worker then
  times ``av.open(url, timeout=30)`` (HA's call, in the reader process) to the
  first decoded frame while the camera streams in steady state.
* ``still``: ``StillConverter.jpeg`` on 640x480 and 1280x720 keyframes: the
  very first call (decoder set-up), cold (a new keyframe, warm converter) and
  cached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
import random
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # type: ignore[import-not-found]
    EmulatorProcess,
    Probe,
    append_results,
    machine_description,
    machine_ticks,
    percentile,
)

FPS = 15
WIDTH, HEIGHT = 1280, 720
GOAL_CPU_PCT = 1.0
GOAL_STILL_COLD_MS = 40.0
GOAL_STILL_CACHED_MS = 5.0
GOAL_OPEN_S = 1.0


def _cam_spec(i: int) -> dict[str, Any]:
    """One emulated VStarcam (loopback address 127.0.0.(20+i))."""
    return {
        "host": f"127.0.0.{20 + i}",
        "duid": f"VSTC-{100000 + i:06d}-ABCDE",
        "app": "vstarcam",
        "codec": "h264",
        "width": WIDTH,
        "height": HEIGHT,
        "fps": float(FPS),
        "stream_seconds": 3600.0,
    }


# -- measured worker -------------------------------------------------------------------------


async def _stream(spec: dict[str, Any]) -> dict[str, Any]:
    """Sessions → hubs → MediaServer → readers in another process; CPU, RSS, open latency."""
    rss_start = Probe.rss_kib()
    import av  # noqa: F401  (imported up front so RSS deltas count sessions, not imports)

    from custom_components.chinesium.protocol import (
        CameraInfo,
        Credentials,
        Family,
        SessionOptions,
        open_session,
    )
    from custom_components.chinesium.protocol.media import MediaHub, mpegts_chunks  # noqa: F401
    from custom_components.chinesium.protocol.media.server import MediaServer
    import custom_components.chinesium.protocol.pppp.session  # noqa: F401

    n = spec["n"]
    emu = await EmulatorProcess.start({"pppp": [_cam_spec(i) for i in range(n)]}, wait=120)
    out: dict[str, Any] = {"n": n}
    sessions: list[Any] = []
    server = MediaServer("127.0.0.1", 0)
    readers: asyncio.subprocess.Process | None = None
    opener: asyncio.subprocess.Process | None = None
    try:
        rss_imports = Probe.rss_kib()
        out["rss_start_mib"] = rss_start / 1024
        out["rss_imports_mib"] = rss_imports / 1024
        # Idle baseline: the loop with the emulator pipe, no camera.
        c0, w0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(spec["idle_s"])
        out["idle_pct"] = (time.process_time() - c0) / (time.perf_counter() - w0) * 100

        hubs = [MediaHub() for _ in range(n)]
        gop_pos = [0] * n  # frames since the last keyframe (incl.), per camera

        def listener(i: int) -> Any:
            hub = hubs[i]

            def _on(frame: Any) -> None:
                gop_pos[i] = 1 if frame.keyframe else gop_pos[i] + 1
                hub.publish(frame)

            return _on

        t_open = time.perf_counter()
        for i, cam in enumerate(emu.cameras["pppp"]):
            info = CameraInfo(
                uid=cam["duid"],
                host=cam["host"],
                port=cam["port"],
                family=Family.PPPP,
                app_layer="vstarcam",
            )
            session = await open_session(
                info, Credentials(), SessionOptions(local_host="127.0.0.1")
            )
            session.add_frame_listener(listener(i))
            sessions.append(session)
        # Wait for every camera's first keyframe (the emulator encodes its loop lazily).
        deadline = time.perf_counter() + 60
        while any(h.keyframes_in == 0 for h in hubs):
            if time.perf_counter() > deadline:
                raise RuntimeError("no keyframe from every camera within 60 s")
            await asyncio.sleep(0.05)
        out["sessions_up_s"] = time.perf_counter() - t_open
        await asyncio.sleep(spec["warm_s"])

        async def measure(seconds: float) -> dict[str, Any]:
            f0 = sum(h.frames_in for h in hubs)
            b0, t0 = machine_ticks()
            c0, w0 = time.process_time(), time.perf_counter()
            rss_peak = 0
            end = w0 + seconds
            while (left := end - time.perf_counter()) > 0:
                await asyncio.sleep(min(1.0, left))
                rss_peak = max(rss_peak, Probe.rss_kib())
            c1, w1 = time.process_time(), time.perf_counter()
            b1, t1 = machine_ticks()
            frames = sum(h.frames_in for h in hubs) - f0
            return {
                "pct": (c1 - c0) / (w1 - w0) * 100,
                "cpu_s": c1 - c0,
                "wall_s": w1 - w0,
                "frames": frames,
                "fps_per_cam": frames / (w1 - w0) / n,
                "us_per_frame": (c1 - c0) / max(1, frames) * 1e6,
                "rss_mib": rss_peak / 1024,
                "machine_busy_pct": (b1 - b0) / max(1, t1 - t0) * 100,
            }

        # Phase A: ingest + hub, nobody reading.
        out["ingest_hub"] = await measure(spec["ingest_s"])

        # Phase B: + MediaServer and one HTTP MPEG-TS client per camera (other process).
        await server.start()
        urls = [server.add_source(f"cam{i}", hub) for i, hub in enumerate(hubs)]
        readers = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--worker",
            "readers",
            json.dumps({"urls": urls}),
            stdout=asyncio.subprocess.PIPE,
        )
        deadline = time.perf_counter() + 30
        while any(server.clients(f"cam{i}") == 0 for i in range(n)):
            if time.perf_counter() > deadline:
                raise RuntimeError("MPEG-TS readers did not connect")
            await asyncio.sleep(0.05)
        await asyncio.sleep(spec["warm_s"])
        out["full"] = await measure(spec["seconds"])
        out["rss_per_cam_mib"] = (out["full"]["rss_mib"] - rss_imports / 1024) / n
        await server.stop()  # ends every response: the readers see EOF and report
        assert readers.stdout is not None
        reply = await asyncio.wait_for(readers.stdout.read(), 30)
        await readers.wait()
        readers = None
        out["readers"] = json.loads(reply.decode().strip().splitlines()[-1])

        # Open latency (N=1 worker): av.open(url) → first decoded frame, steady state.
        trials = spec.get("open_trials", 0)
        if trials:
            await server.start()
            url = server.add_source("open", hubs[0])
            opener = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--worker",
                "open_client",
                "{}",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            assert opener.stdin is not None
            assert opener.stdout is not None
            await opener.stdout.readline()  # "ready": av imported, as in HA
            rng = random.Random(10)
            results = []
            for _ in range(trials):
                # A random point in the GOP (1 keyframe per second).
                await asyncio.sleep(rng.uniform(0.2, 1.2))
                pos = gop_pos[0]
                opener.stdin.write(url.encode() + b"\n")
                await opener.stdin.drain()
                line = await asyncio.wait_for(opener.stdout.readline(), 60)
                results.append({**json.loads(line), "gop_pos": pos})
            opener.stdin.close()
            await opener.wait()
            opener = None
            out["open"] = results
            await server.stop()

        st = await emu.stats()
        out["emu_frames_sent"] = sum(p[0] for p in st["pppp"])
        out["emu_cpu_s"] = st["cpu"]
        out["drw_retx"] = sum(p[2] for p in st["pppp"])
        out["session_stats"] = [s.stats.as_dict() for s in sessions][:1]
    finally:
        for proc in (readers, opener):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
        if server.running:
            await server.stop()
        for s in sessions:
            await s.close()
        await emu.stop()
    return out


def worker_stream(spec: dict[str, Any]) -> dict[str, Any]:
    """Measured process (see :func:`_stream`)."""
    return asyncio.run(_stream(spec))


def worker_readers(spec: dict[str, Any]) -> dict[str, Any]:
    """One thread per URL reads the MPEG-TS stream to the end; bytes and CPU of this process."""
    import urllib.request

    counts = [0] * len(spec["urls"])

    def read(i: int, url: str) -> None:
        with urllib.request.urlopen(url, timeout=60) as resp:
            while chunk := resp.read(65536):
                counts[i] += len(chunk)

    c0, w0 = time.process_time(), time.perf_counter()
    threads = [
        threading.Thread(target=read, args=(i, u), daemon=True) for i, u in enumerate(spec["urls"])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c1, w1 = time.process_time(), time.perf_counter()
    return {"bytes": counts, "pct": (c1 - c0) / (w1 - w0) * 100, "wall_s": w1 - w0}


def worker_open_client(spec: dict[str, Any]) -> None:
    """For each URL on stdin: ``av.open(url, timeout=30)`` → first decoded frame (HA's call)."""
    import av

    print("ready", flush=True)
    for line in sys.stdin:
        url = line.strip()
        t0 = time.perf_counter()
        container: Any = av.open(url, timeout=30)
        try:
            t_open = time.perf_counter() - t0
            stream = container.streams.video[0]
            first_key = None
            t_frame = float("nan")
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                if first_key is None:
                    first_key = bool(packet.is_keyframe)
                if packet.decode():
                    t_frame = time.perf_counter() - t0
                    break
        finally:
            container.close()
        reply = {"open_s": t_open, "first_frame_s": t_frame, "first_is_key": first_key}
        print(json.dumps(reply), flush=True)


def worker_still(spec: dict[str, Any]) -> dict[str, Any]:
    """StillConverter: first call, cold (new keyframe, warm converter), cached; ms wall."""
    from dataclasses import replace

    import PIL.Image  # noqa: F401  (already imported inside HA)

    from custom_components.chinesium.protocol.media import StillConverter
    from custom_components.chinesium.protocol.model import Codec, Frame

    width, height, n = spec["width"], spec["height"], spec["repeat"]
    if spec["source"] == "noise":
        from media import _camera_like_frames  # type: ignore[import-not-found]

        keys = [f for f in _camera_like_frames(width, height, FPS, 1500) if f.keyframe]
    else:
        from fakecam.h26x import encode_loop

        # The emulator's own picture source: its loop has 2 keyframes (GOP 15).
        loop = encode_loop("h264", width=width, height=height, fps=FPS, frames=2 * FPS, gop=FPS)
        keys = [
            Frame(au.data, width, height, time.time(), i + 1, Codec.H264, True, i * 67)
            for i, au in enumerate(loop)
            if au.keyframe
        ]
    conv = StillConverter()
    t0 = time.perf_counter()
    conv.jpeg(keys[0])
    first_ms = (time.perf_counter() - t0) * 1000
    cold, cached = [], []
    jpeg = b""
    for i in range(n):
        key = replace(keys[i % len(keys)], seq=1000 + i)  # a new keyframe: cache miss
        t0 = time.perf_counter()
        jpeg = conv.jpeg(key)
        cold.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        conv.jpeg(key)
        cached.append((time.perf_counter() - t0) * 1000)
    return {
        "idr_kib": len(keys[0].data) / 1024,
        "first_ms": first_ms,
        "cold_med": statistics.median(cold),
        "cold_p95": percentile(cold, 95),
        "cached_med": statistics.median(cached),
        "cached_p95": percentile(cached, 95),
        "jpeg_kib": len(jpeg) / 1024,
        "n": n,
    }


WORKERS: dict[str, Any] = {
    "stream": worker_stream,
    "readers": worker_readers,
    "open_client": worker_open_client,
    "still": worker_still,
}


def run_worker(name: str, spec: dict[str, Any]) -> Any:
    """Run one worker in a fresh process; its last stdout line is JSON."""
    out = subprocess.run(
        [sys.executable, __file__, "--worker", name, json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise RuntimeError(f"worker {name} failed ({out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- driver ---------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "**pass**" if ok else "**miss**"


def main() -> int:
    """Run every measurement, print the table, append it to RESULTS.md (full runs)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run, no RESULTS.md")
    parser.add_argument("--no-append", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("spec", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = WORKERS[args.worker](json.loads(args.spec or "{}"))
        if result is not None:
            print(json.dumps(result), flush=True)
        return 0

    quick = args.quick
    started = time.perf_counter()
    print(f"Machine: {machine_description()}", flush=True)
    counts = [1] if quick else [1, 4]
    streams = {}
    for n in counts:
        spec = {
            "n": n,
            "idle_s": 2 if quick else 3,
            "warm_s": 1 if quick else 2,
            "ingest_s": 4 if quick else 10,
            "seconds": 5 if quick else 30,
            "open_trials": (3 if quick else 12) if n == 1 else 0,
        }
        streams[n] = run_worker("stream", spec)
        print(json.dumps(streams[n]), flush=True)
    repeat = 5 if quick else 30
    stills = {}
    for w, h, src in ((640, 480, "pattern"), (1280, 720, "pattern"), (1280, 720, "noise")):
        stills[(w, h, src)] = run_worker(
            "still", {"width": w, "height": h, "source": src, "repeat": repeat}
        )
        print(w, h, src, json.dumps(stills[(w, h, src)]), flush=True)
    elapsed = time.perf_counter() - started

    lines: list[str] = []
    busy = [streams[n][k]["machine_busy_pct"] for n in counts for k in ("ingest_hub", "full")]
    lines += [
        f"Command: `.venv/bin/python bench/h264.py` (one run, {elapsed:.0f} s). Cameras: "
        f"emulated VStarcam (`fakecam.pppp`, app layer vstarcam), H.264 {WIDTH}x{HEIGHT} at "
        f"{FPS} fps, GOP {FPS} (fakecam test pattern, ~{_kbps(streams[counts[0]]):.0f} kb/s "
        "as MPEG-TS), in a separate emulator process on 127.0.0.20+. Measured process: one "
        "PPPP session per camera (`open_session`, frame listener → `MediaHub.publish`) and "
        "`MediaServer` on 127.0.0.1; one MPEG-TS HTTP reader per camera runs in another "
        "process. **Counted: UDP ingest + PPPP/DRW + reassembly + hub + MPEG-TS mux + HTTP "
        "server** (`time.process_time()` of the measured process only; the emulator and the "
        f"readers are not counted). Machine busy (all cores, /proc/stat) during the CPU "
        f"windows: {min(busy):.0f}-{max(busy):.0f} % of 2 cores (shared machine; includes the "
        "emulator and the readers).",
        "",
        "| goal (issue 10) | measured | verdict |",
        "|---|---|---|",
    ]
    for n in counts:
        s = streams[n]
        a, f = s["ingest_hub"], s["full"]
        per_cam = f["pct"] / n
        lines.append(
            f"| ingest + hub + mux ≤ {GOAL_CPU_PCT:g} % of one core per 720p15 camera (N={n}) "
            f"| {per_cam:.2f} % per camera ({f['pct']:.2f} % total, {f['wall_s']:.0f} s, "
            f"{f['us_per_frame']:.0f} µs/frame, {f['fps_per_cam']:.2f} fps/camera); "
            f"ingest + hub alone {a['pct'] / n:.2f} %; RSS {s['rss_per_cam_mib']:.2f} MiB/camera "
            f"| {_verdict(per_cam <= GOAL_CPU_PCT)} |"
        )
    for (w, h, src), st in stills.items():
        label = f"{w}x{h} {'pattern' if src == 'pattern' else 'noise 1.5 Mb/s'}"
        goal = (w, h) == (1280, 720)
        cold_ok = st["cold_med"] <= GOAL_STILL_COLD_MS
        cached_ok = st["cached_med"] <= GOAL_STILL_CACHED_MS
        lines.append(
            f"| still ≤ {GOAL_STILL_COLD_MS:g} ms cold, ≤ {GOAL_STILL_CACHED_MS:g} ms cached "
            f"({label}, IDR {st['idr_kib']:.0f} KiB) | cold {st['cold_med']:.1f} ms "
            f"(p95 {st['cold_p95']:.1f}); cached {st['cached_med']:.3f} ms "
            f"(p95 {st['cached_p95']:.3f}); very first call {st['first_ms']:.1f} ms "
            f"| {_verdict(cold_ok and cached_ok) if goal else '(goal is for 720p)'} |"
        )
    op = streams[1].get("open", [])
    if op:
        ff = [r["first_frame_s"] for r in op]
        lines.append(
            f"| first decodable frame ≤ {GOAL_OPEN_S:g} s after `stream_source()` is opened "
            f"(`av.open(url, timeout=30)` → first decoded frame, camera streaming) "
            f"| median {statistics.median(ff) * 1000:.0f} ms, p95 {percentile(ff, 95) * 1000:.0f}"
            f" ms, max {max(ff) * 1000:.0f} ms ({len(ff)} trials) "
            f"| {_verdict(max(ff) <= GOAL_OPEN_S)} |"
        )
    lines += ["", "Details:", ""]
    lines += [
        "| N cameras | measured process: ingest + hub (no reader) | + MediaServer + 1 MPEG-TS "
        "reader/camera | per camera | µs CPU/frame | frames/s per camera | RSS per camera "
        "| reader process (not counted) | emulator process (not counted) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in counts:
        s = streams[n]
        a, f = s["ingest_hub"], s["full"]
        lines.append(
            f"| {n} | {a['pct']:.2f} % ({a['wall_s']:.0f} s) | {f['pct']:.2f} % "
            f"({f['wall_s']:.0f} s) | {f['pct'] / n:.2f} % | {f['us_per_frame']:.0f} "
            f"| {f['fps_per_cam']:.2f} | {s['rss_per_cam_mib']:.2f} MiB "
            f"({s['rss_imports_mib']:.0f} → {f['rss_mib']:.0f} MiB) "
            f"| {s['readers']['pct']:.2f} % | {_emu_pct(s)} |"
        )
    lines.append("")
    if op:
        lines += [
            "Open trials (`av.open` in a reader process with av already imported; MediaServer "
            "default min_backlog):",
            "",
            "| frames in current GOP at open | av.open returned | first decoded frame "
            "| first packet keyframe |",
            "|---|---|---|---|",
        ]
        for r in sorted(op, key=lambda r: r["gop_pos"]):
            lines.append(
                f"| {r['gop_pos']} | {r['open_s'] * 1000:.0f} ms "
                f"| {r['first_frame_s'] * 1000:.0f} ms | {r['first_is_key']} |"
            )
        lines.append("")
    s1 = streams[1]
    marginal = ""
    if 4 in streams:
        extra = (streams[4]["full"]["rss_mib"] - s1["full"]["rss_mib"]) / 3
        marginal = (
            f" Marginal RSS per added camera ((peak at N=4 - peak at N=1) / 3): {extra:.2f} MiB;"
            " the N=1 figure includes one-time costs (aiohttp server, first muxer)."
        )
    lines += [
        f"RSS: {s1['rss_start_mib']:.0f} MiB at start; {s1['rss_imports_mib']:.0f} MiB after "
        "importing av, the protocol and the media server (through `custom_components.chinesium`,"
        " which imports Home Assistant); per-camera RSS = (peak RSS while serving - RSS after "
        f"imports) / N.{marginal} Idle measured process (imports done, no camera): "
        f"{s1['idle_pct']:.2f} % of one core. Sessions up (open_session → first keyframe of "
        f"every camera, N=1): {s1['sessions_up_s'] * 1000:.0f} ms (includes the emulator "
        f"encoding its loop on first request). Stills: median/p95 of {repeat}; 'cold' = a new "
        "keyframe (distinct `seq`) on a converter that has decoded before; 'very first call' "
        "= a fresh StillConverter (decoder set-up; Pillow already imported, as in HA).",
    ]
    body = "\n".join(lines)
    print()
    print(body)
    if not quick and not args.no_append:
        append_results("H.264 end to end (issue 10): bench/h264.py", body)
    return 0


def _kbps(s: dict[str, Any]) -> float:
    total: float = sum(s["readers"]["bytes"])
    wall: float = s["readers"]["wall_s"]
    n: int = s["n"]
    return total * 8 / 1000 / max(1e-9, wall) / n


def _emu_pct(s: dict[str, Any]) -> str:
    return f"{s['emu_frames_sent']} frames sent, {s['drw_retx']} DRW retx"


if __name__ == "__main__":
    sys.exit(main())
