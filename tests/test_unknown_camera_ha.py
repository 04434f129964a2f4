"""Unknown or half-working cameras in HA: repair issues that say what was seen, and the
bounded, redacted trace of the last failed attempt in the entry's diagnostics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
import json

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.chinesium.const import DOMAIN
from custom_components.chinesium.issues import (
    HELP_URL,
    no_video_issue_id,
    unsupported_issue_id,
)
from custom_components.chinesium.protocol import CameraInfo, Family
from fakecam.pppp import PpppCamera

from .conftest import override_settings, wait_for

DUID = "DGOA-123456-VWXYZ"
SECRET = "hunter2pass"

type Factory = Callable[..., Awaitable[PpppCamera]]


def _entry(cam: PpppCamera, app_layer: str | None) -> MockConfigEntry:
    info = CameraInfo(DUID, "127.0.0.1", cam.port, Family.PPPP, app_layer=app_layer)
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=DUID,
        title="SHIX VWXYZ",
        data={**info.as_dict(), CONF_USERNAME: "admin", CONF_PASSWORD: SECRET},
    )


async def test_unknown_magic_issue_and_diagnostics_trace(
    hass: HomeAssistant, pppp_factory: Factory, hass_client: ClientSessionGenerator
) -> None:
    """A camera that answers the login with an app-layer magic nobody uses: setup stops
    with a repair issue naming what was seen; diagnostics hold the trace, no secrets."""
    cam = await pppp_factory(app="shix", app_magic=bytes.fromhex("c0ffee42"), password=SECRET)
    entry = _entry(cam, None)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    issue = ir.async_get(hass).async_get_issue(DOMAIN, unsupported_issue_id(DUID))
    assert issue is not None
    assert issue.learn_more_url == HELP_URL
    assert "c0 ff ee 42" in issue.translation_placeholders["seen"]
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    failure = diag["last_failed_attempt"]
    assert failure is not None
    assert "unknown app-layer magic c0 ff ee 42" in failure["error"]
    trace = failure["trace"]
    assert trace["datagrams"]
    assert len([d for d in trace["datagrams"] if d["dir"] == "tx"]) <= trace["limit"]
    text = json.dumps(diag)
    assert SECRET not in text
    assert SECRET.encode().hex() not in text
    assert DUID not in text
    assert "123456" not in text


async def test_logs_in_but_no_video_raises_issue(
    hass: HomeAssistant, pppp_factory: Factory
) -> None:
    """Login works but the camera never sends a picture: a repair issue after
    ``no_video_after`` seconds, gone as soon as video flows."""
    uid = "VSTC-123456-ABCDE"
    cam = await pppp_factory(
        app="vstarcam", duid=uid, mute_commands=frozenset({"vstarcam:livestream.cgi"})
    )
    info = CameraInfo(uid, "127.0.0.1", cam.port, Family.PPPP, app_layer="vstarcam")
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=uid,
        title="VStarcam ABCDE",
        data={**info.as_dict(), CONF_USERNAME: None, CONF_PASSWORD: None},
    )
    entry.add_to_hass(hass)
    registry = ir.async_get(hass)
    with override_settings(hass, no_video_after=0.3, stale_check_interval=timedelta(seconds=0.1)):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await wait_for(lambda: registry.async_get_issue(DOMAIN, no_video_issue_id(uid)))
        issue = registry.async_get_issue(DOMAIN, no_video_issue_id(uid))
        assert issue is not None
        assert "app layer vstarcam" in issue.translation_placeholders["seen"]
        assert "vstarcam:livestream.cgi" in cam.stats.commands
        # The firmware streams after all (the client asks again while no video comes).
        object.__setattr__(cam.config, "mute_commands", frozenset())
        await wait_for(
            lambda: registry.async_get_issue(DOMAIN, no_video_issue_id(uid)) is None,
            timeout=10,
        )
        assert entry.runtime_data.frame_count > 0
        assert await hass.config_entries.async_unload(entry.entry_id)
