"""Shared pieces of the HA control-entity tests: PPPP emulators, one-platform setup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from unittest.mock import patch

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.chinesium.const import DOMAIN
from custom_components.chinesium.protocol import CameraInfo, Family
from fakecam.pppp import PpppCamera

from .conftest import PPPP_DUID, pppp_factory, wait_for

__all__ = ["PPPP_DUID", "pppp_factory"]


type PpppFactory = Callable[..., Awaitable[PpppCamera]]


def pppp_entry(cam: PpppCamera) -> MockConfigEntry:
    """A config entry for an emulated PPPP camera."""
    info = CameraInfo(PPPP_DUID, "127.0.0.1", cam.port, Family.PPPP, app_layer=cam.config.app)
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=PPPP_DUID,
        title=f"PPPP {cam.config.app}",
        data={**info.as_dict(), "username": None, "password": None},
    )


async def setup_entry(
    hass: HomeAssistant, entry: MockConfigEntry, *platforms: Platform
) -> MockConfigEntry:
    """Set up ``entry`` with only ``platforms`` (all when none given); wait for frames."""
    entry.add_to_hass(hass)
    if platforms:
        with patch("custom_components.chinesium.PLATFORMS", list(platforms)):
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
    else:
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    await wait_for(lambda: entry.runtime_data.data.streaming)
    # the camera's state is read in the background after connecting: let it land
    await wait_for(lambda: entry.runtime_data.state_refreshed)
    return entry


def entity_id(hass: HomeAssistant, platform: str, entry: MockConfigEntry, key: str) -> str:
    """The entity id of ``entry``'s entity with unique id suffix ``key``."""
    from homeassistant.helpers import entity_registry as er

    uid = entry.unique_id
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{uid}_{key}")
    assert found is not None, (platform, key)
    return found
