"""The chinesium integration: local-only cheap Wi-Fi cameras (TEG, PPPP)."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .coordinator import OFFLINE_LOGGED, ChinesiumConfigEntry, ChinesiumCoordinator
from .discovery import async_start_background_scan
from .stored_settings import async_migrate_entry_scan_hosts

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CAMERA,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Move old per-camera extra hosts into the integration settings; start the LAN scan."""
    await async_migrate_entry_scan_hosts(hass)
    async_start_background_scan(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ChinesiumConfigEntry) -> bool:
    """Connect to the camera and set up its entities."""
    coordinator = ChinesiumCoordinator(hass, entry)
    await coordinator.async_connect()
    entry.runtime_data = coordinator
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_update_listener(hass: HomeAssistant, entry: ChinesiumConfigEntry) -> None:
    """Apply changed options by reloading; data-only updates (moved camera) do not reload."""
    if dict(entry.options) != entry.runtime_data.options:
        await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: ChinesiumConfigEntry) -> bool:
    """Unload the entities; the coordinator closes the session on unload."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: ChinesiumConfigEntry) -> None:
    """Forget the entry's availability-logging state."""
    hass.data.get(OFFLINE_LOGGED, set()).discard(entry.entry_id)
