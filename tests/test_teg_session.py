"""TEG discovery and session against the fakecam TEG emulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import logging
import time
from typing import Any

import pytest

from custom_components.chinesium.protocol import (
    AuthenticationError,
    CameraConnectionError,
    CameraFullError,
    CameraInfo,
    CameraSession,
    CameraTimeoutError,
    Credentials,
    Family,
    Frame,
    SessionClosedError,
    SessionOptions,
    discover,
    open_session,
)
from custom_components.chinesium.protocol.jpeg import jpeg_size, looks_like_jpeg
from custom_components.chinesium.protocol.teg.codec import Ctrl, SearchResponse, StreamMask
from custom_components.chinesium.protocol.teg.discovery import discover_teg
from custom_components.chinesium.protocol.teg.session import TegSession
from fakecam.teg import TegCamera

from .helpers import (
    LOOPBACK,
    UID,
    CamFactory,
    TegCameras,
    assert_decodes,
    assert_strictly_increasing,
    collect,
    free_udp_port,
    loopback_options,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

OPTS = loopback_options(
    connect_timeout=1.0, keepalive_interval=0.3, silence_timeout=0.8, resend=False
)


@pytest.fixture
async def make_cam() -> AsyncIterator[CamFactory]:
    """Start emulated cameras on 127.0.0.1 ephemeral ports; stop them afterwards."""
    cams = TegCameras()
    yield cams.start
    await cams.stop()


def info_of(cam: TegCamera) -> CameraInfo:
    return CameraInfo(uid=UID, host=LOOPBACK, port=cam.session_port, family=Family.TEG)


def assert_intact(frames: list[Frame]) -> None:
    for frame in frames:
        assert looks_like_jpeg(frame.data)
        assert (frame.width, frame.height) == (640, 480)
        assert jpeg_size(frame.data) == (640, 480)
    for frame in frames[:: max(1, len(frames) // 4)]:
        assert_decodes(frame.data)
    assert_strictly_increasing([f.seq for f in frames])
    assert len({f.data for f in frames}) == len(frames), "a frame was delivered twice"


# -- discovery ------------------------------------------------------------------------


async def test_discovery_dedups_copies(make_cam: CamFactory) -> None:
    cam = await make_cam()
    dead = free_udp_port()
    found = await discover_teg(
        [(LOOPBACK, cam.discovery_port), (LOOPBACK, dead)], timeout=0.3, bind_host=LOOPBACK
    )
    assert len(found) == 1
    info = found[0]
    assert info.uid == UID
    assert (info.host, info.port) == (LOOPBACK, cam.session_port)
    assert info.family is Family.TEG
    assert info.model == "IWFCam (TEG)"
    # the generic entry point, host:port syntax
    again = await discover([f"{LOOPBACK}:{cam.discovery_port}"], families=[Family.TEG], timeout=0.3)
    assert [i.uid for i in again] == [UID]


async def test_discovery_ignores_garbage_and_uses_source_ip() -> None:
    loop = asyncio.get_running_loop()
    good = SearchResponse(session_port=17900, lan_ip="0.0.0.0", uid="ABCDEFG-000000000000-AAAAAA")
    other = SearchResponse(
        session_port=17901, lan_ip="192.168.1.60", uid="ABCDEFG-111111111111-BBBBBB"
    )

    class Fake(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            for reply in (
                b"junk",
                good.encode()[:40],
                b"1TEG\x0c\x00\xff\xff",
                good.encode(),
                good.encode(),
                other.encode(),
            ):
                self.t.sendto(reply, addr)

    transport, _ = await loop.create_datagram_endpoint(Fake, local_addr=(LOOPBACK, 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        found = await discover_teg([(LOOPBACK, port)], timeout=0.4, bind_host=LOOPBACK)
    finally:
        transport.close()
    by_uid = {i.uid: i for i in found}
    assert set(by_uid) == {good.uid, other.uid}
    assert by_uid[good.uid].host == LOOPBACK
    # a reported LAN address that is not where the reply came from is kept aside only
    assert by_uid[other.uid].host == LOOPBACK
    assert by_uid[other.uid].port == 17901
    assert by_uid[other.uid].extra["lan_ip"] == "192.168.1.60"


async def test_discovery_of_nothing_is_empty() -> None:
    t0 = time.monotonic()
    assert await discover_teg([(LOOPBACK, free_udp_port())], timeout=0.3) == []
    assert await discover_teg([], timeout=5) == []
    assert time.monotonic() - t0 < 1.5


# -- streaming ----------------------------------------------------------------------------


async def test_stream_frames(make_cam: CamFactory) -> None:
    cam = await make_cam()
    session = await open_session(info_of(cam), None, OPTS)
    try:
        assert isinstance(session, TegSession)
        frames = await collect(session, 12)
        assert session.connected
        assert session.params is not None
        assert (session.params.width, session.params.height) == (640, 480)
    finally:
        await session.close()
    assert_intact(frames)
    assert frames[0].seq == 1
    assert session.stats.frames_dropped == 0
    assert session.stats.malformed == 0
    assert not session.connected
    await asyncio.sleep(0.1)
    assert cam.client_count == 0  # CLOSE freed the slot


async def test_loss_counted_frames_intact(make_cam: CamFactory) -> None:
    cam = await make_cam(loss=0.05, fps=60.0, seed=3)
    session = await open_session(info_of(cam), None, OPTS)
    try:
        frames = await collect(session, 15)
    finally:
        await session.close()
    assert_intact(frames)
    assert session.stats.frames_dropped > 0
    assert session.stats.resend_requests == 0  # resend disabled


async def test_dup_and_reorder(make_cam: CamFactory) -> None:
    cam = await make_cam(dup=0.1, reorder=0.3, seed=4)
    session = await open_session(info_of(cam), None, OPTS)
    try:
        frames = await collect(session, 15)
    finally:
        await session.close()
    assert_intact(frames)
    assert session.stats.duplicates > 0
    assert session.stats.frames_dropped == 0


async def test_nak_resend_recovers_loss(make_cam: CamFactory) -> None:
    cam = await make_cam(loss=0.05, resend=True, fps=60.0, seed=5)
    opts = SessionOptions(
        connect_timeout=1.0,
        keepalive_interval=0.3,
        silence_timeout=0.8,
        local_host=LOOPBACK,
        resend=True,
    )
    session = await open_session(info_of(cam), None, opts)
    try:
        frames = await collect(session, 120, within=8.0)
    finally:
        await session.close()
    assert_intact(frames)
    stats = session.stats
    assert stats.resend_requests > 0
    assert cam.stats.resent > 0
    assert stats.frames_ok / (stats.frames_ok + stats.frames_dropped) >= 0.99, stats


async def test_nak_to_camera_that_never_resends(make_cam: CamFactory) -> None:
    # Real TEG cameras ignore NAKs: the client notices and stops asking and waiting.
    cam = await make_cam(loss=0.05, resend=False, fps=60.0, seed=6)
    opts = SessionOptions(
        connect_timeout=1.0, keepalive_interval=0.3, silence_timeout=0.8, local_host=LOOPBACK
    )
    assert opts.resend
    session = await open_session(info_of(cam), None, opts)
    assert isinstance(session, TegSession)
    try:
        frames = await collect(session, 30, within=6.0)
        assert not session._reasm.track_missing
    finally:
        await session.close()
    assert_intact(frames)
    assert session.stats.resend_requests > 0
    assert cam.stats.naks > 0
    assert cam.stats.resent == 0


async def test_frame_id_wrap(make_cam: CamFactory) -> None:
    cam = await make_cam(frame_id_start=65530)
    session = await open_session(info_of(cam), None, OPTS)
    try:
        frames = await collect(session, 15)
    finally:
        await session.close()
    assert_intact(frames)
    assert session.stats.frames_dropped == 0


async def test_audio_interleaved_ignored(make_cam: CamFactory) -> None:
    cam = await make_cam(fps=30.0)
    session = TegSession(info_of(cam), None, OPTS)
    session.live_mask = StreamMask.VIDEO_AUDIO
    audio = 0
    orig = session._on_datagram

    def spy(data: bytes, addr: Any) -> None:
        nonlocal audio
        if data[:6] == b"2TEG\x03\x00" and data[14] == 1:
            audio += 1
        orig(data, addr)

    session._on_datagram = spy  # type: ignore[method-assign]
    await session.start()
    try:
        frames = await collect(session, 20)
    finally:
        await session.close()
    assert audio >= 2
    assert_intact(frames)
    assert session.stats.frames_dropped == 0


# -- login errors -------------------------------------------------------------------------


async def test_wrong_token(make_cam: CamFactory) -> None:
    cam = await make_cam()
    with pytest.raises(AuthenticationError):
        await open_session(info_of(cam), Credentials(password="000000000000"), OPTS)
    assert cam.client_count == 0


async def test_malformed_token_rejected_locally(make_cam: CamFactory) -> None:
    cam = await make_cam()
    with pytest.raises(AuthenticationError, match="12-character"):
        await open_session(info_of(cam), Credentials(password="secret"), OPTS)
    assert cam.stats.logins == 0


async def test_custom_token_accepted(make_cam: CamFactory) -> None:
    cam = await make_cam(token="6ddd60335190")
    session = await open_session(info_of(cam), Credentials(password="6ddd60335190"), OPTS)
    try:
        assert_intact(await collect(session, 2))
    finally:
        await session.close()


async def test_camera_full(make_cam: CamFactory) -> None:
    cam = await make_cam()
    first = await open_session(info_of(cam), None, OPTS)
    try:
        with pytest.raises(CameraFullError):
            await open_session(info_of(cam), None, OPTS)
        assert first.connected
    finally:
        await first.close()


async def test_close_frees_slot_immediately(make_cam: CamFactory) -> None:
    cam = await make_cam()
    first = await open_session(info_of(cam), None, OPTS)
    await collect(first, 2)
    await first.close()
    second = await open_session(info_of(cam), None, OPTS)  # another local port
    try:
        assert_intact(await collect(second, 3))
    finally:
        await second.close()


async def test_unreachable_port_times_out_quickly() -> None:
    info = CameraInfo(uid=UID, host=LOOPBACK, port=free_udp_port(), family=Family.TEG)
    t0 = time.monotonic()
    with pytest.raises(CameraTimeoutError):
        await open_session(info, None, OPTS)
    assert time.monotonic() - t0 < OPTS.connect_timeout + 0.3


async def test_login_retried_when_requests_dropped(make_cam: CamFactory) -> None:
    cam = await make_cam(rx_drop=0.5, seed=2)
    opts = SessionOptions(connect_timeout=3.0, local_host=LOOPBACK, silence_timeout=2.0)
    session = await open_session(info_of(cam), None, opts)
    try:
        assert_intact(await collect(session, 3))
    finally:
        await session.close()


# -- loss of the session --------------------------------------------------------------------


async def test_silent_camera_times_out(make_cam: CamFactory) -> None:
    cam = await make_cam()
    session = await open_session(info_of(cam), None, OPTS)
    try:
        await collect(session, 2)
        cam.silent = True
        t0 = time.monotonic()
        with pytest.raises(CameraTimeoutError):
            async with asyncio.timeout(OPTS.silence_timeout + 1.0):
                await session.wait_closed()
        assert time.monotonic() - t0 < OPTS.silence_timeout + 0.5
        assert not session.connected
    finally:
        await session.close()


async def test_camera_close_ends_session(make_cam: CamFactory) -> None:
    # A client that goes quiet is dropped by the camera with CTRL(3,1).
    cam = await make_cam(stream_timeout=0.4)
    opts = SessionOptions(
        connect_timeout=1.0, keepalive_interval=5.0, silence_timeout=5.0, local_host=LOOPBACK
    )
    session = await open_session(info_of(cam), None, opts)
    try:
        with pytest.raises(SessionClosedError):
            async with asyncio.timeout(3.0):
                await session.wait_closed()
    finally:
        await session.close()


@pytest.mark.parametrize("new_port", [False, True])
async def test_camera_reboot_then_new_session(make_cam: CamFactory, new_port: bool) -> None:
    cam = await make_cam()
    session = await open_session(info_of(cam), None, OPTS)
    try:
        await collect(session, 2)
        await cam.reboot(new_session_port=new_port)
        # the camera forgot us without a goodbye: silence (or ICMP) ends the session
        with pytest.raises(CameraConnectionError):
            async with asyncio.timeout(OPTS.silence_timeout + 1.5):
                await session.wait_closed()
    finally:
        await session.close()
    found = await discover_teg([(LOOPBACK, cam.discovery_port)], timeout=0.3)
    assert [i.port for i in found] == [cam.session_port]
    again = await open_session(found[0], None, OPTS)
    try:
        assert_intact(await collect(again, 2))
    finally:
        await again.close()


async def test_no_lingering_tasks(make_cam: CamFactory) -> None:
    cam = await make_cam()
    before = set(asyncio.all_tasks())
    session = await open_session(info_of(cam), None, OPTS)
    await collect(session, 1)
    await session.close()
    await asyncio.sleep(0.05)
    assert set(asyncio.all_tasks()) - before == set()
    with contextlib.suppress(Exception):
        await session.close()  # idempotent


async def test_close_for_another_link_id_is_ignored(make_cam: CamFactory) -> None:
    # A late CLOSE from an older session (different link id) must not end this one.
    cam = await make_cam()
    session = await open_session(info_of(cam), None, OPTS)
    try:
        assert isinstance(session, TegSession)
        addr = ("127.0.0.1", cam.session_port)
        session._on_datagram(Ctrl.close(session.link_id + 1).encode(), addr)
        await collect(session, 3)
        assert session.connected
        session._on_datagram(Ctrl.close(session.link_id).encode(), addr)
        with pytest.raises(SessionClosedError):
            async with asyncio.timeout(1.0):
                await session.wait_closed()
    finally:
        await session.close()


# -- memory: ended sessions are freed by reference counting ---------------------------


async def _end_session(session: CameraSession, how: str, cam: TegCamera) -> None:
    """End ``session`` the way an owner (the HA coordinator) does."""
    if how == "close":
        await collect(session, 2)
    elif how == "camera_close":
        await collect(session, 1)
        session._on_datagram(Ctrl.close(session.link_id).encode(), ("127.0.0.1", 0))  # type: ignore[attr-defined]
    elif how == "silence":
        await collect(session, 1)
        await asyncio.sleep(0.05)  # past the second copy of the login request
        await cam.reboot()
    if how != "close":
        # Like the coordinator: wait for the end, look at the reason, then close.
        try:
            async with asyncio.timeout(OPTS.silence_timeout + 1.5):
                await session.wait_closed()
        except CameraConnectionError as err:
            reason = str(err)
        else:
            reason = ""
        assert reason
    await session.close()


@pytest.mark.parametrize("how", ["close", "camera_close", "silence", "auth", "frames_iter"])
async def test_ended_sessions_freed_without_gc(make_cam: CamFactory, how: str) -> None:
    """Ended sessions must not sit in reference cycles until a full GC (soak RSS growth)."""
    import gc
    import weakref

    # asyncio's debug mode logs "endpoint created: (transport, protocol)"; pytest keeps
    # the log records, and with them the protocol -> session.
    asyncio_logger = logging.getLogger("asyncio")
    level = asyncio_logger.level
    asyncio_logger.setLevel(logging.WARNING)
    cam = await make_cam()
    refs: list[weakref.ref[CameraSession]] = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            session: CameraSession | None
            if how == "auth":
                session = TegSession(info_of(cam), Credentials(password="000000000000"), OPTS)
                refs.append(weakref.ref(session))
                with pytest.raises(AuthenticationError, match="password"):
                    await session.start()
                await session.close()
            elif how == "frames_iter":
                session = await open_session(info_of(cam), None, OPTS)
                refs.append(weakref.ref(session))
                got = 0
                try:
                    async for _frame in session.frames():
                        got += 1
                        if got == 2:
                            await cam.stop()
                            await cam.start()
                except SessionClosedError:
                    pass
                assert got >= 2
                await session.close()
            else:
                session = await open_session(info_of(cam), None, OPTS)
                refs.append(weakref.ref(session))
                await _end_session(session, how, cam)
            session = None
            await asyncio.sleep(0.05)  # let the transport finish closing
        await asyncio.sleep(0.1)
        alive = [r() for r in refs if r() is not None]
        assert not alive, f"{len(alive)} ended session(s) kept alive by reference cycles"
    finally:
        gc.enable()
        asyncio_logger.setLevel(level)
