"""Integration-wide settings the user edits, stored by HA, independent of any camera entry.

(Not the runtime tunables: those are the environment/test seam.)

The extra discovery hosts (``scan_hosts``) live here, in HA's storage
(``.storage/chinesium.settings``): they are set in the config flow's *Search the
network* step, used by every scan (user, background, reconnect look-ups) and
survive the deletion of any camera. Older versions kept them in one camera
entry's options; :func:`async_migrate_entry_scan_hosts` moves them here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, TypedDict

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.singleton import singleton
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .const import CONF_SCAN_HOSTS, DOMAIN, LOGGER

STORAGE_KEY: Final = f"{DOMAIN}.settings"
STORAGE_VERSION: Final = 1
DATA_STORED_SETTINGS: HassKey[StoredSettings] = HassKey(f"{DOMAIN}_stored_settings")


class SettingsData(TypedDict):
    """What is stored."""

    scan_hosts: list[str]


class StoredSettings:
    """The loaded stored settings and their store."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Create empty settings backed by the ``chinesium.settings`` store."""
        self._store: Store[SettingsData] = Store(hass, STORAGE_VERSION, STORAGE_KEY)
        self.scan_hosts: list[str] = []
        """Extra discovery targets as entered: ``host``, ``host:port`` or a CIDR."""

    async def async_load(self) -> None:
        """Read the stored settings (nothing stored: defaults)."""
        data = await self._store.async_load()
        hosts = data.get("scan_hosts") if data else None
        self.scan_hosts = [str(host) for host in hosts or ()]

    async def async_set_scan_hosts(self, hosts: Iterable[str]) -> None:
        """Replace the extra discovery hosts (stripped, empty ones and duplicates dropped)."""
        cleaned = list(dict.fromkeys(h.strip() for h in hosts if h.strip()))
        if cleaned == self.scan_hosts:
            return
        self.scan_hosts = cleaned
        await self._store.async_save({"scan_hosts": cleaned})


@singleton(DATA_STORED_SETTINGS, async_=True)
async def async_get_stored_settings(hass: HomeAssistant) -> StoredSettings:
    """The integration's stored settings, loaded once per HA run."""
    settings = StoredSettings(hass)
    await settings.async_load()
    return settings


@callback
def async_stored_scan_hosts(hass: HomeAssistant) -> list[str]:
    """The stored extra hosts if the settings are loaded already, else ``[]``."""
    settings = hass.data.get(DATA_STORED_SETTINGS)
    return list(settings.scan_hosts) if isinstance(settings, StoredSettings) else []


async def async_migrate_entry_scan_hosts(hass: HomeAssistant) -> None:
    """Move ``scan_hosts`` from camera entries' options into the integration settings."""
    settings = await async_get_stored_settings(hass)
    moved: list[str] = []
    for entry in hass.config_entries.async_entries(DOMAIN):
        if CONF_SCAN_HOSTS not in entry.options:
            continue
        moved.extend(entry.options[CONF_SCAN_HOSTS] or ())
        options = {k: v for k, v in entry.options.items() if k != CONF_SCAN_HOSTS}
        hass.config_entries.async_update_entry(entry, options=options)
    if moved:
        LOGGER.info("Moved extra discovery hosts from camera options to the integration: %s", moved)
        await settings.async_set_scan_hosts([*settings.scan_hosts, *moved])
