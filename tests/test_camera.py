"""Camera entity: state, still image, MJPEG stream."""

from __future__ import annotations

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.chinesium.protocol import jpeg
from fakecam.teg import TegCamera

from .conftest import UID, wait_for

CAMERA = f"camera.teg_{UID.lower().replace('-', '_')}"


async def test_camera_entity(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """The camera is named after the device and belongs to it."""
    state = hass.states.get(CAMERA)
    assert state is not None
    assert state.state == "idle"
    assert state.attributes["friendly_name"] == f"TEG {UID}"
    assert state.attributes["supported_features"] == 0
    entity = entity_registry.async_get(CAMERA)
    assert entity is not None
    assert entity.unique_id == f"{UID}_camera"
    device = device_registry.async_get(entity.device_id)
    assert device is not None
    assert device.identifiers == {("chinesium", UID)}
    assert device.manufacturer == "IWFCam"
    assert device.model == "IWFCam (TEG)"
    assert device.serial_number == UID


async def test_camera_proxy_returns_jpeg(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """/api/camera_proxy serves the latest frame."""
    client = await hass_client()
    resp = await client.get(f"/api/camera_proxy/{CAMERA}")
    assert resp.status == 200
    assert resp.content_type == "image/jpeg"
    body = await resp.read()
    assert jpeg.looks_like_jpeg(body)
    assert jpeg.jpeg_size(body) == (640, 480)


async def test_camera_image_waits_for_first_frame(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Before any frame arrived, a still request waits for one."""
    coordinator = init_integration.runtime_data
    coordinator.latest_frame = None
    entity = hass.data["camera"].get_entity(CAMERA)
    image = await entity.async_camera_image()
    assert image is not None
    assert jpeg.looks_like_jpeg(image)


async def test_camera_proxy_stream(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """/api/camera_proxy_stream yields multipart JPEG parts; ends when the camera goes."""
    client = await hass_client()
    resp = await client.get(f"/api/camera_proxy_stream/{CAMERA}")
    assert resp.status == 200
    assert resp.content_type == "multipart/x-mixed-replace"
    body = b""
    while body.count(b"--frameboundary") < 4:
        body += await resp.content.readany()
    parts = [p for p in body.split(b"--frameboundary\r\n") if p]
    assert len(parts) >= 3
    images = []
    for part in parts[:3]:
        header, _, rest = part.partition(b"\r\n\r\n")
        assert b"Content-Type: image/jpeg" in header
        length = int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        images.append(rest[:length])
        assert jpeg.looks_like_jpeg(rest[:length])
    assert images[0] == images[1]  # HA sends the first frame twice (Chrome)
    assert images[1] != images[2]  # then every new frame

    await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    await resp.read()  # the server ends the stream
    resp.close()


async def test_camera_unavailable_while_offline(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    teg_camera: TegCamera,
    hass_client: ClientSessionGenerator,
) -> None:
    """Offline camera: state unavailable and the stream endpoint refuses."""
    teg_camera.silent = True
    await wait_for(lambda: hass.states.get(CAMERA).state == STATE_UNAVAILABLE)
    client = await hass_client()
    resp = await client.get(f"/api/camera_proxy/{CAMERA}")
    assert resp.status != 200
    coordinator = init_integration.runtime_data
    assert await coordinator.async_wait_frame(0.1) is None
    teg_camera.silent = False
    await wait_for(lambda: hass.states.get(CAMERA).state != STATE_UNAVAILABLE, timeout=8)


async def test_camera_image_none_when_no_frame_comes(
    hass: HomeAssistant, init_integration: MockConfigEntry, teg_camera: TegCamera
) -> None:
    """No frame yet and none arriving: the still image is None, not an exception."""
    coordinator = init_integration.runtime_data
    coordinator.latest_frame = None
    assert coordinator.session is not None
    coordinator.session._latest_at = None
    teg_camera.silent = True
    entity = hass.data["camera"].get_entity(CAMERA)
    assert await entity.async_camera_image() is None
