"""Diagnostics for a chinesium config entry and its device (secrets and identifiers redacted)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST, CONF_MAC, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceEntry

from .const import CONF_UID
from .coordinator import LAST_FAILURE, ChinesiumConfigEntry, ChinesiumCoordinator
from .entity import device_manufacturer, device_model
from .protocol.trace import short_id

TO_REDACT = {
    CONF_PASSWORD,
    CONF_USERNAME,
    CONF_UID,
    CONF_HOST,
    CONF_MAC,
    "connections",
    "unique_id",
    "title",
    "lan_ip",
    "key",
    "restream_token",
    "identifiers",
    "serial_number",
    "name",
    "name_by_user",
    "username",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: ChinesiumConfigEntry
) -> dict[str, Any]:
    """Return the entry, the options, the session state and its counters."""
    coordinator: ChinesiumCoordinator | None = getattr(entry, "runtime_data", None)
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        **(_runtime(coordinator) if coordinator is not None else {"state": "not loaded"}),
        "last_failed_attempt": _last_failure(hass, entry),
    }


def _last_failure(hass: HomeAssistant, entry: ChinesiumConfigEntry) -> dict[str, Any] | None:
    """The last failed connect attempt with its bounded trace (credentials already masked
    by the recorder); the full device ID is shortened wherever it appears."""
    failure = hass.data.get(LAST_FAILURE, {}).get(entry.entry_id)
    if failure is None:
        return None
    uid = str(entry.data.get(CONF_UID) or "")
    scrubbed: dict[str, Any] = _scrub(async_redact_data(failure, TO_REDACT), uid)
    return scrubbed


def _scrub(value: Any, uid: str) -> Any:
    """``value`` with every occurrence of ``uid`` replaced by its short form."""
    if not uid:
        return value
    if isinstance(value, str):
        return value.replace(uid, short_id(uid) or "")
    if isinstance(value, dict):
        return {k: _scrub(v, uid) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, uid) for v in value]
    return value


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: ChinesiumConfigEntry, device: DeviceEntry
) -> dict[str, Any]:
    """Return the device registry entry plus the camera's runtime diagnostics."""
    coordinator: ChinesiumCoordinator | None = getattr(entry, "runtime_data", None)
    return {
        "device": async_redact_data(
            {
                "identifiers": sorted(list(pair) for pair in device.identifiers),
                "connections": sorted(list(pair) for pair in device.connections),
                "manufacturer": device.manufacturer,
                "model": device.model,
                "name": device.name,
                "name_by_user": device.name_by_user,
                "serial_number": device.serial_number,
                "sw_version": device.sw_version,
                "disabled_by": device.disabled_by,
            },
            TO_REDACT,
        ),
        **(_runtime(coordinator) if coordinator is not None else {"state": "not loaded"}),
    }


def _runtime(coordinator: ChinesiumCoordinator) -> dict[str, Any]:
    """State, session details and counters (no identifiers)."""
    state = coordinator.data
    frame = coordinator.latest_frame
    current = coordinator.current_stats()
    totals = {key: value + current.get(key, 0) for key, value in coordinator.totals.items()}
    info = coordinator.info
    return {
        "state": {
            "connected": state.connected,
            "reachable": state.reachable,
            "streaming": state.streaming,
            "last_error": state.last_error,
            "reconnects": state.reconnects,
            "frames_received": coordinator.frame_count,
            "users": coordinator.users,
            "link": str(coordinator.supervisor.state),
            "absorbed_late_closes": coordinator.supervisor.absorbed,
        },
        "options": {
            "stream_mode": coordinator.stream_mode,
            "max_fps": coordinator.max_fps,
        },
        "camera": {
            "manufacturer": device_manufacturer(info),
            "model": device_model(info),
            "firmware": coordinator.firmware,
            "supported": info.supported,
        },
        "session": {
            "family": str(info.family),
            "app_layer": info.app_layer,
            "stream_mode": coordinator.stream_mode,
            "stats": current,
            "totals": totals,
            "frames_ok": totals.get("frames_ok", 0),
            "frames_dropped": totals.get("frames_dropped", 0),
        },
        "latest_frame": None
        if frame is None
        else {"width": frame.width, "height": frame.height, "size": len(frame.data)},
    }
