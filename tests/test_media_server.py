"""MediaServer: MPEG-TS over HTTP on 127.0.0.1, read by aiohttp and by libavformat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
import itertools
import threading
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import av
import pytest

from custom_components.chinesium.protocol.media import MediaHub
from custom_components.chinesium.protocol.media.server import MediaServer
from custom_components.chinesium.protocol.model import Codec, Frame

from .media_helpers import h26x_frames
from .test_media_mpegts import AV_NAME, check_ts

pytestmark = pytest.mark.usefixtures("socket_enabled")


class Publisher:
    """Replays a GOP loop into a hub with increasing camera pts until stopped."""

    def __init__(self, hub: MediaHub, codec: Codec, size: tuple[int, int] = (640, 480)) -> None:
        self.hub = hub
        self.frames = h26x_frames(codec, width=size[0], height=size[1], count=30, gop=15)
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    def publish(self, n: int) -> None:
        for _ in range(n):
            f = self.frames[self.count % len(self.frames)]
            self.hub.publish(
                Frame(f.data, f.width, f.height, f.timestamp, self.count + 1, f.codec,
                      f.keyframe, 5000 + self.count * 66)
            )  # fmt: skip
            self.count += 1

    def start(self, interval: float = 0.005) -> None:
        async def run() -> None:
            while True:
                self.publish(1)
                await asyncio.sleep(interval)

        self._task = asyncio.create_task(run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


@pytest.fixture
async def server() -> AsyncIterator[MediaServer]:
    srv = MediaServer()
    await srv.start()
    yield srv
    await srv.stop()


def read_with_av(url: str, packets: int) -> tuple[str, tuple[int, int], list[Any], int]:
    """What HA's stream worker does: av.open(url) and demux (runs in a thread)."""
    container: Any = av.open(url, timeout=20)
    try:
        stream = container.streams.video[0]
        ctx: Any = av.CodecContext.create(stream.codec_context.name, "r")
        ctx.thread_count = 1
        got: list[Any] = []
        decoded = 0
        for p in container.demux(stream):
            if not p.size:
                continue
            got.append(p)
            decoded += len(ctx.decode(av.Packet(bytes(p))))
            if len(got) >= packets:
                break
        decoded += len(ctx.decode(None))
        size = (stream.codec_context.width, stream.codec_context.height)
        return stream.codec_context.name, size, got, decoded
    finally:
        container.close()


async def test_url_binds_loopback_with_token(server: MediaServer) -> None:
    hub = MediaHub()
    url = server.add_source("cam1", hub)
    parts = urlsplit(url)
    assert parts.scheme == "http"
    assert parts.hostname == "127.0.0.1"
    assert parts.port == server.port
    assert server.port > 0
    assert parts.path == "/cam1.ts"
    assert parts.query.startswith("token=")
    assert len(parts.query) > len("token=") + 20
    other = server.add_source("cam2", MediaHub())
    assert urlsplit(other).query != parts.query
    with pytest.raises(ValueError):
        server.add_source("../x", hub)


async def test_not_started_and_bad_requests(server: MediaServer) -> None:
    with pytest.raises(RuntimeError):
        MediaServer().add_source("cam", MediaHub())
    url = server.add_source("cam", MediaHub())
    base = f"http://127.0.0.1:{server.port}"
    jpeg_hub = MediaHub()
    jpeg_hub.publish(Frame(b"\xff\xd8\xff\xd9", 1, 1, 0.0, 1))
    jpeg_url = server.add_source("mjpeg", jpeg_hub)
    async with aiohttp.ClientSession() as http:
        for target, status in [
            (f"{base}/cam.ts", 401),
            (f"{base}/cam.ts?token=wrong", 401),
            (url.replace("/cam.ts", "/nope.ts"), 404),
            (f"{base}/cam.mp4", 404),
            (jpeg_url, 415),
        ]:
            async with http.get(target) as resp:
                assert resp.status == status, target
        server.remove_source("cam")
        async with http.get(url) as resp:
            assert resp.status == 404


@pytest.mark.parametrize(
    ("codec", "min_backlog", "expected"),
    [
        (Codec.H264, 0, 30),  # cached GOP only: frames 16-45
        (Codec.H265, 0, 30),
        (Codec.H264, 24, 45),  # 5 cached < 24: the previous GOP too, frames 1-45
        (Codec.H265, 24, 45),
    ],
)
async def test_aiohttp_client_gets_ts_from_cached_gop(
    codec: Codec, min_backlog: int, expected: int
) -> None:
    server = MediaServer(min_backlog=min_backlog)
    await server.start()
    hub = MediaHub()
    pub = Publisher(hub, codec)
    pub.publish(20)  # cached GOP: frames 16-20 (5 frames), previous GOP 1-15
    url = server.add_source("cam", hub)
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "video/mp2t"
            assert resp.headers.get("Transfer-Encoding") == "chunked"
            data = bytearray()
            while len(data) < 188:
                data += await asyncio.wait_for(resp.content.read(65536), 10)
            assert server.clients("cam") == 1
            pub.publish(25)  # through frame 45
            assert hub.subscribers == 1
            async with asyncio.timeout(10):
                while hub.as_dict()["subscribers"][0]["delivered"] < expected:  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
            server.remove_source("cam")  # ends the response
            data += await asyncio.wait_for(resp.content.read(), 10)
    finally:
        await server.stop()
    check_ts(bytes(data), codec, (640, 480), expected)
    assert hub.subscribers == 0


@pytest.mark.parametrize(
    ("codec", "size"),
    [(Codec.H264, (640, 480)), (Codec.H264, (1280, 720)), (Codec.H265, (640, 480))],
)
async def test_av_open_reads_the_url(
    server: MediaServer, codec: Codec, size: tuple[int, int]
) -> None:
    hub = MediaHub()
    pub = Publisher(hub, codec, size)
    pub.publish(10)
    url = server.add_source("cam", hub)
    pub.start()
    pool = ThreadPoolExecutor(1)
    try:
        name, got_size, packets, decoded = await asyncio.wait_for(
            asyncio.get_running_loop().run_in_executor(pool, read_with_av, url, 40), 60
        )
    finally:
        pool.shutdown(wait=True)
        await pub.stop()
    assert name == AV_NAME[codec]
    assert got_size == size
    assert len(packets) == 40
    assert packets[0].is_keyframe
    assert decoded == 40
    assert all(b.dts > a.dts for a, b in itertools.pairwise(packets))
    # Starts at the cached GOP: the first packet is the keyframe of frames 1-10 (seq 1).
    assert packets[1].dts - packets[0].dts == 66 * 90


async def test_stop_wakes_parked_handlers_and_leaves_nothing(socket_enabled: None) -> None:
    threads_before = set(threading.enumerate())
    tasks_before = asyncio.all_tasks()
    srv = MediaServer()
    await srv.start()
    hub = MediaHub()
    pub = Publisher(hub, Codec.H264)
    pub.publish(3)
    url = srv.add_source("cam", hub)
    http = aiohttp.ClientSession()
    try:
        responses = [await http.get(url) for _ in range(3)]
        for resp in responses:
            assert resp.status == 200
            assert (await asyncio.wait_for(resp.content.read(188), 10))[0] == 0x47
        assert srv.clients("cam") == 3
        # No new frames: the three handlers are parked in their subscription.
        async with asyncio.timeout(10):
            await srv.stop()
        assert not srv.running
        assert srv.clients("cam") == 0
        assert hub.subscribers == 0
        for resp in responses:
            rest = await asyncio.wait_for(resp.content.read(), 10)
            assert len(rest) % 188 == 0
            resp.release()
    finally:
        await http.close()
    assert not hub.closed  # the hub belongs to the camera, not to the server
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == tasks_before
    assert set(threading.enumerate()) == threads_before
    await srv.stop()  # idempotent
    # The port is released: a new server can start and serve again.
    await srv.start()
    try:
        assert srv.port > 0
    finally:
        await srv.stop()


async def test_client_that_goes_away_is_cleaned_up(server: MediaServer) -> None:
    hub = MediaHub()
    pub = Publisher(hub, Codec.H264)
    pub.publish(5)
    url = server.add_source("cam", hub)
    async with aiohttp.ClientSession() as http:
        resp = await http.get(url)
        await asyncio.wait_for(resp.content.read(188), 10)
        resp.close()  # drop the connection
    pub.start(interval=0.01)
    try:
        async with asyncio.timeout(10):
            while hub.subscribers:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        await pub.stop()
    assert server.clients("cam") == 0
