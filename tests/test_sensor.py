"""Sensors (battery, Wi-Fi) and the charging sensor, as SHIX and iLnk report them."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.chinesium.const import DOMAIN
from fakecam.teg import TegCamera

from .conftest import entry_for, wait_for
from .controls_ha import PPPP_DUID, PpppFactory, entity_id, pppp_entry, pppp_factory, setup_entry

__all__ = ["pppp_factory"]


def sensor_keys(hass: HomeAssistant, entry_id: str) -> set[str]:
    """The unique-id suffixes of the entry's sensors."""
    entries = er.async_entries_for_config_entry(er.async_get(hass), entry_id)
    return {e.unique_id.split("_", 1)[1] for e in entries if e.domain == "sensor"}


async def test_shix_sensors(
    hass: HomeAssistant,
    pppp_factory: PpppFactory,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """SHIX reports a battery percentage and a Wi-Fi quality in %."""
    cam = await pppp_factory(app="shix")
    entry = await setup_entry(hass, pppp_entry(cam), Platform.SENSOR)
    battery = entity_id(hass, "sensor", entry, "battery")
    await wait_for(lambda: hass.states.get(battery).state not in ("unknown", "unavailable"))
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
    # One battery and one signal sensor, in the units SHIX reports (none stays unknown).
    assert sensor_keys(hass, entry.entry_id) == {"battery", "wifi_quality"}


async def test_ilnk_sensors_and_firmware(
    hass: HomeAssistant,
    pppp_factory: PpppFactory,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """ILnk reports a battery voltage and dBm; its firmware is the device's sw_version."""
    cam = await pppp_factory(app="ilnk")
    entry = await setup_entry(hass, pppp_entry(cam), Platform.SENSOR)
    signal = entity_id(hass, "sensor", entry, "wifi_signal")
    await wait_for(lambda: hass.states.get(signal).state not in ("unknown", "unavailable"))
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
    assert sensor_keys(hass, entry.entry_id) == {"battery_voltage", "wifi_signal"}
    firmware = entry.runtime_data.camera_state.firmware
    assert firmware
    device = device_registry.async_get_device(identifiers={(DOMAIN, PPPP_DUID)})
    assert device is not None
    assert device.sw_version == firmware


async def test_charging_sensor(hass: HomeAssistant, pppp_factory: PpppFactory) -> None:
    """A camera reporting its power supply gets a charging sensor with a value."""
    cam = await pppp_factory(app="shix")
    entry = await setup_entry(hass, pppp_entry(cam))
    charging = entity_id(hass, "binary_sensor", entry, "charging")
    await wait_for(lambda: hass.states.get(charging).state in ("on", "off"))
    state = hass.states.get(charging)
    assert state.attributes["device_class"] == "battery_charging"
    assert (state.state == "on") is entry.runtime_data.camera_state.charging


async def test_teg_has_no_sensors(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """TEG reports no battery or signal: no sensor, no charging sensor."""
    entry = await setup_entry(hass, entry_for(teg_camera))
    registry = er.async_get(hass)
    entities = er.async_entries_for_config_entry(registry, entry.entry_id)
    assert not [e for e in entities if e.domain == "sensor"]
    assert (
        registry.async_get_entity_id("binary_sensor", DOMAIN, f"{entry.unique_id}_charging") is None
    )
