"""Buttons: one pan/tilt step each way, and reboot (only what the camera supports)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.button import (
    ButtonDeviceClass,
    ButtonEntity,
    ButtonEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ChinesiumConfigEntry, ChinesiumCoordinator
from .entity import ChinesiumEntity, chinesium_exception_handler
from .protocol import CameraSession, Capability, PtzDirection

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class ChinesiumButtonDescription(ButtonEntityDescription):
    """A button: shown when ``supported_fn`` holds, runs ``press_fn`` on the session."""

    supported_fn: Callable[[ChinesiumCoordinator], bool]
    press_fn: Callable[[CameraSession], Awaitable[None]]


def _step(direction: PtzDirection) -> ChinesiumButtonDescription:
    key = {
        PtzDirection.LEFT: "pan_left",
        PtzDirection.RIGHT: "pan_right",
        PtzDirection.UP: "tilt_up",
        PtzDirection.DOWN: "tilt_down",
    }[direction]
    return ChinesiumButtonDescription(
        key=key,
        translation_key=key,
        supported_fn=lambda c: Capability.PTZ in c.capabilities,
        press_fn=lambda s: s.ptz(direction, steps=1),
    )


BUTTONS: tuple[ChinesiumButtonDescription, ...] = (
    _step(PtzDirection.LEFT),
    _step(PtzDirection.RIGHT),
    _step(PtzDirection.UP),
    _step(PtzDirection.DOWN),
    ChinesiumButtonDescription(
        key="reboot",
        translation_key="reboot",
        device_class=ButtonDeviceClass.RESTART,
        entity_category=EntityCategory.CONFIG,
        supported_fn=lambda c: Capability.REBOOT in c.capabilities,
        press_fn=lambda s: s.reboot(),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ChinesiumConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the buttons the entry's camera supports."""
    coordinator = entry.runtime_data
    entities: list[ButtonEntity] = [
        ChinesiumButton(coordinator, description)
        for description in BUTTONS
        if description.supported_fn(coordinator)
    ]
    if coordinator.restream_address is not None:
        entities.append(RotateRestreamTokenButton(coordinator))
    async_add_entities(entities)


class ChinesiumButton(ChinesiumEntity, ButtonEntity):
    """A camera command without state."""

    entity_description: ChinesiumButtonDescription

    @chinesium_exception_handler
    async def async_press(self) -> None:
        """Send the command (on demand: connects first)."""
        await self.coordinator.async_command(self.entity_description.press_fn)


class RotateRestreamTokenButton(ChinesiumEntity, ButtonEntity):
    """Give the LAN restream a new token (NVRs with the old URL get 401)."""

    _attr_translation_key = "rotate_restream_token"
    _attr_entity_category = EntityCategory.CONFIG

    def __init__(self, coordinator: ChinesiumCoordinator) -> None:
        """Initialise the button."""
        super().__init__(coordinator, "rotate_restream_token")

    @chinesium_exception_handler
    async def async_press(self) -> None:
        """Rotate the token."""
        await self.coordinator.async_rotate_restream_token()
