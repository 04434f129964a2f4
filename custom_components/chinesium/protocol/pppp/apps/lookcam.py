"""LookCam JSON application layer ("A0 AF AF AF", pppp.md §6.5).

Commands travel on **channel 1**, each framed as a 26-byte header
(``a0 af af af``, 0, timezone hours, i64 LE local timestamp, 8 zero bytes,
u32 LE JSON length), compact UTF-8 JSON and the trailer ``f4 f3 f2 f1``.
Replies use the same framing; the seed describes a 25-byte device prefix,
so the decoder accepts both header sizes (the trailer decides).

``LoginDev`` (``pwd``; the firmware does not enforce it) answers with
``result`` and ``connectNum``; ``GetDevInfo`` with device details;
``OpenVideo`` (``state`` 1 start / 0 stop, ``stream``, ``userid`` =
``connectNum``) has no JSON reply. Media arrive on **channel 0**: every frame
starts a DRW with an 83-byte header beginning ``01 af af af`` (fields not
publicly documented), followed by an Annex-B H.264/H.265 access unit. A frame
ends where the next header begins, so each frame is delivered when its
successor starts (one frame of latency, as in the public clients).
"""

from __future__ import annotations

from collections.abc import Callable
import json
import struct
import time
from typing import Any

from ...errors import AuthenticationError, ChinesiumError, MalformedPacketError
from ...model import Codec
from .base import (
    AppClient,
    ChannelLike,
    MediaChannelLike,
    MediaUnit,
    ReplyWaiter,
    json_result,
)
from .h26x import detect_codec, is_keyframe
from .layers import AppLayer

LOOKCAM_MAGIC = b"\xa0\xaf\xaf\xaf"
"""Command/reply magic (u32 LE 0xAFAFAFA0)."""
LOOKCAM_TRAILER = b"\xf4\xf3\xf2\xf1"
"""Trailer after the JSON (u32 LE 0xF1F2F3F4)."""
HEADER_SIZE = 26
"""App -> device header size (pppp.md §6.5)."""
DEVICE_HEADER_SIZE = 25
"""Device -> app header size according to the seed (accepted too)."""
MEDIA_MAGIC = b"\x01\xaf\xaf\xaf"
"""First bytes of every media frame on channel 0."""
MEDIA_HEADER_SIZE = 83
MAX_JSON = 64 * 1024

COMMAND_CHANNEL = 1
MEDIA_CHANNEL = 0

STREAM_MAIN = 2
"""``OpenVideo`` ``stream`` value the public clients use by default."""

DEFAULT_USER = "admin"
"""LookCam has no user name; this one only fills the credentials pair."""
DEFAULT_PASSWORD = "123456"  # noqa: S105 - the firmware does not check it (pppp.md §6.5)


def encode_message(
    obj: dict[str, Any], *, timezone_hours: int = 0, timestamp: int | None = None
) -> bytes:
    """Frame one JSON command: 26-byte header, compact JSON, trailer (pppp.md §6.5).

    ``timestamp`` is the local time in seconds (default: now + ``timezone_hours``).
    """
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    if timestamp is None:
        timestamp = int(time.time()) + timezone_hours * 3600
    header = (
        LOOKCAM_MAGIC
        + struct.pack("<Bbq", 0, timezone_hours, timestamp)
        + bytes(8)
        + struct.pack("<I", len(body))
    )
    return header + body + LOOKCAM_TRAILER


def _frame_size(buf: bytes | bytearray, header: int) -> int | None:
    """Whole size of a message with a ``header``-byte prefix, ``-1`` = need more bytes."""
    if len(buf) < header:
        return -1
    (length,) = struct.unpack_from("<I", buf, header - 4)
    if length > MAX_JSON:
        return None
    end = header + length + len(LOOKCAM_TRAILER)
    if len(buf) < end:
        return -1
    return end if buf[end - 4 : end] == LOOKCAM_TRAILER else None


def _parse_json(raw: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(raw.rstrip(b"\0"))
    except (UnicodeDecodeError, ValueError) as err:
        raise MalformedPacketError(f"LookCam body is not JSON: {raw[:40]!r}") from err
    if not isinstance(obj, dict):
        raise MalformedPacketError("LookCam body is not a JSON object")
    return obj


def decode_message(data: bytes | bytearray) -> tuple[dict[str, Any], int]:
    """Decode one framed message at the start of ``data``; return (object, size).

    Accepts the 26-byte header and the seed's 25-byte device header; raises
    :class:`MalformedPacketError` when neither fits.
    """
    if bytes(data[:4]) != LOOKCAM_MAGIC:
        raise MalformedPacketError(f"bad LookCam magic {bytes(data[:4]).hex()}")
    for header in (HEADER_SIZE, DEVICE_HEADER_SIZE):
        end = _frame_size(data, header)
        if end is not None and end > 0:
            return _parse_json(bytes(data[header : end - 4])), end
    raise MalformedPacketError("LookCam message truncated or without trailer")


class LookcamDecoder:
    """Incremental decoder for the command channel (messages may span DRWs)."""

    def __init__(self) -> None:
        """Start with an empty buffer."""
        self._buf = bytearray()
        self.skipped = 0

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Add bytes; return the complete JSON objects (bad bodies are skipped)."""
        buf = self._buf
        buf += data
        out: list[dict[str, Any]] = []
        while True:
            start = buf.find(LOOKCAM_MAGIC)
            if start < 0:
                keep = min(len(buf), len(LOOKCAM_MAGIC) - 1)
                self.skipped += len(buf) - keep
                del buf[: len(buf) - keep]
                return out
            if start:
                self.skipped += start
                del buf[:start]
            sizes = [(h, _frame_size(buf, h)) for h in (HEADER_SIZE, DEVICE_HEADER_SIZE)]
            done = next(((h, e) for h, e in sizes if e is not None and e > 0), None)
            if done is None:
                if any(e == -1 for _, e in sizes):
                    return out  # wait for more bytes
                self.skipped += 1
                del buf[:1]
                continue
            header, end = done
            raw = bytes(buf[header : end - 4])
            del buf[:end]
            try:
                out.append(_parse_json(raw))
            except MalformedPacketError:
                self.skipped += end


class LookcamMediaAssembler:
    """Cut the channel-0 byte stream into access units at each ``01 af af af`` header."""

    def __init__(self) -> None:
        """Nothing buffered yet."""
        self._parts: list[bytes] = []
        self._header = b""
        self.skipped = 0
        """Payload bytes seen before the first frame header."""
        self.first_payload: bytes | None = None

    def feed(self, payload: bytes) -> list[MediaUnit]:
        """Add one in-order DRW payload; return the frames it completed."""
        if self.first_payload is None:
            self.first_payload = payload[:32]
        if payload.startswith(MEDIA_MAGIC) and len(payload) >= MEDIA_HEADER_SIZE:
            out = self._finish()
            self._header = payload[:MEDIA_HEADER_SIZE]
            self._parts = [payload[MEDIA_HEADER_SIZE:]]
            return out
        if self._header:
            self._parts.append(payload)
        else:
            self.skipped += len(payload)
        return []

    def _finish(self) -> list[MediaUnit]:
        if not self._header:
            return []
        data = b"".join(self._parts)
        self._parts = []
        if not data:
            return []
        codec = detect_codec(data)
        return [MediaUnit(data, is_keyframe(data), codec, None, self._header)]

    def reset(self) -> None:
        """Drop a partial frame."""
        self._parts = []
        self._header = b""


def _result(reply: dict[str, Any]) -> int | None:
    return json_result(reply, None)


class LookcamClient(AppClient):
    """Client side of the LookCam JSON layer: LoginDev, GetDevInfo, OpenVideo."""

    layer = AppLayer.LOOKCAM
    name = AppLayer.LOOKCAM.value
    display_name = "LookCam JSON"
    magic = LOOKCAM_MAGIC
    default_credentials = ((DEFAULT_USER, DEFAULT_PASSWORD),)
    control_channel = COMMAND_CHANNEL
    video_channel = MEDIA_CHANNEL
    own_media = True
    video_codecs = frozenset({Codec.H264, Codec.H265})

    def __init__(
        self, control: ChannelLike, *, reply_timeout: float = 3.0, timezone_hours: int = 0
    ) -> None:
        """Attach to ``control`` (channel 1)."""
        self._decoder = LookcamDecoder()
        self._replies: ReplyWaiter[dict[str, Any]] = ReplyWaiter()
        self.password = DEFAULT_PASSWORD
        self.timezone_hours = timezone_hours
        self.connect_num = 1
        """``connectNum`` from the login reply (used as ``userid`` in OpenVideo)."""
        self.login_reply: dict[str, Any] = {}
        self.device_info: dict[str, Any] = {}
        """The ``GetDevInfo`` reply (empty when the camera did not answer it)."""
        self.stream = STREAM_MAIN
        self.media = LookcamMediaAssembler()
        super().__init__(control, reply_timeout=reply_timeout)

    def _feed_control(self, payload: bytes) -> None:
        for obj in self._decoder.feed(payload):
            self._replies.deliver(obj)

    def fail_pending(self, err: ChinesiumError) -> None:
        """Fail every request waiting for a reply."""
        self._replies.fail(err)

    def send(self, obj: dict[str, Any]) -> None:
        """Send one command (no reply awaited)."""
        self._control.write(encode_message(obj, timezone_hours=self.timezone_hours))

    async def request(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """Send ``{"cmd": cmd, **fields}`` and wait for the reply with the same ``cmd``."""
        self.send({"cmd": cmd, **fields})
        return await self._replies.wait(
            lambda m: m.get("cmd") in (cmd, None), self.reply_timeout, f"LookCam {cmd}"
        )

    async def login(self, username: str, password: str) -> None:
        """``LoginDev`` with ``pwd``; a non-zero ``result`` is a refused login.

        Then ``GetDevInfo`` (best effort): its ``version``-like field becomes
        :attr:`firmware`.
        """
        del username  # LookCam logins carry only the password
        self.password = password
        reply = await self.request("LoginDev", pwd=password)
        result = _result(reply)
        if result not in (0, None):
            raise AuthenticationError(f"LookCam LoginDev refused (result {result})")
        self.login_reply = reply
        num = reply.get("connectNum")
        if isinstance(num, int) and num > 0:
            self.connect_num = num
        try:
            self.device_info = await self.request("GetDevInfo")
        except ChinesiumError:
            self.device_info = {}
        for key in ("version", "sysver", "softVersion", "fwVersion"):
            value = self.device_info.get(key)
            if isinstance(value, str) and value:
                self.firmware = value
                break

    def attach_video(self, channel: MediaChannelLike, sink: Callable[[bytes], None]) -> None:
        """Route channel-0 payloads to ``sink`` (the session calls :meth:`media_units`)."""
        channel.set_packet_handler(sink)

    def media_units(self, payload: bytes) -> list[MediaUnit]:
        """Access units completed by one channel-0 payload."""
        return self.media.feed(payload)

    def _open_video(self, state: int) -> None:
        self.send(
            {
                "cmd": "OpenVideo",
                "state": state,
                "pwd": self.password,
                "stream": self.stream,
                "userid": self.connect_num,
            }
        )

    async def start_video(self) -> None:
        """``OpenVideo`` ``state:1`` (no JSON reply); frames follow on channel 0."""
        self._open_video(1)

    async def stop_video(self) -> None:
        """``OpenVideo`` ``state:0`` (no reply awaited)."""
        self._open_video(0)
        self.media.reset()


__all__ = [
    "COMMAND_CHANNEL",
    "DEFAULT_PASSWORD",
    "DEVICE_HEADER_SIZE",
    "HEADER_SIZE",
    "LOOKCAM_MAGIC",
    "LOOKCAM_TRAILER",
    "MEDIA_CHANNEL",
    "MEDIA_HEADER_SIZE",
    "MEDIA_MAGIC",
    "LookcamClient",
    "LookcamDecoder",
    "LookcamMediaAssembler",
    "MediaUnit",
    "decode_message",
    "encode_message",
]
