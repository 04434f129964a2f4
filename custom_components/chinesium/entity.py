"""Base entity for chinesium cameras."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, FAMILY_LABELS, MANUFACTURERS
from .coordinator import ChinesiumCoordinator


class ChinesiumEntity(CoordinatorEntity[ChinesiumCoordinator]):
    """An entity of one camera device; unique id ``<uid>_<key>``."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: ChinesiumCoordinator, key: str) -> None:
        """Initialise the entity for ``coordinator``'s camera."""
        super().__init__(coordinator)
        info = coordinator.info
        self._attr_unique_id = f"{info.uid}_{key}"
        model = info.model or " ".join(
            part for part in (FAMILY_LABELS[info.family], info.app_layer) if part
        )
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, info.uid)},
            manufacturer=MANUFACTURERS[info.family],
            model=model,
            name=coordinator.config_entry.title,
            serial_number=info.uid,
        )
