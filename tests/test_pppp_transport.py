"""PPPP transport over loopback: handshake, DRW under loss/reorder/dup, keepalive, close."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import os
import random
import struct
from typing import Any

import pytest

from custom_components.chinesium.protocol.errors import (
    CameraTimeoutError,
    ChinesiumError,
    SessionClosedError,
)
from custom_components.chinesium.protocol.model import Family
from custom_components.chinesium.protocol.pppp import codec
from custom_components.chinesium.protocol.pppp.crypto import Cipher
from custom_components.chinesium.protocol.pppp.devid import DeviceId
from custom_components.chinesium.protocol.pppp.discovery import discover_pppp, identify
from custom_components.chinesium.protocol.pppp.transport import PpppConnection

pytestmark = pytest.mark.usefixtures("socket_enabled")

DID = DeviceId("DGOK", 123456, "ABCDE")
LOCAL = "127.0.0.1"
Addr = tuple[str, int]


class _Proto(asyncio.DatagramProtocol):
    def __init__(self, handler: Callable[[bytes, Addr], None]) -> None:
        self.handler = handler
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.handler(data, addr)


async def _udp(handler: Callable[[bytes, Addr], None]) -> asyncio.DatagramTransport:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Proto(handler), local_addr=(LOCAL, 0)
    )
    return transport


def _port(transport: asyncio.DatagramTransport) -> int:
    return int(transport.get_extra_info("sockname")[1])


async def _until(pred: Callable[[], bool], limit: float = 2.0) -> None:
    async with asyncio.timeout(limit):
        while not pred():  # noqa: ASYNC110 - polling a plain predicate
            await asyncio.sleep(0.01)


class FakeDevice:
    """Minimal PPPP device: search socket + session socket, simple reliable DRW."""

    def __init__(self, did: DeviceId = DID, key: str | None = None) -> None:
        self.did = did
        self.cipher = Cipher.create(key) if key else None
        self.client: Addr | None = None
        self.received: dict[int, bytearray] = {}
        self.rx_next: dict[int, int] = {}
        self.rx_ahead: dict[int, dict[int, bytes]] = {}
        self.tx_next: dict[int, int] = {}
        self.inflight: dict[tuple[int, int], tuple[bytes, float]] = {}
        self.log: list[int] = []  # message types received on the session socket
        self.acks: list[tuple[int, ...]] = []  # DRW_ACK index lists received
        self.mute = False  # stop answering anything
        self.ack = True
        self.pad_acks = False
        self.search: asyncio.DatagramTransport
        self.session: asyncio.DatagramTransport
        self._task: asyncio.Task[None] | None = None
        self._pending: dict[int, list[bytes]] = {}

    async def start(self) -> FakeDevice:
        self.search = await _udp(self._on_search)
        self.session = await _udp(self._on_session)
        self._task = asyncio.get_running_loop().create_task(self._resend_loop())
        return self

    def stop(self) -> None:
        if self._task:
            self._task.cancel()
        self.search.close()
        self.session.close()

    @property
    def search_port(self) -> int:
        return _port(self.search)

    @property
    def session_port(self) -> int:
        return _port(self.session)

    def _enc(self, data: bytes) -> bytes:
        return self.cipher.encrypt(data) if self.cipher else data

    def _dec(self, data: bytes) -> bytes:
        return self.cipher.decrypt(data) if self.cipher else data

    def send(self, raw: bytes, addr: Addr | None = None) -> None:
        target = addr or self.client
        assert target is not None
        self.session.sendto(self._enc(raw), target)

    def _on_search(self, data: bytes, addr: Addr) -> None:
        if self.mute or self._dec(data)[:4] != codec.LAN_SEARCH:
            return
        self.send(codec.encode_punch(self.did), addr)

    def _on_session(self, data: bytes, addr: Addr) -> None:
        if self.mute:
            return
        data = self._dec(data)
        try:
            msg = codec.decode(data)
        except ChinesiumError:
            return
        self.log.append(int(msg.type))
        if isinstance(msg, codec.PunchPkt | codec.P2pRdy):
            if msg.did.matches(self.did):
                self.client = addr
                self.send(codec.encode_p2p_rdy(self.did))
        elif addr != self.client:
            return
        elif isinstance(msg, codec.Alive):
            self.send(codec.ALIVE_ACK)
        elif isinstance(msg, codec.Drw):
            self._on_drw(msg)
        elif isinstance(msg, codec.DrwAck):
            self.acks.append(msg.indices)
            for idx in msg.indices:
                self.inflight.pop((msg.channel, idx), None)

    def _on_drw(self, msg: codec.Drw) -> None:
        if self.ack:
            ack = codec.encode_drw_ack(msg.channel, [msg.index])
            self.send(ack + b"\0" * (32 - len(ack)) if self.pad_acks else ack)
        ch = msg.channel
        nxt = self.rx_next.setdefault(ch, 0)
        buf = self.received.setdefault(ch, bytearray())
        ahead = self.rx_ahead.setdefault(ch, {})
        dist = (msg.index - nxt) & 0xFFFF
        if dist >= 0x8000:
            return
        ahead[msg.index] = msg.payload
        while nxt in ahead:
            buf += ahead.pop(nxt)
            nxt = (nxt + 1) & 0xFFFF
        self.rx_next[ch] = nxt

    def write(self, ch: int, data: bytes) -> None:
        """Queue data on channel ``ch`` (sent by the resend loop, window 32)."""
        self._pending.setdefault(ch, []).extend(
            data[i : i + 1024] for i in range(0, len(data), 1024)
        )

    async def _resend_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.01)
            if self.mute or self.client is None:
                continue
            now = loop.time()
            for key, (raw, sent) in list(self.inflight.items()):
                if now - sent > 0.05:
                    self.inflight[key] = (raw, now)
                    self.send(raw)
            for ch, chunks in self._pending.items():
                while chunks and len(self.inflight) < 32:
                    idx = self.tx_next.get(ch, 0)
                    self.tx_next[ch] = (idx + 1) & 0xFFFF
                    raw = codec.encode_drw(ch, idx, chunks.pop(0))
                    self.inflight[(ch, idx)] = (raw, now)
                    self.send(raw)

    async def wait_received(self, ch: int, size: int, limit: float = 5.0) -> bytes:
        await _until(lambda: len(self.received.get(ch, b"")) >= size, limit)
        return bytes(self.received[ch])

    async def wait_log(self, msg_type: int, limit: float = 2.0) -> None:
        await _until(lambda: msg_type in self.log, limit)


class LossyRelay:
    """Mirrors each device port on a front port, dropping/duplicating/delaying datagrams."""

    def __init__(self, loss: float, dup: float, max_delay: float, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.loss, self.dup, self.max_delay = loss, dup, max_delay
        self.client: Addr | None = None
        self.fronts: dict[int, asyncio.DatagramTransport] = {}  # device port -> front
        self.dropped = 0
        self.delayed: list[asyncio.TimerHandle] = []

    async def start(self, device_ports: list[int]) -> LossyRelay:
        self.upstream = await _udp(self._from_device)
        for port in device_ports:
            self.fronts[port] = await _udp(self._make_from_client(port))
        return self

    def front_port(self, device_port: int) -> int:
        return _port(self.fronts[device_port])

    def stop(self) -> None:
        for handle in self.delayed:  # no timer may outlive the test
            handle.cancel()
        self.delayed.clear()
        self.upstream.close()
        for front in self.fronts.values():
            front.close()

    def _forward(self, transport: asyncio.DatagramTransport, data: bytes, addr: Addr) -> None:
        loop = asyncio.get_running_loop()
        if self.rng.random() < self.loss:
            self.dropped += 1
            return
        copies = 2 if self.rng.random() < self.dup else 1
        for _ in range(copies):
            delay = self.rng.uniform(0, self.max_delay)
            handle = loop.call_later(delay, self._sendto, transport, data, addr)
            self.delayed.append(handle)  # (cancelling one that already ran is harmless)

    @staticmethod
    def _sendto(transport: asyncio.DatagramTransport, data: bytes, addr: Addr) -> None:
        if not transport.is_closing():
            transport.sendto(data, addr)

    def _make_from_client(self, port: int) -> Callable[[bytes, Addr], None]:
        def handler(data: bytes, addr: Addr) -> None:
            self.client = addr
            self._forward(self.upstream, data, (LOCAL, port))

        return handler

    def _from_device(self, data: bytes, addr: Addr) -> None:
        front = self.fronts.get(addr[1])
        if front is not None and self.client is not None:
            self._forward(front, data, self.client)


@pytest.fixture
async def device() -> Any:
    dev = await FakeDevice().start()
    yield dev
    dev.stop()


async def _connect(port: int, **kw: Any) -> PpppConnection:
    kw.setdefault("connect_timeout", 2.0)
    kw.setdefault("rto_min", 0.05)
    return await PpppConnection.connect(LOCAL, port, local_host=LOCAL, **kw)


# -- handshake -----------------------------------------------------------------------


async def test_handshake_plain(device: FakeDevice) -> None:
    conn = await _connect(device.search_port)
    try:
        assert conn.did == DID
        assert conn.remote == (LOCAL, device.session_port)
        assert conn.is_open
        await device.wait_log(codec.MsgType.ALIVE)
        assert codec.MsgType.PUNCH_PKT in device.log or codec.MsgType.P2P_RDY in device.log
    finally:
        await conn.close()


async def test_handshake_encrypted() -> None:
    dev = await FakeDevice(key="camera").start()
    try:
        with pytest.raises(CameraTimeoutError):
            await _connect(dev.search_port, connect_timeout=0.4)
        conn = await _connect(dev.search_port, key="camera")
        conn.channel(0).write(b"hello")
        assert await dev.wait_received(0, 5) == b"hello"
        dev.write(2, b"world")
        assert await conn.channel(2).readexactly(5) == b"world"
        await conn.close()
    finally:
        dev.stop()


async def test_handshake_did_mismatch(device: FakeDevice) -> None:
    with pytest.raises(CameraTimeoutError):
        await _connect(device.search_port, did=DeviceId("ABCD", 1, "EFGHJ"), connect_timeout=0.4)
    conn = await _connect(device.search_port, did=DeviceId.parse("dgok123456abcde"))
    await conn.close()


async def test_connect_direct_to_session_port(device: FakeDevice) -> None:
    conn = await _connect(device.session_port, did=DID, lan_search=False)
    try:
        assert conn.remote == (LOCAL, device.session_port)
    finally:
        await conn.close()


async def test_connect_timeout_no_device() -> None:
    silent = await _udp(lambda d, a: None)
    try:
        with pytest.raises(CameraTimeoutError):
            await _connect(_port(silent), connect_timeout=0.3)
    finally:
        silent.close()


# -- DRW -----------------------------------------------------------------------------


async def test_drw_lossy_relay_both_directions(device: FakeDevice) -> None:
    relay = await LossyRelay(loss=0.10, dup=0.05, max_delay=0.01).start(
        [device.search_port, device.session_port]
    )
    conn = await _connect(relay.front_port(device.search_port), connect_timeout=3.0)
    try:
        assert conn.remote == (LOCAL, relay.front_port(device.session_port))
        up = os.urandom(300_000)
        down = os.urandom(300_000)
        ch0, ch1 = conn.channel(0), conn.channel(1)
        for i in range(0, len(up), 7000):  # odd-sized writes
            ch0.write(up[i : i + 7000])
        device.write(1, down)
        got_down = await asyncio.wait_for(ch1.readexactly(len(down)), 10)
        got_up = await device.wait_received(0, len(up), limit=10)
        assert got_down == down
        assert got_up == up
        await asyncio.wait_for(ch0.drain(), 5)
        assert ch0.pending == 0
        assert relay.dropped > 20
        assert conn.stats.retransmissions > 0
        assert conn.stats.duplicates > 0
        assert conn.counters.out_of_order > 0
        assert conn.stats.bytes_received == len(down)
        assert conn.counters.acks_sent < conn.counters.drw_received  # batched ACKs
    finally:
        await conn.close()
        relay.stop()


async def test_packet_handler_and_padded_acks(device: FakeDevice) -> None:
    device.pad_acks = True
    conn = await _connect(device.search_port)
    try:
        got: list[bytes] = []
        conn.channel(1).set_packet_handler(got.append)
        data = os.urandom(5000)
        device.write(1, data)
        conn.channel(3).write(b"x" * 3000)
        await _until(lambda: sum(map(len, got)) >= len(data), 3)
        assert [len(p) for p in got] == [1024, 1024, 1024, 1024, 904]
        assert b"".join(got) == data
        await asyncio.wait_for(conn.channel(3).drain(), 2)  # padded ACKs accepted
        assert conn.channel(1).buffered == 0
    finally:
        await conn.close()


async def test_index_wraparound(device: FakeDevice) -> None:
    conn = await _connect(device.search_port)
    try:
        ch = conn.channel(0)
        ch._tx_next = 0xFFF0
        device.rx_next[0] = 0xFFF0
        ch._rx_next = 0xFFF8
        device.tx_next[2] = 0xFFF8
        conn.channel(2)._rx_next = 0xFFF8
        data = os.urandom(40 * 1024)
        ch.write(data)
        device.write(2, data)
        assert await device.wait_received(0, len(data)) == data
        assert await asyncio.wait_for(conn.channel(2).readexactly(len(data)), 3) == data
        assert ch._tx_next == (0xFFF0 + 40) & 0xFFFF
    finally:
        await conn.close()


async def test_index_restart_accepted(device: FakeDevice) -> None:
    conn = await _connect(device.search_port)
    try:
        ch = conn.channel(1)
        first = os.urandom(300 * 1024)
        device.write(1, first)
        assert await asyncio.wait_for(ch.readexactly(len(first)), 5) == first
        device.tx_next[1] = 0  # VStarcam quirk: new stream restarts the index
        device.write(1, b"again")
        assert await asyncio.wait_for(ch.readexactly(5), 2) == b"again"
        assert conn.counters.index_restarts == 1
    finally:
        await conn.close()


async def test_duplicates_are_acked_again(device: FakeDevice) -> None:
    conn = await _connect(device.search_port)
    try:
        ch = conn.channel(0)
        device.send(codec.encode_drw(0, 1, b"B"))  # ahead: buffered, acked
        device.send(codec.encode_drw(0, 1, b"B"))  # duplicate in the reorder buffer
        device.send(codec.encode_drw(0, 0, b"A"))
        device.send(codec.encode_drw(0, 0, b"A"))  # duplicate behind
        assert await asyncio.wait_for(ch.readexactly(2), 2) == b"AB"
        await _until(lambda: sum(len(a) for a in device.acks) >= 4)
        acked = sorted(i for a in device.acks for i in a)
        assert acked == [0, 0, 1, 1]
        assert conn.stats.duplicates == 2
        assert ch.buffered == 0
    finally:
        await conn.close()


async def test_burst_acked_at_once_per_batch(device: FakeDevice) -> None:
    # ack_delay far beyond the wait: any ACK seen comes from the receive batch.
    conn = await _connect(device.search_port, ack_delay=60.0)
    try:
        ch = conn.channel(1)
        sizes = [1024] * 5 + [100]  # a frame: full DRWs, then a short last piece
        for index, size in enumerate(sizes):  # one burst: all queued before the client reads
            device.send(codec.encode_drw(1, index, bytes([index]) * size))
        assert await asyncio.wait_for(ch.readexactly(sum(sizes)), 2) == b"".join(
            bytes([i]) * size for i, size in enumerate(sizes)
        )
        await _until(lambda: sum(len(a) for a in device.acks) >= 6)
        assert device.acks == [(0, 1, 2, 3, 4, 5)]  # one DRW_ACK for the whole burst
        assert conn._ack_handle is None  # no ACK timer left armed
        device.send(codec.encode_drw(1, 6, b"z"))  # a lone datagram: acked in its own wake
        await _until(lambda: len(device.acks) == 2)
        assert device.acks[1] == (6,)
    finally:
        await conn.close()


async def test_read_semantics(device: FakeDevice) -> None:
    conn = await _connect(device.search_port)
    try:
        ch = conn.channel(0)
        device.write(0, b"0123456789")
        assert await asyncio.wait_for(ch.read(4), 2) == b"0123"
        await _until(lambda: ch.buffered == 6)
        assert await ch.read() == b"456789"
        pending = asyncio.ensure_future(ch.read())
        await asyncio.sleep(0.05)
        assert not pending.done()  # read() waits for data, it does not return b""
        device.write(0, b"x")
        assert await asyncio.wait_for(pending, 2) == b"x"
    finally:
        await conn.close()


async def test_small_index_restart_needs_permission(device: FakeDevice) -> None:
    conn = await _connect(device.search_port)
    try:
        ch = conn.channel(1)
        device.write(1, b"a" * 10 * 1024)
        assert await asyncio.wait_for(ch.readexactly(10 * 1024), 2) == b"a" * 10 * 1024
        # a lone index 0 ten packets behind is a duplicate ...
        device.send(codec.encode_drw(1, 0, b"old"))
        await asyncio.sleep(0.05)
        assert ch.buffered == 0
        # ... unless the app layer announced a stream restart
        ch.allow_index_restart()
        device.tx_next[1] = 0
        device.write(1, b"new stream")
        assert await asyncio.wait_for(ch.readexactly(10), 2) == b"new stream"
        assert conn.counters.index_restarts == 1
    finally:
        await conn.close()


async def test_malformed_and_foreign_ignored(device: FakeDevice) -> None:
    conn = await _connect(device.search_port)
    try:
        device.send(b"\xf1\xd0\x00\x40\xd1\x00")  # length beyond datagram
        device.send(b"\x00\x01")
        device.send(b"\xf1\xd0\x00\x04\xd1\x09\x00\x00")  # channel 9
        stranger = await _udp(lambda d, a: None)
        stranger.sendto(codec.CLOSE, conn.remote)
        device.write(0, b"still here")
        assert await asyncio.wait_for(conn.channel(0).readexactly(10), 2) == b"still here"
        assert conn.stats.malformed == 3
        assert conn.counters.foreign >= 1
        assert conn.is_open
        stranger.close()
    finally:
        await conn.close()


async def test_give_up_without_acks(device: FakeDevice) -> None:
    conn = await _connect(device.search_port, give_up_timeout=0.3)
    lost: list[ChinesiumError] = []
    conn.on_lost(lost.append)
    device.ack = False
    conn.channel(0).write(b"never acked")
    await _until(lambda: bool(lost))
    assert isinstance(lost[0], CameraTimeoutError)
    assert conn.stats.retransmissions >= 2
    with pytest.raises(SessionClosedError):
        conn.channel(0).write(b"more")
    await conn.close()


# -- keepalive / close ---------------------------------------------------------------


async def test_keepalive_answered_and_sent(device: FakeDevice) -> None:
    conn = await _connect(device.search_port, alive_interval=0.1, silence_timeout=2.0)
    try:
        device.log.clear()
        device.send(codec.ALIVE)
        await asyncio.sleep(0.35)
        assert conn.counters.alive_received == 1
        assert device.log.count(codec.MsgType.ALIVE) >= 1  # we send ALIVE when idle
        assert conn.is_open  # the device's ALIVE_ACKs keep us alive
    finally:
        await conn.close()


async def test_alive_from_device_is_acked(device: FakeDevice) -> None:
    conn = await _connect(device.search_port)
    try:
        device.send(codec.ALIVE)
        await device.wait_log(codec.MsgType.ALIVE_ACK)
        assert conn.counters.alive_received == 1
    finally:
        await conn.close()


async def test_silence_calls_on_lost(device: FakeDevice) -> None:
    conn = await _connect(device.search_port, alive_interval=0.05, silence_timeout=0.3)
    lost: list[ChinesiumError] = []
    conn.on_lost(lost.append)
    reader = asyncio.ensure_future(conn.channel(0).read())
    device.mute = True
    await _until(lambda: bool(lost))
    assert len(lost) == 1
    assert isinstance(lost[0], CameraTimeoutError)
    with pytest.raises(SessionClosedError):
        await reader
    assert not conn.is_open
    late: list[ChinesiumError] = []
    conn.on_lost(late.append)  # registered after the loss: still told once
    await asyncio.sleep(0.01)
    assert len(late) == 1
    await conn.close()
    assert len(lost) == 1


async def test_peer_close_calls_on_lost(device: FakeDevice) -> None:
    conn = await _connect(device.search_port)
    lost: list[ChinesiumError] = []
    conn.on_lost(lost.append)
    device.send(codec.CLOSE)
    await _until(lambda: bool(lost))
    assert isinstance(lost[0], SessionClosedError)
    with pytest.raises(SessionClosedError):
        await conn.channel(0).readexactly(1)
    await conn.close()
    assert len(lost) == 1


async def test_close_sends_close_and_is_idempotent(device: FakeDevice) -> None:
    conn = await _connect(device.search_port)
    lost: list[ChinesiumError] = []
    conn.on_lost(lost.append)
    reader = asyncio.ensure_future(conn.channel(0).read())
    await asyncio.sleep(0)
    await conn.close()
    await device.wait_log(codec.MsgType.CLOSE)
    await asyncio.sleep(0.05)
    assert device.log.count(codec.MsgType.CLOSE) >= 2
    with pytest.raises(SessionClosedError):
        await reader
    await conn.close()
    with pytest.raises(SessionClosedError):
        conn.channel(0).write(b"x")
    assert lost == []  # our own close is not a loss


# -- discovery -----------------------------------------------------------------------


async def test_discovery_plain_and_encrypted() -> None:
    plain = await FakeDevice(DeviceId("BATC", 609531, "EXLVS")).start()
    shix = await FakeDevice(DeviceId("DGOA", 12, "KLMNP"), key="camera").start()
    silent = await _udp(lambda d, a: None)
    try:
        found = await discover_pppp(
            [(LOCAL, plain.search_port), (LOCAL, shix.search_port), (LOCAL, _port(silent))],
            timeout=0.6,
            bind_host=LOCAL,
        )
        by_uid = {info.uid: info for info in found}
        assert set(by_uid) == {"BATC-609531-EXLVS", "DGOA-000012-KLMNP"}
        a, b = by_uid["BATC-609531-EXLVS"], by_uid["DGOA-000012-KLMNP"]
        assert a.family is Family.PPPP
        assert b.family is Family.PPPP
        assert (a.host, a.port) == (LOCAL, plain.search_port)
        assert a.extra["key"] is None
        assert a.extra["session_port"] == plain.session_port
        assert b.extra["key"] == "camera"
        assert a.app_layer == "ilnk"
        assert b.app_layer == "shix"
        # a discovered camera can be connected with what discovery reported
        conn = await _connect(b.port, key=b.extra["key"], did=DeviceId.parse(b.uid))
        await conn.close()
    finally:
        plain.stop()
        shix.stop()
        silent.close()


def test_identify() -> None:
    assert identify(DeviceId("DGOK", 1, "BCDEF"), "camera") == "shix"
    assert identify(DeviceId("XYZW", 1, "BCDEF"), "camera") == "shix"
    assert identify(DeviceId("VSTJ", 1, "BCDEF"), "vstarcam2019") == "vstarcam"
    assert identify(DeviceId("FTYC", 1, "ABCDE"), None) == "ilnk"
    assert identify(DeviceId("ZZZZ", 1, "ABCDE"), None) == "ilnk"  # legacy iLnk check code
    assert identify(DeviceId("GHBB", 1, "NRLXW"), None) == "lookcam"
    assert identify(DeviceId("ZZZZ", 1, "NRLXW"), None) is None


def test_struct_sanity() -> None:
    # guard: the DRW header layout used by the fake device
    assert struct.unpack(">BBHBBH", codec.encode_drw(3, 0x1234, b"")) == (
        0xF1,
        0xD0,
        4,
        0xD1,
        3,
        0x1234,
    )
