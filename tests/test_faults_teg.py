"""TEG fault scenarios over loopback: loss, duplication, reordering, reboot, silence,
ICMP port unreachable, garbage, a second client on a full camera."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import dataclasses
import random
import socket
import time

import pytest

from bench.fuzz import Mutator, Relay, teg_corpus
from custom_components.chinesium.protocol import (
    CameraConnectionError,
    CameraFullError,
    CameraInfo,
    CameraTimeoutError,
    Credentials,
    Family,
    Frame,
    SessionOptions,
)
from custom_components.chinesium.protocol.teg.session import TegSession

from .conftest import wait_for
from .helpers import (
    LOOPBACK,
    UID,
    CamFactory,
    SessionRecorder,
    TegCameras,
    assert_decodes,
    assert_strictly_increasing,
    loopback_options,
    session_end,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

OPTS = loopback_options(
    connect_timeout=1.0, keepalive_interval=0.2, silence_timeout=0.6, resend=False
)


@pytest.fixture
async def make_cam() -> AsyncIterator[CamFactory]:
    """Emulated TEG cameras on 127.0.0.1 ephemeral ports."""
    cams = TegCameras()
    yield cams.start
    await cams.stop()


class Sessions(SessionRecorder[TegSession]):
    """Opens sessions, records their frames and closes them at the end."""

    async def open(
        self, port: int, options: SessionOptions = OPTS, *, start: bool = True
    ) -> TegSession:
        session = self.track(
            TegSession(CameraInfo(UID, LOOPBACK, port, Family.TEG), Credentials(), options)
        )
        if start:
            await session.start()
        return session


@pytest.fixture
async def sessions() -> AsyncIterator[Sessions]:
    """Session helper; closes everything afterwards."""
    helper = Sessions()
    yield helper
    await helper.close()
    await asyncio.sleep(0.05)  # let the close datagrams' timers run


def assert_intact(frames: list[Frame]) -> None:
    """Every frame is a complete 640x480 JPEG that Pillow decodes."""
    for frame in frames:
        assert frame.data[:2] == b"\xff\xd8"
        assert frame.data[-2:] == b"\xff\xd9"
        assert (frame.width, frame.height) == (640, 480)
        assert_decodes(frame.data)
    assert_strictly_increasing([f.seq for f in frames])


async def ended_within(session: TegSession, seconds: float) -> BaseException:
    """Wait for the session to end; return its reason (it must be an error)."""
    reason = await session_end(session, seconds)
    assert not isinstance(reason, TimeoutError) or isinstance(reason, CameraTimeoutError)
    return reason


# -- loss, duplication, reordering -------------------------------------------------------


@pytest.mark.parametrize("loss", [0.05, 0.20])
async def test_media_loss_counts_drops_and_delivers_intact_frames(
    make_cam: CamFactory, sessions: Sessions, loss: float
) -> None:
    """Lost media packets: broken frames are dropped (counted), complete ones are intact,
    and the session stays up."""
    cam = await make_cam(loss=loss, seed=7, chunk=4000 if loss > 0.1 else 1032)
    session = await sessions.open(cam.session_port)
    await asyncio.sleep(1.5)
    frames = sessions.of(session)
    assert session.connected
    assert session.stats.frames_dropped > 0
    assert frames, "some frames must survive the loss"
    assert_intact(frames)
    # every frame the camera sent is either delivered, dropped or still in flight
    assert session.stats.frames_ok + session.stats.frames_dropped <= cam.stats.frames_sent
    assert session.stats.frames_ok + session.stats.frames_dropped >= cam.stats.frames_sent - 6


async def test_media_loss_with_resend_recovers_frames(
    make_cam: CamFactory, sessions: Sessions
) -> None:
    """With a camera that honours NAKs, 20 % loss still yields mostly complete frames."""
    cam = await make_cam(loss=0.20, seed=3, resend=True, chunk=4000)
    session = await sessions.open(cam.session_port, dataclasses.replace(OPTS, resend=True))
    await asyncio.sleep(1.5)
    frames = sessions.of(session)
    assert session.stats.resend_requests > 0
    assert cam.stats.resent > 0
    assert_intact(frames)
    assert len(frames) > session.stats.frames_dropped


async def test_duplicated_and_reordered_packets(make_cam: CamFactory, sessions: Sessions) -> None:
    """Duplicates are counted and ignored; reordering within a frame loses nothing."""
    cam = await make_cam(dup=0.2, reorder=0.3, seed=5)
    session = await sessions.open(cam.session_port)
    await asyncio.sleep(1.2)
    frames = sessions.of(session)
    assert session.stats.duplicates > 0
    assert len(frames) >= 20
    assert session.stats.frames_dropped <= 1
    assert_intact(frames)
    assert len({f.data for f in frames}) == len(frames)  # each frame once


# -- camera side failures -----------------------------------------------------------------


async def test_camera_reboot_mid_stream(make_cam: CamFactory, sessions: Sessions) -> None:
    """A reboot drops the session without a word; it ends within the silence timeout and
    a new session streams again."""
    cam = await make_cam()
    session = await sessions.open(cam.session_port)
    await wait_for(lambda: len(sessions.of(session)) >= 3)
    await cam.reboot()
    reason = await ended_within(session, OPTS.silence_timeout + 1.0)
    assert isinstance(reason, CameraTimeoutError | CameraConnectionError)
    assert not session.connected
    again = await sessions.open(cam.session_port)
    await wait_for(lambda: len(sessions.of(again)) >= 3)
    assert_intact(sessions.of(again))


async def test_camera_silent_then_back(make_cam: CamFactory, sessions: Sessions) -> None:
    """A silent camera ends the session within silence_timeout; when it talks again a new
    session works."""
    cam = await make_cam(stream_timeout=1.0)
    session = await sessions.open(cam.session_port)
    await wait_for(lambda: len(sessions.of(session)) >= 2)
    cam.silent = True
    t0 = time.monotonic()
    reason = await ended_within(session, OPTS.silence_timeout + 1.0)
    elapsed = time.monotonic() - t0
    assert isinstance(reason, CameraTimeoutError)
    assert OPTS.silence_timeout * 0.8 <= elapsed <= OPTS.silence_timeout + 0.5
    with pytest.raises(CameraTimeoutError):
        await sessions.open(cam.session_port)  # still silent: login times out
    cam.silent = False
    # The camera still holds the old client's slot until its own stream timeout (1 s
    # here, 6 s on real cameras): a new client may see CameraFullError until then.
    t1 = time.monotonic()
    while True:
        try:
            again = await sessions.open(cam.session_port)
            break
        except CameraFullError:
            assert time.monotonic() - t1 < 3.0
            await asyncio.sleep(0.1)
    await wait_for(lambda: len(sessions.of(again)) >= 2)


async def test_camera_silent_reconnect_from_same_port(
    make_cam: CamFactory, sessions: Sessions
) -> None:
    """Reconnecting from the same local port reuses the camera's slot at once."""
    cam = await make_cam()
    session = await sessions.open(cam.session_port)
    await wait_for(lambda: len(sessions.of(session)) >= 2)
    assert session.local_addr is not None
    port = session.local_addr[1]
    cam.silent = True
    await ended_within(session, OPTS.silence_timeout + 1.0)
    await session.close()
    await asyncio.sleep(0.02)  # transport.close() releases the socket on the next loop turn
    cam.silent = False
    again = await sessions.open(cam.session_port, dataclasses.replace(OPTS, local_port=port))
    await wait_for(lambda: len(sessions.of(again)) >= 2)
    assert cam.client_count == 1


async def test_icmp_port_unreachable_mid_stream(make_cam: CamFactory, sessions: Sessions) -> None:
    """The camera's session port closes (ICMP port unreachable): the session ends with a
    connection error, faster than the silence timeout."""
    cam = await make_cam()
    slow = dataclasses.replace(OPTS, silence_timeout=5.0)
    session = await sessions.open(cam.session_port, slow)
    await wait_for(lambda: len(sessions.of(session)) >= 2)
    await cam.reboot(new_session_port=True)  # old port closed, no CLOSE sent
    t0 = time.monotonic()
    reason = await ended_within(session, 2.0)
    assert isinstance(reason, CameraConnectionError)
    assert time.monotonic() - t0 < slow.silence_timeout


async def test_icmp_port_unreachable_at_login(sessions: Sessions) -> None:
    """Connecting to a closed port fails fast with a typed error, no hang."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        port = sock.getsockname()[1]
    slow = dataclasses.replace(OPTS, connect_timeout=5.0)
    t0 = time.monotonic()
    with pytest.raises(CameraConnectionError):
        await sessions.open(port, slow)
    assert time.monotonic() - t0 < 3.0


# -- garbage ------------------------------------------------------------------------------


async def test_garbage_interleaved_with_stream(make_cam: CamFactory, sessions: Sessions) -> None:
    """Garbage from the camera's address is counted as malformed and ignored; garbage
    from anyone else never reaches the session; frames keep coming, intact."""
    cam = await make_cam(seed=11)
    relay = await Relay(
        (LOOPBACK, cam.session_port),
        Mutator(random.Random(4), {"teg": teg_corpus()}),
        rewrite_login=True,
        seed=4,
    ).start()
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        session = await sessions.open(relay.port)
        await wait_for(lambda: len(sessions.of(session)) >= 3)
        assert session.local_addr is not None
        before = len(sessions.of(session))
        relay.inject = 0.3  # 30 % extra garbage datagrams from the camera's address
        rng = random.Random(9)
        packets_before, relayed_before = session.stats.packets, relay.to_client
        for _ in range(40):
            stranger.sendto(rng.randbytes(rng.randrange(1, 120)), session.local_addr)
            stranger.sendto(b"2TEG\x03\x00" + rng.randbytes(40), session.local_addr)
            await asyncio.sleep(0.02)
        relay.inject = 0.0
        relay.paused = True
        await asyncio.sleep(0.1)
        assert relay.injected > 5
        assert session.stats.malformed > 0
        # the stranger's 80 datagrams were not counted (connected socket filters them)
        assert session.stats.packets - packets_before <= relay.to_client - relayed_before
        relay.paused = False
        await wait_for(lambda: len(sessions.of(session)) >= before + 15)
        assert session.connected
        assert_intact(sessions.of(session))
    finally:
        stranger.close()
        relay.close()


async def test_second_client_while_full(make_cam: CamFactory, sessions: Sessions) -> None:
    """A second client gets CameraFullError; the first one keeps streaming."""
    cam = await make_cam(max_clients=1)
    first = await sessions.open(cam.session_port)
    await wait_for(lambda: len(sessions.of(first)) >= 2)
    with pytest.raises(CameraFullError):
        await sessions.open(cam.session_port)
    count = len(sessions.of(first))
    await wait_for(lambda: len(sessions.of(first)) >= count + 10)
    assert first.connected
    assert cam.client_count == 1
    assert first.stats.malformed == 0
