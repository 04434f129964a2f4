"""Home Assistant fault scenarios: reboot, silence, moved camera, restart while offline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
import logging
import socket
import time

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.chinesium.const import DOMAIN
from fakecam.teg import TegCamera

from .conftest import (
    TEST_SESSION_OPTIONS,
    UID,
    camera_config,
    entry_for,
    override_settings,
    wait_for,
)

CAMERA = f"camera.teg_{UID.lower().replace('-', '_')}"
type CameraFactory = Callable[..., Awaitable[TegCamera]]
SENSOR = f"binary_sensor.teg_{UID.lower().replace('-', '_')}_connection"
LOGGER_NAME = "custom_components.chinesium"


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    """Our integration's records at exactly ``level`` (HA core's own are separate)."""
    return [
        r
        for r in caplog.records
        if r.levelno == level and r.name.startswith(LOGGER_NAME) and "asyncio" not in r.name
    ]


async def _image_ok(hass: HomeAssistant) -> bool:
    from homeassistant.components.camera import async_get_image

    image = await async_get_image(hass, CAMERA, timeout=3)
    return image.content[:2] == b"\xff\xd8" and image.content[-2:] == b"\xff\xd9"


async def _image_soon_ok(hass: HomeAssistant) -> bool:
    from homeassistant.exceptions import HomeAssistantError

    try:
        return await _image_ok(hass)
    except HomeAssistantError:
        return False


async def test_reboot_entity_back_without_user_action(
    hass: HomeAssistant, init_integration: MockConfigEntry, teg_camera: TegCamera
) -> None:
    """After a reboot the camera entity serves fresh frames again, no user action."""
    coordinator = init_integration.runtime_data
    assert await _image_ok(hass)
    frames_before = coordinator.frame_count
    await teg_camera.reboot()
    await wait_for(lambda: _state(hass, CAMERA) == STATE_UNAVAILABLE)
    await wait_for(lambda: _state(hass, SENSOR) == STATE_ON, timeout=6)
    assert _state(hass, CAMERA) != STATE_UNAVAILABLE
    count = coordinator.frame_count
    await wait_for(lambda: coordinator.frame_count >= count + 3)
    assert coordinator.frame_count > frames_before
    assert await _image_ok(hass)
    assert teg_camera.client_count == 1
    assert init_integration.state is ConfigEntryState.LOADED
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


def _track(hass: HomeAssistant, entity_id: str) -> list[str]:
    """Every state ``entity_id`` takes from now on."""
    seen: list[str] = []

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        seen.append(new.state if new is not None else "removed")

    async_track_state_change_event(hass, [entity_id], _changed)
    return seen


async def test_silent_camera_unavailable_within_timeout(
    hass: HomeAssistant, camera_factory: CameraFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Silence: camera entity unavailable and sensor off within the silence timeout;
    both recover once when the camera talks again (no flapping); one warning, one info."""
    # The camera frees the lost client's slot after its stream timeout (6 s on real
    # cameras, 1 s here): when it speaks again it may close our new session at once.
    teg_camera = await camera_factory(stream_timeout=1.0)
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(lambda: _state(hass, SENSOR) == STATE_ON)
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    teg_camera.silent = True
    t0 = time.monotonic()
    await wait_for(
        lambda: _state(hass, CAMERA) == STATE_UNAVAILABLE and _state(hass, SENSOR) == STATE_OFF,
        timeout=TEST_SESSION_OPTIONS.silence_timeout + 1.0,
    )
    assert time.monotonic() - t0 <= TEST_SESSION_OPTIONS.silence_timeout + 0.6
    await asyncio.sleep(1.0)  # a few failed reconnects while silent
    sensor_states = _track(hass, SENSOR)
    camera_states = _track(hass, CAMERA)
    teg_camera.silent = False
    await wait_for(
        lambda: _state(hass, SENSOR) == STATE_ON and _state(hass, CAMERA) != STATE_UNAVAILABLE,
        timeout=10,
    )
    assert await _image_ok(hass)
    # Outlast the camera's slot timeout and the settle time: no second loss.
    await asyncio.sleep(2.5)
    assert sensor_states == [STATE_ON], sensor_states
    assert STATE_UNAVAILABLE not in camera_states, camera_states
    assert await _image_ok(hass)
    assert len(_records(caplog, logging.WARNING)) == 1
    assert len([r for r in _records(caplog, logging.INFO) if "back online" in r.message]) == 1


async def test_late_close_after_reconnect_is_invisible(
    hass: HomeAssistant, teg_camera: TegCamera, caplog: pytest.LogCaptureFixture
) -> None:
    """The camera closes the slot right after we connected (it timed out a stale one):
    one quick reconnect, no state change, nothing logged above debug."""
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    with override_settings(hass, settle_time=60.0):
        assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator = entry.runtime_data
    await wait_for(lambda: coordinator.data.streaming)
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    caplog.clear()
    sensor_states = _track(hass, SENSOR)
    camera_states = _track(hass, CAMERA)
    first = coordinator.session
    assert teg_camera.time_out_clients() == 1
    await wait_for(lambda: coordinator.supervisor.absorbed == 1)
    await wait_for(lambda: coordinator.connected and coordinator.session is not first)
    count = coordinator.frame_count
    await wait_for(lambda: coordinator.frame_count > count + 2)
    assert sensor_states == []
    assert camera_states == []
    assert _records(caplog, logging.WARNING) == []
    assert _records(caplog, logging.INFO) == []


async def test_on_demand_idle_dead_camera_goes_offline(
    hass: HomeAssistant, teg_camera: TegCamera
) -> None:
    """On demand and idle, a camera that dies is shown offline after the next idle probe
    (a search, every ``idle_probe_interval``), and online again when it answers."""
    entry = entry_for(teg_camera, options={"stream_mode": "on_demand"})
    entry.add_to_hass(hass)
    with override_settings(hass, on_demand_linger=0.2):
        assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator = entry.runtime_data
    await wait_for(lambda: coordinator.session is None and teg_camera.client_count == 0)
    assert _state(hass, SENSOR) == STATE_ON
    teg_camera.silent = True  # dead: no answer to anything
    await wait_for(lambda: _state(hass, SENSOR) == STATE_OFF, timeout=3)
    teg_camera.silent = False
    await wait_for(lambda: _state(hass, SENSOR) == STATE_ON, timeout=3)
    assert coordinator.session is None  # probing opened no session


async def test_camera_moves_to_new_port(
    hass: HomeAssistant, socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The emulator is replaced by one on a new session port (same search port, as on a
    real LAN): discovery finds it and the entry is updated, the entity comes back."""
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    search_port = _free_port()
    old = TegCamera(camera_config(discovery_port=search_port))
    await old.start()
    new: TegCamera | None = None
    try:
        entry = entry_for(old)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await wait_for(lambda: _state(hass, SENSOR) == STATE_ON)
        old_port = old.session_port
        await old.stop()
        await wait_for(lambda: _state(hass, SENSOR) == STATE_OFF)
        new = TegCamera(camera_config(discovery_port=search_port))
        await new.start()
        assert new.session_port != old_port
        await wait_for(lambda: _state(hass, SENSOR) == STATE_ON, timeout=8)
        assert entry.data[CONF_PORT] == new.session_port
        assert entry.data[CONF_HOST] == "127.0.0.1"
        assert entry.runtime_data.info.port == new.session_port
        assert _state(hass, CAMERA) != STATE_UNAVAILABLE
        assert "moved from" in caplog.text
        assert entry.state is ConfigEntryState.LOADED
    finally:
        await old.stop()
        if new is not None:
            await new.stop()


async def test_restart_with_camera_offline_logs_once(
    hass: HomeAssistant, teg_camera: TegCamera, caplog: pytest.LogCaptureFixture
) -> None:
    """HA starts while the camera is offline: SETUP_RETRY, retries, loads when the camera
    appears; exactly one warning for unavailable and one info on recovery."""
    caplog.set_level(logging.DEBUG)
    await _restart_with_camera_offline(hass, teg_camera)
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith(LOGGER_NAME)
    ]
    infos = [
        r for r in caplog.records if r.levelno == logging.INFO and r.name.startswith(LOGGER_NAME)
    ]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert len(infos) == 1, [r.getMessage() for r in infos]


async def test_restart_with_camera_offline_recovers(
    hass: HomeAssistant, teg_camera: TegCamera, caplog: pytest.LogCaptureFixture
) -> None:
    """HA starts while the camera is offline: SETUP_RETRY, retries, loads when it appears;
    the integration never logs an error or a traceback for it."""
    caplog.set_level(logging.DEBUG)
    await _restart_with_camera_offline(hass, teg_camera)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [
        r for r in caplog.records if r.name.startswith(LOGGER_NAME) and r.exc_info is not None
    ]


async def _restart_with_camera_offline(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    teg_camera.silent = True
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    # two more retries while still offline
    for _ in range(2):
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=2))
        await hass.async_block_till_done(wait_background_tasks=True)
        await wait_for(lambda: entry.state is ConfigEntryState.SETUP_RETRY)
    teg_camera.silent = False
    await asyncio.sleep(0.1)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=10))
    await hass.async_block_till_done()
    await wait_for(lambda: entry.state is ConfigEntryState.LOADED, timeout=5)
    await wait_for(lambda: _state(hass, SENSOR) == STATE_ON)
    assert _state(hass, CAMERA) != STATE_UNAVAILABLE
