"""Restream benchmark: CPU per camera for MJPEG->H.264 and audio transcoding; appends to RESULTS.md.

    .venv/bin/python bench/restream.py            # full run (~3 min)
    .venv/bin/python bench/restream.py --quick    # smoke run, nothing appended

* ``burst``: CPU per unit of work in one process: ``MjpegTranscoder.encode``
  per 640x480 fakecam JPEG (+ MPEG-TS mux), the plain MJPEG path per frame
  (hub publish + multipart framing), and audio per second (IMA-ADPCM decode
  + resample to 16 kHz + AAC encode + mux).
* ``paced``: one emulated TEG camera (640x480, 15 fps, 1 kHz tone) in its own
  process; this worker runs TegSession -> MediaHub -> MediaServer on
  127.0.0.1; one HTTP client (another process) reads ``.mjpeg``, ``.ts``
  (transcoded) or ``.ts`` with audio. CPU is the worker's whole process
  (all threads) over the measuring window; the session-only row is the
  baseline every other row includes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # type: ignore[import-not-found]
    EmulatorProcess,
    append_results,
    machine_description,
)

FPS = 15
STEP_MS = 1000 // FPS


def worker_burst(spec: dict[str, Any]) -> dict[str, Any]:
    from custom_components.chinesium.protocol.media import MediaHub, MpegTsMuxer
    from custom_components.chinesium.protocol.media.adpcm import decode_block
    from custom_components.chinesium.protocol.media.transcode import MjpegTranscoder
    from custom_components.chinesium.protocol.model import AudioChunk, Codec, Frame
    from fakecam.audio import tone_blocks
    from fakecam.frames import FrameSource

    n = int(spec["frames"])
    src = FrameSource(count=24)
    jpegs = [src.next_frame() for _ in range(24)]
    frames = [Frame(jpegs[i % 24], 640, 480, time.time(), i + 1, pts=i * STEP_MS) for i in range(n)]
    jpeg_kib = sum(len(j) for j in jpegs) / len(jpegs) / 1024

    # Plain MJPEG path: hub publish + one subscriber's multipart framing.
    hub = MediaHub()
    sub = hub.subscribe(n + 1)
    t = time.process_time()
    for f in frames:
        hub.publish(f)
        item = sub._buf.popleft()
        assert isinstance(item, Frame)
        _ = b"--b\r\nContent-Type: image/jpeg\r\n\r\n" + item.data + b"\r\n"
    plain_ms = (time.process_time() - t) * 1000 / n

    # MJPEG -> H.264 (decode + libx264 ultrafast/zerolatency) + MPEG-TS mux.
    tx = MjpegTranscoder()
    tx.encode(frames[0])  # encoder set-up outside the clock
    h264_bytes = 0
    with MpegTsMuxer(Codec.H264) as mux:
        t = time.process_time()
        for f in frames[1:]:
            for h in tx.encode(f):
                h264_bytes += len(h.data)
                mux.mux(h)
        tx_ms = (time.process_time() - t) * 1000 / (n - 1)

    # Audio: ADPCM decode + resample + AAC encode + mux, per second of audio.
    blocks = tone_blocks()
    seconds = float(spec["audio_seconds"])
    count = int(seconds * 8000 / 1025)
    vframe = Frame(b"\x00\x00\x00\x01\x65", 2, 2, 0.0, 1, Codec.H264, True, 0)
    with MpegTsMuxer(Codec.H264, audio_rate=16000) as amux:
        amux.mux(vframe)
        t = time.process_time()
        for i in range(count):
            pcm = decode_block(blocks[i % len(blocks)])
            amux.mux_audio(AudioChunk(pcm, 8000, 0.0, i + 1, i * 1025 // 8))
        audio_cpu = time.process_time() - t
        t = time.process_time()
        for i in range(count):
            decode_block(blocks[i % len(blocks)])
        adpcm_cpu = time.process_time() - t
    audio_s = count * 1025 / 8000

    # PPPP audio decoders alone: SHIX/VStarcam ADPCM code stream, iLnk A-law (64 ms frames).
    from custom_components.chinesium.protocol.media.adpcm import decode_frame
    from custom_components.chinesium.protocol.media.g711 import alaw_decode
    from fakecam.audio import ToneSource, adpcm_frame, alaw_encode

    src = ToneSource()
    pcm_frames = [src.next(1024) for _ in range(62)]  # 7.9 s in 128 ms frames
    adpcm_frames = [adpcm_frame(f) for f in pcm_frames]
    alaw_frames = [alaw_encode(f) for f in pcm_frames]
    reps = max(1, int(seconds / 8))
    t = time.process_time()
    for _ in range(reps):
        for codes in adpcm_frames:
            decode_frame(codes)
    stream_cpu = time.process_time() - t
    t = time.process_time()
    for _ in range(reps):
        for data in alaw_frames:
            alaw_decode(data)
    alaw_cpu = time.process_time() - t
    pppp_s = reps * 62 * 1024 / 8000
    return {
        "jpeg_kib": jpeg_kib,
        "plain_ms": plain_ms,
        "transcode_ms": tx_ms,
        "h264_kbps": h264_bytes * 8 / 1000 / ((n - 1) / FPS),
        "audio_pct": audio_cpu / audio_s * 100,
        "adpcm_pct": adpcm_cpu / audio_s * 100,
        "adpcm_stream_pct": stream_cpu / pppp_s * 100,
        "alaw_pct": alaw_cpu / pppp_s * 100,
    }


def worker_client(spec: dict[str, Any]) -> dict[str, Any]:
    """Read ``url`` until killed; prints nothing (the parent counts nothing from it)."""
    import urllib.request

    total = 0
    with urllib.request.urlopen(spec["url"], timeout=30) as resp:
        while True:
            chunk = resp.read(65536)
            if not chunk:
                break
            total += len(chunk)
    return {"bytes": total}


async def _paced(spec: dict[str, Any]) -> dict[str, Any]:
    from custom_components.chinesium.protocol import CameraInfo, Family, SessionOptions
    from custom_components.chinesium.protocol.media import MediaHub, link_audio
    from custom_components.chinesium.protocol.media.server import MediaServer
    from custom_components.chinesium.protocol.teg.session import TegSession

    mode = spec["mode"]
    emu = await EmulatorProcess.start({"teg": [{"fps": float(FPS)}]})
    cam = emu.cameras["teg"][0]
    info = CameraInfo(uid=cam["uid"], host=cam["host"], port=cam["session_port"], family=Family.TEG)
    session = TegSession(info, None, SessionOptions(local_host="127.0.0.1"))
    hub = MediaHub()
    session.add_frame_listener(hub.publish)
    unlink = link_audio(session, hub)
    server = MediaServer()
    await server.start()
    client: asyncio.subprocess.Process | None = None
    try:
        await session.start()
        server.add_source("cam", hub, transcode=True, audio=mode == "ts_audio")
        if mode != "session":
            url = server.url("cam", "mjpeg" if mode == "mjpeg" else "ts")
            client = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--worker",
                "client",
                json.dumps({"url": url}),
                stdout=asyncio.subprocess.DEVNULL,
            )
        await asyncio.sleep(float(spec["warmup"]))
        frames0 = session.stats.frames_ok
        audio0 = hub.audio_in
        c0 = time.process_time()
        w0 = time.monotonic()
        await asyncio.sleep(float(spec["seconds"]))
        cpu = time.process_time() - c0
        wall = time.monotonic() - w0
        frames = session.stats.frames_ok - frames0
        audio = hub.audio_in - audio0
        clients = server.clients("cam")
        tx = server._sources["cam"].transcoder
        transcoded = tx.transcoder.frames_out if tx is not None and tx.transcoder else 0
    finally:
        if client is not None:
            client.kill()
            await client.wait()
        unlink()
        await server.stop()
        await session.close()
        await emu.stop()
    return {
        "mode": mode,
        "pct_core": cpu / wall * 100,
        "fps": frames / wall,
        "audio_chunks_per_s": audio / wall,
        "clients": clients,
        "transcoded": transcoded,
        "seconds": wall,
    }


def worker_paced(spec: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_paced(spec))


WORKERS = {"burst": worker_burst, "client": worker_client, "paced": worker_paced}


def run_worker(name: str, spec: dict[str, Any]) -> Any:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", name, json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


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
    lines = [f"Machine: {machine_description()}", ""]
    print(lines[0], flush=True)

    burst = run_worker(
        "burst", {"frames": 60 if quick else 450, "audio_seconds": 5 if quick else 30}
    )
    print(json.dumps(burst), flush=True)
    pct = 100 * FPS / 1000
    lines += [
        "### Burst: CPU per unit of work (one process, fakecam 640x480 JPEGs "
        f"of {burst['jpeg_kib']:.0f} KiB, 1 kHz tone)",
        "",
        "| path | CPU | → % of a core per camera |",
        "|---|---|---|",
        f"| plain MJPEG: hub publish + multipart framing | {burst['plain_ms']:.3f} ms/frame "
        f"| {burst['plain_ms'] * pct:.2f} % at 15 fps |",
        f"| MJPEG → H.264: JPEG decode + libx264 ultrafast/zerolatency + MPEG-TS mux "
        f"| {burst['transcode_ms']:.2f} ms/frame | {burst['transcode_ms'] * pct:.1f} % at 15 fps "
        f"({burst['h264_kbps']:.0f} kb/s H.264) |",
        "| audio: IMA-ADPCM decode + resample 8→16 kHz + AAC encode + mux | — "
        f"| {burst['audio_pct']:.2f} % (of which ADPCM decode {burst['adpcm_pct']:.2f} %) |",
        "| PPPP audio decode only: SHIX/VStarcam IMA-ADPCM frames (8 kHz) | — "
        f"| {burst['adpcm_stream_pct']:.2f} % |",
        f"| PPPP audio decode only: iLnk A-law (8 kHz) | — | {burst['alaw_pct']:.3f} % |",
        "",
    ]

    seconds = 8 if quick else 30
    lines += [
        f"### Paced: one emulated TEG camera (640x480, {FPS} fps, audio 8 kHz) → "
        "TegSession → MediaHub → MediaServer, one HTTP client in another process; "
        f"CPU of the whole receiving process over {seconds} s",
        "",
        "| consumer | CPU (% of a core) | added over session only | fps in | audio chunks/s in "
        "| frames transcoded |",
        "|---|---|---|---|---|---|",
    ]
    base = None
    labels = {
        "session": "none (session + hub only, baseline)",
        "mjpeg": "plain MJPEG (`.mjpeg`, multipart)",
        "ts": "MJPEG → H.264 (`.ts`, transcoded, no audio)",
        "ts_audio": "MJPEG → H.264 + AAC audio (`.ts`, audio=True)",
    }
    for mode in ("session", "mjpeg", "ts", "ts_audio"):
        r = run_worker("paced", {"mode": mode, "seconds": seconds, "warmup": 3})
        print(json.dumps(r), flush=True)
        if base is None:
            base = r["pct_core"]
        lines.append(
            f"| {labels[mode]} | {r['pct_core']:.2f} % | {r['pct_core'] - base:+.2f} "
            f"| {r['fps']:.1f} | {r['audio_chunks_per_s']:.1f} | {r['transcoded']} |"
        )
    lines.append("")
    body = "\n".join(lines)
    print(body)
    if not quick:
        append_results("bench/restream.py", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
