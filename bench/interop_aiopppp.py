"""Drive the independent PPPP client ``aiopppp`` against a (fake) camera on loopback.

Run with the interpreter of a venv that has ``aiopppp`` installed (NOT the
project venv)::

    .cache/aiopppp-venv/bin/python bench/interop_aiopppp.py --port 40000 --frames 5

Discovery is unicast to ``--host`` (must be in 127.0.0.0/8); aiopppp's own
discovery socket (0.0.0.0 + SO_BROADCAST to the limited broadcast address) is
replaced by a loopback-bound socket without broadcast. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import ipaddress
import json
import logging
import sys
import time
from typing import Any

import aiopppp
from aiopppp import discover as aio_discover
from aiopppp.discover import DiscoverUDPProtocol, Discovery
from aiopppp.session import make_session


async def _loopback_udp_server(port: int, on_receive: Any) -> asyncio.DatagramTransport:
    """Replacement for aiopppp's create_udp_server: loopback only, no broadcast."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: DiscoverUDPProtocol(on_receive), local_addr=("127.0.0.1", 0)
    )
    return transport


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        seglen = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            h = int.from_bytes(data[i + 5 : i + 7], "big")
            w = int.from_bytes(data[i + 7 : i + 9], "big")
            return (w, h)
        i += 2 + seglen
    return None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"aiopppp_version": aiopppp.__version__, "frames": []}
    if not ipaddress.ip_address(args.host).is_loopback:
        raise SystemExit("refusing non-loopback target")
    aio_discover.create_udp_server = _loopback_udp_server  # never broadcast

    loop = asyncio.get_running_loop()
    found: asyncio.Future[Any] = loop.create_future()

    def _on_found(dev: Any) -> None:
        if not found.done():
            found.set_result(dev)

    discovery = Discovery(remote_addr=args.host, remote_port=args.port)
    t0 = time.monotonic()
    task = loop.create_task(discovery.discover(_on_found, period=1))
    try:
        dev = await asyncio.wait_for(found, args.timeout)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    result["discovered"] = {
        "dev_id": dev.dev_id.dev_id,
        "addr": dev.addr,
        "port": dev.port,
        "encryption": dev.encryption.name,
        "is_json": dev.is_json,
        "seconds": round(time.monotonic() - t0, 3),
    }
    if args.force_json:
        dev.is_json = True
    session = make_session(
        dev, on_device_lost=lambda d: None, login=args.user, password=args.password
    )
    result["session_class"] = type(session).__name__
    session.start()
    try:
        tasks = session.running_tasks()
        done, _ = await asyncio.wait(
            [asyncio.ensure_future(session.device_is_ready.wait()), *map(asyncio.shield, tasks)],
            timeout=args.timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        failed = [t for t in tasks if t.done()]
        for t in failed:
            exc = t.exception() if not t.cancelled() else None
            if exc is not None:
                result["error"] = f"{type(exc).__name__}: {exc}"
                return result
        if not done:
            result["error"] = "timeout waiting for device_is_ready"
            return result
        props = dict(session.dev_properties)
        result["properties"] = {k: v for k, v in props.items() if k != "raw"}
        result["ticket"] = getattr(session, "ticket", b"").hex()
        result["ready_seconds"] = round(time.monotonic() - t0, 3)
        await session.start_video()
        for _ in range(args.frames):
            frame = await asyncio.wait_for(session.frame_buffer.get(), args.timeout)
            data = frame.data
            result["frames"].append(
                {
                    "idx": frame.idx,
                    "len": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "soi": data[:2].hex(),
                    "eoi": data[-2:].hex(),
                    "size": _jpeg_size(data),
                }
            )
        result["frames_seconds"] = round(time.monotonic() - t0, 3)
        await session.stop_video()
        await asyncio.sleep(0.2)
    finally:
        with contextlib.suppress(Exception):
            await session.send_close_pkt()
        with contextlib.suppress(Exception):
            session.stop()
        for t in session.running_tasks():
            with contextlib.suppress(BaseException):
                await t
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--force-json", action="store_true", help="SHIX over plain transport")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    try:
        out = asyncio.run(run(args))
    except Exception as exc:  # report, don't traceback: the test asserts on JSON
        out = {"error": f"{type(exc).__name__}: {exc}", "frames": []}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
