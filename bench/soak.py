"""Soak test through the real HA coordinator: reboots + loss, watch RSS, fds and tasks.

    .venv/bin/python bench/soak.py --minutes 5 --cameras 10 [--pppp 2]

K emulated TEG cameras (plus ``--pppp`` PPPP cameras, alternating SHIX/iLnk)
run in a separate emulator process with ``--loss`` on every media packet/DRW
and a reboot of every camera every ``--reboot-min``..``--reboot-max`` seconds.
This process runs a real ``HomeAssistant`` core (pytest-homeassistant-custom-
component's ``async_test_home_assistant``: non-persisting stores, temp config
dir, ``http`` on 127.0.0.1) with one config entry per camera, so the sessions
are owned by ``ChinesiumCoordinator`` with its reconnect loop. RSS, open fds
and live asyncio tasks are sampled once a second; after the warm-up the start,
end and slope of each metric give a flat/growing verdict. The summary is
appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
from pathlib import Path
import socket
import statistics
import sys
import tempfile
import time
import tracemalloc
from typing import Any
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # type: ignore[import-not-found]
    EmulatorProcess,
    Probe,
    append_results,
    machine_description,
    slope,
)

SHIX = {"duid": "DGOK-{:06d}-ABCDE", "encrypt": "camera", "app": "shix"}
ILNK = {"duid": "BATE-{:06d}-ABCDE", "app": "ilnk"}


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spec(args: argparse.Namespace) -> dict[str, Any]:
    teg = [
        {
            "uid": f"EMUCAM1-{i:012X}-C0FFEE",
            "loss": args.loss,
            "resend": False,
            "seed": i + 1,
        }
        for i in range(args.cameras)
    ]
    pppp = []
    for i in range(args.pppp):
        base = SHIX if i % 2 == 0 else ILNK
        cam = {**base, "duid": base["duid"].format(100000 + i), "loss": args.loss, "seed": i + 1}
        pppp.append(cam)
    return {
        "teg": teg,
        "pppp": pppp,
        "reboot": [args.reboot_min, args.reboot_max] if args.reboot_max > 0 else None,
        "seed": 7,
    }


def _entries_data(cams: dict[str, Any]) -> list[dict[str, Any]]:
    from custom_components.chinesium.protocol import CameraInfo, Family

    infos = [
        CameraInfo(
            uid=c["uid"],
            host=c["host"],
            port=c["session_port"],
            family=Family.TEG,
            model="IWFCam (TEG)",
            extra={"search_port": c["discovery_port"]},
        )
        for c in cams["teg"]
    ] + [
        CameraInfo(
            uid=c["duid"],
            host=c["host"],
            port=c["port"],
            family=Family.PPPP,
            app_layer=c["app"],
            extra={"key": c["encrypt"]},
        )
        for c in cams["pppp"]
    ]
    return [{**i.as_dict(), "username": None, "password": None} for i in infos]


def _live_sessions() -> int:
    """CameraSession instances alive in this process (leak check)."""
    from custom_components.chinesium.protocol import CameraSession

    return sum(isinstance(o, CameraSession) for o in gc.get_objects())


def _summarise(name: str, unit: str, ts: list[float], ys: list[float], tol: float) -> str:
    """One table row: start/end (medians of the first/last fifth), slope, verdict."""
    n = max(1, len(ys) // 5)
    start = statistics.median(ys[:n])
    end = statistics.median(ys[-n:])
    per_min = slope(ts, ys) * 60
    span_min = (ts[-1] - ts[0]) / 60 if len(ts) > 1 else 0
    growing = end - start > tol and per_min * span_min > tol
    verdict = "GROWING" if growing else "flat"
    return (
        f"| {name} | {start:.1f} {unit} | {end:.1f} {unit} | {per_min:+.3f} {unit}/min | "
        f"{min(ys):.1f} .. {max(ys):.1f} | {verdict} (tolerance {tol:.1f} {unit}) |"
    )


async def soak(args: argparse.Namespace) -> str:
    """Run the scenario; return the markdown summary."""
    from homeassistant import loader
    from homeassistant.config_entries import ConfigEntryState
    from homeassistant.setup import async_setup_component
    from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
        MockConfigEntry,
        async_test_home_assistant,
    )

    from custom_components.chinesium import const
    from custom_components.chinesium.protocol import SessionOptions

    duration = args.minutes * 60
    warmup = args.warmup if args.warmup >= 0 else min(60.0, duration * 0.2)
    emu = await EmulatorProcess.start(_spec(args), wait=120)
    samples: list[tuple[float, int, int, int, int, int]] = []
    t_begin = time.monotonic()
    with (
        tempfile.TemporaryDirectory() as tmp,
        patch.multiple(
            const,
            SESSION_OPTIONS=SessionOptions(local_host="127.0.0.1"),
            DISCOVERY_BIND_HOST="127.0.0.1",
            TEG_SEARCH_PORT=9,
            PPPP_SEARCH_PORT=9,
            SCAN_HOSTS=[],
        ),
        patch("custom_components.chinesium.discovery.async_broadcast_targets", return_value=[]),
    ):
        async with async_test_home_assistant(config_dir=tmp) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
            http = {"server_host": ["127.0.0.1"], "server_port": _free_tcp_port()}
            assert await async_setup_component(hass, "http", {"http": http})
            entries = []
            for data in _entries_data(emu.cameras):
                entry = MockConfigEntry(
                    domain=const.DOMAIN, unique_id=data["uid"], title=data["uid"], data=data
                )
                entry.add_to_hass(hass)
                entries.append(entry)
            await asyncio.gather(*(hass.config_entries.async_setup(e.entry_id) for e in entries))
            await hass.async_block_till_done()
            loaded = sum(e.state is ConfigEntryState.LOADED for e in entries)
            print(f"[soak] {loaded}/{len(entries)} entries loaded", file=sys.stderr, flush=True)
            t0 = time.monotonic()
            cpu0 = Probe.cpu()
            next_print = t0
            if args.tracemalloc:
                tracemalloc.start(8)
            snap0: tracemalloc.Snapshot | None = None
            while (now := time.monotonic()) - t0 < duration:
                if args.tracemalloc and snap0 is None and now - t0 >= warmup:
                    snap0 = tracemalloc.take_snapshot()
                coords = [e.runtime_data for e in entries if e.state is ConfigEntryState.LOADED]
                frames = sum(c.frame_count for c in coords)
                up = sum(c.connected for c in coords)
                samples.append((now - t0, Probe.rss_kib(), Probe.fds(), Probe.tasks(), frames, up))
                if now >= next_print:
                    next_print += 30
                    print(
                        f"[soak {now - t0:5.0f}s] rss {samples[-1][1] / 1024:.1f} MiB "
                        f"fds {samples[-1][2]} tasks {samples[-1][3]} frames {frames} "
                        f"connected {up}/{len(entries)}",
                        file=sys.stderr,
                        flush=True,
                    )
                await asyncio.sleep(1.0 - (time.monotonic() - now) % 1.0)
            growth = ""
            if snap0 is not None:
                diff = tracemalloc.take_snapshot().compare_to(snap0, "lineno")
                growth = "\n".join(f"    {d}" for d in diff[:12])
                tracemalloc.stop()
            live_before = _live_sessions()
            gc.collect()
            live_after = _live_sessions()
            cpu = Probe.cpu() - cpu0
            wall = time.monotonic() - t0
            emu_stats = await emu.stats()
            coords = [e.runtime_data for e in entries if e.state is ConfigEntryState.LOADED]
            reconnects = sum(c.data.reconnects for c in coords)
            delivered = sum(c.frame_count for c in coords)
            for e in entries:
                await hass.config_entries.async_unload(e.entry_id)
            await hass.async_block_till_done()
            await asyncio.sleep(0.2)
            leftover = [t for t in asyncio.all_tasks() if const.DOMAIN in t.get_name()]
            await hass.async_stop(force=True)
    await emu.stop()

    sent = sum(r[0] for r in emu_stats["teg"]) + sum(r[0] for r in emu_stats["pppp"])
    post = [s for s in samples if s[0] >= warmup] or samples
    ts = [s[0] for s in post]
    rss_mib = [s[1] / 1024 for s in post]
    fds = [float(s[2]) for s in post]
    tasks = [float(s[3]) for s in post]
    k = len(entries)
    rows = [
        "| metric | start | end | slope | range | verdict |",
        "|---|---|---|---|---|---|",
        _summarise("RSS", "MiB", ts, rss_mib, max(2.0, 0.03 * rss_mib[0])),
        _summarise("open fds", "fds", ts, fds, 2.0 + 0.1 * k),
        _summarise("asyncio tasks", "tasks", ts, tasks, 2.0 + 0.1 * k),
    ]
    verdicts = " ".join(rows[2:])
    overall = "GROWING" if "GROWING" in verdicts else "flat"
    text = "\n".join(
        [
            f"Scenario: {args.cameras} TEG + {args.pppp} PPPP cameras (emulator process), "
            f"{args.minutes:g} min, {100 * args.loss:.0f} % packet loss, each camera rebooted "
            f"every {args.reboot_min:g}-{args.reboot_max:g} s, through the real HA "
            f"coordinator (in-process HomeAssistant, one config entry per camera). "
            f"Samples once a second; warm-up {warmup:.0f} s excluded; start/end = medians "
            f"of the first/last fifth of the remaining samples.",
            "",
            *rows,
            "",
            f"Overall: **{overall}**. Camera reboots: {emu_stats['reboots']}; coordinator "
            f"reconnects: {reconnects}; frames delivered {delivered} / sent {sent} "
            f"({100 * delivered / max(1, sent):.1f} %, loss + reboot gaps); HA process CPU "
            f"{100 * cpu / wall:.1f} % of one core; {len(leftover)} chinesium tasks left "
            f"after unload; live CameraSession objects at the end: {live_before} "
            f"({live_after} after gc.collect()) for {k} entries; "
            f"total run {time.monotonic() - t_begin:.0f} s.",
        ]
    )
    if growth:
        text += "\n\ntracemalloc growth after the warm-up (top 12 lines):\n\n" + growth
    return text


def main() -> int:
    """Parse arguments, run the soak, print and append the summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--cameras", type=int, default=10, help="TEG cameras")
    parser.add_argument("--pppp", type=int, default=2, help="PPPP cameras (SHIX/iLnk)")
    parser.add_argument("--loss", type=float, default=0.02)
    parser.add_argument("--reboot-min", type=float, default=60.0)
    parser.add_argument("--reboot-max", type=float, default=120.0)
    parser.add_argument("--warmup", type=float, default=-1.0, help="seconds (default 20 %%)")
    parser.add_argument("--no-append", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true", help="report allocation growth")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    # HA logs a traceback when libturbojpeg is missing; irrelevant here.
    logging.getLogger("homeassistant.components.camera.img_util").setLevel(logging.CRITICAL)
    text = asyncio.run(soak(args))
    print(f"Machine: {machine_description()}\n")
    print(text)
    if not args.no_append:
        append_results(f"bench/soak.py --minutes {args.minutes:g} --cameras {args.cameras}", text)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
