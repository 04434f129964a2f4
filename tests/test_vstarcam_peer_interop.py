"""Interop: the chinesium PPPP client (VStarcam CGI layer) against an independent peer.

``tests/peers/vstarcam_peer.py`` was written from ``pppp.md`` alone, without
reading the client or ``fakecam``; its module docstring lists the unusual but
legal choices it makes (separate search/session sockets, 1000-byte DRWs,
batched ACKs that trail the replies, replies split over two DRWs, quoted
``var`` values, non-zero envelope bytes 2-3, 3 s Eye4 bursts per request, ...).
``tests/test_vstarcam_peer.py`` checks the peer itself with a raw client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
import itertools
from typing import Any

import pytest

from custom_components.chinesium.protocol import (
    AuthenticationError,
    CameraInfo,
    CameraSession,
    Codec,
    Credentials,
    Family,
    Frame,
    SessionOptions,
    create_session,
    open_session,
)

from .peers.vstarcam_peer import SYS_VER, VStarcamPeer

pytestmark = pytest.mark.usefixtures("socket_enabled")

LOOPBACK = "127.0.0.1"
KEY = "vstarcam2019"
DID = "VSTJ-002961-ZTPRW"
OPTIONS = SessionOptions(
    local_host=LOOPBACK,
    connect_timeout=2.0,
    keepalive_interval=0.5,
    silence_timeout=4.0,
    first_frame_timeout=3.0,
)
FAST: dict[str, Any] = {"size": (640, 360), "fps": 15, "gop": 15, "loop_frames": 30}

type PeerFactory = Callable[..., Any]


@pytest.fixture
async def make_peer() -> AsyncIterator[PeerFactory]:
    """Start peers on 127.0.0.1 (ephemeral ports); stop them all afterwards."""
    peers: list[VStarcamPeer] = []

    async def _make(**kw: Any) -> VStarcamPeer:
        peer = VStarcamPeer(host=LOOPBACK, did=DID, **kw)
        await peer.start()
        peers.append(peer)
        return peer

    yield _make
    for peer in peers:
        await peer.stop()


def _info(peer: VStarcamPeer, key: str | None = KEY) -> CameraInfo:
    return CameraInfo(
        uid=DID,
        host=LOOPBACK,
        port=peer.port,
        family=Family.PPPP,
        app_layer="vstarcam",
        extra={"key": key} if key else {},
    )


@contextlib.asynccontextmanager
async def _streaming(
    peer: VStarcamPeer, key: str | None = KEY
) -> AsyncIterator[tuple[CameraSession, list[Frame]]]:
    """Like ``open_session`` but listening before start, so no frame is missed."""
    session = create_session(_info(peer, key), Credentials("admin", "888888"), OPTIONS)
    frames: list[Frame] = []
    unsub = session.add_frame_listener(frames.append)
    try:
        await session.start()
        yield session, frames
    finally:
        unsub()
        await session.close()


async def _wait_frames(frames: list[Frame], count: int, within: float = 8.0) -> list[Frame]:
    async with asyncio.timeout(within):
        while len(frames) < count:  # noqa: ASYNC110 - polling UDP effects
            await asyncio.sleep(0.01)
    return list(frames)


def _check_against_peer(frames: list[Frame], peer: VStarcamPeer, codec: Codec) -> None:
    """Byte-for-byte equal to what the peer sent, keyframe first, camera pts preserved."""
    sent = peer.sent
    assert len(frames) <= len(sent)
    expected = sent[: len(frames)]
    assert [f.data for f in frames] == [s.data for s in expected]
    assert [f.keyframe for f in frames] == [s.keyframe for s in expected]
    assert frames[0].keyframe
    assert all(f.codec is codec for f in frames)
    pts = [f.pts for f in frames]
    assert all(p is not None for p in pts)
    ints = [p for p in pts if p is not None]
    assert all(b > a for a, b in itertools.pairwise(ints))
    # Camera-clock ms: the deltas must be the peer's deltas (any constant offset allowed).
    assert [b - a for a, b in itertools.pairwise(ints)] == [
        b.pts - a.pts for a, b in itertools.pairwise(expected)
    ]


async def test_stream_spans_several_requests_byte_exact(make_peer: PeerFactory) -> None:
    """1280x720 H.264 over > one Eye4 burst: the client must re-request the stream."""
    peer = await make_peer(burst=0.8)
    async with _streaming(peer) as (session, received):
        frames = await _wait_frames(received, 20, within=9.0)
        assert peer.stream_requests >= 2
        _check_against_peer(frames, peer, Codec.H264)
        assert peer.refused_logins == 0
        if session.facts.firmware is not None:
            assert session.facts.firmware == SYS_VER


async def test_h265_stream_byte_exact(make_peer: PeerFactory) -> None:
    """H.265 access units pass through unchanged and are labelled H.265."""
    peer = await make_peer(codec="h265", **FAST)
    async with _streaming(peer) as (_, received):
        frames = await _wait_frames(received, 6)
        _check_against_peer(frames, peer, Codec.H265)


async def test_wrong_password_raises(make_peer: PeerFactory) -> None:
    """``result=-1`` to the login becomes AuthenticationError; no video was sent.

    The camera's password is not the factory default: our client tries the stored
    credentials first and then the defaults (admin/888888), so a camera still on
    the defaults would log in whatever the user typed.
    """
    peer = await make_peer(password="s3cret", **FAST)
    session: CameraSession | None = None
    try:
        with pytest.raises(AuthenticationError):
            session = await open_session(_info(peer), Credentials("admin", "wrong"), OPTIONS)
    finally:
        if session is not None:
            await session.close()
    assert peer.refused_logins >= 1
    assert peer.frames_sent == 0


async def test_plaintext_camera(make_peer: PeerFactory) -> None:
    """A VStarcam model without a PSK (e.g. VSTB/VSTC)."""
    peer = await make_peer(key="", **FAST)
    async with _streaming(peer, key=None) as (_, received):
        frames = await _wait_frames(received, 4)
        _check_against_peer(frames, peer, Codec.H264)


async def test_lossy_link_recovered_by_retransmission(make_peer: PeerFactory) -> None:
    """Every 7th DRW is lost on first send; the peer's retransmissions fill the gaps."""
    peer = await make_peer(drop_every=7, rto=0.3, **FAST)
    async with _streaming(peer) as (_, received):
        frames = await _wait_frames(received, 8)
        assert peer.stats.dropped_on_purpose > 0
        _check_against_peer(frames, peer, Codec.H264)


async def test_video_index_restarts_per_request(make_peer: PeerFactory) -> None:
    """VStarcam quirk (§4.1 [HMC]): the video channel index restarts at 0 per request."""
    peer = await make_peer(burst=0.5, restart_video_index=True, **FAST)
    async with _streaming(peer) as (_, received):
        frames = await _wait_frames(received, 14, within=9.0)
        assert peer.stream_requests >= 2
        _check_against_peer(frames, peer, Codec.H264)


async def test_audio_from_the_peer_bit_exact(make_peer: PeerFactory) -> None:
    """The peer's IMA-ADPCM tone, asked for only while listened to (``adpcm_ver=1``),
    decodes to exactly what FFmpeg's headerless high-nibble-first IMA decoder
    (``adpcm_ima_ssi``, new per frame) makes of the bytes the peer sent; camera pts
    steps of 128 ms are kept."""
    import av
    import numpy as np

    from custom_components.chinesium.protocol import AudioChunk

    peer = await make_peer(tone_hz=1000.0, **FAST)
    async with _streaming(peer) as (session, frames):
        await _wait_frames(frames, 5)
        assert peer.audio_frames_sent == 0  # no listener yet: not asked
        chunks: list[AudioChunk] = []
        unsub = session.add_audio_listener(chunks.append)
        async with asyncio.timeout(10):
            while len(chunks) < 12:  # noqa: ASYNC110 - polling UDP effects
                await asyncio.sleep(0.01)
        assert peer.audio_on
        unsub()
        async with asyncio.timeout(10):
            while peer.audio_on:  # noqa: ASYNC110 - polling UDP effects
                await asyncio.sleep(0.01)
    sent = peer.audio_sent[: len(chunks)]
    ref: list[int] = []
    for item in sent:  # ADPCM version 1: a new decoder per frame
        ctx: Any = av.CodecContext.create("adpcm_ima_ssi", "r")
        ctx.sample_rate = 8000
        ctx.layout = "mono"
        for frame in ctx.decode(av.Packet(item.data)):
            ref.extend(int(v) for v in frame.to_ndarray().ravel())
    ours = np.frombuffer(b"".join(c.data for c in chunks), "<i2").tolist()
    assert len(ours) == len(ref) == 1024 * len(chunks)
    assert ours == ref
    pts = [c.pts for c in chunks]
    assert all(p is not None for p in pts)
    assert [b - a for a, b in itertools.pairwise(pts)] == [128] * (len(pts) - 1)  # type: ignore[operator]
