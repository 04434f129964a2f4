"""PPPP fault scenarios over loopback: loss with retransmission, reboot, silence, garbage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import dataclasses
import random
import socket
import time
from typing import Any

import pytest

from bench.fuzz import Mutator, Relay, app_corpus, pppp_corpus
from custom_components.chinesium.protocol import (
    CameraConnectionError,
    CameraInfo,
    CameraTimeoutError,
    Credentials,
    Family,
    Frame,
    SessionOptions,
)
from custom_components.chinesium.protocol.pppp.session import PpppSession
from fakecam.pppp import PpppCamera, PpppCameraConfig

from .conftest import wait_for
from .helpers import (
    LOOPBACK,
    SessionRecorder,
    assert_decodes,
    assert_strictly_increasing,
    loopback_options,
    session_end,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

DUID = "ABCD-123456-VWXYZ"
OPTS = loopback_options(connect_timeout=1.5, keepalive_interval=0.2, silence_timeout=0.8)


class Harness(SessionRecorder[PpppSession]):
    """Cameras and sessions of one test, with their frames; cleans up afterwards."""

    def __init__(self) -> None:
        super().__init__()
        self.cams: list[PpppCamera] = []

    async def camera(self, **kw: Any) -> PpppCamera:
        kw.setdefault("fps", 20.0)
        cam = PpppCamera(PpppCameraConfig(host=LOOPBACK, port=0, duid=DUID, app="shix", **kw))
        await cam.start()
        self.cams.append(cam)
        return cam

    async def open(self, port: int, options: SessionOptions = OPTS) -> PpppSession:
        info = CameraInfo(DUID, LOOPBACK, port, Family.PPPP, app_layer="shix")
        session = self.track(PpppSession(info, Credentials(), options))
        await session.start()
        return session

    async def close(self) -> None:
        await super().close()
        for cam in self.cams:
            await cam.stop()


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    """Per-test harness."""
    harness = Harness()
    yield harness
    await harness.close()
    await asyncio.sleep(0.05)


def assert_sent_intact(frames: list[Frame], cam: PpppCamera) -> None:
    """Every frame is byte-identical to one the camera sent, decodes, and is in order."""
    sent = list(cam.sent_frames)
    positions = []
    for frame in frames:
        assert frame.data in sent, "frame was corrupted on the way"
        positions.append(sent.index(frame.data))
        assert_decodes(frame.data)
    assert_strictly_increasing(positions)


@pytest.mark.parametrize("loss", [0.10, 0.20])
async def test_loss_with_retransmission_every_frame_intact(h: Harness, loss: float) -> None:
    """10-20 % loss (data and ACKs): DRW retransmission delivers every frame intact."""
    cam = await h.camera(loss=loss, impair_acks=True, seed=2, retransmit_timeout=0.1)
    session = await h.open(cam.port)
    await wait_for(lambda: len(h.of(session)) >= 12, timeout=6.0)
    assert cam.stats.impaired_drops > 0
    assert cam.stats.drw_retx > 0
    assert session.stats.frames_dropped == 0
    assert session.connected
    frames = h.of(session)
    assert_sent_intact(frames, cam)
    # no gaps: consecutive frames the camera sent arrive consecutively
    sent = list(cam.sent_frames)
    idx = [sent.index(f.data) for f in frames]
    assert idx == list(range(idx[0], idx[0] + len(idx)))


async def test_duplicates_and_reordering(h: Harness) -> None:
    """Duplicated and reordered DRWs are absorbed by the channel; frames stay intact."""
    cam = await h.camera(dup=0.2, reorder=0.2, seed=4)
    session = await h.open(cam.port)
    await wait_for(lambda: len(h.of(session)) >= 12)
    assert session.stats.duplicates > 0
    assert session.stats.frames_dropped == 0
    assert_sent_intact(h.of(session), cam)


async def test_camera_reboot(h: Harness) -> None:
    """A reboot (new session port, no CLOSE) ends the session; a new one streams."""
    cam = await h.camera()
    session = await h.open(cam.port)
    await wait_for(lambda: len(h.of(session)) >= 3)
    await cam.reboot(downtime=0.1)
    reason = await session_end(session, OPTS.silence_timeout + 1.5)
    assert isinstance(reason, CameraTimeoutError | CameraConnectionError)
    again = await h.open(cam.port)
    await wait_for(lambda: len(h.of(again)) >= 3)
    assert_sent_intact(h.of(again), cam)


async def test_camera_silent_then_back(h: Harness) -> None:
    """Silence ends the session within silence_timeout; a new session works afterwards."""
    cam = await h.camera(silence_timeout=0.5)
    session = await h.open(cam.port)
    await wait_for(lambda: len(h.of(session)) >= 3)
    cam.silent = True
    t0 = time.monotonic()
    reason = await session_end(session, OPTS.silence_timeout + 1.0)
    assert isinstance(reason, CameraTimeoutError)
    assert time.monotonic() - t0 <= OPTS.silence_timeout + 0.5
    with pytest.raises(CameraTimeoutError):
        await h.open(cam.port, dataclasses.replace(OPTS, connect_timeout=0.4))
    cam.silent = False
    await asyncio.sleep(0.6)  # the camera's own silence timeout frees the old slot
    again = await h.open(cam.port)
    await wait_for(lambda: len(h.of(again)) >= 3)


async def test_garbage_interleaved_with_stream(h: Harness) -> None:
    """Garbage from the camera's address is counted as malformed; garbage from other
    addresses is counted as foreign; frames keep coming."""
    cam = await h.camera(seed=6)
    mutator = Mutator(random.Random(5), {"pppp": pppp_corpus(), "app": app_corpus()})
    relay = await Relay((LOOPBACK, cam.port), mutator, seed=5).start()
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        session = await h.open(relay.port)
        await wait_for(lambda: len(h.of(session)) >= 3)
        conn = session.conn
        assert conn is not None
        assert conn._transport is not None
        client = conn._transport.get_extra_info("sockname")[:2]
        foreign_before = conn.counters.foreign
        rng = random.Random(8)
        relay.inject = 0.2
        for _ in range(30):
            stranger.sendto(rng.randbytes(rng.randrange(1, 100)), client)
            stranger.sendto(b"\xf1\xd0\x00\x08\xd1\x01\x00\x00" + rng.randbytes(4), client)
            await asyncio.sleep(0.02)
        relay.inject = 0.0
        await asyncio.sleep(0.05)
        assert relay.injected > 3
        assert session.stats.malformed > 0
        assert conn.counters.foreign - foreign_before == 60
        before = len(h.of(session))
        await wait_for(lambda: len(h.of(session)) >= before + 8)
        assert session.connected
        for frame in h.of(session)[before:]:
            assert frame.data in cam.sent_frames
    finally:
        stranger.close()
        relay.close()
