"""Config entry diagnostics."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from .conftest import UID


async def test_diagnostics(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
) -> None:
    """Secrets and identifiers are redacted; state and counters are included."""
    diag = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    assert UID not in str(diag)
    assert "127.0.0.1" not in str(diag)
    stats = diag["session"]["stats"]
    assert stats["frames_ok"] >= 1
    assert diag["state"]["frames_received"] >= 1
    assert diag == snapshot(
        exclude=props(
            "entry_id",
            "created_at",
            "modified_at",
            "port",
            "search_port",
            "stats",
            "frames_received",
            "size",
        )
    )
