"""Connectivity binary sensor: on while frames flow (or, idle on demand, while reachable)."""

from __future__ import annotations

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ChinesiumConfigEntry, ChinesiumCoordinator
from .entity import ChinesiumEntity

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ChinesiumConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the connectivity sensor of the entry's camera."""
    async_add_entities([ChinesiumConnectionSensor(entry.runtime_data)])


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
