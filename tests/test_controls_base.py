"""The typed control API of CameraSession, independent of any family."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from custom_components.chinesium.protocol import (
    CameraInfo,
    CameraState,
    Capability,
    ChinesiumError,
    Family,
    MalformedPacketError,
    NightMode,
    PtzDirection,
    SessionClosedError,
    UnsupportedCommandError,
)
from custom_components.chinesium.protocol.pppp.apps import ilnk
from custom_components.chinesium.protocol.session import CameraSession


class _Bare(CameraSession):
    """A session whose family offers no control at all."""

    async def _open(self) -> None:
        return None

    async def _close(self) -> None:
        return None


class _Ptz(_Bare):
    """Offers PTZ only; records the moves."""

    def __init__(self) -> None:
        super().__init__(CameraInfo("x", "127.0.0.1", 1, Family.TEG))
        self.moves: list[PtzDirection] = []

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.PTZ})

    async def _ptz_move(self, direction: PtzDirection) -> None:
        self.moves.append(direction)


async def test_every_command_without_capability_is_unsupported() -> None:
    session = _Bare(CameraInfo("x", "127.0.0.1", 1, Family.TEG))
    await session.start()
    try:
        assert session.capabilities == frozenset()
        assert session.resolutions == ()
        assert session.night_modes == ()
        calls: list[Any] = [
            session.ptz(PtzDirection.UP),
            session.set_night_mode(NightMode.ON),
            session.set_light(True),
            session.set_flip(True),
            session.set_mirror(True),
            session.set_resolution("640x480"),
            session.reboot(),
        ]
        for call in calls:
            with pytest.raises(UnsupportedCommandError) as info:
                await call
            assert isinstance(info.value, ChinesiumError)
        assert await session.refresh_state() == CameraState()
    finally:
        await session.close()
    with pytest.raises(SessionClosedError):
        await session.refresh_state()


async def test_ptz_steps_duration_and_continuous() -> None:
    session = _Ptz()
    await session.start()
    try:
        await session.ptz(PtzDirection.LEFT, steps=2)
        assert session.moves == [PtzDirection.LEFT, PtzDirection.STOP] * 2
        session.moves.clear()
        await session.ptz(PtzDirection.UP, duration=0.01)
        assert session.moves == [PtzDirection.UP, PtzDirection.STOP]
        session.moves.clear()
        await session.ptz(PtzDirection.RIGHT)
        await session.ptz(PtzDirection.STOP)
        assert session.moves == [PtzDirection.RIGHT, PtzDirection.STOP]
        with pytest.raises(ValueError, match="not both"):
            await session.ptz(PtzDirection.UP, steps=1, duration=1.0)
        with pytest.raises(ValueError, match="steps"):
            await session.ptz(PtzDirection.UP, steps=0)
        with pytest.raises(ValueError, match="up-ish"):
            await session.ptz("up-ish")  # type: ignore[arg-type]
        await session.ptz("down", steps=1)  # type: ignore[arg-type]  # plain strings work
        assert session.moves[-2] is PtzDirection.DOWN
    finally:
        await session.close()
    with pytest.raises(SessionClosedError):
        await session.ptz(PtzDirection.UP)


def test_ilnk_ptz_passthrough_vector() -> None:
    # u32 LE 24, then >4H4x (010a, 5049, 000c+4, ffff), then >III (0, 3 = right, 0).
    parts = ("18000000", "010a", "5049", "0010", "ffff", "00000000")
    parts += ("00000000", "00000003", "00000000")
    assert ilnk.encode_ptz(3) == bytes.fromhex("".join(parts))


def test_ilnk_status_parsing() -> None:
    raw = bytearray(124)
    raw[0:4] = bytes([13, 1, 2, 61])
    struct.pack_into("<i", raw, 4, 3956)
    struct.pack_into("<i", raw, 16, -65)
    struct.pack_into("<i", raw, 20, 1)
    raw[93] = 1
    state = ilnk.parse_status(bytes(raw))
    assert state == {
        "firmware": "61.2.1.13",
        "battery_mv": 3956,
        "charging": True,
        "wifi_dbm": -65,
        "night_mode": NightMode.ON,
    }
    struct.pack_into("<i", raw, 16, 123456)  # an uptime, not a signal
    struct.pack_into("<i", raw, 4, 0)
    state = ilnk.parse_status(bytes(raw))
    assert "wifi_dbm" not in state
    assert "battery_mv" not in state
    with pytest.raises(MalformedPacketError):
        ilnk.parse_status(bytes(100))
