"""Options flow (stream mode, frame-rate cap, motion), the integration-wide scan hosts."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryDisabler, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.chinesium import discovery
from custom_components.chinesium.const import (
    CONF_AUDIO,
    CONF_HLS,
    CONF_MAX_FPS,
    CONF_MOTION_HOLD,
    CONF_MOTION_SENSITIVITY,
    CONF_RESTREAM,
    CONF_RESTREAM_HOST,
    CONF_RESTREAM_PORT,
    CONF_SCAN_HOSTS,
    CONF_STREAM_MODE,
    DEFAULT_RESTREAM_HOST,
    DEFAULT_RESTREAM_PORT,
    DOMAIN,
    STREAM_MODE_ALWAYS,
    STREAM_MODE_ON_DEMAND,
)
from custom_components.chinesium.discovery import expand_scan_host, expand_scan_hosts
from custom_components.chinesium.stored_settings import STORAGE_KEY, async_get_stored_settings
from fakecam.teg import TegCamera

from .conftest import UID, UID2, override_settings, target, wait_for

DEFAULTS = {
    CONF_STREAM_MODE: STREAM_MODE_ALWAYS,
    CONF_MAX_FPS: 0,
    CONF_MOTION_SENSITIVITY: 50,
    CONF_MOTION_HOLD: 5,
    CONF_HLS: False,
    CONF_AUDIO: False,
    CONF_RESTREAM: False,
    CONF_RESTREAM_HOST: DEFAULT_RESTREAM_HOST,
    CONF_RESTREAM_PORT: DEFAULT_RESTREAM_PORT,
}


async def _open(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    return result


def _defaults(result: dict[str, Any]) -> dict[str, Any]:
    """Suggested (or default) value of every field of a shown form."""
    values: dict[str, Any] = {}
    for key in result["data_schema"].schema:
        suggested = (key.description or {}).get("suggested_value")
        values[str(key)] = suggested if suggested is not None else key.default()
    return values


async def test_defaults_and_store(hass: HomeAssistant) -> None:
    """A fresh entry shows the defaults; submitting stores normalised options."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=UID, data={})
    entry.add_to_hass(hass)
    result = await _open(hass, entry)
    assert _defaults(result) == DEFAULTS
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_STREAM_MODE: STREAM_MODE_ON_DEMAND,
            CONF_MAX_FPS: 5.0,  # the number selector hands over floats
            CONF_MOTION_SENSITIVITY: 80.0,
            CONF_MOTION_HOLD: 12.0,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        **DEFAULTS,
        CONF_STREAM_MODE: STREAM_MODE_ON_DEMAND,
        CONF_MAX_FPS: 5,
        CONF_MOTION_SENSITIVITY: 80,
        CONF_MOTION_HOLD: 12,
    }
    assert isinstance(entry.options[CONF_MAX_FPS], int)
    assert isinstance(entry.options[CONF_MOTION_HOLD], int)

    # Reopening shows the stored values.
    result = await _open(hass, entry)
    assert _defaults(result) == entry.options


async def test_missing_fields_use_defaults(hass: HomeAssistant) -> None:
    """An empty submission (cleared fields) stores the defaults."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=UID, data={})
    entry.add_to_hass(hass)
    result = await _open(hass, entry)
    await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert entry.options == DEFAULTS


@pytest.mark.parametrize(
    "data",
    [
        {CONF_MAX_FPS: 31},
        {CONF_MAX_FPS: -1},
        {CONF_STREAM_MODE: "sometimes"},
        {CONF_MOTION_SENSITIVITY: 101},
        {CONF_MOTION_HOLD: -1},
    ],
)
async def test_schema_rejects(hass: HomeAssistant, data: dict[str, Any]) -> None:
    """Out-of-range frame rates and unknown stream modes never reach the entry."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=UID, data={})
    entry.add_to_hass(hass)
    result = await _open(hass, entry)
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(result["flow_id"], data)
    assert entry.options == {}


async def test_options_change_reloads(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Saving options reloads the entry: a new coordinator picks them up."""
    entry = init_integration
    assert entry.update_listeners  # registered by async_setup_entry
    old = entry.runtime_data
    result = await _open(hass, entry)
    await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_STREAM_MODE: STREAM_MODE_ALWAYS, CONF_MAX_FPS: 2}
    )
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not old
    await wait_for(lambda: entry.runtime_data.data.streaming)


# -- scan hosts ----------------------------------------------------------------------------


def test_expand_scan_host() -> None:
    """Hosts pass through; CIDRs expand to their hosts; limits enforced."""
    assert expand_scan_host("192.0.2.5") == ["192.0.2.5"]
    assert expand_scan_host(" 192.0.2.5:10104 ") == ["192.0.2.5:10104"]
    assert expand_scan_host("Camera-1.lan") == ["Camera-1.lan"]
    assert expand_scan_host("192.0.2.4/30") == ["192.0.2.5", "192.0.2.6"]
    assert expand_scan_host("192.0.2.9/32") == ["192.0.2.9"]
    assert len(expand_scan_host("10.1.0.0/22")) == 1022  # string expansion only, not sent
    # example strings only, not sent anywhere
    for bad in ("10.1.0.0/21", "::1", "fe80::1/64", "", "host:", "-bad.lan", "1.2.3"):  # not sent
        with pytest.raises(ValueError):
            expand_scan_host(bad)
    assert expand_scan_hosts(["192.0.2.5", "nope/99", "192.0.2.4/30"]) == [
        "192.0.2.5",
        "192.0.2.6",
    ]


async def test_extra_hosts_merge(hass: HomeAssistant) -> None:
    """``async_extra_hosts`` merges the settings' scan hosts and the integration's stored hosts."""
    settings = await async_get_stored_settings(hass)
    await settings.async_set_scan_hosts(["192.0.2.8/31", " b.lan ", "", "b.lan"])
    assert settings.scan_hosts == ["192.0.2.8/31", "b.lan"]
    with override_settings(hass, scan_hosts=("a.lan:1", "b.lan")):
        assert discovery.async_extra_hosts(hass) == ["a.lan:1", "b.lan", "192.0.2.8", "192.0.2.9"]


async def test_stored_hosts_loaded_from_storage(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Hosts saved in an earlier run are read back (and only counted once loaded)."""
    hass_storage[STORAGE_KEY] = {
        "version": 1,
        "key": STORAGE_KEY,
        "data": {CONF_SCAN_HOSTS: ["192.0.2.5"]},
    }
    assert discovery.async_extra_hosts(hass) == []  # not loaded yet
    assert (await async_get_stored_settings(hass)).scan_hosts == ["192.0.2.5"]
    assert discovery.async_extra_hosts(hass) == ["192.0.2.5"]


async def test_migrate_entry_scan_hosts(
    hass: HomeAssistant, teg_camera: TegCamera, hass_storage: dict[str, Any]
) -> None:
    """Setup moves per-camera ``scan_hosts`` into the integration settings.

    They stay in use after the camera that held them is deleted, and reach the
    user's search as well as the reconnect look-ups.
    """
    old = MockConfigEntry(
        domain=DOMAIN,
        unique_id=UID2,
        data={},
        options={CONF_MAX_FPS: 3, CONF_SCAN_HOSTS: [target(teg_camera), "192.0.2.0/30"]},
        disabled_by=ConfigEntryDisabler.USER,  # migrated, but not set up
    )
    old.add_to_hass(hass)
    MockConfigEntry(
        domain=DOMAIN,
        unique_id="x",
        options={CONF_SCAN_HOSTS: []},
        disabled_by=ConfigEntryDisabler.USER,
    ).add_to_hass(hass)
    MockConfigEntry(domain="other", options={CONF_SCAN_HOSTS: ["192.0.2.99"]}).add_to_hass(hass)
    assert await async_setup_component(hass, DOMAIN, {})
    assert old.options == {CONF_MAX_FPS: 3}
    stored = [target(teg_camera), "192.0.2.0/30"]
    assert hass_storage[STORAGE_KEY]["data"] == {CONF_SCAN_HOSTS: stored}

    await hass.config_entries.async_remove(old.entry_id)
    assert (await async_get_stored_settings(hass)).scan_hosts == stored
    found = await discovery.async_find_camera(hass, UID)
    assert found is not None
    assert (found.host, found.port) == ("127.0.0.1", teg_camera.session_port)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "search"}
    )
    key = next(iter(result["data_schema"].schema))
    assert key.description == {"suggested_value": stored}
    # The UI submits the pre-filled list.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SCAN_HOSTS: stored}
    )
    assert result["step_id"] == "scan"
    assert list(result["data_schema"].schema["camera"].container) == [UID]
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_find_camera_without_hosts(hass: HomeAssistant, socket_enabled: None) -> None:
    """Nothing stored, nothing given: the look-up finds nothing (and sends nothing)."""
    assert await discovery.async_find_camera(hass, UID) is None


async def test_restream_host_is_validated(hass: HomeAssistant) -> None:
    """The restream address must be an IPv4 address (0.0.0.0: every interface)."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=UID, data={})
    entry.add_to_hass(hass)
    result = await _open(hass, entry)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_RESTREAM: True, CONF_RESTREAM_HOST: "my nas"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_RESTREAM_HOST: "invalid_restream_host"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_RESTREAM: True, CONF_RESTREAM_HOST: " 127.0.0.1 "}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_RESTREAM] is True
    assert entry.options[CONF_RESTREAM_HOST] == "127.0.0.1"
