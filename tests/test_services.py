"""The ``chinesium.snapshot`` entity action."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.chinesium.const import DOMAIN
from custom_components.chinesium.protocol import jpeg
from fakecam.teg import TegCamera

from .conftest import UID, wait_for

CAMERA = f"camera.teg_{UID.lower().replace('-', '_')}"


async def _snapshot(hass: HomeAssistant, **data: str) -> dict[str, object]:
    response = await hass.services.async_call(
        DOMAIN,
        "snapshot",
        {ATTR_ENTITY_ID: CAMERA, **data},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    result = response[CAMERA]
    assert isinstance(result, dict)
    return result


async def test_snapshot_writes_file_and_responds(
    hass: HomeAssistant, init_integration: MockConfigEntry, tmp_path: Path
) -> None:
    """The file is written and the response describes (and carries) the JPEG."""
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    target = tmp_path / "snap.jpg"
    result = await _snapshot(hass, filename=str(target))
    data = target.read_bytes()
    assert jpeg.looks_like_jpeg(data)
    assert result["content_type"] == "image/jpeg"
    assert result["size"] == len(data)
    assert (result["width"], result["height"]) == (640, 480)
    assert result["filename"] == str(target)
    assert base64.b64decode(str(result["image_base64"])) == data
    stamp = datetime.fromisoformat(str(result["timestamp"]))
    assert stamp.tzinfo is not None


async def test_snapshot_without_file(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Without a filename only the response is produced; without response, no error."""
    result = await _snapshot(hass)
    assert result["filename"] is None
    assert jpeg.looks_like_jpeg(base64.b64decode(str(result["image_base64"])))
    assert (
        await hass.services.async_call(DOMAIN, "snapshot", {ATTR_ENTITY_ID: CAMERA}, blocking=True)
        is None
    )


async def test_snapshot_path_not_allowed(
    hass: HomeAssistant, init_integration: MockConfigEntry, tmp_path: Path
) -> None:
    """A path outside allowlist_external_dirs is refused with a translated error."""
    target = tmp_path / "snap.jpg"
    with pytest.raises(ServiceValidationError) as err:
        await _snapshot(hass, filename=str(target))
    assert err.value.translation_key == "path_not_allowed"
    assert str(err.value) == (
        f"Cannot write to {target}: the path is not in allowlist_external_dirs"
    )
    assert not target.exists()


async def test_snapshot_missing_directory(
    hass: HomeAssistant, init_integration: MockConfigEntry, tmp_path: Path
) -> None:
    """The parent directory is not created."""
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    target = tmp_path / "missing" / "snap.jpg"
    with pytest.raises(ServiceValidationError) as err:
        await _snapshot(hass, filename=str(target))
    assert err.value.translation_key == "directory_not_found"
    assert str(tmp_path / "missing") in str(err.value)
    assert not target.parent.exists()


async def test_snapshot_write_error(
    hass: HomeAssistant, init_integration: MockConfigEntry, tmp_path: Path
) -> None:
    """A write failure (here: the target is a directory) is a translated error."""
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    target = tmp_path / "adir"
    target.mkdir()
    with pytest.raises(HomeAssistantError) as err:
        await _snapshot(hass, filename=str(target))
    assert err.value.translation_key == "write_failed"


async def test_snapshot_camera_unavailable(
    hass: HomeAssistant, init_integration: MockConfigEntry, teg_camera: TegCamera
) -> None:
    """An offline camera raises a translated HomeAssistantError."""
    teg_camera.silent = True
    await wait_for(lambda: not init_integration.runtime_data.connected)
    with pytest.raises(HomeAssistantError) as err:
        await _snapshot(hass)
    assert err.value.translation_key == "camera_unavailable"
    assert str(err.value) == f"{CAMERA} is not connected to its camera"


async def test_snapshot_no_frame(
    hass: HomeAssistant, init_integration: MockConfigEntry, teg_camera: TegCamera
) -> None:
    """Connected but no frame arrives in time → snapshot_failed."""
    coordinator = init_integration.runtime_data
    assert coordinator.session is not None
    coordinator.session._latest_at = None  # force waiting for a new frame
    teg_camera.silent = True
    with pytest.raises(HomeAssistantError) as err:
        await _snapshot(hass)
    assert err.value.translation_key == "snapshot_failed"
