"""PPPP codec: byte-exact vectors from pppp.md §7 and the seed, malformed input."""

from __future__ import annotations

from hypothesis import given, strategies as st
import pytest

from custom_components.chinesium.protocol.errors import MalformedPacketError
from custom_components.chinesium.protocol.pppp import codec
from custom_components.chinesium.protocol.pppp.codec import (
    Alive,
    AliveAck,
    Close,
    Drw,
    DrwAck,
    LanSearch,
    MsgType,
    P2pRdy,
    Psr,
    PunchPkt,
    Unknown,
    decode,
)
from custom_components.chinesium.protocol.pppp.devid import DeviceId

H = bytes.fromhex

PUNCH_BATD = H("f1 41 00 14 42 41 54 44 00 00 00 00 00 02 62 ca 57 4f 4e 4a 4d 00 00 00")
PUNCH_XHA = H("f1 41 00 14 58 48 41 00 00 00 00 00 00 00 03 e2 4b 4d 4d 45 42 00 00 00")
RDY_BATD = H("f1 42 00 14 42 41 54 44 00 00 00 00 00 02 62 ca 57 4f 4e 4a 4d 00 00 00")

SHIX_JSON = b'{"pro":"check_user","cmd":100,"user":"admin","pwd":"6666","devmac":"0000"}'
SHIX_LOGIN = H(
    "f1 d0 00 56 d1 00 00 00 06 0a a0 80 4a 00 00 00 7b 22 70 72 6f 22 3a 22 63 68 65 63 6b 5f"
    "75 73 65 72 22 2c 22 63 6d 64 22 3a 31 30 30 2c 22 75 73 65 72 22 3a 22 61 64 6d 69 6e 22"
    "2c 22 70 77 64 22 3a 22 36 36 36 36 22 2c 22 64 65 76 6d 61 63 22 3a 22 30 30 30 30 22 7d"
)
SHIX_STREAM_JSON = (
    b'{"pro":"stream","cmd":111,"video":1,"user":"admin","pwd":"6666","devmac":"0000"}'
)
SHIX_STREAM = H(
    "f1 d0 00 5c d1 00 00 01 06 0a a0 80 50 00 00 00 7b 22 70 72 6f 22 3a 22 73 74 72 65 61 6d"
    "22 2c 22 63 6d 64 22 3a 31 31 31 2c 22 76 69 64 65 6f 22 3a 31 2c 22 75 73 65 72 22 3a 22"
    "61 64 6d 69 6e 22 2c 22 70 77 64 22 3a 22 36 36 36 36 22 2c 22 64 65 76 6d 61 63 22 3a 22"
    "30 30 30 30 22 7d"
)
VSTAR_TEXT = (
    b"GET /livestream.cgi?streamid=10&substream=1&loginuse=admin&loginpas=888888"
    b"&user=admin&pwd=888888&"
)


def test_simple_messages() -> None:
    assert LanSearch().encode() == H("f1 30 00 00")
    assert Alive().encode() == H("f1 e0 00 00")
    assert AliveAck().encode() == H("f1 e1 00 00")
    assert Close().encode() == H("f1 f0 00 00")
    assert decode(H("f1 30 00 00")) == LanSearch()
    assert decode(H("f1 e0 00 00")) == Alive()
    assert decode(H("f1 e1 00 00")) == AliveAck()
    assert decode(H("f1 f0 00 00")) == Close()


def test_punch_pkt_vectors() -> None:
    msg = decode(PUNCH_BATD)
    assert isinstance(msg, PunchPkt)
    assert str(msg.did) == "BATD-156362-WONJM"
    assert msg.encode() == PUNCH_BATD
    assert PunchPkt(DeviceId.parse("BATD-156362-WONJM")).encode() == PUNCH_BATD
    xha = decode(PUNCH_XHA)
    assert isinstance(xha, PunchPkt)
    assert xha.did == DeviceId("XHA", 994, "KMMEB")
    assert codec.encode_punch(DeviceId.parse("XHA994KMMEB")) == PUNCH_XHA


def test_p2p_rdy_vector() -> None:
    msg = decode(RDY_BATD)
    assert isinstance(msg, P2pRdy)
    assert msg.type == MsgType.P2P_RDY
    assert msg.encode() == RDY_BATD
    assert codec.encode_p2p_rdy(msg.raw_did) == RDY_BATD
    assert P2pRdy(msg.did).encode() == RDY_BATD


def test_yi_extended_punch_keeps_extra() -> None:
    data = H("f1 41 00 18") + PUNCH_BATD[4:] + H("00 01 02 00")
    msg = decode(data)
    assert isinstance(msg, PunchPkt)
    assert msg.extra == H("00 01 02 00")
    assert msg.encode() == data


def test_raw_did_echoed_verbatim() -> None:
    # 6-char prefix with junk after the NUL: reply must carry the exact bytes
    raw = b"TNPCHN\0\x7f" + (1234).to_bytes(4) + b"ABCDE\0\0\x01"
    msg = decode(codec.header(MsgType.PUNCH_PKT, 20) + raw)
    assert isinstance(msg, PunchPkt)
    assert msg.did == DeviceId("TNPCHN", 1234, "ABCDE")
    assert codec.encode_p2p_rdy(msg.raw_did)[4:] == raw


def test_drw_ack_vectors() -> None:
    ack = H("f1 d1 00 06 d1 00 00 01 00 00")
    assert codec.encode_drw_ack(0, [0]) == ack
    assert decode(ack) == DrwAck(0, (0,))
    batched = H("f1 d1 00 08 d1 01 00 02 00 07 00 08")
    assert DrwAck(1, (7, 8)).encode() == batched
    assert decode(batched) == DrwAck(1, (7, 8))


def test_drw_ack_padding_and_d2_marker() -> None:
    padded = codec.encode_drw_ack(2, [5]) + b"\0" * 22  # cam-reverse pads to 32 bytes
    assert decode(padded) == DrwAck(2, (5,))
    d2 = H("f1 d1 00 06 d2 00 00 01 00 09")
    assert decode(d2) == DrwAck(0, (9,), 0xD2)
    with pytest.raises(MalformedPacketError):
        decode(d2, strict=True)
    with pytest.raises(MalformedPacketError):
        decode(padded, strict=True)


def test_drw_shix_login_and_stream() -> None:
    assert len(SHIX_JSON) == 74
    payload = H("06 0a a0 80") + len(SHIX_JSON).to_bytes(4, "little") + SHIX_JSON
    assert codec.encode_drw(0, 0, payload) == SHIX_LOGIN
    msg = decode(SHIX_LOGIN)
    assert msg == Drw(0, 0, payload)
    stream = decode(SHIX_STREAM)
    assert isinstance(stream, Drw)
    assert stream.index == 1
    assert stream.payload[8:] == SHIX_STREAM_JSON
    assert stream.encode() == SHIX_STREAM


def test_drw_ilnk_vectors() -> None:
    login_hdr = H("f1 d0 00 b0 d1 00 00 00 11 0a 20 10 a4 00 ff 00 00 00 00 00")
    data = H("6f") + H("01") * 27 + H("60 65 6c 68 6f") + H("01") * 123 + H("60 65 6c 68")
    assert len(data) == 160
    pkt = login_hdr + data
    msg = decode(pkt)
    assert isinstance(msg, Drw)
    assert (msg.channel, msg.index, len(msg.payload)) == (0, 0, 172)
    assert msg.encode() == pkt
    video = H("f1 d0 00 10 d1 00 00 00 11 0a 10 30 04 00 00 00 01 02 03 04")
    assert codec.encode_drw(0, 0, video[8:]) == video
    status = H("f1 d0 00 10 d1 00 00 00 11 0a 08 10 04 00 00 00 01 02 03 04")
    assert decode(status) == Drw(0, 0, status[8:])


def test_drw_vstarcam_cgi() -> None:
    assert len(VSTAR_TEXT) == 97
    payload = H("01 0a 00 00") + len(VSTAR_TEXT).to_bytes(4, "little") + VSTAR_TEXT
    pkt = codec.encode_drw(0, 0, payload)
    assert pkt[:16] == H("f1 d0 00 6d d1 00 00 00 01 0a 00 00 61 00 00 00")
    assert decode(pkt) == Drw(0, 0, payload)


def test_psr_and_unknown() -> None:
    psr = codec.encode_drw(1, 3, b"xy", msg_type=MsgType.PSR)
    assert decode(psr) == Psr(1, 3, b"xy")
    assert Psr(1, 3, b"xy").encode() == psr
    hello_ack = codec.header(MsgType.HELLO_ACK, 16) + bytes(16)
    msg = decode(hello_ack)
    assert msg == Unknown(MsgType.HELLO_ACK, bytes(16))
    assert msg.encode() == hello_ack


def test_trailing_bytes_accepted() -> None:
    assert decode(H("f1 e0 00 00 00 00 00 00")) == Alive()  # zero-padded ALIVE [AIOP]
    assert decode(PUNCH_BATD + b"\0\0") == decode(PUNCH_BATD)
    with pytest.raises(MalformedPacketError):
        decode(H("f1 e0 00 00 00"), strict=True)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        H("f1"),
        H("f1 d0 00"),
        H("f2 30 00 00"),  # iLnk server magic
        H("a1 00 00 14") + bytes(20),  # iLnk heartbeat magic
        H("f1 d0 00 08 d1 00"),  # length beyond datagram
        H("f1 d0 00 02 d1 00"),  # DRW body shorter than its header
        H("f1 d0 00 04 d1 08 00 00"),  # channel 8
        H("f1 d1 00 04 d1 09 00 00"),  # ACK channel 9
        H("f1 d1 00 06 d1 00 00 02 00 01"),  # ACK count beyond body
        H("f1 41 00 10") + bytes(16),  # DID too short
        H("f1 41 00 14") + b"AB\xffD\0\0\0\0" + bytes(12),  # non-ASCII prefix
        H("f1 42 00 14") + bytes(20),  # empty prefix
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(MalformedPacketError):
        decode(data)


def test_strict_ack_limit() -> None:
    ack = codec.header(MsgType.DRW_ACK, 4 + 2 * 82) + H("d1 00 00 52") + bytes(164)
    assert isinstance(decode(ack), DrwAck)
    with pytest.raises(MalformedPacketError):
        decode(ack, strict=True)


def test_encoder_argument_checks() -> None:
    with pytest.raises(ValueError):
        codec.encode_drw(8, 0, b"")
    with pytest.raises(ValueError):
        codec.encode_drw_ack(0, [])
    with pytest.raises(ValueError):
        codec.encode_drw_ack(0, list(range(82)))
    assert len(codec.encode_drw_ack(0, list(range(81)))) == 8 + 162
    assert codec.encode_drw(0, 0x1FFFF, b"")[6:8] == H("ff ff")


@given(st.binary(max_size=64))
def test_fuzz_never_crashes(data: bytes) -> None:
    try:
        decode(data)
    except MalformedPacketError:
        pass


@given(
    st.integers(0, 7),
    st.integers(0, 0xFFFF),
    st.binary(max_size=1024),
    st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=81),
)
def test_roundtrip(channel: int, index: int, payload: bytes, acks: list[int]) -> None:
    assert decode(codec.encode_drw(channel, index, payload)) == Drw(channel, index, payload)
    assert decode(codec.encode_drw_ack(channel, acks)) == DrwAck(channel, tuple(acks))
