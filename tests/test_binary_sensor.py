"""Connectivity binary sensor."""

from __future__ import annotations

from homeassistant.const import STATE_OFF, STATE_ON, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from fakecam.teg import TegCamera

from .conftest import UID, wait_for

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
