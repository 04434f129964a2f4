"""Connectivity and motion binary sensors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.chinesium.const import CONF_MOTION_HOLD, CONF_MOTION_SENSITIVITY
from fakecam.motion import Crossing, MotionScript
from fakecam.teg import TegCamera

from .conftest import UID, entry_for, wait_for

SENSOR = f"binary_sensor.teg_{UID.lower().replace('-', '_')}_connection"


async def test_connection_sensor(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    teg_camera: TegCamera,
) -> None:
    """On while frames flow, off (never unavailable) while the camera is gone."""
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.state == STATE_ON
    assert state.attributes["device_class"] == "connectivity"
    assert state.attributes["friendly_name"] == f"TEG {UID} Connection"
    entity = entity_registry.async_get(SENSOR)
    assert entity is not None
    assert entity.entity_category is EntityCategory.DIAGNOSTIC
    assert entity.translation_key == "connection"
    assert entity.unique_id == f"{UID}_connection"

    teg_camera.silent = True
    await wait_for(lambda: hass.states.get(SENSOR).state == STATE_OFF)
    teg_camera.silent = False
    await wait_for(lambda: hass.states.get(SENSOR).state == STATE_ON, timeout=8)


async def test_connection_sensor_after_unload(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Unloading removes the entities' live state."""
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.state == "unavailable"


async def test_motion_sensor(
    hass: HomeAssistant,
    camera_factory: Callable[..., Awaitable[TegCamera]],
) -> None:
    """On for a scripted crossing, off after the hold time, unavailable without frames."""
    script = MotionScript(crossings=(Crossing(2.0, duration=1.5),), light=(), period=60.0)
    cam = await camera_factory(motion=script)
    entry = entry_for(cam, options={CONF_MOTION_HOLD: 1, CONF_MOTION_SENSITIVITY: 50})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    motion = f"binary_sensor.teg_{UID.lower().replace('-', '_')}_motion"
    await wait_for(lambda: hass.states.get(motion).state == STATE_OFF)
    assert hass.states.get(motion).attributes["device_class"] == "motion"
    await wait_for(lambda: hass.states.get(motion).state == STATE_ON, timeout=15)
    await wait_for(lambda: hass.states.get(motion).state == STATE_OFF, timeout=15)
    cam.silent = True
    await wait_for(lambda: hass.states.get(motion).state == STATE_UNAVAILABLE, timeout=8)
    assert entry.runtime_data.data.motion is False
