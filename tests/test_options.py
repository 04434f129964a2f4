"""Options flow (stream mode, frame-rate cap, extra scan hosts) and the scan-host helpers."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.chinesium import discovery
from custom_components.chinesium.const import (
    CONF_MAX_FPS,
    CONF_SCAN_HOSTS,
    CONF_STREAM_MODE,
    DOMAIN,
    STREAM_MODE_ALWAYS,
    STREAM_MODE_ON_DEMAND,
)
from custom_components.chinesium.discovery import expand_scan_host, expand_scan_hosts
from fakecam.teg import TegCamera

from .conftest import UID, UID2, entry_for, override_settings, target, wait_for


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
    assert _defaults(result) == {
        CONF_STREAM_MODE: STREAM_MODE_ALWAYS,
        CONF_MAX_FPS: 0,
        CONF_SCAN_HOSTS: [],
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_STREAM_MODE: STREAM_MODE_ON_DEMAND,
            CONF_MAX_FPS: 5.0,  # the number selector hands over floats
            CONF_SCAN_HOSTS: [" 192.0.2.7 ", "192.0.2.8:32108", "", "cam.lan", "192.0.2.7"],
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_STREAM_MODE: STREAM_MODE_ON_DEMAND,
        CONF_MAX_FPS: 5,
        CONF_SCAN_HOSTS: ["192.0.2.7", "192.0.2.8:32108", "cam.lan"],
    }
    assert isinstance(entry.options[CONF_MAX_FPS], int)

    # Reopening shows the stored values.
    result = await _open(hass, entry)
    assert _defaults(result) == entry.options


async def test_missing_fields_use_defaults(hass: HomeAssistant) -> None:
    """An empty submission (cleared fields) stores the defaults."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=UID, data={})
    entry.add_to_hass(hass)
    result = await _open(hass, entry)
    await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert entry.options == {
        CONF_STREAM_MODE: STREAM_MODE_ALWAYS,
        CONF_MAX_FPS: 0,
        CONF_SCAN_HOSTS: [],
    }


@pytest.mark.parametrize(
    "bad",
    ["10.0.0.0/16", "10.0.0.0/33", "300.1.2.3", "192.0.2.1:0", "192.0.2.1:70000", "cam:x", "a b"],
)
async def test_invalid_scan_host(hass: HomeAssistant, bad: str) -> None:
    """A bad scan host keeps the form open with ``invalid_host`` naming it."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=UID, data={}, options={CONF_MAX_FPS: 3})
    entry.add_to_hass(hass)
    result = await _open(hass, entry)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_HOSTS: ["192.0.2.1", bad]}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_SCAN_HOSTS: "invalid_host"}
    assert result["description_placeholders"]["host"] == bad
    assert entry.options == {CONF_MAX_FPS: 3}  # unchanged


@pytest.mark.parametrize(
    "data",
    [{CONF_MAX_FPS: 31}, {CONF_MAX_FPS: -1}, {CONF_STREAM_MODE: "sometimes"}],
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
    """``async_extra_hosts`` merges const.SCAN_HOSTS and every entry's option."""
    MockConfigEntry(
        domain=DOMAIN, unique_id=UID, options={CONF_SCAN_HOSTS: ["192.0.2.8/31", "b.lan"]}
    ).add_to_hass(hass)
    MockConfigEntry(domain=DOMAIN, unique_id=UID2, options={}).add_to_hass(hass)
    MockConfigEntry(domain="other", options={CONF_SCAN_HOSTS: ["192.0.2.99"]}).add_to_hass(hass)
    with override_settings(hass, scan_hosts=("a.lan:1", "b.lan")):
        assert discovery.async_extra_hosts(hass) == ["a.lan:1", "b.lan", "192.0.2.8", "192.0.2.9"]


async def test_scan_uses_option_hosts(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """A camera reachable only through another entry's ``scan_hosts`` is found by the scan."""
    MockConfigEntry(
        domain=DOMAIN, unique_id=UID2, data={}, options={CONF_SCAN_HOSTS: [target(teg_camera)]}
    ).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "scan"}
    )
    assert result["step_id"] == "scan"
    assert list(result["data_schema"].schema["camera"].container) == [UID]


async def test_find_camera_uses_option_hosts(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """Reconnect re-discovery (``async_find_camera``) searches the option hosts too."""
    assert await discovery.async_find_camera(hass, UID) is None
    entry = entry_for(teg_camera, options={CONF_SCAN_HOSTS: [target(teg_camera)]})
    entry.add_to_hass(hass)
    found = await discovery.async_find_camera(hass, UID)
    assert found is not None
    assert (found.host, found.port) == ("127.0.0.1", teg_camera.session_port)
