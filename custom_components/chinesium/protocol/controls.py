"""Typed camera controls: capabilities, commands' arguments and reported state.

Every :class:`~.session.CameraSession` exposes ``capabilities`` (a frozenset of
:class:`Capability`) and typed commands (``ptz``, ``set_night_mode``, ...).
A command whose capability is missing raises
:class:`~.errors.UnsupportedCommandError`. What the camera reports lands in
``session.state`` (a :class:`CameraState`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Capability(StrEnum):
    """Something a session can do or report beyond live video."""

    PTZ = "ptz"
    """``ptz()``: pan/tilt motor (start/stop or steps)."""
    NIGHT_MODE = "night_mode"
    """``set_night_mode()``: IR-cut filter / IR LEDs (allowed modes: ``night_modes``)."""
    LIGHT = "light"
    """``set_light()``: white light / lamp."""
    FLIP = "flip"
    """``set_flip()``: upside-down picture."""
    MIRROR = "mirror"
    """``set_mirror()``: left-right mirrored picture."""
    RESOLUTION = "resolution"
    """``set_resolution()`` with one of ``resolutions``."""
    REBOOT = "reboot"
    """``reboot()`` (ends the session)."""
    SNAPSHOT = "snapshot"
    """A still-image command of its own (PPPP ``still_image()``)."""
    FIRMWARE = "firmware"
    """``state.firmware`` (and ``facts.firmware``) is reported."""
    BATTERY = "battery"
    """``state.battery_percent`` (or ``battery_mv``) is reported."""
    CHARGING = "charging"
    """``state.charging`` is reported."""
    WIFI_SIGNAL = "wifi_signal"
    """``state.wifi_dbm`` or ``state.wifi_percent`` is reported."""
    BATTERY_VOLTAGE = "battery_voltage"
    """With ``BATTERY``: reported as a voltage (``state.battery_mv``), not a percentage."""
    WIFI_DBM = "wifi_dbm"
    """With ``WIFI_SIGNAL``: reported in dBm (``state.wifi_dbm``), not as a 0-100 quality."""


COMMAND_CAPABILITIES: frozenset[Capability] = frozenset(
    {
        Capability.PTZ,
        Capability.NIGHT_MODE,
        Capability.LIGHT,
        Capability.FLIP,
        Capability.MIRROR,
        Capability.RESOLUTION,
        Capability.REBOOT,
    }
)
"""Capabilities that are commands (the rest are reported values)."""


class PtzDirection(StrEnum):
    """Direction of a pan/tilt move."""

    UP = "up"
    DOWN = "down"
    LEFT = "left"
    RIGHT = "right"
    STOP = "stop"


class NightMode(StrEnum):
    """IR-cut / IR LED mode: automatic, forced night (IR on), forced day (IR off)."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class CameraState:
    """What the camera last reported (or what we last set successfully).

    Every field is ``None`` until known.
    """

    firmware: str | None = None
    battery_percent: int | None = None
    battery_mv: int | None = None
    """Battery voltage in millivolts (iLnk reports this instead of a percentage)."""
    charging: bool | None = None
    wifi_dbm: int | None = None
    wifi_percent: int | None = None
    """Wi-Fi signal quality 0-100 (SHIX reports this instead of dBm)."""
    night_mode: NightMode | None = None
    light: bool | None = None
    flip: bool | None = None
    mirror: bool | None = None
    resolution: str | None = None
    """Current resolution, one of the session's ``resolutions`` (e.g. ``"640x480"``)."""
    ptz_position: tuple[int, int] | None = None
    """Pan/tilt position in motor steps when the camera reports one (emulators only so far)."""


__all__ = [
    "COMMAND_CAPABILITIES",
    "CameraState",
    "Capability",
    "NightMode",
    "PtzDirection",
]
