"""Raw-socket tests of the emulated PPPP camera against pppp.md §7 vectors.

Every byte string sent or expected here is copied from the spec's test vectors
(or built from its tables), not from ``fakecam.pppp`` helpers, so a bug in the
emulator's codec cannot hide behind the same bug in the test.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import json
import struct
import time
from typing import Any

import pytest

from fakecam.pppp import (
    PpppCamera,
    PpppCameraConfig,
    add_arguments,
    app_for_did,
    config_from_args,
    decrypt,
    effective_key,
    encrypt,
)

LOOPBACK = "127.0.0.1"
H = bytes.fromhex

SEARCH = H("f1300000")  # #1
SEARCH_CAMERA = H("2cba5f5d")  # #2
PUNCH_BATD = H("f1410014 42415444 00000000 000262ca 574f4e4a 4d000000")  # #4
PUNCH_XHA = H("f1410014 58484100 00000000 000003e2 4b4d4d45 42000000")  # #5
RDY_BATD = H("f1420014 42415444 00000000 000262ca 574f4e4a 4d000000")  # #6
PUNCH_BATD_CAMERA = H("2ccb6293b95535c90e7643470e74af4b099d146c5db6e15d")  # #7
RDY_BATD_CAMERA = H("2cc872e43dfe051df656dbb6e15f3f01a28653a622ca2933")  # #8
ALIVE, ALIVE_ACK, CLOSE = H("f1e00000"), H("f1e10000"), H("f1f00000")  # #9
ACK_CH0_IDX0 = H("f1d10006d100000100 00".replace(" ", ""))  # #12
ACK_CH0_IDX0_CAMERA = H("2c5b6b0c75302db52073")  # #13
SHIX_LOGIN = H(  # #15
    "f1d00056d100000006 0aa0804a0000007b2270726f223a22636865636b5f75736572222c22636d64223a"
    "3130302c2275736572223a2261646d696e222c22707764223a2236363636222c226465766d6163223a22"
    "30303030227d".replace(" ", "")
)
SHIX_LOGIN_CAMERA = H(
    "2c5ad92e8359ea3187d80b427712d0fe2af6260f959a6e8800b545368306aacedbc43738691f35e915c1fa"
    "cd6e863fbe7a2001d7d0dcd47f98f5073d93d9086d7730170ae16b3c7e00f1e718bdd1598be17fcf10e58b"
    "b29f8e81"
)
SHIX_STREAM = H(  # #16 (index 1)
    "f1d0005cd100000106 0aa080500000007b2270726f223a2273747265616d222c22636d64223a3131312c"
    "22766964656f223a312c2275736572223a2261646d696e222c22707764223a2236363636222c22646576"
    "6d6163223a2230303030227d".replace(" ", "")
)
ILNK_LOGIN = (  # #17
    H("f1d000b0d1000000110a2010a400ff0000000000")
    + H("6f")
    + b"\x01" * 27
    + H("60656c686f")
    + b"\x01" * 123
    + H("60656c68")
)
BATD = "BATD-156362-WONJM"


class Peer(asyncio.DatagramProtocol):
    """A bare UDP client socket with an inbox."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[tuple[bytes, tuple[str, int], float]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.inbox.put_nowait((data, addr, time.monotonic()))

    def send(self, data: bytes, port: int) -> None:
        assert self.transport is not None
        self.transport.sendto(data, (LOOPBACK, port))

    async def recv(self, wait: float = 1.0) -> tuple[bytes, tuple[str, int], float]:
        return await asyncio.wait_for(self.inbox.get(), wait)

    async def recv_type(
        self, ptype: int, wait: float = 1.0, key: tuple[int, int, int, int] | None = None
    ) -> tuple[bytes, float]:
        """Next datagram of ``ptype`` (decrypted), skipping ALIVE & co."""
        deadline = time.monotonic() + wait
        while True:
            data, _, at = await self.recv(max(0.01, deadline - time.monotonic()))
            plain = decrypt(data, key) if key else data
            if plain[1] == ptype:
                return plain, at

    async def nothing(self, within: float = 0.2) -> None:
        try:
            data = await self.recv(within)
        except TimeoutError:
            return
        pytest.fail(f"unexpected datagram {data[0].hex(' ')}")

    def drain(self) -> None:
        while not self.inbox.empty():
            self.inbox.get_nowait()


type CamFactory = Callable[..., Awaitable[PpppCamera]]
type PeerFactory = Callable[[], Awaitable[Peer]]


@pytest.fixture
async def make_cam(socket_enabled: None) -> AsyncIterator[CamFactory]:
    cams: list[PpppCamera] = []

    async def _make(**kw: Any) -> PpppCamera:
        kw.setdefault("host", LOOPBACK)
        kw.setdefault("duid", BATD)
        kw.setdefault("app", "shix")
        kw.setdefault("fps", 30.0)
        cam = PpppCamera(PpppCameraConfig(**kw))
        await cam.start()
        cams.append(cam)
        return cam

    yield _make
    for cam in cams:
        await cam.stop()


@pytest.fixture
async def make_peer(socket_enabled: None) -> AsyncIterator[PeerFactory]:
    peers: list[Peer] = []

    async def _make() -> Peer:
        loop = asyncio.get_running_loop()
        _, peer = await loop.create_datagram_endpoint(Peer, local_addr=(LOOPBACK, 0))
        peers.append(peer)
        return peer

    yield _make
    for peer in peers:
        if peer.transport is not None:
            peer.transport.close()


async def _connect(cam: PpppCamera, peer: Peer) -> None:
    assert cam.config.duid == BATD
    peer.send(PUNCH_BATD, cam.session_port)
    await peer.recv_type(0x42)
    await asyncio.sleep(0.05)
    peer.drain()


def _drw(channel: int, index: int, payload: bytes) -> bytes:
    return struct.pack(">BBHBBH", 0xF1, 0xD0, len(payload) + 4, 0xD1, channel, index) + payload


def _shix(obj: dict[str, Any]) -> bytes:
    raw = json.dumps(obj).encode()
    return H("060aa080") + struct.pack("<I", len(raw)) + raw


async def _shix_reply(peer: Peer, key: tuple[int, int, int, int] | None = None) -> dict[str, Any]:
    plain, _ = await peer.recv_type(0xD0, key=key)
    assert plain[4] == 0xD1
    assert plain[5] == 0
    body = plain[8:]
    assert body[:2] == H("060a")
    (length,) = struct.unpack_from("<I", body, 4)
    assert len(body) == 8 + length, "SHIX reply must fill exactly one DRW (aiopppp parses so)"
    reply: dict[str, Any] = json.loads(body[8:])
    return reply


# -- discovery and handshake -------------------------------------------------------------


@pytest.mark.parametrize(
    ("duid", "expected"),
    [(BATD, PUNCH_BATD), ("XHA-000994-KMMEB", PUNCH_XHA)],
    ids=["4-letter", "3-letter"],
)
async def test_search_gets_byte_exact_punch_from_session_port(
    make_cam: CamFactory, make_peer: PeerFactory, duid: str, expected: bytes
) -> None:
    cam = await make_cam(duid=duid)
    peer = await make_peer()
    peer.send(SEARCH, cam.port)
    data, addr, _ = await peer.recv()
    assert data == expected
    assert addr == (LOOPBACK, cam.session_port)
    assert cam.session_port != cam.port
    await peer.nothing(0.1)  # exactly one PUNCH_PKT per search
    assert cam.stats.searches == 1


async def test_punch_and_rdy_handshake_from_another_socket(
    make_cam: CamFactory, make_peer: PeerFactory
) -> None:
    cam = await make_cam()
    searcher, client = await make_peer(), await make_peer()
    searcher.send(SEARCH, cam.port)
    await searcher.recv()
    client.send(PUNCH_BATD, cam.session_port)
    rdys = [await client.recv(0.5) for _ in range(4)]  # CS2: four copies, 10 ms apart
    assert all(d == RDY_BATD and a == (LOOPBACK, cam.session_port) for d, a, _ in rdys)
    assert rdys[-1][2] - rdys[0][2] >= 0.02
    assert cam.stats.sessions_opened == 1
    # iLnk style: P2P_RDY from an established client is answered with P2P_RDY
    client.send(RDY_BATD, cam.session_port)
    assert (await client.recv())[0] == RDY_BATD


async def test_foreign_did_is_ignored(make_cam: CamFactory, make_peer: PeerFactory) -> None:
    cam = await make_cam()
    peer = await make_peer()
    peer.send(PUNCH_XHA, cam.session_port)
    await peer.nothing()
    assert cam.stats.did_mismatch == 1
    assert cam.clients == []


async def test_alive_and_close(make_cam: CamFactory, make_peer: PeerFactory) -> None:
    cam = await make_cam()
    peer = await make_peer()
    await _connect(cam, peer)
    peer.send(ALIVE, cam.session_port)
    assert (await peer.recv())[0] == ALIVE_ACK
    peer.send(CLOSE, cam.session_port)
    await asyncio.sleep(0.05)
    assert cam.clients == []
    assert cam.stats.closes_rx == 1
    peer.send(ALIVE, cam.session_port)  # no session any more
    await peer.nothing(0.1)


async def test_silence_timeout_drops_client_after_alives(
    make_cam: CamFactory, make_peer: PeerFactory
) -> None:
    cam = await make_cam(silence_timeout=0.5, alive_interval=0.1)
    peer = await make_peer()
    await _connect(cam, peer)
    plain, _ = await peer.recv_type(0xE0, wait=0.5)
    assert plain == ALIVE
    await asyncio.sleep(0.6)
    assert cam.clients == []
    assert cam.stats.sessions_timed_out == 1
    assert cam.stats.alive_tx >= 2


async def test_second_client_is_refused(make_cam: CamFactory, make_peer: PeerFactory) -> None:
    cam = await make_cam(max_clients=1)
    first, second = await make_peer(), await make_peer()
    await _connect(cam, first)
    second.send(PUNCH_BATD, cam.session_port)
    await second.nothing()
    assert cam.stats.sessions_refused == 1


async def test_garbage_is_ignored(make_cam: CamFactory, make_peer: PeerFactory) -> None:
    cam = await make_cam()
    peer = await make_peer()
    await _connect(cam, peer)
    for junk in (
        b"",
        b"\xf1",
        H("f1d0"),
        H("f1d00010d100"),  # declared length longer than the datagram
        H("a1000014") + bytes(20),  # iLnk heartbeat magic
        b"338DB900E5592B32\x00",  # CS2 "secret" message
        bytes(range(64)),
    ):
        peer.send(junk, cam.session_port)
        peer.send(junk, cam.port)
    await peer.nothing(0.15)
    assert cam.stats.garbage_rx >= 12
    # the session survived
    peer.send(ALIVE, cam.session_port)
    assert (await peer.recv_type(0xE1))[0] == ALIVE_ACK


async def test_silent_and_reboot(make_cam: CamFactory, make_peer: PeerFactory) -> None:
    cam = await make_cam()
    peer = await make_peer()
    await _connect(cam, peer)
    old_port = cam.session_port
    cam.silent = True
    peer.send(SEARCH, cam.port)
    await peer.nothing(0.1)
    cam.silent = False
    await cam.reboot(downtime=0.05)
    assert cam.clients == []
    assert cam.session_port != old_port
    peer.send(SEARCH, cam.port)
    _, addr, _ = await peer.recv()
    assert addr[1] == cam.session_port


# -- DRW and SHIX ------------------------------------------------------------------------


async def test_shix_login_vector_acked_then_answered(
    make_cam: CamFactory, make_peer: PeerFactory
) -> None:
    cam = await make_cam()
    peer = await make_peer()
    await _connect(cam, peer)
    peer.send(SHIX_LOGIN, cam.session_port)
    ack, ack_at = await peer.recv_type(0xD1)
    assert ack == ACK_CH0_IDX0
    plain, reply_at = await peer.recv_type(0xD0)
    assert plain[:8] == H("f1d0") + struct.pack(">H", len(plain) - 4) + H("d1000000")
    assert plain[8:12] in (H("060aa080"), H("060aa180"))
    assert reply_at - ack_at >= 0.04, "reply must not share the ACK's tick (aiopppp race)"
    reply = json.loads(plain[16:])
    assert reply["cmd"] == 100
    assert reply["result"] == 0
    peer.send(H("f1d10006d1000001") + plain[6:8], cam.session_port)
    await asyncio.sleep(0.05)
    assert cam.stats.logins_ok == 1
    assert cam.stats.acked_indices == 1


@pytest.mark.parametrize(("user", "pwd", "result"), [("admin", "nope", -3), ("root", "6666", -1)])
async def test_shix_bad_login(
    make_cam: CamFactory, make_peer: PeerFactory, user: str, pwd: str, result: int
) -> None:
    cam = await make_cam()
    peer = await make_peer()
    await _connect(cam, peer)
    req = {"pro": "check_user", "cmd": 100, "user": user, "pwd": pwd, "devmac": "0000"}
    peer.send(_drw(0, 0, _shix(req)), cam.session_port)
    reply = await _shix_reply(peer)
    assert reply == {"cmd": 100, "result": result}
    # wrong credentials on stream: error, no video; session stays open
    req = {"pro": "stream", "cmd": 111, "video": 1, "user": user, "pwd": pwd, "devmac": "0000"}
    peer.send(_drw(0, 1, _shix(req)), cam.session_port)
    assert (await _shix_reply(peer))["result"] == result
    await asyncio.sleep(0.15)
    assert not cam.streaming
    assert cam.stats.frames_sent == 0
    assert cam.clients


async def test_reordered_and_duplicate_drws(make_cam: CamFactory, make_peer: PeerFactory) -> None:
    """A login split over two DRWs, sent out of order and once duplicated."""
    cam = await make_cam()
    peer = await make_peer()
    await _connect(cam, peer)
    payload = SHIX_LOGIN[8:]
    first, second = _drw(0, 0, payload[:30]), _drw(0, 1, payload[30:])
    for pkt in (second, first, second):
        peer.send(pkt, cam.session_port)
    acks = [(await peer.recv_type(0xD1))[0] for _ in range(3)]
    assert [a[-2:] for a in acks] == [H("0001"), H("0000"), H("0001")]  # dup acked too
    reply = await _shix_reply(peer)
    assert reply["result"] == 0
    await peer.nothing(0.15)  # and answered once
    assert cam.stats.drw_dup_rx == 1
    assert cam.stats.drw_ooo_rx == 1


def _frames_from(drws: dict[int, bytes]) -> list[bytes]:
    """Reassemble §6.7 frames from channel-1 DRW payloads by header length."""
    run, i = [], 0
    while i in drws:  # only the contiguous prefix (lost DRWs may still be in flight)
        run.append(drws[i])
        i += 1
    stream = b"".join(run)
    frames = []
    while len(stream) >= 32:
        assert stream[:4] == H("55aa15a8"), stream[:8].hex()
        assert stream[4] == 0x03
        (length,) = struct.unpack_from("<I", stream, 16)
        if len(stream) < 32 + length:
            break
        frames.append(stream[32 : 32 + length])
        stream = stream[32 + length :]
    return frames


async def _collect_video(
    peer: Peer, port: int, n_frames: int, key: tuple[int, int, int, int] | None = None
) -> list[bytes]:
    drws: dict[int, bytes] = {}
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        data, _, _ = await peer.recv(2.0)
        plain = decrypt(data, key) if key else data
        if plain[1] != 0xD0:
            continue
        channel, index = plain[5], struct.unpack_from(">H", plain, 6)[0]
        ack = H("f1d10006d1") + bytes([channel]) + H("0001") + plain[6:8]
        peer.send(encrypt(ack, key) if key else ack, port)
        if channel == 1:
            assert len(plain) - 8 <= 1024
            drws[index] = plain[8:]
            if len(_frames_from(drws)) >= n_frames:
                break
    return _frames_from(drws)


async def test_shix_stream_sends_framed_jpegs(make_cam: CamFactory, make_peer: PeerFactory) -> None:
    cam = await make_cam()
    peer = await make_peer()
    await _connect(cam, peer)
    peer.send(SHIX_LOGIN, cam.session_port)
    peer.send(SHIX_STREAM, cam.session_port)
    frames = await _collect_video(peer, cam.session_port, 3)
    assert len(frames) >= 3
    for jpeg in frames:
        assert jpeg[:2] == H("ffd8")
        assert jpeg[-2:] == H("ffd9")
        assert jpeg in cam.sent_frames
    assert len(set(frames)) == len(frames)
    assert cam.stats.drw_retx == 0  # everything acked in time


async def test_unacked_drw_is_retransmitted_with_same_index(
    make_cam: CamFactory, make_peer: PeerFactory
) -> None:
    cam = await make_cam(retransmit_timeout=0.1)
    peer = await make_peer()
    await _connect(cam, peer)
    peer.send(SHIX_LOGIN, cam.session_port)
    first, _ = await peer.recv_type(0xD0)
    again, _ = await peer.recv_type(0xD0, wait=0.5)
    assert again == first  # same index, same bytes
    assert cam.stats.drw_retx >= 1


async def test_lossy_link_still_delivers_whole_frames(
    make_cam: CamFactory, make_peer: PeerFactory
) -> None:
    cam = await make_cam(loss=0.2, dup=0.1, reorder=0.1, retransmit_timeout=0.05, seed=7)
    peer = await make_peer()
    await _connect(cam, peer)
    for _ in range(3):  # our own commands may be "lost" too: resend them, dups are fine
        peer.send(SHIX_LOGIN, cam.session_port)
        peer.send(SHIX_STREAM, cam.session_port)
    frames = await _collect_video(peer, cam.session_port, 3)
    assert len(frames) >= 3
    assert all(f in cam.sent_frames for f in frames)
    s = cam.stats
    assert s.impaired_drops > 0
    assert s.impaired_dups > 0
    assert s.drw_retx > 0


# -- obfuscation -------------------------------------------------------------------------


async def test_obfuscated_round_trip_with_vectors(
    make_cam: CamFactory, make_peer: PeerFactory
) -> None:
    cam = await make_cam(encrypt="camera")
    key = effective_key("camera")
    peer = await make_peer()
    peer.send(SEARCH, cam.port)  # plaintext search: ignored by a PSK camera
    await peer.nothing(0.15)
    peer.send(SEARCH_CAMERA, cam.port)
    data, addr, _ = await peer.recv()
    assert data == PUNCH_BATD_CAMERA
    assert addr[1] == cam.session_port
    peer.send(PUNCH_BATD_CAMERA, cam.session_port)
    assert (await peer.recv())[0] == RDY_BATD_CAMERA
    await asyncio.sleep(0.05)
    peer.drain()
    peer.send(SHIX_LOGIN, cam.session_port)  # plaintext DRW: ignored
    await peer.nothing(0.15)
    peer.send(SHIX_LOGIN_CAMERA, cam.session_port)
    assert (await peer.recv())[0] == ACK_CH0_IDX0_CAMERA
    assert (await _shix_reply(peer, key))["result"] == 0
    peer.send(SHIX_STREAM, cam.session_port)  # stream index 1 (encrypt it ourselves)
    peer.send(encrypt(SHIX_STREAM, key), cam.session_port)
    frames = await _collect_video(peer, cam.session_port, 2, key)
    assert len(frames) >= 2
    assert all(f in cam.sent_frames for f in frames)


# -- iLnk --------------------------------------------------------------------------------


def _ilnk_decode(plain: bytes) -> tuple[int, bytes, bytes]:
    """-> (command, 4 plain bytes, XqBytes-decoded data) of a reply DRW."""
    body = plain[8:]
    assert body[:2] == H("110a")
    cmd, length, _dest = struct.unpack_from("<HHH", body, 2)
    assert len(body) == 8 + length
    enc = body[12:]
    flipped = bytes(b ^ 1 for b in enc)
    data = flipped[-4:] + flipped[:-4] if len(flipped) > 4 else flipped
    return cmd, body[8:12], data


async def test_ilnk_login_ticket_and_video(make_cam: CamFactory, make_peer: PeerFactory) -> None:
    cam = await make_cam(app="ilnk")
    peer = await make_peer()
    await _connect(cam, peer)
    # video without the ticket is refused
    peer.send(H("f1d00010d1000000110a103004000000 00000000".replace(" ", "")), cam.session_port)
    cmd, _, data = _ilnk_decode((await peer.recv_type(0xD0))[0])
    assert cmd == 0x3110
    assert struct.unpack("<i", data[:4])[0] != 0
    peer.send(_drw(0, 1, ILNK_LOGIN[8:]), cam.session_port)
    cmd, _, data = _ilnk_decode((await peer.recv_type(0xD0))[0])
    assert cmd == 0x1120
    assert data[:4] == bytes(4)
    ticket = data[4:8]
    assert len(ticket) == 4
    assert ticket != bytes(4)
    start = H("f1d00010d1000002110a1030040000 00".replace(" ", "")) + ticket  # #18 layout
    peer.send(start, cam.session_port)
    frames = await _collect_video(peer, cam.session_port, 2)
    assert len(frames) >= 2
    assert all(f[:2] == H("ffd8") for f in frames)
    assert "ilnk:0x3010" in cam.stats.commands


async def test_ilnk_bad_password(make_cam: CamFactory, make_peer: PeerFactory) -> None:
    cam = await make_cam(app="ilnk", password="secret")
    peer = await make_peer()
    await _connect(cam, peer)
    peer.send(ILNK_LOGIN, cam.session_port)  # admin/admin
    cmd, _, data = _ilnk_decode((await peer.recv_type(0xD0))[0])
    assert cmd == 0x1120
    assert struct.unpack("<i", data[:4])[0] == -1
    assert cam.stats.logins_failed == 1
    assert cam.clients


# -- config / CLI ------------------------------------------------------------------------


def test_defaults_and_cli() -> None:
    assert app_for_did("BATE-000123-ABCDE") == "ilnk"
    assert app_for_did("DGOK-123456-ABCDE") == "shix"
    assert app_for_did("ABCD-123456-VWXYZ") == "shix"
    assert PpppCameraConfig(duid="BATC-1-ABCDE").effective_password == "admin"
    assert PpppCameraConfig().effective_password == "6666"
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--host", "127.0.0.4", "--encrypt", "camera", "--loss", "0.05"])
    cfg = config_from_args(args)
    assert (cfg.host, cfg.port, cfg.encrypt, cfg.loss) == ("127.0.0.4", 32108, "camera", 0.05)


async def test_non_loopback_host_is_refused() -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        await PpppCamera(PpppCameraConfig(host="192.168.1.10")).start()  # refused: never bound


async def test_ilnk_snapshot_sends_one_frame(make_cam: CamFactory, make_peer: PeerFactory) -> None:
    cam = await make_cam(app="ilnk")
    peer = await make_peer()
    await _connect(cam, peer)
    peer.send(ILNK_LOGIN, cam.session_port)
    _, _, data = _ilnk_decode((await peer.recv_type(0xD0))[0])
    snap = H("f1d00010d1000001110a1a30040000 00".replace(" ", "")) + data[4:8]
    peer.send(snap, cam.session_port)
    frames = await _collect_video(peer, cam.session_port, 1)
    assert len(frames) == 1
    assert frames[0] in cam.sent_frames
    assert cam.stats.snapshots == 1
    assert not cam.streaming
