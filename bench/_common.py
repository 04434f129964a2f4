"""Shared helpers for ``bench/perf.py`` and ``bench/soak.py``.

* :func:`machine_description`, :func:`append_results` — the RESULTS.md header/footer.
* :class:`Probe` — this process's CPU time, RSS, open fds and live asyncio tasks.
* :class:`EmulatorProcess` — emulated cameras in a *separate* process (this file
  run as ``python bench/_common.py emulator SPEC``), controlled over stdin/stdout
  with one JSON object per line. Cameras bind 127.0.0.0/8 only.
* ``python bench/_common.py aiopppp SPEC`` — the aiopppp driver, run with the
  interpreter of ``.cache/aiopppp-venv``; prints JSON (CPU, frames, latency).

Importing this module pulls in the standard library only, so the aiopppp venv
(which lacks the project's packages) can run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import json
import os
from pathlib import Path
import platform
import random
import resource
import subprocess
import sys
import time
from typing import Any

_HERE = Path(__file__).resolve()
ROOT = _HERE.parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
AIOPPPP_PYTHON = ROOT / ".cache" / "aiopppp-venv" / "bin" / "python"
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


# -- machine / results ---------------------------------------------------------------------


def machine_description() -> str:
    """One line: CPU model, cores, RAM, Python, kernel."""
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem} RAM, Python {platform.python_version()}, "
        f"Linux {platform.release()}"
    )


def append_results(title: str, body: str) -> None:
    """Append a dated section (with the machine description) to bench/RESULTS.md."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    new = not RESULTS.exists()
    with RESULTS.open("a", encoding="utf-8") as fh:
        if new:
            fh.write("# chinesium benchmark results (append-only)\n\n")
        fh.write(f"## {title} — {stamp}\n\nMachine: {machine_description()}\n\n")
        fh.write(body.rstrip() + "\n\n")


# -- process probes ----------------------------------------------------------------------


class Probe:
    """Resource readings of the current process."""

    @staticmethod
    def cpu() -> float:
        """User + system CPU seconds of this process."""
        return time.process_time()

    @staticmethod
    def rss_kib() -> int:
        """Resident set size (VmRSS) in KiB."""
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    @staticmethod
    def fds() -> int:
        """Open file descriptors."""
        return len(os.listdir("/proc/self/fd"))

    @staticmethod
    def tasks() -> int:
        """Live asyncio tasks of the running loop."""
        return len(asyncio.all_tasks())


def machine_ticks() -> tuple[int, int]:
    """``(busy, total)`` CPU ticks of the whole machine (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def udp_rcvbuf_errors() -> int:
    """Machine-wide count of UDP datagrams dropped because a receive buffer was full."""
    lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines()]
    for head, vals in itertools.pairwise(lines):
        if head and head[0] == "Udp:" and vals[0] == "Udp:" and "RcvbufErrors" in head:
            return int(vals[head.index("RcvbufErrors")])
    return 0


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs`` (0 for fewer than two points)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx = sum(xs) / n
    my = sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    if den == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


# -- emulator process (client side) ------------------------------------------------------


class EmulatorProcess:
    """Emulated cameras in a child process; ``await EmulatorProcess.start(spec)``.

    ``spec`` keys: ``teg`` (list of TegCameraConfig overrides), ``pppp`` (list
    of PpppCameraConfig overrides), ``reboot`` (``[min_s, max_s]`` random reboot
    interval per camera, or ``None``), ``seed``. :attr:`cameras` holds what the
    child bound: ``{"teg": [{host, session_port, discovery_port, uid}], "pppp":
    [{host, port, session_port, duid, app, encrypt}]}``.
    """

    def __init__(self, proc: asyncio.subprocess.Process, cameras: dict[str, Any]) -> None:
        """Use :meth:`start`."""
        self.proc = proc
        self.cameras = cameras
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls, spec: dict[str, Any], wait: float = 60.0) -> EmulatorProcess:
        """Launch the child and wait until every camera is bound."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(_HERE),
            "emulator",
            json.dumps(spec),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024,
            cwd=str(ROOT),
        )
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), wait)
        except TimeoutError:
            proc.kill()
            raise
        if not line:
            await proc.wait()
            raise RuntimeError(f"emulator process exited ({proc.returncode})")
        return cls(proc, json.loads(line))

    async def command(self, cmd: str, **kw: Any) -> dict[str, Any]:
        """Send one command (``stats``, ``silent``, ``pause``, ``reboot``); return the reply."""
        async with self._lock:
            assert self.proc.stdin is not None
            assert self.proc.stdout is not None
            self.proc.stdin.write((json.dumps({"cmd": cmd, **kw}) + "\n").encode())
            await self.proc.stdin.drain()
            line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
            if not line:
                raise RuntimeError("emulator process died")
            result: dict[str, Any] = json.loads(line)
            return result

    async def stats(self) -> dict[str, Any]:
        """``{cpu, wall, lag_max, teg: [...], pppp: [...], reboots}`` (see the child)."""
        return await self.command("stats")

    async def stop(self) -> None:
        """Ask the child to stop; kill it if it does not."""
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.command("quit"), 5)
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


# -- emulator process (child side) -------------------------------------------------------


def _check_loopback(host: str) -> None:
    if ipaddress.IPv4Address(host) not in LOOPBACK:
        raise SystemExit(f"refusing non-loopback host {host}")


async def _emulator_main(spec: dict[str, Any]) -> None:
    sys.path.insert(0, str(ROOT))
    from fakecam.pppp import PpppCamera, PpppCameraConfig
    from fakecam.teg import TegCamera, TegCameraConfig

    loop = asyncio.get_running_loop()
    rng = random.Random(spec.get("seed", 1))
    tegs: list[Any] = []
    ppps: list[Any] = []
    for i, over in enumerate(spec.get("teg", [])):
        cfg: dict[str, Any] = {"host": "127.0.0.1", "discovery_port": 0, "session_port": 0}
        cfg.update({"seed": i + 1, **over})
        _check_loopback(cfg["host"])
        teg = TegCamera(TegCameraConfig(**cfg))
        await teg.start()
        tegs.append(teg)
    for i, over in enumerate(spec.get("pppp", [])):
        cfg = {"host": "127.0.0.1", "port": 0, "seed": i + 1, **over}
        _check_loopback(cfg["host"])
        ppp = PpppCamera(PpppCameraConfig(**cfg))
        await ppp.start()
        ppps.append(ppp)
    print(
        json.dumps(
            {
                "teg": [
                    {
                        "host": c.config.host,
                        "session_port": c.session_port,
                        "discovery_port": c.discovery_port,
                        "uid": c.config.uid,
                    }
                    for c in tegs
                ],
                "pppp": [
                    {
                        "host": c.config.host,
                        "port": c.port,
                        "session_port": c.session_port,
                        "duid": c.config.duid,
                        "app": c.config.app_layer,
                        "encrypt": c.config.encrypt,
                    }
                    for c in ppps
                ],
            }
        ),
        flush=True,
    )

    # Event-loop lag: how late a 20 ms timer fires (saturation indicator).
    lag = {"max": 0.0}

    async def _lag() -> None:
        while True:
            t = loop.time()
            await asyncio.sleep(0.02)
            lag["max"] = max(lag["max"], loop.time() - t - 0.02)

    reboots = {"n": 0}

    async def _rebooter(cam: Any, lo: float, hi: float) -> None:
        while True:
            await asyncio.sleep(rng.uniform(lo, hi))
            await cam.reboot()
            reboots["n"] += 1

    bg = [loop.create_task(_lag())]
    if spec.get("reboot"):
        lo, hi = spec["reboot"]
        bg += [loop.create_task(_rebooter(c, lo, hi)) for c in (*tegs, *ppps)]

    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            req = json.loads(line)
            cmd = req.get("cmd")
            if cmd == "quit":
                print(json.dumps({"ok": True}), flush=True)
                break
            if cmd == "silent":
                for c in (*tegs, *ppps):
                    c.silent = bool(req.get("on", True))
                reply: dict[str, Any] = {"ok": True}
            elif cmd == "pause":
                # Stop new frames but keep answering NAKs / retransmitting DRWs, so
                # frames already sent can still be completed (used before counting).
                for c in (*tegs, *ppps):
                    c.config.fps = 1e-3 if req.get("on", True) else 15.0
                reply = {"ok": True}
            elif cmd == "reboot":
                cam = (tegs + ppps)[int(req.get("i", 0))]
                await cam.reboot()
                reply = {"ok": True}
            else:
                reply = {
                    "cpu": time.process_time(),
                    "wall": time.monotonic(),
                    "lag_max": lag["max"],
                    "teg": [
                        [
                            c.stats.frames_sent,
                            c.stats.packets_sent,
                            c.stats.packets_dropped,
                            c.stats.resent,
                            c.client_count,
                        ]
                        for c in tegs
                    ],
                    "pppp": [
                        [
                            c.stats.frames_sent,
                            c.stats.frames_skipped,
                            c.stats.drw_retx,
                            len(c.clients),
                        ]
                        for c in ppps
                    ],
                    "reboots": reboots["n"],
                }
                lag["max"] = 0.0
            print(json.dumps(reply), flush=True)
    finally:
        for task in bg:
            task.cancel()
        for c in (*tegs, *ppps):
            with contextlib.suppress(Exception):
                await c.stop()


# -- aiopppp driver (runs in the aiopppp venv) ----------------------------------------------


async def _aiopppp_main(spec: dict[str, Any]) -> dict[str, Any]:
    """Discover (unicast), log in, stream for ``seconds``; report CPU and frames."""
    host = spec.get("host", "127.0.0.1")
    _check_loopback(host)
    from aiopppp import discover as aio_discover  # type: ignore[import-not-found]
    from aiopppp.discover import (  # type: ignore[import-not-found]
        DiscoverUDPProtocol,
        Discovery,
    )
    from aiopppp.session import make_session  # type: ignore[import-not-found]

    async def _loopback_udp_server(port: int, on_receive: Any) -> Any:
        lp = asyncio.get_running_loop()
        transport, _ = await lp.create_datagram_endpoint(
            lambda: DiscoverUDPProtocol(on_receive), local_addr=("127.0.0.1", 0)
        )
        return transport

    aio_discover.create_udp_server = _loopback_udp_server  # never broadcast

    loop = asyncio.get_running_loop()
    timeout = float(spec.get("timeout", 10.0))
    found: asyncio.Future[Any] = loop.create_future()

    def _on_found(dev: Any) -> None:
        if not found.done():
            found.set_result(dev)

    out: dict[str, Any] = {}
    t0 = time.monotonic()
    discovery = Discovery(remote_addr=host, remote_port=int(spec["port"]))
    task = loop.create_task(discovery.discover(_on_found, period=1))
    try:
        dev = await asyncio.wait_for(found, timeout)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if spec.get("force_json"):
        dev.is_json = True
    session = make_session(
        dev,
        on_device_lost=lambda d: None,
        login=spec.get("user", ""),
        password=spec.get("password", ""),
    )
    session.start()
    try:
        await asyncio.wait_for(session.device_is_ready.wait(), timeout)
        await session.start_video()
        first = await asyncio.wait_for(session.frame_buffer.get(), timeout)
        out["first_frame_s"] = time.monotonic() - t0
        out["first_len"] = len(first.data)
        # Measurement window: CPU of this whole process per frame received.
        frames = 0
        good = 0
        c0, w0 = time.process_time(), time.monotonic()
        end = w0 + float(spec.get("seconds", 5.0))
        while (left := end - time.monotonic()) > 0:
            try:
                frame = await asyncio.wait_for(session.frame_buffer.get(), left)
            except TimeoutError:
                break
            frames += 1
            data = frame.data
            if data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9":
                good += 1
        out["cpu_s"] = time.process_time() - c0
        out["wall_s"] = time.monotonic() - w0
        out["frames"] = frames
        out["good_frames"] = good
        with contextlib.suppress(Exception):
            await session.stop_video()
    finally:
        with contextlib.suppress(Exception):
            await session.send_close_pkt()
        with contextlib.suppress(Exception):
            session.stop()
        for t in session.running_tasks():
            with contextlib.suppress(BaseException):
                await t
    return out


async def run_aiopppp(spec: dict[str, Any], limit: float = 60.0) -> dict[str, Any]:
    """Run the aiopppp driver in its venv; ``{"error": ...}`` if unavailable/failed."""
    if not AIOPPPP_PYTHON.exists():
        return {"error": "aiopppp venv missing (.cache/aiopppp-venv)"}
    proc = await asyncio.create_subprocess_exec(
        str(AIOPPPP_PYTHON),
        str(_HERE),
        "aiopppp",
        json.dumps(spec),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return {"error": "aiopppp driver timed out"}
    lines = out.decode().strip().splitlines()
    if not lines:
        return {"error": f"aiopppp driver printed nothing: {err.decode()[-300:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _child_main(argv: list[str]) -> int:
    mode, spec = argv[0], json.loads(argv[1])
    if mode == "emulator":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_emulator_main(spec))
        return 0
    if mode == "aiopppp":
        import logging

        logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
        try:
            result = asyncio.run(_aiopppp_main(spec))
        except Exception as exc:  # report as JSON, the caller prints it
            result = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(result), flush=True)
        return 0
    print(f"unknown mode {mode}", file=sys.stderr)
    return 2


def run_quiet(cmd: list[str]) -> str:
    """Run a command and return its stdout ('' on failure)."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
