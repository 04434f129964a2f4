"""Config flow tests against emulated TEG cameras on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import (
    DISCOVERY_NOTIFICATION_ID,
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
from pytest_homeassistant_custom_component.common import async_get_persistent_notifications
import voluptuous as vol

from custom_components.chinesium import discovery
from custom_components.chinesium.config_flow import (
    camera_title,
    credentials_from_input,
    credentials_schema,
)
from custom_components.chinesium.const import CONF_SCAN_HOSTS, DOMAIN
from custom_components.chinesium.entity import device_manufacturer, device_model
from custom_components.chinesium.issues import HELP_URL
from custom_components.chinesium.protocol import (
    CameraInfo,
    Credentials,
    Family,
    UnsupportedCameraError,
    open_session,
)
from custom_components.chinesium.stored_settings import STORAGE_KEY, async_get_stored_settings
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

TITLE = "IWFCam C0FFEE"
"""Default title of the camera ``UID``: brand + the UID's last part."""


async def _start_user_flow(hass: HomeAssistant, step: str) -> dict[str, Any]:
    """Open the user menu and pick ``search`` or ``manual``; ``scan`` also submits the search."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["search", "manual"]
    menu_step = "search" if step == "scan" else step
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": menu_step}
    )
    if step == "scan":
        assert result["step_id"] == "search"
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    return result


def _scan_hosts(hass: HomeAssistant, *cams: TegCamera) -> Any:
    return override_settings(hass, scan_hosts=tuple(target(c) for c in cams))


def _check_entry(result: dict[str, Any], cam: TegCamera, password: str | None = None) -> None:
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
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
    """Nothing answers: the search form stays open with ``no_devices_found``."""
    result = await _start_user_flow(hass, "scan")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "search"
    assert result["errors"] == {"base": "no_devices_found"}


async def test_scan_skips_configured(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """A camera that already has an entry is not offered again."""
    entry_for(teg_camera).add_to_hass(hass)
    with _scan_hosts(hass, teg_camera):
        result = await _start_user_flow(hass, "scan")
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_devices_found"}


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
        "seen": "family PPPP, app layer lookcam, device ID prefix ABCD",
        "url": HELP_URL,
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
    assert flows[0]["context"]["title_placeholders"] == {"name": TITLE, "host": "127.0.0.1"}
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


# -- search step: integration-wide extra hosts (issue 9, fault 3) ---------------------------


async def test_search_before_any_camera_adds_host(
    hass: HomeAssistant, teg_camera: TegCamera, hass_storage: dict[str, Any]
) -> None:
    """No camera yet and nothing found: the search form takes an extra host, stored for all."""
    result = await _start_user_flow(hass, "scan")
    assert result["errors"] == {"base": "no_devices_found"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SCAN_HOSTS: [f" {target(teg_camera)} ", "", "192.0.2.0/24"]}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "scan"
    assert list(result["data_schema"].schema["camera"].container) == [UID]
    stored = [target(teg_camera), "192.0.2.0/24"]  # example network: never searched here
    assert hass_storage[STORAGE_KEY]["data"] == {CONF_SCAN_HOSTS: stored}
    assert (await async_get_stored_settings(hass)).scan_hosts == stored

    # The next search shows the stored hosts; the background scan uses them too.
    result = await _start_user_flow(hass, "search")
    key = next(iter(result["data_schema"].schema))
    assert key.description == {"suggested_value": stored}


@pytest.mark.parametrize(
    "bad",
    [  # refused by validation: never searched, nothing is sent to these
        "10.0.0.0/16",
        "10.1.0.0/21",
        "10.0.0.0/33",
        "999.1.1.1",
        "not a host",
        "cam:x",
    ],
)
async def test_search_rejects_bad_hosts(
    hass: HomeAssistant, bad: str, hass_storage: dict[str, Any]
) -> None:
    """Networks larger than /22 (1024 addresses) and malformed hosts are named, not searched."""
    result = await _start_user_flow(hass, "search")
    with patch("custom_components.chinesium.config_flow.async_scan") as scan:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_SCAN_HOSTS: ["192.0.2.1", bad]}
        )
    scan.assert_not_called()
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_SCAN_HOSTS: "invalid_scan_host"}
    assert result["description_placeholders"] == {"host": bad}
    assert STORAGE_KEY not in hass_storage


# -- manual host validation (issue 9, fault 4) ----------------------------------------------


@pytest.mark.parametrize(
    "bad", ["not a host", "999.1.1.1", "1.2.3", "192.0.2.0/24", "cam:x", "cam:0", "-cam.lan"]
)
async def test_manual_invalid_host(hass: HomeAssistant, bad: str) -> None:
    """Garbage is rejected at once with ``invalid_host``: no search, no DNS look-up."""
    result = await _start_user_flow(hass, "manual")
    with patch("custom_components.chinesium.config_flow.async_discover") as search:
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_HOST: bad})
    search.assert_not_called()
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_HOST: "invalid_host"}


async def test_manual_empty_host_no_stale_error(hass: HomeAssistant, socket_enabled: None) -> None:
    """After an error, an empty host shows the form again without any error."""
    result = await _start_user_flow(hass, "manual")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1:9"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    with patch("custom_components.chinesium.config_flow.async_discover") as search:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "  "}
        )
    search.assert_not_called()
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {}


async def test_reconfigure_invalid_host(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """Reconfigure validates the host the same way."""
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    with patch("custom_components.chinesium.config_flow.async_discover") as search:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "999.1.1.1"}
        )
    search.assert_not_called()
    assert result["errors"] == {CONF_HOST: "invalid_host"}


# -- names, credentials forms, discovery leftovers (issue 9, fault 8) ---------------------


def test_default_names() -> None:
    """Titles are brand + a short id; models and manufacturers are plain names."""
    teg = CameraInfo(UID, "127.0.0.1", 1, Family.TEG, model="IWFCam (TEG)")
    assert camera_title(teg) == "IWFCam C0FFEE"
    assert device_manufacturer(teg) == "IWFCam"
    assert device_model(teg) == "TEG Wi-Fi camera"
    shix = CameraInfo("ABCD-123456-VWXYZ", "127.0.0.1", 1, Family.PPPP, app_layer="shix")
    assert camera_title(shix) == "SHIX VWXYZ"
    assert (device_manufacturer(shix), device_model(shix)) == ("SHIX", "PPPP Wi-Fi camera")
    unknown = CameraInfo("abcd-123456-vwxyz", "127.0.0.1", 1, Family.PPPP, model="C6F0SgZ3N0")
    assert camera_title(unknown) == "PPPP VWXYZ"
    assert device_model(unknown) == "C6F0SgZ3N0"  # a model the camera reported wins
    assert camera_title(CameraInfo("EMUCAM1234567890", "h", 1, Family.TEG)) == "IWFCam 567890"
    assert camera_title(CameraInfo(UID, "h", 1, Family.TEG, name="Front door")) == "Front door"
    for info in (teg, shix, unknown):
        assert "(" not in device_model(info) + device_manufacturer(info)


async def test_pppp_credentials_have_own_step(hass: HomeAssistant, socket_enabled: None) -> None:
    """A PPPP camera that rejects the defaults gets its own username/password form."""
    info = CameraInfo("ABCD-123456-VWXYZ", "127.0.0.1", 9, Family.PPPP, app_layer="shix")
    result = await _start_user_flow(hass, "manual")
    with (
        patch("custom_components.chinesium.config_flow.async_discover", return_value=[info]),
        patch("custom_components.chinesium.config_flow.async_probe", return_value="invalid_auth"),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "127.0.0.1"}
        )
        assert result["step_id"] == "pppp_credentials"
        assert [str(k) for k in result["data_schema"].schema] == [CONF_USERNAME, CONF_PASSWORD]
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_USERNAME: "admin", CONF_PASSWORD: "x"}
        )
    assert result["step_id"] == "pppp_credentials"
    assert result["errors"] == {"base": "invalid_auth"}


async def test_added_camera_leaves_no_discovery_flow(
    hass: HomeAssistant, teg_camera: TegCamera
) -> None:
    """Adding a discovered camera by address removes its discovery flow and the notification."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data=camera_info(teg_camera).as_dict(),
    )
    assert result["step_id"] == "discovery_confirm"
    await hass.async_block_till_done()
    assert DISCOVERY_NOTIFICATION_ID in async_get_persistent_notifications(hass)

    result = await _start_user_flow(hass, "manual")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: target(teg_camera)}
    )
    await hass.async_block_till_done()
    _check_entry(result, teg_camera)
    assert not [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"].get("unique_id") == UID
    ]
    assert DISCOVERY_NOTIFICATION_ID not in async_get_persistent_notifications(hass)


UNSUPPORTED = CameraInfo(
    uid="VSTB-123456-ABCDE",
    host="127.0.0.1",
    port=9,
    family=Family.PPPP,
    app_layer="vstarcam",
    supported=False,
)


async def test_search_lists_unsupported(hass: HomeAssistant) -> None:
    """An unsupported camera is listed (marked) with a repair issue; picking it aborts."""
    with patch("custom_components.chinesium.config_flow.async_scan", return_value=[UNSUPPORTED]):
        result = await _start_user_flow(hass, "scan")
    assert result["data_schema"].schema["camera"].container == {
        UNSUPPORTED.uid: f"PPPP/vstarcam {UNSUPPORTED.uid} (127.0.0.1) [unsupported]"
    }
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"unsupported_camera_{UNSUPPORTED.uid}")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"camera": UNSUPPORTED.uid}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unsupported"


async def test_integration_discovery_unsupported(hass: HomeAssistant) -> None:
    """A discovery flow for an unsupported camera aborts at once."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_INTEGRATION_DISCOVERY}, data=UNSUPPORTED.as_dict()
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unsupported"


async def test_unsupported_found_at_login(hass: HomeAssistant, socket_enabled: None) -> None:
    """A camera that only turns out unsupported when logging in aborts with its protocol."""
    info = CameraInfo("ABCD-123456-VWXYZ", "127.0.0.1", 9, Family.PPPP)
    result = await _start_user_flow(hass, "manual")
    with (
        patch("custom_components.chinesium.config_flow.async_discover", return_value=[info]),
        patch(
            "custom_components.chinesium.config_flow.open_session",
            side_effect=UnsupportedCameraError("PPPP camhi"),
        ),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "127.0.0.1"}
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unsupported"
    assert result["description_placeholders"]["name"] == "PPPP camhi"
