"""Interop: the chinesium TEG client against an independently written peer.

``tests/peers/teg_peer.py`` was written from ``teg.md`` alone (not from
``fakecam``) and makes the unusual-but-allowed choices: 1400-byte chunks,
padding before payloads, link id 7, 3 discovery copies, params before
LOGIN_RESP, unsolicited 1TEG 0x10, 1 s camera heartbeats, audio interleaved
inside video frames, frame ids wrapping at 65535, reversed packet order.

Part 1 drives the protocol library; part 2 drives the Home Assistant config
flow and camera proxy. A few "peer self-tests" check the peer against the
spec with a raw socket, so a failure can be blamed on the right side.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
import importlib.util
import io
import struct
from typing import Any

import pytest

from custom_components.chinesium.protocol import (
    AuthenticationError,
    CameraConnectionError,
    CameraFullError,
    CameraInfo,
    CameraSession,
    Credentials,
    Family,
    Frame,
    SessionOptions,
    discover,
    open_session,
)
from custom_components.chinesium.protocol.jpeg import jpeg_size, looks_like_jpeg

from .peers.teg_peer import (
    MAGIC_1,
    MAGIC_2,
    NO_PASSWORD_TOKEN,
    TegPeer,
    frame_seq,
    header,
    parse_header,
)

LOOPBACK = "127.0.0.1"
OPTIONS = SessionOptions(
    local_host=LOOPBACK,
    connect_timeout=1.5,
    keepalive_interval=0.5,
    silence_timeout=4.0,
    first_frame_timeout=2.0,
)

type PeerFactory = Callable[..., Awaitable[TegPeer]]


@pytest.fixture
async def make_peer(socket_enabled: None) -> AsyncIterator[PeerFactory]:
    """Start peers on 127.0.0.1 (ephemeral ports); stop them all afterwards."""
    peers: list[TegPeer] = []

    async def _make(**overrides: Any) -> TegPeer:
        peer = TegPeer(host=LOOPBACK, **overrides)
        await peer.start()
        peers.append(peer)
        return peer

    yield _make
    for peer in peers:
        await peer.stop()


def _info(peer: TegPeer) -> CameraInfo:
    """What discovery would return (saves its collection time in most tests)."""
    return CameraInfo(peer.config.uid, LOOPBACK, peer.session_port, Family.TEG)


async def _discover_one(peer: TegPeer) -> CameraInfo:
    found = await discover([peer.discovery_target], families=[Family.TEG], timeout=0.5)
    assert len(found) == 1, found
    return found[0]


async def _wait_for(cond: Callable[[], bool], within: float = 2.0) -> None:
    async with asyncio.timeout(within):
        while not cond():  # noqa: ASYNC110 - polling UDP effects (ha-notes §3)
            await asyncio.sleep(0.01)


async def _collect(session: CameraSession, count: int, within: float = 5.0) -> list[Frame]:
    frames: list[Frame] = []
    unsub = session.add_frame_listener(frames.append)
    try:
        await _wait_for(lambda: len(frames) >= count, within)
    finally:
        unsub()
    return frames


def _capture_loop_errors() -> tuple[list[dict[str, Any]], Callable[[], None]]:
    """Collect exceptions that escape callbacks (e.g. ``datagram_received``)."""
    loop = asyncio.get_running_loop()
    old = loop.get_exception_handler()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    return errors, lambda: loop.set_exception_handler(old)


# -- part 1: the protocol library ------------------------------------------------------


async def test_discover_finds_the_peer_once(make_peer: PeerFactory) -> None:
    """Three copies of the reply, one camera, with the session port from offset 34."""
    peer = await make_peer()
    info = await _discover_one(peer)
    assert info.family is Family.TEG
    assert info.uid == peer.config.uid
    assert info.host == LOOPBACK
    assert info.port == peer.session_port
    assert peer.stats.searches >= 1
    assert peer.stats.discovery_replies == 3 * peer.stats.searches


async def test_streams_intact_frames_through_every_quirk(make_peer: PeerFactory) -> None:
    """>= 20 byte-exact 640x480 JPEGs despite padding, reordering, audio and id wrap."""
    peer = await make_peer(audio="always", dup_every=4, heartbeat_interval=0.2, fps=40.0)
    info = await _discover_one(peer)
    errors, restore = _capture_loop_errors()
    try:
        session = await open_session(info, options=OPTIONS)
        try:
            frames = await _collect(session, 24)
            assert session.connected
        finally:
            await session.close()
    finally:
        restore()
    assert not errors, [ctx.get("exception") for ctx in errors]

    seqs = []
    for frame in frames:
        assert looks_like_jpeg(frame.data)
        assert (frame.width, frame.height) == (640, 480)
        assert jpeg_size(frame.data) == (640, 480)
        seq = frame_seq(frame.data)
        assert seq is not None
        assert frame.data == peer.sent_frames[seq], f"frame {seq} corrupted"
        seqs.append(seq)
    assert seqs == sorted(set(seqs)), "frames duplicated or delivered out of order"
    assert [f.seq for f in frames] == sorted(f.seq for f in frames)
    # The quirks really happened while the client was streaming.
    assert peer.stats.frame_id_wraps >= 1
    assert peer.stats.reversed_frames >= 3
    assert peer.stats.audio_sent >= 3
    assert peer.stats.heartbeats_sent >= 1
    # The client spoke the spec: 0x09 before the token, real address, link id 7.
    assert peer.stats.login_byte32
    assert set(peer.stats.login_byte32) == {0x09}
    assert peer.stats.announce_mismatch == 0
    assert peer.stats.lives, "no LIVE request with link id 7 was accepted"
    assert session.stats.frames_ok >= 24
    await _wait_for(lambda: not peer.clients)
    assert peer.stats.closes_rx >= 1, "close() did not send CTRL(3, 1)"


@pytest.mark.parametrize(
    "quirks",
    [
        pytest.param({"audio": "always"}, id="audio"),
        pytest.param({"chunk": 8000, "pads": (0, 40, 200)}, id="big-chunks-big-pads"),
        pytest.param({"chunk": 512, "reverse_every": 1, "dup_every": 1}, id="small-reversed-dup"),
        pytest.param(
            {"frame_id_start": 65535, "audio": "always", "audio_interval": 0.02}, id="audio-storm"
        ),
    ],
)
async def test_most_frames_survive(make_peer: PeerFactory, quirks: dict[str, Any]) -> None:
    """No loss on loopback: the client must not drop reordered/interleaved frames."""
    peer = await make_peer(**({"fps": 50.0} | quirks))
    info = _info(peer)
    errors, restore = _capture_loop_errors()
    try:
        session = await open_session(info, options=OPTIONS)
        try:
            frames = await _collect(session, 30)
            sent_during = peer.stats.frames_sent
        finally:
            await session.close()
    finally:
        restore()
    assert not errors, [ctx.get("exception") for ctx in errors]
    got = {frame_seq(f.data) for f in frames}
    first = min(s for s in got if s is not None)
    # every frame sent after the first delivered one (minus the in-flight tail)
    expected = set(range(first, sent_during - 2))
    missing = expected - got
    assert len(missing) <= 1, f"client dropped frames {sorted(missing)}"


async def test_wrong_token_is_an_authentication_error(make_peer: PeerFactory) -> None:
    """LOGIN_RESP result 3 maps to AuthenticationError."""
    peer = await make_peer(token="6ddd60335190")
    info = _info(peer)
    with pytest.raises(AuthenticationError):
        await open_session(info, Credentials(password=NO_PASSWORD_TOKEN), OPTIONS)
    assert 3 in peer.stats.login_results
    session = await open_session(info, Credentials(password="6ddd60335190"), OPTIONS)
    try:
        assert (await session.next_frame()).width == 640
    finally:
        await session.close()


async def test_second_client_gets_full(make_peer: PeerFactory) -> None:
    """LOGIN_RESP result 2 (one slot, taken) maps to CameraFullError."""
    peer = await make_peer()
    info = _info(peer)
    first = await open_session(info, options=OPTIONS)
    try:
        with pytest.raises(CameraFullError):
            await open_session(info, options=OPTIONS)
        assert 2 in peer.stats.login_results
        assert first.connected
    finally:
        await first.close()


async def test_peer_close_ends_the_session(make_peer: PeerFactory) -> None:
    """CTRL(3, 1) from the camera ends the session well before the silence timeout."""
    peer = await make_peer()
    session = await open_session(_info(peer), options=OPTIONS)
    try:
        await session.next_frame()
        assert await peer.kick() == 1
        with pytest.raises(CameraConnectionError):
            async with asyncio.timeout(1.5):  # silence_timeout is 4 s
                await session.wait_closed()
        assert not session.connected
    finally:
        await session.close()


async def test_keepalive_beats_the_stream_timeout(make_peer: PeerFactory) -> None:
    """The client's keep-alives stop the camera's inactivity drop (§7.4)."""
    peer = await make_peer(stream_timeout=0.6)
    options = replace(OPTIONS, keepalive_interval=0.15)
    session = await open_session(_info(peer), options=options)
    try:
        await asyncio.sleep(1.0)
        assert peer.stats.timeouts == 0
        assert session.connected
        await session.next_frame()
    finally:
        await session.close()


async def test_lost_login_and_live_are_retried(make_peer: PeerFactory) -> None:
    """The camera ignores the first LOGIN_REQ and the first LIVE; the client resends."""
    peer = await make_peer(drop_logins=1, drop_lives=1)
    session = await open_session(_info(peer), options=OPTIONS)
    try:
        assert (await session.next_frame(timeout=3.0)).height == 480
    finally:
        await session.close()


async def _stream_robustly(peer: TegPeer, count: int) -> list[dict[str, Any]]:
    errors, restore = _capture_loop_errors()
    try:
        session = await open_session(_info(peer), options=OPTIONS)
        try:
            frames = await _collect(session, count)
        finally:
            await session.close()
    finally:
        restore()
    for frame in frames:
        seq = frame_seq(frame.data)
        assert seq in peer.sent_frames, f"client delivered the inconsistent frame {seq}"
        assert frame.data == peer.sent_frames[seq]
    return errors


@pytest.mark.parametrize(
    "quirks",
    [
        pytest.param({}, id="surplus-first"),
        pytest.param({"dup_every": 1, "chunk": 512}, id="with-dups"),
    ],
)
async def test_inconsistent_packet_count_is_dropped_quietly(
    make_peer: PeerFactory, quirks: dict[str, Any]
) -> None:
    """A frame whose header undercounts its packets is dropped, nothing raises.

    Regression: an earlier client raised KeyError out of ``datagram_received``
    when a frame held >= count distinct indices but missed one below count.
    """
    peer = await make_peer(bad_count_every=2, fps=50.0, **quirks)
    errors = await _stream_robustly(peer, 15)
    assert peer.stats.bad_frames >= 3
    assert not errors, [ctx.get("exception") for ctx in errors]


async def test_malformed_datagrams_are_ignored(make_peer: PeerFactory) -> None:
    """Truncated / inconsistent 2TEG datagrams from the camera are ignored (§1.3, §5.5)."""
    peer = await make_peer(malformed_every=2, fps=50.0)
    errors = await _stream_robustly(peer, 15)
    assert peer.stats.malformed_sent >= 12
    assert not errors, [ctx.get("exception") for ctx in errors]


# -- peer self-tests (raw socket; they check the peer, not the client) ---------------


class _Raw(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait(data)


async def _raw_socket() -> tuple[asyncio.DatagramTransport, _Raw]:
    loop = asyncio.get_running_loop()
    return await loop.create_datagram_endpoint(_Raw, local_addr=(LOOPBACK, 0))


def _login(port: int, token: str = NO_PASSWORD_TOKEN, ip: bytes = b"\x7f\x00\x00\x01") -> bytes:
    body = bytes(18) + struct.pack(">H", port) + ip + b"\x09" + token.encode() + bytes(3)
    return header(MAGIC_1, 0x0D, len(body)) + body


def _ctrl(link: int, ctl: int, sub: int, payload: bytes = b"") -> bytes:
    body = struct.pack("<IIIII", link, ctl, sub, len(payload), 0) + payload
    return header(MAGIC_2, 1, len(body)) + body


async def test_peer_self_check_login_and_media(make_peer: PeerFactory) -> None:
    """Peer: params before LOGIN_RESP, §4.2 layout, media payload at 8+data_len-len."""
    peer = await make_peer(reverse_every=0, audio="never")
    tr, raw = await _raw_socket()
    try:
        port = tr.get_extra_info("sockname")[1]
        tr.sendto(_login(port), (LOOPBACK, peer.session_port))
        first = await asyncio.wait_for(raw.queue.get(), 1)
        assert parse_header(first) == (MAGIC_2, 2, 104)
        assert struct.unpack_from("<IIII", first, 8) == (7, 0, 0, 84)
        resp = await asyncio.wait_for(raw.queue.get(), 1)
        assert len(resp) == 92
        assert parse_header(resp) == (MAGIC_1, 0x0E, 84)
        assert struct.unpack_from("<II", resp, 20) == (0, 7)
        assert struct.unpack_from(">H", resp, 34)[0] == peer.session_port
        tr.sendto(_ctrl(7, 0, 1, struct.pack("<HHI", 0, 0, 1)), (LOOPBACK, peer.session_port))
        frames: dict[int, dict[int, bytes]] = {}
        counts: dict[int, int] = {}
        async with asyncio.timeout(2):
            while not any(len(frames[f]) == n for f, n in counts.items()):
                pkt = await raw.queue.get()
                hdr = parse_header(pkt)
                assert hdr is not None
                if hdr[:2] != (MAGIC_2, 3):
                    continue
                _, one, stream, fid, idx, plen = struct.unpack_from("<IHHHHI", pkt, 8)
                assert (one, stream) == (1, 0)
                if idx == 0:
                    counts[fid] = struct.unpack_from("<I", pkt, 28)[0]
                frames.setdefault(fid, {})[idx] = pkt[8 + hdr[2] - plen : 8 + hdr[2]]
        fid = next(f for f, n in counts.items() if len(frames[f]) == n)
        jpeg = b"".join(frames[fid][i] for i in range(counts[fid]))
        assert frame_seq(jpeg) is not None
        assert peer.sent_frames[frame_seq(jpeg) or 0] == jpeg
        pil = pytest.importorskip("PIL.Image")
        assert pil.open(io.BytesIO(jpeg)).size == (640, 480)
    finally:
        tr.close()


async def test_peer_self_check_results_and_timeout(make_peer: PeerFactory) -> None:
    """Peer: results 1/3/2, then CTRL(3, 1) after the stream timeout frees the slot."""
    peer = await make_peer(stream_timeout=0.3, device_message=False)
    a, raw_a = await _raw_socket()
    b, raw_b = await _raw_socket()
    try:
        port_a = a.get_extra_info("sockname")[1]
        port_b = b.get_extra_info("sockname")[1]
        target = (LOOPBACK, peer.session_port)

        async def login_result(tr: asyncio.DatagramTransport, raw: _Raw, msg: bytes) -> int:
            tr.sendto(msg, target)
            async with asyncio.timeout(1):
                while True:
                    pkt = await raw.queue.get()
                    if pkt[:6] == MAGIC_1 + b"\x0e\x00":
                        return int(struct.unpack_from("<I", pkt, 20)[0])

        assert await login_result(a, raw_a, _login(port_a, ip=bytes(4))) == 1
        assert await login_result(a, raw_a, _login(port_a, token="000000000000")) == 3
        assert await login_result(a, raw_a, _login(port_a)) == 0
        assert await login_result(b, raw_b, _login(port_b)) == 2
        a.sendto(_ctrl(7, 0, 1, struct.pack("<HHI", 0, 0, 1)), target)
        async with asyncio.timeout(2):
            while True:
                pkt = await raw_a.queue.get()
                if pkt[:6] == MAGIC_2 + b"\x01\x00" and struct.unpack_from("<I", pkt, 12)[0] == 3:
                    break
        assert peer.stats.timeouts == 1
        assert not peer.clients
        assert await login_result(b, raw_b, _login(port_b)) == 0
    finally:
        a.close()
        b.close()


# -- part 2: Home Assistant ------------------------------------------------------------

HA_LAYER = importlib.util.find_spec("custom_components.chinesium.config_flow") is not None


async def test_ha_manual_flow_serves_peer_jpeg(
    make_peer: PeerFactory, hass: Any, hass_client: Any
) -> None:
    """Config flow manual path (host:port) -> entry -> camera proxy serves a peer JPEG."""
    if not HA_LAYER:
        pytest.skip("HA layer not present")
    from homeassistant.config_entries import SOURCE_USER
    from homeassistant.data_entry_flow import FlowResultType
    from homeassistant.helpers import entity_registry as er

    from custom_components.chinesium.const import DOMAIN

    peer = await make_peer(audio="always")
    flow = hass.config_entries.flow
    result = await flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    result = await flow.async_configure(result["flow_id"], {"next_step_id": "manual"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "manual"
    result = await flow.async_configure(result["flow_id"], {"host": peer.discovery_target})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    entry = result["result"]
    assert entry.unique_id == peer.config.uid
    assert entry.data["host"] == LOOPBACK
    assert entry.data["port"] == peer.session_port
    await hass.async_block_till_done()

    cameras = [
        e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if e.domain == "camera"
    ]
    assert len(cameras) == 1
    client = await hass_client()
    body = b""
    async with asyncio.timeout(5):
        while True:
            resp = await client.get(f"/api/camera_proxy/{cameras[0]}")
            if resp.status == 200:
                assert resp.content_type == "image/jpeg"
                body = await resp.read()
                break
            await asyncio.sleep(0.05)
    seq = frame_seq(body)
    assert seq is not None
    assert body == peer.sent_frames[seq]
    assert jpeg_size(body) == (640, 480)
    assert peer.clients, "the entry's session is not logged in to the peer"
