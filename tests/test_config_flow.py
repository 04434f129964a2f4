"""Config flow tests against emulated TEG cameras on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import (
    SOURCE_DHCP,
    SOURCE_INTEGRATION_DISCOVERY,
    SOURCE_USER,
    ConfigEntryState,
)
from homeassistant.const import CONF_HOST, CONF_MAC, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
import pytest
import voluptuous as vol

from custom_components.chinesium import discovery
from custom_components.chinesium.config_flow import credentials_from_input, credentials_schema
from custom_components.chinesium.const import DOMAIN
from custom_components.chinesium.protocol import CameraInfo, Credentials, Family, open_session
from fakecam.teg import TegCamera

from .conftest import (
    SECRET_TOKEN,
    TEST_SESSION_OPTIONS,
    UID,
    UID2,
    camera_info,
    entry_for,
    override_settings,
    target,
    wait_for,
)

type CameraFactory = Callable[..., Awaitable[TegCamera]]


async def _start_user_flow(hass: HomeAssistant, step: str) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["scan", "manual"]
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": step})


def _scan_hosts(hass: HomeAssistant, *cams: TegCamera) -> Any:
    return override_settings(hass, scan_hosts=tuple(target(c) for c in cams))


def _check_entry(result: dict[str, Any], cam: TegCamera, password: str | None = None) -> None:
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"TEG {UID}"
    assert result["result"].unique_id == UID
    data = result["data"]
    assert data["uid"] == UID
    assert data["family"] == "teg"
    assert (data[CONF_HOST], data[CONF_PORT]) == ("127.0.0.1", cam.session_port)
    assert data[CONF_PASSWORD] == password


# -- scan -------------------------------------------------------------------------------


async def test_scan_creates_entry(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """Scan lists the camera; picking it probes and creates the entry."""
    with _scan_hosts(hass, teg_camera):
        result = await _start_user_flow(hass, "scan")
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "scan"
        schema = result["data_schema"].schema["camera"]
        assert schema.container == {UID: f"TEG {UID} (127.0.0.1)"}
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": UID})
        await hass.async_block_till_done()
    _check_entry(result, teg_camera)
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    assert teg_camera.stats.logins >= 2  # probe + setup


async def test_scan_no_devices(hass: HomeAssistant, socket_enabled: None) -> None:
    """Nothing answers: abort."""
    result = await _start_user_flow(hass, "scan")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_devices_found"


async def test_scan_skips_configured(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """A camera that already has an entry is not offered again."""
    entry_for(teg_camera).add_to_hass(hass)
    with _scan_hosts(hass, teg_camera):
        result = await _start_user_flow(hass, "scan")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_devices_found"


async def test_scan_lists_only_new(hass: HomeAssistant, camera_factory: CameraFactory) -> None:
    """Two cameras answer, one is configured: only the other is listed."""
    cam1 = await camera_factory()
    cam2 = await camera_factory(uid=UID2)
    entry_for(cam1).add_to_hass(hass)
    with _scan_hosts(hass, cam1, cam2):
        result = await _start_user_flow(hass, "scan")
    assert result["step_id"] == "scan"
    assert list(result["data_schema"].schema["camera"].container) == [UID2]


async def test_scan_error_then_already_configured(
    hass: HomeAssistant, teg_camera: TegCamera
) -> None:
    """A camera that stops answering gives an error; configured meanwhile → abort."""
    with _scan_hosts(hass, teg_camera):
        result = await _start_user_flow(hass, "scan")
    teg_camera.silent = True
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": UID})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert not hass.config_entries.async_entries(DOMAIN)

    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": UID})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_scan_asks_credentials(hass: HomeAssistant, camera_factory: CameraFactory) -> None:
    """A camera with a password: the credentials step appears, wrong token is rejected."""
    cam = await camera_factory(token=SECRET_TOKEN)
    with _scan_hosts(hass, cam):
        result = await _start_user_flow(hass, "scan")
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": UID})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "credentials"
    assert set(result["data_schema"].schema) == {CONF_PASSWORD}  # TEG: token only
    assert result["description_placeholders"]["uid"] == UID

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "000000000000"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: SECRET_TOKEN}
    )
    await hass.async_block_till_done()
    _check_entry(result, cam, password=SECRET_TOKEN)
    assert result["result"].state is ConfigEntryState.LOADED


# -- manual -----------------------------------------------------------------------------


async def test_manual_creates_entry(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """``host:port`` reaches the camera; no password needed → entry at once."""
    result = await _start_user_flow(hass, "manual")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "manual"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: f" {target(teg_camera)} "}
    )
    await hass.async_block_till_done()
    _check_entry(result, teg_camera)


async def test_manual_cannot_connect_then_recovers(
    hass: HomeAssistant, teg_camera: TegCamera
) -> None:
    """Nobody at the address → cannot_connect; the right address then works."""
    result = await _start_user_flow(hass, "manual")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1:9"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert not hass.config_entries.async_entries(DOMAIN)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: target(teg_camera)}
    )
    await hass.async_block_till_done()
    _check_entry(result, teg_camera)


async def test_manual_plain_host_uses_search_port(
    hass: HomeAssistant, teg_camera: TegCamera
) -> None:
    """A host without a port is searched on the family's standard port."""
    result = await _start_user_flow(hass, "manual")
    with override_settings(hass, teg_search_port=teg_camera.discovery_port):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "127.0.0.1"}
        )
        await hass.async_block_till_done()
    _check_entry(result, teg_camera)


async def test_manual_camera_full(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """Another client holds the only slot → camera_full, nothing created."""
    other = await open_session(camera_info(teg_camera), Credentials(), TEST_SESSION_OPTIONS)
    try:
        result = await _start_user_flow(hass, "manual")
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: target(teg_camera)}
        )
    finally:
        await other.close()
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "camera_full"}
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_manual_unsupported(hass: HomeAssistant, socket_enabled: None) -> None:
    """A recognised but unsupported camera → abort ``unsupported`` + repair issue."""
    info = CameraInfo(
        uid="ABCD-123456-VWXYZ",
        host="127.0.0.1",
        port=32100,
        family=Family.PPPP,
        app_layer="lookcam",
        supported=False,
    )
    result = await _start_user_flow(hass, "manual")
    with patch("custom_components.chinesium.config_flow.async_discover", return_value=[info]):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "127.0.0.1"}
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unsupported"
    assert result["description_placeholders"]["name"] == "PPPP lookcam"
    assert not hass.config_entries.async_entries(DOMAIN)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "unsupported_camera_ABCD-123456-VWXYZ")
    assert issue is not None
    assert issue.translation_placeholders == {
        "name": "PPPP lookcam",
        "uid": "ABCD-123456-VWXYZ",
        "host": "127.0.0.1",
    }


async def test_manual_credentials_errors(
    hass: HomeAssistant, camera_factory: CameraFactory
) -> None:
    """The credentials step maps a vanished camera to cannot_connect."""
    cam = await camera_factory(token=SECRET_TOKEN)
    result = await _start_user_flow(hass, "manual")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: target(cam)}
    )
    assert result["step_id"] == "credentials"
    cam.silent = True
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: SECRET_TOKEN}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    cam.silent = False
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: f" {SECRET_TOKEN} "}
    )
    await hass.async_block_till_done()
    _check_entry(result, cam, password=SECRET_TOKEN)


async def test_manual_known_camera_moved(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """Manual entry of a configured camera at a new port updates the entry."""
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_PORT: 9})
    result = await _start_user_flow(hass, "manual")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: target(teg_camera)}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_PORT] == teg_camera.session_port


# -- DHCP ------------------------------------------------------------------------------

DHCP_INFO = DhcpServiceInfo(ip="127.0.0.1", hostname="rtthread", macaddress="aabbccddeeff")
DHCP_MAC = "aa:bb:cc:dd:ee:ff"
"""``DHCP_INFO.macaddress`` as stored in the entry (``format_mac``)."""


async def test_dhcp_new_camera(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """DHCP → unicast search → confirm → entry."""
    with override_settings(hass, teg_search_port=teg_camera.discovery_port):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_DHCP}, data=DHCP_INFO
        )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "discovery_confirm"
    assert result["description_placeholders"]["uid"] == UID
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flows[0]["context"]["title_placeholders"] == {"name": f"TEG {UID}", "host": "127.0.0.1"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()
    _check_entry(result, teg_camera)
    assert result["data"][CONF_MAC] == DHCP_MAC


async def test_dhcp_new_camera_with_password_stores_mac(
    hass: HomeAssistant, camera_factory: CameraFactory
) -> None:
    """The MAC from DHCP survives the detour through the credentials step."""
    cam = await camera_factory(token=SECRET_TOKEN)
    with override_settings(hass, teg_search_port=cam.discovery_port):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_DHCP}, data=DHCP_INFO
        )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "credentials"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: SECRET_TOKEN}
    )
    await hass.async_block_till_done()
    _check_entry(result, cam, SECRET_TOKEN)
    assert result["data"][CONF_MAC] == DHCP_MAC


async def test_dhcp_known_camera_new_address(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """DHCP for a configured camera whose address changed updates the entry."""
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_HOST: "127.0.0.9", CONF_PORT: 9}
    )
    with override_settings(hass, teg_search_port=teg_camera.discovery_port):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_DHCP}, data=DHCP_INFO
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert (entry.data[CONF_HOST], entry.data[CONF_PORT]) == ("127.0.0.1", teg_camera.session_port)
    assert entry.data[CONF_MAC] == DHCP_MAC


async def test_dhcp_known_camera_mac_changed(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """DHCP for a configured camera with a stale MAC (same address) replaces the MAC."""
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_MAC: "00:11:22:33:44:55"}
    )
    with override_settings(hass, teg_search_port=teg_camera.discovery_port):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_DHCP}, data=DHCP_INFO
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_MAC] == DHCP_MAC
    assert entry.data[CONF_HOST] == "127.0.0.1"


async def test_dhcp_nothing_answers(hass: HomeAssistant, socket_enabled: None) -> None:
    """A ``rtthread`` host that does not answer the search: abort."""
    with override_settings(hass, teg_search_port=9):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_DHCP}, data=DHCP_INFO
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_devices_found"


# -- integration discovery ----------------------------------------------------------------


async def test_integration_discovery(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """A camera from the background scan: confirm (error once, then success)."""
    other = await open_session(camera_info(teg_camera), Credentials(), TEST_SESSION_OPTIONS)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data=camera_info(teg_camera).as_dict(),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "discovery_confirm"

    # A second discovery of the same camera while the first flow is open.
    dup = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data=camera_info(teg_camera).as_dict(),
    )
    assert dup["type"] is FlowResultType.ABORT
    assert dup["reason"] == "already_in_progress"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "camera_full"}
    await other.close()
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()
    _check_entry(result, teg_camera)


async def test_integration_discovery_known(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """Discovery of a configured camera at a new port updates and aborts."""
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    moved = {**camera_info(teg_camera).as_dict(), CONF_PORT: 4242}
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_INTEGRATION_DISCOVERY}, data=moved
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_PORT] == 4242


# -- reauth / reconfigure -----------------------------------------------------------------


@pytest.fixture
async def secret_camera(camera_factory: CameraFactory) -> TegCamera:
    """A camera whose password token is SECRET_TOKEN."""
    return await camera_factory(token=SECRET_TOKEN)


async def test_reauth(hass: HomeAssistant, secret_camera: TegCamera) -> None:
    """Wrong stored token → setup fails → reauth asks, checks and reloads."""
    entry = entry_for(secret_camera, password="111111111111")
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]

    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"])
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "222222222222"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: SECRET_TOKEN}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_PASSWORD] == SECRET_TOKEN
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure(hass: HomeAssistant, secret_camera: TegCamera) -> None:
    """Reconfigure host and token; errors keep the form open."""
    entry = entry_for(secret_camera, password=SECRET_TOKEN)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_PORT: 9})
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1:9"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: target(secret_camera)}
    )
    assert result["errors"] == {"base": "invalid_auth"}  # no token given
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: target(secret_camera), CONF_PASSWORD: SECRET_TOKEN}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PORT] == secret_camera.session_port
    assert entry.data[CONF_PASSWORD] == SECRET_TOKEN
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_wrong_device(hass: HomeAssistant, camera_factory: CameraFactory) -> None:
    """Pointing an entry at another camera aborts."""
    cam1 = await camera_factory()
    cam2 = await camera_factory(uid=UID2)
    entry = entry_for(cam1)
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: target(cam2)}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_device"
    assert entry.data[CONF_PORT] == cam1.session_port


def test_credential_fields_per_family() -> None:
    """TEG asks for a token only, PPPP for username and password."""
    teg = credentials_schema(Family.TEG, password_required=True).schema
    pppp = credentials_schema(Family.PPPP, password_required=False).schema
    assert [str(k) for k in teg] == [CONF_PASSWORD]
    assert [str(k) for k in pppp] == [CONF_USERNAME, CONF_PASSWORD]
    assert all(isinstance(k, vol.Optional) for k in pppp)
    assert credentials_from_input({CONF_USERNAME: " admin ", CONF_PASSWORD: ""}) == Credentials(
        username="admin"
    )


async def test_dhcp_moved_camera_reloads(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """An entry stuck retrying at a stale address is fixed by DHCP and reloaded."""
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    stale = {**entry.data, CONF_PORT: 9, "extra": {}}  # no search port: cannot self-heal
    hass.config_entries.async_update_entry(entry, data=stale)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY

    with override_settings(hass, teg_search_port=teg_camera.discovery_port):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_DHCP}, data=DHCP_INFO
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_PORT] == teg_camera.session_port
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_background_scan_moved_camera_reloads(
    hass: HomeAssistant, teg_camera: TegCamera
) -> None:
    """The periodic scan sees a known TEG camera on a new port: entry updated + reloaded."""
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_PORT: 9, "extra": {}})
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY

    with _scan_hosts(hass, teg_camera):
        discovery.async_trigger_discovery(hass, await discovery.async_scan(hass))
    await wait_for(lambda: entry.data[CONF_PORT] == teg_camera.session_port)
    await wait_for(lambda: entry.state is ConfigEntryState.LOADED)
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
