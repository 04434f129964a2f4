"""Media pipeline benchmark (hub, MPEG-TS mux and restream, stills); appends to RESULTS.md.

    .venv/bin/python bench/media.py            # full run (~2 min)
    .venv/bin/python bench/media.py --quick    # smoke run, nothing appended

Each measurement runs in a fresh worker process (this file with ``--worker``)
so CPU time and RSS belong to it alone. Frames are real H.264 access units
from ``fakecam.h26x.encode_loop`` (encoded before the clock starts). The HTTP
restream binds 127.0.0.1 only; its reader is another worker process.

* ``cpu``: per 720p15 H.264 camera, CPU of ``MediaHub.publish`` + one
  ``mpegts_chunks`` client (burst: per frame; paced: whole process for S
  seconds at 15 fps, with and without one HTTP client of ``MediaServer``),
  and the RSS added by importing av and running the pipeline.
* ``still``: ``StillConverter.jpeg`` latency at 640x480 and 1280x720.
* ``open``: time from ``av.open(url)`` (in another process) to the first
  decoded frame, for several GOP-cache fill levels.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
import statistics
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Probe, append_results, machine_description  # type: ignore[import-not-found]

FPS = 15
STEP_MS = 1000 // FPS


def _frames(codec: str, width: int, height: int, gop: int, count: int) -> list[Any]:
    from custom_components.chinesium.protocol.model import Codec, Frame
    from fakecam.h26x import encode_loop

    loop = encode_loop(codec, width=width, height=height, fps=FPS, frames=gop * 2, gop=gop)
    out = []
    for i in range(count):
        au = loop[i % len(loop)]
        out.append(
            Frame(
                au.data, width, height, time.time(), i + 1, Codec(codec), au.keyframe, i * STEP_MS
            )
        )
    return out


def _camera_like_frames(width: int, height: int, gop: int, kbps: int) -> list[Any]:
    """Two GOPs of noisy H.264 at a camera-like bitrate (libx264 ABR, ultrafast)."""
    from fractions import Fraction

    import av
    import numpy as np

    from custom_components.chinesium.protocol.model import Codec, Frame

    ctx: Any = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.framerate, ctx.time_base = Fraction(FPS, 1), Fraction(1, FPS)
    ctx.bit_rate = kbps * 1000
    ctx.thread_count = 1
    ctx.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "x264-params": (
            f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1:bframes=0"
            f":vbv-maxrate={kbps}:vbv-bufsize={kbps}"
        ),
    }
    rng = np.random.default_rng(1)
    aus: list[Any] = []
    for i in range(gop * 2):
        y = rng.integers(0, 256, size=(height * 3 // 2, width), dtype=np.uint8)
        y[: height // 2] = (np.arange(width, dtype=np.uint16)[None, :] + i * 4) % 256
        frame: Any = av.VideoFrame.from_ndarray(y, format="yuv420p")
        frame.pts = i
        frame.pict_type = "I" if i % gop == 0 else "NONE"
        aus.extend(ctx.encode(frame))
    aus.extend(ctx.encode(None))
    return [
        Frame(bytes(p), width, height, time.time(), i + 1, Codec.H264, bool(p.is_keyframe),
              i * STEP_MS)
        for i, p in enumerate(aus)
    ]  # fmt: skip


def _bitrate_kbps(frames: list[Any]) -> float:
    return sum(len(f.data) for f in frames) * 8 / (len(frames) / FPS) / 1000


# -- workers --------------------------------------------------------------------------------


def worker_cpu(spec: dict[str, Any]) -> dict[str, Any]:
    """Hub + one MPEG-TS client: burst per-frame CPU, paced whole-process CPU, RSS."""
    import gc

    rss_start = Probe.rss_kib()
    import av  # noqa: F401

    rss_av = Probe.rss_kib()
    from custom_components.chinesium.protocol.media import MediaHub, mpegts_chunks
    from custom_components.chinesium.protocol.media.server import MediaServer

    rss_mods = Probe.rss_kib()
    width, height, gop = spec["width"], spec["height"], spec["gop"]
    if spec["source"] == "pattern":
        frames = _frames("h264", width, height, gop, gop * 2)
    else:
        frames = _camera_like_frames(width, height, gop, spec["kbps"])
    gc.collect()
    result: dict[str, Any] = {
        "rss_start_mib": rss_start / 1024,
        "rss_av_mib": (rss_av - rss_start) / 1024,
        "rss_mods_mib": (rss_mods - rss_av) / 1024,
        "kbps": _bitrate_kbps(frames),
        "gop_bytes": sum(len(f.data) for f in frames[:gop]),
    }

    async def consume(sub: Any, sink: list[int]) -> None:
        async for chunk in mpegts_chunks(sub):
            sink[0] += len(chunk)

    async def burst() -> None:
        hub = MediaHub(nominal_step_ms=STEP_MS)
        sub = hub.subscribe(maxsize=10_000)
        sink = [0]
        task = asyncio.create_task(consume(sub, sink))
        n = spec["burst_frames"]
        # Warm up (first muxer setup, caches), then time.
        for f in frames[: gop * 2]:
            hub.publish(f)
            await asyncio.sleep(0)
        c0 = time.process_time()
        w0 = time.perf_counter()
        for i in range(n):
            f = frames[i % len(frames)]
            hub.publish(f)
            await asyncio.sleep(0)  # let the client mux it (one loop turn per frame)
        c1 = time.process_time()
        w1 = time.perf_counter()
        hub.close()
        await task
        per_frame_ms = (c1 - c0) / n * 1000
        result["burst_ms_per_frame"] = per_frame_ms
        result["burst_wall_ms_per_frame"] = (w1 - w0) / n * 1000
        result["burst_pct_core"] = per_frame_ms * FPS / 10  # ms per s of video -> % of a core
        result["ts_bytes_per_frame"] = sink[0] / (n + gop * 2)

    async def paced(mode: str) -> dict[str, Any]:
        with_http = mode == "http"
        hub = MediaHub(nominal_step_ms=STEP_MS)
        server = None
        reader = None
        sink = [0]
        task = None
        rss_before = Probe.rss_kib()
        if with_http:
            server = MediaServer()
            await server.start()
            url = server.add_source("cam", hub)
            reader = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--worker",
                "drain",
                json.dumps({"url": url}),
                stdout=asyncio.subprocess.PIPE,
            )
        elif mode == "mux":
            task = asyncio.create_task(consume(hub.subscribe(), sink))
        seconds = spec["seconds"]
        loop = asyncio.get_running_loop()
        start = loop.time()
        # One GOP to settle (HTTP client connects), then measure.
        i = 0
        c0 = w0 = 0.0
        rss_peak = 0
        settle = gop
        while True:
            if i == settle:
                c0, w0 = time.process_time(), time.perf_counter()
            f = frames[i % len(frames)]
            if mode != "idle":
                hub.publish(f)
            i += 1
            if i > settle and (i - settle) >= seconds * FPS:
                break
            if i % FPS == 0:
                rss_peak = max(rss_peak, Probe.rss_kib())
            await asyncio.sleep(max(0.0, start + i / FPS - loop.time()))
        c1, w1 = time.process_time(), time.perf_counter()
        out = {
            "pct_core": (c1 - c0) / (w1 - w0) * 100,
            "video_s": (i - settle) / FPS,
            "rss_mib": rss_peak / 1024,
            "rss_delta_mib": (rss_peak - rss_before) / 1024,
        }
        if server is not None:
            out["clients"] = server.clients("cam")
            await server.stop()
            assert reader is not None
            stdout, _ = await asyncio.wait_for(reader.communicate(), 30)
            out["client_bytes"] = json.loads(stdout)["bytes"]
        hub.close()
        if task is not None:
            await task
        return out

    async def main() -> None:
        await burst()
        result["paced_idle"] = await paced("idle")
        result["paced"] = await paced("mux")
        result["paced_http"] = await paced("http")

    asyncio.run(main())
    return result


def worker_drain(spec: dict[str, Any]) -> dict[str, Any]:
    """An external MPEG-TS client: read the URL to the end, count bytes."""
    import urllib.request

    total = 0
    with urllib.request.urlopen(spec["url"], timeout=30) as resp:
        while chunk := resp.read(65536):
            total += len(chunk)
    return {"bytes": total}


def worker_still(spec: dict[str, Any]) -> dict[str, Any]:
    """StillConverter latency: first ever, new keyframe (warm decoder), cached."""
    from custom_components.chinesium.protocol.media import StillConverter

    width, height, codec = spec["width"], spec["height"], spec["codec"]
    n = spec["repeat"]
    if spec.get("source") == "noise":
        frames = _camera_like_frames(width, height, 15, 1500)
    else:
        frames = _frames(codec, width, height, 1, n + 1)  # every frame a keyframe
    keys = [f for f in frames if f.keyframe]
    conv = StillConverter()
    t0 = time.perf_counter()
    conv.jpeg(keys[0])
    first_ms = (time.perf_counter() - t0) * 1000
    cold, cold_cpu, cached = [], [], []
    for i in range(n):
        from dataclasses import replace

        key = replace(keys[i % len(keys)], seq=1000 + i)  # a new keyframe: cache miss
        c0, t0 = time.process_time(), time.perf_counter()
        jpeg = conv.jpeg(key)
        cold.append((time.perf_counter() - t0) * 1000)
        cold_cpu.append((time.process_time() - c0) * 1000)
        t0 = time.perf_counter()
        conv.jpeg(key)
        cached.append((time.perf_counter() - t0) * 1000)
    return {
        "idr_kib": len(keys[0].data) / 1024,
        "first_ms": first_ms,
        "cold_ms": statistics.median(cold),
        "cold_max_ms": max(cold),
        "cold_cpu_ms": statistics.median(cold_cpu),
        "cached_ms": statistics.median(cached),
        "jpeg_kib": len(jpeg) / 1024,
    }


def worker_open_client(spec: dict[str, Any]) -> dict[str, Any]:
    """Wait for a URL on stdin, then time av.open(url) -> first decoded frame."""
    import av

    print("ready", flush=True)
    url = sys.stdin.readline().strip()
    t0 = time.perf_counter()
    container: Any = av.open(url, timeout=20)
    try:
        t_open = time.perf_counter() - t0
        stream = container.streams.video[0]
        ctx: Any = av.CodecContext.create(stream.codec_context.name, "r")
        ctx.thread_count = 1
        first_key = None
        for packet in container.demux(stream):
            if not packet.size:
                continue
            if first_key is None:
                first_key = bool(packet.is_keyframe)
            if ctx.decode(av.Packet(bytes(packet))):
                break
        t_frame = time.perf_counter() - t0
    finally:
        container.close()
    return {"open_s": t_open, "first_frame_s": t_frame, "first_is_key": first_key}


def worker_open(spec: dict[str, Any]) -> dict[str, Any]:
    """Serve a paced 15 fps camera; an external client opens when the cache holds N frames."""
    from custom_components.chinesium.protocol.media import MediaHub
    from custom_components.chinesium.protocol.media.server import MediaServer

    width, height, gop = spec["width"], spec["height"], spec["gop"]
    frames = _frames("h264", width, height, gop, gop * 2)
    results: dict[str, Any] = {}

    async def one(cached: int, min_backlog: int) -> dict[str, Any]:
        hub = MediaHub(nominal_step_ms=STEP_MS)
        server = MediaServer(min_backlog=min_backlog)
        await server.start()
        url = server.add_source("cam", hub)
        client = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--worker",
            "open_client",
            "{}",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert client.stdin is not None
        assert client.stdout is not None
        await client.stdout.readline()  # "ready" (av imported)
        loop = asyncio.get_running_loop()
        start = loop.time()
        i = 0
        sent = False
        reply = None
        read = None
        # Start on a keyframe boundary, run one GOP, then open when `cached` frames are cached.
        while i < gop * 6:
            f = frames[i % len(frames)]
            hub.publish(f)
            i += 1
            if not sent and i == gop + cached:
                client.stdin.write(url.encode() + b"\n")
                await client.stdin.drain()
                sent = True
                read = asyncio.ensure_future(client.stdout.read())
            if read is not None and read.done():
                break
            await asyncio.sleep(max(0.0, start + i / FPS - loop.time()))
        assert read is not None
        reply = await asyncio.wait_for(read, 30)
        await client.wait()
        await server.stop()
        hub.close()
        return dict(json.loads(reply.decode().strip().splitlines()[-1]))

    async def main() -> None:
        for min_backlog in (24, 0):
            for cached in spec["cached"]:
                results[f"{min_backlog}/{cached}"] = await one(cached, min_backlog)

    asyncio.run(main())
    return results


WORKERS = {
    "cpu": worker_cpu,
    "drain": worker_drain,
    "still": worker_still,
    "open": worker_open,
    "open_client": worker_open_client,
}


def run_worker(name: str, spec: dict[str, Any]) -> Any:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", name, json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- driver ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run, no RESULTS.md")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("spec", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](json.loads(args.spec or "{}"))), flush=True)
        return 0

    quick = args.quick
    gop = 30
    lines = [f"Machine: {machine_description()}", ""]
    print(lines[0], flush=True)

    lines += [
        f"### CPU and memory per 720p15 H.264 camera (GOP {gop}; frames pre-encoded and "
        "replayed; UDP ingest/reassembly not included: see bench/perf.py)",
        "",
        "| stream | hub + 1 MPEG-TS mux, burst: CPU per frame (→ % of a core at 15 fps) "
        "| pacing loop alone (baseline), whole process | hub + 1 mux, paced 15 fps: whole "
        "process | hub + MediaServer + 1 HTTP client (other process), paced: server process "
        "| RSS added while serving |",
        "|---|---|---|---|---|---|",
    ]
    rss_notes = []
    for source, kbps in (("pattern", 0), ("noise", 1500)):
        cpu = run_worker(
            "cpu",
            {"width": 1280, "height": 720, "gop": gop, "source": source, "kbps": kbps,
             "burst_frames": 300 if quick else 3000, "seconds": 5 if quick else 30},
        )  # fmt: skip
        print(json.dumps(cpu), flush=True)
        p, ph, p0 = cpu["paced"], cpu["paced_http"], cpu["paced_idle"]
        label = (
            "fakecam test pattern" if source == "pattern" else "noise, libx264 ABR 1.5 Mb/s target"
        )
        lines.append(
            f"| {label}: {cpu['kbps']:.0f} kb/s, GOP {cpu['gop_bytes'] / 1024:.0f} KiB "
            f"| {cpu['burst_ms_per_frame']:.3f} ms ({cpu['burst_pct_core']:.2f} %) "
            f"| {p0['pct_core']:.2f} % "
            f"| {p['pct_core']:.2f} % ({p['video_s']:.0f} s) "
            f"| {ph['pct_core']:.2f} % ({ph['video_s']:.0f} s, client read "
            f"{ph['client_bytes'] / 1024:.0f} KiB) "
            f"| {ph['rss_delta_mib']:+.1f} MiB |"
        )
        rss_notes.append(
            f"RSS ({label}): {cpu['rss_start_mib']:.1f} MiB at start, +{cpu['rss_av_mib']:.1f} MiB "
            f"for `import av`, +{cpu['rss_mods_mib']:.1f} MiB for importing the media package "
            "(through `custom_components.chinesium`, which imports Home Assistant) and aiohttp; "
            f"peak {p['rss_mib']:.1f} MiB muxing (test frames held in memory), "
            f"{ph['rss_mib']:.1f} MiB serving."
        )
    lines += ["", *rss_notes, ""]

    lines += [
        f"### Still (StillConverter.jpeg, Pillow q80), ms wall; median of {10 if quick else 30}",
        "",
        "| codec | size | keyframe | first call (decoder created) | cold (new keyframe) "
        "| cold CPU | cold max | cached | JPEG |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    cases = [
        (codec, w, h, "pattern") for codec in ("h264", "h265") for w, h in ((640, 480), (1280, 720))
    ] + [("h264", 1280, 720, "noise")]
    for codec, width, height, source in cases:
        st = run_worker(
            "still",
            {"codec": codec, "width": width, "height": height, "source": source,
             "repeat": 10 if quick else 30},
        )  # fmt: skip
        print(codec, width, height, source, json.dumps(st), flush=True)
        kind = "test pattern" if source == "pattern" else "noise (1.5 Mb/s stream)"
        lines.append(
            f"| {codec} | {width}x{height} | {kind}, {st['idr_kib']:.0f} KiB "
            f"| {st['first_ms']:.1f} | {st['cold_ms']:.1f} | "
            f"{st['cold_cpu_ms']:.1f} | {st['cold_max_ms']:.1f} | {st['cached_ms']:.3f} | "
            f"{st['jpeg_kib']:.0f} KiB |"
        )
    lines.append("")

    cached = [1, 8, 29] if quick else [1, 4, 8, 15, 29]
    lines += [
        f"### av.open(url) to first decoded frame (720p15 H.264, GOP {gop}, reader in another "
        "process, server paced in real time)",
        "",
        "| MediaServer min_backlog | frames in the current GOP at open | av.open returned "
        "| first decoded frame | first packet keyframe |",
        "|---|---|---|---|---|",
    ]
    op = run_worker("open", {"width": 1280, "height": 720, "gop": gop, "cached": cached})
    print(json.dumps(op), flush=True)
    for min_backlog in (24, 0):
        for n in cached:
            r = op[f"{min_backlog}/{n}"]
            lines.append(
                f"| {min_backlog} | {n} | {r['open_s']:.3f} s | {r['first_frame_s']:.3f} s "
                f"| {r['first_is_key']} |"
            )
    lines.append("")
    body = "\n".join(lines[2:])
    print(body)
    if not quick:
        append_results("bench/media.py", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
