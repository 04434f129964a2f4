"""CLI ``stream``: MPEG-TS for H.264/H.265 sessions, MJPEG for JPEG ones (fake frame source)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import dataclasses
import os
from pathlib import Path
import sys
from typing import Any

import pytest

from custom_components.chinesium.protocol import (
    CameraInfo,
    Family,
    Frame,
    SessionStats,
    __main__ as cli,
)
from custom_components.chinesium.protocol.model import Codec

from .media_helpers import h26x_frames
from .test_media_mpegts import check_ts


def write_frames(tmp_path: Path, frames: list[Frame]) -> tuple[bytes, cli.FrameWriter]:
    path = tmp_path / "out.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        writer = cli.FrameWriter(fd)
        for f in frames:
            writer.write(f)
        writer.close()
        writer.close()  # idempotent
    finally:
        os.close(fd)
    return path.read_bytes(), writer


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_writer_muxes_h26x_into_mpegts(tmp_path: Path, codec: Codec) -> None:
    frames = h26x_frames(codec, count=40, gop=15)
    data, writer = write_frames(tmp_path, frames[3:])  # starts mid-GOP
    assert writer.format == "mpegts"
    assert writer.written == 25  # frames 16-40
    check_ts(data, codec, (640, 480), 25)


def test_writer_keeps_jpeg_as_mjpeg(tmp_path: Path) -> None:
    jpegs = [Frame(b"\xff\xd8" + bytes([i]) * 10 + b"\xff\xd9", 1, 1, 0.0, i) for i in range(3)]
    stray = h26x_frames(Codec.H264, count=1)[0]  # another codec later: skipped
    data, writer = write_frames(tmp_path, [*jpegs, stray])
    assert writer.format == "mjpeg"
    assert writer.written == 3
    assert data == b"".join(j.data for j in jpegs)


class FakeSession:
    """Just what the CLI uses of a CameraSession; replays frames to listeners."""

    def __init__(self, frames: list[Frame]) -> None:
        self.frames = frames
        self.stats = SessionStats()
        self.closed = False
        self._task: asyncio.Task[None] | None = None
        self._ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def add_frame_listener(self, listener: Callable[[Frame], None]) -> Callable[[], None]:
        async def feed() -> None:
            for f in self.frames:
                self.stats.frames_ok += 1
                listener(f)
                await asyncio.sleep(0)

        self._task = asyncio.create_task(feed())
        return lambda: None

    async def wait_closed(self) -> None:
        await self._ended

    async def close(self) -> None:
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def run_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, frames: list[Frame], *args: str
) -> tuple[int, bytes, FakeSession]:
    info = CameraInfo(uid="FAKE", host="127.0.0.1", port=9, family=Family.PPPP, app_layer="x")
    sessions: list[FakeSession] = []

    async def fake_discover(*_a: Any, **_k: Any) -> list[CameraInfo]:
        return [info]

    async def fake_open_session(*_a: Any, **_k: Any) -> FakeSession:
        sessions.append(FakeSession(frames))
        return sessions[0]

    monkeypatch.setattr(cli, "discover", fake_discover)
    monkeypatch.setattr(cli, "open_session", fake_open_session)
    out = tmp_path / "stdout.bin"
    with out.open("wb") as fh:
        monkeypatch.setattr(sys, "stdout", fh)
        rc = cli.main(["stream", "127.0.0.1", "--stats", *args])
    return rc, out.read_bytes(), sessions[0]


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_stream_writes_mpegts_for_h26x_session(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    codec: Codec,
) -> None:
    frames = h26x_frames(codec, count=40, gop=15)
    frames[10] = dataclasses.replace(frames[10], pts=frames[9].pts)  # camera clock repeat
    rc, data, session = run_cli(monkeypatch, tmp_path, frames, "--frames", "30")
    assert rc == 0
    assert session.closed
    check_ts(data, codec, (640, 480), 30)
    err = capfd.readouterr().err
    assert "writing mpegts to stdout" in err
    assert '"format": "mpegts"' in err
    assert '"frames_written": 30' in err


def test_stream_writes_mjpeg_for_jpeg_session(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    jpegs = [Frame(b"\xff\xd8" + bytes([i]) * 8 + b"\xff\xd9", 1, 1, 0.0, i) for i in range(10)]
    rc, data, _ = run_cli(monkeypatch, tmp_path, jpegs, "--frames", "5")
    assert rc == 0
    assert data == b"".join(j.data for j in jpegs[:5])
    assert "writing mjpeg to stdout" in capfd.readouterr().err
