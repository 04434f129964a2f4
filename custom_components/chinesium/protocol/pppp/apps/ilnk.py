"""iLnk binary application layer ("11 0A", pppp.md §6.3).

A message is a 12-byte little-endian header (magic ``11 0a``, u16 command,
u16 length of everything after byte 8, u16 "dest", 4 bytes ticket/plain data)
followed by data obfuscated with *XqBytes* (LSB flip, rotate left by 4).
Replies answer request ``c`` with ``c + 0x100``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
import struct
from typing import Any, Self

from ...controls import Capability, NightMode, PtzDirection
from ...errors import (
    AuthenticationError,
    CameraRejectedError,
    CameraTimeoutError,
    ChinesiumError,
    MalformedPacketError,
)
from .avframe import AudioFormat, Codec as AvCodec, FrameHeader, audio_format
from .base import VIDEO_CHANNEL, AppClient, ChannelLike, MagicFramer, ReplyWaiter
from .layers import AppLayer

ILNK_MAGIC = b"\x11\x0a"
HEADER_SIZE = 12
_HEADER = struct.Struct("<2sHHH4s")
NO_TICKET = bytes(4)

CMD_USER_CHK = 0x1020
CMD_STATUS_GET = 0x1008
CMD_LIVEVIDEO_START = 0x3010
CMD_LIVEVIDEO_STOP = 0x3011
CMD_VIDEOPARAM_SET = 0x3018
CMD_SNAPSHOT_GET = 0x301A
CMD_REBOOT = 0x1011
CMD_IRCUT = 0x300A
CMD_LIGHTFILL = 0x300B
CMD_PASSTHROUGH = 0x50FF
REPLY_OFFSET = 0x0100

PASSTHROUGH_MAGIC = 0x010A
PASSTHROUGH_DEST = 0xFFFF
PTZ_SET = 0x5049
"""Pass-through command id of a PTZ move (aiopppp ``CMD_PTZ_SET``)."""
PTZ_PARAM_DIRECTION = 0
PTZ_DIRECTIONS: dict[PtzDirection, int] = {
    PtzDirection.UP: 0,
    PtzDirection.DOWN: 1,
    PtzDirection.LEFT: 2,
    PtzDirection.RIGHT: 3,
    PtzDirection.STOP: 12,
}
VIDEOPARAM_ROTATE = 8
"""VIDEOPARAM type 8 (aiopppp ``ROTATE``): value bit 0 = flip, bit 1 = mirror (our reading)."""
RESOLUTION_320X240 = 0
STATUS_SIZE = 124
_STATUS = struct.Struct("<4s5i64s10B6s4s4s3I")
REBOOT_WAIT = 1.0
ILNK_CAPABILITIES: frozenset[Capability] = frozenset(
    {
        Capability.PTZ,
        Capability.NIGHT_MODE,
        Capability.LIGHT,
        Capability.FLIP,
        Capability.MIRROR,
        Capability.RESOLUTION,
        Capability.REBOOT,
        Capability.FIRMWARE,
        Capability.BATTERY,
        Capability.BATTERY_VOLTAGE,
        Capability.CHARGING,
        Capability.WIFI_SIGNAL,
        Capability.WIFI_DBM,
    }
)
"""IRCUT/LIGHTFILL, REBOOT, VIDEOPARAM (resolution, rotate), PTZ pass-through,
SYSTEM_STATUS (firmware, battery mV, charging, dBm) (pppp.md §6.3)."""

DEST_LOGIN = 0x00FF
DEST_DEFAULT = 0x0000

USER_FIELD = 32
PASSWORD_FIELD = 128
VIDEOPARAM_RESOLUTION = 1
RESOLUTION_640X480 = 2
RESOLUTIONS: dict[str, int] = {"640x480": RESOLUTION_640X480, "320x240": RESOLUTION_320X240}

DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "admin"  # noqa: S105 - public factory default


def _rotate(data: bytes, n: int) -> bytes:
    # Data of at most 4 bytes is not rotated (identity for 1, 2 and 4 bytes under
    # aiopppp's rule; cam-reverse skips the rotation for such short data).
    if len(data) <= abs(n):
        return data
    return data[n:] + data[:n]


_FLIP = bytes(b ^ 1 for b in range(256))


def xq_encode(data: bytes, rotation: int = 4) -> bytes:
    """XqBytes-encode: flip every byte's LSB, then rotate left by ``rotation``.

    Buffers no longer than ``rotation`` bytes are only flipped.
    """
    return _rotate(data.translate(_FLIP), rotation)


def xq_decode(data: bytes, rotation: int = 4) -> bytes:
    """Inverse of :func:`xq_encode`: flip LSBs, then rotate right by ``rotation``."""
    return _rotate(data.translate(_FLIP), -rotation)


@dataclass(frozen=True, slots=True)
class IlnkMessage:
    """One iLnk message; ``data`` is plain (XqBytes already removed)."""

    command: int
    data: bytes = b""
    ticket: bytes = NO_TICKET
    dest: int = DEST_DEFAULT

    def encode(self) -> bytes:
        """Wire form; ``data`` is XqBytes-encoded when non-empty."""
        if len(self.ticket) != 4:
            raise ValueError("iLnk ticket must be 4 bytes")
        body = xq_encode(self.data) if self.data else b""
        return _HEADER.pack(ILNK_MAGIC, self.command, 4 + len(body), self.dest, self.ticket) + body

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> tuple[Self, int]:
        """Decode one message at the start of ``data``; return (message, bytes consumed)."""
        if len(data) < HEADER_SIZE:
            raise MalformedPacketError(f"iLnk message needs 12 header bytes, got {len(data)}")
        magic, command, length, dest, ticket = _HEADER.unpack_from(data)
        if magic != ILNK_MAGIC:
            raise MalformedPacketError(f"bad iLnk magic {bytes(magic).hex()}")
        if length < 4:
            raise MalformedPacketError(f"iLnk length {length} < 4")
        end = 8 + length
        if len(data) < end:
            raise MalformedPacketError(f"iLnk message truncated: {len(data)} < {end}")
        raw = bytes(data[HEADER_SIZE:end])
        return cls(command, xq_decode(raw) if raw else b"", bytes(ticket), dest), end


def encode_login(user: str, password: str, ticket: bytes = NO_TICKET) -> bytes:
    """SYSTEM_USER_CHK (0x1020): user[32] + password[128], NUL-padded."""
    u = user.encode()
    p = password.encode()
    if len(u) >= USER_FIELD or len(p) >= PASSWORD_FIELD:
        raise ValueError("iLnk user name or password too long")
    data = u.ljust(USER_FIELD, b"\0") + p.ljust(PASSWORD_FIELD, b"\0")
    return IlnkMessage(CMD_USER_CHK, data, ticket, DEST_LOGIN).encode()


def _frame_size(header: bytearray) -> int | None:
    (length,) = struct.unpack_from("<H", header, 4)
    return None if length < 4 else 8 + length


class IlnkDecoder(MagicFramer):
    """Incremental decoder for the control-channel byte stream (skips garbage)."""

    def __init__(self) -> None:
        """Start with an empty buffer."""
        super().__init__(ILNK_MAGIC, HEADER_SIZE, _frame_size)

    def feed(self, data: bytes) -> list[IlnkMessage]:
        """Add bytes; return the complete messages."""
        return [IlnkMessage.decode(frame)[0] for frame in self.frames(data)]


class IlnkClient(AppClient):
    """Client side of the iLnk binary layer: login (ticket), video param + start."""

    layer = AppLayer.ILNK
    name = AppLayer.ILNK.value
    display_name = "iLnk binary (YsxLite, FtyCamPro)"
    magic = ILNK_MAGIC
    default_credentials = ((DEFAULT_USER, DEFAULT_PASSWORD), ("admin", "6666"))
    capabilities = ILNK_CAPABILITIES
    resolutions = tuple(RESOLUTIONS)
    night_modes = (NightMode.ON, NightMode.OFF)
    audio_channel = VIDEO_CHANNEL
    """Audio frames (type 0x06, 8 kHz A-law) come between the video frames (pppp.md §6.3)."""

    def __init__(self, control: ChannelLike, *, reply_timeout: float = 3.0) -> None:
        """Attach to ``control`` (channel 0)."""
        self.resolution = RESOLUTION_640X480
        self._missing: frozenset[Capability] = frozenset()
        self._decoder = IlnkDecoder()
        self._replies: ReplyWaiter[IlnkMessage] = ReplyWaiter()
        self.ticket = NO_TICKET
        super().__init__(control, reply_timeout=reply_timeout)

    def _feed_control(self, payload: bytes) -> None:
        for msg in self._decoder.feed(payload):
            self._replies.deliver(msg)

    def fail_pending(self, err: ChinesiumError) -> None:
        """Fail every request waiting for a reply."""
        self._replies.fail(err)

    def send(self, command: int, data: bytes = b"") -> None:
        """Send a request carrying the current ticket (no reply awaited)."""
        self._control.write(IlnkMessage(command, data, self.ticket).encode())

    async def request(self, command: int, data: bytes = b"") -> IlnkMessage:
        """Send a request and wait for its ``command + 0x100`` reply."""
        self.send(command, data)
        return await self._wait(command)

    async def _wait(self, command: int) -> IlnkMessage:
        want = command + REPLY_OFFSET
        return await self._replies.wait(
            lambda m: m.command == want, self.reply_timeout, f"iLnk 0x{command:04x}"
        )

    async def login(self, username: str, password: str) -> None:
        """SYSTEM_USER_CHK; keep the ticket from the reply (data bytes 4..7).

        A non-zero result word (data bytes 0..3, i32 LE) or a reply without a
        ticket is taken as wrong credentials (pppp.md §9 q2: unconfirmed).
        """
        self._control.write(encode_login(username, password))
        reply = await self._wait(CMD_USER_CHK)
        data = reply.data
        if len(data) < 8:
            raise AuthenticationError(f"iLnk login rejected {username!r} (short reply)")
        (result,) = struct.unpack_from("<i", data)
        if result != 0:
            raise AuthenticationError(f"iLnk login rejected {username!r} (result {result})")
        self.ticket = data[4:8]

    async def start_video(self, resolution: int | None = None) -> None:
        """Set the resolution (0x3018), then start live video (0x3010)."""
        value = self.resolution if resolution is None else resolution
        self.send(CMD_VIDEOPARAM_SET, struct.pack("<II", VIDEOPARAM_RESOLUTION, value))
        self.send(CMD_LIVEVIDEO_START)

    async def stop_video(self) -> None:
        """PEER_LIVEVIDEO_STOP (no reply awaited)."""
        self.send(CMD_LIVEVIDEO_STOP)

    async def start_audio(self) -> None:
        """Nothing to send: a camera with a microphone sends audio with the video."""

    def audio_format(self, header: FrameHeader) -> AudioFormat | None:
        """Type 0x06 is 8 kHz A-law on iLnk; the other audio types as usual."""
        if header.codec == AvCodec.AUDIO:
            return AudioFormat.ALAW
        return audio_format(header)

    # -- controls

    async def command(self, command: int, data: bytes = b"") -> IlnkMessage:
        """Send a request; a negative i32 in the reply's first data bytes is a refusal.

        A reply without data is taken as success; 1-3 data bytes are malformed.
        """
        reply = await self.request(command, data)
        if 0 < len(reply.data) < 4:
            raise MalformedPacketError(f"iLnk 0x{command:04x} reply has {len(reply.data)} bytes")
        if len(reply.data) >= 4:
            (result,) = struct.unpack_from("<i", reply.data)
            if result < 0:
                raise CameraRejectedError(f"iLnk 0x{command:04x} refused (result {result})")
        return reply

    def live_capabilities(self) -> frozenset[Capability]:
        """Minus battery/charging/signal when SYSTEM_STATUS reports none."""
        return self.capabilities - self._missing

    async def ptz_move(self, direction: PtzDirection) -> None:
        """PASSTHROUGH_STRING_PUT carrying a PTZ_SET direction (aiopppp's packing)."""
        await self.command(CMD_PASSTHROUGH, encode_ptz(PTZ_DIRECTIONS[direction]))

    async def set_night_mode(self, mode: NightMode) -> None:
        """IRCUT (0x300A) with a u32 LE 1 (IR on) / 0 (off)."""
        await self.command(CMD_IRCUT, struct.pack("<I", int(mode is NightMode.ON)))

    async def set_light(self, on: bool) -> None:
        """LIGHTFILL (0x300B) with a u32 LE 1 / 0."""
        await self.command(CMD_LIGHTFILL, struct.pack("<I", int(on)))

    async def set_orientation(self, flip: bool, mirror: bool) -> None:
        """VIDEOPARAM_SET type 8 (rotate), value bit 0 flip, bit 1 mirror."""
        value = int(flip) | int(mirror) << 1
        await self.command(CMD_VIDEOPARAM_SET, struct.pack("<II", VIDEOPARAM_ROTATE, value))

    async def set_resolution(self, value: str) -> None:
        """VIDEOPARAM_SET type 1 (0 = 320x240, 2 = 640x480)."""
        code = RESOLUTIONS[value]
        await self.command(CMD_VIDEOPARAM_SET, struct.pack("<II", VIDEOPARAM_RESOLUTION, code))
        self.resolution = code

    async def reboot(self) -> None:
        """SYSTEM_REBOOT (0x1011); its answer (if any) is awaited briefly."""
        self.send(CMD_REBOOT)
        with contextlib.suppress(CameraTimeoutError):
            await self._replies.wait(
                lambda m: m.command == CMD_REBOOT + REPLY_OFFSET, REBOOT_WAIT, "iLnk reboot"
            )

    async def read_state(self) -> dict[str, Any]:
        """SYSTEM_STATUS_GET (0x1008), decoded by :func:`parse_status`."""
        reply = await self.command(CMD_STATUS_GET)
        out = parse_status(reply.data)
        missing: set[Capability] = set()
        if "battery_mv" not in out:
            missing.update((Capability.BATTERY, Capability.BATTERY_VOLTAGE, Capability.CHARGING))
        if "wifi_dbm" not in out:
            missing.update((Capability.WIFI_SIGNAL, Capability.WIFI_DBM))
        self._missing = frozenset(missing)
        if out.get("firmware"):
            self.firmware = out["firmware"]
        out["resolution"] = next(k for k, v in RESOLUTIONS.items() if v == self.resolution)
        return out


def encode_ptz(direction: int) -> bytes:
    """Pass-through body of a PTZ move (layout as aiopppp packs it; big-endian inner header).

    u32 LE total length, then ``>HHHH`` magic 0x010A, command 0x5049, body length + 4,
    dest 0xFFFF, 4 zero bytes, then ``>III`` param type 0 (direction), direction, 0.
    """
    body = struct.pack(">III", PTZ_PARAM_DIRECTION, direction, 0)
    head = struct.pack(
        ">4H4x", PASSTHROUGH_MAGIC, PTZ_SET, (len(body) + 4) & 0xFFFF, PASSTHROUGH_DEST
    )
    return struct.pack("<I", len(head) + len(body)) + head + body


def parse_status(data: bytes) -> dict[str, Any]:
    """Decode a SYSTEM_STATUS reply into :class:`CameraState` fields.

    Layout as aiopppp reads it (``<4s5i64s10B6s4s4s3I``); our reading of the
    unnamed fields (pppp.md §6.3 says only "fw version, battery, net info"):
    bytes 0-3 firmware (printed high byte first), i32 @4 battery mV (0 = none),
    i32 @16 Wi-Fi dBm (aiopppp is unsure whether it is uptime; accepted only in
    -120..-1), i32 @20 power supply (non-zero = charging), byte 93 IR-cut.
    """
    if len(data) < STATUS_SIZE:
        raise MalformedPacketError(f"iLnk status reply has {len(data)} bytes, need {STATUS_SIZE}")
    fields = _STATUS.unpack_from(data)
    version: bytes = fields[0]
    battery, dbm, power = fields[1], fields[4], fields[5]
    ir_cut = fields[12]
    out: dict[str, Any] = {"firmware": ".".join(str(b) for b in reversed(version))}
    if battery > 0:
        out["battery_mv"] = battery
        out["charging"] = power != 0
    if -120 <= dbm < 0:
        out["wifi_dbm"] = dbm
    out["night_mode"] = NightMode.ON if ir_cut else NightMode.OFF
    return out
