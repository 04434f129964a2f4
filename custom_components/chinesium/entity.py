"""Base entity for chinesium cameras and the device description."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from functools import wraps
from typing import Any, Concatenate, Final

from homeassistant.const import CONF_MAC
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.device_registry import CONNECTION_NETWORK_MAC, DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, FAMILY_LABELS
from .coordinator import ChinesiumCoordinator, describe_error
from .protocol import (
    AuthenticationError,
    CameraConnectionError,
    CameraInfo,
    CameraTimeoutError,
    ChinesiumError,
    Family,
    SessionClosedError,
    UnsupportedCommandError,
)
from .protocol.teg.discovery import MODEL as TEG_DISCOVERY_MODEL

TEG_MANUFACTURER: Final = "IWFCam"
PPPP_MANUFACTURER: Final = "CS2 Network"
"""Manufacturer of a PPPP camera whose app layer is not known (CS2 made PPPP)."""
PPPP_MANUFACTURERS: Final[dict[str, str]] = {
    "shix": "SHIX",
    "ilnk": "iLnk",
    "vstarcam": "VStarcam",
    "lookcam": "LookCam",
}
"""Manufacturer (really: the app/vendor ecosystem) per PPPP app layer."""
GENERIC_MODELS: Final = frozenset({TEG_DISCOVERY_MODEL})
"""Placeholder models the protocol library reports when the camera names none."""


def device_manufacturer(info: CameraInfo) -> str:
    """Manufacturer shown for a camera: IWFCam, or the PPPP app layer's ecosystem."""
    if info.family is Family.TEG:
        return TEG_MANUFACTURER
    return PPPP_MANUFACTURERS.get(info.app_layer or "", PPPP_MANUFACTURER)


def device_model(info: CameraInfo) -> str:
    """Model shown for a camera: what it reports, else ``<protocol> Wi-Fi camera``.

    A plain name (HA shows it next to the manufacturer): never a repeat of the
    manufacturer, never the library's placeholder.
    """
    model = (info.model or "").strip()
    if model and model not in GENERIC_MODELS and model != device_manufacturer(info):
        return model
    return f"{FAMILY_LABELS[info.family]} Wi-Fi camera"


def short_id(uid: str) -> str:
    """A short, stable suffix of a camera id for names: ``EMUCAM1-…-C0FFEE`` → ``C0FFEE``.

    The last dash-separated part (TEG UID tail, PPPP check code), else the
    last six characters.
    """
    tail = uid.strip().rsplit("-", 1)[-1]
    return (tail if 0 < len(tail) <= 8 else uid.strip()[-6:]).upper()


def camera_title(info: CameraInfo) -> str:
    """Default entry title and device name: the camera's own name, else brand + short id."""
    if info.name:
        return info.name
    brand = TEG_MANUFACTURER if info.family is Family.TEG else FAMILY_LABELS[info.family]
    if info.family is Family.PPPP and info.app_layer in PPPP_MANUFACTURERS:
        brand = PPPP_MANUFACTURERS[info.app_layer]
    return f"{brand} {short_id(info.uid)}"


def device_info(coordinator: ChinesiumCoordinator) -> DeviceInfo:
    """The device registry entry of ``coordinator``'s camera."""
    info = coordinator.info
    device = DeviceInfo(
        identifiers={(DOMAIN, info.uid)},
        manufacturer=device_manufacturer(info),
        model=device_model(info),
        name=coordinator.config_entry.title,
        serial_number=info.uid,
    )
    if coordinator.firmware:
        device["sw_version"] = coordinator.firmware
    if mac := coordinator.config_entry.data.get(CONF_MAC):
        device["connections"] = {(CONNECTION_NETWORK_MAC, mac)}
    return device


class ChinesiumEntity(CoordinatorEntity[ChinesiumCoordinator]):
    """An entity of one camera device; unique id ``<uid>_<key>``."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: ChinesiumCoordinator, key: str | EntityDescription) -> None:
        """Initialise the entity for ``coordinator``'s camera.

        ``key`` is the unique-id suffix, or an entity description (its ``key``).
        """
        super().__init__(coordinator)
        if isinstance(key, EntityDescription):
            self.entity_description = key
            key = key.key
        self._attr_unique_id = f"{coordinator.info.uid}_{key}"
        self._attr_device_info = device_info(coordinator)

    @property
    def available(self) -> bool:
        """Available while connected or (on demand, idle) reachable at the last attempt."""
        data = self.coordinator.data
        return super().available and (data.connected or data.reachable)


def chinesium_exception_handler[E: ChinesiumEntity, **P](
    func: Callable[Concatenate[E, P], Awaitable[Any]],
) -> Callable[Concatenate[E, P], Coroutine[Any, Any, None]]:
    """Map library errors of an entity action to translated HA errors.

    Unsupported commands and invalid arguments are the user's to fix
    (:class:`ServiceValidationError`); the rest are :class:`HomeAssistantError`.
    A rejected password schedules a reload (the reload starts reauth).
    """

    @wraps(func)
    async def handler(self: E, /, *args: P.args, **kwargs: P.kwargs) -> None:
        placeholders = {"entity_id": self.entity_id}
        try:
            await func(self, *args, **kwargs)
        except UnsupportedCommandError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="command_unsupported",
                translation_placeholders={**placeholders, "command": err.command},
            ) from err
        except ValueError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="command_invalid",
                translation_placeholders={**placeholders, "error": str(err)},
            ) from err
        except AuthenticationError as err:
            entry = self.coordinator.config_entry
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="command_auth_failed",
                translation_placeholders=placeholders,
            ) from err
        except CameraTimeoutError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="command_timeout",
                translation_placeholders=placeholders,
            ) from err
        except (SessionClosedError, CameraConnectionError) as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="camera_unavailable",
                translation_placeholders=placeholders,
            ) from err
        except ChinesiumError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="command_failed",
                translation_placeholders={**placeholders, "error": describe_error(err)},
            ) from err

    return handler
