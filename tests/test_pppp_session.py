"""End-to-end PPPP sessions against the emulated camera over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import dataclasses
import json
import time
from typing import Any

import pytest

from custom_components.chinesium.protocol.errors import (
    AuthenticationError,
    CameraTimeoutError,
    SessionClosedError,
    UnsupportedCameraError,
)
from custom_components.chinesium.protocol.jpeg import looks_like_jpeg
from custom_components.chinesium.protocol.model import CameraInfo, Credentials, Family, Frame
from custom_components.chinesium.protocol.pppp.session import PpppSession, open_pppp_session
from custom_components.chinesium.protocol.session import SessionOptions
from fakecam.pppp import PpppCamera, PpppCameraConfig

pytestmark = pytest.mark.usefixtures("socket_enabled")

DUID = "ABCD-123456-VWXYZ"
OPTS = SessionOptions(
    connect_timeout=1.0,
    keepalive_interval=0.2,
    silence_timeout=1.0,
    first_frame_timeout=3.0,
    local_host="127.0.0.1",
)


def camera(**kw: Any) -> PpppCamera:
    """An emulated camera on 127.0.0.1 (``async with`` starts and stops it)."""
    cfg = PpppCameraConfig(host="127.0.0.1", port=0, duid=DUID, **kw)
    return PpppCamera(cfg)


def info_for(cam: PpppCamera, *, key: str | None = None, app: str | None = None) -> CameraInfo:
    extra = {"key": key} if key else {}
    return CameraInfo(DUID, "127.0.0.1", cam.port, Family.PPPP, app_layer=app, extra=extra)


async def collect(session: PpppSession, n: int, within: float = 5.0) -> list[Frame]:
    frames: list[Frame] = []
    deadline = time.monotonic() + within
    while len(frames) < n:
        frames.append(await session.next_frame(max(0.1, deadline - time.monotonic())))
    return frames


def check_frames(frames: list[Frame]) -> None:
    seqs = [f.seq for f in frames]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    for f in frames:
        assert looks_like_jpeg(f.data)
        assert f.data[:2] == b"\xff\xd8"
        assert f.data[-2:] == b"\xff\xd9"
        assert (f.width, f.height) == (640, 480)


@pytest.mark.parametrize(
    ("app", "key", "hint"),
    [
        ("shix", None, None),  # no hint: probes iLnk first (plaintext), then SHIX
        ("shix", None, "shix"),
        ("ilnk", None, None),
        ("ilnk", None, "ilnk"),
        ("shix", "camera", None),  # obfuscated network => SHIX
    ],
)
async def test_login_and_frames(app: str, key: str | None, hint: str | None) -> None:
    async with camera(app=app, encrypt=key) as cam:
        session = open_pppp_session(info_for(cam, key=key, app=hint), None, OPTS)
        assert not session.connected
        await session.start()
        try:
            assert session.connected
            assert session.app_layer is not None
            assert session.app_layer.value == app
            frames = await collect(session, 5)
            check_frames(frames)
            assert session.stats.frames_ok >= 5
            assert session.stats.media_packets > 5
        finally:
            await session.close()
        assert not session.connected
        await session.wait_closed()  # closed by us: returns without raising


@pytest.mark.parametrize("app", ["shix", "ilnk"])
async def test_bad_login(app: str) -> None:
    async with camera(app=app, password="secret1") as cam:
        session = open_pppp_session(info_for(cam, app=app), Credentials("admin", "wrong"), OPTS)
        with pytest.raises(AuthenticationError):
            await session.start()
        assert not session.connected
        # wrong user credentials first, then the layer's factory default(s)
        assert cam.stats.logins_failed >= 2
        assert cam.stats.logins_ok == 0


@pytest.mark.parametrize("app", ["shix", "ilnk"])
async def test_user_credentials(app: str) -> None:
    async with camera(app=app, password="secret1") as cam:
        session = open_pppp_session(info_for(cam, app=app), Credentials("admin", "secret1"), OPTS)
        await session.start()
        try:
            assert session.username == "admin"
            check_frames(await collect(session, 2))
        finally:
            await session.close()


async def test_loss_is_recovered_by_retransmission() -> None:
    async with camera(app="shix", loss=0.10, seed=7) as cam:
        session = open_pppp_session(info_for(cam, app="shix"), None, OPTS)
        await session.start()
        try:
            frames = await collect(session, 6, within=8.0)
            check_frames(frames)
            assert cam.stats.impaired_drops > 0
            assert cam.stats.drw_retx > 0
            assert session.stats.frames_dropped == 0
        finally:
            await session.close()


async def test_camera_silent_ends_session() -> None:
    async with camera(app="ilnk") as cam:
        opts = dataclasses.replace(OPTS, keepalive_interval=0.1, silence_timeout=0.5)
        session = open_pppp_session(info_for(cam, app="ilnk"), None, opts)
        await session.start()
        await collect(session, 1)
        cam.silent = True  # the camera stops answering without a CLOSE
        with pytest.raises(CameraTimeoutError):
            await session.wait_closed()
        assert not session.connected
        await session.close()


async def test_wrong_user_password_falls_back_to_default() -> None:
    async with camera(app="shix") as cam:
        session = open_pppp_session(info_for(cam, app="shix"), Credentials("admin", "wrong"), OPTS)
        await session.start()
        try:
            assert cam.stats.logins_failed == 1
            assert cam.stats.logins_ok == 1
            check_frames(await collect(session, 1))
        finally:
            await session.close()


async def test_camera_close_ends_session() -> None:
    async with camera(app="shix") as cam:
        session = open_pppp_session(info_for(cam, app="shix"), None, OPTS)
        await session.start()
        await collect(session, 1)
        await cam.close_sessions()
        with pytest.raises(SessionClosedError):
            await session.wait_closed()
        with pytest.raises(SessionClosedError):
            await session.next_frame(0.5)
        await session.close()


async def test_close_sends_stop_and_close() -> None:
    async with camera(app="ilnk") as cam:
        session = open_pppp_session(info_for(cam, app="ilnk"), None, OPTS)
        await session.start()
        await collect(session, 1)
        await session.close()
        await session.close()  # idempotent
        for _ in range(50):
            if cam.stats.closes_rx:
                break
            await asyncio.sleep(0.01)
        assert cam.stats.closes_rx >= 1
        assert "ilnk:0x3011" in cam.stats.commands or cam.stats.stream_stops >= 1


async def test_unsupported_layer_named() -> None:
    # A camera whose DID says CamHi (unsupported) is named, not probed.
    cfg = PpppCameraConfig(host="127.0.0.1", port=0, duid="SSAA-123456-VWXYZ", app="shix")
    async with PpppCamera(cfg) as cam:
        info = CameraInfo(cfg.duid, "127.0.0.1", cam.port, Family.PPPP, app_layer="camhi")
        session = open_pppp_session(info, None, OPTS)
        with pytest.raises(UnsupportedCameraError) as err:
            await session.start()
        assert err.value.name == "camhi"
        await session.close()


@pytest.mark.parametrize("stored", ["camhi", "vstarcam", "lookcam", "no-such-layer"])
async def test_stored_layer_reidentified_after_firmware_change(stored: str) -> None:
    # The layer stored at setup no longer answers (or is one we cannot speak):
    # the session finds the new one and reports it instead of failing forever.
    async with camera(app="shix") as cam:
        session = open_pppp_session(info_for(cam, app=stored), None, OPTS)
        await session.start()
        try:
            assert session.facts.app_layer == "shix"
            assert session.reidentified_from == stored
            await collect(session, 1)
        finally:
            await session.close()


async def test_stored_layer_kept_when_it_answers() -> None:
    async with camera(app="ilnk") as cam:
        session = open_pppp_session(info_for(cam, app="ilnk"), None, OPTS)
        await session.start()
        try:
            assert (session.facts.app_layer, session.reidentified_from) == ("ilnk", None)
        finally:
            await session.close()
        assert cam.stats.commands[0].startswith("ilnk:")  # no probing of other layers


async def test_frame_listener_and_snapshot() -> None:
    async with camera(app="shix") as cam:
        session = open_pppp_session(info_for(cam, app="shix"), None, OPTS)
        got: list[Frame] = []
        unsub: Callable[[], None] = session.add_frame_listener(got.append)
        await session.start()
        try:
            snap = await session.snapshot(timeout=3.0)
            assert looks_like_jpeg(snap.data)
            await collect(session, 2)
            assert len(got) >= 2
        finally:
            unsub()
            await session.close()


class _ScriptedChannel:
    def __init__(self, reply: bytes | Callable[[bytes], bytes]) -> None:
        self.reply = reply
        self.handler: Callable[[bytes], None] | None = None
        self.buffered = 0
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        if self.handler is not None:
            reply = self.reply(data) if callable(self.reply) else self.reply
            asyncio.get_running_loop().call_soon(self.handler, reply)

    def set_packet_handler(self, cb: Callable[[bytes], None] | None) -> None:
        self.handler = cb


class _ScriptedConn:
    """Stands in for PpppConnection: channel 0 answers every write with ``reply``."""

    def __init__(self, reply: bytes | Callable[[bytes], bytes]) -> None:
        self.did = None
        self.local_port = 40000
        self.is_open = True
        self.local_port = 0
        self.channels: dict[int, _ScriptedChannel] = {}
        self.reply = reply
        self.closed = False

    def channel(self, n: int) -> _ScriptedChannel:
        return self.channels.setdefault(n, _ScriptedChannel(self.reply))

    def on_lost(self, cb: Callable[[Any], None]) -> None:
        pass

    async def close(self) -> None:
        self.closed = True
        self.is_open = False


@pytest.mark.parametrize(
    ("reply", "name"),
    [
        (b"\x56\x56\x50\x99" + bytes(48), "meari"),
        (b"\x99\x99\x99\x99" + bytes(20), "camhi"),
        (b"\x78\x56\x34\x12" + bytes(30), "yi"),
    ],
)
async def test_unsupported_layer_detected_from_reply(
    monkeypatch: pytest.MonkeyPatch, reply: bytes, name: str
) -> None:
    from custom_components.chinesium.protocol.pppp import session as session_mod

    conn = _ScriptedConn(reply)

    async def fake_connect(*_a: Any, **_kw: Any) -> _ScriptedConn:
        return conn

    monkeypatch.setattr(session_mod.PpppConnection, "connect", fake_connect)
    opts = dataclasses.replace(OPTS, connect_timeout=0.1)
    info = CameraInfo("EEEE-000001-ABCDE", "127.0.0.1", 32108, Family.PPPP)
    session = open_pppp_session(info, None, opts)
    with pytest.raises(UnsupportedCameraError) as err:
        await session.start()
    assert err.value.name == name
    assert conn.closed
    assert len(conn.channel(0).writes) == 1  # gave up after the first probe's reply


async def test_probe_switches_layer_on_foreign_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plaintext camera without hints is probed with iLnk first; a SHIX reply switches."""
    from custom_components.chinesium.protocol.pppp import session as session_mod
    from custom_components.chinesium.protocol.pppp.apps import shix

    def responder(data: bytes) -> bytes:
        cmd = json.loads(data[8:])["cmd"] if data[:2] == b"\x06\x0a" else 100
        return shix.encode_block({"cmd": cmd, "result": 0})

    conn = _ScriptedConn(responder)

    async def fake_connect(*_a: Any, **_kw: Any) -> _ScriptedConn:
        return conn

    monkeypatch.setattr(session_mod.PpppConnection, "connect", fake_connect)
    info = CameraInfo("EEEE-000001-ABCDE", "127.0.0.1", 32108, Family.PPPP)
    session = open_pppp_session(info, None, dataclasses.replace(OPTS, connect_timeout=5.0))
    async with asyncio.timeout(1.0):  # no probe timeout may elapse
        await session.start()
    assert session.app_layer is not None
    assert session.app_layer.value == "shix"
    writes = conn.channel(0).writes
    assert [w[:2] for w in writes] == [b"\x11\x0a", b"\x06\x0a", b"\x06\x0a"]
    await session.close()
    assert conn.closed


# -- memory: ended sessions are freed by reference counting ---------------------------


@pytest.mark.parametrize("how", ["close", "camera_close", "silence", "auth"])
async def test_ended_sessions_freed_without_gc(how: str) -> None:
    """Ended sessions must not sit in reference cycles until a full GC (soak RSS growth)."""
    import gc
    import logging
    import weakref

    from custom_components.chinesium.protocol.errors import ChinesiumError

    # asyncio's debug mode logs "endpoint created: (transport, protocol)"; pytest keeps
    # the log records, and with them the protocol -> connection -> session.
    asyncio_logger = logging.getLogger("asyncio")
    level = asyncio_logger.level
    asyncio_logger.setLevel(logging.WARNING)
    opts = dataclasses.replace(OPTS, keepalive_interval=0.1, silence_timeout=0.5)
    refs: list[weakref.ref[PpppSession]] = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            async with camera(app="shix", password="secret1" if how == "auth" else None) as cam:
                session: PpppSession | None = open_pppp_session(
                    info_for(cam, app="shix"), None, opts
                )
                assert session is not None
                refs.append(weakref.ref(session))
                if how == "auth":
                    with pytest.raises(AuthenticationError):
                        await session.start()
                    await session.close()
                    session = None
                    continue
                await session.start()
                await collect(session, 2)
                if how == "camera_close":
                    await cam.close_sessions()
                elif how == "silence":
                    cam.silent = True
                if how != "close":
                    # Like the coordinator: wait for the end, look at the reason, close.
                    try:
                        async with asyncio.timeout(3.0):
                            await session.wait_closed()
                    except ChinesiumError as err:
                        reason = str(err)
                    else:
                        reason = ""
                    assert reason
                await session.close()
                session = None
                await asyncio.sleep(0.05)  # let the transport finish closing
        await asyncio.sleep(0.1)
        alive = [r() for r in refs if r() is not None]
        assert not alive, f"{len(alive)} ended session(s) kept alive by reference cycles"
    finally:
        gc.enable()
        asyncio_logger.setLevel(level)


async def test_unhinted_plain_shix_camera_is_not_slowed_by_the_ilnk_probe() -> None:
    # A plaintext camera with no app-layer hint is probed with iLnk first; a silent iLnk
    # probe must give up after PROBE_TIMEOUT, not the whole connect timeout.
    from custom_components.chinesium.protocol.pppp.session import PROBE_TIMEOUT

    opts = dataclasses.replace(OPTS, connect_timeout=4.0)
    async with camera(app="shix") as cam:
        session = open_pppp_session(info_for(cam), None, opts)
        started = time.monotonic()
        await session.start()
        try:
            elapsed = time.monotonic() - started
            assert session.app_layer is not None
            assert session.app_layer.value == "shix"
            assert elapsed < PROBE_TIMEOUT + 1.5 < opts.connect_timeout
            check_frames(await collect(session, 2))
        finally:
            await session.close()
