"""The fakecam TEG emulator, driven with hand-built bytes (teg.md §10 vectors)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import io
import random
import socket
import struct
from typing import Any

from PIL import Image
import pytest

from fakecam.__main__ import add_teg_arguments, build_teg_configs, derive_uid, main
from fakecam.frames import FrameSource
from fakecam.teg import TegCamera, TegCameraConfig

pytestmark = pytest.mark.usefixtures("socket_enabled")

LOOP = "127.0.0.1"
UID = "EMUCAM1-0123456789AB-C0FFEE"


def h(text: str) -> bytes:
    """Hex dump rows (``0000: 31 54 ...``) or plain hex to bytes."""
    out = []
    for line in text.strip().splitlines():
        out.append(line.split(":", 1)[1] if ":" in line else line)
    return bytes.fromhex("".join(out))


# --- teg.md §10 vectors -------------------------------------------------------
SEARCH_REQ = h("""
0000: 31 54 45 47 0b 00 0c 00 01 00 00 00 00 00 00 00
0010: 00 00 00 00
""")
SEARCH_RESP = h("""
0000: 31 54 45 47 0c 00 44 00 01 00 00 00 01 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 45 ec c0 a8 01 3c 45 4d 55 43 41 4d 31 2d
0030: 30 31 32 33 34 35 36 37 38 39 41 42 2d 43 30 46
0040: 46 45 45 00 00 00 00 00 00 00 00 00
""")
LOGIN_REQ = h("""
0000: 31 54 45 47 0d 00 28 00 00 00 00 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 a3 2d c0 a8 01 32
0020: 09 39 65 38 30 34 30 38 33 34 62 33 61 00 00 00
""")
LOGIN_REQ_TOKEN = h("""
0000: 31 54 45 47 0d 00 28 00 00 00 00 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 a3 2d c0 a8 01 32
0020: 09 36 64 64 64 36 30 33 33 35 31 39 30 00 00 00
""")
LOGIN_OK = h("""
0000: 31 54 45 47 0e 00 54 00 00 00 00 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00
0020: 00 00 45 ec c0 a8 01 3c 00 00 00 00 00 00 01 00
0030: 45 4d 55 43 41 4d 31 2d 30 31 32 33 34 35 36 37
0040: 38 39 41 42 2d 43 30 46 46 45 45 00 00 00 00 00
0050: 01 00 00 00 00 00 00 00 00 00 00 00
""")
LIVE_VIDEO = h("""
0000: 32 54 45 47 01 00 1c 00 01 00 00 00 00 00 00 00
0010: 01 00 00 00 08 00 00 00 00 00 00 00 00 00 00 00
0020: 01 00 00 00
""")
LIVE_AV = LIVE_VIDEO[:-4] + b"\x03\x00\x00\x00"
PARAMS_MASK1_FPS10 = h("""
0000: 32 54 45 47 02 00 68 00 01 00 00 00 00 00 00 00
0010: 01 00 00 00 54 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 01 00 01 00 00 00 00 00 80 02 00 00
0030: e0 01 00 00 0a 00 00 00 32 00 00 00 32 00 00 00
0040: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0050: 00 00 00 00 00 00 00 00 4d 4a 50 47 01 00 00 00
0060: 40 1f 00 00 10 00 00 00 11 00 00 00 01 00 00 00
""")
CLIENT_HEARTBEAT = h("""
0000: 32 54 45 47 01 00 1c 00 01 00 00 00 02 00 00 00
0010: 00 00 00 00 08 00 00 00 00 00 00 00 00 00 00 00
0020: 0a 00 00 00
""")
KEEPALIVE_0F = h("""
0000: 32 54 45 47 01 00 14 00 01 00 00 00 0f 00 00 00
0010: 02 00 00 00 00 00 00 00 00 00 00 00
""")
CAMERA_HEARTBEAT = h("""
0000: 32 54 45 47 01 00 1c 00 01 00 00 00 02 00 00 00
0010: 00 00 00 00 08 00 00 00 00 00 00 00 01 00 0a 00
0020: 00 00 00 00
""")
CLOSE = h("""
0000: 32 54 45 47 01 00 14 00 01 00 00 00 03 00 00 00
0010: 01 00 00 00 00 00 00 00 00 00 00 00
""")
CLOSE_RESP = h("""
0000: 32 54 45 47 02 00 14 00 01 00 00 00 03 00 00 00
0010: 01 00 00 00 00 00 00 00 00 00 00 00
""")
ACK_0123 = h("""
0000: 32 54 45 47 04 00 10 00 01 00 00 00 0a 00 00 01
0010: 01 02 00 00 23 01 ff ff
""")
FLIP_MIRROR = h("32544547 01001400 01000000 08000000 02000000 00000000 00000000")
PTZ_LEFT = h("32544547 01001400 01000000 09000000 04000000 00000000 00000000")
IR_ON = h("32544547 01001400 01000000 13000000 03000000 00000000 00000000")
KEYFRAME = h("32544547 01001400 01000000 0c000000 01000000 00000000 00000000")
GENERIC_RESP_FLIP = h("32544547 02001400 01000000 08000000 00000000 00000000 00000000")


def with_camera(vector: bytes, port: int, ip: str = LOOP) -> bytes:
    """Patch the camera session port (34, BE) and IP (36) of a reply vector."""
    return vector[:34] + struct.pack(">H", port) + socket.inet_aton(ip) + vector[40:]


def login_from(port: int, ip: str = LOOP, vector: bytes = LOGIN_REQ) -> bytes:
    """Patch the client port (26, BE) and IP (28) of a login vector."""
    return vector[:26] + struct.pack(">H", port) + socket.inet_aton(ip) + vector[32:]


class Peer:
    """A raw UDP client socket on 127.0.0.1."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((LOOP, 0))
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]

    def send(self, data: bytes, port: int) -> None:
        self.sock.sendto(data, (LOOP, port))

    async def recv(self, wait: float = 1.0) -> bytes | None:
        try:
            async with asyncio.timeout(wait):
                data, _ = await asyncio.get_running_loop().sock_recvfrom(self.sock, 65536)
                return data
        except TimeoutError:
            return None

    async def collect(self, duration: float) -> list[bytes]:
        out: list[bytes] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration
        while (left := deadline - loop.time()) > 0:
            data = await self.recv(left)
            if data is not None:
                out.append(data)
        return out

    async def recv_where(self, pred: Callable[[bytes], bool], wait: float = 1.0) -> bytes | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while (left := deadline - loop.time()) > 0:
            data = await self.recv(left)
            if data is not None and pred(data):
                return data
        return None

    async def login(self, cam: TegCamera) -> tuple[bytes, bytes]:
        """Log in; return (params CTRL_RESP, LOGIN_RESP)."""
        self.send(login_from(self.port), cam.session_port)
        first = await self.recv()
        second = await self.recv()
        assert first is not None
        assert second is not None
        return first, second

    def drain(self) -> list[bytes]:
        """Everything already queued on the socket."""
        out = []
        while True:
            try:
                out.append(self.sock.recv(65536))
            except BlockingIOError:
                return out

    def close(self) -> None:
        self.sock.close()


def is_media(d: bytes) -> bool:
    return d[:4] == b"2TEG" and d[4:6] == b"\x03\x00"


def is_ctrl(d: bytes, ctl: int) -> bool:
    return d[:6] == b"2TEG\x01\x00" and struct.unpack_from("<I", d, 12)[0] == ctl


def parse_media(d: bytes) -> tuple[int, int, int, bytes, bytes]:
    """(stream type, frame id, packet index, extra header, payload)."""
    _m, _c, dlen, _link, one, stype, fid, idx, plen = struct.unpack_from("<4sHHIHHHHI", d)
    assert one == 1
    assert len(d) == 8 + dlen
    start = 8 + dlen - plen
    return stype, fid, idx, d[24:start], d[start : 8 + dlen]


def reassemble(packets: list[bytes]) -> dict[int, bytes]:
    """Complete video frames by frame id (checks the frame header)."""
    parts: dict[int, dict[int, bytes]] = {}
    heads: dict[int, bytes] = {}
    for d in packets:
        if not is_media(d):
            continue
        stype, fid, idx, extra, payload = parse_media(d)
        if stype != 0:
            continue
        parts.setdefault(fid, {})[idx] = payload
        if idx == 0:
            assert len(extra) == 16
            heads[fid] = extra
        else:
            assert extra == b""
    frames = {}
    for fid, head in heads.items():
        total, count, w, hgt, _ts = struct.unpack("<IIHHI", head)
        assert (w, hgt) == (640, 480)
        got = parts[fid]
        if len(got) == count:
            data = b"".join(got[i] for i in range(count))
            assert len(data) == total
            frames[fid] = data
    return frames


type CamFactory = Callable[..., Awaitable[TegCamera]]


@pytest.fixture
async def make_cam() -> AsyncIterator[CamFactory]:
    cams: list[TegCamera] = []

    async def _make(**kw: Any) -> TegCamera:
        kw.setdefault("fps", 10.0)
        cam = TegCamera(TegCameraConfig(host=LOOP, **kw))
        await cam.start()
        cams.append(cam)
        return cam

    yield _make
    for cam in cams:
        await cam.stop()


@pytest.fixture
def peers() -> Any:
    made: list[Peer] = []

    def _peer() -> Peer:
        p = Peer()
        made.append(p)
        return p

    yield _peer
    for p in made:
        p.close()


# --- frames -------------------------------------------------------------------


def test_frame_source_unique_valid_jpegs() -> None:
    src = FrameSource(count=3, seed=5)
    frames = [src.next_frame() for _ in range(7)]
    assert len(set(frames)) == 7
    for f in frames:
        assert f[:2] == b"\xff\xd8"
        assert f[-2:] == b"\xff\xd9"
        assert f[2:4] == b"\xff\xfe"  # COM segment right after SOI
        assert 10_000 < len(f) < 40_000
        img = Image.open(io.BytesIO(f))
        img.load()
        assert img.size == (640, 480)
        assert img.format == "JPEG"
        assert not img.info.get("progressive")
    # the pictures themselves cycle: frame 0 and 3 differ only in the COM counter
    assert frames[0][20:] == frames[3][20:]
    assert frames[0][20:] != frames[1][20:]


# --- discovery ----------------------------------------------------------------


async def test_discovery_two_copies_byte_exact(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam()
    p = peers()
    p.send(SEARCH_REQ, cam.discovery_port)
    got = await p.collect(0.3)
    assert got == [with_camera(SEARCH_RESP, cam.session_port)] * 2
    assert len(got[0]) == 76


async def test_discovery_repeat_and_announce_ip(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(discovery_repeat=3, announce_ip="192.168.1.60")
    p = peers()
    p.send(SEARCH_REQ, cam.discovery_port)
    got = await p.collect(0.3)
    assert got == [with_camera(SEARCH_RESP, cam.session_port, "192.168.1.60")] * 3


GARBAGE = [
    b"",
    b"1TEG",
    b"1TEG\x0b\x00",
    SEARCH_REQ[:19],  # data_len 12 but only 11 bytes follow
    b"0TEG" + SEARCH_REQ[4:],
    b"2TEG" + SEARCH_REQ[4:],
    SEARCH_REQ[:4] + b"\x0d\x00" + SEARCH_REQ[6:],
    LOGIN_REQ,
    b"\xff" * 300,
]


async def test_discovery_ignores_garbage(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam()
    p = peers()
    for garbage in GARBAGE:
        p.send(garbage, cam.discovery_port)
    assert await p.recv(0.15) is None
    # still alive; extra bytes after data_len are allowed
    p.send(SEARCH_REQ + b"\x00\x01", cam.discovery_port)
    assert await p.recv(0.5) == with_camera(SEARCH_RESP, cam.session_port)
    assert cam.stats.errors == 0
    assert cam.stats.ignored == len(GARBAGE)


# --- login --------------------------------------------------------------------


async def test_login_ok_byte_exact_and_idempotent(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam()
    p = peers()
    params, resp = await p.login(cam)
    expected_params = bytearray(PARAMS_MASK1_FPS10)
    struct.pack_into("<I", expected_params, 16, 0)  # sub = mask 0 after login
    struct.pack_into("<I", expected_params, 108, 0)  # live mask field
    assert params == bytes(expected_params)
    assert resp == with_camera(LOGIN_OK, cam.session_port)
    assert cam.client_count == 1
    # a repeated login from the same address is the same session
    params2, resp2 = await p.login(cam)
    assert (params2, resp2) == (params, resp)
    assert cam.client_count == 1
    assert cam.stats.logins == 2
    assert cam.stats.clients == 1


async def test_login_wrong_token(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam()
    p = peers()
    p.send(login_from(p.port, vector=LOGIN_REQ_TOKEN), cam.session_port)
    resp = await p.recv()
    expected = bytearray(with_camera(LOGIN_OK, cam.session_port))
    expected[0x14:0x18] = b"\x03\x00\x00\x00"
    expected[0x18:0x1C] = bytes(4)
    expected[0x2E:0x30] = bytes(2)
    expected[0x50:0x54] = bytes(4)
    assert resp == bytes(expected)
    assert await p.recv(0.1) is None  # no params
    assert cam.client_count == 0
    assert cam.stats.rejected_logins == 1


async def test_login_with_configured_token(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(token="6ddd60335190")
    p = peers()
    p.send(login_from(p.port, vector=LOGIN_REQ_TOKEN), cam.session_port)
    got = await p.collect(0.2)
    assert got[-1] == with_camera(LOGIN_OK, cam.session_port)
    p2 = peers()
    p2.send(login_from(p2.port), cam.session_port)  # no-password token now wrong
    resp = await p2.recv()
    assert resp is not None
    assert resp[0x14] == 3


async def test_login_full_then_freed_by_close(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam()
    a, b = peers(), peers()
    await a.login(cam)
    b.send(login_from(b.port), cam.session_port)
    resp = await b.recv()
    expected = bytearray(with_camera(LOGIN_OK, cam.session_port))
    expected[0x14:0x18] = b"\x02\x00\x00\x00"
    expected[0x18:0x1C] = bytes(4)
    expected[0x50:0x54] = bytes(4)
    assert resp == bytes(expected)  # one client online at 0x2e
    a.send(CLOSE, cam.session_port)
    assert await a.recv() == CLOSE_RESP
    assert cam.client_count == 0
    _params, resp = await b.login(cam)
    assert resp[0x14] == 0
    assert resp[0x18] == 1


async def test_login_two_slots_get_distinct_link_ids(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(max_clients=2, link_id_base=7)
    a, b = peers(), peers()
    _, ra = await a.login(cam)
    _, rb = await b.login(cam)
    assert struct.unpack_from("<I", ra, 24)[0] == 7
    assert struct.unpack_from("<I", rb, 24)[0] == 8
    assert struct.unpack_from("<H", rb, 46)[0] == 2


async def test_login_bad_address_result_1(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam()
    p = peers()
    # zero address, zero port, and (vector 10.3 as is) an address off loopback
    for ip, port in [("0.0.0.0", 0), ("0.0.0.0", 41773), (LOOP, 0), ("192.168.1.50", 41773)]:
        p.send(login_from(port, ip), cam.session_port)
        resp = await p.recv()
        assert resp is not None
        assert len(resp) == 92
        assert resp[0x14] == 1
        assert resp[0x18:0x1C] == bytes(4)
    assert cam.client_count == 0
    assert cam.stats.rejected_logins == 4


async def test_media_goes_to_announced_address(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam()
    sender, receiver = peers(), peers()
    sender.send(login_from(receiver.port), cam.session_port)
    login_resp = await sender.recv()
    assert login_resp is not None
    assert login_resp[0x14] == 0
    params = await receiver.recv()
    assert params is not None
    assert params[:6] == b"2TEG\x02\x00"
    # LIVE from the login's source (not the announced address) is ignored
    sender.send(LIVE_VIDEO, cam.session_port)
    assert await receiver.recv(0.3) is None
    assert await sender.recv(0.05) is None
    receiver.send(LIVE_VIDEO, cam.session_port)
    assert await receiver.recv_where(is_media, 1.0) is not None
    assert await sender.recv(0.05) is None


# --- live video ---------------------------------------------------------------


async def test_live_streams_real_jpegs(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(fps=20.0)
    p = peers()
    await p.login(cam)
    p.send(LIVE_VIDEO, cam.session_port)
    assert await p.recv() == bytes(PARAMS_MASK1_FPS10[:0x34]) + b"\x14" + PARAMS_MASK1_FPS10[0x35:]
    got = await p.collect(0.4)
    frames = reassemble(got)
    assert len(frames) >= 4
    ids = sorted(frames)
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    for data in frames.values():
        img = Image.open(io.BytesIO(data))
        img.load()
        assert img.size == (640, 480)
        assert data[:2] == b"\xff\xd8"
        assert data[-2:] == b"\xff\xd9"
    assert len(set(frames.values())) == len(frames)
    sizes = {len(d) for d in got if is_media(d)}
    assert max(sizes) == 1072  # 40 + 1032 on first packets
    firsts = [d for d in got if is_media(d) and parse_media(d)[2] == 0]
    assert all(struct.unpack_from("<I", d, 28)[0] >= 10 for d in firsts)  # ~20 packets
    assert cam.stats.frames_sent >= 4
    assert cam.stats.packets_dropped == 0
    # stop: LIVE sub 1 with mask 0
    p.send(LIVE_VIDEO[:-4] + bytes(4), cam.session_port)
    stop_resp = await p.recv_where(lambda d: d[:6] == b"2TEG\x02\x00")
    assert stop_resp is not None
    assert stop_resp[16] == 0
    await asyncio.sleep(0.1)
    assert not any(is_media(d) for d in await p.collect(0.2))


async def test_live_sub0_clears_bits_and_audio(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(fps=20.0, audio_interval=0.04, frame_id_start=65530)
    p = peers()
    await p.login(cam)
    p.send(LIVE_AV, cam.session_port)
    resp = await p.recv()
    assert resp is not None
    assert resp[16] == 3
    assert resp[-4] == 3
    got = await p.collect(0.4)
    audio = [d for d in got if is_media(d) and parse_media(d)[0] == 1]
    video_ids = {parse_media(d)[1] for d in got if is_media(d) and parse_media(d)[0] == 0}
    assert len(audio) >= 4
    for d in audio:
        assert len(d) == 544
        assert d[4:8] == b"\x03\x00\x18\x02"
        assert d[18:24] == b"\x00\x00\x04\x02\x00\x00"  # high half of id 0, payload 516
    audio_ids = {parse_media(d)[1] for d in audio}
    assert not audio_ids & video_ids  # one shared counter
    assert {65534, 65535, 0, 1} <= audio_ids | video_ids  # wraps
    assert reassemble(got)
    # sub 0 with mask 1 clears video only
    p.send(LIVE_VIDEO[:16] + b"\x00" + LIVE_VIDEO[17:], cam.session_port)
    resp = await p.recv_where(lambda d: d[:6] == b"2TEG\x02\x00")
    assert resp is not None
    assert resp[16] == 2
    await asyncio.sleep(0.1)
    later = [d for d in await p.collect(0.3) if is_media(d)]
    assert later
    assert all(parse_media(d)[0] == 1 for d in later)


async def test_impairments_loss_dup_reorder(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(fps=20.0, dup=0.3, reorder=0.3, seed=3)
    p = peers()
    await p.login(cam)
    p.send(LIVE_VIDEO, cam.session_port)
    got = [d for d in await p.collect(0.4) if is_media(d)]
    assert cam.stats.packets_duplicated > 0
    assert len(got) > len(set(got))  # duplicates on the wire
    seq = [(parse_media(d)[1], parse_media(d)[2]) for d in got]
    assert seq != sorted(seq)  # reordered
    assert len(reassemble(got)) >= 4

    lossy = await make_cam(fps=20.0, loss=1.0)
    q = peers()
    await q.login(lossy)
    q.send(LIVE_VIDEO, lossy.session_port)
    await q.recv()  # params
    assert not [d for d in await q.collect(0.3) if is_media(d)]
    assert lossy.stats.packets_dropped > 0
    assert lossy.stats.packets_sent == 0


async def test_rx_drop_ignores_requests(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(rx_drop=1.0)
    p = peers()
    p.send(login_from(p.port), cam.session_port)
    p.send(SEARCH_REQ, cam.discovery_port)
    assert await p.recv(0.2) is None
    assert cam.stats.requests_dropped == 2


# --- timeouts, heartbeat, close -----------------------------------------------


async def test_stream_timeout_sends_close_and_frees_slot(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(stream_timeout=0.3)
    p = peers()
    await p.login(cam)
    p.send(LIVE_VIDEO, cam.session_port)
    close = await p.recv_where(lambda d: is_ctrl(d, 3), 1.5)
    assert close == CLOSE
    assert cam.client_count == 0
    assert cam.stats.timeouts == 1
    assert not [d for d in await p.collect(0.2) if is_media(d)]
    other = peers()
    _params, resp = await other.login(cam)
    assert resp[0x14] == 0


async def test_keepalive_prevents_timeout(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(stream_timeout=0.3)
    p = peers()
    await p.login(cam)
    p.send(LIVE_VIDEO, cam.session_port)
    for _ in range(6):
        await asyncio.sleep(0.1)
        p.send(KEEPALIVE_0F, cam.session_port)
    assert cam.client_count == 1


async def test_idle_timeout_and_camera_heartbeat(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(idle_timeout=0.6, heartbeat_interval=0.2)
    p = peers()
    await p.login(cam)
    p.send(CLIENT_HEARTBEAT, cam.session_port)  # accepted, never answered
    got = await p.collect(0.45)
    assert got
    assert all(d == CAMERA_HEARTBEAT for d in got)
    close = await p.recv_where(lambda d: is_ctrl(d, 3), 1.0)
    assert close == CLOSE
    assert cam.client_count == 0


async def test_close_stops_media(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(fps=20.0)
    p = peers()
    await p.login(cam)
    p.send(LIVE_VIDEO, cam.session_port)
    assert await p.recv_where(is_media) is not None
    p.send(CLOSE, cam.session_port)
    assert await p.recv_where(lambda d: d[:6] == b"2TEG\x02\x00" and d[12] == 3) == CLOSE_RESP
    await asyncio.sleep(0.05)
    assert not [d for d in await p.collect(0.2) if is_media(d)]
    assert cam.client_count == 0
    assert cam.finished_sessions[-1].end_reason == "client closed"
    assert cam.finished_sessions[-1].frames >= 1


# --- controls, addresses, ACK/NAK -----------------------------------------------


async def test_other_controls(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam()
    p = peers()
    await p.login(cam)
    port = cam.session_port
    p.send(FLIP_MIRROR, port)
    assert await p.recv() == GENERIC_RESP_FLIP
    assert cam.flip == 2
    for msg in (PTZ_LEFT, IR_ON):
        p.send(msg, port)
        resp = await p.recv()
        assert resp == b"2TEG\x02\x00" + msg[6:12] + msg[12:16] + bytes(12)
    p.send(KEYFRAME, port)
    p.send(CLIENT_HEARTBEAT, port)
    assert await p.recv(0.15) is None
    unknown = FLIP_MIRROR[:12] + b"\x77" + FLIP_MIRROR[13:]
    p.send(unknown, port)
    resp = await p.recv()
    assert resp is not None
    assert struct.unpack_from("<II", resp, 12) == (0x77, 0xFFFF)
    p.send(LIVE_VIDEO, port)
    params = await p.recv()
    assert params is not None
    assert struct.unpack_from("<I", params, 28 + 40)[0] == 2


async def test_foreign_address_and_wrong_link_ignored(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam()
    p, stranger = peers(), peers()
    await p.login(cam)
    stranger.send(LIVE_VIDEO, cam.session_port)
    assert await stranger.recv(0.15) is None
    wrong_link = LIVE_VIDEO[:8] + b"\x02" + LIVE_VIDEO[9:]
    p.send(wrong_link, cam.session_port)
    assert await p.recv(0.15) is None
    assert cam.client_mask((LOOP, p.port)) == 0
    assert cam.stats.ignored >= 2


async def test_ack_nak_counted_and_optional_resend(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(fps=5.0, resend=True)
    p = peers()
    await p.login(cam)
    p.send(LIVE_VIDEO, cam.session_port)
    first = await p.recv_where(is_media)
    assert first is not None
    _st, fid, idx, _x, _pl = parse_media(first)
    await p.collect(0.05)
    p.send(ACK_0123, cam.session_port)
    nak = b"2TEG\x04\x00\x10\x00\x01\x00\x00\x00\x0a\x00\x00\x01" + struct.pack(
        "<BBHHH", 0, 0, 0, fid, idx
    )
    p.send(nak, cam.session_port)
    again = await p.recv_where(lambda d: d == first, 0.5)
    assert again == first
    p.send(nak, cam.session_port)  # only once
    await asyncio.sleep(0.1)
    assert (cam.stats.acks, cam.stats.naks, cam.stats.resent) == (1, 2, 1)
    # an ACK pack piggy-backed on a CTRL (ack flag 1)
    hb = CLIENT_HEARTBEAT[:24] + b"\x01\x00\x00\x00" + CLIENT_HEARTBEAT[28:] + ACK_0123[12:]
    p.send(hb, cam.session_port)
    await asyncio.sleep(0.05)
    assert cam.stats.acks == 2


# --- silent, reboot, robustness ------------------------------------------------


async def test_silent_flag(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(fps=20.0)
    p = peers()
    await p.login(cam)
    p.send(LIVE_VIDEO, cam.session_port)
    assert await p.recv_where(is_media) is not None
    cam.silent = True
    await p.collect(0.1)
    p.send(SEARCH_REQ, cam.discovery_port)
    p.send(FLIP_MIRROR, cam.session_port)
    assert await p.collect(0.25) == []
    cam.silent = False
    assert await p.recv_where(is_media) is not None
    p.send(SEARCH_REQ, cam.discovery_port)
    assert await p.recv_where(lambda d: d[:6] == b"1TEG\x0c\x00") is not None


async def test_reboot_forgets_clients_and_moves_port(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(fps=20.0)
    p = peers()
    await p.login(cam)
    p.send(LIVE_VIDEO, cam.session_port)
    assert await p.recv_where(is_media) is not None
    old_port = cam.session_port
    p.drain()
    await cam.reboot(new_session_port=True)
    assert cam.session_port != old_port
    assert cam.client_count == 0
    await asyncio.sleep(0.05)
    leftovers = await p.collect(0.2)
    assert not [d for d in leftovers if is_ctrl(d, 3)]  # no close on reboot
    assert not [d for d in leftovers if is_media(d)]
    p.send(LIVE_VIDEO, cam.session_port)  # stale session: ignored
    assert await p.recv(0.15) is None
    p.send(SEARCH_REQ, cam.discovery_port)
    resp = await p.recv_where(lambda d: d[:6] == b"1TEG\x0c\x00")
    assert resp == with_camera(SEARCH_RESP, cam.session_port)
    assert await p.recv() == resp  # second copy
    _params, login = await p.login(cam)
    assert login[0x14] == 0
    await cam.reboot()  # same port
    assert cam.client_count == 0


async def test_fuzz_never_crashes(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam(fps=20.0, max_clients=2)
    p = peers()
    await p.login(cam)
    rng = random.Random(1234)
    seeds = [
        SEARCH_REQ, LOGIN_REQ, login_from(p.port), LIVE_VIDEO, LIVE_AV, CLOSE, ACK_0123,
        CLIENT_HEARTBEAT, FLIP_MIRROR, KEYFRAME, KEEPALIVE_0F,
    ]  # fmt: skip
    me = (LOOP, p.port)
    for i in range(3000):
        msg = bytearray(rng.choice(seeds))
        op = rng.randrange(5)
        if op == 0:
            del msg[rng.randrange(len(msg) + 1) :]
        elif op == 1:
            for _ in range(rng.randrange(1, 6)):
                msg[rng.randrange(len(msg))] = rng.randrange(256)
        elif op == 2:
            msg += rng.randbytes(rng.randrange(64))
        elif op == 3:
            msg[6:8] = struct.pack("<H", rng.choice([0, 1, 4, 19, 20, 40, 0xFFFF]))
        else:
            msg[20:28] = rng.randbytes(8)  # payload_len / ack flag / addresses
        data = bytes(msg)
        if i % 2:
            cam.handle_session(data, me)
        else:
            cam.handle_discovery(data, me)
    assert cam.stats.errors == 0
    # still works afterwards
    q = peers()
    q.send(SEARCH_REQ, cam.discovery_port)
    assert await q.recv_where(lambda d: d[:6] == b"1TEG\x0c\x00") is not None


async def test_stop_sends_close(make_cam: CamFactory, peers: Any) -> None:
    cam = await make_cam()
    p = peers()
    await p.login(cam)
    await cam.stop()
    assert await p.recv_where(lambda d: is_ctrl(d, 3)) == CLOSE
    await cam.stop()  # idempotent


# --- config / CLI -------------------------------------------------------------


def test_refuses_non_loopback() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8"):
        TegCamera(TegCameraConfig(host="192.168.1.60"))  # refused: never bound
    with pytest.raises(SystemExit, match="allow-non-loopback"):
        main(["teg", "--host", "10.1.2.3"])  # refused: never bound


def test_cli_configs_per_host() -> None:
    parser = argparse.ArgumentParser()
    add_teg_arguments(parser)
    args = parser.parse_args(
        ["--host", "127.0.0.2", "--host", "127.0.0.3", "--loss", "0.05", "--max-clients", "2"]
    )
    cfgs = build_teg_configs(args)
    assert [c.host for c in cfgs] == ["127.0.0.2", "127.0.0.3"]
    assert cfgs[0].uid != cfgs[1].uid
    assert len(cfgs[0].uid) == 27
    assert cfgs[0].uid == derive_uid("127.0.0.2")
    assert (cfgs[0].discovery_port, cfgs[0].session_port) == (10104, 17900)
    assert cfgs[1].loss == 0.05
    assert cfgs[1].max_clients == 2
    assert derive_uid("127.0.0.1") == UID
