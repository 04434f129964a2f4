"""Switches: white light, flip, mirror (only what the camera supports)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ChinesiumConfigEntry, ChinesiumCoordinator
from .entity import ChinesiumEntity, chinesium_exception_handler
from .protocol import CameraSession, CameraState, Capability

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class ChinesiumSwitchDescription(SwitchEntityDescription):
    """A switch: shown when ``supported_fn`` holds; ``value_fn`` reads, ``set_fn`` writes."""

    supported_fn: Callable[[ChinesiumCoordinator], bool]
    value_fn: Callable[[CameraState], bool | None]
    set_fn: Callable[[CameraSession, bool], Awaitable[None]]


SWITCHES: tuple[ChinesiumSwitchDescription, ...] = (
    ChinesiumSwitchDescription(
        key="light",
        translation_key="light",
        supported_fn=lambda c: Capability.LIGHT in c.capabilities,
        value_fn=lambda s: s.light,
        set_fn=lambda session, on: session.set_light(on),
    ),
    ChinesiumSwitchDescription(
        key="flip",
        translation_key="flip",
        entity_category=EntityCategory.CONFIG,
        supported_fn=lambda c: Capability.FLIP in c.capabilities,
        value_fn=lambda s: s.flip,
        set_fn=lambda session, on: session.set_flip(on),
    ),
    ChinesiumSwitchDescription(
        key="mirror",
        translation_key="mirror",
        entity_category=EntityCategory.CONFIG,
        supported_fn=lambda c: Capability.MIRROR in c.capabilities,
        value_fn=lambda s: s.mirror,
        set_fn=lambda session, on: session.set_mirror(on),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ChinesiumConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the switches the entry's camera supports."""
    coordinator = entry.runtime_data
    async_add_entities(
        ChinesiumSwitch(coordinator, description)
        for description in SWITCHES
        if description.supported_fn(coordinator)
    )


class ChinesiumSwitch(ChinesiumEntity, SwitchEntity):
    """A camera setting that is on or off (unknown until reported or set)."""

    entity_description: ChinesiumSwitchDescription

    @property
    def is_on(self) -> bool | None:
        """What the camera reported (or we last set)."""
        return self.entity_description.value_fn(self.coordinator.data.camera)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Switch the setting on."""
        await self._async_set(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch the setting off."""
        await self._async_set(False)

    @chinesium_exception_handler
    async def _async_set(self, on: bool) -> None:
        await self.coordinator.async_command(
            lambda session: self.entity_description.set_fn(session, on)
        )
