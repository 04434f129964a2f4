"""Config entry and device diagnostics."""

from __future__ import annotations

from homeassistant.const import CONF_MAC
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.chinesium.const import (
    CONF_MAX_FPS,
    CONF_STREAM_MODE,
    DOMAIN,
    STREAM_MODE_ON_DEMAND,
)
from fakecam.teg import TegCamera

from .conftest import UID, entry_for, wait_for

VOLATILE = props(
    "entry_id",
    "created_at",
    "modified_at",
    "port",
    "search_port",
    "stats",
    "totals",
    "frames_ok",
    "frames_dropped",
    "frames_received",
    "size",
)
"""Values that differ per run (ephemeral ports, counters, timestamps)."""


async def test_diagnostics(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
) -> None:
    """Secrets and identifiers are redacted; state, options and counters are included."""
    diag = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    assert UID not in str(diag)
    assert "127.0.0.1" not in str(diag)
    assert init_integration.title not in str(diag)
    session = diag["session"]
    assert session["stats"]["frames_ok"] >= 1
    assert session["frames_ok"] >= session["stats"]["frames_ok"]
    assert session["frames_dropped"] == 0
    assert session["family"] == "teg"
    assert session["stream_mode"] == "always"
    assert diag["state"]["frames_received"] >= 1
    assert diag == snapshot(exclude=VOLATILE)


async def test_device_diagnostics(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Device diagnostics: the device (redacted) plus the camera's runtime data."""
    device = device_registry.async_get_device(identifiers={(DOMAIN, UID)})
    assert device is not None
    diag = await get_diagnostics_for_device(hass, hass_client, init_integration, device)
    assert UID not in str(diag)
    assert "127.0.0.1" not in str(diag)
    assert diag["device"]["manufacturer"] == "IWFCam"
    assert diag["session"]["stats"]["frames_ok"] >= 1
    assert diag == snapshot(exclude=VOLATILE)


async def test_diagnostics_redact_mac(
    hass: HomeAssistant,
    teg_camera: TegCamera,
    hass_client: ClientSessionGenerator,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A MAC from DHCP (entry data and device connection) is redacted."""
    mac = "aa:bb:cc:dd:ee:ff"
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_MAC: mac})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    device = device_registry.async_get_device(identifiers={(DOMAIN, UID)})
    assert device is not None
    assert device.connections == {(dr.CONNECTION_NETWORK_MAC, mac)}
    entry_diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert entry_diag["entry"]["data"][CONF_MAC] == "**REDACTED**"
    device_diag = await get_diagnostics_for_device(hass, hass_client, entry, device)
    assert device_diag["device"]["connections"] == "**REDACTED**"
    assert mac not in str(entry_diag) + str(device_diag)


async def test_diagnostics_totals_survive_reconnect(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    teg_camera: TegCamera,
) -> None:
    """Counters of ended sessions are kept in the totals; reconnects and errors show."""
    coordinator = init_integration.runtime_data
    await teg_camera.reboot()
    await wait_for(lambda: not coordinator.data.online)
    before = coordinator.totals["frames_ok"]
    assert before >= 1
    await wait_for(lambda: coordinator.data.online, timeout=8)
    diag = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    assert diag["state"]["reconnects"] == 1
    assert diag["state"]["last_error"]
    assert diag["session"]["frames_ok"] >= before + diag["session"]["stats"]["frames_ok"] - 1


async def test_diagnostics_on_demand(
    hass: HomeAssistant,
    teg_camera: TegCamera,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
) -> None:
    """The options in force are part of the diagnostics."""
    entry = entry_for(
        teg_camera, options={CONF_STREAM_MODE: STREAM_MODE_ON_DEMAND, CONF_MAX_FPS: 5}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diag["options"] == {"stream_mode": "on_demand", "max_fps": 5}
    assert diag["session"]["stream_mode"] == "on_demand"
    assert diag["entry"]["options"] == {"stream_mode": "on_demand", "max_fps": 5}


async def test_diagnostics_not_loaded(
    hass: HomeAssistant, teg_camera: TegCamera, hass_client: ClientSessionGenerator
) -> None:
    """An entry in setup retry still gives (entry-only) diagnostics."""
    teg_camera.silent = True
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diag["state"] == "not loaded"
    assert UID not in str(diag)
