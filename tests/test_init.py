"""Setup, unload, reconnect and background discovery of the chinesium integration."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import dataclasses
from datetime import timedelta
import gc
import logging
from typing import Any
from unittest.mock import patch
import weakref

from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    ConfigEntryDisabler,
    ConfigEntryState,
)
from homeassistant.const import CONF_PORT, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.chinesium.const import (
    CONF_MAX_FPS,
    CONF_STREAM_MODE,
    DOMAIN,
    STREAM_MODE_ALWAYS,
    STREAM_MODE_ON_DEMAND,
)
from custom_components.chinesium.protocol import (
    CameraInfo,
    Family,
    open_session as real_open_session,
)
from fakecam.pppp import PpppCamera, PpppCameraConfig
from fakecam.teg import TegCamera

from .conftest import (
    REAL_BROADCAST_TARGETS,
    SECRET_TOKEN,
    UID,
    camera_info,
    entry_for,
    override_settings,
    target,
    wait_for,
)

CAMERA = f"camera.teg_{UID.lower().replace('-', '_')}"
SENSOR = f"binary_sensor.teg_{UID.lower().replace('-', '_')}_connection"

type CameraFactory = Callable[..., Awaitable[TegCamera]]


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_setup_and_unload(
    hass: HomeAssistant, init_integration: MockConfigEntry, teg_camera: TegCamera
) -> None:
    """Setup connects and streams; unload closes the session and stops everything."""
    entry = init_integration
    coordinator = entry.runtime_data
    assert entry.state is ConfigEntryState.LOADED
    assert coordinator.connected
    assert coordinator.latest_frame is not None
    assert coordinator.latest_frame.data.startswith(b"\xff\xd8")
    assert _state(hass, SENSOR) == STATE_ON
    assert _state(hass, CAMERA) != STATE_UNAVAILABLE
    await wait_for(lambda: teg_camera.client_count == 1)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert coordinator.session is None
    assert not coordinator.connected
    assert await coordinator.async_wait_frame(1.0) is None
    await wait_for(lambda: teg_camera.client_count == 0)
    assert not [t for t in asyncio.all_tasks() if DOMAIN in t.get_name()]


async def test_setup_retry_when_unreachable(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """A silent camera → SETUP_RETRY with a translated reason."""
    teg_camera.silent = True
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert entry.reason.startswith("Cannot connect to the camera at 127.0.0.1: ")


async def test_setup_retry_when_full(hass: HomeAssistant, camera_factory: CameraFactory) -> None:
    """The only client slot is taken → SETUP_RETRY with the camera_full message."""
    cam = await camera_factory()
    busy = entry_for(cam)
    busy.add_to_hass(hass)
    assert await hass.config_entries.async_setup(busy.entry_id)
    other = MockConfigEntry(domain=DOMAIN, unique_id="x", title="x", data=dict(busy.data))
    other.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(other.entry_id)
    assert other.state is ConfigEntryState.SETUP_RETRY
    assert other.reason == "The camera at 127.0.0.1 is busy: another app is connected to it"


async def test_setup_auth_failed(hass: HomeAssistant, camera_factory: CameraFactory) -> None:
    """Wrong token → SETUP_ERROR and a reauth flow."""
    cam = await camera_factory(token=SECRET_TOKEN)
    entry = entry_for(cam)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason == "The camera rejected the stored credentials"
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]


async def test_setup_unsupported(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """An unsupported camera fails permanently."""
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, "supported": False})
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason == "The camera's protocol (teg) is not supported yet"


async def test_setup_follows_moved_camera(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """The stored port is stale: setup re-discovers the uid and fixes the entry."""
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_PORT: 9})
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_PORT] == teg_camera.session_port


async def test_reboot_goes_offline_and_back(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    teg_camera: TegCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reboot drops the session silently; the coordinator reconnects by itself."""
    coordinator = init_integration.runtime_data
    caplog.set_level(logging.INFO, logger="custom_components.chinesium")
    await teg_camera.reboot()
    await wait_for(lambda: _state(hass, SENSOR) == STATE_OFF)
    assert _state(hass, CAMERA) == STATE_UNAVAILABLE
    assert coordinator.data.last_error is not None
    await wait_for(lambda: _state(hass, SENSOR) == STATE_ON)
    assert _state(hass, CAMERA) != STATE_UNAVAILABLE
    assert coordinator.data.reconnects == 1
    assert caplog.text.count("is unavailable") == 1
    assert caplog.text.count("is back online") == 1


async def test_silent_camera(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    teg_camera: TegCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Silence → offline (logged once across many failed retries) → back on."""
    coordinator = init_integration.runtime_data
    caplog.set_level(logging.INFO, logger="custom_components.chinesium")
    teg_camera.silent = True
    await wait_for(lambda: _state(hass, SENSOR) == STATE_OFF)
    assert _state(hass, CAMERA) == STATE_UNAVAILABLE
    # Binary sensor stays available while the camera is gone.
    await asyncio.sleep(1.5)  # several reconnect attempts (0.5 s connect timeout each)
    assert caplog.text.count("is unavailable") == 1
    teg_camera.silent = False
    await wait_for(lambda: _state(hass, SENSOR) == STATE_ON, timeout=8)
    assert coordinator.connected
    assert caplog.text.count("is back online") == 1


async def test_reboot_on_new_port_is_followed(
    hass: HomeAssistant, init_integration: MockConfigEntry, teg_camera: TegCamera
) -> None:
    """After a reboot onto a new session port the uid is re-discovered."""
    old_port = teg_camera.session_port
    await teg_camera.reboot(new_session_port=True)
    assert teg_camera.session_port != old_port
    await wait_for(lambda: _state(hass, SENSOR) == STATE_OFF)
    await wait_for(lambda: _state(hass, SENSOR) == STATE_ON, timeout=8)
    assert init_integration.data[CONF_PORT] == teg_camera.session_port
    assert init_integration.runtime_data.info.port == teg_camera.session_port


async def test_password_changed_while_running_starts_reauth(
    hass: HomeAssistant, init_integration: MockConfigEntry, teg_camera: TegCamera
) -> None:
    """A reconnect rejected for the password stops retrying and asks the user."""
    teg_camera._token = SECRET_TOKEN.encode()
    await teg_camera.reboot()
    await wait_for(lambda: hass.config_entries.flow.async_progress_by_handler(DOMAIN))
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flows[0]["context"]["source"] == "reauth"
    assert _state(hass, SENSOR) == STATE_OFF
    assert "AuthenticationError" in (init_integration.runtime_data.data.last_error or "")


async def test_unsupported_on_reconnect_stops(
    hass: HomeAssistant, init_integration: MockConfigEntry, teg_camera: TegCamera
) -> None:
    """If the camera turns out unsupported on reconnect, retrying stops."""
    coordinator = init_integration.runtime_data
    coordinator.supervisor.update_target(dataclasses.replace(coordinator.info, supported=False))
    await teg_camera.reboot()
    await wait_for(lambda: "UnsupportedCameraError" in (coordinator.data.last_error or ""))
    assert not coordinator.connected
    assert _state(hass, SENSOR) == STATE_OFF


async def test_broadcast_targets_come_from_network(hass: HomeAssistant) -> None:
    """Broadcast addresses come from HA's network integration (default adapter)."""
    assert await async_setup_component(hass, "network", {})
    # only the list of targets is computed here: nothing is sent
    with override_settings(hass, broadcast=True):
        assert await REAL_BROADCAST_TARGETS(hass) == ["255.255.255.255"]  # not sent


async def test_broadcast_switched_off_by_env(hass: HomeAssistant) -> None:
    """CHINESIUM_BROADCAST=0 (scripts/develop, e2e) leaves no broadcast target at all."""
    assert await async_setup_component(hass, "network", {})
    with override_settings(hass, broadcast=False):
        assert await REAL_BROADCAST_TARGETS(hass) == []


def test_env_parsing() -> None:
    """The develop/e2e environment variables are parsed leniently."""
    from custom_components.chinesium.settings import (
        broadcast_from_env,
        scan_hosts_from_env,
        settings_from_env,
    )

    assert scan_hosts_from_env({}) == []
    assert scan_hosts_from_env({"CHINESIUM_SCAN_HOSTS": " 127.0.0.2, 127.0.0.3:10104,,"}) == [
        "127.0.0.2",
        "127.0.0.3:10104",
    ]
    assert broadcast_from_env({}) is True
    assert broadcast_from_env({"CHINESIUM_BROADCAST": "1"}) is True
    for off in ("0", "false", "No", " off "):
        assert broadcast_from_env({"CHINESIUM_BROADCAST": off}) is False
    settings = settings_from_env(
        {"CHINESIUM_IDLE_PROBE_INTERVAL": "5", "CHINESIUM_ON_DEMAND_LINGER": "nope"}
    )
    assert settings.idle_probe_interval == 5.0
    assert settings.on_demand_linger == 30.0
    assert settings_from_env({"CHINESIUM_ON_DEMAND_LINGER": "-1"}).on_demand_linger == 30.0


async def test_stats_are_not_pushed_as_updates(
    hass: HomeAssistant, teg_camera: TegCamera, caplog: pytest.LogCaptureFixture
) -> None:
    """Counters change with every packet but are not state: while the picture flows,
    the periodic check publishes nothing (no "Manually updated" debug line per tick);
    diagnostics read the counters live."""
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    with override_settings(hass, stale_check_interval=timedelta(seconds=0.05)):
        assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator = entry.runtime_data
    await wait_for(lambda: coordinator.data.streaming)
    caplog.set_level(logging.DEBUG, logger="custom_components.chinesium")
    caplog.clear()
    updates: list[object] = []
    unsub = coordinator.async_add_listener(lambda: updates.append(coordinator.data))
    start = coordinator.current_stats().get("frames_ok", 0)
    for _ in range(10):
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=1))
        await asyncio.sleep(0.05)
    unsub()
    assert coordinator.current_stats()["frames_ok"] > start
    assert coordinator.current_stats()["packets"] >= coordinator.current_stats()["frames_ok"]
    assert updates == []
    assert "Manually updated" not in caplog.text


async def test_background_scan_starts_discovery(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """async_setup scans at once and periodically; new or moved cameras become flows."""
    with (
        override_settings(hass, scan_hosts=(target(teg_camera),)),
        override_settings(hass, scan_interval=timedelta(seconds=0.5)),
    ):
        assert await async_setup_component(hass, DOMAIN, {})
        await hass.async_block_till_done(wait_background_tasks=True)
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [f["context"]["source"] for f in flows] == [SOURCE_INTEGRATION_DISCOVERY]
        assert flows[0]["context"]["unique_id"] == UID

        # Configure the camera at a stale port: the next periodic scan fixes it.
        hass.config_entries.flow.async_abort(flows[0]["flow_id"])
        entry = entry_for(teg_camera)
        entry.add_to_hass(hass)
        hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_PORT: 9})
        await wait_for(lambda: entry.data[CONF_PORT] == teg_camera.session_port)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_background_scan_skips_known(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """A configured camera at its known address starts no flow."""
    # Disabled: not set up (its supervisor would keep wait_background_tasks busy).
    entry = entry_for(teg_camera, disabled_by=ConfigEntryDisabler.USER)
    entry.add_to_hass(hass)
    with override_settings(hass, scan_hosts=(target(teg_camera),)):
        assert await async_setup_component(hass, DOMAIN, {})
        await hass.async_block_till_done(wait_background_tasks=True)
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert camera_info(teg_camera).uid == UID


# -- options ----------------------------------------------------------------------------------


async def test_options_change_reloads_entry(
    hass: HomeAssistant, init_integration: MockConfigEntry, teg_camera: TegCamera
) -> None:
    """Changing the options reloads the entry (applied without restarting HA);
    a data-only update (camera moved) does not."""
    entry = init_integration
    old = entry.runtime_data
    assert old.stream_mode == STREAM_MODE_ALWAYS
    assert old.max_fps == 0

    hass.config_entries.async_update_entry(entry, data={**entry.data, "name": None})
    await hass.async_block_till_done()
    assert entry.runtime_data is old

    hass.config_entries.async_update_entry(
        entry, options={CONF_STREAM_MODE: STREAM_MODE_ON_DEMAND, CONF_MAX_FPS: 5}
    )
    await hass.async_block_till_done()
    await wait_for(lambda: entry.state is ConfigEntryState.LOADED and entry.runtime_data is not old)
    new = entry.runtime_data
    assert new.on_demand
    assert new.max_fps == 5
    assert old.session is None  # the old coordinator let go of its session
    assert _state(hass, CAMERA) != STATE_UNAVAILABLE
    await wait_for(lambda: teg_camera.client_count == 1)


# -- reconnect robustness ----------------------------------------------------------------


async def test_reconnect_survives_unexpected_errors(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    teg_camera: TegCamera,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug-like exception from open_session is logged once; retrying goes on."""
    coordinator = init_integration.runtime_data
    caplog.set_level(logging.INFO, logger="custom_components.chinesium")
    calls = 0

    async def _broken(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls <= 4:
            raise RuntimeError("library bug")
        return await real_open_session(*args, **kwargs)

    with patch("custom_components.chinesium.protocol.open_session", _broken):
        await teg_camera.reboot()
        await wait_for(lambda: _state(hass, SENSOR) == STATE_OFF)
        await wait_for(lambda: _state(hass, SENSOR) == STATE_ON, timeout=8)
    assert calls > 4
    assert coordinator.connected
    assert caplog.text.count("Unexpected error while connecting") == 1
    assert caplog.text.count("is unavailable") == 1
    assert caplog.text.count("is back online") == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_reconnect_reuses_local_port(
    hass: HomeAssistant, init_integration: MockConfigEntry, teg_camera: TegCamera
) -> None:
    """After a loss the new session binds the old local port (the camera reuses our slot)."""
    coordinator = init_integration.runtime_data
    assert coordinator.session is not None
    old_port = coordinator.session.facts.local_port
    assert old_port > 0
    assert teg_camera.client_addresses == [("127.0.0.1", old_port)]
    await teg_camera.reboot()
    await wait_for(lambda: _state(hass, SENSOR) == STATE_OFF)
    await wait_for(lambda: _state(hass, SENSOR) == STATE_ON, timeout=8)
    assert coordinator.session is not None
    assert coordinator.session.facts.local_port == old_port
    assert teg_camera.client_addresses == [("127.0.0.1", old_port)]


async def _setup_untraced(
    hass: HomeAssistant, cam: TegCamera, caplog: pytest.LogCaptureFixture
) -> MockConfigEntry:
    """Set up an entry without asyncio's debug log (its records hold transports)."""
    caplog.set_level(logging.WARNING, logger="asyncio")
    entry = entry_for(cam)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(lambda: _state(hass, SENSOR) == STATE_ON)
    return entry


async def test_old_session_is_released(
    hass: HomeAssistant, teg_camera: TegCamera, caplog: pytest.LogCaptureFixture
) -> None:
    """After a loss and reconnect nothing in the HA layer keeps the old session alive."""
    entry = await _setup_untraced(hass, teg_camera, caplog)
    coordinator = entry.runtime_data
    assert coordinator.session is not None
    ref = weakref.ref(coordinator.session)
    await teg_camera.reboot()
    await wait_for(lambda: _state(hass, SENSOR) == STATE_OFF)
    await wait_for(lambda: coordinator.session is not None and coordinator.session is not ref())
    await asyncio.sleep(0.1)
    gc.collect()
    assert ref() is None


async def test_old_session_released_on_unload(
    hass: HomeAssistant, teg_camera: TegCamera, caplog: pytest.LogCaptureFixture
) -> None:
    """Unloading drops the session and the frame listener."""
    entry = await _setup_untraced(hass, teg_camera, caplog)
    coordinator = entry.runtime_data
    assert coordinator.session is not None
    ref = weakref.ref(coordinator.session)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    gc.collect()
    assert ref() is None


# -- PPPP ---------------------------------------------------------------------------------------

DUID = "ABCD-123456-VWXYZ"
PPPP_SENSOR = f"binary_sensor.pppp_{DUID.lower().replace('-', '_')}_connection"


async def test_pppp_setup_reconnect_unload(hass: HomeAssistant, socket_enabled: None) -> None:
    """A PPPP entry sets up, survives a camera reboot (new session port) and unloads."""
    cam = PpppCamera(PpppCameraConfig(host="127.0.0.1", port=0, duid=DUID, app="shix"))
    await cam.start()
    try:
        host, port = cam.discovery_target
        info = CameraInfo(DUID, host, port, Family.PPPP)
        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id=DUID,
            title=f"PPPP {DUID}",
            data={**info.as_dict(), "username": None, "password": None},
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        coordinator = entry.runtime_data
        assert coordinator.info.app_layer == "shix"
        await wait_for(lambda: _state(hass, PPPP_SENSOR) == STATE_ON)
        await cam.reboot()
        await wait_for(lambda: _state(hass, PPPP_SENSOR) == STATE_OFF, timeout=5)
        await wait_for(lambda: _state(hass, PPPP_SENSOR) == STATE_ON, timeout=8)
        assert coordinator.data.reconnects == 1
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        await wait_for(lambda: not cam.clients)
    finally:
        await cam.stop()
