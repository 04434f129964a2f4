"""H.264/H.265 cameras in Home Assistant: HA's stream (HLS), stills, snapshots, unload."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import io
from typing import Any

from homeassistant.components.camera import (
    CameraEntityFeature,
    async_get_image,
    async_request_stream,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.chinesium.const import DOMAIN
from custom_components.chinesium.media import server_at
from custom_components.chinesium.protocol import CameraInfo, Family
from fakecam.pppp import PpppCamera

from .conftest import override_settings, wait_for
from .test_restream_ha import _read_av, _tone

DUID = "VSTJ-123456-ABCDE"
KEY = "vstarcam2019"
CAMERA = "camera.vstarcam_abcde"

type Factory = Callable[..., Awaitable[PpppCamera]]


@pytest.fixture
def vstarcam_factory(pppp_factory: Factory) -> Factory:
    """Emulated VStarcam cameras streaming real H.264/H.265 (encoded once, replayed)."""

    async def _start(**kw: Any) -> PpppCamera:
        values: dict[str, Any] = {
            "duid": DUID,
            "app": "vstarcam",
            "encrypt": KEY,
            "stream_seconds": 60.0,
        }
        values.update(kw)
        return await pppp_factory(**values)

    return _start


async def _setup(hass: HomeAssistant, cam: PpppCamera, **options: Any) -> MockConfigEntry:
    info = CameraInfo(DUID, "127.0.0.1", cam.port, Family.PPPP, extra={"key": KEY})
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=DUID,
        title="VStarcam ABCDE",
        data={**info.as_dict(), CONF_USERNAME: None, CONF_PASSWORD: None},
        options=options,
    )
    entry.add_to_hass(hass)
    # H.264 over DRW needs a little more than the TEG test timings
    with override_settings(hass, session=_slow_session(hass)):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await wait_for(lambda: entry.runtime_data.data.streaming, timeout=10)
    return entry


def _slow_session(hass: HomeAssistant) -> Any:
    from dataclasses import replace

    from custom_components.chinesium.settings import get_settings

    return replace(get_settings(hass).session, first_frame_timeout=5.0, silence_timeout=3.0)


def _decode(data: bytes, codec: str) -> list[Any]:
    import av

    with av.open(io.BytesIO(data), format=codec) as container:
        return list(container.decode(video=0))


async def test_h264_camera_entity_and_still(hass: HomeAssistant, vstarcam_factory: Factory) -> None:
    """An H.264 camera streams through HA's stream and gives JPEG stills decoded from
    its keyframes (HA's own stream stills need libturbojpeg, which Core installs lack)."""
    cam = await vstarcam_factory(codec="h264", width=1280, height=720)
    entry = await _setup(hass, cam)
    coordinator = entry.runtime_data
    state = hass.states.get(CAMERA)
    assert state is not None
    assert state.attributes["supported_features"] == CameraEntityFeature.STREAM
    assert coordinator.is_h26x
    url = coordinator.stream_url
    assert url is not None
    assert url.startswith("http://127.0.0.1:")
    assert "token=" in url
    image = await async_get_image(hass, CAMERA, timeout=10)
    assert image.content_type == "image/jpeg"
    with Image.open(io.BytesIO(image.content)) as picture:
        assert picture.size == (1280, 720)
    # cached per keyframe: a second still is the same bytes until the next keyframe
    assert coordinator.facts.codec is not None
    assert str(coordinator.facts.codec) == "h264"


async def test_stream_source_is_token_protected_mpegts(
    hass: HomeAssistant, vstarcam_factory: Factory, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """The local source serves MPEG-TS with the token and 401 without it."""
    import aiohttp

    cam = await vstarcam_factory(codec="h264")
    entry = await _setup(hass, cam)
    url = entry.runtime_data.stream_url
    assert url is not None
    bare = url.split("?", 1)[0]
    async with aiohttp.ClientSession() as http:
        async with http.get(bare) as resp:
            assert resp.status == 401
        async with http.get(bare + "?token=wrong") as resp:
            assert resp.status == 401
        async with http.get(url) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "video/mp2t"
            data = b""
            while len(data) < 64 * 1024:
                chunk = await resp.content.read(16 * 1024)
                if not chunk:
                    break
                data += chunk
    assert data[0] == 0x47  # MPEG-TS sync byte
    frames = _decode(data, "mpegts")
    assert frames
    assert frames[0].key_frame


@pytest.mark.parametrize(("codec", "tag"), [("h264", "avc1"), ("h265", "hvc1")])
async def test_hls_through_ha_stream(
    hass: HomeAssistant,
    vstarcam_factory: Factory,
    hass_client: ClientSessionGenerator,
    codec: str,
    tag: str,
) -> None:
    """HA's real stream component turns the camera into HLS: the master playlist names
    the codec and the first segment decodes."""
    assert await async_setup_component(hass, "stream", {})
    cam = await vstarcam_factory(codec=codec, width=1280, height=720)
    entry = await _setup(hass, cam)
    client = await hass_client()
    url = await async_request_stream(hass, CAMERA, "hls")
    resp = await client.get(url)
    assert resp.status == 200
    master = await resp.text()
    assert tag in master, master
    playlist_url = url.replace("master_playlist", "playlist")

    async def _segment_ready() -> str | None:
        r = await client.get(playlist_url)
        if r.status != 200:
            return None
        text = await r.text()
        return text if "#EXTINF" in text else None

    playlist: str | None = None
    async with asyncio.timeout(40):
        while (playlist := await _segment_ready()) is None:  # noqa: ASYNC110 - polling HTTP
            await asyncio.sleep(0.5)
    init = await client.get(playlist_url.replace("playlist.m3u8", "init.mp4"))
    assert init.status == 200
    init_bytes = await init.read()
    segment_name = next(line for line in playlist.splitlines() if line and not line.startswith("#"))
    seg = await client.get(playlist_url.rsplit("/", 1)[0] + "/" + segment_name)
    assert seg.status == 200
    frames = _decode(init_bytes + await seg.read(), "mp4")
    assert len(frames) >= 15
    assert (frames[0].width, frames[0].height) == (1280, 720)
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_hls_of_h264_camera_with_sound(
    hass: HomeAssistant, vstarcam_factory: Factory, hass_client: ClientSessionGenerator
) -> None:
    """With the sound option an H.264 camera's HLS has avc1 and mp4a, and the camera's
    IMA-ADPCM tone comes out of the stream source as AAC at the same pitch."""
    assert await async_setup_component(hass, "stream", {})
    cam = await vstarcam_factory(width=1280, height=720, tone_hz=700.0)
    entry = await _setup(hass, cam, audio=True)
    assert cam.stats.audio_starts == 0  # nobody listens yet: the camera was not asked
    client = await hass_client()
    url = await async_request_stream(hass, CAMERA, "hls")
    resp = await client.get(url)
    assert resp.status == 200
    master = await resp.text()
    assert "avc1" in master, master
    assert "mp4a" in master, master
    assert cam.stats.audio_starts >= 1
    source = entry.runtime_data.stream_url
    assert source is not None
    video, audio = await hass.async_add_executor_job(_read_av, source)
    assert video
    assert audio
    assert abs(_tone(audio) - 700.0) < 10
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(lambda: cam.stats.audio_stops >= 1)


async def test_snapshot_action_h264(hass: HomeAssistant, vstarcam_factory: Factory) -> None:
    """``chinesium.snapshot`` returns a JPEG for an H.264 camera like for MJPEG ones."""
    cam = await vstarcam_factory(codec="h264")
    await _setup(hass, cam)
    response = await hass.services.async_call(
        DOMAIN, "snapshot", {"entity_id": CAMERA}, blocking=True, return_response=True
    )
    result = response[CAMERA]
    assert result["content_type"] == "image/jpeg"
    import base64

    jpeg = base64.b64decode(result["image_base64"])
    assert jpeg[:2] == b"\xff\xd8"
    assert (result["width"], result["height"]) == (640, 480)


async def test_unload_stops_server_and_leaves_nothing(
    hass: HomeAssistant, vstarcam_factory: Factory
) -> None:
    """Unload: the local server stops with the last H.264 camera; the camera sees
    our goodbye. (phcc's cleanup check fails the test on a lingering task, timer or
    thread.)"""
    cam = await vstarcam_factory(codec="h264")
    entry = await _setup(hass, cam)
    server = server_at(hass)
    assert server is not None
    assert server.running
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert not server.running
    assert not [t for t in asyncio.all_tasks() if "chinesium" in t.get_name()]


async def test_hls_from_independent_peer(
    hass: HomeAssistant, socket_enabled: None, hass_client: ClientSessionGenerator
) -> None:
    """HA's stream makes HLS from the independently written VStarcam camera
    (tests/peers/vstarcam_peer.py, written from pppp.md alone, not fakecam)."""
    from .peers.vstarcam_peer import VStarcamPeer

    assert await async_setup_component(hass, "stream", {})
    async with VStarcamPeer(host="127.0.0.1", port=0, burst=60.0) as peer:
        did = peer.config.did
        info = CameraInfo(did, "127.0.0.1", peer.port, Family.PPPP, extra={"key": KEY})
        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id=did,
            title="VStarcam peer",
            data={**info.as_dict(), CONF_USERNAME: None, CONF_PASSWORD: None},
        )
        entry.add_to_hass(hass)
        with override_settings(hass, session=_slow_session(hass)):
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            await wait_for(lambda: entry.runtime_data.data.streaming, timeout=10)
        entity_id = "camera.vstarcam_peer"
        assert hass.states.get(entity_id) is not None
        client = await hass_client()
        url = await async_request_stream(hass, entity_id, "hls")
        resp = await client.get(url)
        assert resp.status == 200
        assert "avc1" in await resp.text()
        playlist_url = url.replace("master_playlist", "playlist")
        async with asyncio.timeout(40):
            while True:
                r = await client.get(playlist_url)
                if r.status == 200 and "#EXTINF" in (text := await r.text()):
                    break
                await asyncio.sleep(0.5)
        segment = next(line for line in text.splitlines() if line and not line.startswith("#"))
        init = await (await client.get(playlist_url.replace("playlist.m3u8", "init.mp4"))).read()
        seg = await (await client.get(playlist_url.rsplit("/", 1)[0] + "/" + segment)).read()
        frames = _decode(init + seg, "mp4")
        assert len(frames) >= 15
        assert (frames[0].width, frames[0].height) == peer.config.size
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_lookcam_hevc_camera_in_ha(
    hass: HomeAssistant, pppp_factory: Factory, hass_client: ClientSessionGenerator
) -> None:
    """A LookCam camera (HEVC over channel 0) is live in HA: STREAM, an HLS master
    playlist naming hvc1, and a JPEG still decoded from its keyframes."""
    assert await async_setup_component(hass, "stream", {})
    uid = "GHBB-123456-LKCAM"
    cam = await pppp_factory(app="lookcam", duid=uid, width=640, height=480)
    info = CameraInfo(uid, "127.0.0.1", cam.port, Family.PPPP, app_layer="lookcam")
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=uid,
        title="LookCam LKCAM",
        data={**info.as_dict(), CONF_USERNAME: None, CONF_PASSWORD: None},
    )
    entry.add_to_hass(hass)
    with override_settings(hass, session=_slow_session(hass)):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await wait_for(lambda: entry.runtime_data.data.streaming, timeout=10)
    entity_id = "camera.lookcam_lkcam"
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.attributes["supported_features"] == CameraEntityFeature.STREAM
    assert str(entry.runtime_data.facts.codec) == "h265"
    image = await async_get_image(hass, entity_id, timeout=10)
    with Image.open(io.BytesIO(image.content)) as picture:
        assert picture.size == (640, 480)
    client = await hass_client()
    url = await async_request_stream(hass, entity_id, "hls")
    resp = await client.get(url)
    assert resp.status == 200
    assert "hvc1" in await resp.text()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
