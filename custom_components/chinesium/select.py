"""Selects: night mode and resolution (only what the camera supports)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ChinesiumConfigEntry, ChinesiumCoordinator
from .entity import ChinesiumEntity, chinesium_exception_handler
from .protocol import CameraSession, CameraState, Capability, NightMode

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class ChinesiumSelectDescription(SelectEntityDescription):
    """A select: shown when ``supported_fn`` holds; ``options_fn`` lists the choices."""

    supported_fn: Callable[[ChinesiumCoordinator], bool]
    options_fn: Callable[[ChinesiumCoordinator], Sequence[str]]
    value_fn: Callable[[CameraState], str | None]
    set_fn: Callable[[CameraSession, str], Awaitable[None]]


SELECTS: tuple[ChinesiumSelectDescription, ...] = (
    ChinesiumSelectDescription(
        key="night_mode",
        translation_key="night_mode",
        entity_category=EntityCategory.CONFIG,
        supported_fn=lambda c: Capability.NIGHT_MODE in c.capabilities,
        options_fn=lambda c: [m.value for m in c.night_modes],
        value_fn=lambda s: s.night_mode.value if s.night_mode is not None else None,
        set_fn=lambda session, value: session.set_night_mode(NightMode(value)),
    ),
    ChinesiumSelectDescription(
        key="resolution",
        translation_key="resolution",
        entity_category=EntityCategory.CONFIG,
        supported_fn=lambda c: Capability.RESOLUTION in c.capabilities,
        options_fn=lambda c: list(c.resolutions),
        value_fn=lambda s: s.resolution,
        set_fn=lambda session, value: session.set_resolution(value),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ChinesiumConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the selects the entry's camera supports."""
    coordinator = entry.runtime_data
    async_add_entities(
        ChinesiumSelect(coordinator, description)
        for description in SELECTS
        if description.supported_fn(coordinator)
    )


class ChinesiumSelect(ChinesiumEntity, SelectEntity):
    """A camera setting with a few values (unknown until reported or set)."""

    entity_description: ChinesiumSelectDescription

    @property
    def options(self) -> list[str]:
        """The values the camera accepts."""
        return list(self.entity_description.options_fn(self.coordinator))

    @property
    def current_option(self) -> str | None:
        """What the camera reported (or we last set)."""
        value = self.entity_description.value_fn(self.coordinator.data.camera)
        return value if value in self.options else None

    @chinesium_exception_handler
    async def async_select_option(self, option: str) -> None:
        """Set the camera to ``option``."""
        await self.coordinator.async_command(
            lambda session: self.entity_description.set_fn(session, option)
        )
