"""Self-tests of the VStarcam peer with a minimal raw-UDP client written from ``pppp.md``.

The client below does not use the chinesium library: it speaks LAN search,
PUNCH_PKT/P2P_RDY, DRW/DRW_ACK, the PSK obfuscation (§5.1), the ``01 0a``
CGI envelopes (§6.4) and the ``55 aa 15 a8`` frame header (§6.7) itself, so a
failure here blames the peer, not the library.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
import io
import socket
import struct
from typing import Any

import pytest

from .peers import vstarcam_peer as vp
from .peers.vstarcam_peer import VStarcamPeer

pytestmark = pytest.mark.usefixtures("socket_enabled")

LOOPBACK = "127.0.0.1"
KEY = "vstarcam2019"
DID = "VSTJ-002961-ZTPRW"
SMALL: dict[str, Any] = {"size": (320, 240), "fps": 15, "gop": 15, "loop_frames": 30}

# -- the spec, written again for the raw client (§5.1, §2.1) ----------------------------

T = bytes.fromhex(
    """
    7C 9C E8 4A 13 DE DC B2 2F 21 23 E4 30 7B 3D 8C BC 0B 27 0C 3C F7 9A E7 08 71 96 00 97 85 EF C1
    1F C4 DB A1 C2 EB D9 01 FA BA 3B 05 B8 15 87 83 28 72 D1 8B 5A D6 DA 93 58 FE AA CC 6E 1B F0 A3
    88 AB 43 C0 0D B5 45 38 4F 50 22 66 20 7F 07 5B 14 98 1D 9B A7 2A B9 A8 CB F1 FC 49 47 06 3E B1
    0E 04 3A 94 5E EE 54 11 34 DD 4D F9 EC C7 C9 E3 78 1A 6F 70 6B A4 BD A9 5D D5 F8 E5 BB 26 AF 42
    37 D8 E1 02 0A AE 5F 1C C5 73 09 4E 69 24 90 6D 12 B3 19 AD 74 8A 29 40 F5 2D BE A5 59 E0 F4 79
    D2 4B CE 89 82 48 84 25 C6 91 2B A2 FB 8F E9 A6 B0 9E 3F 65 F6 03 31 2E AC 0F 95 2C 5C ED 39 B7
    33 6C 56 7E B4 A0 FD 7A 81 53 51 86 8D 9F 77 FF 6A 80 DF E2 BF 10 D7 75 64 57 76 F3 55 CD D0 C8
    18 E6 36 41 62 CF 99 F2 32 4C 67 60 61 92 CA D3 EA 63 7D 16 B6 8E D4 68 35 C3 52 9D 46 44 1E 17
    """
)


def key4(psk: str) -> list[int] | None:
    b = psk.encode()[:20]
    if not b:
        return None
    x = 0
    for c in b:
        x ^= c
    return [sum(b) % 256, -sum(b) % 256, sum(c // 3 for c in b) % 256, x]


def crypt(data: bytes, k: list[int] | None, *, enc: bool) -> bytes:
    if k is None:
        return data
    out, prev = bytearray(), 0
    for b in data:
        o = b ^ T[(k[prev & 3] + prev) % 256]
        out.append(o)
        prev = o if enc else b
    return bytes(out)


def did20(text: str) -> bytes:
    prefix, serial, check = text.split("-")
    return (
        prefix.encode().ljust(8, b"\0")
        + struct.pack(">I", int(serial))
        + check.encode().ljust(8, b"\0")
    )


def msg(mtype: int, body: bytes = b"") -> bytes:
    return bytes([0xF1, mtype]) + struct.pack(">H", len(body)) + body


def cgi(text: str) -> bytes:
    raw = text.encode()
    return b"\x01\x0a\x00\x00" + struct.pack("<I", len(raw)) + raw


def creds(user: str = "admin", pwd: str = "888888") -> str:
    return f"loginuse={user}&loginpas={pwd}&user={user}&pwd={pwd}&"


def parse_vars(text: str) -> dict[str, str]:
    out = {}
    for raw in text.replace("\r", "").split("\n"):
        line = raw.strip().removeprefix("var ").rstrip(";")
        if "=" in line:
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip().strip('"')
    return out


# -- the raw client --------------------------------------------------------------------


class RawClient(asyncio.DatagramProtocol):
    """One UDP socket speaking PPPP from the spec; acks every DRW (k = 1)."""

    def __init__(self, psk: str) -> None:
        self.k = key4(psk)
        self.transport: asyncio.DatagramTransport | None = None
        self.inbox: list[tuple[bytes, tuple[str, int]]] = []
        self.event = asyncio.Event()
        self.peer: tuple[str, int] | None = None
        self.tx_index = 0
        self.expected: dict[int, int] = {}
        self.future: dict[int, dict[int, bytes]] = {}
        self.streams: dict[int, bytearray] = {0: bytearray(), 1: bytearray()}
        self.replies: list[bytes] = []
        self.frames: list[tuple[int, int, bytes]] = []  # (kind, pts_ms, access unit)
        self.drw_log: list[tuple[int, int, bytes]] = []  # (channel, index, raw datagram)
        self.skip_ack: set[tuple[int, int]] = set()
        self.max_payload = 0
        self.alive_acks = 0
        self.alives = 0
        self.closes = 0
        self.rdys = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        plain = crypt(data, self.k, enc=False)
        src = (str(addr[0]), int(addr[1]))
        self.inbox.append((plain, src))
        if plain[:1] == b"\xf1" and src == self.peer:
            self._session(plain)
        self.event.set()

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, plain: bytes, addr: tuple[str, int] | None = None) -> None:
        assert self.transport is not None
        target = addr or self.peer
        assert target is not None
        assert target[0].startswith("127.")
        self.transport.sendto(crypt(plain, self.k, enc=True), target)

    async def wait(self, cond: Callable[[], bool], within: float = 5.0) -> None:
        """Wait until ``cond()`` (checked on every datagram and every 10 ms)."""
        async with asyncio.timeout(within):
            while not cond():
                self.event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.event.wait(), 0.01)

    def _session(self, plain: bytes) -> None:
        mtype = plain[1]
        if mtype == 0xE0:
            self.alives += 1
            self.send(msg(0xE1))
        elif mtype == 0xE1:
            self.alive_acks += 1
        elif mtype == 0xF0:
            self.closes += 1
        elif mtype == 0x42:
            self.rdys += 1
        elif mtype == 0xD0:
            marker, ch, idx = struct.unpack_from(">BBH", plain, 4)
            assert marker == 0xD1
            payload = plain[8:]
            self.drw_log.append((ch, idx, plain))
            self.max_payload = max(self.max_payload, len(payload))
            if (ch, idx) in self.skip_ack:
                self.skip_ack.discard((ch, idx))
                return
            self.send(msg(0xD1, struct.pack(">BBHH", 0xD1, ch, 1, idx)))
            exp = self.expected.setdefault(ch, 0)
            if ((idx - exp) & 0xFFFF) >= 0x8000:
                return  # duplicate
            self.future.setdefault(ch, {})[idx] = payload
            fut = self.future[ch]
            while self.expected[ch] in fut:
                self.streams.setdefault(ch, bytearray()).extend(fut.pop(self.expected[ch]))
                self.expected[ch] = (self.expected[ch] + 1) & 0xFFFF
            self._parse()

    def _parse(self) -> None:
        buf = self.streams[0]
        while len(buf) >= 8:
            assert buf[:2] == b"\x01\x0a", bytes(buf[:8])
            (n,) = struct.unpack_from("<I", buf, 4)
            if len(buf) < 8 + n:
                break
            self.replies.append(bytes(buf[8 : 8 + n]))
            del buf[: 8 + n]
        buf = self.streams[1]
        while len(buf) >= 32:
            assert buf[:4] == b"\x55\xaa\x15\xa8", bytes(buf[:8])
            (n,) = struct.unpack_from("<I", buf, 16)
            if len(buf) < 32 + n:
                break
            ms, secs = struct.unpack_from("<HI", buf, 6)
            self.frames.append((buf[4], secs * 1000 + ms, bytes(buf[32 : 32 + n])))
            del buf[: 32 + n]

    async def request(self, text: str, within: float = 5.0) -> str:
        n = len(self.replies)
        self.send(msg(0xD0, struct.pack(">BBH", 0xD1, 0, self.tx_index) + cgi(text)))
        self.tx_index += 1
        await self.wait(lambda: len(self.replies) > n, within)
        return self.replies[n].decode("latin-1")


@contextlib.asynccontextmanager
async def raw_socket(psk: str = KEY) -> AsyncIterator[RawClient]:
    loop = asyncio.get_running_loop()
    tr, proto = await loop.create_datagram_endpoint(
        lambda: RawClient(psk), local_addr=(LOOPBACK, 0)
    )
    try:
        yield proto
    finally:
        tr.close()


async def search(client: RawClient, peer: VStarcamPeer) -> tuple[bytes, tuple[str, int]]:
    """LAN_SEARCH to the search port; returns the PUNCH_PKT and where it came from."""
    n = len(client.inbox)
    client.send(msg(0x30), (LOOPBACK, peer.port))
    await client.wait(lambda: len(client.inbox) > n)
    return client.inbox[n]


async def connect(client: RawClient, session_addr: tuple[str, int]) -> None:
    """CS2-style: echo PUNCH_PKT (with our DID bytes) to the session port, wait for P2P_RDY."""
    client.peer = session_addr
    client.send(msg(0x41, did20(DID)))
    await client.wait(lambda: client.rdys >= 1)


@pytest.fixture
async def make_peer() -> AsyncIterator[Callable[..., Any]]:
    peers: list[VStarcamPeer] = []

    async def _make(**kw: Any) -> VStarcamPeer:
        peer = VStarcamPeer(host=LOOPBACK, did=DID, **{**SMALL, **kw})
        await peer.start()
        peers.append(peer)
        return peer

    yield _make
    for peer in peers:
        await peer.stop()


async def open_raw(peer: VStarcamPeer, psk: str = KEY) -> AsyncIterator[RawClient]:
    async with raw_socket(psk) as searcher, raw_socket(psk) as client:
        _, src = await search(searcher, peer)
        await connect(client, src)
        yield client


session = contextlib.asynccontextmanager(open_raw)


# -- tests ------------------------------------------------------------------------------


def test_spec_vectors() -> None:
    """The peer's wire helpers reproduce the §7 vectors (and agree with the client above)."""
    cam = key4("camera")
    vst = key4(KEY)
    assert vp.mash_key(KEY) == (0x2D, 0xD3, 0x61, 0x07)
    assert vp.encrypt(bytes.fromhex("f1300000"), vp.mash_key(KEY)).hex() == "e43b4322"
    assert crypt(bytes.fromhex("f1300000"), vst, enc=True).hex() == "e43b4322"
    assert vp.encrypt(bytes.fromhex("f1300000"), vp.mash_key("camera")).hex() == "2cba5f5d"
    punch = vp.packet(vp.PUNCH_PKT, vp.did_bytes("BATD-156362-WONJM"))
    assert punch.hex(" ") == (
        "f1 41 00 14 42 41 54 44 00 00 00 00 00 02 62 ca 57 4f 4e 4a 4d 00 00 00"
    )
    assert vp.did_bytes("XHA-000994-KMMEB") == did20("XHA-000994-KMMEB")
    assert vp.did_bytes("DGOK-123456-ABCDE") == bytes.fromhex(
        "44 47 4f 4b 00 00 00 00 00 01 e2 40 41 42 43 44 45 00 00 00"
    )
    assert crypt(punch, cam, enc=True).hex() == vp.encrypt(punch, vp.mash_key("camera")).hex()
    assert vp.encrypt(punch, vp.mash_key("camera")).hex(" ") == (
        "2c cb 62 93 b9 55 35 c9 0e 76 43 47 0e 74 af 4b 09 9d 14 6c 5d b6 e1 5d"
    )
    for plain, want in ((0xE0, "e4eb7d14"), (0xE1, "e4ea667a"), (0xF0, "e4fbe8f7")):
        assert vp.encrypt(msg(plain), vp.mash_key(KEY)).hex() == want
    assert vp.drw_ack(0, [0]).hex() == "f1d10006d10000010000"
    assert vp.encrypt(vp.drw_ack(0, [0]), vp.mash_key("camera")).hex() == "2c5b6b0c75302db52073"
    assert vp.drw_ack(1, [7, 8]).hex() == "f1d10008d101000200070008"
    login = vp.drw(
        0,
        0,
        vp.envelope(
            b"GET /livestream.cgi?streamid=10&substream=1&loginuse=admin&loginpas=888888"
            b"&user=admin&pwd=888888&"
        ),
    )
    assert login[:16] == bytes.fromhex("f1 d0 00 6d d1 00 00 00 01 0a 00 00 61 00 00 00")
    assert vp.encrypt(login, vp.mash_key(KEY))[:16].hex() == "e4db362dad37f085ca0f9a9d19615a2c"
    hdr = vp.frame_header(0x03, 1_700_000_000_000, 7, 2068)
    assert hdr[:20] == bytes.fromhex("55 aa 15 a8 03 00 00 00 00 f1 53 65 07 00 00 00 14 08 00 00")
    assert crypt(crypt(b"\xf1\xd0hello", vst, enc=True), vst, enc=False) == b"\xf1\xd0hello"


async def test_handshake_login_stream_decode(make_peer: Callable[..., Any]) -> None:
    """Search, CS2 handshake from a second socket, login, one stream request, decode."""
    import av

    peer = await make_peer()
    assert peer.port != peer.session_port
    async with raw_socket() as searcher, raw_socket() as client:
        punch, src = await search(searcher, peer)
        assert punch == msg(0x41, did20(DID))
        assert src == (LOOPBACK, peer.session_port)  # answered from the session socket
        await connect(client, src)  # from another port than the one that searched
        assert peer.sessions == [(LOOPBACK, client.port)]

        reply = parse_vars(await client.request("GET /check_user.cgi?" + creds()))
        assert reply["result"] == "0"
        status = parse_vars(await client.request("GET /get_status.cgi?" + creds()))
        assert status["result"] == "0"
        assert status["deviceid"] == DID
        assert peer.logins == 2

        text = await client.request("GET /livestream.cgi?streamid=10&substream=1&" + creds())
        assert parse_vars(text)["result"] == "0"
        await client.wait(lambda: len(client.frames) >= 8)
        assert peer.stream_requests == 1

        kinds = [k for k, _, _ in client.frames]
        assert kinds[0] == 0x10
        assert set(kinds) <= {0x10, 0x11}
        sent = peer.sent
        for (kind, pts, data), rec in zip(client.frames, sent, strict=False):
            assert data == rec.data
            assert pts == rec.pts
            assert (kind == 0x10) == rec.keyframe
        pts_list = [p for _, p, _ in client.frames]
        assert pts_list == sorted(pts_list)
        assert len(set(pts_list)) == len(pts_list)
        assert pts_list[0] >= 1_700_000_000_000
        assert client.max_payload == peer.config.chunk == 1000

        codec: Any = av.CodecContext.create("h264", "r")
        pictures = codec.decode(av.Packet(client.frames[0][2]))
        pictures += codec.decode(av.Packet(client.frames[1][2]))
        assert pictures
        assert (pictures[0].width, pictures[0].height) == (320, 240)

        text = await client.request("GET /livestream.cgi?streamid=16&" + creds())
        assert parse_vars(text)["result"] == "0"
        await client.wait(lambda: not peer.streaming())
        assert peer.stats.stop_requests == 1

        client.send(msg(0xF0))
        client.send(msg(0xE0))  # no session any more: ignored, counted
        await client.wait(lambda: peer.stats.no_session >= 1)
        assert peer.sessions == []
        assert peer.stats.closes_rx == 1


async def test_wrong_credentials_refused(make_peer: Callable[..., Any]) -> None:
    """Bad password or user: ``result=-1``, no video, the session stays usable."""
    peer = await make_peer()
    async with session(peer) as client:
        bad_pwd = parse_vars(await client.request("GET /check_user.cgi?" + creds(pwd="123456")))
        assert bad_pwd["result"] == "-1"
        bad_user = parse_vars(await client.request("GET /get_status.cgi?" + creds(user="root")))
        assert bad_user["result"] == "-1"
        none = parse_vars(await client.request("GET /check_user.cgi?"))
        assert none["result"] == "-1"
        text = await client.request("GET /livestream.cgi?streamid=10&" + creds(pwd="x"))
        assert parse_vars(text)["result"] == "-1"
        assert peer.refused_logins == 4
        assert peer.logins == 0
        assert peer.stream_requests == 0
        # Still the same session; good credentials work afterwards.
        good = parse_vars(await client.request("GET /check_user.cgi?" + creds()))
        assert good["result"] == "0"
        assert peer.frames_sent == 0
        assert not client.frames


async def test_burst_stops_and_rerequest_restarts_with_keyframe(
    make_peer: Callable[..., Any],
) -> None:
    """Eye4: a request gives a burst of video; after it ends, a new request resumes."""
    peer = await make_peer(burst=0.3)
    async with session(peer) as client:
        await client.request("GET /livestream.cgi?streamid=10&substream=1&" + creds())
        await client.wait(lambda: peer.frames_sent >= 1)
        await client.wait(lambda: not peer.streaming())
        first_burst = peer.frames_sent
        await client.wait(lambda: len(client.frames) >= first_burst)
        await client.request("GET /livestream.cgi?streamid=10&substream=1&" + creds())
        await client.wait(lambda: len(client.frames) >= first_burst + 2)
        assert peer.stream_requests == 2
        assert client.frames[0][0] == 0x10
        assert client.frames[first_burst][0] == 0x10
        assert [f[2] for f in client.frames] == peer.sent_frames[: len(client.frames)]


async def test_unacked_drw_is_retransmitted_with_same_index(
    make_peer: Callable[..., Any],
) -> None:
    """A DRW we never ack comes back with the same index and bytes."""
    peer = await make_peer(rto=0.2)
    async with session(peer) as client:
        client.skip_ack.add((0, 0))  # the first reply DRW
        await client.request("GET /check_user.cgi?" + creds())
        copies = [raw for ch, idx, raw in client.drw_log if (ch, idx) == (0, 0)]
        assert len(copies) >= 2
        assert copies[0] == copies[1]
        assert peer.stats.retransmissions >= 1


async def test_search_and_handshake_rules(make_peer: Callable[..., Any]) -> None:
    """PSK filtering, DID matching, search-port-only LAN search, plain mode."""
    peer = await make_peer()
    async with raw_socket("") as plain, raw_socket() as enc:
        plain.send(msg(0x30), (LOOPBACK, peer.port))  # a PSK camera ignores plaintext
        enc.send(msg(0x41, did20(DID)), (LOOPBACK, peer.port))  # not a search: ignored
        punch, src = await search(enc, peer)
        assert punch[:4] == b"\xf1\x41\x00\x14"
        assert peer.stats.undecryptable == 1
        assert peer.stats.ignored_on_search_port == 1
        assert peer.stats.searches == 1
        assert not plain.inbox

        enc.peer = src
        enc.send(msg(0x41, did20("VSTJ-002962-ZTPRW")))  # someone else's DID
        enc.send(msg(0x42, did20(DID)))  # iLnk style: P2P_RDY answered with P2P_RDY
        await enc.wait(lambda: enc.rdys >= 1)
        assert peer.stats.did_mismatch == 1
        assert peer.sessions == [(LOOPBACK, enc.port)]

        # ALIVE -> ALIVE_ACK; a padded ALIVE is dropped in strict mode.
        enc.send(msg(0xE0) + b"\0\0\0\0")
        enc.send(msg(0xE0))
        await enc.wait(lambda: enc.alive_acks >= 1)
        assert peer.stats.malformed == 1
        assert peer.stats.alives_rx == 1
        # The camera itself sends ALIVE when the line is quiet.
        await enc.wait(lambda: enc.alives >= 1)

    plain_peer = await make_peer(key="")
    async with raw_socket("") as client:
        punch, _ = await search(client, plain_peer)
        assert punch == msg(0x41, did20(DID))


async def test_snapshot_is_a_jpeg_on_channel_0(make_peer: Callable[..., Any]) -> None:
    """``snapshot.cgi`` returns a whole JPEG as the reply body."""
    from PIL import Image

    peer = await make_peer()
    async with session(peer) as client:
        await client.request("GET /snapshot.cgi?res=1&" + creds())
        body = client.replies[-1]
        assert body[:2] == b"\xff\xd8"
        assert body[-2:] == b"\xff\xd9"
        assert Image.open(io.BytesIO(body)).size == (640, 360)
        assert peer.stats.snapshots == 1


async def test_ack_every_drw_including_duplicates(make_peer: Callable[..., Any]) -> None:
    """Batched ACKs cover every DRW sent, and a duplicate is acked again but not re-answered."""
    peer = await make_peer()
    async with session(peer) as client:
        pkt = msg(0xD0, struct.pack(">BBH", 0xD1, 0, 0) + cgi("GET /check_user.cgi?" + creds()))
        client.send(pkt)
        client.send(pkt)
        client.tx_index = 1
        await client.wait(lambda: peer.stats.drw_rx == 2)
        acked: list[int] = []

        def collect() -> bool:
            acked.clear()
            for plain, _ in client.inbox:
                if plain[1] == 0xD1:
                    (k,) = struct.unpack_from(">H", plain, 6)
                    acked.extend(struct.unpack_from(f">{k}H", plain, 8))
            return len(acked) >= 2

        await client.wait(collect)
        assert acked == [0, 0]
        await client.request("GET /get_status.cgi?" + creds())
        assert peer.stats.duplicates_rx == 1
        assert peer.logins == 2  # the duplicate was not answered twice
        assert len(client.replies) == 2


async def test_stop_leaves_nothing_running() -> None:
    """stop(): CLOSE to the client, no task left, both ports free again."""
    before = asyncio.all_tasks()
    peer = VStarcamPeer(host=LOOPBACK, did=DID, **SMALL)
    await peer.start()
    ports = (peer.port, peer.session_port)
    async with session(peer) as client:
        await client.request("GET /livestream.cgi?streamid=10&" + creds())
        await client.wait(lambda: peer.streaming() and peer.frames_sent >= 1)
        await peer.stop()
        await client.wait(lambda: client.closes >= 1)
    assert not peer.running
    assert not peer.streaming()
    assert peer.sessions == []
    assert asyncio.all_tasks() == before
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((LOOPBACK, port))


def test_only_loopback() -> None:
    """Binding or sending outside 127.0.0.0/8 is refused."""
    with pytest.raises(ValueError):
        VStarcamPeer(host="0.0.0.0")
    with pytest.raises(ValueError):
        VStarcamPeer(host="::1")
    peer = VStarcamPeer(did=DID)
    sent: list[Any] = []

    class Fake:
        def is_closing(self) -> bool:
            return False

        def sendto(self, data: bytes, addr: Any) -> None:
            sent.append(addr)

    peer._sess = Fake()  # type: ignore[assignment]
    peer._send(("192.0.2.1", 32108), b"\xf1\xe0\x00\x00")
    peer._send(("127.0.0.2", 32108), b"\xf1\xe0\x00\x00")
    assert sent == [("127.0.0.2", 32108)]


async def test_index_start_knob_wraps_past_0xffff(make_peer: Callable[..., Any]) -> None:
    """``index_start=0xFFF0``: a 20+ DRW snapshot reply wraps its index to 0 intact."""
    peer = await make_peer(index_start=0xFFF0)
    async with session(peer) as client:
        client.expected[0] = 0xFFF0  # a client told where the camera starts
        await client.request("GET /snapshot.cgi?res=1&" + creds())
        body = client.replies[-1]
        assert body[:2] == b"\xff\xd8"
        assert body[-2:] == b"\xff\xd9"
        indices = [idx for ch, idx, _ in client.drw_log if ch == 0]
        assert indices[0] == 0xFFF0
        assert 0xFFFF in indices
        assert 0 in indices


async def test_restart_video_index_quirk(make_peer: Callable[..., Any]) -> None:
    """``restart_video_index``: each burst's video DRWs start again at index 0."""
    peer = await make_peer(burst=0.3, restart_video_index=True)
    async with session(peer) as client:
        live = "GET /livestream.cgi?streamid=10&substream=1&" + creds()
        await client.request(live)
        await client.wait(lambda: peer.frames_sent >= 1)
        await client.wait(lambda: not peer.streaming())
        first_burst = peer.frames_sent
        await client.wait(lambda: len(client.frames) >= first_burst)
        mark = len(client.drw_log)
        client.expected[1] = 0  # what a quirk-aware client does on a new request
        await client.request(live)
        await client.wait(lambda: len(client.frames) > first_burst)
        video = [idx for ch, idx, _ in client.drw_log[mark:] if ch == 1]
        assert video[0] == 0
        assert client.frames[first_burst][0] == 0x10
        assert [f[2] for f in client.frames] == peer.sent_frames[: len(client.frames)]


@pytest.mark.parametrize(("strict", "accepted"), [(True, False), (False, True)])
async def test_d2_ack_marker(make_peer: Callable[..., Any], strict: bool, accepted: bool) -> None:
    """A DRW_ACK with marker 0xD2 is dropped in strict mode, accepted in lenient mode."""
    peer = await make_peer(strict=strict)
    async with session(peer) as client:
        client.send(msg(0xD1, struct.pack(">BBHH", 0xD2, 0, 1, 0)))
        client.send(msg(0xD1, struct.pack(">BBHH", 0xD1, 0, 1, 1)))
        await client.wait(lambda: peer.stats.acks_rx + peer.stats.malformed >= 2)
        assert peer.stats.acks_rx == (2 if accepted else 1)
        assert peer.stats.malformed == (0 if accepted else 1)


async def test_drop_knob_is_repaired_by_retransmission(make_peer: Callable[..., Any]) -> None:
    """``drop_every``: lost first sends come back (same index), frames stay byte-exact."""
    peer = await make_peer(drop_every=5, rto=0.2)
    async with session(peer) as client:
        await client.request("GET /livestream.cgi?streamid=10&substream=1&" + creds())
        await client.wait(lambda: len(client.frames) >= 6)
        assert peer.stats.dropped_on_purpose > 0
        assert peer.stats.retransmissions > 0
        assert [f[2] for f in client.frames] == peer.sent_frames[: len(client.frames)]
