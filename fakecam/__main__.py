"""Command line: ``python -m fakecam teg|pppp [options]``.

Runs emulated cameras until Ctrl-C / SIGTERM, then prints per-session stats.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import ipaddress
import logging
import signal
import sys
from types import ModuleType

from .motion import MotionScript
from .teg import DEFAULT_TOKEN, DEFAULT_UID, TegCamera, TegCameraConfig

_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


def _check_host(host: str, allow_non_loopback: bool) -> str | None:
    """Return an error message if ``host`` may not be used."""
    try:
        ip = ipaddress.IPv4Address(host)
    except ValueError:
        return f"--host {host!r} is not an IPv4 address"
    if ip not in _LOOPBACK and not allow_non_loopback:
        return (
            f"--host {host} is outside 127.0.0.0/8; emulated cameras stay on loopback "
            "unless --allow-non-loopback is given"
        )
    return None


def derive_uid(host: str) -> str:
    """Default UID for the camera on ``host`` (27 chars, like real TEG UIDs)."""
    if host == "127.0.0.1":
        return DEFAULT_UID
    ip = int(ipaddress.IPv4Address(host))
    # Distinct tails, like real cameras: names use the tail (``IWFCam 00007F``...).
    return f"EMUCAM1-{ip:012X}-{ip & 0xFFFFFF:06X}"


def add_teg_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the ``teg`` subcommand."""
    p.add_argument(
        "--host",
        action="append",
        default=None,
        help="address to bind (repeat for several cameras; default 127.0.0.1)",
    )
    p.add_argument("--discovery-port", type=int, default=10104)
    p.add_argument("--session-port", type=int, default=17900)
    p.add_argument("--uid", action="append", default=None, help="UID per --host (in order)")
    p.add_argument("--password", "--token", dest="token", default=DEFAULT_TOKEN)
    p.add_argument("--fps", type=float, default=15.0)
    p.add_argument("--motion", action="store_true", help="scripted motion scenario pictures")
    p.add_argument("--loss", type=float, default=0.0, help="media packet loss probability")
    p.add_argument("--dup", type=float, default=0.0, help="media packet duplication probability")
    p.add_argument("--reorder", type=float, default=0.0, help="in-frame reordering probability")
    p.add_argument("--rx-drop", type=float, default=0.0, help="drop incoming datagrams")
    p.add_argument("--resend", action="store_true", help="honour NAKs (beyond the spec)")
    p.add_argument("--max-clients", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--chunk", type=int, default=1032, help="media payload bytes per packet")
    p.add_argument("--stream-timeout", type=float, default=6.0)
    p.add_argument("--idle-timeout", type=float, default=45.0)
    p.add_argument("--heartbeat-interval", type=float, default=15.0)
    p.add_argument("--discovery-repeat", type=int, default=2)
    p.add_argument("--frame-id-start", type=int, default=0)
    p.add_argument("--allow-non-loopback", action="store_true")


def build_teg_configs(args: argparse.Namespace) -> list[TegCameraConfig]:
    """One config per ``--host``; raises SystemExit on a bad host."""
    hosts: list[str] = args.host or ["127.0.0.1"]
    uids: list[str] = args.uid or []
    configs = []
    for i, host in enumerate(hosts):
        err = _check_host(host, args.allow_non_loopback)
        if err:
            raise SystemExit(f"fakecam: {err}")
        configs.append(
            TegCameraConfig(
                host=host,
                discovery_port=args.discovery_port,
                session_port=args.session_port,
                uid=uids[i] if i < len(uids) else derive_uid(host),
                token=args.token,
                fps=args.fps,
                loss=args.loss,
                dup=args.dup,
                reorder=args.reorder,
                rx_drop=args.rx_drop,
                seed=args.seed + i,
                max_clients=args.max_clients,
                stream_timeout=args.stream_timeout,
                idle_timeout=args.idle_timeout,
                heartbeat_interval=args.heartbeat_interval,
                chunk=args.chunk,
                frame_id_start=args.frame_id_start,
                discovery_repeat=args.discovery_repeat,
                resend=args.resend,
                motion=MotionScript() if args.motion else None,
                allow_non_loopback=args.allow_non_loopback,
            )
        )
    return configs


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def run_teg(args: argparse.Namespace) -> int:
    """Run the TEG cameras described by ``args`` until a signal arrives."""
    cams = [TegCamera(cfg) for cfg in build_teg_configs(args)]
    started: list[TegCamera] = []
    try:
        for cam in cams:
            await cam.start()
            started.append(cam)
            print(cam.describe(), flush=True)
        await _wait_for_signal()
    except OSError as err:
        print(f"fakecam: cannot bind: {err}", file=sys.stderr)
        return 1
    finally:
        for cam in started:
            await cam.stop()
        for cam in started:
            for s in cam.finished_sessions:
                print(f"{cam.config.uid} {s.line()}")
            print(f"{cam.config.uid} totals: {cam.stats}")
    return 0


def _load_pppp() -> ModuleType | None:
    try:
        return importlib.import_module("fakecam.pppp")
    except ModuleNotFoundError as err:
        if err.name != "fakecam.pppp":
            raise
        return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m fakecam``."""
    parser = argparse.ArgumentParser(prog="python -m fakecam", description=__doc__)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="family", required=True)
    add_teg_arguments(sub.add_parser("teg", help="emulated TEG (IWFCam) camera(s)"))
    pppp_parser = sub.add_parser("pppp", help="emulated PPPP (CS2) camera(s)")
    pppp = _load_pppp()
    if pppp is not None:
        pppp.add_arguments(pppp_parser)
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * args.verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(asctime)s %(message)s")
    if args.family == "teg":
        return asyncio.run(run_teg(args))
    if pppp is None:
        parser.error("the pppp emulator (fakecam/pppp.py) is not available yet")
    result = asyncio.run(pppp.run_cli(args))
    return int(result or 0)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
