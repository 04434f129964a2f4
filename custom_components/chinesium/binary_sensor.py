"""Binary sensors: connectivity, motion (from the frames), charging (when reported)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ChinesiumConfigEntry, ChinesiumCoordinator
from .entity import ChinesiumEntity
from .protocol import Capability

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class ChinesiumBinarySensorDescription(BinarySensorEntityDescription):
    """A binary sensor: shown when ``supported_fn`` holds; ``value_fn`` reads the state."""

    supported_fn: Callable[[ChinesiumCoordinator], bool]
    value_fn: Callable[[ChinesiumCoordinator], bool | None]


CHARGING = ChinesiumBinarySensorDescription(
    key="charging",
    translation_key="charging",
    device_class=BinarySensorDeviceClass.BATTERY_CHARGING,
    entity_category=EntityCategory.DIAGNOSTIC,
    supported_fn=lambda c: Capability.CHARGING in c.capabilities,
    value_fn=lambda c: c.data.camera.charging,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ChinesiumConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the connectivity and motion sensors, and charging when reported."""
    coordinator = entry.runtime_data
    entities: list[BinarySensorEntity] = [
        ChinesiumConnectionSensor(coordinator),
        ChinesiumMotionSensor(coordinator),
    ]
    if CHARGING.supported_fn(coordinator):
        entities.append(ChinesiumBinarySensor(coordinator, CHARGING))
    async_add_entities(entities)


class ChinesiumConnectionSensor(ChinesiumEntity, BinarySensorEntity):
    """Camera link state; always available so it can report the camera is gone."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_translation_key = "connection"

    def __init__(self, coordinator: ChinesiumCoordinator) -> None:
        """Initialise the sensor."""
        super().__init__(coordinator, "connection")

    @property
    def available(self) -> bool:
        """Always available: "off" is the answer when the camera is gone."""
        return True

    @property
    def is_on(self) -> bool:
        """On while frames arrive; with no session (on demand) the last known reachability."""
        return self.coordinator.data.online


class ChinesiumMotionSensor(ChinesiumEntity, BinarySensorEntity):
    """Motion computed from frame differences; unavailable while no frames flow."""

    _attr_device_class = BinarySensorDeviceClass.MOTION
    _attr_translation_key = "motion"

    def __init__(self, coordinator: ChinesiumCoordinator) -> None:
        """Initialise the sensor."""
        super().__init__(coordinator, "motion")

    @property
    def available(self) -> bool:
        """Available while frames flow (nothing to analyse otherwise)."""
        return self.coordinator.last_update_success and self.coordinator.data.streaming

    @property
    def is_on(self) -> bool:
        """On from the first analysis that saw motion until the hold time passed."""
        return self.coordinator.data.motion


class ChinesiumBinarySensor(ChinesiumEntity, BinarySensorEntity):
    """A yes/no value the camera reports (unknown until it does)."""

    entity_description: ChinesiumBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """The reported value."""
        return self.entity_description.value_fn(self.coordinator)
