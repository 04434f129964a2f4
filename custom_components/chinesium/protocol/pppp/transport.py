"""PPPP LAN transport: handshake, DRW reliable channels, keepalive (pppp.md §3-§4).

Usage (the app layers build on this)::

    conn = await PpppConnection.connect("192.0.2.7", 32108, key="camera")
    conn.on_lost(lambda err: ...)
    ch0 = conn.channel(0)
    ch0.write(request)
    reply = await ch0.readexactly(8)
    conn.channel(1).set_packet_handler(on_video_payload)
    await conn.close()

One UDP socket per connection. The receive path decrypts (if a key is set),
parses the header inline and hands DRW payloads to their channel; every DRW
we send is retransmitted with the same index until acknowledged.

ACKs go out per receive batch: once the session is established, the datagram
that woke the event loop and, if it is a full-size DRW, every datagram
already queued behind it (up to :data:`MAX_BATCH`) are handled, then their
ACKs leave as one DRW_ACK per channel (pppp.md §4.2 allows anything from one
ACK per DRW to the CS2 library's 10 ms batches). A video frame is a burst of
DRWs, so this sends about one DRW_ACK per frame without an ACK timer: waking
an idle process costs far more CPU than the ACK itself (bench/h264.py). Datagrams
handed to :meth:`PpppConnection._on_datagram` outside a batch (handshake,
tests) keep the timer: flushed after ``ack_delay`` or when 32 are pending.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, fields
import logging
import socket
import struct
from typing import Any

from ..errors import (
    CameraConnectionError,
    CameraTimeoutError,
    ChinesiumError,
    SessionClosedError,
)
from ..model import SessionStats
from ..trace import TraceRecorder
from .codec import (
    ALIVE,
    ALIVE_ACK,
    CLOSE,
    LAN_SEARCH,
    MAX_ACK_INDICES,
    MAX_CHANNELS,
    MAX_DRW_PAYLOAD,
    MsgType,
    P2pRdy,
    PunchPkt,
    decode,
    encode_drw,
    encode_drw_ack,
    encode_p2p_rdy,
    encode_punch,
)
from .crypto import Cipher
from .devid import DeviceId

_LOGGER = logging.getLogger(__name__)

PPPP_SEARCH_PORT = 32108
SEARCH_INTERVAL = 0.5
"""Seconds between LAN_SEARCH retries while connecting."""
PUNCH_INTERVAL = 0.25
"""Seconds between PUNCH_PKT/P2P_RDY retries until the device answers P2P_RDY."""
ACK_FLUSH_COUNT = 32
"""Pending ACK indices of one channel that force an immediate DRW_ACK."""
RX_WINDOW = 2048
"""How far ahead of the next expected index a DRW is buffered (else dropped, unacked)."""
RESTART_DISTANCE = 256
"""An index 0 this far behind the expected index means the sender restarted its count."""
MAX_RX_BUFFER = 16 * 1024 * 1024
"""Unread stream bytes kept per channel; older bytes are discarded beyond this."""

RCVBUF = 1 << 20
"""Receive buffer asked for (the kernel may cap it at net.core.rmem_max), as for TEG."""
FULL_DRW = 8 + MAX_DRW_PAYLOAD
"""Size of a DRW datagram with a full payload. A shorter one usually ends a burst
(a frame's last piece, a small P-frame, a reply), so its batch skips the extra
non-blocking read; anything queued after it wakes the loop as usual."""
MAX_BATCH = 64
"""Queued datagrams read after the one that woke the loop, before the batch's ACKs go."""
RECV_SIZE = 65536
"""Largest datagram read (as asyncio's datagram transport)."""
MIN_TIMER_STEP = 0.01
"""Shortest sleep of the keepalive loop."""

_U16 = struct.Struct(">H")


@dataclass(slots=True)
class TransportCounters:
    """Transport-level counters beyond :class:`SessionStats` (diagnostics)."""

    datagrams_sent: int = 0
    drw_sent: int = 0
    drw_received: int = 0
    out_of_order: int = 0
    acks_sent: int = 0
    acks_received: int = 0
    fast_retransmits: int = 0
    alive_sent: int = 0
    alive_received: int = 0
    foreign: int = 0
    """Datagrams from addresses other than the camera's session address (ignored)."""
    index_restarts: int = 0
    rx_overflow_bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        """Counters as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class _Inflight:
    __slots__ = ("datagram", "index", "later_acks", "rto", "sent_at", "tries")

    def __init__(self, index: int, datagram: bytes, now: float, rto: float) -> None:
        self.index = index
        self.datagram = datagram
        self.sent_at = now
        self.rto = rto
        self.tries = 1
        self.later_acks = 0


class DrwChannel:
    """One of the eight reliable, ordered byte streams of a connection."""

    def __init__(self, conn: PpppConnection, number: int) -> None:
        """Created by :meth:`PpppConnection.channel`; not for direct use."""
        self._conn = conn
        self.number = number
        # receive side
        self._rx_next = 0
        self._rx_ahead: dict[int, bytes] = {}
        self._rx_stream = bytearray()
        self._rx_waiters: list[asyncio.Future[None]] = []
        self._handler: Callable[[bytes], None] | None = None
        self._allow_restart = False
        # send side
        self._tx_next = 0
        self._tx_queue: deque[bytes] = deque()
        self._inflight: dict[int, _Inflight] = {}
        self._last_progress = 0.0
        self._drain_waiters: list[asyncio.Future[None]] = []

    # -- public API ----------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data`` for reliable, in-order delivery (split into ≤1024-byte DRWs)."""
        self._conn._check_open()
        view = memoryview(data)
        for start in range(0, len(view), MAX_DRW_PAYLOAD):
            self._tx_queue.append(bytes(view[start : start + MAX_DRW_PAYLOAD]))
        self._conn._pump(self)

    async def drain(self) -> None:
        """Wait until every byte written so far has been acknowledged by the peer."""
        while self._tx_queue or self._inflight:
            self._conn._check_open()
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._drain_waiters.append(fut)
            await fut
        self._conn._check_open()

    @property
    def pending(self) -> int:
        """DRW packets written but not yet acknowledged (queued + in flight)."""
        return len(self._tx_queue) + len(self._inflight)

    async def read(self, n: int = -1) -> bytes:
        """Wait for data and return what is buffered (at most ``n`` bytes if ``n`` > 0).

        Unlike :meth:`asyncio.StreamReader.read`, ``-1`` does not wait for EOF
        (a channel has none): it returns everything currently buffered.
        Raises :class:`SessionClosedError` once the connection is closed or lost
        and no data is left.
        """
        while not self._rx_stream:
            await self._wait_data()
        if n < 0 or n >= len(self._rx_stream):
            data = bytes(self._rx_stream)
            self._rx_stream.clear()
        else:
            data = bytes(self._rx_stream[:n])
            del self._rx_stream[:n]
        return data

    async def readexactly(self, n: int) -> bytes:
        """Return exactly ``n`` bytes; raises :class:`SessionClosedError` on close/loss."""
        while len(self._rx_stream) < n:
            await self._wait_data()
        data = bytes(self._rx_stream[:n])
        del self._rx_stream[:n]
        return data

    @property
    def buffered(self) -> int:
        """Received in-order bytes not yet read."""
        return len(self._rx_stream)

    def set_packet_handler(self, cb: Callable[[bytes], None] | None) -> None:
        """Deliver each in-order DRW payload to ``cb`` instead of the read buffer.

        ``None`` restores buffering. Bytes already buffered stay readable.
        The callback runs in the datagram handler: keep it short, don't raise.
        """
        self._handler = cb

    def allow_index_restart(self) -> None:
        """Accept the peer's next index 0 as a restart of its count on this channel.

        Some VStarcam firmwares restart the video index at 0 on every new stream
        request (pppp.md §4.1); call this just before sending such a request.
        """
        self._allow_restart = True

    # -- receive internals ---------------------------------------------------------

    async def _wait_data(self) -> None:
        conn = self._conn
        if conn._closed:
            raise conn._closed_error()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._rx_waiters.append(fut)
        try:
            await fut
        finally:
            if fut in self._rx_waiters:
                self._rx_waiters.remove(fut)

    def _wake_readers(self) -> None:
        for fut in self._rx_waiters:
            if not fut.done():
                fut.set_result(None)
        self._rx_waiters.clear()

    def _on_drw(self, index: int, payload: bytes) -> None:
        conn = self._conn
        dist = (index - self._rx_next) & 0xFFFF
        if dist == 0:
            conn._queue_ack(self.number, index)
            self._deliver(payload)
            nxt = (index + 1) & 0xFFFF
            ahead = self._rx_ahead
            if ahead:
                while (more := ahead.pop(nxt, None)) is not None:
                    self._deliver(more)
                    nxt = (nxt + 1) & 0xFFFF
            self._rx_next = nxt
            self._allow_restart = False
        elif dist < 0x8000:
            if dist >= RX_WINDOW:
                return  # too far ahead: drop without ACK, the peer will resend
            conn._queue_ack(self.number, index)
            if index in self._rx_ahead:
                conn.stats.duplicates += 1
            else:
                conn.counters.out_of_order += 1
                self._rx_ahead[index] = payload
        else:
            if index == 0 and (self._allow_restart or 0x10000 - dist > RESTART_DISTANCE):
                conn.counters.index_restarts += 1
                self._rx_ahead.clear()
                self._rx_next = 0
                self._on_drw(index, payload)
                return
            conn._queue_ack(self.number, index)
            conn.stats.duplicates += 1

    def _deliver(self, payload: bytes) -> None:
        self._conn.stats.bytes_received += len(payload)
        handler = self._handler
        if handler is not None:
            try:
                handler(payload)
            except Exception:
                _LOGGER.exception("DRW packet handler failed (channel %d)", self.number)
            return
        buf = self._rx_stream
        buf += payload
        if len(buf) > MAX_RX_BUFFER:
            excess = len(buf) - MAX_RX_BUFFER
            del buf[:excess]
            self._conn.counters.rx_overflow_bytes += excess
        if self._rx_waiters:
            self._wake_readers()

    # -- send internals ------------------------------------------------------------

    def _wake_drainers(self) -> None:
        for fut in self._drain_waiters:
            if not fut.done():
                fut.set_result(None)
        self._drain_waiters.clear()

    def _fail(self) -> None:
        self._wake_readers()
        self._wake_drainers()

    def _release(self) -> None:
        """The connection is gone: drop the handler, pending sends and out-of-order data."""
        self._fail()
        self._handler = None
        self._rx_ahead.clear()
        self._tx_queue.clear()
        self._inflight.clear()


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, conn: PpppConnection) -> None:
        self._conn = conn

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._conn._on_wake(data, addr)

    def error_received(self, exc: Exception) -> None:
        self._conn._on_socket_error(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self._conn._on_socket_error(exc)


class PpppConnection:
    """A PPPP LAN session with one device; create it with :meth:`connect`."""

    def __init__(
        self,
        *,
        key: str | None = None,
        alive_interval: float = 1.0,
        silence_timeout: float = 8.0,
        ack_delay: float = 0.005,
        rto_min: float = 0.3,
        rto_max: float = 1.0,
        give_up_timeout: float = 10.0,
        window: int = 64,
        stats: SessionStats | None = None,
        trace: TraceRecorder | None = None,
    ) -> None:
        """Prepare an unconnected instance; use :meth:`connect` instead."""
        self._loop = asyncio.get_running_loop()
        self.key = key or None
        self._cipher = Cipher.create(key) if key else None
        self.alive_interval = alive_interval
        self.silence_timeout = silence_timeout
        self.ack_delay = ack_delay
        self.rto_min = rto_min
        self.rto_max = rto_max
        self.give_up_timeout = give_up_timeout
        self.window = max(1, min(window, 128))
        self.stats = stats if stats is not None else SessionStats()
        self.counters = TransportCounters()
        self.trace = trace
        """Optional bounded recorder of the first datagrams each way (plaintext)."""
        self.did: DeviceId | None = None
        self.raw_did: bytes = b""
        self.remote: tuple[str, int] | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._sock: socket.socket | None = None
        self._in_batch = False
        self._channels: list[DrwChannel | None] = [None] * MAX_CHANNELS
        self._pending_acks: dict[int, list[int]] = {}
        self._ack_handle: asyncio.TimerHandle | None = None
        self._retx_handle: asyncio.TimerHandle | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._lost_cbs: list[Callable[[ChinesiumError], None]] = []
        self._lost_reason: ChinesiumError | None = None
        self._closed = False
        self._established = False
        self._last_rx = 0.0
        self._last_alive = 0.0
        self._srtt: float | None = None
        self._rttvar = 0.0
        # handshake state
        self._host_ip = ""
        self._want_did: DeviceId | None = None
        self._ready: asyncio.Future[None] | None = None
        self._progress = asyncio.Event()

    # -- construction --------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int = PPPP_SEARCH_PORT,
        *,
        did: DeviceId | None = None,
        key: str | None = None,
        local_host: str = "0.0.0.0",  # noqa: S104 - the product talks to the LAN
        local_port: int = 0,
        connect_timeout: float = 3.0,
        alive_interval: float = 1.0,
        silence_timeout: float = 8.0,
        lan_search: bool = True,
        stats: SessionStats | None = None,
        trace: TraceRecorder | None = None,
        **tuning: Any,
    ) -> PpppConnection:
        """Open a LAN session (pppp.md §3.2) and return it established.

        With ``lan_search`` (default) LAN_SEARCH goes to ``host:port`` (the
        device's search port, normally 32108) and the session continues with
        whichever port the device answers from; otherwise ``host:port`` is the
        device's session port and ``did`` is required. ``did`` (if given) must
        match the answering device. ``key`` is the PSK (``None`` = plaintext).
        ``tuning`` passes ``ack_delay``, ``rto_min``, ``rto_max``,
        ``give_up_timeout`` and ``window`` to the constructor. ``trace`` records the
        first datagrams each way (see :mod:`..trace`).
        Raises :class:`CameraTimeoutError` or :class:`CameraConnectionError`.
        """
        if not lan_search and did is None:
            raise ValueError("lan_search=False needs the device ID")
        conn = cls(
            key=key,
            alive_interval=alive_interval,
            silence_timeout=silence_timeout,
            stats=stats,
            trace=trace,
            **tuning,
        )
        loop = conn._loop
        try:
            infos = await loop.getaddrinfo(
                host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM
            )
            conn._host_ip = str(infos[0][4][0])
            local = await loop.getaddrinfo(
                local_host, local_port, family=socket.AF_INET, type=socket.SOCK_DGRAM
            )
            # Our own socket (not one asyncio makes): a receive batch drains it.
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                # Video arrives in bursts of ~1 KiB DRWs; a roomy buffer rides out
                # event-loop stalls instead of dropping (and waiting for retransmits).
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
                sock.bind(local[0][4])
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Protocol(conn), sock=sock
                )
            except BaseException:
                sock.close()
                raise
            conn._transport = transport
            conn._sock = sock
        except OSError as err:
            conn._abort()
            raise CameraConnectionError(f"cannot open PPPP socket to {host}: {err}") from err
        try:
            await conn._handshake(port, did, lan_search, connect_timeout)
        except BaseException:
            conn._abort()
            raise
        return conn

    async def _handshake(
        self, port: int, did: DeviceId | None, lan_search: bool, limit: float
    ) -> None:
        self._want_did = did
        self._ready = self._loop.create_future()
        if not lan_search:
            assert did is not None
            self.remote = (self._host_ip, port)
            self.did = did
            self.raw_did = did.encode()
        search_to = (self._host_ip, port)
        try:
            async with asyncio.timeout(limit):
                while not self._ready.done():
                    self._progress.clear()
                    if self.remote is None:
                        self._sendto(LAN_SEARCH, search_to)
                        interval = SEARCH_INTERVAL
                    else:
                        self._send_punch()
                        interval = PUNCH_INTERVAL
                    waiter: asyncio.Future[Any] = asyncio.ensure_future(self._progress.wait())
                    try:
                        await asyncio.wait(
                            (waiter, self._ready),
                            timeout=interval,
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                    finally:
                        waiter.cancel()
                await self._ready
        except TimeoutError as err:
            what = "PUNCH_PKT" if self.remote is None else "P2P_RDY"
            raise CameraTimeoutError(
                f"no {what} from {self._host_ip}:{port} within {limit:g} s"
            ) from err
        self._established = True
        self._last_rx = self._last_alive = self._loop.time()
        self._send(ALIVE)  # the official client answers P2P_RDY with ALIVE
        self.counters.alive_sent += 1
        self._keepalive = self._loop.create_task(self._keepalive_loop())

    def _send_punch(self) -> None:
        self._send(encode_punch(self.raw_did))
        self._send(encode_p2p_rdy(self.raw_did))

    # -- public API ----------------------------------------------------------------

    @property
    def local_port(self) -> int:
        """The local UDP port the connection is bound to (0 once released)."""
        transport = self._transport
        if transport is None:
            return 0
        sockname = transport.get_extra_info("sockname")
        return int(sockname[1]) if isinstance(sockname, tuple) and len(sockname) >= 2 else 0

    @property
    def is_open(self) -> bool:
        """True while the session is established and neither closed nor lost."""
        return self._established and not self._closed

    def channel(self, n: int) -> DrwChannel:
        """The DRW channel ``n`` (0-7)."""
        if not 0 <= n < MAX_CHANNELS:
            raise ValueError(f"PPPP channel {n} out of range 0..7")
        ch = self._channels[n]
        if ch is None:
            ch = self._channels[n] = DrwChannel(self, n)
        return ch

    def on_lost(self, cb: Callable[[ChinesiumError], None]) -> None:
        """Call ``cb(reason)`` once if the peer closes, goes silent or the socket fails."""
        if self._lost_reason is not None:
            self._loop.call_soon(cb, self._lost_reason)
        elif not self._closed:
            self._lost_cbs.append(cb)
        # closed by us: never lost, never called

    async def close(self) -> None:
        """Send CLOSE (three times) and release the socket; idempotent."""
        if self._closed:
            self._abort()
            return
        self._closed = True
        self._stop_timers()
        self._fail_channels()
        if self._established and self._transport is not None:
            for attempt in range(3):
                if attempt:
                    await asyncio.sleep(0.01)
                with contextlib.suppress(OSError):
                    self._send(CLOSE)
        self._abort()

    # -- sending -------------------------------------------------------------------

    def _sendto(self, raw: bytes, addr: tuple[str, int]) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        trace = self.trace
        if trace is not None:
            trace.record("tx", raw)
        if self._cipher is not None:
            raw = self._cipher.encrypt(raw)
        transport.sendto(raw, addr)
        self.counters.datagrams_sent += 1

    def _send(self, raw: bytes) -> None:
        if self.remote is not None:
            self._sendto(raw, self.remote)

    def _send_wire(self, datagram: bytes) -> None:
        """Send an already-encrypted datagram to the peer."""
        transport = self._transport
        if transport is None or transport.is_closing() or self.remote is None:
            return
        transport.sendto(datagram, self.remote)
        self.counters.datagrams_sent += 1

    def _check_open(self) -> None:
        if self._closed:
            raise self._closed_error()

    def _closed_error(self) -> SessionClosedError:
        reason = self._lost_reason
        if reason is None:
            return SessionClosedError("PPPP session closed")
        err = SessionClosedError(f"PPPP session lost: {reason}")
        err.__cause__ = reason
        return err

    def _rto(self) -> float:
        if self._srtt is None:
            return self.rto_min
        return min(self.rto_max, max(self.rto_min, self._srtt + 4 * self._rttvar))

    def _pump(self, ch: DrwChannel) -> None:
        """Move queued payloads of ``ch`` into flight while the window allows."""
        queue = ch._tx_queue
        inflight = ch._inflight
        if not queue or self._closed:
            return
        now = self._loop.time()
        if not inflight:
            ch._last_progress = now
        window = self.window
        rto = self._rto()
        cipher = self._cipher
        while queue and len(inflight) < window:
            if inflight:
                oldest = next(iter(inflight))
                if ((ch._tx_next - oldest) & 0xFFFF) >= 2 * window:
                    break
            payload = queue.popleft()
            index = ch._tx_next
            ch._tx_next = (index + 1) & 0xFFFF
            datagram = encode_drw(ch.number, index, payload)
            if self.trace is not None:
                self.trace.record("tx", datagram)
            if cipher is not None:
                datagram = cipher.encrypt(datagram)
            inflight[index] = _Inflight(index, datagram, now, rto)
            self._send_wire(datagram)
            self.counters.drw_sent += 1
        if inflight and self._retx_handle is None:
            self._retx_handle = self._loop.call_later(self._tick(), self._retx_tick)

    def _tick(self) -> float:
        return max(0.01, self.rto_min / 3)

    def _retx_tick(self) -> None:
        self._retx_handle = None
        if self._closed:
            return
        now = self._loop.time()
        busy = False
        for ch in self._channels:
            if ch is None or not ch._inflight:
                continue
            busy = True
            if now - ch._last_progress > self.give_up_timeout:
                self._lost(
                    CameraTimeoutError(
                        f"no DRW_ACK progress on channel {ch.number} for {self.give_up_timeout:g} s"
                    )
                )
                return
            for entry in ch._inflight.values():
                if now - entry.sent_at >= entry.rto:
                    self._retransmit(entry, now)
        if busy:
            self._retx_handle = self._loop.call_later(self._tick(), self._retx_tick)

    def _retransmit(self, entry: _Inflight, now: float) -> None:
        entry.sent_at = now
        entry.tries += 1
        entry.rto = min(self.rto_max, entry.rto * 2)
        entry.later_acks = 0
        self.stats.retransmissions += 1
        self._send_wire(entry.datagram)

    def _on_acks(self, ch: DrwChannel, indices: tuple[int, ...]) -> None:
        inflight = ch._inflight
        if not inflight:
            return
        now = self._loop.time()
        newest: int | None = None
        for index in indices:
            entry = inflight.pop(index, None)
            if entry is None:
                continue
            newest = index
            if entry.tries == 1:
                self._rtt_sample(now - entry.sent_at)
        if newest is None:
            return
        ch._last_progress = now
        # Fast retransmit: packets older than an acked one that keep being skipped.
        for entry in inflight.values():
            if not 0 < ((newest - entry.index) & 0xFFFF) < 0x8000:
                break
            entry.later_acks += 1
            if entry.later_acks >= 3 and now - entry.sent_at >= min(entry.rto, self._rto()) / 2:
                self.counters.fast_retransmits += 1
                self._retransmit(entry, now)
                entry.rto = max(entry.rto / 2, self._rto())
        if ch._tx_queue:
            self._pump(ch)
        if not inflight and not ch._tx_queue:
            ch._wake_drainers()

    def _rtt_sample(self, rtt: float) -> None:
        if self._srtt is None:
            self._srtt = rtt
            self._rttvar = rtt / 2
        else:
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - rtt)
            self._srtt = 0.875 * self._srtt + 0.125 * rtt

    def _queue_ack(self, channel: int, index: int) -> None:
        pending = self._pending_acks.get(channel)
        if pending is None:
            pending = self._pending_acks[channel] = []
        pending.append(index)
        if len(pending) >= ACK_FLUSH_COUNT:
            self._flush_channel_acks(channel, pending)
            del self._pending_acks[channel]
        elif self._ack_handle is None and not self._in_batch:
            # (a receive batch flushes its ACKs when it ends)
            self._ack_handle = self._loop.call_later(self.ack_delay, self._flush_acks)

    def _flush_acks(self) -> None:
        if self._ack_handle is not None:
            self._ack_handle.cancel()
            self._ack_handle = None
        pending = self._pending_acks
        self._pending_acks = {}
        for channel, indices in pending.items():
            self._flush_channel_acks(channel, indices)

    def _flush_channel_acks(self, channel: int, indices: list[int]) -> None:
        for start in range(0, len(indices), MAX_ACK_INDICES):
            self._send(encode_drw_ack(channel, indices[start : start + MAX_ACK_INDICES]))
            self.counters.acks_sent += 1

    # -- receiving -----------------------------------------------------------------

    def _on_wake(self, data: bytes, addr: tuple[Any, int]) -> None:
        """A datagram read by the event loop's reader: handle it and the queued ones, ACK."""
        if not self._established:
            self._on_datagram(data, addr)
            return
        self._in_batch = True
        try:
            self._on_datagram(data, addr)
            if len(data) >= FULL_DRW:  # a burst goes on: read what is queued behind it
                self._drain()
        finally:
            self._in_batch = False
            if self._pending_acks and not self._closed:
                self._flush_acks()

    def _drain(self) -> None:
        """Handle the datagrams already queued on the socket (non-blocking reads)."""
        sock = self._sock
        if sock is None:
            return
        handle = self._on_datagram
        for _ in range(MAX_BATCH):
            if self._closed:
                return
            try:
                data, addr = sock.recvfrom(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                continue  # ICMP port unreachable: the silence timeout decides
            except OSError as exc:
                self._on_socket_error(exc)
                return
            handle(data, addr)

    def _on_datagram(self, data: bytes, addr: tuple[Any, int]) -> None:
        if not self._established:
            self._on_handshake_datagram(data, addr)
            return
        if addr != self.remote:
            self.counters.foreign += 1
            return
        self._last_rx = self._loop.time()
        self.stats.packets += 1
        if self._cipher is not None:
            data = self._cipher.decrypt(data)
        if self.trace is not None:
            self.trace.record("rx", data)
        self._on_plain(data)

    def _on_plain(self, data: bytes) -> None:
        stats = self.stats
        size = len(data)
        if size < 4 or data[0] != 0xF1:
            stats.malformed += 1
            return
        msg_type = data[1]
        end = 4 + ((data[2] << 8) | data[3])
        if end > size:
            stats.malformed += 1
            return
        if msg_type == MsgType.DRW:
            if end < 8 or data[5] >= MAX_CHANNELS:
                stats.malformed += 1
                return
            self.counters.drw_received += 1
            rx = self._channels[data[5]] or self.channel(data[5])
            # The payload copy is deliberate: a 1 KiB bytes slice (~90 ns) is cheaper
            # in CPython than a memoryview slice (~185 ns) plus joining views later.
            rx._on_drw((data[6] << 8) | data[7], data[8:end])
        elif msg_type == MsgType.DRW_ACK:
            if end < 8 or data[5] >= MAX_CHANNELS:
                stats.malformed += 1
                return
            count = (data[6] << 8) | data[7]
            if 8 + 2 * count > end:
                stats.malformed += 1
                return
            self.counters.acks_received += 1
            ch = self._channels[data[5]]
            if ch is not None:
                self._on_acks(ch, struct.unpack_from(f">{count}H", data, 8))
        elif msg_type == MsgType.ALIVE:
            self.counters.alive_received += 1
            self._send(ALIVE_ACK)
        elif msg_type == MsgType.CLOSE:
            self._lost(SessionClosedError("camera closed the PPPP session"))
        # ALIVE_ACK, repeated P2P_RDY / PUNCH_PKT and anything else: nothing to do

    def _on_handshake_datagram(self, data: bytes, addr: tuple[Any, int]) -> None:
        if addr[0] != self._host_ip or self._ready is None or self._ready.done():
            self.counters.foreign += 1
            return
        self.stats.packets += 1
        if self._cipher is not None:
            data = self._cipher.decrypt(data)
        trace = self.trace
        try:
            msg = decode(data)
        except ChinesiumError:
            if trace is not None:
                trace.record("rx", data, port=int(addr[1]))
            self.stats.malformed += 1
            return
        if trace is not None:
            if isinstance(msg, PunchPkt | P2pRdy):
                trace.device_id(str(msg.did), msg.raw_did)  # before the DID is recorded
            trace.record("rx", data, port=int(addr[1]))
        if isinstance(msg, PunchPkt | P2pRdy):
            if self._want_did is not None and not msg.did.matches(self._want_did):
                self.counters.foreign += 1
                return
            if self.remote is None:
                self.remote = (addr[0], addr[1])
                self.did = msg.did
                self.raw_did = msg.raw_did
                self._progress.set()
            elif addr != self.remote:
                return
            if isinstance(msg, P2pRdy):
                self.did = msg.did
                self._ready.set_result(None)
            return
        if addr != self.remote:
            return
        if msg.type == MsgType.ALIVE:
            self._sendto(ALIVE_ACK, addr)
        elif msg.type == MsgType.DRW:
            # The device considers the session up; take it as established.
            self._ready.set_result(None)
            self._established = True
            self._last_rx = self._loop.time()
            self._on_plain(data)
        elif msg.type == MsgType.CLOSE:
            self._ready.set_exception(SessionClosedError("camera closed during handshake"))

    # -- keepalive / loss ----------------------------------------------------------

    async def _keepalive_loop(self) -> None:
        """ALIVE after ``alive_interval`` of silence (then every interval), lost after
        ``silence_timeout``. Sleeps until the next moment one of them can be due, so
        a streaming session wakes about once per ``alive_interval``, not per packet."""
        loop = self._loop
        alive, silence = self.alive_interval, self.silence_timeout
        while not self._closed:
            now = loop.time()
            last_rx = self._last_rx
            idle = now - last_rx
            if idle >= silence:
                self._lost(CameraTimeoutError(f"camera silent for {silence:g} s"))
                return
            if idle >= alive and now - self._last_alive >= alive:
                self._last_alive = now
                self._send(ALIVE)
                self.counters.alive_sent += 1
            due = min(last_rx + silence, max(last_rx, self._last_alive) + alive)
            await asyncio.sleep(max(MIN_TIMER_STEP, due - now))

    def _on_socket_error(self, exc: Exception) -> None:
        if isinstance(exc, ConnectionRefusedError):
            return  # ICMP port unreachable: the silence timeout decides
        if self._established:
            self._lost(CameraConnectionError(f"PPPP socket error: {exc}"))
        elif self._ready is not None and not self._ready.done():
            self._ready.set_exception(CameraConnectionError(f"PPPP socket error: {exc}"))

    def _lost(self, reason: ChinesiumError) -> None:
        if self._closed:
            return
        self._closed = True
        self._lost_reason = reason
        self._stop_timers()
        if not isinstance(reason, SessionClosedError):
            with contextlib.suppress(OSError):
                self._send(CLOSE)  # best effort: free the camera's slot
        callbacks, self._lost_cbs = self._lost_cbs, []
        self._fail_channels()
        self._abort()
        for cb in callbacks:
            try:
                cb(reason)
            except Exception:
                _LOGGER.exception("PPPP on_lost callback failed")

    def _stop_timers(self) -> None:
        if self._ack_handle is not None:
            self._ack_handle.cancel()
            self._ack_handle = None
        if self._retx_handle is not None:
            self._retx_handle.cancel()
            self._retx_handle = None
        task = self._keepalive
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
        self._keepalive = None

    def _fail_channels(self) -> None:
        for ch in self._channels:
            if ch is not None:
                ch._fail()

    def _abort(self) -> None:
        self._closed = True
        self._stop_timers()
        if self._transport is not None:
            self._transport.close()  # closes the socket too
            self._transport = None
        self._sock = None
        self._release()

    def _release(self) -> None:
        """Drop the references that would keep a closed connection (and its owner) in cycles.

        Channels point back at the connection and their packet handlers / the
        ``on_lost`` callbacks at the owner; the handshake future may hold an
        error whose traceback references this connection. Channels taken
        before stay usable for reads (they raise the close reason).
        """
        self._lost_cbs = []
        self._ready = None
        self._pending_acks = {}
        channels = self._channels
        self._channels = [None] * MAX_CHANNELS
        for ch in channels:
            if ch is not None:
                ch._release()
