"""Diagnostics for a chinesium config entry (secrets and identifiers redacted)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .const import CONF_UID
from .coordinator import ChinesiumConfigEntry

TO_REDACT = {CONF_PASSWORD, CONF_USERNAME, CONF_UID, CONF_HOST, "unique_id", "title"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: ChinesiumConfigEntry
) -> dict[str, Any]:
    """Return the entry, the session state and its counters."""
    coordinator = entry.runtime_data
    state = coordinator.data
    session = coordinator.session
    frame = coordinator.latest_frame
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "state": {
            "connected": state.connected,
            "streaming": state.streaming,
            "last_error": state.last_error,
            "reconnects": state.reconnects,
            "frames_received": coordinator.frame_count,
        },
        "session": {
            "family": str(coordinator.info.family),
            "app_layer": coordinator.info.app_layer,
            "stats": session.stats.as_dict() if session is not None else state.stats,
        },
        "latest_frame": None
        if frame is None
        else {"width": frame.width, "height": frame.height, "size": len(frame.jpeg)},
    }
