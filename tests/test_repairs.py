"""Repair issues for cameras we find but cannot speak to (unsupported family / app layer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_DHCP, SOURCE_INTEGRATION_DISCOVERY
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
import pytest

from custom_components.chinesium import discovery
from custom_components.chinesium.const import DOMAIN
from custom_components.chinesium.issues import HELP_URL, unsupported_issue_id
from custom_components.chinesium.protocol import CameraInfo, Family
from fakecam.pppp import PpppCamera, PpppCameraConfig

from .conftest import override_settings

LOOKCAM = "SSAA-123456-ABCDE"  # a CamHi prefix: recognised, not supported
SHIX = "DGOA-123456-VWXYZ"


def unsupported(uid: str = LOOKCAM, host: str = "127.0.0.1") -> CameraInfo:
    """What discovery reports for a CamHi-protocol PPPP camera (unsupported)."""
    return CameraInfo(
        uid=uid, host=host, port=32108, family=Family.PPPP, app_layer="camhi", supported=False
    )


def our_issues(hass: HomeAssistant) -> dict[str, ir.IssueEntry]:
    """Active issues of this integration by id."""
    return {
        issue_id: issue
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN and issue.active
    }


@pytest.fixture
async def lookcam(socket_enabled: None) -> AsyncIterator[PpppCamera]:
    """An emulated camera whose device ID names the (unsupported) CamHi layer."""
    cam = PpppCamera(PpppCameraConfig(host="127.0.0.1", port=0, duid=LOOKCAM, app="shix"))
    await cam.start()
    yield cam
    await cam.stop()


async def test_background_scan_raises_issue(hass: HomeAssistant, lookcam: PpppCamera) -> None:
    """The background scan files one warning per camera instead of a discovery flow."""
    host, port = lookcam.discovery_target
    with override_settings(hass, scan_hosts=(f"{host}:{port}",)):
        for _ in range(2):  # scanning again does not duplicate the issue
            discovery.async_trigger_discovery(hass, await discovery.async_scan(hass))
            await hass.async_block_till_done(wait_background_tasks=True)
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    issues = our_issues(hass)
    assert list(issues) == [unsupported_issue_id(LOOKCAM)]
    issue = issues[unsupported_issue_id(LOOKCAM)]
    assert issue.translation_key == "unsupported_camera"
    assert issue.severity is ir.IssueSeverity.WARNING
    assert not issue.is_fixable
    assert issue.translation_placeholders == {
        "name": "PPPP camhi",
        "uid": LOOKCAM,
        "host": "127.0.0.1",
        "seen": "family PPPP, app layer camhi, device ID prefix SSAA",
        "url": HELP_URL,
    }
    assert issue.learn_more_url == HELP_URL


async def test_one_issue_per_camera(hass: HomeAssistant) -> None:
    """Two unsupported cameras → two issues; a later supported sighting clears one."""
    discovery.async_trigger_discovery(hass, [unsupported(), unsupported("VSTB-000001-ZZZZZ")])
    assert set(our_issues(hass)) == {
        unsupported_issue_id(LOOKCAM),
        unsupported_issue_id("VSTB-000001-ZZZZZ"),
    }
    # A newer library learned the protocol: the same uid now shows up as supported.
    now_supported = CameraInfo(LOOKCAM, "127.0.0.1", 32108, Family.PPPP, app_layer="shix")
    discovery.async_trigger_discovery(hass, [now_supported])
    await hass.async_block_till_done(wait_background_tasks=True)
    assert set(our_issues(hass)) == {unsupported_issue_id("VSTB-000001-ZZZZZ")}
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["unique_id"] for f in flows] == [LOOKCAM]


async def test_issue_placeholder_moves_with_host(hass: HomeAssistant) -> None:
    """Seen at another address: the same issue is refreshed with the new host."""
    discovery.async_trigger_discovery(hass, [unsupported()])
    discovery.async_trigger_discovery(hass, [unsupported(host="127.0.0.5")])
    issues = our_issues(hass)
    assert len(issues) == 1
    placeholders = issues[unsupported_issue_id(LOOKCAM)].translation_placeholders
    assert placeholders is not None
    assert placeholders["host"] == "127.0.0.5"


async def test_dhcp_unsupported(hass: HomeAssistant, socket_enabled: None) -> None:
    """DHCP finds an unsupported camera: abort ``unsupported`` + issue."""
    with patch(
        "custom_components.chinesium.config_flow.async_discover", return_value=[unsupported()]
    ):
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": SOURCE_DHCP},
            data=DhcpServiceInfo(ip="127.0.0.1", hostname="rtthread", macaddress="aabbccddeeff"),
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unsupported"
    assert result["description_placeholders"] == {"name": "PPPP camhi", "uid": LOOKCAM}
    assert set(our_issues(hass)) == {unsupported_issue_id(LOOKCAM)}


async def test_integration_discovery_unsupported(hass: HomeAssistant) -> None:
    """A discovery flow for an unsupported camera (e.g. started by an older version) aborts."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data=unsupported().as_dict(),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unsupported"
    assert set(our_issues(hass)) == {unsupported_issue_id(LOOKCAM)}


async def test_scan_step_raises_issue(hass: HomeAssistant, lookcam: PpppCamera) -> None:
    """The user's scan files the issue as soon as the camera is listed."""
    host, port = lookcam.discovery_target
    with override_settings(hass, scan_hosts=(f"{host}:{port}",)):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "search"}
        )
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "scan"
    assert set(our_issues(hass)) == {unsupported_issue_id(LOOKCAM)}


async def test_added_camera_clears_issue(hass: HomeAssistant, socket_enabled: None) -> None:
    """Creating an entry for a uid removes a stale unsupported issue for it."""
    cam = PpppCamera(PpppCameraConfig(host="127.0.0.1", port=0, duid=SHIX, app="shix"))
    await cam.start()
    try:
        discovery.async_trigger_discovery(hass, [unsupported(SHIX)])
        assert set(our_issues(hass)) == {unsupported_issue_id(SHIX)}
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "manual"}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": f"127.0.0.1:{cam.port}"}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert not our_issues(hass)
        await hass.async_block_till_done()
        assert await hass.config_entries.async_unload(result["result"].entry_id)
    finally:
        await cam.stop()
