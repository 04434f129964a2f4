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
    hass: HomeAssistant, info: CameraInfo, name: str | None = None
) -> None:
    """Raise (or refresh) the warning that camera ``info`` speaks an unsupported protocol."""
    placeholders = {"name": protocol_name(info, name), "uid": info.uid, "host": info.host}
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
    )


@callback
def async_delete_unsupported_issue(hass: HomeAssistant, uid: str) -> None:
    """Drop the issue for ``uid`` (the camera turned out to be usable after all)."""
    ir.async_delete_issue(hass, DOMAIN, unsupported_issue_id(uid))
