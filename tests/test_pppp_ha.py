"""PPPP cameras in the HA flows: scan, manual, credentials, reauth, obfuscation, unsupported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    SOURCE_USER,
    ConfigEntryState,
)
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.chinesium import discovery
from custom_components.chinesium.const import DOMAIN
from custom_components.chinesium.protocol import CameraInfo, Family
from fakecam.pppp import PpppCamera

from .conftest import override_settings, wait_for

DUID = "DGOA-123456-VWXYZ"
"""A SHIX-family device ID prefix: discovery names the app layer before connecting."""
UNKNOWN_DUID = "ABCD-123456-VWXYZ"
"""A device ID prefix discovery cannot place: the session probes the app layers."""
LOOKCAM_DUID = "SSAA-123456-ABCDE"
"""A CamHi device ID: discovery names its app layer ``camhi`` (not supported)."""

type PpppFactory = Callable[..., Awaitable[PpppCamera]]


def target(cam: PpppCamera) -> str:
    """``host:port`` of the emulator's search socket."""
    host, port = cam.discovery_target
    return f"{host}:{port}"


def scan_hosts(hass: HomeAssistant, *cams: PpppCamera) -> Any:
    """Point the LAN scan at emulated cameras."""
    return override_settings(hass, scan_hosts=tuple(target(c) for c in cams))


async def start_flow(hass: HomeAssistant, step: str) -> dict[str, Any]:
    """Open the user flow and pick ``manual``, or ``scan`` (search, then the found cameras)."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    menu_step = "search" if step == "scan" else step
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": menu_step}
    )
    if step == "scan":
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    return result


def pppp_entry(cam: PpppCamera, **data: Any) -> MockConfigEntry:
    """A config entry for an emulated PPPP camera."""
    info = CameraInfo(DUID, "127.0.0.1", cam.port, Family.PPPP, app_layer=cam.config.app_layer)
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=DUID,
        title=f"PPPP {DUID}",
        data={**info.as_dict(), CONF_USERNAME: None, CONF_PASSWORD: None, **data},
    )


async def check_loaded(
    hass: HomeAssistant, result: dict[str, Any], cam: PpppCamera, uid: str = DUID
) -> Any:
    """The flow created a PPPP entry that set up and streams."""
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"].endswith(f" {uid.rsplit('-', 1)[1]}")  # brand + short id
    entry = result["result"]
    assert entry.unique_id == uid
    assert entry.data["family"] == "pppp"
    assert (entry.data[CONF_HOST], entry.data[CONF_PORT]) == ("127.0.0.1", cam.port)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await wait_for(lambda: entry.runtime_data.data.streaming)
    return entry


async def test_scan_lists_and_adds_pppp(
    hass: HomeAssistant, pppp_factory: PpppFactory, device_registry: dr.DeviceRegistry
) -> None:
    """The scan shows app layer + device ID; picking it creates a streaming entry."""
    cam = await pppp_factory(app="shix")
    with scan_hosts(hass, cam):
        result = await start_flow(hass, "scan")
        assert result["step_id"] == "scan"
        options = result["data_schema"].schema["camera"].container
        assert options == {DUID: f"PPPP/shix {DUID} (127.0.0.1)"}
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": DUID})
    entry = await check_loaded(hass, result, cam)
    assert entry.data[CONF_PASSWORD] is None  # the default login worked
    device = device_registry.async_get_device(identifiers={(DOMAIN, DUID)})
    assert device is not None
    assert device.serial_number == DUID
    assert device.manufacturer == "SHIX"
    assert device.model == "PPPP Wi-Fi camera"
    assert cam.stats.logins_ok >= 2  # probe + setup


async def test_manual_host_port(hass: HomeAssistant, pppp_factory: PpppFactory) -> None:
    """``host:port`` finds an iLnk camera (unknown prefix: layer found by probing)."""
    cam = await pppp_factory(app="ilnk", duid=UNKNOWN_DUID)
    result = await start_flow(hass, "manual")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: target(cam)}
    )
    entry = await check_loaded(hass, result, cam, UNKNOWN_DUID)
    assert entry.data["app_layer"] is None


async def test_credentials_step(hass: HomeAssistant, pppp_factory: PpppFactory) -> None:
    """A non-default password: username + password are asked, wrong ones rejected."""
    cam = await pppp_factory(app="shix", password="s3cret")
    result = await start_flow(hass, "manual")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: target(cam)}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "pppp_credentials"
    assert [str(k) for k in result["data_schema"].schema] == [CONF_USERNAME, CONF_PASSWORD]
    assert result["description_placeholders"]["family"] == "PPPP"
    assert result["description_placeholders"]["uid"] == DUID

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_USERNAME: "admin", CONF_PASSWORD: "wrong"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    assert not hass.config_entries.async_entries(DOMAIN)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_USERNAME: "admin", CONF_PASSWORD: "s3cret"}
    )
    entry = await check_loaded(hass, result, cam)
    assert (entry.data[CONF_USERNAME], entry.data[CONF_PASSWORD]) == ("admin", "s3cret")


async def test_reauth(hass: HomeAssistant, pppp_factory: PpppFactory) -> None:
    """The camera's password changed: setup fails → reauth → new password → loaded."""
    cam = await pppp_factory(app="shix", password="newpass")
    entry = pppp_entry(cam, username="admin", password="oldpass")
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]

    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"])
    assert result["step_id"] == "reauth_confirm"
    assert {str(k) for k in result["data_schema"].schema} == {CONF_USERNAME, CONF_PASSWORD}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_USERNAME: "admin", CONF_PASSWORD: "oldpass"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_USERNAME: "admin", CONF_PASSWORD: "newpass"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_PASSWORD] == "newpass"
    assert entry.state is ConfigEntryState.LOADED


async def test_obfuscated_camera(hass: HomeAssistant, pppp_factory: PpppFactory) -> None:
    """A camera on an obfuscated network (PSK ``camera``) is found, keyed and added."""
    cam = await pppp_factory(app="shix", encrypt="camera")
    with scan_hosts(hass, cam):
        result = await start_flow(hass, "scan")
        assert list(result["data_schema"].schema["camera"].container) == [DUID]
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": DUID})
    entry = await check_loaded(hass, result, cam)
    assert entry.data["extra"]["key"] == "camera"
    assert entry.data["app_layer"] == "shix"  # the key names the network


async def test_unsupported_app_layer_scan(hass: HomeAssistant, pppp_factory: PpppFactory) -> None:
    """A CamHi device ID: listed as unsupported, abort names the layer, repair issue."""
    cam = await pppp_factory(app="shix", duid=LOOKCAM_DUID)
    with scan_hosts(hass, cam):
        result = await start_flow(hass, "scan")
        label = result["data_schema"].schema["camera"].container[LOOKCAM_DUID]
        assert label == f"PPPP/camhi {LOOKCAM_DUID} (127.0.0.1) [unsupported]"
        issue = ir.async_get(hass).async_get_issue(DOMAIN, f"unsupported_camera_{LOOKCAM_DUID}")
        assert issue is not None
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"camera": LOOKCAM_DUID}
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unsupported"
    assert result["description_placeholders"]["name"] == "PPPP camhi"
    assert not hass.config_entries.async_entries(DOMAIN)
    assert cam.stats.logins_ok == 0


async def test_unsupported_session_layer(hass: HomeAssistant, pppp_factory: PpppFactory) -> None:
    """The session itself reports an unknown layer: abort with the name it gives."""
    cam = await pppp_factory(app="shix")
    with patch(
        "custom_components.chinesium.config_flow.open_session",
        side_effect=discovery_unsupported("acme"),
    ):
        result = await start_flow(hass, "manual")
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: target(cam)}
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unsupported"
    assert result["description_placeholders"]["name"] == "acme"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"unsupported_camera_{DUID}")
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["name"] == "acme"


def discovery_unsupported(name: str) -> Exception:
    """The error a session raises for an app layer it cannot speak."""
    from custom_components.chinesium.protocol import UnsupportedCameraError

    return UnsupportedCameraError(name)


async def test_moved_camera_updates_entry_and_reloads(
    hass: HomeAssistant, pppp_factory: PpppFactory
) -> None:
    """Entry at a stale port cannot set up; the background scan finds it and reloads it."""
    cam = await pppp_factory(app="shix")
    entry = pppp_entry(cam)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_PORT: 9})
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY

    with scan_hosts(hass, cam):
        discovery.async_trigger_discovery(hass, await discovery.async_scan(hass))
    # Not block_till_done(wait_background_tasks=True): the reloaded entry's
    # session tasks run until unload.
    await wait_for(lambda: entry.data[CONF_PORT] == cam.port)
    await wait_for(lambda: entry.state is ConfigEntryState.LOADED)
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_background_scan_offers_pppp(hass: HomeAssistant, pppp_factory: PpppFactory) -> None:
    """A new PPPP camera from the background scan becomes a discovery flow."""
    cam = await pppp_factory(app="shix")
    with scan_hosts(hass, cam):
        discovery.async_trigger_discovery(hass, await discovery.async_scan(hass))
        await hass.async_block_till_done(wait_background_tasks=True)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    assert flows[0]["context"]["source"] == SOURCE_INTEGRATION_DISCOVERY
    assert flows[0]["context"]["unique_id"] == DUID
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"], {})
    await check_loaded(hass, result, cam)


async def test_plain_scan_host_uses_standard_port(
    hass: HomeAssistant, pppp_factory: PpppFactory
) -> None:
    """As in scripts/develop: a scan host without a port is searched on the PPPP port."""
    cam = await pppp_factory(app="shix")
    with (
        override_settings(hass, scan_hosts=("127.0.0.1",)),
        override_settings(hass, pppp_search_port=cam.port),
    ):
        found = await discovery.async_scan(hass)
    assert [(i.uid, i.family, i.port) for i in found] == [(DUID, Family.PPPP, cam.port)]
