"""chinesium performance benchmark: prints one table and appends it to bench/RESULTS.md.

    .venv/bin/python bench/perf.py            # full run (< 10 min)
    .venv/bin/python bench/perf.py --quick    # smoke run (< 2 min)

Every measurement runs in a fresh *client* worker process (this file with
``--worker SPEC``) so CPU time and RSS belong to one client only; the emulated
cameras run in separate emulator process(es) (``bench/_common.py emulator``).
Everything stays on 127.0.0.0/8. aiopppp (PPPP SHIX and iLnk) runs in its own
venv against the same emulator, one measurement after ours, never concurrently.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # type: ignore[import-not-found]
    EmulatorProcess,
    Probe,
    append_results,
    machine_description,
    machine_ticks,
    percentile,
    run_aiopppp,
    udp_rcvbuf_errors,
)

FPS = 15.0
SHIX_CAM = {"duid": "DGOK-123456-ABCDE", "encrypt": "camera", "app": "shix"}
ILNK_CAM = {"duid": "BATE-123456-ABCDE", "app": "ilnk"}


# -- client side (worker process) -------------------------------------------------------------


def _options() -> Any:
    from custom_components.chinesium.protocol import SessionOptions

    return SessionOptions(local_host="127.0.0.1")


def _teg_info(cam: dict[str, Any]) -> Any:
    from custom_components.chinesium.protocol import CameraInfo, Family

    return CameraInfo(
        uid=cam["uid"],
        host=cam["host"],
        port=cam["session_port"],
        family=Family.TEG,
        extra={"search_port": cam["discovery_port"]},
    )


def _pppp_info(cam: dict[str, Any]) -> Any:
    from custom_components.chinesium.protocol import CameraInfo, Family

    return CameraInfo(
        uid=cam["duid"],
        host=cam["host"],
        port=cam["port"],
        family=Family.PPPP,
        app_layer=cam["app"],
        extra={"key": cam["encrypt"]},
    )


def _import_library() -> None:
    """Import everything a session needs, so RSS deltas count sessions, not imports."""
    import custom_components.chinesium.protocol.pppp.session
    import custom_components.chinesium.protocol.teg.session  # noqa: F401


def _infos(cams: dict[str, Any]) -> list[Any]:
    return [_teg_info(c) for c in cams["teg"]] + [_pppp_info(c) for c in cams["pppp"]]


async def _emulators(spec: dict[str, Any]) -> list[EmulatorProcess]:
    """Start ``spec["emu_procs"]`` emulator processes sharing the cameras round-robin."""
    n = max(1, int(spec.get("emu_procs", 1)))
    teg = [
        dict(spec.get("cam", {}), seed=i + 1)
        for i in range(spec["k"] if spec["family"] == "teg" else 0)
    ]
    ppp = [
        dict(spec.get("cam", {}), seed=i + 1)
        for i in range(spec["k"] if spec["family"] == "pppp" else 0)
    ]
    specs = [{"teg": teg[i::n], "pppp": ppp[i::n], "seed": i} for i in range(n)]
    return list(await asyncio.gather(*(EmulatorProcess.start(s) for s in specs)))


async def _open_all(infos: list[Any]) -> tuple[list[Any], int]:
    from custom_components.chinesium.protocol import ChinesiumError, open_session

    async def _one(info: Any) -> Any:
        for _ in range(3):
            try:
                return await open_session(info, None, _options())
            except ChinesiumError:
                await asyncio.sleep(0.2)
        return None

    got = await asyncio.gather(*(_one(i) for i in infos))
    sessions = [s for s in got if s is not None]
    return sessions, len(infos) - len(sessions)


def _emu_totals(stats: list[dict[str, Any]], family: str) -> dict[str, float]:
    sent = pk = dropped = resent = skipped = retx = 0
    for st in stats:
        if family == "teg":
            for f, p, d, r, _ in st["teg"]:
                sent += f
                pk += p
                dropped += d
                resent += r
        else:
            for f, s, rt, _ in st["pppp"]:
                sent += f
                skipped += s
                retx += rt
    return {
        "sent": sent,
        "packets": pk,
        "dropped": dropped,
        "resent": resent,
        "skipped": skipped,
        "retx": retx,
    }


async def worker_fleet(spec: dict[str, Any]) -> dict[str, Any]:
    """K cameras of one family, 15 fps: client CPU, delivery, RSS, emulator load."""
    _import_library()
    emus = await _emulators(spec)
    rss0 = Probe.rss_kib()
    try:
        infos: list[Any] = []
        for e in emus:
            infos += _infos(e.cameras)
        t_open = time.monotonic()
        sessions, failed = await _open_all(infos)
        open_s = time.monotonic() - t_open
        await asyncio.sleep(spec.get("warm", 2.0))
        e0 = await asyncio.gather(*(e.stats() for e in emus))
        f0 = sum(s.stats.frames_ok for s in sessions)
        m0, u0 = machine_ticks(), udp_rcvbuf_errors()
        c0, w0 = Probe.cpu(), time.monotonic()
        await asyncio.sleep(spec["seconds"])
        c1, w1 = Probe.cpu(), time.monotonic()
        m1, u1 = machine_ticks(), udp_rcvbuf_errors()
        f1 = sum(s.stats.frames_ok for s in sessions)
        e1 = await asyncio.gather(*(e.stats() for e in emus))
        rss1 = Probe.rss_kib()
        # Drain: stop new frames (resends continue), let the last ones complete, compare.
        await asyncio.gather(*(e.command("pause", on=True) for e in emus))
        await asyncio.sleep(1.5 if spec["family"] == "pppp" else 0.8)
        e2 = await asyncio.gather(*(e.stats() for e in emus))
        delivered = sum(s.stats.frames_ok for s in sessions)
        stats = [s.stats for s in sessions]
        await asyncio.gather(*(s.close() for s in sessions))
    finally:
        await asyncio.gather(*(e.stop() for e in emus))
    fam = spec["family"]
    tot = _emu_totals(list(e2), fam)
    win0 = _emu_totals(list(e0), fam)
    win1 = _emu_totals(list(e1), fam)
    wall = w1 - w0
    emu_cpu = [(b["cpu"] - a["cpu"]) / (b["wall"] - a["wall"]) for a, b in zip(e0, e1, strict=True)]
    frames_win = f1 - f0
    return {
        "k": spec["k"],
        "sessions": len(sessions),
        "failed_opens": failed,
        "open_s": open_s,
        "wall_s": wall,
        "cpu_s": c1 - c0,
        "client_cpu_frac": (c1 - c0) / wall,
        "frames_window": frames_win,
        "us_per_frame": 1e6 * (c1 - c0) / frames_win if frames_win else float("nan"),
        "sent_window": win1["sent"] - win0["sent"],
        "expected_window": len(sessions) * FPS * wall,
        "delivered": delivered,
        "sent": tot["sent"],
        "ratio": delivered / tot["sent"] if tot["sent"] else float("nan"),
        "pkts_per_frame": (tot["packets"] + tot["dropped"]) / tot["sent"] if tot["sent"] else 0,
        "resent": tot["resent"],
        "pppp_skipped": tot["skipped"],
        "pppp_retx": tot["retx"],
        "naks": sum(s.resend_requests for s in stats),
        "client_retx": sum(s.retransmissions for s in stats),
        "emu_cpu_frac": emu_cpu,
        "emu_lag_max": max(b["lag_max"] for b in e1),
        "machine_busy": (m1[0] - m0[0]) / max(1, m1[1] - m0[1]),
        "rcvbuf_errors": u1 - u0,
        "rss_before_kib": rss0,
        "rss_after_kib": rss1,
    }


async def worker_latency(spec: dict[str, Any]) -> dict[str, Any]:
    """Connect → first frame, cold snapshot, warm snapshot (cached and fresh)."""
    from custom_components.chinesium.protocol import open_session

    fam = spec["family"]
    emu = (await _emulators({**spec, "k": 1}))[0]
    info = _infos(emu.cameras)[0]
    first: list[float] = []
    cold: list[float] = []
    warm: list[float] = []
    fresh: list[float] = []
    try:
        for _ in range(spec["trials"]):
            t0 = time.perf_counter()
            session = await open_session(info, None, _options())
            await session.next_frame()
            first.append(time.perf_counter() - t0)
            await session.close()
            await asyncio.sleep(0.15 if fam == "teg" else 0.3)
        for _ in range(spec["trials"]):
            t0 = time.perf_counter()
            session = await open_session(info, None, _options())
            await session.snapshot()
            await session.close()
            cold.append(time.perf_counter() - t0)
            await asyncio.sleep(0.15 if fam == "teg" else 0.3)
        session = await open_session(info, None, _options())
        await session.next_frame()
        for i in range(spec["trials"] * 3):
            await asyncio.sleep(0.05 + 0.013 * (i % 7))
            t0 = time.perf_counter()
            await session.snapshot()
            warm.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await session.snapshot(max_age=0.0)
            fresh.append(time.perf_counter() - t0)
        await session.close()
    finally:
        await emu.stop()
    return {"first": first, "cold": cold, "warm": warm, "fresh": fresh}


async def worker_ha(spec: dict[str, Any]) -> dict[str, Any]:
    """Config entry setup → first frame through the real coordinator (in-process HA)."""
    from homeassistant import loader
    from homeassistant.setup import async_setup_component
    from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
        MockConfigEntry,
        async_test_home_assistant,
    )

    from custom_components.chinesium import const

    emu = (await _emulators({"family": "teg", "k": 1}))[0]
    info = _infos(emu.cameras)[0]
    times: list[float] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        patch.multiple(
            const,
            SESSION_OPTIONS=_options(),
            DISCOVERY_BIND_HOST="127.0.0.1",
            TEG_SEARCH_PORT=9,
            PPPP_SEARCH_PORT=9,
            SCAN_HOSTS=[],
        ),
        patch("custom_components.chinesium.discovery.async_broadcast_targets", return_value=[]),
    ):
        async with async_test_home_assistant(config_dir=tmp) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
            port = _free_tcp_port()
            http = {"server_host": ["127.0.0.1"], "server_port": port}
            assert await async_setup_component(hass, "http", {"http": http})
            entry = MockConfigEntry(
                domain=const.DOMAIN,
                unique_id=info.uid,
                title="bench",
                data={**info.as_dict(), "username": None, "password": None},
            )
            entry.add_to_hass(hass)
            for _ in range(spec["trials"]):
                t0 = time.perf_counter()
                assert await hass.config_entries.async_setup(entry.entry_id)
                coordinator = entry.runtime_data
                while coordinator.latest_frame is None:  # noqa: ASYNC110 - polling is the probe
                    await asyncio.sleep(0.0005)
                times.append(time.perf_counter() - t0)
                assert await hass.config_entries.async_unload(entry.entry_id)
                await hass.async_block_till_done()
                await asyncio.sleep(0.2)
            await hass.async_stop(force=True)
    await emu.stop()
    return {"setup_first": times}


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def worker_profile(spec: dict[str, Any]) -> dict[str, Any]:
    """cProfile the client while it receives for ``seconds``; return the top entries."""
    import cProfile
    import io
    import pstats

    emus = await _emulators(spec)
    try:
        infos: list[Any] = []
        for e in emus:
            infos += _infos(e.cameras)
        sessions, _ = await _open_all(infos)
        await asyncio.sleep(1.0)
        f0 = sum(s.stats.frames_ok for s in sessions)
        prof = cProfile.Profile()
        prof.enable()
        await asyncio.sleep(spec["seconds"])
        prof.disable()
        frames = sum(s.stats.frames_ok for s in sessions) - f0
        await asyncio.gather(*(s.close() for s in sessions))
    finally:
        await asyncio.gather(*(e.stop() for e in emus))
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
    return {"frames": frames, "profile": buf.getvalue()}


async def worker_parse(spec: dict[str, Any]) -> dict[str, Any]:
    """Library hot path without sockets: datagram handler → Frame, µs per frame.

    Pre-built datagrams (the emulator's JPEGs, 1 KiB packets) are passed straight
    to ``TegSession._on_datagram`` / ``PpppConnection._on_datagram`` (no socket,
    no event-loop I/O), so the difference to the socket numbers is asyncio's
    per-datagram cost.
    """
    import struct

    from custom_components.chinesium.protocol import CameraInfo, Family
    from custom_components.chinesium.protocol.pppp.apps.avframe import FrameHeader
    from custom_components.chinesium.protocol.pppp.codec import encode_drw
    from custom_components.chinesium.protocol.pppp.crypto import Cipher
    from custom_components.chinesium.protocol.pppp.session import PpppSession
    from custom_components.chinesium.protocol.pppp.transport import PpppConnection
    from custom_components.chinesium.protocol.teg.session import TegSession
    from fakecam.frames import FrameSource

    src = FrameSource(count=8)
    frames = [src.next_frame() for _ in range(int(spec.get("frames", 300)))]
    hdr = struct.Struct("<4sHHIHHHHI")
    fhdr = struct.Struct("<IIHHI")
    chunk = 1032
    teg_pkts: list[bytes] = []
    for fid, jpeg in enumerate(frames, start=1):
        n = (len(jpeg) + chunk - 1) // chunk
        for idx in range(n):
            part = jpeg[idx * chunk : (idx + 1) * chunk]
            if idx == 0:
                head = hdr.pack(b"2TEG", 3, 32 + len(part), 1, 1, 0, fid, 0, len(part))
                head += fhdr.pack(len(jpeg), n, 640, 480, fid)
            else:
                head = hdr.pack(b"2TEG", 3, 16 + len(part), 1, 1, 0, fid, idx, len(part))
            teg_pkts.append(head + part)
    addr = ("127.0.0.1", 1)
    out: dict[str, Any] = {}
    teg = TegSession(CameraInfo("x", "127.0.0.1", 1, Family.TEG))
    teg._setup()
    teg._live_ok = True
    t0 = time.process_time()
    for pkt in teg_pkts:
        teg._on_datagram(pkt, addr)
    dt = time.process_time() - t0
    out["teg_us_per_frame"] = 1e6 * dt / max(1, teg.stats.frames_ok)
    out["teg_pkts_per_frame"] = len(teg_pkts) / len(frames)
    out["teg_frames"] = teg.stats.frames_ok
    for name, key in (("pppp_plain", None), ("pppp_xor", "camera")):
        stream = b"".join(
            FrameHeader(codec=3, length=len(j), counter=i).encode() + j
            for i, j in enumerate(frames)
        )
        cipher = Cipher.create(key) if key else None
        dgrams = []
        for i, off in enumerate(range(0, len(stream), 1024)):
            d = encode_drw(1, i, stream[off : off + 1024])
            dgrams.append(cipher.encrypt(d) if cipher else d)
        conn = PpppConnection(key=key)
        conn._established = True
        conn.remote = addr
        sess = PpppSession(CameraInfo("x", "127.0.0.1", 1, Family.PPPP))
        conn.channel(1).set_packet_handler(sess._on_video)
        t0 = time.process_time()
        for d in dgrams:
            conn._on_datagram(d, addr)
        dt = time.process_time() - t0
        conn._abort()
        out[f"{name}_us_per_frame"] = 1e6 * dt / max(1, sess.stats.frames_ok)
        out[f"{name}_frames"] = sess.stats.frames_ok
    return out


WORKERS = {
    "parse": worker_parse,
    "fleet": worker_fleet,
    "latency": worker_latency,
    "ha": worker_ha,
    "profile": worker_profile,
}


# -- orchestrator ------------------------------------------------------------------------------


def run_worker(spec: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    """Run one measurement in a fresh client process; return its JSON."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker {spec['mode']} failed: {proc.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


async def aiopppp_measure(cam: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Our emulator (separate process) + the aiopppp driver (its own venv/process)."""
    emu = await EmulatorProcess.start({"pppp": [cam]})
    try:
        c = emu.cameras["pppp"][0]
        spec: dict[str, Any] = {"port": c["port"], "seconds": seconds}
        if cam.get("app") == "shix" and not cam.get("encrypt"):
            spec["force_json"] = True
        t0 = time.perf_counter()
        res: dict[str, Any] = await run_aiopppp(spec, limit=seconds + 40)
        res["total_s"] = time.perf_counter() - t0
        await asyncio.sleep(0.2)
        st = await emu.stats()
        res["emu_sent"] = st["pppp"][0][0]
    finally:
        await emu.stop()
    return res


def ms(v: float) -> str:
    """Milliseconds with sensible precision."""
    return f"{v * 1e3:.1f}" if v >= 0.001 else f"{v * 1e3:.3f}"


def _pct(v: float) -> str:
    return f"{100 * v:.2f} %"


def main() -> int:
    """Run the benchmark and print/append the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (< 2 min)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--no-append", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--profile", action="store_true", help="also print cProfile tops")
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        result = asyncio.run(WORKERS[spec["mode"]](spec))
        print(json.dumps(result), flush=True)
        return 0

    quick = args.quick
    t_start = time.monotonic()
    win = 2.0 if quick else 8.0
    trials = 3 if quick else 10
    steps = [50] if quick else [10, 25, 50, 75, 100, 150, 200, 250]
    losses = (0.05,) if quick else (0.0, 0.01, 0.05)
    rows: list[tuple[str, str, str]] = []
    notes: list[str] = []

    def log(msg: str) -> None:
        print(f"[perf {time.monotonic() - t_start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    # 1. CPU per frame, one camera each.
    cpu: dict[str, dict[str, Any]] = {}
    for name, fam, cam in (
        ("TEG", "teg", {}),
        ("PPPP SHIX", "pppp", SHIX_CAM),
        ("PPPP iLnk", "pppp", ILNK_CAM),
    ):
        log(f"cpu/frame {name}")
        cpu[name] = run_worker(
            {"mode": "fleet", "family": fam, "k": 1, "seconds": win, "warm": 1.0, "cam": cam}
        )
        r = cpu[name]
        rows.append(
            (
                f"client CPU per delivered frame, {name}, 640x480 MJPEG 15 fps (1 camera)",
                f"{r['us_per_frame']:.0f} µs",
                f"{r['frames_window']} frames in {r['wall_s']:.1f} s"
                + (f", {r['pkts_per_frame']:.1f} pkts/frame" if fam == "teg" else ""),
            )
        )

    log("library hot path without sockets")
    parse = run_worker({"mode": "parse", "frames": 150 if quick else 600})
    rows.append(
        (
            "library-only hot path (datagram handler → Frame, no socket/event loop) [c]",
            f"TEG {parse['teg_us_per_frame']:.0f} µs, PPPP plain "
            f"{parse['pppp_plain_us_per_frame']:.0f} µs, PPPP XOR "
            f"{parse['pppp_xor_us_per_frame']:.0f} µs per frame",
            f"{parse['teg_pkts_per_frame']:.0f} datagrams/frame; the rest of the socket "
            "numbers is asyncio's per-datagram cost (epoll, recvfrom, callback)",
        )
    )

    # aiopppp beside ours.
    aio: dict[str, dict[str, Any]] = {}
    for name, cam in (("PPPP SHIX", SHIX_CAM), ("PPPP iLnk", ILNK_CAM)):
        log(f"aiopppp {name}")
        aio[name] = asyncio.run(aiopppp_measure(cam, win))

    # 2. Cameras per core.
    best = None
    best_row: dict[str, Any] | None = None
    fleet_rows: list[str] = []
    stop_reason = "all steps passed (the limit is above the largest step)"
    for k in steps:
        procs = 1 if k <= 50 else 2
        log(f"fleet K={k} ({procs} emulator procs)")
        r = run_worker(
            {
                "mode": "fleet",
                "family": "teg",
                "k": k,
                "seconds": 4.0 if quick else 6.0,
                "warm": 2.0,
                "emu_procs": procs,
            }
        )
        emu_rate = r["sent_window"] / r["expected_window"] if r["expected_window"] else 0
        emu_sat = emu_rate < 0.95 or max(r["emu_cpu_frac"]) > 0.9
        ok = r["ratio"] >= 0.99 and r["failed_opens"] == 0 and r["client_cpu_frac"] < 0.95
        fleet_rows.append(
            f"| {k} | {procs} | {_pct(r['ratio'])} | {100 * r['client_cpu_frac']:.0f} % | "
            f"{r['us_per_frame']:.0f} | "
            f"{'/'.join(f'{100 * x:.0f} %' for x in r['emu_cpu_frac'])} | "
            f"{100 * emu_rate:.0f} % | {r['emu_lag_max'] * 1e3:.0f} | "
            f"{(r['rss_after_kib'] - r['rss_before_kib']) / k / 1024:.2f} | "
            f"{r['failed_opens']} |"
        )
        if ok:
            best, best_row = k, r
        if emu_sat:
            stop_reason = (
                f"stopped at K={k}: the EMULATOR saturated ({100 * emu_rate:.0f} % of the "
                f"nominal frame rate sent, emulator CPU "
                f"{'/'.join(f'{100 * x:.0f} %' for x in r['emu_cpu_frac'])})"
            )
            break
        if not ok:
            stop_reason = (
                f"stopped at K={k}: client delivered {_pct(r['ratio'])}, "
                f"client CPU {100 * r['client_cpu_frac']:.0f} %"
            )
            break
    if best_row is not None:
        rows.append(
            (
                "cameras per core (TEG, 15 fps, ≥ 99 % delivered, 1 client process)",
                str(best)
                if stop_reason.startswith("stopped") and "EMULATOR" not in stop_reason
                else f"≥ {best}",
                f"client CPU {100 * best_row['client_cpu_frac']:.0f} % at K={best} "
                f"({best_row['us_per_frame']:.0f} µs/frame); {stop_reason}",
            )
        )
        rows.append(
            (
                f"RSS per camera (RSS growth / K at K={best})",
                f"{(best_row['rss_after_kib'] - best_row['rss_before_kib']) / best / 1024:.2f} MiB",
                f"{best_row['rss_before_kib'] / 1024:.0f} → "
                f"{best_row['rss_after_kib'] / 1024:.0f} MiB",
            )
        )
    else:
        rows.append(("cameras per core", "< 10", stop_reason))

    # 3. Latencies.
    lat: dict[str, dict[str, Any]] = {}
    for name, fam, cam in (
        ("TEG", "teg", {}),
        ("PPPP SHIX", "pppp", SHIX_CAM),
        ("PPPP iLnk", "pppp", ILNK_CAM),
    ):
        log(f"latency {name}")
        lat[name] = run_worker(
            {"mode": "latency", "family": fam, "trials": trials, "cam": cam}, timeout=300
        )
        r = lat[name]
        rows.append(
            (
                f"first frame after connect (library), {name}",
                f"{ms(statistics.median(r['first']))} ms",
                f"median of {len(r['first'])}; p90 {ms(percentile(r['first'], 90))} ms, "
                f"max {ms(max(r['first']))} ms",
            )
        )
    log("HA setup → first frame")
    ha = run_worker({"mode": "ha", "trials": trials}, timeout=300)["setup_first"]
    rows.append(
        (
            "config entry setup → first frame (real HA coordinator, TEG) [a]",
            f"{ms(statistics.median(ha[1:] or ha))} ms",
            f"first setup (imports platforms) {ms(ha[0])} ms; later setups median of "
            f"{len(ha[1:])}, max {ms(max(ha[1:] or ha))} ms",
        )
    )
    for name, r in lat.items():
        rows.append(
            (
                f"snapshot, warm (streaming, `snapshot()`), {name} [b]",
                f"{ms(statistics.median(r['warm']))} ms",
                f"p90 {ms(percentile(r['warm'], 90))} ms; `snapshot(max_age=0)` (next frame) "
                f"median {ms(statistics.median(r['fresh']))} ms, max {ms(max(r['fresh']))} ms",
            )
        )
        rows.append(
            (
                f"snapshot, cold (idle: connect + frame + close), {name}",
                f"{ms(statistics.median(r['cold']))} ms",
                f"max {ms(max(r['cold']))} ms",
            )
        )

    # 4. Loss.
    loss_rows: list[str] = []
    loss_k = 3 if quick else 5
    for p in losses:
        cells = [f"{100 * p:.0f} %"]
        kpp = 0.0
        for resend in (False, True):
            log(f"loss TEG p={p} resend={resend}")
            r = run_worker(
                {
                    "mode": "fleet",
                    "family": "teg",
                    "k": loss_k,
                    "seconds": win,
                    "warm": 1.0,
                    "cam": {"loss": p, "resend": resend},
                }
            )
            kpp = r["pkts_per_frame"]
            cells.append(f"{_pct(r['ratio'])} ({r['delivered']}/{r['sent']})")
        cells.insert(1, f"{_pct((1 - p) ** kpp)} (k={kpp:.1f})")
        for name, cam in (("SHIX", SHIX_CAM), ("iLnk", ILNK_CAM)):
            log(f"loss PPPP {name} p={p}")
            r = run_worker(
                {
                    "mode": "fleet",
                    "family": "pppp",
                    "k": 1,
                    "seconds": win,
                    "warm": 1.0,
                    "cam": {**cam, "loss": p},
                }
            )
            cells.append(
                f"{_pct(r['ratio'])} ({r['delivered']}/{r['sent']}, "
                f"{r['pppp_retx']} retx, {r['pppp_skipped']} skipped)"
            )
        loss_rows.append("| " + " | ".join(cells) + " |")

    # aiopppp ratio rows.
    for name in ("PPPP SHIX", "PPPP iLnk"):
        a, o = aio[name], cpu[name]
        ol = lat[name]
        if "error" in a:
            rows.append((f"aiopppp vs chinesium, {name}", "n/a", a["error"]))
            continue
        a_us = 1e6 * a["cpu_s"] / a["frames"] if a["frames"] else float("nan")
        rows.append(
            (
                f"aiopppp 0.2.3 / chinesium, {name}: CPU per frame",
                f"{a_us / o['us_per_frame']:.2f}x",
                f"aiopppp {a_us:.0f} µs vs ours {o['us_per_frame']:.0f} µs",
            )
        )
        a_rate = a["frames"] / a["wall_s"]
        o_rate = o["frames_window"] / o["wall_s"]
        rows.append(
            (
                f"aiopppp / chinesium, {name}: frames delivered per second (15 fps sent)",
                f"{a_rate / o_rate:.2f}x",
                f"aiopppp {a_rate:.2f} fps ({a['good_frames']}/{a['frames']} valid JPEG) "
                f"vs ours {o_rate:.2f} fps",
            )
        )
        rows.append(
            (
                f"aiopppp / chinesium, {name}: first frame (search → first frame)",
                f"{a['first_frame_s'] / statistics.median(ol['first']):.2f}x",
                f"aiopppp {ms(a['first_frame_s'])} ms (1 run) vs ours median "
                f"{ms(statistics.median(ol['first']))} ms",
            )
        )

    elapsed = time.monotonic() - t_start
    table = ["| metric | value | details |", "|---|---|---|"]
    table += [f"| {m} | {v} | {d} |" for m, v, d in rows]
    fleet = [
        "| K | emu procs | delivered | client CPU | µs/frame | emulator CPU | emulator rate "
        "| emu lag max ms | RSS/cam MiB | failed opens |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *fleet_rows,
    ]
    loss = [
        "| loss | no-resend limit (1-p)^k | TEG, camera never resends | TEG, NAK resend "
        "| PPPP SHIX (DRW retx) | PPPP iLnk (DRW retx) |",
        "|---|---|---|---|---|---|",
        *loss_rows,
    ]
    notes += [
        "[a] In-process Home Assistant (`async_test_home_assistant` from "
        "pytest-homeassistant-custom-component: a real `HomeAssistant` core with "
        "non-persisting stores, real `http` on 127.0.0.1) → `config_entries.async_setup(entry)` "
        "→ `ChinesiumCoordinator.latest_frame` set; the camera runs in a separate emulator "
        "process. The first setup includes importing the camera/binary_sensor platforms.",
        "[c] cProfile of the socket path (`--profile`): per TEG datagram ≈ 1.4 µs in "
        "`TegSession._on_datagram` + `Reassembler.feed`, ≈ 4-5 µs in asyncio "
        "(`_read_ready`, `recvfrom`, `Context.run`); PPPP XOR decrypt ≈ 4 µs per 1 KiB DRW.",
        "[b] `snapshot()` returns the latest frame when it is younger than 1 s (no I/O); "
        "`snapshot(max_age=0)` waits for the next frame (bounded by 1/fps = 67 ms).",
        "Delivered ratios compare the client's `frames_ok` with the frames the emulator "
        "sent (counted after the cameras stopped producing frames and resends/retransmissions "
        "of the last ones had time to finish). "
        "Client CPU = `time.process_time()` of the client worker process only; the "
        "emulators run in other processes.",
    ]
    text = "\n".join(
        [
            f"Mode: {'quick' if quick else 'full'}; run time {elapsed:.0f} s.",
            "",
            *table,
            "",
            "Cameras per core (TEG, steps):",
            "",
            *fleet,
            "",
            "Delivered/sent frames under loss:",
            "",
            *loss,
            "",
            *notes,
        ]
    )
    print(f"Machine: {machine_description()}\n")
    print(text)
    if not args.no_append:
        append_results(f"bench/perf.py ({'quick' if quick else 'full'})", text)
    if args.profile:
        for fam, cam in (("teg", {}), ("pppp", SHIX_CAM)):
            r = run_worker({"mode": "profile", "family": fam, "k": 5, "seconds": 5.0, "cam": cam})
            print(f"\n--- cProfile {fam}: {r['frames']} frames ---\n{r['profile']}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
