"""Repair issues: tell the user about cameras we found but cannot speak to yet.

(Not named ``repairs.py``: HA treats that module as a repairs *platform* and
requires ``async_create_fix_flow``; these issues are not fixable.)
"""

from __future__ import annotations

import logging

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN, LOGGER
from .protocol import CameraInfo

UNSUPPORTED_CAMERA: str = "unsupported_camera"
"""Translation key (``issues.unsupported_camera``) and issue id prefix."""
NO_VIDEO: str = "no_video"
"""Translation key (``issues.no_video``) and issue id prefix: logged in, no picture."""
HELP_URL = "https://github.com/chinesium-dev/chinesium#my-camera-is-not-supported"
"""README section on unsupported cameras (what to run, what to attach)."""


def describe_seen(info: CameraInfo, detail: str | None = None) -> str:
    """What the integration saw of a camera, in one line for a repair issue."""
    extra = info.extra
    parts = [f"family {str(info.family).upper()}"]
    if info.app_layer:
        parts.append(f"app layer {info.app_layer}")
    if prefix := info.uid.split("-", 1)[0] if info.uid.count("-") == 2 else None:
        parts.append(f"device ID prefix {prefix}")
    if key := extra.get("key"):
        parts.append(f"PSK {key}")
    if reason := extra.get("reason"):
        parts.append(str(reason))
    if first := extra.get("first_bytes"):
        parts.append(f"first bytes {first}")
    if detail:
        parts.append(detail)
    return ", ".join(parts)


def unsupported_issue_id(uid: str) -> str:
    """Issue id of the "unsupported camera" issue for camera ``uid`` (one per camera)."""
    return f"{UNSUPPORTED_CAMERA}_{uid}"


def protocol_name(info: CameraInfo, name: str | None = None) -> str:
    """Human name of the protocol variant: ``name`` or e.g. ``PPPP vstarcam``."""
    if name:
        return name
    family = str(info.family).upper()
    return f"{family} {info.app_layer}" if info.app_layer else family


@callback
def async_create_unsupported_issue(
    hass: HomeAssistant, info: CameraInfo, name: str | None = None, detail: str | None = None
) -> None:
    """Raise (or refresh) the warning that camera ``info`` speaks an unsupported protocol."""
    placeholders = {
        "name": protocol_name(info, name),
        "uid": info.uid,
        "host": info.host,
        "seen": describe_seen(info, detail),
        "url": HELP_URL,
    }
    issue_id = unsupported_issue_id(info.uid)
    known = ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    LOGGER.log(
        logging.DEBUG if known else logging.WARNING,
        "Found camera %s at %s, but its protocol (%s) is not supported yet",
        info.uid,
        info.host,
        placeholders["name"],
    )
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=UNSUPPORTED_CAMERA,
        translation_placeholders=placeholders,
        learn_more_url=HELP_URL,
    )


@callback
def async_delete_unsupported_issue(hass: HomeAssistant, uid: str) -> None:
    """Drop the issue for ``uid`` (the camera turned out to be usable after all)."""
    ir.async_delete_issue(hass, DOMAIN, unsupported_issue_id(uid))


def no_video_issue_id(uid: str) -> str:
    """Issue id of the "logs in but sends no video" issue for camera ``uid``."""
    return f"{NO_VIDEO}_{uid}"


@callback
def async_create_no_video_issue(
    hass: HomeAssistant, info: CameraInfo, name: str, detail: str | None = None
) -> None:
    """The camera accepted the login but sent no picture: say what was seen."""
    LOGGER.warning("Camera %s logged in but sends no video (%s)", name, info.app_layer or "")
    ir.async_create_issue(
        hass,
        DOMAIN,
        no_video_issue_id(info.uid),
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=NO_VIDEO,
        translation_placeholders={
            "name": name,
            "host": info.host,
            "seen": describe_seen(info, detail),
            "url": HELP_URL,
        },
        learn_more_url=HELP_URL,
    )


@callback
def async_delete_no_video_issue(hass: HomeAssistant, uid: str) -> None:
    """The picture arrived after all."""
    ir.async_delete_issue(hass, DOMAIN, no_video_issue_id(uid))
