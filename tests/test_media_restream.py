"""Restream extras: MJPEG->H.264 transcoding, multipart MJPEG, tokens, LAN binding."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
import io
import itertools
from typing import Any

import aiohttp
import av
import numpy as np
from PIL import Image
import psutil
import pytest
import pytest_socket

from custom_components.chinesium.protocol.media import MediaHub
from custom_components.chinesium.protocol.media.server import MJPEG_BOUNDARY, MediaServer
from custom_components.chinesium.protocol.media.transcode import (
    MjpegTranscoder,
    TranscodeError,
    TranscodingHub,
)
from custom_components.chinesium.protocol.model import Codec, Frame
from fakecam.frames import FrameSource

from .test_media_server import read_with_av

pytestmark = pytest.mark.usefixtures("socket_enabled")

_SOURCE = FrameSource(count=6, seed=3)
JPEGS = [_SOURCE.next_frame() for _ in range(6)]


class JpegPublisher:
    """Publishes fakecam JPEGs into a hub (pts step 66 ms) until stopped."""

    def __init__(self, hub: MediaHub) -> None:
        self.hub = hub
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    def publish(self, n: int) -> None:
        for _ in range(n):
            data = JPEGS[self.count % len(JPEGS)]
            self.hub.publish(Frame(data, 640, 480, 0.0, self.count + 1, pts=1000 + self.count * 66))
            self.count += 1

    def start(self, interval: float = 0.02) -> None:
        async def run() -> None:
            while True:
                self.publish(1)
                await asyncio.sleep(interval)

        self._task = asyncio.create_task(run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def _until(cond: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def _in_thread(fn: Any, *args: Any) -> Any:
    pool = ThreadPoolExecutor(1)
    try:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(pool, fn, *args), 60)
    finally:
        pool.shutdown(wait=True)


@pytest.fixture
async def server() -> AsyncIterator[MediaServer]:
    srv = MediaServer()
    await srv.start()
    yield srv
    await srv.stop()


# -- A. MJPEG -> H.264 -------------------------------------------------------------------


def test_transcoder_keeps_pts_and_makes_keyframes_every_second() -> None:
    tx = MjpegTranscoder(keyframe_interval_ms=1000)
    out: list[Frame] = []
    for i in range(40):
        out += tx.encode(Frame(JPEGS[i % 6], 640, 480, 1.5, i + 1, pts=i * 66))
    assert len(out) == 40
    assert all(f.codec is Codec.H264 for f in out)
    assert [f.pts for f in out] == [i * 66 for i in range(40)]
    assert [f.seq for f in out] == list(range(1, 41))
    keys = [f.pts for f in out if f.keyframe]
    # pts 0, then the first frame at least 1000 ms after the previous keyframe.
    assert keys == [0, 1056, 2112]
    assert out[0].data.startswith(b"\x00\x00\x00\x01\x67")  # SPS in-band
    # The picture survives with the right levels (full-range JPEG in, range flagged).
    decoder: Any = av.CodecContext.create("h264", "r")
    pictures = decoder.decode(av.Packet(out[0].data)) or decoder.decode(None)
    got = np.asarray(pictures[0].to_image().convert("RGB"), dtype=np.float64)
    ref = np.asarray(Image.open(io.BytesIO(JPEGS[0])).convert("RGB"), dtype=np.float64)
    assert 10 * np.log10(255**2 / np.mean((got - ref) ** 2)) > 32
    assert (out[0].width, out[0].height) == (640, 480)
    with pytest.raises(TranscodeError):
        tx.encode(Frame(b"\xff\xd8garbage\xff\xd9", 640, 480, 0.0, 99, pts=5000))
    with pytest.raises(ValueError, match="not a JPEG"):
        tx.encode(Frame(b"\x00\x00\x00\x01", 0, 0, 0.0, 1, Codec.H264))
    # Still usable after a bad frame; a size change restarts with an IDR.
    small = FrameSource(width=320, height=240, count=1).next_frame()
    again = tx.encode(Frame(small, 320, 240, 0.0, 100, pts=9000))
    assert len(again) == 1
    assert again[0].keyframe
    assert (again[0].width, again[0].height) == (320, 240)


async def test_transcoding_hub_runs_only_while_used() -> None:
    hub = MediaHub()
    pub = JpegPublisher(hub)
    pub.publish(1)
    th = TranscodingHub(hub)
    assert not th.active
    assert hub.subscribers == 0
    async with th.use() as h264:
        assert th.active
        sub = h264.subscribe(100)
        got = [await asyncio.wait_for(sub.get(), 20)]
        for _ in range(5):
            pub.publish(1)
            got.append(await asyncio.wait_for(sub.get(), 20))
        assert all(f is not None and f.codec is Codec.H264 for f in got)
        assert got[0] is not None
        assert got[0].keyframe
        async with th.use() as same:
            assert same is h264
            assert th.users == 2
        assert th.active
    assert not th.active
    assert th.users == 0
    assert h264.closed
    assert hub.subscribers == 0
    assert th.runs == 1


async def test_transcoding_hub_survives_an_encoder_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(self: MjpegTranscoder, frame: Frame) -> list[Frame]:
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr(MjpegTranscoder, "encode", boom)
    hub = MediaHub()
    pub = JpegPublisher(hub)
    pub.publish(1)
    th = TranscodingHub(hub)
    async with th.use() as h264:
        sub = h264.subscribe(10)
        # The run ends: its output hub closes, so the consumer's iteration ends.
        assert await asyncio.wait_for(sub.get(), 20) is None
        assert h264.closed
    assert not th.active
    assert hub.subscribers == 0


async def test_av_reads_h264_from_a_jpeg_source(server: MediaServer) -> None:
    hub = MediaHub()
    pub = JpegPublisher(hub)
    pub.publish(3)
    url = server.add_source("mjcam", hub, transcode=True)
    pub.start()
    try:
        name, size, packets, decoded = await _in_thread(read_with_av, url, 30)
        await _until(lambda: server.clients("mjcam") == 0)
    finally:
        await pub.stop()
    assert name == "h264"
    assert size == (640, 480)
    assert len(packets) == 30
    assert packets[0].is_keyframe
    assert decoded == 30
    assert all(b.dts > a.dts for a, b in itertools.pairwise(packets))
    # Transcoding stopped with the last client: only the server's publisher feeds the hub.
    await _until(lambda: hub.subscribers == 0)


async def test_jpeg_source_without_transcode_is_415(server: MediaServer) -> None:
    hub = MediaHub()
    JpegPublisher(hub).publish(1)
    url = server.add_source("mjcam", hub)
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 415
    assert hub.subscribers == 0


# -- B. multipart MJPEG ------------------------------------------------------------------


async def test_mjpeg_endpoint_streams_multipart(server: MediaServer) -> None:
    hub = MediaHub()
    pub = JpegPublisher(hub)
    pub.publish(1)
    server.add_source("mjcam", hub)
    url = server.url("mjcam", "mjpeg")
    assert "/mjcam.mjpeg?token=" in url
    base = f"http://127.0.0.1:{server.port}/mjcam.mjpeg"
    async with aiohttp.ClientSession() as http:
        for bad in (base, base + "?token=wrong"):
            async with http.get(bad) as resp:
                assert resp.status == 401
        async with http.get(url) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == (
                f"multipart/x-mixed-replace;boundary={MJPEG_BOUNDARY}"
            )
            reader = aiohttp.MultipartReader.from_response(resp)
            pub.start()
            parts = []
            for _ in range(3):
                part = await asyncio.wait_for(reader.next(), 20)
                assert isinstance(part, aiohttp.BodyPartReader)
                assert part.headers["Content-Type"] == "image/jpeg"
                parts.append(bytes(await asyncio.wait_for(part.read(), 20)))
    try:
        # The handler notices the client left at its next write.
        await _until(lambda: server.clients("mjcam") == 0)
    finally:
        await pub.stop()
    assert all(p in JPEGS for p in parts)
    assert parts[0] == JPEGS[0]  # starts with the latest frame at once


async def test_mjpeg_endpoint_refuses_h264_sources(server: MediaServer) -> None:
    hub = MediaHub()
    hub.publish(Frame(b"\x00\x00\x00\x01\x65", 2, 2, 0.0, 1, Codec.H264, True, 0))
    server.add_source("h264cam", hub)
    async with aiohttp.ClientSession() as http, http.get(server.url("h264cam", "mjpeg")) as resp:
        assert resp.status == 415


# -- C. tokens and LAN binding -----------------------------------------------------------


async def _status(url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status


async def test_rotate_token_refuses_the_old_one(server: MediaServer) -> None:
    hub = MediaHub()
    JpegPublisher(hub).publish(1)
    old = server.add_source("cam", hub)
    old_mjpeg = server.url("cam", "mjpeg")
    old_token = server.token("cam")
    new = server.rotate_token("cam")
    assert new != old
    assert server.token("cam") != old_token
    assert await _status(old_mjpeg) == 401
    assert await _status(server.url("cam", "mjpeg")) == 200
    # A stored token survives a restart: add_source(token=...) reuses it.
    chosen = "A" * 32
    assert server.rotate_token("cam", chosen).endswith("token=" + chosen)
    assert server.add_source("cam2", hub, token=chosen).endswith("token=" + chosen)
    with pytest.raises(ValueError, match="token"):
        server.rotate_token("cam", "short")
    with pytest.raises(ValueError, match="token"):
        server.add_source("cam3", hub, token="bad token with spaces")
    with pytest.raises(KeyError):
        server.rotate_token("nope")


async def test_rotate_token_ends_clients_of_the_old_token(server: MediaServer) -> None:
    hub = MediaHub()
    pub = JpegPublisher(hub)
    pub.publish(1)
    server.add_source("cam", hub)
    async with aiohttp.ClientSession() as http, http.get(server.url("cam", "mjpeg")) as resp:
        assert resp.status == 200
        await _until(lambda: server.clients("cam") == 1)
        server.rotate_token("cam")
        assert server.clients("cam") == 0
        await asyncio.wait_for(resp.read(), 20)  # the response ends


@pytest.fixture
def second_loopback(socket_enabled: None) -> None:
    """Let the test connect to 127.0.0.2 too (loopback; phcc allows only 127.0.0.1)."""
    pytest_socket.socket_allow_hosts(["127.0.0.1", "127.0.0.2"])


async def test_lan_server_on_another_address_checks_tokens(second_loopback: None) -> None:
    """A second server (the LAN restream) bound elsewhere: 127.0.0.2 stands in for the LAN."""
    local = MediaServer()
    lan = MediaServer("127.0.0.2", 0)
    await local.start()
    await lan.start()
    hub = MediaHub()
    pub = JpegPublisher(hub)
    pub.publish(3)
    try:
        url = lan.add_source("cam", hub, transcode=True)
        local.add_source("cam", hub)
        assert url.startswith(f"http://127.0.0.2:{lan.port}/cam.ts?token=")
        assert lan.token("cam") != local.token("cam")
        base = f"http://127.0.0.2:{lan.port}/cam"
        for bad in (
            f"{base}.ts",
            f"{base}.ts?token=",
            f"{base}.ts?token={local.token('cam')}",
            f"{base}.mjpeg",
            f"{base}.mjpeg?token=wrong",
        ):
            assert await _status(bad) == 401, bad
        assert await _status(url.replace("/cam.ts", "/other.ts")) == 404
        pub.start()
        name, size, packets, decoded = await _in_thread(read_with_av, url, 20)
        assert (name, size, len(packets), decoded) == ("h264", (640, 480), 20, 20)
    finally:
        await pub.stop()
        await lan.stop()
        await local.stop()


def _tcp_listen_addresses() -> set[str]:
    return {
        c.laddr.ip
        for c in psutil.Process().net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    }


async def test_default_server_listens_on_loopback_only() -> None:
    before = _tcp_listen_addresses()
    srv = MediaServer()
    await srv.start()
    try:
        srv.add_source("cam", MediaHub())
        during = _tcp_listen_addresses()
        assert during  # the server's socket is seen
        assert during <= {"127.0.0.1"}, during
        assert srv.url("cam").startswith(f"http://127.0.0.1:{srv.port}/")
    finally:
        await srv.stop()
    assert before <= {"127.0.0.1"}, before
