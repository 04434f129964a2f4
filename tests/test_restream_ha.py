"""Issue 13 in HA: MJPEG cameras through HA's stream (transcoded), sound, and the opt-in LAN
restream with its token (401 without it, rotatable); nothing listens on the LAN when off."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
from homeassistant.components.camera import CameraEntityFeature, async_request_stream
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import numpy as np
import psutil
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.chinesium.const import DATA_RESTREAM_TOKEN, DOMAIN
from fakecam.teg import TegCamera

from .conftest import UID, entry_for, wait_for


def _free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _entity(hass: HomeAssistant, platform: str, key: str) -> str:
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{UID}_{key}")
    assert found is not None, key
    return found


async def _setup(hass: HomeAssistant, cam: TegCamera, **options: Any) -> MockConfigEntry:
    entry = entry_for(cam, options=options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(lambda: entry.runtime_data.data.streaming)
    return entry


def _read_av(url: str, seconds: float = 4.0) -> tuple[list[Any], list[Any]]:
    """Video frames and audio frames PyAV decodes from ``url`` (executor)."""
    import av

    video: list[Any] = []
    audio: list[Any] = []
    with av.open(url, timeout=10) as container:
        streams = [*container.streams.video, *container.streams.audio]
        start = None
        for packet in container.demux(*streams):
            for frame in packet.decode():
                (video if packet.stream.type == "video" else audio).append(frame)
            if packet.pts is not None and packet.time_base is not None:
                t = float(packet.pts * packet.time_base)
                start = t if start is None else start
                if t - start > seconds and audio:
                    break
    return video, audio


def _tone(audio: list[Any]) -> float:
    samples = np.concatenate([f.to_ndarray().reshape(-1).astype(np.float64) for f in audio])
    rate = audio[0].sample_rate
    samples = samples[-rate:] if len(samples) > rate else samples
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum[1:])) + 1])


async def test_mjpeg_camera_in_ha_stream_with_sound(
    hass: HomeAssistant, teg_camera: TegCamera, hass_client: ClientSessionGenerator
) -> None:
    """The HLS option gives an MJPEG camera HA's stream: avc1 video and mp4a sound."""
    assert await async_setup_component(hass, "stream", {})
    entry = await _setup(hass, teg_camera, hls=True, audio=True)
    camera = _entity(hass, "camera", "camera")
    state = hass.states.get(camera)
    assert state is not None
    assert state.attributes["supported_features"] == CameraEntityFeature.STREAM
    client = await hass_client()
    url = await async_request_stream(hass, camera, "hls")
    resp = await client.get(url)
    assert resp.status == 200
    master = await resp.text()
    assert "avc1" in master, master
    assert "mp4a" in master, master
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_lan_restream_token_and_rotation(
    hass: HomeAssistant, teg_camera: TegCamera, hass_client: ClientSessionGenerator
) -> None:
    """Restream on: the URL sensor, PyAV reads video + AAC (the 1 kHz tone), 401 without
    or with a wrong token, and the rotate button invalidates the old URL."""
    port = _free_tcp_port()
    entry = await _setup(
        hass, teg_camera, restream=True, restream_host="127.0.0.1", restream_port=port, audio=True
    )
    sensor = _entity(hass, "sensor", "restream_url")
    await wait_for(lambda: hass.states.get(sensor).state not in (STATE_UNAVAILABLE, "unknown"))
    url = hass.states.get(sensor).state
    assert url.startswith(f"http://127.0.0.1:{port}/")
    assert hass.states.get(sensor).attributes["mjpeg_url"].endswith(url.split(".ts", 1)[1])
    token = entry.data[DATA_RESTREAM_TOKEN]
    assert token in url
    video, audio = await hass.async_add_executor_job(_read_av, url)
    assert video
    assert audio
    assert abs(_tone(audio) - 1000) < 30
    bare = url.split("?", 1)[0]
    async with aiohttp.ClientSession() as http:
        for bad in (bare, bare + "?token=wrong"):
            async with http.get(bad) as resp:
                assert resp.status == 401
        await hass.services.async_call(
            "button",
            "press",
            {"entity_id": _entity(hass, "button", "rotate_restream_token")},
            blocking=True,
        )
        assert entry.data[DATA_RESTREAM_TOKEN] != token
        async with http.get(url) as resp:
            assert resp.status == 401
        new_url = hass.states.get(sensor).state
        assert new_url != url
        async with http.get(new_url) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "video/mp2t"
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert entry.data[DATA_RESTREAM_TOKEN] not in str(diag)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    async with aiohttp.ClientSession() as http:
        try:
            async with http.get(new_url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                raise AssertionError(f"still served after unload: {resp.status}")
        except aiohttp.ClientConnectionError:
            pass


async def test_nothing_listens_beyond_loopback_when_off(
    hass: HomeAssistant, teg_camera: TegCamera
) -> None:
    """Default options: the integration's servers listen on 127.0.0.1 only."""
    await _setup(hass, teg_camera, hls=True)
    await asyncio.sleep(0)
    listening = [
        c.laddr
        for c in psutil.Process().net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert listening, "the local stream server should listen on loopback"
    assert all(addr.ip.startswith("127.") for addr in listening), listening
