"""The protocol CLI as a subprocess against an emulated TEG camera on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import itertools
import json
import os
import signal
import sys

import pytest

from custom_components.chinesium.protocol.jpeg import jpeg_size
from fakecam.teg import TegCamera, TegCameraConfig

pytestmark = pytest.mark.usefixtures("socket_enabled")

LOOPBACK = "127.0.0.1"
UID = "EMUCAM1-0123456789AB-C0FFEE"
CLI = [sys.executable, "-m", "custom_components.chinesium.protocol"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
async def cam() -> AsyncIterator[TegCamera]:
    """One emulated TEG camera on ephemeral loopback ports."""
    camera = TegCamera(
        TegCameraConfig(host=LOOPBACK, discovery_port=0, session_port=0, uid=UID, fps=30.0)
    )
    await camera.start()
    yield camera
    await camera.stop()


async def run_cli(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def split_jpegs(data: bytes) -> list[bytes]:
    """Split concatenated JPEGs by walking their segments (marker bytes may hide in COM/APP)."""
    parts = []
    pos = 0
    while pos < len(data):
        assert data[pos : pos + 2] == b"\xff\xd8", f"no SOI at {pos}"
        i = pos + 2
        while True:  # header segments up to start-of-scan
            assert data[i] == 0xFF, f"bad marker at {i}"
            marker = data[i + 1]
            seg_len = int.from_bytes(data[i + 2 : i + 4], "big")
            i += 2 + seg_len
            if marker == 0xDA:
                break
        while True:  # entropy-coded data: FF is followed by 00 or RSTn, except at EOI
            i = data.index(b"\xff", i)
            if data[i + 1] == 0xD9:
                break
            i += 2
        parts.append(data[pos : i + 2])
        pos = i + 2
    return parts


async def test_cli_discover(cam: TegCamera) -> None:
    proc = await run_cli(
        "discover",
        "--host",
        f"{LOOPBACK}:{cam.discovery_port}",
        "--family",
        "teg",
        "--timeout",
        "0.5",
    )
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert len(lines) == 1, lines
    fields = lines[0].split("\t")
    assert fields == [UID, "teg", "-", f"{LOOPBACK}:{cam.session_port}", "supported"]


async def test_cli_stream_frames(cam: TegCamera) -> None:
    proc = await run_cli(
        "stream",
        f"{LOOPBACK}:{cam.discovery_port}",
        "--family",
        "teg",
        "--timeout",
        "0.4",
        "--frames",
        "5",
        "--stats",
    )
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    parts = split_jpegs(out)
    assert len(parts) == 5
    for part in parts:
        assert part[:2] == b"\xff\xd8"
        assert part[-2:] == b"\xff\xd9"
        assert jpeg_size(part) == (640, 480)
    stats = json.loads(err.decode().strip().splitlines()[-1])
    assert stats["frames_written"] == 5
    assert stats["frames_ok"] >= 5
    await asyncio.sleep(0.2)
    assert cam.client_count == 0  # the CLI said goodbye


async def test_cli_stream_sigint_exits_cleanly(cam: TegCamera) -> None:
    proc = await run_cli(
        "stream", f"{LOOPBACK}:{cam.discovery_port}", "--family", "teg", "--timeout", "0.4"
    )
    assert proc.stdout is not None
    first = await asyncio.wait_for(proc.stdout.readexactly(2), 20)
    assert first == b"\xff\xd8"
    await asyncio.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    rest, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    parts = split_jpegs(first + rest)
    assert len(parts) >= 2
    assert all(p[:2] == b"\xff\xd8" and p[-2:] == b"\xff\xd9" for p in parts)
    assert all(jpeg_size(p) == (640, 480) for p in parts)
    assert b"Traceback" not in err


async def test_cli_stream_broken_pipe(cam: TegCamera) -> None:
    proc = await run_cli(
        "stream",
        f"{LOOPBACK}:{cam.discovery_port}",
        "--family",
        "teg",
        "--timeout",
        "0.4",
        "--seconds",
        "10",
    )
    assert proc.stdout is not None
    await asyncio.wait_for(proc.stdout.readexactly(1000), 20)
    proc.stdout.feed_eof()
    transport = proc._transport  # type: ignore[attr-defined]
    transport.get_pipe_transport(1).close()  # the reader goes away
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err


async def test_cli_stream_no_camera() -> None:
    proc = await run_cli("stream", f"{LOOPBACK}:9", "--family", "teg", "--timeout", "0.3")
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1
    assert b"no camera" in err


async def test_cli_stream_h264_camera_writes_mpegts() -> None:
    """``stream`` against an emulated VStarcam (H.264) writes MPEG-TS that PyAV decodes
    frame by frame, with strictly increasing timestamps."""
    import io

    import av

    from fakecam.pppp import PpppCamera, PpppCameraConfig

    camera = PpppCamera(
        PpppCameraConfig(
            host=LOOPBACK, port=0, duid="VSTC-123456-ABCDE", app="vstarcam", stream_seconds=30
        )
    )
    await camera.start()
    try:
        host, port = camera.discovery_target
        proc = await run_cli(
            "stream", f"{host}:{port}", "--family", "pppp", "--timeout", "1", "--frames", "40"
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        await camera.stop()
    assert proc.returncode == 0, err.decode()
    assert out[:1] == b"\x47"
    with av.open(io.BytesIO(out), format="mpegts") as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        dts: list[int] = []
        decoded = 0
        for packet in container.demux(stream):
            if packet.dts is None:
                continue
            dts.append(packet.dts)
            decoded += len(packet.decode())
    assert decoded >= 30
    assert all(b > a for a, b in itertools.pairwise(dts))
