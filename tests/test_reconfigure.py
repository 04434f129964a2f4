"""Reconfigure of a camera that HA itself is connected to (the camera has one slot)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from fakecam.teg import TegCamera

from .conftest import SECRET_TOKEN, entry_for, target, wait_for

type CameraFactory = Callable[..., Awaitable[TegCamera]]


async def _loaded(
    hass: HomeAssistant, cam: TegCamera, password: str | None = None
) -> MockConfigEntry:
    entry = entry_for(cam, password=password)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(lambda: entry.runtime_data.data.streaming)
    return entry


async def test_reconfigure_connected_camera_unchanged(
    hass: HomeAssistant, teg_camera: TegCamera
) -> None:
    """Submitting the form of a working camera unchanged succeeds (no "busy")."""
    entry = await _loaded(hass, teg_camera)
    assert teg_camera.config.max_clients == 1
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: target(teg_camera)}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.state is ConfigEntryState.LOADED
    await wait_for(lambda: entry.runtime_data.data.streaming)


async def test_reconfigure_connected_camera_probes_new_credentials(
    hass: HomeAssistant, camera_factory: CameraFactory
) -> None:
    """Changed credentials are probed while HA's own session frees the camera's only
    slot: a wrong token is refused as invalid_auth (not "busy") and the running session
    comes back; the right one is saved."""
    cam = await camera_factory(token=SECRET_TOKEN)
    entry = await _loaded(hass, cam, password=SECRET_TOKEN)
    coordinator = entry.runtime_data
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: target(cam), CONF_PASSWORD: "111111111111"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    await wait_for(lambda: coordinator.connected)
    await wait_for(lambda: coordinator.data.streaming)
    # the camera never saw two clients at once
    assert cam.stats.rejected_logins == 1
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: target(cam), CONF_PASSWORD: SECRET_TOKEN}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PASSWORD] == SECRET_TOKEN
    await wait_for(lambda: entry.runtime_data.data.streaming)
