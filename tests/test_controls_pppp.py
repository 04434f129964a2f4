"""PPPP controls (pppp.md §6.2-§6.4) round-tripped against the emulator.

SHIX and iLnk stream JPEGs: each command's effect is checked in the frames.
VStarcam streams a pre-encoded H.264 loop: there the effect is checked in the
state the camera reports (get_camera_params.cgi).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from PIL import Image
import pytest

from custom_components.chinesium.protocol import (
    CameraInfo,
    CameraRejectedError,
    CameraTimeoutError,
    Capability,
    ChinesiumError,
    Family,
    MalformedPacketError,
    NightMode,
    PtzDirection,
    SessionClosedError,
    SessionOptions,
    UnsupportedCommandError,
)
from custom_components.chinesium.protocol.pppp.apps.ilnk import ILNK_CAPABILITIES
from custom_components.chinesium.protocol.pppp.apps.layers import AppLayer
from custom_components.chinesium.protocol.pppp.apps.registry import REGISTRY
from custom_components.chinesium.protocol.pppp.apps.shix import SHIX_CAPABILITIES
from custom_components.chinesium.protocol.pppp.apps.vstarcam import VSTARCAM_CAPABILITIES
from custom_components.chinesium.protocol.pppp.session import PpppSession
from fakecam.frames import FrameSource
from fakecam.pppp import PpppCamera, PpppCameraConfig

from .controls_helpers import brightness, decode, diff, greyness, shifted, wait_picture

pytestmark = pytest.mark.usefixtures("socket_enabled")

DUID = "ABCD-123456-VWXYZ"
OPTS = SessionOptions(
    connect_timeout=1.0,
    keepalive_interval=0.2,
    silence_timeout=1.5,
    first_frame_timeout=4.0,
    local_host="127.0.0.1",
)
ONE_PICTURE = FrameSource(count=1)


@asynccontextmanager
async def camera(app: str, **kw: Any) -> AsyncIterator[PpppCamera]:
    kw.setdefault("frames", ONE_PICTURE)
    cam = PpppCamera(PpppCameraConfig(host="127.0.0.1", port=0, duid=DUID, app=app, **kw))
    await cam.start()
    try:
        yield cam
    finally:
        await cam.stop()


@asynccontextmanager
async def session_of(cam: PpppCamera) -> AsyncIterator[PpppSession]:
    info = CameraInfo(DUID, "127.0.0.1", cam.port, Family.PPPP, app_layer=cam.config.app)
    session = PpppSession(info, options=OPTS)
    await session.start()
    try:
        yield session
    finally:
        await session.close()


def test_registry_lists_the_layer_capabilities() -> None:
    assert REGISTRY[AppLayer.SHIX].capabilities == SHIX_CAPABILITIES
    assert REGISTRY[AppLayer.ILNK].capabilities == ILNK_CAPABILITIES
    assert REGISTRY[AppLayer.VSTARCAM].capabilities == VSTARCAM_CAPABILITIES
    assert REGISTRY[AppLayer.LOOKCAM].capabilities == frozenset()
    assert Capability.FLIP not in SHIX_CAPABILITIES
    assert Capability.LIGHT not in VSTARCAM_CAPABILITIES


async def _check_jpeg_commands(cam: PpppCamera, session: PpppSession) -> None:
    """PTZ, night mode, light (and flip/mirror where offered) show in the frames."""
    base = decode(await session.next_frame())
    await session.ptz(PtzDirection.RIGHT, steps=1)
    pan = cam.controls.pan
    assert pan >= 1
    want = shifted(base, pan, 0)
    await wait_picture(session, lambda img: diff(img, want) < 6, "the pan")
    await session.ptz(PtzDirection.DOWN, duration=0.2)
    assert cam.controls.tilt <= -1
    await session.ptz(PtzDirection.STOP)
    assert not any(cam.controls._move)
    pan, tilt = cam.controls.pan, cam.controls.tilt
    want = shifted(base, pan, tilt)
    await wait_picture(session, lambda img: diff(img, want) < 6, "pan + tilt")

    await session.ptz(PtzDirection.LEFT, steps=2)
    await session.ptz(PtzDirection.UP, steps=2)
    base = decode(await session.next_frame())  # wherever it is now: the new reference

    await session.set_night_mode(NightMode.ON)
    assert session.state.night_mode is NightMode.ON
    await wait_picture(session, lambda img: greyness(img) <= 3, "night mode (grey)")
    await session.set_night_mode(NightMode.OFF)
    await wait_picture(session, lambda img: greyness(img) > 50, "day mode (colour)")

    if Capability.LIGHT in session.capabilities:
        dim = brightness(base)
        await session.set_light(True)
        assert cam.controls.light
        await wait_picture(session, lambda img: brightness(img) > dim + 30, "the light")
        await session.set_light(False)
        await wait_picture(session, lambda img: diff(img, base) < 6, "the light off")

    if Capability.FLIP in session.capabilities:
        await session.set_flip(True)
        flipped = base.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        await wait_picture(session, lambda img: diff(img, flipped) < 6, "the flip")
        await session.set_mirror(True)
        both = flipped.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        await wait_picture(session, lambda img: diff(img, both) < 6, "flip + mirror")
        assert cam.controls.orientation_bits == 3
        await session.set_flip(False)
        await session.set_mirror(False)
        assert cam.controls.orientation_bits == 0

    await session.set_resolution("320x240")
    await wait_picture(session, lambda img: img.size == (320, 240), "320x240")
    await session.set_resolution("640x480")
    await wait_picture(session, lambda img: img.size == (640, 480), "640x480")


async def test_shix_commands_and_state() -> None:
    async with camera("shix") as cam, session_of(cam) as session:
        assert session.capabilities == SHIX_CAPABILITIES
        with pytest.raises(UnsupportedCommandError):
            await session.set_flip(True)
        state = await session.refresh_state()
        assert state.firmware == "FAKECAM_PPPP_SHIX 1.0"
        assert session.facts.firmware == "FAKECAM_PPPP_SHIX 1.0"
        assert (state.battery_percent, state.charging, state.wifi_percent) == (87, True, 80)
        assert (state.flip, state.mirror, state.light) == (False, False, False)
        assert NightMode.AUTO in session.night_modes  # the camera reports isShowIcutAuto
        await _check_jpeg_commands(cam, session)
        await session.set_light(True)
        cam.controls.set_orientation(True, False)  # e.g. set in the vendor app
        state = await session.refresh_state()
        assert (state.light, state.flip, state.mirror) == (True, True, False)
        await session.set_night_mode(NightMode.AUTO)
        assert cam.controls.night_mode == "auto"
        state = await session.refresh_state()
        assert state.night_mode is NightMode.AUTO


async def test_ilnk_commands_and_state() -> None:
    async with camera("ilnk") as cam, session_of(cam) as session:
        assert session.capabilities == ILNK_CAPABILITIES
        state = await session.refresh_state()
        assert state.firmware == "1.0.0.1"
        assert session.facts.firmware == "1.0.0.1"
        assert (state.battery_mv, state.charging, state.wifi_dbm) == (3950, True, -55)
        with pytest.raises(UnsupportedCommandError):
            await session.set_night_mode(NightMode.AUTO)
        await _check_jpeg_commands(cam, session)
        await session.set_night_mode(NightMode.ON)
        state = await session.refresh_state()
        assert state.night_mode is NightMode.ON


async def test_vstarcam_commands_in_reported_state() -> None:
    async with camera("vstarcam", frames=None, stream_seconds=0) as cam, session_of(cam) as session:
        assert session.capabilities == VSTARCAM_CAPABILITIES
        with pytest.raises(UnsupportedCommandError):
            await session.set_light(True)
        state = await session.refresh_state()
        assert state.firmware == "48.60.64.187"
        assert (state.flip, state.mirror, state.resolution) == (False, False, "640x480")
        await session.ptz(PtzDirection.LEFT, steps=1)
        assert cam.controls.pan == -1  # onestep: the camera stopped by itself
        assert not any(cam.controls._move)
        await session.ptz(PtzDirection.UP, duration=0.1)
        assert cam.controls.tilt >= 1
        assert not any(cam.controls._move)
        await session.set_flip(True)
        await session.set_mirror(True)
        await session.set_night_mode(NightMode.ON)
        await session.set_resolution("320x240")
        session.state = type(session.state)()  # forget what we set: read it back
        state = await session.refresh_state()
        assert (state.flip, state.mirror) == (True, True)
        assert state.night_mode is NightMode.ON
        assert state.resolution == "320x240"
        frame = await session.next_frame()  # the H.264 video kept flowing
        assert frame.codec.value == "h264"


async def test_battery_fields_absent_narrow_the_capabilities() -> None:
    async with camera("shix", battery=False) as cam, session_of(cam) as session:
        await session.refresh_state()
        caps = session.capabilities
        assert Capability.BATTERY not in caps
        assert Capability.WIFI_SIGNAL not in caps
        assert Capability.PTZ in caps
        assert session.state.battery_percent is None
    async with camera("ilnk", battery=False) as cam, session_of(cam) as session:
        await session.refresh_state()
        assert Capability.BATTERY not in session.capabilities
        assert session.state.wifi_dbm is None


@pytest.mark.parametrize(
    ("app", "command", "call", "error"),
    [
        ("shix", "shix:ptz_control:128", "ptz", CameraTimeoutError),
        ("shix", "shix:get_parms:101", "state", CameraTimeoutError),
        ("ilnk", "ilnk:0x1008", "state", MalformedPacketError),
        ("ilnk", "ilnk:0x300a", "night", MalformedPacketError),
        ("vstarcam", "vstarcam:get_camera_params.cgi", "state", CameraTimeoutError),
        ("vstarcam", "vstarcam:camera_control.cgi", "flip", MalformedPacketError),
    ],
)
@pytest.mark.parametrize("fault", ["mute", "garble"])
async def test_bad_reply_is_a_clear_error_and_video_flows(
    app: str, command: str, call: str, error: type[ChinesiumError], fault: str
) -> None:
    if fault == "mute":
        error = CameraTimeoutError
    kw: dict[str, Any] = {f"{fault}_commands": frozenset({command})}
    if app == "vstarcam":
        kw.update(frames=None, stream_seconds=0)
    async with camera(app, **kw) as cam, session_of(cam) as session:
        first = await session.next_frame()
        calls = {
            "ptz": lambda: session.ptz(PtzDirection.LEFT),
            "state": session.refresh_state,
            "night": lambda: session.set_night_mode(NightMode.ON),
            "flip": lambda: session.set_flip(True),
        }
        with pytest.raises(error):
            await calls[call]()
        assert session.connected
        later = await session.next_frame()
        assert later.seq > first.seq
        if call != "state":  # the session still answers other commands
            await session.refresh_state()
        else:
            await session.ptz(PtzDirection.STOP)
        assert cam.stats.commands


async def test_refused_command_is_camera_rejected() -> None:
    async with camera("shix") as cam, session_of(cam) as session:
        # A ptz_control value the camera does not know is refused with result -1.
        client = session.client
        assert client is not None
        with pytest.raises(CameraRejectedError):
            await client.command("ptz_control", 128, parms=0, value=99)  # type: ignore[attr-defined]
        await session.ptz(PtzDirection.STOP)
        assert cam.stats.commands[-1].startswith("shix:ptz_control")


@pytest.mark.parametrize("app", ["shix", "ilnk", "vstarcam"])
async def test_reboot_ends_the_session(app: str) -> None:
    frames = None if app == "vstarcam" else ONE_PICTURE
    async with camera(app, frames=frames) as cam:
        async with session_of(cam) as session:
            await session.set_night_mode(NightMode.ON)
            await session.reboot()
            with pytest.raises(SessionClosedError, match="rebooting"):
                await session.wait_closed()
            with pytest.raises(SessionClosedError):
                await session.ptz(PtzDirection.LEFT)
        assert cam.reboots == 1
        for _ in range(100):
            if cam.controls.night_mode == "auto" and cam._sess is not None:
                break
            await asyncio.sleep(0.05)
        assert cam.controls.night_mode == "auto"  # power-on defaults
        async with session_of(cam) as session:  # the camera is back
            await session.next_frame()
