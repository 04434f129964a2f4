"""SessionSupervisor without Home Assistant: reconnects, port reuse, late closes, on demand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
import itertools
import socket
from typing import Any

import pytest

from custom_components.chinesium.protocol import (
    AuthenticationError,
    CameraConnectionError,
    CameraInfo,
    CameraSession,
    CameraTimeoutError,
    ChinesiumError,
    Credentials,
    Family,
    SessionClosedError,
    SessionOptions,
    open_session,
)
from custom_components.chinesium.protocol.supervisor import (
    LinkState,
    SessionSupervisor,
    SupervisorCallbacks,
    SupervisorOptions,
)
from fakecam.teg import TegCamera

from .conftest import TEST_SESSION_OPTIONS, camera_config, camera_info, wait_for

FAST = SupervisorOptions(
    session=TEST_SESSION_OPTIONS,
    min_delay=0.05,
    max_delay=0.2,
    linger=0.3,
    idle_probe_interval=0.3,
    settle_time=2.0,
    use_timeout=3.0,
)


class Events:
    """Records every callback as ``(name, detail)``."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []

    def callbacks(self) -> SupervisorCallbacks:
        return SupervisorCallbacks(
            on_connect=lambda s: self.log.append(("connect", s)),
            on_disconnect=lambda e: self.log.append(("disconnect", e)),
            on_error=lambda e: self.log.append(("error", e)),
            on_reachable=lambda: self.log.append(("reachable", None)),
            on_moved=lambda i: self.log.append(("moved", i)),
            on_stopped=lambda e: self.log.append(("stopped", e)),
        )

    def names(self) -> list[str]:
        return [name for name, _ in self.log]


@pytest.fixture
async def cam(socket_enabled: None) -> AsyncIterator[TegCamera]:
    camera = TegCamera(camera_config(stream_timeout=1.0))
    await camera.start()
    yield camera
    await camera.stop()


@pytest.fixture
async def sup_factory() -> AsyncIterator[Any]:
    made: list[SessionSupervisor] = []

    def _make(info: CameraInfo, events: Events, **kw: Any) -> SessionSupervisor:
        options = replace(FAST, **kw.pop("options", {}))
        sup = SessionSupervisor(info, Credentials(), options, events.callbacks(), **kw)
        made.append(sup)
        return sup

    yield _make
    for sup in made:
        await sup.stop()


async def test_connect_and_reconnect_after_reboot(cam: TegCamera, sup_factory: Any) -> None:
    """A rebooted camera: one disconnect, then a new session from the same local port."""
    events = Events()
    sup = sup_factory(camera_info(cam), events)
    session = await sup.connect()
    sup.start()
    port = session.facts.local_port
    assert port > 0
    assert sup.state is LinkState.CONNECTED
    await session.next_frame(timeout=3)
    await cam.reboot()
    await wait_for(lambda: events.names().count("connect") == 2, timeout=8)
    assert "disconnect" in events.names()
    assert sup.session is not None
    assert sup.session is not session
    assert sup.session.facts.local_port == port
    assert cam.client_addresses == [("127.0.0.1", port)]
    assert sup.reconnects == 1


async def test_late_close_is_absorbed(cam: TegCamera, sup_factory: Any) -> None:
    """The camera times out a stale slot right after we connected: a quick second
    session follows and the owner hears of no disconnect."""
    events = Events()
    sup = sup_factory(camera_info(cam), events)
    first = await sup.connect()
    sup.start()
    assert cam.time_out_clients() == 1
    await wait_for(lambda: events.names().count("connect") == 2)
    assert "disconnect" not in events.names()
    assert "error" not in events.names()
    assert sup.absorbed == 1
    assert sup.session is not first
    assert sup.connected
    await sup.session.next_frame(timeout=3)


async def test_second_late_close_is_reported(cam: TegCamera, sup_factory: Any) -> None:
    """Only one late close is absorbed: a camera that keeps closing is reported."""
    events = Events()
    sup = sup_factory(camera_info(cam), events)
    await sup.connect()
    sup.start()
    cam.time_out_clients()
    await wait_for(lambda: events.names().count("connect") == 2)
    cam.time_out_clients()
    await wait_for(lambda: "disconnect" in events.names())
    reason = next(e for n, e in events.log if n == "disconnect")
    assert isinstance(reason, SessionClosedError)
    await wait_for(lambda: events.names().count("connect") == 3)


async def test_close_after_settle_time_is_a_loss(cam: TegCamera, sup_factory: Any) -> None:
    """A close long after connecting is a real loss, reported at once."""
    events = Events()
    sup = sup_factory(camera_info(cam), events, options={"settle_time": 0.1})
    await sup.connect()
    sup.start()
    await asyncio.sleep(0.3)
    cam.time_out_clients()
    await wait_for(lambda: "disconnect" in events.names())
    assert sup.absorbed == 0


async def test_backoff_grows_and_is_capped(socket_enabled: None, sup_factory: Any) -> None:
    """Failures back off min_delay, x2, ... up to max_delay; errors are reported."""
    attempts: list[float] = []
    loop = asyncio.get_running_loop()

    async def opener(*_a: Any) -> CameraSession:
        attempts.append(loop.time())
        raise CameraTimeoutError("no answer")

    info = CameraInfo("X", "127.0.0.1", 9, Family.TEG)
    events = Events()
    sup = sup_factory(info, events, opener=opener)
    sup.start()
    await wait_for(lambda: len(attempts) >= 6, timeout=5)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.045
    assert gaps[1] >= 0.095
    assert all(g < 0.5 for g in gaps)
    assert events.names().count("error") >= 5
    assert sup.state in (LinkState.WAITING, LinkState.CONNECTING)


async def test_auth_failure_stops(socket_enabled: None, sup_factory: Any) -> None:
    """A rejected password stops supervision: retrying cannot help."""
    calls = 0

    async def opener(*_a: Any) -> CameraSession:
        nonlocal calls
        calls += 1
        raise AuthenticationError("wrong token")

    events = Events()
    sup = sup_factory(CameraInfo("X", "127.0.0.1", 9, Family.TEG), events, opener=opener)
    sup.start()
    await wait_for(lambda: sup.state is LinkState.STOPPED)
    await asyncio.sleep(0.2)
    assert calls == 1
    assert events.names() == ["stopped"]


async def test_unexpected_exception_keeps_retrying(
    cam: TegCamera, sup_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A library bug in a connect attempt is logged once with its traceback; retrying goes on."""
    calls = 0

    async def opener(info: CameraInfo, creds: Credentials, opts: SessionOptions) -> CameraSession:
        nonlocal calls
        calls += 1
        if calls <= 3:
            raise RuntimeError("bug")
        return await open_session(info, creds, opts)

    events = Events()
    sup = sup_factory(camera_info(cam), events, opener=opener)
    sup.start()
    await wait_for(lambda: sup.connected, timeout=5)
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "Unexpected" in r.message]
    assert len(warnings) == 1
    assert warnings[0].exc_info is not None


async def test_bind_failure_falls_back_to_ephemeral_port(cam: TegCamera, sup_factory: Any) -> None:
    """If the old local port is taken, the next session binds an ephemeral port."""
    events = Events()
    sup = sup_factory(camera_info(cam), events)
    session = await sup.connect()
    old = session.facts.local_port
    await session.close()
    await asyncio.sleep(0.05)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", old))
        sup.start()
        await wait_for(lambda: events.names().count("connect") == 2, timeout=5)
    assert sup.session is not None
    assert sup.session.facts.local_port not in (0, old)


async def test_moved_camera_is_followed(socket_enabled: None, sup_factory: Any) -> None:
    """A connect failure asks ``locate``; a new address is used and reported."""
    cam = TegCamera(camera_config())
    await cam.start()
    try:
        info = replace(camera_info(cam), port=9)  # stale port: nothing answers there
        found = camera_info(cam)

        async def locate(_info: CameraInfo) -> CameraInfo | None:
            return found

        events = Events()
        sup = sup_factory(info, events, locate=locate)
        await sup.connect()
        assert events.names()[:2] == ["moved", "connect"]
        assert sup.info.port == cam.session_port
    finally:
        await cam.stop()


async def test_on_demand_use_and_linger(cam: TegCamera, sup_factory: Any) -> None:
    """On demand: no session until used; closed ``linger`` s after the last user."""
    events = Events()
    sup = sup_factory(camera_info(cam), events, options={"on_demand": True})
    sup.start()
    await asyncio.sleep(0.1)
    assert sup.session is None
    assert sup.state is LinkState.IDLE
    async with sup.use() as session:
        assert session.connected
        await session.next_frame(timeout=3)
    assert sup.users == 0
    await wait_for(lambda: sup.session is None and cam.client_count == 0, timeout=3)
    assert ("disconnect", None) in events.log
    frame = await sup.snapshot()
    assert frame.data[:2] == b"\xff\xd8"


async def test_on_demand_idle_probe_sees_a_dead_camera(
    socket_enabled: None, sup_factory: Any
) -> None:
    """While idle, a search every ``idle_probe_interval`` s keeps reachability true."""
    alive = True
    info = CameraInfo("X", "127.0.0.1", 9, Family.TEG)

    async def locate(i: CameraInfo) -> CameraInfo | None:
        return i if alive else None

    events = Events()
    sup = sup_factory(info, events, locate=locate, options={"on_demand": True})
    sup.reachable = True
    sup.start()
    await asyncio.sleep(0.1)
    assert events.log == []
    alive = False
    await wait_for(lambda: "error" in events.names(), timeout=3)
    assert not sup.reachable
    assert isinstance(sup.last_error, CameraTimeoutError)
    # reported once, not at every probe
    await asyncio.sleep(0.7)
    assert events.names().count("error") == 1
    alive = True
    await wait_for(lambda: "reachable" in events.names(), timeout=3)
    assert sup.reachable


async def test_paused_frees_the_slot(cam: TegCamera, sup_factory: Any) -> None:
    """``paused()`` closes the session and holds reconnects until the block ends."""
    events = Events()
    sup = sup_factory(camera_info(cam), events)
    await sup.connect()
    sup.start()
    async with sup.paused():
        await wait_for(lambda: cam.client_count == 0)
        other = await open_session(camera_info(cam), Credentials(), TEST_SESSION_OPTIONS)
        await other.next_frame(timeout=3)
        await other.close()
        await asyncio.sleep(0.3)
        assert sup.session is None
        assert sup.state is LinkState.PAUSED
    await wait_for(lambda: sup.connected)
    assert "error" not in events.names()


async def test_use_when_not_connected_always_mode(socket_enabled: None, sup_factory: Any) -> None:
    """Always mode: ``use()`` fails at once while there is no session."""

    async def opener(*_a: Any) -> CameraSession:
        raise CameraConnectionError("down")

    sup = sup_factory(CameraInfo("X", "127.0.0.1", 9, Family.TEG), Events(), opener=opener)
    with pytest.raises(ChinesiumError):
        async with sup.use():
            pass


async def test_stop_leaves_nothing_running(cam: TegCamera, sup_factory: Any) -> None:
    """stop() ends the task and closes the session; the camera sees the goodbye."""
    events = Events()
    sup = sup_factory(camera_info(cam), events)
    await sup.connect()
    sup.start()
    await sup.stop()
    assert sup.state is LinkState.STOPPED
    assert sup.session is None
    await wait_for(lambda: cam.client_count == 0)
    tasks = [t for t in asyncio.all_tasks() if "supervisor" in t.get_name()]
    assert tasks == []
