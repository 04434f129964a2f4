"""Buttons (PTZ steps, reboot), the chinesium.ptz action, errors, offline entities."""

from __future__ import annotations

import asyncio

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.chinesium.const import DOMAIN
from custom_components.chinesium.protocol import Capability, ChinesiumError, PtzDirection
from custom_components.chinesium.protocol.teg.codec import Ctl
from fakecam.teg import TegCamera

from .conftest import entry_for, wait_for
from .controls_ha import PpppFactory, entity_id, pppp_entry, pppp_factory, setup_entry

__all__ = ["pppp_factory"]


async def _press(hass: HomeAssistant, entity: str) -> None:
    await hass.services.async_call("button", "press", {ATTR_ENTITY_ID: entity}, blocking=True)


async def test_teg_buttons(
    hass: HomeAssistant,
    teg_camera: TegCamera,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """A TEG camera gets four PTZ steps and reboot."""
    entry = await setup_entry(hass, entry_for(teg_camera), Platform.BUTTON)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_shix_buttons(
    hass: HomeAssistant,
    pppp_factory: PpppFactory,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """A SHIX camera gets the same buttons."""
    cam = await pppp_factory(app="shix")
    entry = await setup_entry(hass, pppp_entry(cam), Platform.BUTTON)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_ptz_buttons_move_the_picture(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """Each press is one step in the emulator's picture window."""
    entry = await setup_entry(hass, entry_for(teg_camera))
    controls = teg_camera.controls
    await _press(hass, entity_id(hass, "button", entry, "pan_right"))
    assert (controls.pan, controls.tilt) == (1, 0)
    await _press(hass, entity_id(hass, "button", entry, "pan_right"))
    await _press(hass, entity_id(hass, "button", entry, "tilt_up"))
    assert (controls.pan, controls.tilt) == (2, 1)
    await _press(hass, entity_id(hass, "button", entry, "pan_left"))
    await _press(hass, entity_id(hass, "button", entry, "tilt_down"))
    await _press(hass, entity_id(hass, "button", entry, "tilt_down"))
    assert (controls.pan, controls.tilt) == (1, -1)


async def test_reboot_button(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """Reboot restarts the camera; the integration reconnects."""
    entry = await setup_entry(hass, entry_for(teg_camera))
    button = entity_id(hass, "button", entry, "reboot")
    state = hass.states.get(button)
    assert state is not None
    assert state.attributes["device_class"] == "restart"
    logins = teg_camera.stats.logins
    await _press(hass, button)
    await wait_for(lambda: teg_camera.reboots == 1)
    await wait_for(lambda: teg_camera.stats.logins > logins, timeout=10)
    await wait_for(lambda: entry.runtime_data.data.streaming, timeout=10)


async def test_ptz_action_steps_and_duration(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """chinesium.ptz: steps move that many steps; a duration moves, then stops."""
    entry = await setup_entry(hass, entry_for(teg_camera))
    camera = entity_id(hass, "camera", entry, "camera")
    controls = teg_camera.controls
    await hass.services.async_call(
        DOMAIN, "ptz", {ATTR_ENTITY_ID: camera, "direction": "left", "steps": 3}, blocking=True
    )
    assert controls.pan == -3
    await hass.services.async_call(
        DOMAIN, "ptz", {ATTR_ENTITY_ID: camera, "direction": "up"}, blocking=True
    )
    assert controls.tilt == 1  # neither: one step
    before = controls.ptz_commands
    await hass.services.async_call(
        DOMAIN,
        "ptz",
        {ATTR_ENTITY_ID: camera, "direction": "right", "duration": 0.6},
        blocking=True,
    )
    assert controls.pan > -2  # moved right for a while (two steps or more)
    assert controls.ptz_commands > before
    pan = controls.pan
    await asyncio.sleep(0.6)
    controls.picture()  # advances a running move
    assert controls.pan == pan  # stopped after the duration
    await hass.services.async_call(
        DOMAIN, "ptz", {ATTR_ENTITY_ID: camera, "direction": "stop"}, blocking=True
    )
    with pytest.raises(Exception, match="two or more values in the same group"):
        await hass.services.async_call(
            DOMAIN,
            "ptz",
            {ATTR_ENTITY_ID: camera, "direction": "up", "steps": 1, "duration": 1},
            blocking=True,
        )


async def test_unsupported_command_is_translated(
    hass: HomeAssistant, camera_factory: object
) -> None:
    """A camera answering "unsupported" gives a translated validation error."""
    cam = await camera_factory(unsupported_ctls=frozenset({Ctl.PTZ}))  # type: ignore[operator]
    entry = await setup_entry(hass, entry_for(cam))
    with pytest.raises(ServiceValidationError) as info:
        await _press(hass, entity_id(hass, "button", entry, "pan_left"))
    assert info.value.translation_key == "command_unsupported"
    assert str(info.value) == (
        f"The camera of {entity_id(hass, 'button', entry, 'pan_left')} "
        "does not support this command (ptz)"
    )
    # What the session learnt is stored with the entry (entities of a later setup).
    await wait_for(lambda: "ptz" not in entry.data["capabilities"])
    assert Capability.PTZ not in entry.runtime_data.capabilities


async def test_silent_camera_is_translated(hass: HomeAssistant, camera_factory: object) -> None:
    """A command the camera never answers gives a translated HomeAssistantError."""
    cam = await camera_factory(mute_ctls=frozenset({Ctl.PTZ}))  # type: ignore[operator]
    entry = await setup_entry(hass, entry_for(cam))
    with pytest.raises(HomeAssistantError) as info:
        await _press(hass, entity_id(hass, "button", entry, "tilt_up"))
    assert info.value.translation_key == "command_timeout"
    assert "did not answer in time" in str(info.value)


async def test_offline_camera_keeps_unavailable_entities(
    hass: HomeAssistant, teg_camera: TegCamera
) -> None:
    """Offline: the entities stay (unavailable) and commands give a translated error."""
    entry = await setup_entry(hass, entry_for(teg_camera))
    stored = entry.data["capabilities"]
    assert "ptz" in stored
    button = entity_id(hass, "button", entry, "pan_left")
    teg_camera.silent = True
    await wait_for(lambda: hass.states.get(button).state == STATE_UNAVAILABLE, timeout=8)
    coordinator = entry.runtime_data
    assert coordinator.session is None
    assert sorted(c.value for c in coordinator.capabilities) == stored  # from the entry
    with pytest.raises(ChinesiumError):
        await coordinator.async_command(lambda s: s.ptz(PtzDirection.LEFT, steps=1))
    # A reload while the camera is offline: setup retries, the entities stay.
    assert not await hass.config_entries.async_reload(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert hass.states.get(button).state == STATE_UNAVAILABLE
    teg_camera.silent = False
