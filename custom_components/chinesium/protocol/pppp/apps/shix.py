"""SHIX JSON application layer ("06 0A A0 80", pppp.md §6.2).

Every command is an 8-byte header (``06 0a a0 80`` + u32 LE JSON length)
followed by compact UTF-8 JSON carrying ``pro``, ``cmd``, the credentials and
``devmac``. Replies use the same framing (byte 2 may be ``a1``) and carry
``cmd`` and ``result`` (0 = ok, -1 = bad user, -3 = bad password).
"""

from __future__ import annotations

import contextlib
import json
import struct
from typing import Any

from ...controls import Capability, NightMode, PtzDirection
from ...errors import (
    AuthenticationError,
    CameraRejectedError,
    CameraTimeoutError,
    ChinesiumError,
    MalformedPacketError,
)
from .base import AUDIO_CHANNEL, AppClient, ChannelLike, MagicFramer, ReplyWaiter, json_result
from .layers import AppLayer

SHIX_MAGIC = b"\x06\x0a\xa0\x80"
SHIX_PREFIX = b"\x06\x0a"
HEADER_SIZE = 8
MAX_JSON = 64 * 1024

CMD_CHECK_USER = 100
CMD_GET_PARMS = 101
CMD_DEV_CONTROL = 102
CMD_STREAM = 111
CMD_PTZ_CONTROL = 128

PTZ_START: dict[PtzDirection, int] = {
    PtzDirection.UP: 0,
    PtzDirection.DOWN: 2,
    PtzDirection.LEFT: 4,
    PtzDirection.RIGHT: 6,
}
"""ptz_control ``value`` starting a move; the value + 1 stops it (pppp.md §6.2, aiopppp)."""
PTZ_STOPS = (5, 7, 3, 1)
"""STOP sends every axis' stop (left, right, down, up), as aiopppp does."""
ICUT: dict[NightMode, int] = {NightMode.OFF: 0, NightMode.ON: 1, NightMode.AUTO: 2}
"""dev_control / get_parms ``icut``: 1 = IR on and 0 = off as aiopppp sends them; 2 = auto is
our guess, offered only when get_parms says ``isShowIcutAuto: 1`` (see protocol notes)."""
VIDEO_MODES: dict[str, int] = {"640x480": 1, "320x240": 2}
"""``stream`` ``video`` values (pppp.md §6.2)."""
REBOOT_WAIT = 1.0
"""Seconds to wait for an answer to ``reboot`` (aiopppp does not wait at all)."""
SHIX_CAPABILITIES: frozenset[Capability] = frozenset(
    {
        Capability.PTZ,
        Capability.NIGHT_MODE,
        Capability.LIGHT,
        Capability.RESOLUTION,
        Capability.REBOOT,
        Capability.FIRMWARE,
        Capability.BATTERY,
        Capability.CHARGING,
        Capability.WIFI_SIGNAL,
    }
)
"""dev_control (icut, lamp, reboot), ptz_control, stream video:1/2, get_parms (sysver,
batValue, batStatus, signal). Flip/mirror are only read (``rotmir``): no set command is known."""

RESULT_OK = 0
RESULT_BAD_USER = -1
RESULT_BAD_PASSWORD = -3

DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "6666"  # noqa: S105 - public factory default


def encode_block(obj: dict[str, Any], *, flags: bytes = b"\xa0\x80") -> bytes:
    """Frame one JSON object: magic, u32 LE length, compact JSON."""
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return SHIX_PREFIX + flags + struct.pack("<I", len(body)) + body


def build_request(pro: str, cmd: int, user: str, pwd: str, **extra: Any) -> dict[str, Any]:
    """Build a request object in the field order apps use (pro, cmd, extra, creds, devmac)."""
    obj: dict[str, Any] = {"pro": pro, "cmd": cmd}
    obj.update(extra)
    obj.update({"user": user, "pwd": pwd, "devmac": "0000"})
    return obj


def encode_request(pro: str, cmd: int, user: str, pwd: str, **extra: Any) -> bytes:
    """Encode a complete request block (see :func:`build_request`)."""
    return encode_block(build_request(pro, cmd, user, pwd, **extra))


def decode_block(data: bytes | bytearray | memoryview) -> tuple[dict[str, Any], int]:
    """Decode one block at the start of ``data``; return (object, bytes consumed).

    Raises :class:`MalformedPacketError` for a bad magic, a truncated block or
    a body that is not a JSON object.
    """
    if len(data) < HEADER_SIZE:
        raise MalformedPacketError(f"SHIX block needs 8 header bytes, got {len(data)}")
    if bytes(data[:2]) != SHIX_PREFIX:
        raise MalformedPacketError(f"bad SHIX magic {bytes(data[:4]).hex()}")
    (length,) = struct.unpack_from("<I", data, 4)
    if length > MAX_JSON:
        raise MalformedPacketError(f"SHIX JSON length {length} too large")
    end = HEADER_SIZE + length
    if len(data) < end:
        raise MalformedPacketError(f"SHIX block truncated: {len(data)} < {end}")
    return _parse_json(bytes(data[HEADER_SIZE:end])), end


def _parse_json(raw: bytes) -> dict[str, Any]:
    # Some firmwares pad with NULs after the JSON text.
    text = raw.rstrip(b"\0")
    try:
        obj = json.loads(text)
    except (UnicodeDecodeError, ValueError) as err:
        raise MalformedPacketError(f"SHIX body is not JSON: {raw[:40]!r}") from err
    if not isinstance(obj, dict):
        raise MalformedPacketError("SHIX body is not a JSON object")
    return obj


def _frame_size(header: bytearray) -> int | None:
    (length,) = struct.unpack_from("<I", header, 4)
    return None if length > MAX_JSON else HEADER_SIZE + length


class ShixDecoder(MagicFramer):
    """Incremental decoder for the control-channel byte stream.

    Blocks may span payloads and one payload may hold several blocks. Bytes
    before a ``06 0a`` magic are skipped (counted in ``skipped``); a block whose
    body is not a JSON object raises after being consumed, so the stream
    stays in sync.
    """

    def __init__(self) -> None:
        """Start with an empty buffer."""
        super().__init__(SHIX_PREFIX, HEADER_SIZE, _frame_size)

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Add bytes; return the complete objects (raise on a bad body)."""
        out: list[dict[str, Any]] = []
        bad: MalformedPacketError | None = None
        for frame in self.frames(data):
            try:
                out.append(_parse_json(frame[HEADER_SIZE:]))
            except MalformedPacketError as err:
                bad = err
        if bad is not None and not out:
            raise bad
        return out


def _result(reply: dict[str, Any]) -> int:
    return json_result(reply, RESULT_OK)


class ShixClient(AppClient):
    """Client side of the SHIX JSON layer: check_user, stream start/stop."""

    layer = AppLayer.SHIX
    name = AppLayer.SHIX.value
    display_name = "SHIX JSON (HDWifiCamPro, 365Cam, LookCamPro)"
    magic = SHIX_PREFIX
    default_credentials = ((DEFAULT_USER, DEFAULT_PASSWORD),)
    capabilities = SHIX_CAPABILITIES
    resolutions = tuple(VIDEO_MODES)
    audio_channel = AUDIO_CHANNEL

    def __init__(self, control: ChannelLike, *, reply_timeout: float = 3.0) -> None:
        """Attach to ``control`` (channel 0)."""
        self.video_mode = VIDEO_MODES["640x480"]
        self.night_modes = (NightMode.ON, NightMode.OFF)
        self._missing: frozenset[Capability] = frozenset()
        self._decoder = ShixDecoder()
        self._replies: ReplyWaiter[dict[str, Any]] = ReplyWaiter()
        self.user = DEFAULT_USER
        self.password = DEFAULT_PASSWORD
        self.info: dict[str, Any] = {}
        super().__init__(control, reply_timeout=reply_timeout)

    def _feed_control(self, payload: bytes) -> None:
        for obj in self._decoder.feed(payload):
            self._replies.deliver(obj)

    def fail_pending(self, err: ChinesiumError) -> None:
        """Fail every request waiting for a reply."""
        self._replies.fail(err)

    async def request(self, pro: str, cmd: int, **extra: Any) -> dict[str, Any]:
        """Send a command with the current credentials and wait for its reply."""
        self._control.write(encode_request(pro, cmd, self.user, self.password, **extra))
        return await self._replies.wait(
            lambda m: _reply_cmd(m) in (cmd, None), self.reply_timeout, pro
        )

    async def login(self, username: str, password: str) -> None:
        """Send ``check_user``; raise AuthenticationError for result -1/-3."""
        self.user, self.password = username, password
        reply = await self.request("check_user", CMD_CHECK_USER)
        result = _result(reply)
        if result in (RESULT_BAD_USER, RESULT_BAD_PASSWORD):
            raise AuthenticationError(f"SHIX check_user rejected {username!r} (result {result})")
        if result != RESULT_OK:
            raise CameraRejectedError(f"SHIX check_user failed (result {result})")
        self.info = reply

    async def start_video(self, resolution: int | None = None) -> None:
        """``stream`` with ``video:1`` (about 640x480, default) or ``video:2`` (320x240)."""
        reply = await self.request(
            "stream", CMD_STREAM, video=self.video_mode if resolution is None else resolution
        )
        result = _result(reply)
        if result in (RESULT_BAD_USER, RESULT_BAD_PASSWORD):
            raise AuthenticationError(f"SHIX stream rejected credentials (result {result})")
        if result != RESULT_OK:
            raise CameraRejectedError(f"SHIX stream failed (result {result})")

    async def stop_video(self) -> None:
        """``stream`` with ``video:0`` (no reply awaited)."""
        self._control.write(encode_request("stream", CMD_STREAM, self.user, self.password, video=0))

    async def start_audio(self) -> None:
        """``stream`` with ``audio:1`` (and the current ``video`` mode, so video goes on).

        The camera then sends IMA-ADPCM frames on channel 2 (pppp.md §6.2).
        """
        reply = await self.request("stream", CMD_STREAM, video=self.video_mode, audio=1)
        result = _result(reply)
        if result != RESULT_OK:
            raise CameraRejectedError(f"SHIX audio start failed (result {result})")

    async def stop_audio(self) -> None:
        """``stream`` with ``audio:0`` and the current ``video`` mode (no reply awaited)."""
        self._control.write(
            encode_request(
                "stream", CMD_STREAM, self.user, self.password, video=self.video_mode, audio=0
            )
        )

    # -- controls

    async def command(self, pro: str, cmd: int, **extra: Any) -> dict[str, Any]:
        """Send a command; raise :class:`CameraRejectedError` unless ``result`` is 0."""
        reply = await self.request(pro, cmd, **extra)
        result = _result(reply)
        if result != RESULT_OK:
            raise CameraRejectedError(f"SHIX {pro} failed (result {result})")
        return reply

    def live_capabilities(self) -> frozenset[Capability]:
        """Without battery/signal fields in get_parms, those capabilities are dropped."""
        return self.capabilities - self._missing

    async def ptz_move(self, direction: PtzDirection) -> None:
        """``ptz_control`` ``parms:0``, ``value`` = start code (STOP: every stop code)."""
        values = PTZ_STOPS if direction is PtzDirection.STOP else (PTZ_START[direction],)
        for value in values:
            await self.command("ptz_control", CMD_PTZ_CONTROL, parms=0, value=value)

    async def set_night_mode(self, mode: NightMode) -> None:
        """``dev_control`` ``icut`` (see :data:`ICUT`)."""
        await self.command("dev_control", CMD_DEV_CONTROL, icut=ICUT[mode])

    async def set_light(self, on: bool) -> None:
        """``dev_control`` ``lamp`` 1/0 (the value get_parms reports as ``lamp``)."""
        await self.command("dev_control", CMD_DEV_CONTROL, lamp=int(on))

    async def set_resolution(self, value: str) -> None:
        """Re-send ``stream`` with the new ``video`` mode (the camera switches the stream)."""
        mode = VIDEO_MODES[value]
        await self.start_video(mode)
        self.video_mode = mode

    async def reboot(self) -> None:
        """``dev_control`` ``reboot:1``; the answer (if any) is awaited briefly."""
        self._control.write(
            encode_request("dev_control", CMD_DEV_CONTROL, self.user, self.password, reboot=1)
        )
        with contextlib.suppress(CameraTimeoutError):
            await self._replies.wait(
                lambda m: _reply_cmd(m) == CMD_DEV_CONTROL, REBOOT_WAIT, "dev_control reboot"
            )

    async def read_state(self) -> dict[str, Any]:
        """``get_parms``: sysver, batValue/batStatus, signal, icut, lamp, rotmir."""
        reply = await self.command("get_parms", CMD_GET_PARMS)
        out: dict[str, Any] = {
            "resolution": next(k for k, v in VIDEO_MODES.items() if v == self.video_mode)
        }
        missing: set[Capability] = set()
        sysver = reply.get("sysver")
        if isinstance(sysver, str) and sysver:
            out["firmware"] = sysver
            self.firmware = sysver
        battery = _int(reply.get("batValue"))
        if battery is None:
            missing.update((Capability.BATTERY, Capability.CHARGING))
        else:
            out["battery_percent"] = battery
            status = _int(reply.get("batStatus"))
            if status is not None:
                out["charging"] = status == 1
        signal = _int(reply.get("signal"))
        if signal is None:
            missing.add(Capability.WIFI_SIGNAL)
        else:
            out["wifi_percent"] = signal
        if _int(reply.get("isShowIcutAuto")) == 1:
            self.night_modes = (NightMode.AUTO, NightMode.ON, NightMode.OFF)
        icut = _int(reply.get("icut"))
        mode = next((m for m, v in ICUT.items() if v == icut), None)
        if mode is not None:
            out["night_mode"] = mode
        lamp = _int(reply.get("lamp"))
        if lamp is not None:
            out["light"] = bool(lamp)
        rotmir = _int(reply.get("rotmir"))
        if rotmir is not None:
            out["flip"] = bool(rotmir & 1)
            out["mirror"] = bool(rotmir & 2)
        self._missing = frozenset(missing)
        return out


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _reply_cmd(reply: dict[str, Any]) -> int | None:
    cmd = reply.get("cmd")
    if cmd is None:
        return None
    try:
        return int(cmd)
    except (TypeError, ValueError):
        return None
