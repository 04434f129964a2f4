"""TEG controls (teg.md §5.3) round-tripped against the emulator; effects checked in frames."""

from __future__ import annotations

from collections.abc import AsyncIterator

from PIL import Image
import pytest

from custom_components.chinesium.protocol import (
    CameraInfo,
    CameraTimeoutError,
    Capability,
    Family,
    NightMode,
    PtzDirection,
    SessionClosedError,
    UnsupportedCommandError,
    open_session,
)
from custom_components.chinesium.protocol.teg.session import TEG_CAPABILITIES, TegSession
from fakecam.frames import FrameSource
from fakecam.teg import TegCamera

from .controls_helpers import decode, diff, greyness, shifted, wait_picture
from .helpers import LOOPBACK, UID, CamFactory, TegCameras, loopback_options

pytestmark = pytest.mark.usefixtures("socket_enabled")

OPTS = loopback_options(connect_timeout=1.5, keepalive_interval=0.3, silence_timeout=1.5)
ONE_PICTURE = FrameSource(count=1)
"""Every frame shows the same picture, so an effect can be compared with the plain one."""


@pytest.fixture
async def make_cam() -> AsyncIterator[CamFactory]:
    cams = TegCameras()
    yield cams.start
    await cams.stop()


async def _open(cam: TegCamera) -> TegSession:
    info = CameraInfo(uid=UID, host=LOOPBACK, port=cam.session_port, family=Family.TEG)
    session = await open_session(info, options=OPTS)
    assert isinstance(session, TegSession)
    return session


async def test_capabilities_and_values(make_cam: CamFactory) -> None:
    cam = await make_cam(frames=ONE_PICTURE)
    session = await _open(cam)
    try:
        assert session.capabilities == TEG_CAPABILITIES
        assert Capability.LIGHT not in session.capabilities
        assert session.night_modes == (NightMode.ON, NightMode.OFF)
        assert "640x480" in session.resolutions
        with pytest.raises(UnsupportedCommandError):
            await session.set_light(True)
        with pytest.raises(UnsupportedCommandError):
            await session.set_night_mode(NightMode.AUTO)
        state = await session.refresh_state()
        assert (state.flip, state.mirror, state.resolution) == (False, False, "640x480")
        assert await session.control(0x09, 10) == 1  # a patrol: the emulator says "error"
    finally:
        await session.close()


async def test_ptz_moves_the_picture(make_cam: CamFactory) -> None:
    cam = await make_cam(frames=ONE_PICTURE)
    session = await _open(cam)
    try:
        base = decode(await session.next_frame())
        await session.ptz(PtzDirection.RIGHT, steps=1)
        pan = cam.controls.pan
        assert pan >= 1
        assert cam.controls.tilt == 0
        want = shifted(base, pan, 0)
        await wait_picture(session, lambda img: diff(img, want) < 6, "the pan")
        await session.ptz(PtzDirection.UP, duration=0.3)
        assert cam.controls.tilt >= 1
        await session.ptz(PtzDirection.LEFT)  # keeps moving until STOP
        await session.ptz(PtzDirection.STOP)
        assert cam.controls.pan < pan
        assert not any(cam.controls._move)
    finally:
        await session.close()


async def test_flip_mirror_night_resolution(make_cam: CamFactory) -> None:
    cam = await make_cam(frames=ONE_PICTURE)
    session = await _open(cam)
    try:
        base = decode(await session.next_frame())
        await session.set_flip(True)
        assert cam.flip == 1
        flipped = base.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        await wait_picture(session, lambda img: diff(img, flipped) < 6, "the flip")
        assert diff(base, flipped) > 20
        await session.set_mirror(True)
        assert cam.flip == 3
        both = flipped.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        await wait_picture(session, lambda img: diff(img, both) < 6, "flip + mirror")
        state = await session.refresh_state()
        assert (state.flip, state.mirror) == (True, True)
        await session.set_flip(False)
        await session.set_mirror(False)
        assert cam.flip == 0

        assert greyness(base) > 50
        await session.set_night_mode(NightMode.ON)
        await wait_picture(session, lambda img: greyness(img) <= 3, "night mode (grey)")
        assert session.state.night_mode is NightMode.ON
        await session.set_night_mode(NightMode.OFF)
        await wait_picture(session, lambda img: greyness(img) > 50, "day mode (colour)")

        await session.set_resolution("320x240")
        await wait_picture(session, lambda img: img.size == (320, 240), "320x240")
        state = await session.refresh_state()
        assert state.resolution == "320x240"
        frame = await session.next_frame()
        assert (frame.width, frame.height) == (320, 240)
        with pytest.raises(ValueError, match="resolution"):
            await session.set_resolution("1x1")
    finally:
        await session.close()


async def test_unsupported_answer_removes_the_capability(make_cam: CamFactory) -> None:
    cam = await make_cam(frames=ONE_PICTURE, unsupported_ctls=frozenset({0x09}))
    session = await _open(cam)
    try:
        with pytest.raises(UnsupportedCommandError):
            await session.ptz(PtzDirection.LEFT, steps=1)
        assert Capability.PTZ not in session.capabilities
        with pytest.raises(UnsupportedCommandError):
            await session.ptz(PtzDirection.LEFT)
        await session.next_frame()  # video still flows
    finally:
        await session.close()


async def test_unanswered_command_times_out_and_video_flows(make_cam: CamFactory) -> None:
    cam = await make_cam(frames=ONE_PICTURE, mute_ctls=frozenset({0x13}))
    session = await _open(cam)
    try:
        with pytest.raises(CameraTimeoutError, match="0x13"):
            await session.set_night_mode(NightMode.ON)
        assert session.connected
        seq = (await session.next_frame()).seq
        assert (await session.next_frame()).seq > seq
        await session.set_flip(True)  # the next command still works
        assert cam.flip == 1
    finally:
        await session.close()


async def test_reboot_ends_the_session(make_cam: CamFactory) -> None:
    cam = await make_cam(frames=ONE_PICTURE)
    session = await _open(cam)
    try:
        await session.set_flip(True)
        await session.reboot()
        with pytest.raises(SessionClosedError, match="rebooting"):
            await session.wait_closed()
        assert cam.reboots == 1
        assert cam.flip == 0  # power-on defaults
        with pytest.raises(SessionClosedError):
            await session.set_flip(True)
    finally:
        await session.close()
    session = await _open(cam)  # the camera is back
    try:
        await session.next_frame()
    finally:
        await session.close()
