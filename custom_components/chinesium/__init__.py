"""The chinesium integration: local-only cheap Wi-Fi cameras (TEG, PPPP)."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .coordinator import ChinesiumConfigEntry, ChinesiumCoordinator
from .discovery import async_start_background_scan

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.CAMERA]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Start the background LAN scan (now and periodically)."""
    async_start_background_scan(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ChinesiumConfigEntry) -> bool:
    """Connect to the camera and set up its entities."""
    coordinator = ChinesiumCoordinator(hass, entry)
    await coordinator.async_connect()
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: ChinesiumConfigEntry) -> bool:
    """Unload the entities; the coordinator closes the session on unload."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
