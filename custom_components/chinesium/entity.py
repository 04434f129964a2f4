"""Base entity for chinesium cameras and the device description."""

from __future__ import annotations

from typing import Final

from homeassistant.const import CONF_MAC
from homeassistant.helpers.device_registry import CONNECTION_NETWORK_MAC, DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import ChinesiumCoordinator
from .protocol import CameraInfo, Family

TEG_MANUFACTURER: Final = "IWFCam (TEG)"
PPPP_MANUFACTURER: Final = "PPPP (CS2 Network)"
"""Manufacturer of a PPPP camera whose app layer is not known."""
PPPP_MANUFACTURERS: Final[dict[str, str]] = {
    "shix": "SHIX (HDWifiCamPro/LookCamPro)",
    "ilnk": "iLnk (YsxLite)",
}
"""Manufacturer (really: the app/vendor ecosystem) per PPPP app layer."""
APP_LAYER_LABELS: Final[dict[str, str]] = {"shix": "SHIX", "ilnk": "iLnk"}


def device_manufacturer(info: CameraInfo) -> str:
    """Manufacturer shown for a camera: the family, or the PPPP app layer's ecosystem."""
    if info.family is Family.TEG:
        return TEG_MANUFACTURER
    return PPPP_MANUFACTURERS.get(info.app_layer or "", PPPP_MANUFACTURER)


def device_model(info: CameraInfo) -> str:
    """Model shown for a camera; never a repeat of the manufacturer."""
    manufacturer = device_manufacturer(info)
    if info.model and info.model != manufacturer and info.model not in manufacturer:
        return info.model
    if info.family is Family.TEG:
        return "TEG Wi-Fi camera"
    layer = info.app_layer
    if layer:
        return f"PPPP camera, {APP_LAYER_LABELS.get(layer, layer)} app layer"
    return "PPPP camera"


def device_info(coordinator: ChinesiumCoordinator) -> DeviceInfo:
    """The device registry entry of ``coordinator``'s camera."""
    info = coordinator.info
    device = DeviceInfo(
        identifiers={(DOMAIN, info.uid)},
        manufacturer=device_manufacturer(info),
        model=device_model(info),
        name=coordinator.config_entry.title,
        serial_number=info.uid,
    )
    if coordinator.firmware:
        device["sw_version"] = coordinator.firmware
    if mac := coordinator.config_entry.data.get(CONF_MAC):
        device["connections"] = {(CONNECTION_NETWORK_MAC, mac)}
    return device


class ChinesiumEntity(CoordinatorEntity[ChinesiumCoordinator]):
    """An entity of one camera device; unique id ``<uid>_<key>``."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: ChinesiumCoordinator, key: str) -> None:
        """Initialise the entity for ``coordinator``'s camera."""
        super().__init__(coordinator)
        self._attr_unique_id = f"{coordinator.info.uid}_{key}"
        self._attr_device_info = device_info(coordinator)
