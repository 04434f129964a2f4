"""Camera entity: state, still image, MJPEG stream."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
import contextlib
import logging

from aiohttp import ClientResponse
from homeassistant.const import ATTR_ENTITY_ID, CONF_MAC, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.chinesium.const import (
    CONF_MAX_FPS,
    CONF_STREAM_MODE,
    DOMAIN,
    STREAM_MODE_ON_DEMAND,
)
from custom_components.chinesium.protocol import CameraInfo, Family, jpeg
from fakecam.pppp import PpppCamera, PpppCameraConfig
from fakecam.teg import TegCamera

from .conftest import UID, entry_for, override_settings, wait_for

CAMERA = f"camera.teg_{UID.lower().replace('-', '_')}"
SENSOR = f"binary_sensor.teg_{UID.lower().replace('-', '_')}_connection"


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
    assert device.model == "TEG Wi-Fi camera"
    assert device.serial_number == UID
    assert device.sw_version is None
    assert device.configuration_url is None
    assert device.connections == set()  # no MAC known: not found via DHCP


async def test_device_mac_connection(
    hass: HomeAssistant, teg_camera: TegCamera, device_registry: dr.DeviceRegistry
) -> None:
    """A MAC stored by the DHCP flow becomes the device's network connection."""
    entry = entry_for(teg_camera)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_MAC: "aa:bb:cc:dd:ee:ff"}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    device = device_registry.async_get_device(identifiers={(DOMAIN, UID)})
    assert device is not None
    assert device.connections == {(dr.CONNECTION_NETWORK_MAC, "aa:bb:cc:dd:ee:ff")}
    assert (
        device_registry.async_get_device(
            connections={(dr.CONNECTION_NETWORK_MAC, "aa:bb:cc:dd:ee:ff")}
        )
        == device
    )


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
    teg_camera.silent = True
    # Let a frame already on its way arrive before forgetting the latest one.
    count = -1
    while count != coordinator.frame_count:
        count = coordinator.frame_count
        await asyncio.sleep(0.2)
    coordinator.latest_frame = None
    assert coordinator.session is not None
    coordinator.session._latest_at = None
    entity = hass.data["camera"].get_entity(CAMERA)
    assert await entity.async_camera_image() is None


# -- stream options -----------------------------------------------------------------------


async def _mjpeg_parts(resp: ClientResponse, seconds: float) -> int:
    """Count the multipart parts received within ``seconds``."""
    body = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(deadline):
            while True:
                body += await resp.content.readany()
    return body.count(b"--frameboundary")


async def test_max_fps_caps_mjpeg(
    hass: HomeAssistant,
    teg_camera: TegCamera,
    hass_client: ClientSessionGenerator,
) -> None:
    """``max_fps`` limits the parts an MJPEG viewer gets (camera sends 15 fps)."""
    entry = entry_for(teg_camera, options={CONF_MAX_FPS: 4})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(lambda: entry.runtime_data.data.streaming)
    client = await hass_client()
    resp = await client.get(f"/api/camera_proxy_stream/{CAMERA}")
    assert resp.status == 200
    parts = await _mjpeg_parts(resp, 1.5)
    resp.close()
    # 1.5 s at 4 fps: about 6 parts (+1: the first frame is sent twice).
    assert 3 <= parts <= 9, parts
    assert entry.runtime_data.frame_count >= 18


async def test_mjpeg_uncapped_by_default(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client: ClientSessionGenerator
) -> None:
    """Without ``max_fps`` every camera frame is forwarded."""
    client = await hass_client()
    resp = await client.get(f"/api/camera_proxy_stream/{CAMERA}")
    parts = await _mjpeg_parts(resp, 1.5)
    resp.close()
    assert parts >= 15, parts


@pytest.fixture
def short_linger(hass: HomeAssistant) -> Iterator[None]:
    """On-demand sessions close 0.3 s after the last use."""
    with override_settings(hass, on_demand_linger=0.3):
        yield


@pytest.mark.usefixtures("short_linger")
async def test_on_demand_idle_and_connect_on_request(
    hass: HomeAssistant,
    teg_camera: TegCamera,
    hass_client: ClientSessionGenerator,
) -> None:
    """On demand: setup connects once, the session closes when nobody watches; the
    entity stays available ("idle"), the sensor shows the last known reachability, and
    a still request or an MJPEG viewer connects again."""
    entry = entry_for(teg_camera, options={CONF_STREAM_MODE: STREAM_MODE_ON_DEMAND})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator = entry.runtime_data
    assert coordinator.on_demand
    await wait_for(lambda: teg_camera.client_count == 0 and coordinator.session is None)
    assert hass.states.get(CAMERA).state == "idle"
    assert hass.states.get(SENSOR).state == STATE_ON
    assert not coordinator.connected

    client = await hass_client()
    resp = await client.get(f"/api/camera_proxy/{CAMERA}")
    assert resp.status == 200
    assert jpeg.looks_like_jpeg(await resp.read())
    assert coordinator.connected
    # lingers, then closes again
    await wait_for(lambda: coordinator.session is None and teg_camera.client_count == 0)
    assert hass.states.get(CAMERA).state == "idle"

    resp = await client.get(f"/api/camera_proxy_stream/{CAMERA}")
    assert resp.status == 200
    assert await _mjpeg_parts(resp, 1.0) >= 5
    assert coordinator.users == 1
    resp.close()
    await wait_for(lambda: coordinator.users == 0)
    await wait_for(lambda: coordinator.session is None and teg_camera.client_count == 0)

    snap = await hass.services.async_call(
        DOMAIN,
        "snapshot",
        {ATTR_ENTITY_ID: CAMERA},
        blocking=True,
        return_response=True,
    )
    assert snap is not None
    assert base64.b64decode(str(snap[CAMERA]["image_base64"]))[:2] == b"\xff\xd8"  # type: ignore[index]
    assert coordinator.data.reconnects == 0


@pytest.mark.usefixtures("short_linger")
async def test_on_demand_camera_gone_while_idle(
    hass: HomeAssistant, teg_camera: TegCamera, caplog: pytest.LogCaptureFixture
) -> None:
    """On demand: a request to a vanished camera fails with a translated error, the
    entities go unavailable/off with one warning, and come back with one info."""
    entry = entry_for(teg_camera, options={CONF_STREAM_MODE: STREAM_MODE_ON_DEMAND})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator = entry.runtime_data
    await wait_for(lambda: coordinator.session is None)
    caplog.set_level(logging.INFO, logger="custom_components.chinesium")
    teg_camera.silent = True
    entity = hass.data["camera"].get_entity(CAMERA)
    with pytest.raises(HomeAssistantError) as exc_info:
        await entity.async_camera_image()
    assert exc_info.value.translation_key == "snapshot_failed"
    await wait_for(lambda: hass.states.get(CAMERA).state == STATE_UNAVAILABLE)
    assert hass.states.get(SENSOR).state == STATE_OFF
    await asyncio.sleep(0.5)  # the supervisor keeps probing
    teg_camera.silent = False
    await wait_for(lambda: hass.states.get(SENSOR).state == STATE_ON, timeout=8)
    assert hass.states.get(CAMERA).state == "idle"
    assert caplog.text.count("is unavailable") == 1
    assert caplog.text.count("is back online") == 1
    # Probing found it: the session is closed again after the linger time.
    await wait_for(lambda: coordinator.session is None and teg_camera.client_count == 0)


# -- PPPP cameras through the same entities --------------------------------------------------

DUID = "ABCD-123456-VWXYZ"
ILNK_DUID = "FTYC-123456-ABCDE"


def _pppp_entity(duid: str, suffix: str = "") -> str:
    return f"pppp_{duid.lower().replace('-', '_')}{suffix}"


@pytest.mark.parametrize(
    ("app", "duid", "stored_layer", "manufacturer", "model"),
    [
        ("shix", DUID, None, "SHIX", "PPPP Wi-Fi camera"),
        ("ilnk", ILNK_DUID, "ilnk", "iLnk", "PPPP Wi-Fi camera"),
    ],
)
async def test_pppp_camera_entities(
    hass: HomeAssistant,
    socket_enabled: None,
    hass_client: ClientSessionGenerator,
    device_registry: dr.DeviceRegistry,
    *,
    app: str,
    duid: str,
    stored_layer: str | None,
    manufacturer: str,
    model: str,
) -> None:
    """A PPPP camera works through the same camera + connectivity entities."""
    cam = PpppCamera(PpppCameraConfig(host="127.0.0.1", port=0, duid=duid, app=app))
    await cam.start()
    try:
        host, port = cam.discovery_target
        info = CameraInfo(duid, host, port, Family.PPPP, app_layer=stored_layer)
        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id=duid,
            title=f"PPPP {duid}",
            data={**info.as_dict(), "username": None, "password": None},
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        camera_id = f"camera.{_pppp_entity(duid)}"
        sensor_id = f"binary_sensor.{_pppp_entity(duid, '_connection')}"
        await wait_for(lambda: hass.states.get(sensor_id).state == STATE_ON)
        assert hass.states.get(camera_id).state == "idle"

        client = await hass_client()
        resp = await client.get(f"/api/camera_proxy/{camera_id}")
        assert resp.status == 200
        body = await resp.read()
        assert jpeg.looks_like_jpeg(body)
        assert jpeg.jpeg_size(body) == (640, 480)

        snap = await hass.services.async_call(
            DOMAIN, "snapshot", {ATTR_ENTITY_ID: camera_id}, blocking=True, return_response=True
        )
        assert snap is not None
        result = snap[camera_id]
        assert isinstance(result, dict)
        assert (result["width"], result["height"]) == (640, 480)

        device = device_registry.async_get_device(identifiers={(DOMAIN, duid)})
        assert device is not None
        assert device.manufacturer == manufacturer
        assert device.model == model
        assert device.serial_number == duid
        assert entry.runtime_data.info.app_layer == app

        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        await wait_for(lambda: not cam.clients)
    finally:
        await cam.stop()
