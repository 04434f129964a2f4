"""Switches: light (SHIX), flip and mirror (TEG), round-tripped against the emulators."""

from __future__ import annotations

from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.chinesium.const import DOMAIN
from fakecam.teg import TegCamera

from .conftest import entry_for
from .controls_ha import PpppFactory, entity_id, pppp_entry, pppp_factory, setup_entry

__all__ = ["pppp_factory"]


async def _switch(hass: HomeAssistant, entity: str, on: bool) -> None:
    await hass.services.async_call(
        "switch", "turn_on" if on else "turn_off", {ATTR_ENTITY_ID: entity}, blocking=True
    )


async def test_teg_switches(
    hass: HomeAssistant,
    teg_camera: TegCamera,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """TEG: flip and mirror, no light."""
    entry = await setup_entry(hass, entry_for(teg_camera), Platform.SWITCH)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
    assert entity_registry.async_get_entity_id("switch", DOMAIN, f"{entry.unique_id}_light") is None


async def test_shix_switches(
    hass: HomeAssistant,
    pppp_factory: PpppFactory,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """SHIX: a light, no flip/mirror command."""
    cam = await pppp_factory(app="shix")
    entry = await setup_entry(hass, pppp_entry(cam), Platform.SWITCH)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_light_round_trip(hass: HomeAssistant, pppp_factory: PpppFactory) -> None:
    """The light switch turns the emulator's lamp on and off and reports it."""
    cam = await pppp_factory(app="shix")
    entry = await setup_entry(hass, pppp_entry(cam))
    light = entity_id(hass, "switch", entry, "light")
    await _switch(hass, light, True)
    assert cam.controls.light is True
    assert hass.states.get(light).state == STATE_ON
    await _switch(hass, light, False)
    assert cam.controls.light is False
    assert hass.states.get(light).state == STATE_OFF


async def test_flip_and_mirror_round_trip(hass: HomeAssistant, teg_camera: TegCamera) -> None:
    """Flip and mirror set the emulator's picture orientation, each keeping the other."""
    entry = await setup_entry(hass, entry_for(teg_camera))
    flip = entity_id(hass, "switch", entry, "flip")
    mirror = entity_id(hass, "switch", entry, "mirror")
    assert hass.states.get(flip).state in (STATE_OFF, STATE_UNKNOWN)
    await _switch(hass, flip, True)
    assert (teg_camera.controls.flip, teg_camera.controls.mirror) == (True, False)
    await _switch(hass, mirror, True)
    assert (teg_camera.controls.flip, teg_camera.controls.mirror) == (True, True)
    await _switch(hass, flip, False)
    assert (teg_camera.controls.flip, teg_camera.controls.mirror) == (False, True)
    assert hass.states.get(flip).state == STATE_OFF
    assert hass.states.get(mirror).state == STATE_ON
