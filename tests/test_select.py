"""Selects: night mode and resolution, round-tripped against the emulators."""

from __future__ import annotations

from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import snapshot_platform
from syrupy.assertion import SnapshotAssertion

from fakecam.teg import TegCamera

from .conftest import entry_for, wait_for
from .controls_ha import PpppFactory, entity_id, pppp_entry, pppp_factory, setup_entry

__all__ = ["pppp_factory"]


async def _select(hass: HomeAssistant, entity: str, option: str) -> None:
    await hass.services.async_call(
        "select", "select_option", {ATTR_ENTITY_ID: entity, "option": option}, blocking=True
    )


async def test_teg_selects(
    hass: HomeAssistant,
    teg_camera: TegCamera,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """TEG: night mode and resolution."""
    entry = await setup_entry(hass, entry_for(teg_camera), Platform.SELECT)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_shix_selects(
    hass: HomeAssistant,
    pppp_factory: PpppFactory,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """SHIX: its own night modes and resolutions."""
    cam = await pppp_factory(app="shix")
    entry = await setup_entry(hass, pppp_entry(cam), Platform.SELECT)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_night_mode_round_trip(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """Selecting a night mode switches the emulator's IR (grey picture) and is shown."""
    entry = await setup_entry(hass, entry_for(teg_camera))
    night = entity_id(hass, "select", entry, "night_mode")
    options = hass.states.get(night).attributes["options"]
    assert "on" in options
    await _select(hass, night, "on")
    assert teg_camera.controls.night_mode == "on"
    assert teg_camera.controls.night
    assert hass.states.get(night).state == "on"
    await _select(hass, night, "off")
    assert teg_camera.controls.night_mode == "off"
    assert hass.states.get(night).state == "off"


async def test_resolution_round_trip(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """Selecting a resolution resizes the emulator's picture."""
    cam = teg_camera
    entry = await setup_entry(hass, entry_for(cam))
    select = entity_id(hass, "select", entry, "resolution")
    options = hass.states.get(select).attributes["options"]
    assert len(options) >= 2
    target = next(o for o in options if tuple(map(int, o.split("x"))) != cam.controls.size)
    await _select(hass, select, target)
    assert cam.controls.size == tuple(map(int, target.split("x")))
    assert hass.states.get(select).state == target
    coordinator = entry.runtime_data
    await wait_for(lambda: (coordinator.facts.width, coordinator.facts.height) == cam.controls.size)
