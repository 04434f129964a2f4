"""Mutation fuzzer for every chinesium decoder, plus live sessions under garbage.

Run from the repository root::

    .venv/bin/python bench/fuzz.py --cases 100000 [--seed 1] [--seconds 60] [--no-live]

In-process: ``--cases`` datagrams made from valid TEG / PPPP / app-layer
vectors (bit flips, truncation, extension, splices, length-field scribbles,
pure random bytes) are thrown at every decoder, stream decoder and the two
sessions' datagram handlers. Any exception that is not the library's own
:class:`MalformedPacketError` (``ValueError`` for :meth:`DeviceId.parse`) is an
*escape*; the run fails if there is one.

Live (concurrently, on 127.0.0.1 only): a TEG session streams from
``fakecam.teg`` through a loopback relay that mutates a fraction of the
camera's datagrams and injects random ones from the camera's address, while a
stranger socket sprays garbage at the client's port (the TEG socket is
connected, so the kernel drops those; the PPPP client counts them as
foreign). The same is done for a PPPP session against ``fakecam.pppp``.
The session must keep streaming: frames before / during / after are printed
with the malformed counters, and any exception in the event loop counts as an
escape.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
import functools
import json
import os
from pathlib import Path
import random
import socket
import sys
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.chinesium.protocol.errors import MalformedPacketError
from custom_components.chinesium.protocol.jpeg import jpeg_size, looks_like_jpeg
from custom_components.chinesium.protocol.model import (
    CameraInfo,
    Credentials,
    Family,
    Frame,
    SessionStats,
)
from custom_components.chinesium.protocol.pppp import (
    codec as pcodec,
    crypto,
    devid,
    initstring,
)
from custom_components.chinesium.protocol.pppp.apps import (
    avframe,
    identify,
    ilnk,
    shix,
)
from custom_components.chinesium.protocol.pppp.session import PpppSession
from custom_components.chinesium.protocol.pppp.transport import PpppConnection
from custom_components.chinesium.protocol.session import CameraSession, SessionOptions
from custom_components.chinesium.protocol.teg import codec as tcodec
from custom_components.chinesium.protocol.teg.reassembly import Reassembler
from custom_components.chinesium.protocol.teg.session import TegSession

LOOPBACK = "127.0.0.1"
Addr = tuple[str, int]


# -- corpus of valid vectors ----------------------------------------------------------------


def teg_corpus() -> list[bytes]:
    """Valid TEG datagrams of every kind (media taken from a real JPEG)."""
    jpeg = _jpeg()
    chunk = 1024
    n = (len(jpeg) + chunk - 1) // chunk
    media = [
        tcodec.MediaPacket(1, 0, 7, i, jpeg[i * chunk : (i + 1) * chunk]).encode()
        if i
        else tcodec.MediaPacket(1, 0, 7, 0, jpeg[:chunk], len(jpeg), n, 640, 480, 99).encode()
        for i in range(n)
    ]
    params = tcodec.MediaParams()
    return [
        tcodec.SearchRequest().encode(),
        tcodec.SearchResponse(17900, "127.0.0.1", "EMUCAM1-0123456789AB-C0FFEE").encode(),
        tcodec.LoginRequest("127.0.0.1", 40000).encode(),
        tcodec.LoginResponse(tcodec.LoginResult.OK, 1, "127.0.0.1", 17900, "EMU").encode(),
        tcodec.LoginResponse(tcodec.LoginResult.FULL, 0).encode(),
        tcodec.Ctrl.live(1).encode(),
        tcodec.Ctrl.heartbeat(1).encode(),
        tcodec.Ctrl.close(1).encode(),
        tcodec.CtrlResp.media_params(1, params).encode(),
        tcodec.Ctrl(
            1, tcodec.Ctl.HEARTBEAT, 0, b"12345678", tcodec.AckBody((tcodec.AckItem.ack(3),))
        ).encode(),
        tcodec.AckPack(1, (tcodec.AckItem.missing(7, 2), tcodec.AckItem.ack(6))).encode(),
        tcodec.MediaPacket(1, 1, 8, 0, bytes(516), timestamp=5).encode(),
        tcodec.DeviceMessage(b"1TEG", 0x10, b"hello").encode(),
        *media[:3],
        media[-1],
    ]


def pppp_corpus() -> list[bytes]:
    """Valid plaintext PPPP datagrams."""
    did = devid.DeviceId("ABCD", 123456, "VWXYZ")
    frame = avframe.FrameHeader(3, 40).encode() + _jpeg()[:40]
    return [
        pcodec.LAN_SEARCH,
        pcodec.ALIVE,
        pcodec.ALIVE_ACK,
        pcodec.CLOSE,
        pcodec.encode_punch(did),
        pcodec.encode_p2p_rdy(did),
        pcodec.encode_drw(0, 0, shix.encode_request("check_user", 100, "admin", "6666")),
        pcodec.encode_drw(0, 1, ilnk.encode_login("admin", "admin")),
        pcodec.encode_drw(1, 5, frame),
        pcodec.encode_drw_ack(0, [0, 1, 2]),
        pcodec.encode_drw_ack(1, list(range(81))),
        pcodec.Unknown(0x99, b"vendor").encode(),
    ]


def app_corpus() -> list[bytes]:
    """Valid app-layer payloads (SHIX, iLnk, A/V frames)."""
    jpeg = _jpeg()
    return [
        shix.encode_request("stream", 111, "admin", "6666", video=1),
        shix.encode_block({"cmd": 100, "result": 0, "x": [1, {"y": None}]}),
        ilnk.IlnkMessage(ilnk.CMD_USER_CHK + 0x100, bytes(8) + b"tick").encode(),
        ilnk.IlnkMessage(ilnk.CMD_LIVEVIDEO_START).encode(),
        avframe.FrameHeader(3, len(jpeg)).encode() + jpeg[:900],
        avframe.FrameHeader(6, 8).encode() + bytes(8),
        jpeg[:700],
        jpeg[-500:],
    ]


_JPEG_CACHE: list[bytes] = []


def _jpeg() -> bytes:
    if not _JPEG_CACHE:
        from fakecam.frames import FrameSource

        _JPEG_CACHE.append(FrameSource(count=1).next_frame())
    return _JPEG_CACHE[0]


# -- mutations ---------------------------------------------------------------------------------


class Mutator:
    """Seeded datagram mutator."""

    def __init__(self, rng: random.Random, corpora: dict[str, list[bytes]]) -> None:
        """Mutate vectors from ``corpora`` (family -> valid datagrams)."""
        self.rng = rng
        self.corpora = corpora
        self.families = list(corpora)
        self.all = [d for c in corpora.values() for d in c]

    def case(self) -> tuple[str, bytes]:
        """One fuzz case: ``(family or "random", bytes)``."""
        rng = self.rng
        if rng.random() < 0.08:
            return "random", rng.randbytes(rng.randrange(0, 200))
        family = rng.choice(self.families)
        return family, self.mutate(rng.choice(self.corpora[family]))

    def mutate(self, base: bytes) -> bytes:
        """Apply 1-3 random mutations to ``base``."""
        rng = self.rng
        data = bytearray(base)
        for _ in range(rng.randrange(1, 4)):
            op = rng.randrange(7)
            n = len(data)
            if op == 0 and n:  # bit flips
                for _ in range(rng.randrange(1, 4)):
                    data[rng.randrange(n)] ^= 1 << rng.randrange(8)
            elif op == 1:  # truncation
                del data[rng.randrange(n + 1) :]
            elif op == 2:  # extension
                data += rng.randbytes(rng.randrange(1, 64))
            elif op == 3:  # splice with another vector
                other = rng.choice(self.all)
                cut = rng.randrange(n + 1)
                data = data[:cut] + other[rng.randrange(len(other) + 1) :]
            elif op == 4 and n >= 4:  # interesting values in a 16/32-bit field
                pos = rng.randrange(n - 1)
                val = rng.choice((0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x8000, n, n + 1, n - 8))
                data[pos : pos + 2] = (val & 0xFFFF).to_bytes(2, rng.choice(("little", "big")))
            elif op == 5 and n:  # overwrite a byte
                data[rng.randrange(n)] = rng.randrange(256)
            elif op == 6 and n > 2:  # duplicate a slice
                a = rng.randrange(n)
                b = rng.randrange(a, n)
                data[b:b] = data[a:b]
        return bytes(data)


# -- in-process targets ------------------------------------------------------------------------

type Target = Callable[[bytes], object]


def _parse_text(data: bytes) -> object:
    text = data.decode("latin-1")
    try:
        return devid.DeviceId.parse(text)
    except MalformedPacketError:
        raise
    except ValueError:
        return None  # documented error of DeviceId.parse


def _init_string(data: bytes) -> object:
    return initstring.decode_init_string(data.decode("latin-1"))


class Targets:
    """Every decoder; stream decoders keep state and are renewed now and then."""

    def __init__(self) -> None:
        """Create the stream decoders."""
        self.renew()
        self.stateless: dict[str, list[tuple[str, Target]]] = {
            "teg": [
                ("teg.decode_datagram", tcodec.decode_datagram),
                ("teg.MediaPacket", tcodec.MediaPacket.decode),
                ("teg.Ctrl", tcodec.Ctrl.decode),
                ("teg.LoginResponse", tcodec.LoginResponse.decode),
                ("teg.SearchResponse", tcodec.SearchResponse.decode),
                ("teg.AckBody", tcodec.AckBody.decode),
                ("teg.MediaParams", tcodec.MediaParams.decode),
            ],
            "pppp": [
                ("pppp.decode", pcodec.decode),
                ("pppp.decode_strict", lambda d: pcodec.decode(d, strict=True)),
                ("pppp.DeviceId.decode", lambda d: devid.DeviceId.decode(d[4:])),
                ("pppp.decrypt", lambda d: pcodec.decode(crypto.decrypt(d, "camera"))),
                ("pppp.detect_key", crypto.detect_key),
            ],
            "app": [
                ("shix.decode_block", shix.decode_block),
                ("ilnk.IlnkMessage.decode", ilnk.IlnkMessage.decode),
                ("avframe.FrameHeader.decode", avframe.FrameHeader.decode),
                ("identify.layer_from_payload", identify.layer_from_payload),
                ("jpeg_size", jpeg_size),
                ("looks_like_jpeg", looks_like_jpeg),
            ],
            "text": [
                ("DeviceId.parse", _parse_text),
                ("decode_init_string", _init_string),
            ],
        }

    def renew(self) -> None:
        """Fresh stream decoders (called every few thousand cases)."""
        self.clock = 0.0
        self.reasm = Reassembler(SessionStats(), track_missing=True, clock=lambda: self.clock)
        self.assembler = avframe.FrameAssembler()
        self.shix = shix.ShixDecoder()
        self.ilnk = ilnk.IlnkDecoder()

    def stream(self, family: str) -> list[tuple[str, Target]]:
        """The stateful decoders for ``family``."""
        if family == "teg":
            return [("teg.Reassembler", self._reasm)]
        if family == "app":
            return [
                ("avframe.FrameAssembler", self.assembler.feed),
                ("shix.ShixDecoder", self.shix.feed),
                ("ilnk.IlnkDecoder", self.ilnk.feed),
            ]
        return []

    def _reasm(self, data: bytes) -> object:
        self.clock += 0.003
        frames = (self.reasm.feed(data) or []) + (self.reasm.poll() or [])
        for jpeg, _, _ in frames:
            if not looks_like_jpeg(jpeg):
                raise AssertionError("reassembler emitted a non-JPEG")
        return frames


@dataclass
class Report:
    """Outcome of the in-process run."""

    cases: int = 0
    calls: int = 0
    malformed: int = 0
    escapes: int = 0
    examples: list[dict[str, str]] = field(default_factory=list)
    by_target: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def escape(self, target: str, data: bytes, err: BaseException) -> None:
        """Record an escaped exception."""
        self.escapes += 1
        self.by_target[target] = self.by_target.get(target, 0) + 1
        if len(self.examples) < 10:
            self.examples.append(
                {"target": target, "error": f"{type(err).__name__}: {err}", "input": data.hex()}
            )


class HandlerHarness:
    """The TEG and PPPP session datagram handlers fed in-process (no sockets)."""

    def __init__(self) -> None:
        """Build sessions that are "connected" without a socket."""
        self.teg = TegSession(CameraInfo("FUZZ", LOOPBACK, 9, Family.TEG))
        self.teg._setup()
        self.teg._closed = asyncio.get_running_loop().create_future()
        self.conn = PpppConnection()
        self.conn._established = True
        self.conn.remote = (LOOPBACK, 32108)
        self.asm = avframe.FrameAssembler()
        self.conn.channel(1).set_packet_handler(self._video)

    def _video(self, payload: bytes) -> None:
        self.asm.feed(payload)

    def feed(self, family: str, data: bytes) -> list[tuple[str, Target]]:
        """Handlers for ``family``."""
        if family in ("teg", "random"):
            return [("TegSession._on_datagram", lambda d: self.teg._on_datagram(d, None))]
        if family == "pppp":
            return [("PpppConnection._on_datagram", self._pppp)]
        return []

    def _pppp(self, data: bytes) -> object:
        if self.conn._closed:  # a fuzzed CLOSE ended it: start over
            self.close()
            self.conn = PpppConnection()
            self.conn._established = True
            self.conn.remote = (LOOPBACK, 32108)
            self.conn.channel(1).set_packet_handler(self._video)
        self.conn._on_datagram(data, (LOOPBACK, 32108))
        return None

    def close(self) -> None:
        """Cancel timers the handlers scheduled."""
        if self.teg._poll_timer is not None:
            self.teg._poll_timer.cancel()
            self.teg._poll_timer = None
        self.conn._abort()


async def run_inprocess(
    cases: int, seed: int, deadline: float, report: Report, yield_every: int = 50
) -> None:
    """Throw ``cases`` mutated datagrams at every decoder (yielding to the loop)."""
    rng = random.Random(seed)
    mut = Mutator(rng, {"teg": teg_corpus(), "pppp": pppp_corpus(), "app": app_corpus()})
    targets = Targets()
    harness = HandlerHarness()
    t0 = time.perf_counter()
    try:
        for i in range(cases):
            family, data = mut.case()
            if family == "random":
                chosen = [t for group in targets.stateless.values() for t in group]
                chosen += targets.stream("teg") + targets.stream("app")
            else:
                chosen = list(targets.stateless[family]) + targets.stream(family)
                if rng.random() < 0.05:
                    chosen += targets.stateless["text"]
            chosen += harness.feed(family, data)
            for name, fn in chosen:
                report.calls += 1
                try:
                    fn(data)
                except MalformedPacketError:
                    report.malformed += 1
                except Exception as err:
                    report.escape(name, data, err)
            report.cases += 1
            if i % 5000 == 4999:
                targets.renew()
            if i % yield_every == yield_every - 1:
                await asyncio.sleep(0)
                if time.monotonic() > deadline:
                    break
    finally:
        harness.close()
        report.seconds += time.perf_counter() - t0


# -- live sessions through a mutating relay --------------------------------------------------


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, on: Callable[[bytes, Addr], None]) -> None:
        self.on = on

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.on(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        pass


async def _udp(on: Callable[[bytes, Addr], None]) -> asyncio.DatagramTransport:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: _Udp(on), local_addr=(LOOPBACK, 0)
    )
    return transport


def _port(transport: asyncio.DatagramTransport) -> int:
    return int(transport.get_extra_info("sockname")[1])


class Relay:
    """Loopback relay camera <-> client that mutates / injects camera datagrams.

    The client talks to ``front``; the relay talks to the camera from ``back``.
    ``rewrite_login`` (TEG) replaces the client address inside LOGIN_REQ with
    ``back`` so the camera streams to the relay. For PPPP the first camera
    (``search``) address is used until the camera answers from its session
    port, which is used from then on.
    """

    def __init__(
        self,
        camera: Addr,
        mutator: Mutator,
        *,
        rewrite_login: bool = False,
        seed: int = 1,
    ) -> None:
        """Relay to ``camera``; nothing is mutated until :attr:`rate` is set."""
        self.camera = camera
        self.session_addr: Addr | None = None
        self.mutator = mutator
        self.rewrite_login = rewrite_login
        self.rng = random.Random(seed)
        self.rate = 0.0
        self.inject = 0.0
        self.client: Addr | None = None
        self.paused = False
        self.to_client = 0
        self.mutated = 0
        self.injected = 0
        self.front: asyncio.DatagramTransport
        self.back: asyncio.DatagramTransport

    async def start(self) -> Relay:
        """Bind both sockets."""
        self.front = await _udp(self._from_client)
        self.back = await _udp(self._from_camera)
        return self

    @property
    def port(self) -> int:
        """Port the client connects to."""
        return _port(self.front)

    def close(self) -> None:
        """Unbind."""
        self.front.close()
        self.back.close()

    def _from_client(self, data: bytes, addr: Addr) -> None:
        self.client = addr
        if self.rewrite_login and data[:6] == b"1TEG\x0d\x00":
            req = tcodec.LoginRequest.decode(data)
            data = tcodec.LoginRequest(
                LOOPBACK, _port(self.back), req.token, req.public_ip, req.public_port, req.flag
            ).encode()
        self.back.sendto(data, self.session_addr or self.camera)

    def _from_camera(self, data: bytes, addr: Addr) -> None:
        if addr != self.camera:
            self.session_addr = addr
        if self.client is None or self.paused:
            return
        rng = self.rng
        if self.rate and rng.random() < self.rate:
            data = self._harmless(lambda: self.mutator.mutate(data))
            self.mutated += 1
        self._send(data)
        if self.inject and rng.random() < self.inject:
            self._send(self._harmless(lambda: self.mutator.case()[1]))
            self.injected += 1

    @staticmethod
    def _harmless(make: Callable[[], bytes]) -> bytes:
        """A fuzz datagram that is not a well-formed CLOSE.

        Both protocols let anyone who can send from the camera's address end
        the session with a CLOSE (no authentication), so such datagrams would
        only measure that design, not robustness.
        """
        while True:
            data = make()
            if not _is_close(data):
                return data

    def _send(self, data: bytes) -> None:
        if self.client is not None:
            self.front.sendto(data, self.client)
            self.to_client += 1


@dataclass
class LiveReport:
    """Health of one live session."""

    family: str
    ok: bool = False
    error: str = ""
    frames_before: int = 0
    frames_during: int = 0
    frames_after: int = 0
    bad_frames: int = 0
    malformed: int = 0
    mutated: int = 0
    injected: int = 0
    stranger_sent: int = 0
    stranger_accepted: int = -1
    foreign: int = 0
    connected_after: bool = False
    stats: dict[str, int] = field(default_factory=dict)


class _FrameCounter:
    def __init__(self) -> None:
        self.count = 0
        self.bad = 0

    def __call__(self, frame: Frame) -> None:
        self.count += 1
        if not looks_like_jpeg(frame.data) or jpeg_size(frame.data) != (640, 480):
            self.bad += 1


async def _phase(counter: _FrameCounter, seconds: float) -> int:
    start = counter.count
    await asyncio.sleep(seconds)
    return counter.count - start


async def run_live(
    family: str,
    seed: int,
    fuzz: Callable[[], Any],
    *,
    settle: float = 1.0,
    mutate_rate: float = 0.02,
    inject_rate: float = 0.05,
    min_fuzz: float = 2.0,
) -> LiveReport:
    """Stream from an emulated camera via a mutating relay while ``fuzz()`` runs."""
    report = LiveReport(family)
    mutator = Mutator(
        random.Random(seed + 1),
        {"teg": teg_corpus()} if family == "teg" else {"pppp": pppp_corpus(), "app": app_corpus()},
    )
    opts = SessionOptions(
        connect_timeout=3.0,
        keepalive_interval=0.5,
        silence_timeout=3.0,
        first_frame_timeout=3.0,
        local_host=LOOPBACK,
    )
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.setblocking(False)
    relay: Relay | None = None
    session: CameraSession | None = None
    cam: Any = None
    try:
        if family == "teg":
            from fakecam.teg import TegCamera, TegCameraConfig

            cam = TegCamera(TegCameraConfig(host=LOOPBACK, fps=15.0, seed=seed))
            await cam.start()
            relay = await Relay(
                (LOOPBACK, cam.session_port), mutator, rewrite_login=True, seed=seed
            ).start()
            session = TegSession(
                CameraInfo("EMUCAM1-0123456789AB-C0FFEE", LOOPBACK, relay.port, Family.TEG),
                Credentials(),
                opts,
            )
        else:
            from fakecam.pppp import PpppCamera, PpppCameraConfig

            cam = PpppCamera(PpppCameraConfig(host=LOOPBACK, port=0, fps=15.0, seed=seed))
            await cam.start()
            relay = await Relay((LOOPBACK, cam.port), mutator, seed=seed).start()
            session = PpppSession(
                CameraInfo("ABCD-123456-VWXYZ", LOOPBACK, relay.port, Family.PPPP, "shix"),
                Credentials(),
                opts,
            )
        counter = _FrameCounter()
        session.add_frame_listener(counter)
        await session.start()
        report.frames_before = await _phase(counter, settle)

        # Fuzz phase: mutate + inject through the relay, stranger garbage, in-process fuzz.
        relay.rate, relay.inject = mutate_rate, inject_rate
        client_port = (
            session.local_addr[1]
            if isinstance(session, TegSession) and session.local_addr
            else _pppp_port(session)
        )
        stop = asyncio.Event()

        async def spray() -> None:
            rng = random.Random(seed + 2)
            while not stop.is_set():
                for _ in range(5):
                    try:
                        stranger.sendto(mutator.case()[1], (LOOPBACK, client_port))
                        report.stranger_sent += 1
                    except OSError:
                        pass
                await asyncio.sleep(0.002 + rng.random() * 0.003)

        # Baseline with nothing in flight: a datagram the relay already counted but the
        # session had not yet received would otherwise look like an accepted stranger.
        relay.paused = True
        await asyncio.sleep(0.1)
        packets_before, relayed_before = session.stats.packets, relay.to_client
        relay.paused = False
        sprayer = asyncio.create_task(spray())
        start = counter.count
        t_fuzz = time.monotonic()
        try:
            await fuzz()
            # keep the garbage flowing for a while even if the in-process part was quick
            await asyncio.sleep(max(0.0, min_fuzz - (time.monotonic() - t_fuzz)))
        finally:
            stop.set()
            await sprayer
        report.frames_during = counter.count - start
        relay.rate = relay.inject = 0.0

        # Clean phase: the session must still stream.
        report.frames_after = await _phase(counter, settle)
        report.connected_after = session.connected
        if not session.connected:
            try:
                await session.wait_closed()
            except Exception as err:
                report.error = f"session ended: {type(err).__name__}: {err}"
        # Stranger datagrams accepted = packets the session counted beyond what the relay
        # delivered (kernel drops under load only make the left side smaller).
        relay.paused = True
        await asyncio.sleep(0.1)
        counted = session.stats.packets - packets_before
        relayed = relay.to_client - relayed_before
        report.stranger_accepted = max(0, counted - relayed)
        report.foreign = _foreign(session)
        report.bad_frames = counter.bad
        report.malformed = session.stats.malformed
        report.mutated, report.injected = relay.mutated, relay.injected
        report.stats = session.stats.as_dict()
        report.ok = (
            report.frames_before > 0
            and report.frames_after > 0
            and report.connected_after
            and report.stranger_accepted <= 0
        )
    except Exception as err:
        report.error = f"{type(err).__name__}: {err}"
    finally:
        if session is not None:
            await session.close()
        if relay is not None:
            relay.close()
        if cam is not None:
            await cam.stop()
        stranger.close()
    return report


def _is_close(data: bytes) -> bool:
    if data[:1] == b"\xf1":
        return data[1:2] == b"\xf0"
    try:
        msg = tcodec.decode_datagram(data)
    except MalformedPacketError:
        return False
    return isinstance(msg, tcodec.Ctrl) and msg.ctl == tcodec.Ctl.CLOSE


def _foreign(session: CameraSession) -> int:
    conn = session.conn if isinstance(session, PpppSession) else None
    return 0 if conn is None else conn.counters.foreign


def _pppp_port(session: CameraSession) -> int:
    conn = session.conn if isinstance(session, PpppSession) else None
    transport = conn._transport if conn is not None else None
    return 0 if transport is None else _port(transport)


# -- main ------------------------------------------------------------------------------------


async def amain(args: argparse.Namespace) -> int:
    """Run everything; return the process exit code."""
    loop = asyncio.get_running_loop()
    loop_escapes: list[str] = []

    def on_loop_error(_loop: asyncio.AbstractEventLoop, ctx: dict[str, Any]) -> None:
        exc = ctx.get("exception")
        loop_escapes.append(f"{ctx.get('message')}: {type(exc).__name__ if exc else ''} {exc}")

    loop.set_exception_handler(on_loop_error)
    deadline = time.monotonic() + (args.seconds or 1e9)
    report = Report()
    fams = [] if args.no_live else ["teg", "pppp"]
    live: list[LiveReport] = []
    # Split the cases over the live runs so each runs while a session streams.
    share = args.cases // max(1, len(fams)) if fams else args.cases
    done = 0
    for n, family in enumerate(fams):
        part = share if n < len(fams) - 1 else args.cases - done
        done += part
        live.append(
            await run_live(
                family,
                args.seed + n,
                functools.partial(run_inprocess, part, args.seed * 1000 + n, deadline, report),
            )
        )
    if not fams:
        await run_inprocess(args.cases, args.seed, deadline, report)

    rate = report.cases / report.seconds if report.seconds else 0.0
    print(
        f"in-process: {report.cases} cases, {report.calls} decoder calls in "
        f"{report.seconds:.1f} s ({rate:,.0f} cases/s); malformed {report.malformed}; "
        f"escapes {report.escapes}"
    )
    for ex in report.examples:
        print(f"  ESCAPE {ex['target']}: {ex['error']} input={ex['input'][:160]}")
    for lr in live:
        print(
            f"live {lr.family}: {'OK' if lr.ok else 'FAILED'} frames before/during/after "
            f"{lr.frames_before}/{lr.frames_during}/{lr.frames_after}, malformed {lr.malformed}, "
            f"relay mutated {lr.mutated} injected {lr.injected}, stranger sent "
            f"{lr.stranger_sent} accepted {lr.stranger_accepted} (PPPP foreign {lr.foreign}), "
            "corrupt-but-JPEG-shaped "
            f"frames {lr.bad_frames}, connected after: {lr.connected_after}"
            + (f", error: {lr.error}" if lr.error else "")
        )
    for msg in loop_escapes[:10]:
        print(f"  LOOP ESCAPE {msg}")
    if args.json:
        print(
            json.dumps(
                {
                    "cases": report.cases,
                    "cases_per_s": round(rate),
                    "escapes": report.escapes + len(loop_escapes),
                    "live": [lr.__dict__ for lr in live],
                }
            )
        )
    failed = report.escapes or loop_escapes or any(not lr.ok for lr in live)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=1_000_000, help="fuzz cases (default 1e6)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "1")))
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long")
    parser.add_argument("--no-live", action="store_true", help="in-process decoders only")
    parser.add_argument("--json", action="store_true", help="also print a JSON summary")
    args = parser.parse_args(argv)
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
