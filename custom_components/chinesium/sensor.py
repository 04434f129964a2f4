"""Sensors: battery and Wi-Fi signal, as the camera reports them.

Cameras report either a battery percentage (SHIX) or a voltage (iLnk), and a
Wi-Fi signal either in dBm (iLnk) or as a 0-100 quality (SHIX); the app
layer's capabilities say which (``BATTERY_VOLTAGE``, ``WIFI_DBM``), so each
camera gets one battery and one signal sensor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    UnitOfElectricPotential,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ChinesiumConfigEntry, ChinesiumCoordinator
from .entity import ChinesiumEntity
from .protocol import CameraState, Capability

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class ChinesiumSensorDescription(SensorEntityDescription):
    """A sensor: shown when ``supported_fn`` holds; ``value_fn`` reads the camera state."""

    supported_fn: Callable[[ChinesiumCoordinator], bool]
    value_fn: Callable[[CameraState], float | None]


def _battery_voltage(state: CameraState) -> float | None:
    return state.battery_mv / 1000 if state.battery_mv is not None else None


SENSORS: tuple[ChinesiumSensorDescription, ...] = (
    ChinesiumSensorDescription(
        key="battery",
        translation_key="battery",
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        supported_fn=lambda c: (
            Capability.BATTERY in c.capabilities
            and Capability.BATTERY_VOLTAGE not in c.capabilities
        ),
        value_fn=lambda s: s.battery_percent,
    ),
    ChinesiumSensorDescription(
        key="battery_voltage",
        translation_key="battery_voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        suggested_display_precision=2,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        supported_fn=lambda c: Capability.BATTERY_VOLTAGE in c.capabilities,
        value_fn=_battery_voltage,
    ),
    ChinesiumSensorDescription(
        key="wifi_signal",
        translation_key="wifi_signal",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        supported_fn=lambda c: Capability.WIFI_DBM in c.capabilities,
        value_fn=lambda s: s.wifi_dbm,
    ),
    ChinesiumSensorDescription(
        key="wifi_quality",
        translation_key="wifi_quality",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        supported_fn=lambda c: (
            Capability.WIFI_SIGNAL in c.capabilities and Capability.WIFI_DBM not in c.capabilities
        ),
        value_fn=lambda s: s.wifi_percent,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ChinesiumConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors the entry's camera supports."""
    coordinator = entry.runtime_data
    entities: list[SensorEntity] = [
        ChinesiumSensor(coordinator, description)
        for description in SENSORS
        if description.supported_fn(coordinator)
    ]
    if coordinator.restream_address is not None:
        entities.append(RestreamUrlSensor(coordinator))
    async_add_entities(entities)


class ChinesiumSensor(ChinesiumEntity, SensorEntity):
    """A value the camera reports (unknown until it does)."""

    entity_description: ChinesiumSensorDescription

    @property
    def native_value(self) -> float | None:
        """The reported value."""
        return self.entity_description.value_fn(self.coordinator.data.camera)


class RestreamUrlSensor(ChinesiumEntity, SensorEntity):
    """The camera's LAN restream URL (MPEG-TS; MJPEG in an attribute), token included."""

    _attr_translation_key = "restream_url"
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, coordinator: ChinesiumCoordinator) -> None:
        """Initialise the sensor."""
        super().__init__(coordinator, "restream_url")

    @property
    def available(self) -> bool:
        """Available while the LAN restream runs."""
        return bool(self.coordinator.restream_urls())

    @property
    def native_value(self) -> str | None:
        """The MPEG-TS URL."""
        return self.coordinator.restream_urls().get("ts")

    @property
    def extra_state_attributes(self) -> dict[str, str]:
        """The MJPEG URL of MJPEG cameras."""
        urls = self.coordinator.restream_urls()
        return {"mjpeg_url": urls["mjpeg"]} if "mjpeg" in urls else {}
