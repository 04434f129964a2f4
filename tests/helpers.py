"""Helpers shared by the loopback session and fault tests (a plain module, no fixtures)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import io
import socket
from typing import Any

from PIL import Image
import pytest

from custom_components.chinesium.protocol import CameraSession, Frame, SessionOptions
from fakecam.teg import TegCamera, TegCameraConfig

LOOPBACK = "127.0.0.1"
UID = "EMUCAM1-0123456789AB-C0FFEE"
PPPP_OPTS = SessionOptions(
    connect_timeout=2.0,
    keepalive_interval=0.2,
    silence_timeout=3.0,
    first_frame_timeout=10.0,
    local_host=LOOPBACK,
)
"""Session options for PPPP sessions against the emulator (DRW media needs a little slack)."""

type CamFactory = Callable[..., Awaitable[TegCamera]]


def loopback_options(**timing: Any) -> SessionOptions:
    """Session options bound to 127.0.0.1, 2 s first-frame timeout; ``timing`` sets the rest."""
    timing.setdefault("first_frame_timeout", 2.0)
    return SessionOptions(local_host=LOOPBACK, **timing)


class TegCameras:
    """Emulated TEG cameras on 127.0.0.1 ephemeral ports; :meth:`stop` ends them all."""

    def __init__(self) -> None:
        """No camera yet."""
        self.cams: list[TegCamera] = []

    async def start(self, **kw: Any) -> TegCamera:
        """Start one camera (30 fps unless ``fps`` is given)."""
        kw.setdefault("fps", 30.0)
        cam = TegCamera(TegCameraConfig(host=LOOPBACK, uid=UID, **kw))
        await cam.start()
        self.cams.append(cam)
        return cam

    async def stop(self) -> None:
        """Stop every camera started here."""
        for cam in self.cams:
            await cam.stop()


class SessionRecorder[S: CameraSession]:
    """Sessions of one test with the frames each delivered; :meth:`close` ends them."""

    def __init__(self) -> None:
        """No session yet."""
        self.sessions: list[S] = []
        self.frames: dict[int, list[Frame]] = {}

    def track(self, session: S) -> S:
        """Record ``session``'s frames from now on (see :meth:`of`)."""
        self.sessions.append(session)
        got: list[Frame] = []
        self.frames[id(session)] = got
        session.add_frame_listener(got.append)
        return session

    def of(self, session: S) -> list[Frame]:
        """The frames ``session`` delivered so far."""
        return self.frames[id(session)]

    async def close(self) -> None:
        """Close every tracked session."""
        for session in self.sessions:
            await session.close()


async def collect(session: CameraSession, n: int, within: float = 5.0) -> list[Frame]:
    """Wait up to ``within`` seconds for ``n`` more frames from ``session``."""
    frames: list[Frame] = []
    done = asyncio.Event()

    def on_frame(frame: Frame) -> None:
        frames.append(frame)
        if len(frames) >= n:
            done.set()

    unsub = session.add_frame_listener(on_frame)
    try:
        async with asyncio.timeout(within):
            await done.wait()
    finally:
        unsub()
    return frames


async def session_end(session: CameraSession, seconds: float) -> BaseException:
    """Wait up to ``seconds`` for ``session`` to end; return why (it must raise)."""
    with pytest.raises(Exception) as info:
        async with asyncio.timeout(seconds):
            await session.wait_closed()
    return info.value


def assert_decodes(jpeg: bytes, size: tuple[int, int] = (640, 480)) -> None:
    """Pillow fully decodes ``jpeg`` (not just right markers) to a ``size`` picture."""
    with Image.open(io.BytesIO(jpeg)) as img:
        img.load()
        assert img.size == size


def assert_strictly_increasing(values: list[int]) -> None:
    """``values`` are in order without repeats."""
    assert values == sorted(set(values))


def free_udp_port() -> int:
    """A loopback UDP port nobody listens on (just released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])
