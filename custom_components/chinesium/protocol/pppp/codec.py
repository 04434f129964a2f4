"""PPPP datagram framing and the LAN message types (pppp.md §1, §3, §4).

Every datagram (after removing the optional obfuscation, see :mod:`.crypto`)
is ``f1 <type> <u16 BE length> <body>``. :func:`decode` turns bytes into one
of the typed messages below and raises :class:`MalformedPacketError` for
anything it cannot parse; :meth:`encode` on a message gives the exact bytes.
Trailing bytes beyond ``length`` are accepted unless ``strict=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
import struct

from ..errors import MalformedPacketError
from .devid import DID_WIRE_SIZE, DeviceId

MAGIC = 0xF1
HEADER_SIZE = 4
DRW_HEADER_SIZE = 8
DRW_MARKER = 0xD1
MAX_CHANNELS = 8
MAX_DRW_PAYLOAD = 1024
"""Largest payload we put in one DRW (senders use ≤ 1024; receivers accept more)."""
MAX_ACK_INDICES = 81
"""Most indices in one DRW_ACK (the CS2 library rejects 82 or more)."""
MAX_DATAGRAM = 1500

_HDR = struct.Struct(">BBH")
_DRW_HDR = struct.Struct(">BBHBBH")


class MsgType(IntEnum):
    """PPPP message types (CS2 numbering); LAN ones are commented."""

    HELLO = 0x00
    HELLO_ACK = 0x01
    HELLO_TO = 0x02
    HELLO_TO_ACK = 0x03
    QUERY_DID = 0x08
    QUERY_DID_ACK = 0x09
    DEV_LGN = 0x10
    DEV_LGN_ACK = 0x11
    DEV_LGN_CRC = 0x12
    DEV_LGN_ACK_CRC = 0x13
    P2P_REQ = 0x20
    P2P_REQ_ACK = 0x21
    P2P_REQ_DSK = 0x26
    LAN_SEARCH = 0x30  # LAN: client -> device UDP 32108
    LAN_NOTIFY = 0x31
    LAN_NOTIFY_ACK = 0x32  # iLnk: LAN_SEARCH_EXT
    LAN_SEARCH_EXT_ACK = 0x33  # iLnk
    SMART_PUNCH_TO = 0x3F
    PUNCH_TO = 0x40
    PUNCH_PKT = 0x41  # LAN: DID
    P2P_RDY = 0x42  # LAN: DID
    P2P_RDY_ACK = 0x43
    RS_LGN = 0x60
    LIST_REQ1 = 0x67
    LIST_REQ = 0x68
    LIST_REQ_ACK = 0x69
    RLY_HELLO = 0x70
    RLY_HELLO_ACK = 0x71
    RLY_PORT = 0x72
    RLY_PORT_ACK = 0x73
    RLY_REQ = 0x80
    RLY_REQ_ACK = 0x81
    RLY_TO = 0x82
    RLY_PKT = 0x83
    RLY_RDY = 0x84
    DRW = 0xD0  # LAN: reliable data
    DRW_ACK = 0xD1  # LAN
    PSR = 0xD8
    ALIVE = 0xE0  # LAN
    ALIVE_ACK = 0xE1  # LAN
    CLOSE = 0xF0  # LAN
    REPORT_SESSION_READY = 0xF9


def header(msg_type: int, length: int) -> bytes:
    """The 4-byte header ``f1 <type> <length BE>``."""
    return _HDR.pack(MAGIC, msg_type, length)


LAN_SEARCH = header(MsgType.LAN_SEARCH, 0)
ALIVE = header(MsgType.ALIVE, 0)
ALIVE_ACK = header(MsgType.ALIVE_ACK, 0)
CLOSE = header(MsgType.CLOSE, 0)


# -- messages -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LanSearch:
    """LAN_SEARCH (0x30): "who is there?" to UDP 32108."""

    type = MsgType.LAN_SEARCH

    def encode(self) -> bytes:
        """Wire bytes."""
        return LAN_SEARCH


@dataclass(frozen=True, slots=True)
class Alive:
    """ALIVE (0xE0) keepalive; answer with :class:`AliveAck`."""

    type = MsgType.ALIVE

    def encode(self) -> bytes:
        """Wire bytes."""
        return ALIVE


@dataclass(frozen=True, slots=True)
class AliveAck:
    """ALIVE_ACK (0xE1)."""

    type = MsgType.ALIVE_ACK

    def encode(self) -> bytes:
        """Wire bytes."""
        return ALIVE_ACK


@dataclass(frozen=True, slots=True)
class Close:
    """CLOSE (0xF0): the sender tears the session down."""

    type = MsgType.CLOSE

    def encode(self) -> bytes:
        """Wire bytes."""
        return CLOSE


@dataclass(frozen=True, slots=True)
class _DidMessage:
    """A message whose body is a 20-byte DID, possibly followed by extra bytes.

    ``raw_did`` keeps the 20 received bytes so replies can echo them verbatim;
    ``extra`` is what follows (Yi "_EX" variant: u24 API version + pad).
    """

    did: DeviceId
    raw_did: bytes = b""
    extra: bytes = b""

    type: MsgType = field(init=False, default=MsgType.PUNCH_PKT, repr=False)

    def encode(self) -> bytes:
        """Wire bytes (echoes ``raw_did`` when present)."""
        body = (self.raw_did or self.did.encode()) + self.extra
        return header(self.type, len(body)) + body

    @classmethod
    def _decode_body(cls, body: bytes) -> tuple[DeviceId, bytes, bytes]:
        if len(body) < DID_WIRE_SIZE:
            raise MalformedPacketError(f"DID message body too short ({len(body)} bytes)")
        raw = body[:DID_WIRE_SIZE]
        return DeviceId.decode(raw), raw, body[DID_WIRE_SIZE:]


@dataclass(frozen=True, slots=True)
class PunchPkt(_DidMessage):
    """PUNCH_PKT (0x41): the device's answer to LAN_SEARCH, and the client's echo."""

    type: MsgType = field(init=False, default=MsgType.PUNCH_PKT, repr=False)


@dataclass(frozen=True, slots=True)
class P2pRdy(_DidMessage):
    """P2P_RDY (0x42): the session is established."""

    type: MsgType = field(init=False, default=MsgType.P2P_RDY, repr=False)


@dataclass(frozen=True, slots=True)
class Drw:
    """DRW (0xD0): reliable data on ``channel`` (0-7) with a u16 ``index``."""

    channel: int
    index: int
    payload: bytes
    marker: int = DRW_MARKER

    type = MsgType.DRW

    def encode(self) -> bytes:
        """Wire bytes."""
        return encode_drw(self.channel, self.index, self.payload, self.marker)


@dataclass(frozen=True, slots=True)
class Psr:
    """PSR (0xD8): DRW layout, unreliable; recognised only."""

    channel: int
    index: int
    payload: bytes
    marker: int = DRW_MARKER

    type = MsgType.PSR

    def encode(self) -> bytes:
        """Wire bytes."""
        return encode_drw(self.channel, self.index, self.payload, self.marker, MsgType.PSR)


@dataclass(frozen=True, slots=True)
class DrwAck:
    """DRW_ACK (0xD1): acknowledges ``indices`` of ``channel``."""

    channel: int
    indices: tuple[int, ...]
    marker: int = DRW_MARKER

    type = MsgType.DRW_ACK

    def encode(self) -> bytes:
        """Wire bytes."""
        return encode_drw_ack(self.channel, self.indices, self.marker)


@dataclass(frozen=True, slots=True)
class Unknown:
    """Any other well-framed message (server messages, vendor extensions)."""

    msg_type: int
    body: bytes

    @property
    def type(self) -> int:
        """The message type byte."""
        return self.msg_type

    def encode(self) -> bytes:
        """Wire bytes."""
        return header(self.msg_type, len(self.body)) + self.body


type Message = (
    LanSearch | Alive | AliveAck | Close | PunchPkt | P2pRdy | Drw | Psr | DrwAck | Unknown
)


# -- fast encoders -------------------------------------------------------------------


def encode_drw(
    channel: int,
    index: int,
    payload: bytes | bytearray | memoryview,
    marker: int = DRW_MARKER,
    msg_type: int = MsgType.DRW,
) -> bytes:
    """DRW datagram for ``payload`` (caller keeps payloads ≤ :data:`MAX_DRW_PAYLOAD`)."""
    if not 0 <= channel < MAX_CHANNELS:
        raise ValueError(f"DRW channel {channel} out of range")
    return (
        _DRW_HDR.pack(MAGIC, msg_type, 4 + len(payload), marker, channel, index & 0xFFFF) + payload
    )


def encode_drw_ack(channel: int, indices: Sequence[int], marker: int = DRW_MARKER) -> bytes:
    """DRW_ACK datagram acknowledging ``indices`` (≤ :data:`MAX_ACK_INDICES` of them)."""
    if not 0 <= channel < MAX_CHANNELS:
        raise ValueError(f"DRW_ACK channel {channel} out of range")
    k = len(indices)
    if not 0 < k <= MAX_ACK_INDICES:
        raise ValueError(f"DRW_ACK needs 1..{MAX_ACK_INDICES} indices, got {k}")
    return _DRW_HDR.pack(MAGIC, MsgType.DRW_ACK, 4 + 2 * k, marker, channel, k) + struct.pack(
        f">{k}H", *(i & 0xFFFF for i in indices)
    )


def encode_punch(did: DeviceId | bytes) -> bytes:
    """PUNCH_PKT carrying ``did`` (a DeviceId or 20 raw bytes to echo)."""
    raw = did if isinstance(did, bytes) else did.encode()
    return header(MsgType.PUNCH_PKT, len(raw)) + raw


def encode_p2p_rdy(did: DeviceId | bytes) -> bytes:
    """P2P_RDY carrying ``did`` (a DeviceId or 20 raw bytes to echo)."""
    raw = did if isinstance(did, bytes) else did.encode()
    return header(MsgType.P2P_RDY, len(raw)) + raw


# -- decoding ------------------------------------------------------------------------


def parse_header(data: bytes | bytearray | memoryview, *, strict: bool = False) -> tuple[int, int]:
    """Validate the 4-byte header; return ``(type, body_length)``.

    Raises :class:`MalformedPacketError` on a short datagram, a magic other than
    0xF1, a body shorter than ``length``, or (``strict``) trailing bytes.
    """
    size = len(data)
    if size < HEADER_SIZE:
        raise MalformedPacketError(f"datagram too short ({size} bytes)")
    magic, msg_type, length = _HDR.unpack_from(data)
    if magic != MAGIC:
        raise MalformedPacketError(f"bad magic 0x{magic:02x}")
    if HEADER_SIZE + length > size:
        raise MalformedPacketError(f"length {length} exceeds datagram ({size} bytes)")
    if strict and HEADER_SIZE + length != size:
        raise MalformedPacketError(f"{size - HEADER_SIZE - length} trailing bytes")
    return msg_type, length


def decode(data: bytes | bytearray | memoryview, *, strict: bool = False) -> Message:
    """Decode one plaintext datagram into a typed message.

    ``strict`` mimics the CS2 library: no trailing bytes, DRW/DRW_ACK marker
    must be 0xD1 and DRW_ACK may hold at most 81 indices.
    """
    msg_type, length = parse_header(data, strict=strict)
    body = bytes(data[HEADER_SIZE : HEADER_SIZE + length])
    if msg_type in (MsgType.DRW, MsgType.PSR):
        channel, index, payload, marker = _drw_body(body, strict)
        cls = Drw if msg_type == MsgType.DRW else Psr
        return cls(channel, index, payload, marker)
    if msg_type == MsgType.DRW_ACK:
        return _drw_ack_body(body, strict)
    if msg_type == MsgType.PUNCH_PKT:
        return PunchPkt(*_DidMessage._decode_body(body))
    if msg_type == MsgType.P2P_RDY:
        return P2pRdy(*_DidMessage._decode_body(body))
    simple = _EMPTY.get(msg_type)
    if simple is not None:
        return simple
    return Unknown(msg_type, body)


_EMPTY: dict[int, LanSearch | Alive | AliveAck | Close] = {
    MsgType.LAN_SEARCH: LanSearch(),
    MsgType.ALIVE: Alive(),
    MsgType.ALIVE_ACK: AliveAck(),
    MsgType.CLOSE: Close(),
}


def _drw_body(body: bytes, strict: bool) -> tuple[int, int, bytes, int]:
    if len(body) < 4:
        raise MalformedPacketError(f"DRW body too short ({len(body)} bytes)")
    marker, channel, index = body[0], body[1], (body[2] << 8) | body[3]
    if strict and marker != DRW_MARKER:
        raise MalformedPacketError(f"bad DRW marker 0x{marker:02x}")
    if channel >= MAX_CHANNELS:
        raise MalformedPacketError(f"DRW channel {channel} out of range")
    return channel, index, body[4:], marker


def _drw_ack_body(body: bytes, strict: bool) -> DrwAck:
    if len(body) < 4:
        raise MalformedPacketError(f"DRW_ACK body too short ({len(body)} bytes)")
    marker, channel, count = body[0], body[1], (body[2] << 8) | body[3]
    if strict and marker != DRW_MARKER:
        raise MalformedPacketError(f"bad DRW_ACK marker 0x{marker:02x}")
    if channel >= MAX_CHANNELS:
        raise MalformedPacketError(f"DRW_ACK channel {channel} out of range")
    if strict and count > MAX_ACK_INDICES:
        raise MalformedPacketError(f"DRW_ACK with {count} indices")
    if 4 + 2 * count > len(body):
        raise MalformedPacketError(f"DRW_ACK count {count} exceeds body")
    return DrwAck(channel, struct.unpack_from(f">{count}H", body, 4), marker)
