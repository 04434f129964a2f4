"""Byte-exact encoders/decoders for every TEG message (``teg.md`` §3-§5).

Each message is a frozen dataclass with ``encode() -> bytes`` and a
``decode(data)`` classmethod. Decoding never raises anything but
:class:`MalformedPacketError`. :func:`decode_datagram` dispatches on magic and
command. Integers are little-endian; ports and IPv4 addresses big-endian
(§1.2). The session's media hot path does not go through these classes (see
:mod:`.reassembly`), but uses the same offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
import socket
import struct
from typing import Self

from ..errors import MalformedPacketError

MAGIC_ROOT = b"0TEG"
MAGIC_APP = b"1TEG"
MAGIC_PEER = b"2TEG"

# 1TEG commands
CMD_SEARCH_REQ = 0x0B
CMD_SEARCH_RESP = 0x0C
CMD_LOGIN_REQ = 0x0D
CMD_LOGIN_RESP = 0x0E
CMD_DEVICE_MSG = 0x10

# 2TEG commands
CMD_HELLO = 0x00
CMD_CTRL = 0x01
CMD_CTRL_RESP = 0x02
CMD_MEDIA = 0x03
CMD_ACK = 0x04

HEADER_SIZE = 8
MEDIA_HEADER_SIZE = 24
FRAME_HEADER_SIZE = 16
CTRL_HEADER_SIZE = 28
MEDIA_PARAMS_SIZE = 84

DEFAULT_TOKEN = "9e8040834b3a"  # noqa: S105 - public protocol constant
"""Token a camera without a password expects (§4.1)."""
TOKEN_LENGTH = 12
LOGIN_FLAG = 0x09


class Ctl(IntEnum):
    """Control codes (§5.3)."""

    LIVE = 0x00
    TALK = 0x01
    HEARTBEAT = 0x02
    CLOSE = 0x03
    VIDEO_RESOLUTION = 0x04
    VIDEO_FPS = 0x05
    BRIGHTNESS = 0x06
    CONTRAST = 0x07
    VIDEO_FLIP = 0x08
    PTZ = 0x09
    PUSHMSG = 0x0A
    SNAPSHOT = 0x0B
    KEYFRAME = 0x0C
    ALARM = 0x0D
    WIFI = 0x0E
    SDCARD = 0x0F
    CODEC_INFO = 0x10
    LOCK_ENCODER = 0x11
    SET_ACCESS_PASSWORD = 0x12
    IR_LED = 0x13
    REBOOT = 0x50


class StreamType(IntEnum):
    """Media stream types (§5.5)."""

    VIDEO = 0
    AUDIO = 1
    AUDIO2 = 2
    DATA = 3


class StreamMask(IntEnum):
    """LIVE stream mask bits (§5.4)."""

    NONE = 0
    VIDEO = 1
    AUDIO = 2
    VIDEO_AUDIO = 3
    TALK = 4


class LoginResult(IntEnum):
    """LOGIN_RESP result codes (§4.2)."""

    OK = 0
    BAD_REQUEST = 1
    FULL = 2
    WRONG_PASSWORD = 3


_HDR = struct.Struct("<4sHH")
_U32 = struct.Struct("<I")
_CTRL = struct.Struct("<4sHHIIIII")
_MEDIA = struct.Struct("<4sHHIHHHHI")
_FRAME_HDR = struct.Struct("<IIHHI")
_SEARCH_RESP = struct.Struct("<4sHHIII8s4sHH4s32sH2x")
_LOGIN_REQ = struct.Struct("<4sHH12x4sHH4sB12s3x")
_LOGIN_RESP = struct.Struct("<4sHH12xII4sHH4s6xH32sI8x")
_PARAMS = struct.Struct("<HHIHHHHIIIIIIIIIII4sIIIII")
_ACK_ITEM = struct.Struct("<BBHHH")
_LIVE = struct.Struct("<HHI")
_HB_CLIENT = struct.Struct("<IHH")
_HB_CAMERA = struct.Struct("<HHI")


def _ip_bytes(ip: str) -> bytes:
    try:
        return socket.inet_aton(ip)
    except OSError as err:
        raise ValueError(f"not an IPv4 address: {ip!r}") from err


def _ip_str(raw: bytes) -> str:
    return socket.inet_ntoa(raw)


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def _header(data: bytes, magic: bytes, cmd: int, min_len: int) -> int:
    """Validate the common header; return data_len."""
    if len(data) < HEADER_SIZE:
        raise MalformedPacketError(f"datagram too short ({len(data)} bytes)")
    got_magic, got_cmd, data_len = _HDR.unpack_from(data)
    if got_magic != magic:
        raise MalformedPacketError(f"bad magic {got_magic!r}")
    if got_cmd != cmd:
        raise MalformedPacketError(f"unexpected command {got_cmd:#x} (want {cmd:#x})")
    if HEADER_SIZE + data_len > len(data):
        raise MalformedPacketError(f"data_len {data_len} exceeds datagram ({len(data)} bytes)")
    if len(data) < min_len or HEADER_SIZE + data_len < min_len:
        raise MalformedPacketError(f"message too short ({len(data)} < {min_len} bytes)")
    return int(data_len)


def validate_token(token: str | None) -> str:
    """Return the 12-character login token (default when ``None``) or raise ValueError."""
    if token is None or token == "":
        return DEFAULT_TOKEN
    if len(token) != TOKEN_LENGTH or not all(0x21 <= ord(c) <= 0x7E for c in token):
        raise ValueError(
            "TEG password must be the camera's 12-character token (printable ASCII, "
            f"no spaces), got {len(token)} characters"
        )
    return token


# --------------------------------------------------------------------------------------
# 1TEG: discovery and login


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """SEARCH_REQ (1TEG 0x0B, 20 bytes, §3.1)."""

    request_type: int = 1

    def encode(self) -> bytes:
        """Serialise."""
        return _HDR.pack(MAGIC_APP, CMD_SEARCH_REQ, 12) + _U32.pack(self.request_type) + bytes(8)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse; raises MalformedPacketError."""
        _header(data, MAGIC_APP, CMD_SEARCH_REQ, 12)
        return cls(_U32.unpack_from(data, 8)[0])


@dataclass(frozen=True, slots=True)
class SearchResponse:
    """SEARCH_RESP (1TEG 0x0C, 76 bytes, §3.2)."""

    session_port: int
    lan_ip: str
    uid: str
    result_type: int = 1
    record_count: int = 1
    device_type: int = 0
    device_id: bytes = bytes(8)
    wan_ip: str = "0.0.0.0"  # noqa: S104 - a field value, not a bind address
    wan_port: int = 0
    lan_app_port: int = 0

    def encode(self) -> bytes:
        """Serialise."""
        return _SEARCH_RESP.pack(
            MAGIC_APP,
            CMD_SEARCH_RESP,
            _SEARCH_RESP.size - HEADER_SIZE,
            self.result_type,
            self.record_count,
            self.device_type,
            self.device_id,
            _ip_bytes(self.wan_ip),
            _be16(self.wan_port),
            _be16(self.session_port),
            _ip_bytes(self.lan_ip),
            self.uid.encode("ascii"),
            self.lan_app_port,
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse; raises MalformedPacketError (needs at least the UID field, 72 bytes)."""
        _header(data, MAGIC_APP, CMD_SEARCH_RESP, 72)
        if len(data) < _SEARCH_RESP.size:
            data = bytes(data) + bytes(_SEARCH_RESP.size - len(data))
        (_, _, _, rtype, count, dtype, dev_id, wan_ip, wan_port, port, lan_ip, uid, app_port) = (
            _SEARCH_RESP.unpack_from(data)
        )
        return cls(
            session_port=_from_be16(port),
            lan_ip=_ip_str(lan_ip),
            uid=_cstr(uid),
            result_type=rtype,
            record_count=count,
            device_type=dtype,
            device_id=dev_id,
            wan_ip=_ip_str(wan_ip),
            wan_port=_from_be16(wan_port),
            lan_app_port=app_port,
        )


def _be16(value: int) -> int:
    """Byte-swap a port so that packing it little-endian yields network order."""
    return ((value & 0xFF) << 8) | ((value >> 8) & 0xFF)


_from_be16 = _be16


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """LOGIN_REQ (1TEG 0x0D, 48 bytes, §4.1)."""

    client_ip: str
    client_port: int
    token: str = DEFAULT_TOKEN
    public_ip: str = "0.0.0.0"  # noqa: S104 - a field value
    public_port: int = 0
    flag: int = LOGIN_FLAG

    def encode(self) -> bytes:
        """Serialise; the token is validated."""
        return _LOGIN_REQ.pack(
            MAGIC_APP,
            CMD_LOGIN_REQ,
            _LOGIN_REQ.size - HEADER_SIZE,
            _ip_bytes(self.public_ip),
            _be16(self.public_port),
            _be16(self.client_port),
            _ip_bytes(self.client_ip),
            self.flag,
            validate_token(self.token).encode("ascii"),
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse; raises MalformedPacketError."""
        _header(data, MAGIC_APP, CMD_LOGIN_REQ, _LOGIN_REQ.size)
        _, _, _, pub_ip, pub_port, port, ip, flag, token = _LOGIN_REQ.unpack_from(data)
        return cls(
            client_ip=_ip_str(ip),
            client_port=_from_be16(port),
            token=_cstr(token),
            public_ip=_ip_str(pub_ip),
            public_port=_from_be16(pub_port),
            flag=flag,
        )


@dataclass(frozen=True, slots=True)
class LoginResponse:
    """LOGIN_RESP (1TEG 0x0E, 92 bytes, §4.2). ``result`` is a LoginResult when known."""

    result: LoginResult | int
    link_id: int
    camera_ip: str = "0.0.0.0"  # noqa: S104 - a field value
    camera_port: int = 0
    uid: str = ""
    online: int = 0
    access_level: int = 0
    public_ip: str = "0.0.0.0"  # noqa: S104 - a field value
    public_port: int = 0

    @property
    def ok(self) -> bool:
        """True for a successful login (result 0 and a positive link id)."""
        return self.result == LoginResult.OK and 0 < self.link_id < 0x80000000

    def encode(self) -> bytes:
        """Serialise."""
        return _LOGIN_RESP.pack(
            MAGIC_APP,
            CMD_LOGIN_RESP,
            _LOGIN_RESP.size - HEADER_SIZE,
            int(self.result),
            self.link_id,
            _ip_bytes(self.public_ip),
            _be16(self.public_port),
            _be16(self.camera_port),
            _ip_bytes(self.camera_ip),
            self.online,
            self.uid.encode("ascii"),
            self.access_level,
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse; needs at least result and link id (28 bytes); the rest may be absent."""
        _header(data, MAGIC_APP, CMD_LOGIN_RESP, 28)
        if len(data) < _LOGIN_RESP.size:
            data = bytes(data) + bytes(_LOGIN_RESP.size - len(data))
        _, _, _, result, link, pub_ip, pub_port, port, ip, online, uid, level = (
            _LOGIN_RESP.unpack_from(data)
        )
        try:
            res: LoginResult | int = LoginResult(result)
        except ValueError:
            res = result
        return cls(
            result=res,
            link_id=link,
            camera_ip=_ip_str(ip),
            camera_port=_from_be16(port),
            uid=_cstr(uid),
            online=online,
            access_level=level,
            public_ip=_ip_str(pub_ip),
            public_port=_from_be16(pub_port),
        )


# --------------------------------------------------------------------------------------
# 2TEG: ACK/NAK, control, media


@dataclass(frozen=True, slots=True)
class AckItem:
    """One ACK (whole frame) or NAK (missing packet) item (§5.6)."""

    frame_id: int
    nak: bool = False
    stream_type: int = 0
    packet_index: int = 0xFFFF

    @classmethod
    def ack(cls, frame_id: int) -> Self:
        """ACK for a completed frame."""
        return cls(frame_id & 0xFFFF)

    @classmethod
    def missing(cls, frame_id: int, packet_index: int, stream_type: int = 0) -> Self:
        """NAK for one missing packet."""
        return cls(frame_id & 0xFFFF, True, stream_type, packet_index)

    def encode(self) -> bytes:
        """Serialise the 8-byte item."""
        if self.nak:
            return _ACK_ITEM.pack(0, 0, self.stream_type, self.frame_id, self.packet_index)
        return _ACK_ITEM.pack(1, 2, 0, self.frame_id, 0xFFFF)

    @classmethod
    def decode(cls, data: bytes | memoryview, offset: int = 0) -> Self:
        """Parse one item at ``offset``."""
        if len(data) < offset + _ACK_ITEM.size:
            raise MalformedPacketError("truncated ACK/NAK item")
        kind, _, stype, fid, idx = _ACK_ITEM.unpack_from(data, offset)
        if kind == 1:
            return cls(fid, False, stype, idx)
        return cls(fid, True, stype, idx)


@dataclass(frozen=True, slots=True)
class AckBody:
    """ACK/NAK items plus the receive-rate byte.

    Encoded standalone this is the part after the link id of an ACK/NAK pack
    (rate, 2 zero bytes, item count, items); the same bytes follow a CTRL's
    payload when its ack flag is 1 (§5.1, §5.6).
    """

    items: tuple[AckItem, ...] = ()
    rate: int = 10

    def encode(self) -> bytes:
        """Serialise (rate, zero, count, items)."""
        if len(self.items) > 255:
            raise ValueError("at most 255 ACK/NAK items per pack")
        head = struct.pack("<B2xB", self.rate & 0xFF, len(self.items))
        return head + b"".join(item.encode() for item in self.items)

    @classmethod
    def decode(cls, data: bytes | memoryview, offset: int = 0) -> Self:
        """Parse from ``offset``; raises MalformedPacketError if items are cut off."""
        if len(data) < offset + 4:
            raise MalformedPacketError("truncated ACK/NAK body")
        rate = data[offset]
        count = data[offset + 3]
        items = tuple(AckItem.decode(data, offset + 4 + 8 * i) for i in range(count))
        return cls(items, rate)


@dataclass(frozen=True, slots=True)
class AckPack:
    """ACK/NAK pack (2TEG 0x04, §5.6)."""

    link_id: int
    items: tuple[AckItem, ...] = ()
    rate: int = 10

    def encode(self) -> bytes:
        """Serialise."""
        body = AckBody(self.items, self.rate).encode()
        return _HDR.pack(MAGIC_PEER, CMD_ACK, 4 + len(body)) + _U32.pack(self.link_id) + body

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse; raises MalformedPacketError."""
        _header(data, MAGIC_PEER, CMD_ACK, 16)
        link = _U32.unpack_from(data, 8)[0]
        body = AckBody.decode(data, 12)
        return cls(link, body.items, body.rate)


@dataclass(frozen=True, slots=True)
class LivePayload:
    """8-byte LIVE request payload (§5.4)."""

    mask: int = StreamMask.VIDEO
    video_channel: int = 0
    audio_channel: int = 0

    def encode(self) -> bytes:
        """Serialise."""
        return _LIVE.pack(self.video_channel, self.audio_channel, self.mask)

    @classmethod
    def decode(cls, data: bytes | memoryview) -> Self:
        """Parse; raises MalformedPacketError."""
        if len(data) < _LIVE.size:
            raise MalformedPacketError("truncated LIVE payload")
        vch, ach, mask = _LIVE.unpack_from(data)
        return cls(mask, vch, ach)


@dataclass(frozen=True, slots=True)
class ClientHeartbeat:
    """Client → camera heartbeat payload (ctl 2): u32 0, u16 receive rate, u16 0 (§5.7)."""

    rate: int = 10

    def encode(self) -> bytes:
        """Serialise."""
        return _HB_CLIENT.pack(0, self.rate, 0)

    @classmethod
    def decode(cls, data: bytes | memoryview) -> Self:
        """Parse; raises MalformedPacketError."""
        if len(data) < _HB_CLIENT.size:
            raise MalformedPacketError("truncated heartbeat payload")
        return cls(_HB_CLIENT.unpack_from(data)[1])


@dataclass(frozen=True, slots=True)
class CameraHeartbeat:
    """Camera → client heartbeat payload (ctl 2): u16 online, u16 send rate, u32 (§5.7)."""

    online: int = 1
    rate: int = 10
    unknown: int = 0

    def encode(self) -> bytes:
        """Serialise."""
        return _HB_CAMERA.pack(self.online, self.rate, self.unknown)

    @classmethod
    def decode(cls, data: bytes | memoryview) -> Self:
        """Parse; raises MalformedPacketError."""
        if len(data) < _HB_CAMERA.size:
            raise MalformedPacketError("truncated heartbeat payload")
        return cls(*_HB_CAMERA.unpack_from(data))


@dataclass(frozen=True, slots=True)
class MediaParams:
    """84-byte media-params payload of a LIVE CTRL_RESP (§5.4)."""

    width: int = 640
    height: int = 480
    fps: int = 10
    device_type: int = 0
    device_subtype: int = 0
    features: int = 0
    video_channels: int = 1
    audio_channels_total: int = 1
    video_channel: int = 0
    audio_channel: int = 0
    brightness: int = 50
    contrast: int = 50
    light_mode: int = 0
    flip: int = 0
    codec_mode: int = 0
    codec_value: int = 0
    encode_mode: int = 0
    ptz_speed: int = 0
    fourcc: bytes = b"MJPG"
    audio_channels: int = 1
    audio_rate: int = 8000
    audio_bits: int = 16
    audio_format: int = 0x11
    mask: int = 1

    def encode(self) -> bytes:
        """Serialise the 84-byte payload."""
        return _PARAMS.pack(
            self.device_type,
            self.device_subtype,
            self.features,
            self.video_channels,
            self.audio_channels_total,
            self.video_channel,
            self.audio_channel,
            self.width,
            self.height,
            self.fps,
            self.brightness,
            self.contrast,
            self.light_mode,
            self.flip,
            self.codec_mode,
            self.codec_value,
            self.encode_mode,
            self.ptz_speed,
            self.fourcc,
            self.audio_channels,
            self.audio_rate,
            self.audio_bits,
            self.audio_format,
            self.mask,
        )

    @classmethod
    def decode(cls, data: bytes | memoryview) -> Self:
        """Parse; raises MalformedPacketError."""
        if len(data) < _PARAMS.size:
            raise MalformedPacketError(f"media params need {_PARAMS.size} bytes, got {len(data)}")
        v = _PARAMS.unpack_from(data)
        return cls(
            device_type=v[0],
            device_subtype=v[1],
            features=v[2],
            video_channels=v[3],
            audio_channels_total=v[4],
            video_channel=v[5],
            audio_channel=v[6],
            width=v[7],
            height=v[8],
            fps=v[9],
            brightness=v[10],
            contrast=v[11],
            light_mode=v[12],
            flip=v[13],
            codec_mode=v[14],
            codec_value=v[15],
            encode_mode=v[16],
            ptz_speed=v[17],
            fourcc=v[18],
            audio_channels=v[19],
            audio_rate=v[20],
            audio_bits=v[21],
            audio_format=v[22],
            mask=v[23],
        )


def _encode_ctrl(cmd: int, msg: _Control) -> bytes:
    link_id, ctl, sub, payload, ack = msg.link_id, msg.ctl, msg.sub, msg.payload, msg.ack
    head = _CTRL.pack(
        MAGIC_PEER,
        cmd,
        CTRL_HEADER_SIZE - HEADER_SIZE + len(payload),
        link_id,
        ctl,
        sub,
        len(payload),
        0 if ack is None else 1,
    )
    if ack is None:
        return head + payload
    return head + payload + ack.encode()


def _decode_ctrl(data: bytes, cmd: int) -> tuple[int, int, int, bytes, AckBody | None]:
    data_len = _header(data, MAGIC_PEER, cmd, CTRL_HEADER_SIZE)
    _, _, _, link, ctl, sub, plen, flag = _CTRL.unpack_from(data)
    end = HEADER_SIZE + data_len
    if CTRL_HEADER_SIZE + plen > end:
        raise MalformedPacketError(f"control payload_len {plen} exceeds data_len {data_len}")
    payload = bytes(data[CTRL_HEADER_SIZE : CTRL_HEADER_SIZE + plen])
    ack = AckBody.decode(data, end) if flag == 1 and len(data) > end else None
    return link, ctl, sub, payload, ack


@dataclass(frozen=True, slots=True)
class _Control:
    link_id: int
    ctl: int
    sub: int = 0
    payload: bytes = b""
    ack: AckBody | None = field(default=None)

    CMD = CMD_CTRL

    def encode(self) -> bytes:
        """Serialise."""
        return _encode_ctrl(self.CMD, self)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse; raises MalformedPacketError."""
        return cls(*_decode_ctrl(data, cls.CMD))

    @classmethod
    def live(cls, link_id: int, mask: int = StreamMask.VIDEO, sub: int = 1) -> Self:
        """LIVE request (sub 1 sets the mask, sub 0 clears bits, §5.4)."""
        return cls(link_id, Ctl.LIVE, sub, LivePayload(mask).encode())

    @classmethod
    def heartbeat(cls, link_id: int, rate: int = 10) -> Self:
        """Client heartbeat (ctl 2, §5.7)."""
        return cls(link_id, Ctl.HEARTBEAT, 0, ClientHeartbeat(rate).encode())

    @classmethod
    def close(cls, link_id: int) -> Self:
        """CLOSE (ctl 3, sub 1, §5.8); as CtrlResp it is the close answer."""
        return cls(link_id, Ctl.CLOSE, 1)

    @classmethod
    def media_params(cls, link_id: int, params: MediaParams) -> Self:
        """LIVE answer carrying the media params (sub = resulting mask)."""
        return cls(link_id, Ctl.LIVE, params.mask, params.encode())

    @property
    def params(self) -> MediaParams | None:
        """Media params if this carries an 84-byte LIVE payload, else None."""
        if self.ctl == Ctl.LIVE and len(self.payload) >= MEDIA_PARAMS_SIZE:
            return MediaParams.decode(self.payload)
        return None


@dataclass(frozen=True, slots=True)
class Ctrl(_Control):
    """CTRL (2TEG 0x01, §5.1): link id, ctl, sub, payload, optional ACK/NAK body."""

    CMD = CMD_CTRL


@dataclass(frozen=True, slots=True)
class CtrlResp(_Control):
    """CTRL_RESP (2TEG 0x02, §5.2): same layout as CTRL; LIVE answers carry MediaParams."""

    CMD = CMD_CTRL_RESP


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """MEDIA packet (2TEG 0x03, §5.5).

    Video packet 0 carries the frame header (``total_size``, ``packet_count``,
    ``width``, ``height``, ``timestamp``); audio packets carry ``timestamp``
    only; other packets have them ``None``.
    """

    link_id: int
    stream_type: int
    frame_id: int
    packet_index: int
    payload: bytes
    total_size: int | None = None
    packet_count: int | None = None
    width: int | None = None
    height: int | None = None
    timestamp: int | None = None
    flag: int = 1

    def encode(self) -> bytes:
        """Serialise (the frame header is written when ``packet_count`` is set)."""
        if self.packet_count is not None:
            extra = _FRAME_HDR.pack(
                len(self.payload) if self.total_size is None else self.total_size,
                self.packet_count,
                self.width or 0,
                self.height or 0,
                self.timestamp or 0,
            )
        elif self.timestamp is not None:
            extra = _U32.pack(self.timestamp)
        else:
            extra = b""
        data_len = MEDIA_HEADER_SIZE - HEADER_SIZE + len(extra) + len(self.payload)
        return (
            _MEDIA.pack(
                MAGIC_PEER,
                CMD_MEDIA,
                data_len,
                self.link_id,
                self.flag,
                self.stream_type,
                self.frame_id & 0xFFFF,
                self.packet_index,
                len(self.payload),
            )
            + extra
            + self.payload
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse; raises MalformedPacketError."""
        data_len = _header(data, MAGIC_PEER, CMD_MEDIA, MEDIA_HEADER_SIZE)
        _, _, _, link, flag, stype, fid, idx, plen = _MEDIA.unpack_from(data)
        start = HEADER_SIZE + data_len - plen
        if start < MEDIA_HEADER_SIZE:
            raise MalformedPacketError(f"media payload_len {plen} exceeds data_len {data_len}")
        payload = bytes(data[start : start + plen])
        extra = start - MEDIA_HEADER_SIZE
        total = count = width = height = ts = None
        if stype == StreamType.VIDEO and idx == 0 and extra >= FRAME_HEADER_SIZE:
            total, count, width, height, ts = _FRAME_HDR.unpack_from(data, MEDIA_HEADER_SIZE)
        elif stype != StreamType.VIDEO and extra >= 4:
            ts = _U32.unpack_from(data, MEDIA_HEADER_SIZE)[0]
        return cls(link, stype, fid, idx, payload, total, count, width, height, ts, flag)


@dataclass(frozen=True, slots=True)
class DeviceMessage:
    """1TEG 0x10 ("device message", ignored) or any other recognised-but-unused 1TEG/2TEG."""

    magic: bytes
    cmd: int
    data: bytes = b""

    def encode(self) -> bytes:
        """Serialise."""
        return _HDR.pack(self.magic, self.cmd, len(self.data)) + self.data

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse any TEG header; raises MalformedPacketError."""
        if len(data) < HEADER_SIZE:
            raise MalformedPacketError("datagram too short")
        magic, cmd, data_len = _HDR.unpack_from(data)
        if magic not in (MAGIC_ROOT, MAGIC_APP, MAGIC_PEER):
            raise MalformedPacketError(f"bad magic {magic!r}")
        if HEADER_SIZE + data_len > len(data):
            raise MalformedPacketError("data_len exceeds datagram")
        return cls(magic, cmd, bytes(data[HEADER_SIZE : HEADER_SIZE + data_len]))


type Message = (
    SearchRequest
    | SearchResponse
    | LoginRequest
    | LoginResponse
    | Ctrl
    | CtrlResp
    | MediaPacket
    | AckPack
    | DeviceMessage
)

_DISPATCH: dict[tuple[bytes, int], type[Message]] = {
    (MAGIC_APP, CMD_SEARCH_REQ): SearchRequest,
    (MAGIC_APP, CMD_SEARCH_RESP): SearchResponse,
    (MAGIC_APP, CMD_LOGIN_REQ): LoginRequest,
    (MAGIC_APP, CMD_LOGIN_RESP): LoginResponse,
    (MAGIC_PEER, CMD_CTRL): Ctrl,
    (MAGIC_PEER, CMD_CTRL_RESP): CtrlResp,
    (MAGIC_PEER, CMD_MEDIA): MediaPacket,
    (MAGIC_PEER, CMD_ACK): AckPack,
}


def decode_datagram(data: bytes) -> Message:
    """Decode any TEG datagram by magic and command.

    Unknown commands of a known magic decode as :class:`DeviceMessage`; anything
    that is not TEG, or is truncated, raises :class:`MalformedPacketError`.
    """
    if len(data) < HEADER_SIZE:
        raise MalformedPacketError(f"datagram too short ({len(data)} bytes)")
    magic = bytes(data[:4])
    cmd = data[4] | (data[5] << 8)
    cls = _DISPATCH.get((magic, cmd))
    if cls is None:
        return DeviceMessage.decode(data)
    return cls.decode(data)
