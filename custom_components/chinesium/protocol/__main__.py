"""Command line: ``python -m custom_components.chinesium.protocol discover|stream``.

``discover`` prints one line per camera found. ``stream HOST[:PORT]`` finds
the camera at HOST (unicast), opens a session and writes its video to stdout:
JPEG cameras as MJPEG (``... stream 192.168.1.60 | ffplay -f mjpeg -``),
H.264/H.265 cameras as MPEG-TS (``... | ffplay -f mpegts -``). The format is
decided on the first frame and announced on stderr.
Uses only the package's public API; works for every supported family.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys

from . import (
    ChinesiumError,
    Codec,
    Credentials,
    Family,
    Frame,
    SessionOptions,
    discover,
    open_session,
)
from .media import MpegTsMuxer

BROADCAST_ALL = "255.255.255.255"


def _families(names: list[str] | None) -> tuple[Family, ...]:
    return tuple(Family(n) for n in names) if names else (Family.TEG, Family.PPPP)


async def _discover(args: argparse.Namespace) -> int:
    hosts = args.host or []
    broadcast = args.broadcast or ([] if hosts else [BROADCAST_ALL])
    found = await discover(
        hosts,
        broadcast=broadcast,
        timeout=args.timeout,
        families=_families(args.family),
        bind_host=args.bind,
    )
    for info in sorted(found, key=lambda i: (i.host, i.uid)):
        print(
            f"{info.uid}\t{info.family}\t{info.app_layer or '-'}\t{info.host}:{info.port}\t"
            f"{'supported' if info.supported else 'unsupported'}",
            flush=True,
        )
    if not found:
        print("no cameras found", file=sys.stderr)
    return 0


async def _stream(args: argparse.Namespace) -> int:
    found = await discover(
        [args.target], timeout=args.timeout, families=_families(args.family), bind_host=args.bind
    )
    if not found:
        print(f"no camera answered at {args.target}", file=sys.stderr)
        return 1
    info = found[0]
    print(f"camera {info.uid} ({info.family}) at {info.host}:{info.port}", file=sys.stderr)
    options = SessionOptions(local_host=args.bind, resend=not args.no_resend)
    credentials = Credentials(username=args.user, password=args.password)
    sys.stdout.flush()
    out_fd = sys.stdout.fileno()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        session = await open_session(info, credentials, options)
    except ChinesiumError as err:
        print(f"cannot open session: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    writer = FrameWriter(out_fd)
    rc = 0

    def silence_stdout() -> None:
        # The reader went away: silence stdout so the interpreter's final flush
        # does not complain, and stop cleanly.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), out_fd)

    def on_frame(frame: Frame) -> None:
        if stop.is_set():
            return
        first = writer.format is None
        try:
            writer.write(frame)
        except OSError:
            silence_stdout()
            stop.set()
            return
        if first and writer.format is not None:
            print(f"writing {writer.format} to stdout", file=sys.stderr, flush=True)
        if args.frames and writer.written >= args.frames:
            stop.set()

    unsub = session.add_frame_listener(on_frame)
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(session.wait_closed())]
    try:
        done, _ = await asyncio.wait(
            waiters, timeout=args.seconds or None, return_when=asyncio.FIRST_COMPLETED
        )
        if waiters[1] in done and (reason := waiters[1].exception()) is not None:
            print(f"session lost: {type(reason).__name__}: {reason}", file=sys.stderr)
            rc = 3
    finally:
        for w in waiters:
            w.cancel()
        unsub()
        try:
            writer.close()
        except OSError:
            silence_stdout()
        await session.close()
    if args.stats:
        stats = {"frames_written": writer.written, "format": writer.format}
        print(json.dumps({**stats, **session.stats.as_dict()}), file=sys.stderr)
    return rc


class FrameWriter:
    """Write a session's frames to a file descriptor in a format a player reads.

    The first frame decides: JPEG frames are written back to back (MJPEG),
    H.264/H.265 access units are muxed into MPEG-TS (starting at the first
    keyframe, camera timestamps sanitized). Frames of another codec than the
    first are skipped. Call :meth:`close` at the end (it finishes the MPEG-TS
    container); ``OSError`` from the descriptor propagates.
    """

    def __init__(self, fd: int) -> None:
        """Write to ``fd`` (not closed by this class)."""
        self.fd = fd
        self.format: str | None = None
        """``"mjpeg"`` or ``"mpegts"`` once the first frame arrived."""
        self.written = 0
        """Frames written."""
        self._codec: Codec | None = None
        self._muxer: MpegTsMuxer | None = None

    def write(self, frame: Frame) -> None:
        """Write one frame (or skip it: other codec, or H.26x before a keyframe)."""
        if self._codec is None:
            self._codec = frame.codec
            if frame.codec is Codec.JPEG:
                self.format = "mjpeg"
            else:
                self._muxer = MpegTsMuxer(frame.codec)
                self.format = "mpegts"
        if frame.codec is not self._codec:
            return
        if self._muxer is None:
            _write_all(self.fd, frame.data)
            self.written += 1
            return
        before = self._muxer.frames
        data = self._muxer.mux(frame)
        if data:
            _write_all(self.fd, data)
        self.written += self._muxer.frames - before

    def close(self) -> None:
        """Finish the stream (MPEG-TS trailer); idempotent."""
        muxer, self._muxer = self._muxer, None
        if muxer is not None:
            tail = muxer.close()
            if tail:
                _write_all(self.fd, tail)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte, whatever signals interrupt (a cut frame would corrupt the stream)."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        view = view[written:]


def build_parser() -> argparse.ArgumentParser:
    """Argument parser for the CLI."""
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.chinesium.protocol",
        description="Discover cheap Wi-Fi cameras and stream their video (MJPEG or MPEG-TS).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--timeout", type=float, default=1.5, help="search time (s)")
        p.add_argument(
            "--family", action="append", choices=[f.value for f in Family], help="limit families"
        )
        p.add_argument("--bind", default="0.0.0.0", help="local address to bind")  # noqa: S104

    disc = sub.add_parser("discover", help="search the LAN and list cameras")
    disc.add_argument("--host", action="append", help="unicast target HOST[:PORT] (repeatable)")
    disc.add_argument("--broadcast", action="append", help="broadcast address (repeatable)")
    common(disc)

    stream = sub.add_parser(
        "stream", help="write the camera's video to stdout (JPEG: MJPEG, H.264/H.265: MPEG-TS)"
    )
    stream.add_argument("target", help="camera HOST[:PORT] (PORT = search port)")
    stream.add_argument("--user", help="user name (PPPP)")
    stream.add_argument("--password", help="password / TEG 12-character token")
    stream.add_argument("--frames", type=int, default=0, help="stop after N frames")
    stream.add_argument("--seconds", type=float, default=0, help="stop after S seconds")
    stream.add_argument("--stats", action="store_true", help="print session stats to stderr")
    stream.add_argument("--no-resend", action="store_true", help="never ask for resends")
    common(stream)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    runner = _discover if args.command == "discover" else _stream
    try:
        return asyncio.run(runner(args))
    except KeyboardInterrupt:
        return 0
    finally:
        # Frames may still sit in the pipe buffer of a reader that went away.
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
