"""An independently written TEG camera emulator, built only from ``teg.md``.

It exists to check the chinesium TEG client against something other than
``fakecam``. Where the spec leaves latitude it deliberately picks the *less*
obvious choice, so brittle clients break here first:

* payload chunks of 1400 bytes (not 1032);
* padding bytes (``0xEE``) between the fixed header and the payload, sized
  per packet (``pads`` cycled by packet index); §5.5 only promises
  ``payload_offset = 8 + data_len - payload_len``;
* link id 7 (not 1) in LOGIN_RESP, media and camera-sent controls;
* each discovery reply sent 3 times;
* media params CTRL_RESP *before* LOGIN_RESP, then an unsolicited ``1TEG``
  0x10 message; an unknown ``2TEG`` command once during streaming;
* a camera heartbeat every second (unconditionally, not only when idle);
* audio packets interleaved *inside* video frames, taking ids from the shared
  frame-id counter (which starts near 65535, so it wraps early);
* every ``reverse_every``-th frame sent in reverse packet order.

Standard library only; Pillow, when installed, draws nicer pictures (without
it a hand-built flat-grey baseline JPEG is used). It only ever sends to
loopback addresses (127.0.0.0/8).

Run by hand: ``python -m tests.peers.teg_peer --discovery-port 10104``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
import io
import ipaddress
import logging
import random
import struct
from typing import Any

_LOGGER = logging.getLogger(__name__)

MAGIC_1 = b"1TEG"
MAGIC_2 = b"2TEG"

# 1TEG commands
SEARCH_REQ = 0x0B
SEARCH_RESP = 0x0C
LOGIN_REQ = 0x0D
LOGIN_RESP = 0x0E
DEVICE_MSG = 0x10
# 2TEG commands
CMD_CTRL = 0x01
CMD_CTRL_RESP = 0x02
CMD_MEDIA = 0x03
CMD_ACK = 0x04
# control codes
CTL_LIVE = 0x00
CTL_HEARTBEAT = 0x02
CTL_CLOSE = 0x03
CTL_FLIP = 0x08
CTL_KEYFRAME = 0x0C
KNOWN_CTLS = frozenset(
    {0x01, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0D, 0x0E, 0x0F, 0x10}
    | {0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x50}
)
# LOGIN_RESP results
RESULT_OK = 0
RESULT_BAD_REQUEST = 1
RESULT_FULL = 2
RESULT_WRONG_PASSWORD = 3

NO_PASSWORD_TOKEN = "9e8040834b3a"
WIDTH = 640
HEIGHT = 480
COM_TAG = b"TEGPEER seq="
PAD_BYTE = 0xEE
MAX_KEPT_FRAMES = 500


@dataclass(frozen=True, kw_only=True, slots=True)
class PeerConfig:
    """Behaviour knobs; the defaults are the "quirky" choices described above."""

    host: str = "127.0.0.1"
    discovery_port: int = 0
    session_port: int = 0
    uid: str = "TEGPEER-00A1B2C3D4E5-C0DE42"
    token: str = NO_PASSWORD_TOKEN
    link_id: int = 7
    max_clients: int = 1
    fps: float = 25.0
    chunk: int = 1400
    pads: tuple[int, ...] = (0, 3, 11, 0, 7)
    discovery_copies: int = 3
    heartbeat_interval: float = 1.0
    stream_timeout: float = 6.0
    idle_timeout: float = 45.0
    frame_id_start: int = 65523
    audio: str = "requested"
    """``"requested"`` (mask bit 1), ``"always"`` (even for video-only) or ``"never"``."""
    audio_interval: float = 0.128
    reverse_every: int = 3
    """Every n-th video frame goes out in reverse packet order (0 = never)."""
    dup_every: int = 0
    """Every n-th video frame has one packet sent twice (0 = never)."""
    device_message: bool = True
    """Send the unsolicited ``1TEG`` 0x10 message after a login and mid-stream."""
    junk: bool = True
    """Send an unknown ``2TEG`` command once while streaming."""
    bad_count_every: int = 0
    """Every n-th video frame claims one packet fewer in its header than it sends and
    goes out as: its last packet, packet 0, the rest backwards (an inconsistent frame
    the client must drop without crashing; 0 = never)."""
    malformed_every: int = 0
    """Every n-th video frame is followed by truncated/inconsistent 2TEG datagrams."""
    drop_logins: int = 0
    """Silently ignore this many LOGIN_REQs first (tests client retransmission)."""
    drop_lives: int = 0
    """Silently ignore this many LIVE requests first."""
    seed: int = 1


@dataclass(slots=True)
class PeerStats:
    """What the peer saw and did; tests assert on these."""

    searches: int = 0
    discovery_replies: int = 0
    logins: int = 0
    login_results: list[int] = field(default_factory=list)
    login_byte32: list[int] = field(default_factory=list)
    announce_mismatch: int = 0
    lives: list[tuple[int, int]] = field(default_factory=list)
    ctrl_rx: dict[int, int] = field(default_factory=dict)
    heartbeats_rx: int = 0
    closes_rx: int = 0
    acks: int = 0
    naks: int = 0
    frames_sent: int = 0
    audio_sent: int = 0
    packets_sent: int = 0
    reversed_frames: int = 0
    heartbeats_sent: int = 0
    closes_sent: int = 0
    timeouts: int = 0
    foreign_dropped: int = 0
    bad_link_dropped: int = 0
    malformed: int = 0
    frame_id_wraps: int = 0
    bad_frames: int = 0
    malformed_sent: int = 0


@dataclass(slots=True)
class _Client:
    addr: tuple[str, int]
    link_id: int
    last_rx: float
    last_hb: float
    mask: int = 0
    flip: int = 0
    stream_task: asyncio.Task[None] | None = None
    stream_t0: float = 0.0


# -- wire helpers ------------------------------------------------------------------


def header(magic: bytes, cmd: int, data_len: int) -> bytes:
    """The common 8-byte header (§1.3)."""
    return magic + struct.pack("<HH", cmd, data_len)


def parse_header(data: bytes) -> tuple[bytes, int, int] | None:
    """Return ``(magic, cmd, data_len)`` if the datagram passes the length rule."""
    if len(data) < 8:
        return None
    cmd, data_len = struct.unpack_from("<HH", data, 4)
    if data_len + 8 > len(data):
        return None
    return data[:4], cmd, data_len


def ctrl(cmd: int, link: int, ctl: int, sub: int, payload: bytes = b"") -> bytes:
    """A 2TEG CTRL (cmd 1) or CTRL_RESP (cmd 2) message (§5.1)."""
    body = struct.pack("<IIIII", link, ctl, sub, len(payload), 0) + payload
    return header(MAGIC_2, cmd, len(body)) + body


def media_packet(
    link: int, stream: int, frame_id: int, index: int, payload: bytes, *, extra: bytes, pad: int
) -> bytes:
    """A 2TEG MEDIA packet: fixed part, ``extra`` (frame header/timestamp), pad, payload."""
    body = (
        struct.pack("<IHHHHI", link, 1, stream, frame_id, index, len(payload))
        + extra
        + bytes([PAD_BYTE]) * pad
        + payload
    )
    return header(MAGIC_2, CMD_MEDIA, len(body)) + body


def frame_seq(jpeg: bytes) -> int | None:
    """The sequence number the peer embedded in a JPEG's COM segment, if any."""
    pos = jpeg.find(COM_TAG, 0, 64)
    if pos < 0:
        return None
    end = pos + len(COM_TAG)
    digits = bytearray()
    while end < len(jpeg) and 0x30 <= jpeg[end] <= 0x39:
        digits.append(jpeg[end])
        end += 1
    return int(digits) if digits else None


# -- pictures ------------------------------------------------------------------------


def _pillow_bases() -> list[bytes] | None:
    try:
        from PIL import Image, ImageDraw
    except ImportError:  # pragma: no cover - Pillow is optional
        return None
    bases = []
    for k in range(4):
        img = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).convert("RGB")
        draw = ImageDraw.Draw(img)
        for i in range(0, WIDTH, 80):
            draw.line([(i, 0), (WIDTH - i, HEIGHT)], fill=(255, (i * 3 + k * 60) % 256, 0), width=2)
        for j in range(12):
            draw.text(
                (10 + (j % 4) * 150, 20 + (j // 4) * 150), f"TEG PEER {k} {j}", fill=(0, 0, 255)
            )
        out = io.BytesIO()
        img.save(out, "JPEG", quality=70)
        bases.append(out.getvalue())
    return bases


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def flat_jpeg(filler: int = 20000) -> bytes:
    """A valid 640x480 greyscale baseline JPEG built by hand (no image library).

    Every 8x8 block has DC difference 0 and an immediate EOB; both Huffman
    tables hold a single 1-bit code ``0``, so each block is 2 zero bits. A COM
    segment of ``filler`` bytes makes the size realistic.
    """
    blocks = (WIDTH // 8) * (HEIGHT // 8)
    scan = bytes((blocks * 2 + 7) // 8)
    dht_dc = bytes([0x00, 1] + [0] * 15 + [0x00])
    dht_ac = bytes([0x10, 1] + [0] * 15 + [0x00])
    return (
        b"\xff\xd8"
        + _segment(0xFE, b"x" * filler)
        + _segment(0xDB, bytes([0]) + bytes([1]) * 64)
        + _segment(0xC0, bytes([8]) + struct.pack(">HH", HEIGHT, WIDTH) + bytes([1, 1, 0x11, 0]))
        + _segment(0xC4, dht_dc)
        + _segment(0xC4, dht_ac)
        + _segment(0xDA, bytes([1, 1, 0x00, 0, 63, 0]))
        + scan
        + b"\xff\xd9"
    )


_BASES: list[bytes] | None = None


def make_jpeg(seq: int) -> bytes:
    """A 640x480 JPEG whose bytes are unique to ``seq`` (tag in a COM segment)."""
    global _BASES
    if _BASES is None:
        _BASES = _pillow_bases() or [flat_jpeg(20000 + 997 * k) for k in range(4)]
    base = _BASES[seq % len(_BASES)]
    return base[:2] + _segment(0xFE, COM_TAG + str(seq).encode()) + base[2:]


# -- the peer ------------------------------------------------------------------------


class _Proto(asyncio.DatagramProtocol):
    def __init__(self, handler: Callable[[bytes, tuple[str, int]], None]) -> None:
        self.handler = handler

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            self.handler(data, (str(addr[0]), int(addr[1])))
        except Exception:  # pragma: no cover - never let a bad datagram kill the peer
            _LOGGER.exception("teg peer: handler failed")


class TegPeer:
    """A fake TEG camera: discovery socket + session socket on ``config.host``."""

    def __init__(self, config: PeerConfig | None = None, **overrides: Any) -> None:
        """Create the peer; ``overrides`` replace fields of ``config``."""
        cfg = config or PeerConfig()
        self.config = replace(cfg, **overrides) if overrides else cfg
        if not ipaddress.ip_address(self.config.host).is_loopback:
            raise ValueError("the TEG peer only binds loopback addresses")
        self.stats = PeerStats()
        self.sent_frames: dict[int, bytes] = {}
        self._rng = random.Random(self.config.seed)
        self._clients: dict[tuple[str, int], _Client] = {}
        self._frame_id = self.config.frame_id_start & 0xFFFF
        self._seq = 0
        self._drop_logins = self.config.drop_logins
        self._drop_lives = self.config.drop_lives
        self._junk_sent = False
        self._disc: asyncio.DatagramTransport | None = None
        self._sess: asyncio.DatagramTransport | None = None
        self._house: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Bind both sockets and start housekeeping."""
        loop = self._loop = asyncio.get_running_loop()
        host = self.config.host
        self._disc, _ = await loop.create_datagram_endpoint(
            lambda: _Proto(self._on_discovery), local_addr=(host, self.config.discovery_port)
        )
        self._sess, _ = await loop.create_datagram_endpoint(
            lambda: _Proto(self._on_session), local_addr=(host, self.config.session_port)
        )
        self._house = loop.create_task(self._housekeeping(), name="teg-peer-housekeeping")

    async def stop(self) -> None:
        """Stop everything silently (like pulling the plug)."""
        for client in list(self._clients.values()):
            self._forget(client)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._house is not None:
            self._house.cancel()
            try:
                await self._house
            except asyncio.CancelledError:
                pass
            self._house = None
        for tr in (self._disc, self._sess):
            if tr is not None:
                tr.close()
        self._disc = self._sess = None

    async def __aenter__(self) -> TegPeer:
        """Start on entry."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop on exit."""
        await self.stop()

    @property
    def discovery_port(self) -> int:
        """Bound discovery (search) port."""
        assert self._disc is not None
        return int(self._disc.get_extra_info("sockname")[1])

    @property
    def session_port(self) -> int:
        """Bound session (login/2TEG) port."""
        assert self._sess is not None
        return int(self._sess.get_extra_info("sockname")[1])

    @property
    def discovery_target(self) -> str:
        """``"host:port"`` for :func:`discover`."""
        return f"{self.config.host}:{self.discovery_port}"

    @property
    def clients(self) -> list[tuple[str, int]]:
        """Addresses of the logged-in clients."""
        return list(self._clients)

    def streaming(self) -> bool:
        """True while any client has a stream running."""
        return any(c.stream_task is not None for c in self._clients.values())

    async def kick(self) -> int:
        """Drop every client like a camera would (CTRL(3, 1)); returns how many."""
        clients = list(self._clients.values())
        for client in clients:
            self._drop(client)
        await asyncio.sleep(0)
        return len(clients)

    # -- sending ---------------------------------------------------------------------

    def _send(self, data: bytes, addr: tuple[str, int], *, discovery: bool = False) -> None:
        tr = self._disc if discovery else self._sess
        if tr is None or tr.is_closing():
            return
        if not ipaddress.ip_address(addr[0]).is_loopback:  # hard network rule
            _LOGGER.warning("teg peer: refusing to send to %s", addr)
            return
        tr.sendto(data, addr)

    def _params(self, client: _Client | None) -> bytes:
        mask = client.mask if client else 0
        flip = client.flip if client else 0
        cfg = self.config
        return (
            struct.pack("<HHI", 0, 0, 0)
            + struct.pack("<HHHH", 1, 1, 0, 0)
            + struct.pack("<11I", WIDTH, HEIGHT, round(cfg.fps), 50, 50, 0, flip, 0, 0, 0, 0)
            + b"MJPG"
            + struct.pack("<5I", 1, 8000, 16, 0x11, mask)
        )

    def _next_frame_id(self) -> int:
        fid = self._frame_id
        self._frame_id = (fid + 1) & 0xFFFF
        if self._frame_id == 0:
            self.stats.frame_id_wraps += 1
        return fid

    # -- discovery -------------------------------------------------------------------

    def _on_discovery(self, data: bytes, addr: tuple[str, int]) -> None:
        hdr = parse_header(data)
        if hdr is None or hdr[0] != MAGIC_1 or hdr[1] != SEARCH_REQ:
            self.stats.malformed += 1
            return
        self.stats.searches += 1
        reply = bytearray(76)
        reply[0:8] = header(MAGIC_1, SEARCH_RESP, 68)
        struct.pack_into("<II", reply, 8, 1, 1)
        struct.pack_into(">H", reply, 34, self.session_port)
        reply[36:40] = ipaddress.IPv4Address(self.config.host).packed
        uid = self.config.uid.encode()[:32]
        reply[40 : 40 + len(uid)] = uid
        for _ in range(self.config.discovery_copies):
            self._send(bytes(reply), addr, discovery=True)
            self.stats.discovery_replies += 1

    # -- session ---------------------------------------------------------------------

    def _on_session(self, data: bytes, src: tuple[str, int]) -> None:
        hdr = parse_header(data)
        if hdr is None:
            self.stats.malformed += 1
            return
        magic, cmd, data_len = hdr
        if magic == MAGIC_1 and cmd == LOGIN_REQ:
            self._on_login(data, src)
        elif magic == MAGIC_2:
            self._on_2teg(data, src, cmd, data_len)
        # anything else: ignored

    def _login_resp(self, req: bytes, result: int, link: int) -> bytes:
        resp = bytearray(92)
        resp[0:8] = header(MAGIC_1, LOGIN_RESP, 84)
        struct.pack_into("<II", resp, 20, result, link)
        resp[28:34] = req[20:26]
        struct.pack_into(">H", resp, 34, self.session_port)
        resp[36:40] = ipaddress.IPv4Address(self.config.host).packed
        struct.pack_into("<H", resp, 46, len(self._clients) if result == RESULT_OK else 0)
        uid = self.config.uid.encode()[:32]
        resp[48 : 48 + len(uid)] = uid
        struct.pack_into("<I", resp, 80, 1 if result == RESULT_OK else 0)
        return bytes(resp)

    def _on_login(self, data: bytes, src: tuple[str, int]) -> None:
        if len(data) < 45:
            self.stats.malformed += 1
            return
        if self._drop_logins > 0:
            self._drop_logins -= 1
            return
        self.stats.logins += 1
        self.stats.login_byte32.append(data[32])
        (pub_port,) = struct.unpack_from(">H", data, 24)
        (port,) = struct.unpack_from(">H", data, 26)
        ip = str(ipaddress.IPv4Address(data[28:32]))
        pub_ip = str(ipaddress.IPv4Address(data[20:24]))
        token = data[33:45].decode("ascii", "replace")

        announced: tuple[str, int] | None = None
        if data[28:32] != bytes(4) and port:
            announced = (ip, port)
        elif data[20:24] != bytes(4) and pub_port:
            announced = (pub_ip, pub_port)
        if announced is not None and announced != src:
            self.stats.announce_mismatch += 1

        def answer(result: int, link: int, to: tuple[str, int]) -> None:
            self.stats.login_results.append(result)
            self._send(self._login_resp(data, result, link), to)

        if announced is None or not ipaddress.ip_address(announced[0]).is_loopback:
            answer(RESULT_BAD_REQUEST, 0, src)
            return
        if token != self.config.token:
            answer(RESULT_WRONG_PASSWORD, 0, announced)
            return
        loop = asyncio.get_running_loop()
        client = self._clients.get(announced)
        new = client is None
        if client is None:
            if len(self._clients) >= self.config.max_clients:
                answer(RESULT_FULL, 0, announced)
                return
            used = {c.link_id for c in self._clients.values()}
            link = self.config.link_id
            while link in used:
                link += 1
            client = _Client(announced, link, loop.time(), loop.time())
            self._clients[announced] = client
        client.last_rx = loop.time()
        # §4.2: params CTRL_RESP first, then LOGIN_RESP.
        self._send(
            ctrl(CMD_CTRL_RESP, client.link_id, CTL_LIVE, client.mask, self._params(client)),
            announced,
        )
        answer(RESULT_OK, client.link_id, announced)
        if new and self.config.device_message:
            self._send(header(MAGIC_1, DEVICE_MSG, 20) + bytes(20), announced)

    def _on_2teg(self, data: bytes, src: tuple[str, int], cmd: int, data_len: int) -> None:
        client = self._clients.get(src)
        if client is None:
            self.stats.foreign_dropped += 1
            return
        if len(data) < 12:
            self.stats.malformed += 1
            return
        (link,) = struct.unpack_from("<I", data, 8)
        if link != client.link_id:
            self.stats.bad_link_dropped += 1
            return
        client.last_rx = asyncio.get_running_loop().time()
        if cmd == CMD_CTRL:
            if data_len < 20:
                self.stats.malformed += 1
                return
            ctl, sub, plen, ack_flag = struct.unpack_from("<IIII", data, 12)
            payload = data[28 : 28 + plen]
            self._on_ctrl(client, ctl, sub, payload)
            if ack_flag:
                self._count_acks(data[8 + data_len :], with_link=False)
        elif cmd == CMD_ACK:
            self._count_acks(data[12 : 8 + data_len], with_link=False)

    def _count_acks(self, body: bytes, *, with_link: bool) -> None:
        if with_link:
            body = body[4:]
        if len(body) < 4:
            return
        count = body[3]
        for i in range(count):
            item = body[4 + 8 * i : 12 + 8 * i]
            if len(item) < 8:
                break
            if item[0] == 1:
                self.stats.acks += 1
            else:
                self.stats.naks += 1

    def _on_ctrl(self, client: _Client, ctl: int, sub: int, payload: bytes) -> None:
        self.stats.ctrl_rx[ctl] = self.stats.ctrl_rx.get(ctl, 0) + 1
        link = client.link_id
        if ctl == CTL_LIVE:
            if self._drop_lives > 0:
                self._drop_lives -= 1
                return
            req = struct.unpack_from("<I", payload, 4)[0] if len(payload) >= 8 else 1
            if sub == 1:
                client.mask = (client.mask & ~3) | req
            elif sub == 0:
                client.mask &= ~req
            self.stats.lives.append((sub, client.mask))
            self._send(
                ctrl(CMD_CTRL_RESP, link, CTL_LIVE, client.mask, self._params(client)), client.addr
            )
            if client.mask & 3:
                self._start_stream(client)
            else:
                self._stop_stream(client)
        elif ctl == CTL_HEARTBEAT:
            self.stats.heartbeats_rx += 1
        elif ctl == CTL_CLOSE:
            self.stats.closes_rx += 1
            self._send(ctrl(CMD_CTRL_RESP, link, CTL_CLOSE, 1), client.addr)
            self._forget(client)
        elif ctl == CTL_KEYFRAME:
            pass
        elif ctl in KNOWN_CTLS:
            if ctl == CTL_FLIP:
                client.flip = sub & 3
            self._send(ctrl(CMD_CTRL_RESP, link, ctl, 0), client.addr)
        else:
            self._send(ctrl(CMD_CTRL_RESP, link, ctl, 0xFFFF), client.addr)

    def _forget(self, client: _Client) -> None:
        if self._clients.get(client.addr) is client:
            del self._clients[client.addr]
        self._stop_stream(client)

    def _drop(self, client: _Client) -> None:
        self._send(ctrl(CMD_CTRL, client.link_id, CTL_CLOSE, 1), client.addr)
        self.stats.closes_sent += 1
        self._forget(client)

    # -- streaming -------------------------------------------------------------------

    def _start_stream(self, client: _Client) -> None:
        if client.stream_task is None or client.stream_task.done():
            loop = asyncio.get_running_loop()
            client.stream_t0 = loop.time()
            task = loop.create_task(self._stream(client), name="teg-peer-stream")
            client.stream_task = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _stop_stream(self, client: _Client) -> None:
        task, client.stream_task = client.stream_task, None
        if task is not None:
            task.cancel()

    def _audio_on(self, client: _Client) -> bool:
        mode = self.config.audio
        return mode == "always" or (mode == "requested" and bool(client.mask & 2))

    async def _stream(self, client: _Client) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.config.fps
        next_v = next_a = loop.time()
        while self._clients.get(client.addr) is client:
            now = loop.time()
            video = bool(client.mask & 1)
            audio = self._audio_on(client)
            n_audio = 0
            if audio:
                while next_a <= now:
                    n_audio += 1
                    next_a += self.config.audio_interval
            else:
                next_a = now + self.config.audio_interval
            if video and now >= next_v:
                self._send_video(client, n_audio)
                next_v = max(next_v + period, now - period)
            else:
                for _ in range(n_audio):
                    self._send_packets(client, [self._audio_packet(client)])
            wake = min(next_v if video else now + 0.05, next_a if audio else now + 0.05)
            await asyncio.sleep(max(0.0, wake - loop.time()))

    def _timestamp(self, client: _Client) -> int:
        return int((asyncio.get_running_loop().time() - client.stream_t0) * 1000) & 0xFFFFFFFF

    def _audio_packet(self, client: _Client) -> bytes:
        fid = self._next_frame_id()
        block = struct.pack("<hBB", 0, 0, 0) + bytes(self._rng.getrandbits(8) for _ in range(512))
        pad = self.config.pads[fid % len(self.config.pads)] if self.config.pads else 0
        self.stats.audio_sent += 1
        return media_packet(
            client.link_id,
            1,
            fid,
            0,
            block,
            extra=struct.pack("<I", self._timestamp(client)),
            pad=pad,
        )

    def _send_video(self, client: _Client, n_audio: int) -> None:
        cfg = self.config
        seq = self._seq
        self._seq += 1
        jpeg = make_jpeg(seq)
        fid = self._next_frame_id()
        chunks = [jpeg[i : i + cfg.chunk] for i in range(0, len(jpeg), cfg.chunk)]
        ts = self._timestamp(client)
        count = len(chunks)
        if cfg.bad_count_every and seq % cfg.bad_count_every == cfg.bad_count_every - 1:
            count -= 1
            self.stats.bad_frames += 1
        packets: list[bytes] = []
        for idx, chunk in enumerate(chunks):
            extra = struct.pack("<IIHHI", len(jpeg), count, WIDTH, HEIGHT, ts) if idx == 0 else b""
            pad = cfg.pads[idx % len(cfg.pads)] if cfg.pads else 0
            packets.append(media_packet(client.link_id, 0, fid, idx, chunk, extra=extra, pad=pad))
        if count != len(chunks):  # the surplus last packet, packet 0, the rest backwards
            packets = [packets[-1], packets[0], *packets[-2:0:-1]]
        elif cfg.reverse_every and seq % cfg.reverse_every == cfg.reverse_every - 1:
            packets.reverse()
            self.stats.reversed_frames += 1
        if cfg.dup_every and seq % cfg.dup_every == 0:
            packets.insert(self._rng.randrange(len(packets) + 1), self._rng.choice(packets))
        for _ in range(n_audio):  # audio lands in the middle of the video frame
            packets.insert(self._rng.randrange(1, len(packets)), self._audio_packet(client))
        if seq == 5:
            if cfg.device_message:
                packets.insert(len(packets) // 2, header(MAGIC_1, DEVICE_MSG, 20) + bytes(20))
            if cfg.junk and not self._junk_sent:
                self._junk_sent = True
                packets.insert(1, header(MAGIC_2, 0x07, 4) + struct.pack("<I", client.link_id))
        if cfg.malformed_every and seq % cfg.malformed_every == 0:
            packets.extend(self._malformed(client, fid))
        self._send_packets(client, packets)
        self.stats.frames_sent += 1
        if count == len(chunks):
            self.sent_frames[seq] = jpeg
        self.sent_frames.pop(seq - MAX_KEPT_FRAMES, None)

    def _malformed(self, client: _Client, fid: int) -> list[bytes]:
        """Datagrams a robust client must ignore (all but the first pass §1.3's rule)."""
        link = client.link_id
        good = media_packet(link, 0, fid, 0, b"\xff\xd8" + bytes(64), extra=bytes(16), pad=0)
        too_long = bytearray(good)
        struct.pack_into("<I", too_long, 20, 5000)  # payload_len > data_len
        self.stats.malformed_sent += 4
        return [
            good[:40],  # data_len says more than the datagram holds
            header(MAGIC_2, CMD_MEDIA, 2) + b"\x07\x00",  # media shorter than its fixed part
            bytes(too_long),
            header(MAGIC_2, CMD_CTRL, 4) + struct.pack("<I", link),  # CTRL without ctl/sub
        ]

    def _send_packets(self, client: _Client, packets: list[bytes]) -> None:
        for pkt in packets:
            self._send(pkt, client.addr)
            self.stats.packets_sent += 1

    # -- housekeeping ----------------------------------------------------------------

    async def _housekeeping(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        tick = min(0.05, cfg.heartbeat_interval / 4, cfg.stream_timeout / 10)
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            for client in list(self._clients.values()):
                limit = cfg.stream_timeout if client.mask & 3 else cfg.idle_timeout
                if now - client.last_rx > limit:
                    self.stats.timeouts += 1
                    self._drop(client)
                    continue
                if now - client.last_hb >= cfg.heartbeat_interval:
                    client.last_hb = now
                    payload = struct.pack("<HHI", len(self._clients), round(cfg.fps), 0)
                    self._send(
                        ctrl(CMD_CTRL, client.link_id, CTL_HEARTBEAT, 0, payload), client.addr
                    )
                    self.stats.heartbeats_sent += 1


# -- command line ----------------------------------------------------------------------


async def _main(args: argparse.Namespace) -> None:
    peer = TegPeer(
        host=args.host,
        discovery_port=args.discovery_port,
        session_port=args.session_port,
        token=args.token,
        fps=args.fps,
    )
    async with peer:
        print(f"TEG peer: search {peer.discovery_target}, session port {peer.session_port}")
        while True:
            await asyncio.sleep(5)
            _LOGGER.info("stats: %s", peer.stats)


def main() -> None:
    """Run the peer until interrupted (loopback only)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--discovery-port", type=int, default=0)
    parser.add_argument("--session-port", type=int, default=0)
    parser.add_argument("--token", default=NO_PASSWORD_TOKEN)
    parser.add_argument("--fps", type=float, default=25.0)
    logging.basicConfig(level=logging.INFO)
    try:
        asyncio.run(_main(parser.parse_args()))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
