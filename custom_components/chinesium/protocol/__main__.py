"""Command line: ``python -m custom_components.chinesium.protocol discover|stream|probe``.

``discover`` prints one line per camera found (cameras that answered in a way
we cannot decode too, as ``unknown``). ``stream HOST[:PORT]`` finds
the camera at HOST (unicast), opens a session and writes its video to stdout:
JPEG cameras as MJPEG (``... stream 192.168.1.60 | ffplay -f mjpeg -``),
H.264/H.265 cameras as MPEG-TS (``... | ffplay -f mpegts -``). The format is
decided on the first frame and announced on stderr.
``probe HOST[:PORT]`` tells, step by step, what the camera at HOST answered
and how it was identified (family, PSK, prefix, app-layer magic, login,
first media bytes) and writes a bounded, credential-free trace file (JSON)
to attach to a bug report.
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
from typing import Any

from . import (
    CameraInfo,
    ChinesiumError,
    Codec,
    Credentials,
    Family,
    Frame,
    SessionOptions,
    create_session,
    discover,
    open_session,
)
from .discovery import PPPP_SEARCH_PORT, parse_target
from .media import MpegTsMuxer
from .trace import TraceRecorder, short_id

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
        seen = ""
        if info.extra.get("variant") == "unknown":
            seen = f"\t{info.extra.get('reason')}: {info.extra.get('first_bytes')}"
        print(
            f"{info.uid}\t{info.family}\t{info.app_layer or '-'}\t{info.host}:{info.port}\t"
            f"{'supported' if info.supported else 'unsupported'}{seen}",
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


PROBE_OK = 0
PROBE_NO_ANSWER = 1
PROBE_SESSION_FAILED = 2
PROBE_NO_MEDIA = 3
PROBE_UNKNOWN = 4


class _Steps:
    """Numbered ``[n] what: key=value ...`` lines on stdout."""

    def __init__(self) -> None:
        self.n = 0

    def step(self, what: str, text: str = "", **fields: object) -> None:
        self.n += 1
        pairs = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        print(f"[{self.n}] {what}: {text}{' ' if text and pairs else ''}{pairs}", flush=True)

    @staticmethod
    def detail(text: str) -> None:
        print(f"    {text}", flush=True)


async def _probe(args: argparse.Namespace) -> int:
    """Find, identify, log in and wait for media; write the trace file whatever happens."""
    from .pppp.apps.identify import identify  # noqa: PLC0415
    from .pppp.apps.registry import DISPLAY_NAMES, layer_from_payload  # noqa: PLC0415
    from .pppp.devid import DeviceId  # noqa: PLC0415
    from .pppp.discovery import SEARCH_KEYS, discover_pppp  # noqa: PLC0415
    from .pppp.session import PpppSession  # noqa: PLC0415

    out = _Steps()
    trace = TraceRecorder(limit=args.limit)
    trace.redact(args.user, args.password)
    host, port = parse_target(args.target, PPPP_SEARCH_PORT)
    trace.info.update({"tool": "probe", "search_port": port})
    rc = PROBE_OK
    try:
        out.step(
            "search",
            f"{host}:{port}",
            sent=f"LAN_SEARCH(plain+{len(SEARCH_KEYS)} PSKs)+LAN_SEARCH_EXT",
            seconds=args.timeout,
        )
        found = await discover_pppp(
            [(host, port)], timeout=args.timeout, bind_host=args.bind, trace=trace
        )
        if not found:
            teg = await discover(
                [args.target], timeout=args.timeout, families=(Family.TEG,), bind_host=args.bind
            )
            if teg:
                return await _probe_teg(args, out, teg[0], trace)
            out.step("answer", "none (no PPPP or TEG reply; is the camera on this LAN?)")
            trace.note("result", outcome="no answer")
            return PROBE_NO_ANSWER
        info = found[0]
        for uid in (i.uid for i in found):
            trace.device_id(uid, _raw_did(DeviceId, uid))
        extra = info.extra
        psk = extra.get("key")
        if extra.get("variant") == "unknown":
            out.step(
                "answer",
                f"from {info.host}:{extra.get('session_port')}",
                size=extra.get("size"),
                first_bytes=f"'{extra.get('first_bytes')}'",
            )
            out.step(
                "identified",
                "family=pppp variant=unknown",
                reason=f"'{extra.get('reason')}'",
                did=short_id(info.uid) if not info.uid.startswith("unknown@") else "?",
            )
            out.detail(
                "not a PPPP answer any known PSK decodes: please attach the trace to a bug report"
            )
            trace.note("result", outcome="unknown variant", reason=extra.get("reason"))
            return PROBE_UNKNOWN
        did = DeviceId.parse(info.uid)
        hint = identify(prefix=did.prefix, key=psk, check=did.check)
        out.step(
            "answer",
            f"from {info.host}:{extra.get('session_port')}",
            message="LAN_SEARCH_EXT_ACK" if extra.get("search") else "PUNCH_PKT",
            did=short_id(info.uid),
        )
        out.step(
            "identified",
            "family=pppp",
            prefix=did.prefix,
            psk=f"'{psk}'" if psk else "none(plaintext)",
            layer_hint=f"{hint.layer.value if hint.layer else 'none'}(from {hint.source})",
        )
        trace.note("identified", prefix=did.prefix, psk=psk, hint=hint.layer, source=hint.source)
        if not info.supported:
            name = DISPLAY_NAMES.get(hint.layer) if hint.layer else None
            out.step("app layer", f"{info.app_layer} ({name}) is not supported yet")
            trace.note("result", outcome="unsupported", layer=info.app_layer)
            return PROBE_UNKNOWN
        options = SessionOptions(
            local_host=args.bind, connect_timeout=args.connect_timeout, resend=True
        )
        creds = Credentials(username=args.user, password=args.password)
        session = PpppSession(info, creds, options, trace=trace)
        try:
            await session.start()
        except ChinesiumError as err:
            magic = getattr(err, "magic", None)
            if isinstance(magic, bytes):
                out.step("app layer", "unknown", magic=f"'{magic[:4].hex(' ')}'")
                rc = PROBE_UNKNOWN
            else:
                rc = PROBE_SESSION_FAILED
            out.step("login", "failed", error=type(err).__name__, detail=f"'{err}'")
            for note in trace.notes:
                if note["step"] in ("login", "reply", "reidentify"):
                    fields = " ".join(f"{k}={v}" for k, v in note.items() if k not in ("t",))
                    out.detail(fields)
            await session.close()
            trace.note("result", outcome="login failed", error=type(err).__name__)
            return rc
        try:
            client = session.client
            first = client.first_payload if client is not None else None
            spoken = layer_from_payload(first) if first else None
            out.step(
                "app layer",
                f"{session.facts.app_layer}",
                magic=f"'{first[:4].hex(' ')}'" if first else None,
                name=f"'{DISPLAY_NAMES[spoken]}'" if spoken else None,
                control_channel=client.control_channel if client is not None else None,
                media_channel=client.video_channel if client is not None else None,
            )
            out.step(
                "login",
                "ok",
                user=f"'{session.username}'" if args.user else None,
                firmware=f"'{session.facts.firmware}'" if session.facts.firmware else None,
                reidentified_from=session.reidentified_from,
            )
            try:
                frame = await session.next_frame(args.media_timeout)
            except ChinesiumError as err:
                media = session.first_media
                out.step(
                    "media",
                    "no frame",
                    error=type(err).__name__,
                    first_bytes=f"'{media[:16].hex(' ')}'" if media else "none",
                )
                trace.note("result", outcome="no media")
                return PROBE_NO_MEDIA
            media = session.first_media or b""
            out.step(
                "media",
                f"{frame.codec}",
                size=f"{frame.width}x{frame.height}",
                keyframe=frame.keyframe,
                first_payload=f"'{media[:16].hex(' ')}'",
                first_frame=f"'{frame.data[:16].hex(' ')}'",
            )
            trace.note(
                "result", outcome="ok", layer=session.facts.app_layer, codec=str(frame.codec)
            )
            trace.info["stats"] = session.stats.as_dict()
        finally:
            await session.close()
        return rc
    finally:
        if args.trace:
            trace.write(args.trace)
            out.step(
                "trace",
                f"wrote {args.trace}",
                datagrams=f"{trace.counts.get('tx', 0)}tx/{trace.counts.get('rx', 0)}rx",
                kept=f"first {trace.limit} each way",
                credentials="redacted",
            )


def _raw_did(cls: Any, uid: str) -> bytes:
    try:
        return bytes(cls.parse(uid).encode())
    except ValueError:
        return b""


async def _probe_teg(
    args: argparse.Namespace, out: _Steps, info: CameraInfo, trace: TraceRecorder
) -> int:
    from .teg.session import TegSession  # noqa: PLC0415

    trace.device_id(info.uid)
    out.step("answer", f"from {info.host}:{info.port}", family="teg", uid=short_id(info.uid))
    out.step("identified", "family=teg (no PPPP app layers)")
    options = SessionOptions(local_host=args.bind, connect_timeout=args.connect_timeout)
    session = create_session(info, Credentials(password=args.password), options)
    if isinstance(session, TegSession):
        session.trace = trace
    try:
        await session.start()
    except ChinesiumError as err:
        await session.close()
        out.step("login", "failed", error=type(err).__name__, detail=f"'{err}'")
        trace.note("result", outcome="login failed", error=type(err).__name__)
        return PROBE_SESSION_FAILED
    try:
        out.step("login", "ok")
        try:
            frame = await session.next_frame(args.media_timeout)
        except ChinesiumError as err:
            out.step("media", "no frame", error=type(err).__name__)
            return PROBE_NO_MEDIA
        out.step(
            "media",
            f"{frame.codec}",
            size=f"{frame.width}x{frame.height}",
            first_frame=f"'{frame.data[:16].hex(' ')}'",
        )
        trace.note("result", outcome="ok", family="teg")
        return PROBE_OK
    finally:
        await session.close()


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

    probe = sub.add_parser(
        "probe",
        help="identify an unknown camera step by step and write a trace for a bug report",
    )
    probe.add_argument("target", help="camera HOST[:PORT] (PORT = search port)")
    probe.add_argument("--user", help="user name (PPPP)")
    probe.add_argument("--password", help="password / TEG token (never written to the trace)")
    probe.add_argument(
        "--trace",
        default="chinesium-probe.json",
        help="trace file to write (default chinesium-probe.json; '' = none)",
    )
    probe.add_argument("--limit", type=int, default=32, help="datagrams kept each way")
    probe.add_argument("--connect-timeout", type=float, default=3.0, help="login wait (s)")
    probe.add_argument("--media-timeout", type=float, default=8.0, help="first-frame wait (s)")
    probe.add_argument("--timeout", type=float, default=1.5, help="search time (s)")
    probe.add_argument("--bind", default="0.0.0.0", help="local address to bind")  # noqa: S104
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    runners = {"discover": _discover, "stream": _stream, "probe": _probe}
    runner = runners[args.command]
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
