"""TEG codec: every teg.md §10 vector byte-exact both ways, plus malformed input."""

from __future__ import annotations

import itertools
import random
import struct

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.chinesium.protocol.errors import MalformedPacketError
from custom_components.chinesium.protocol.model import SessionStats
from custom_components.chinesium.protocol.teg.codec import (
    DEFAULT_TOKEN,
    AckBody,
    AckItem,
    AckPack,
    CameraHeartbeat,
    ClientHeartbeat,
    Ctl,
    Ctrl,
    CtrlResp,
    DeviceMessage,
    LivePayload,
    LoginRequest,
    LoginResponse,
    LoginResult,
    MediaPacket,
    MediaParams,
    SearchRequest,
    SearchResponse,
    decode_datagram,
    validate_token,
)
from custom_components.chinesium.protocol.teg.reassembly import Reassembler


def h(text: str) -> bytes:
    """Parse a hex dump ("0000: aa bb ..." lines or a flat string)."""
    out = []
    for raw in text.strip().splitlines():
        row = raw.strip()
        if ":" in row[:6]:
            row = row.split(":", 1)[1]
        out.append(row)
    return bytes.fromhex(" ".join(out))


UID = "EMUCAM1-0123456789AB-C0FFEE"

SEARCH_REQ = h("""
0000: 31 54 45 47 0b 00 0c 00 01 00 00 00 00 00 00 00
0010: 00 00 00 00
""")
SEARCH_RESP = h("""
0000: 31 54 45 47 0c 00 44 00 01 00 00 00 01 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 45 ec c0 a8 01 3c 45 4d 55 43 41 4d 31 2d
0030: 30 31 32 33 34 35 36 37 38 39 41 42 2d 43 30 46
0040: 46 45 45 00 00 00 00 00 00 00 00 00
""")
LOGIN_REQ = h("""
0000: 31 54 45 47 0d 00 28 00 00 00 00 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 a3 2d c0 a8 01 32
0020: 09 39 65 38 30 34 30 38 33 34 62 33 61 00 00 00
""")
LOGIN_REQ_TOKEN = h("""
0000: 31 54 45 47 0d 00 28 00 00 00 00 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 a3 2d c0 a8 01 32
0020: 09 36 64 64 64 36 30 33 33 35 31 39 30 00 00 00
""")
LOGIN_OK = h("""
0000: 31 54 45 47 0e 00 54 00 00 00 00 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00
0020: 00 00 45 ec c0 a8 01 3c 00 00 00 00 00 00 01 00
0030: 45 4d 55 43 41 4d 31 2d 30 31 32 33 34 35 36 37
0040: 38 39 41 42 2d 43 30 46 46 45 45 00 00 00 00 00
0050: 01 00 00 00 00 00 00 00 00 00 00 00
""")


def _patch_rows(base: bytes, rows: str) -> bytes:
    out = bytearray(base)
    for line in rows.strip().splitlines():
        off, hexs = line.split(":", 1)
        chunk = bytes.fromhex(hexs)
        o = int(off, 16)
        out[o : o + len(chunk)] = chunk
    return bytes(out)


LOGIN_WRONG = _patch_rows(
    LOGIN_OK,
    """
0010: 00 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 45 ec c0 a8 01 3c 00 00 00 00 00 00 00 00
0050: 00 00 00 00 00 00 00 00 00 00 00 00
""",
)
LOGIN_FULL = _patch_rows(
    LOGIN_OK,
    """
0010: 00 00 00 00 02 00 00 00 00 00 00 00 00 00 00 00
0050: 00 00 00 00 00 00 00 00 00 00 00 00
""",
)
LIVE_VIDEO = h("""
0000: 32 54 45 47 01 00 1c 00 01 00 00 00 00 00 00 00
0010: 01 00 00 00 08 00 00 00 00 00 00 00 00 00 00 00
0020: 01 00 00 00
""")
PARAMS = h("""
0000: 32 54 45 47 02 00 68 00 01 00 00 00 00 00 00 00
0010: 01 00 00 00 54 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 01 00 01 00 00 00 00 00 80 02 00 00
0030: e0 01 00 00 0a 00 00 00 32 00 00 00 32 00 00 00
0040: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0050: 00 00 00 00 00 00 00 00 4d 4a 50 47 01 00 00 00
0060: 40 1f 00 00 10 00 00 00 11 00 00 00 01 00 00 00
""")
HB_CLIENT = h("""
0000: 32 54 45 47 01 00 1c 00 01 00 00 00 02 00 00 00
0010: 00 00 00 00 08 00 00 00 00 00 00 00 00 00 00 00
0020: 0a 00 00 00
""")
KEEPALIVE_SD = h("""
0000: 32 54 45 47 01 00 14 00 01 00 00 00 0f 00 00 00
0010: 02 00 00 00 00 00 00 00 00 00 00 00
""")
HB_CAMERA = h("""
0000: 32 54 45 47 01 00 1c 00 01 00 00 00 02 00 00 00
0010: 00 00 00 00 08 00 00 00 00 00 00 00 01 00 0a 00
0020: 00 00 00 00
""")
CLOSE = h("""
0000: 32 54 45 47 01 00 14 00 01 00 00 00 03 00 00 00
0010: 01 00 00 00 00 00 00 00 00 00 00 00
""")
CLOSE_RESP = h("""
0000: 32 54 45 47 02 00 14 00 01 00 00 00 03 00 00 00
0010: 01 00 00 00 00 00 00 00 00 00 00 00
""")
ACK = h("""
0000: 32 54 45 47 04 00 10 00 01 00 00 00 0a 00 00 01
0010: 01 02 00 00 23 01 ff ff
""")
NAK = h("""
0000: 32 54 45 47 04 00 10 00 01 00 00 00 0a 00 00 01
0010: 00 00 00 00 24 01 03 00
""")
OTHER_CTRLS = [
    (
        Ctrl,
        8,
        2,
        "32 54 45 47 01 00 14 00 01 00 00 00 08 00 00 00 02 00 00 00 00 00 00 00 00 00 00 00",
    ),
    (
        Ctrl,
        9,
        4,
        "32 54 45 47 01 00 14 00 01 00 00 00 09 00 00 00 04 00 00 00 00 00 00 00 00 00 00 00",
    ),
    (
        Ctrl,
        0x13,
        3,
        "32 54 45 47 01 00 14 00 01 00 00 00 13 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00",
    ),
    (
        Ctrl,
        0x0B,
        1,
        "32 54 45 47 01 00 14 00 01 00 00 00 0b 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00",
    ),
    (
        Ctrl,
        0x0C,
        1,
        "32 54 45 47 01 00 14 00 01 00 00 00 0c 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00",
    ),
    (
        CtrlResp,
        8,
        0,
        "32 54 45 47 02 00 14 00 01 00 00 00 08 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
    ),
]
MEDIA_FIRST_HEAD = h("""
0000: 32 54 45 47 03 00 28 04 01 00 00 00 01 00 00 00
0010: 23 01 00 00 08 04 00 00 dd 07 00 00 02 00 00 00
0020: 80 02 e0 01 40 e2 01 00 ff d8 ff e0 00 10 4a 46
""")
MEDIA_SECOND_HEAD = h("32 54 45 47 03 00 e5 03 01 00 00 00 01 00 00 00 23 01 01 00 d5 03 00 00")
AUDIO_HEAD = h(
    "32 54 45 47 03 00 18 02 01 00 00 00 01 00 01 00 24 01 00 00 04 02 00 00 6c e2 01 00"
)


def _jpeg(size: int) -> bytes:
    rnd = random.Random(size)
    body = bytes(rnd.randrange(256) for _ in range(size - 12))
    return b"\xff\xd8\xff\xe0\x00\x10JFIF" + body + b"\xff\xd9"


# -- 1TEG ------------------------------------------------------------------------------


def test_search_request() -> None:
    assert SearchRequest().encode() == SEARCH_REQ
    assert SearchRequest.decode(SEARCH_REQ) == SearchRequest(1)
    assert decode_datagram(SEARCH_REQ) == SearchRequest(1)


def test_search_response() -> None:
    msg = SearchResponse(session_port=17900, lan_ip="192.168.1.60", uid=UID)
    assert msg.encode() == SEARCH_RESP
    got = SearchResponse.decode(SEARCH_RESP)
    assert got == msg
    assert (got.session_port, got.lan_ip, got.uid) == (17900, "192.168.1.60", UID)
    assert decode_datagram(SEARCH_RESP) == msg


def test_search_response_without_tail_padding() -> None:
    # 72 bytes (UID field complete, no u16/padding) is still accepted.
    data = bytearray(SEARCH_RESP[:72])
    data[6] = 64
    assert SearchResponse.decode(bytes(data)).uid == UID


def test_login_request() -> None:
    msg = LoginRequest(client_ip="192.168.1.50", client_port=41773)
    assert msg.encode() == LOGIN_REQ
    assert LoginRequest.decode(LOGIN_REQ) == msg
    assert msg.token == DEFAULT_TOKEN
    tok = LoginRequest("192.168.1.50", 41773, token="6ddd60335190")
    assert tok.encode() == LOGIN_REQ_TOKEN
    assert decode_datagram(LOGIN_REQ_TOKEN) == tok


@pytest.mark.parametrize(
    ("data", "result", "link", "online", "level"),
    [
        (LOGIN_OK, LoginResult.OK, 1, 1, 1),
        (LOGIN_WRONG, LoginResult.WRONG_PASSWORD, 0, 0, 0),
        (LOGIN_FULL, LoginResult.FULL, 0, 1, 0),
    ],
)
def test_login_response(
    data: bytes, result: LoginResult, link: int, online: int, level: int
) -> None:
    msg = LoginResponse(
        result=result,
        link_id=link,
        camera_ip="192.168.1.60",
        camera_port=17900,
        uid=UID,
        online=online,
        access_level=level,
    )
    assert msg.encode() == data
    got = LoginResponse.decode(data)
    assert got == msg
    assert isinstance(got.result, LoginResult)
    assert got.ok is (result is LoginResult.OK)
    assert decode_datagram(data) == msg


def test_login_response_unknown_result_kept_as_int() -> None:
    data = bytearray(LOGIN_OK)
    data[20] = 7
    got = LoginResponse.decode(bytes(data))
    assert got.result == 7
    assert not got.ok


def test_token_validation() -> None:
    assert validate_token(None) == DEFAULT_TOKEN
    assert validate_token("") == DEFAULT_TOKEN
    assert validate_token("6ddd60335190") == "6ddd60335190"
    for bad in ("short", "13charslong!!", "with space 1", "ünicode12345"):
        with pytest.raises(ValueError, match="12-character"):
            validate_token(bad)


# -- 2TEG controls ------------------------------------------------------------------------


def test_live_requests() -> None:
    assert Ctrl.live(1).encode() == LIVE_VIDEO
    assert Ctrl.live(1, 3).encode() == LIVE_VIDEO[:-4] + b"\x03\x00\x00\x00"
    assert Ctrl.live(1, 0).encode() == LIVE_VIDEO[:-4] + b"\x00\x00\x00\x00"
    got = decode_datagram(LIVE_VIDEO)
    assert type(got) is Ctrl
    assert (got.link_id, got.ctl, got.sub, got.ack) == (1, Ctl.LIVE, 1, None)
    assert LivePayload.decode(got.payload) == LivePayload(mask=1)


def test_media_params() -> None:
    params = MediaParams(fps=10, mask=1)
    assert CtrlResp.media_params(1, params).encode() == PARAMS
    got = decode_datagram(PARAMS)
    assert type(got) is CtrlResp
    assert got.sub == 1
    assert got.params == params
    assert (got.params.width, got.params.height, got.params.fourcc) == (640, 480, b"MJPG")
    assert MediaParams.decode(params.encode()) == params
    assert len(params.encode()) == 84


def test_heartbeats_and_keepalive() -> None:
    assert Ctrl.heartbeat(1, 10).encode() == HB_CLIENT
    assert ClientHeartbeat.decode(Ctrl.decode(HB_CLIENT).payload) == ClientHeartbeat(10)
    assert Ctrl(1, Ctl.SDCARD, 2).encode() == KEEPALIVE_SD
    cam = Ctrl(1, Ctl.HEARTBEAT, 0, CameraHeartbeat(online=1, rate=10).encode())
    assert cam.encode() == HB_CAMERA
    got = decode_datagram(HB_CAMERA)
    assert isinstance(got, Ctrl)
    assert CameraHeartbeat.decode(got.payload) == CameraHeartbeat(1, 10, 0)


def test_close() -> None:
    assert Ctrl.close(1).encode() == CLOSE
    assert CtrlResp.close(1).encode() == CLOSE_RESP
    assert decode_datagram(CLOSE) == Ctrl(1, Ctl.CLOSE, 1)
    assert decode_datagram(CLOSE_RESP) == CtrlResp(1, Ctl.CLOSE, 1)


@pytest.mark.parametrize(("cls", "ctl", "sub", "hexs"), OTHER_CTRLS)
def test_other_controls(cls: type[Ctrl], ctl: int, sub: int, hexs: str) -> None:
    data = bytes.fromhex(hexs)
    assert cls(1, ctl, sub).encode() == data
    assert decode_datagram(data) == cls(1, ctl, sub)


def test_ctrl_with_piggybacked_ack() -> None:
    body = AckBody((AckItem.missing(0x124, 3),), rate=10)
    msg = Ctrl(1, Ctl.HEARTBEAT, 0, ClientHeartbeat(10).encode(), ack=body)
    data = msg.encode()
    assert data[: 4 + 4] == HB_CLIENT[:8]  # data_len excludes the ack pack
    assert data[24:28] == b"\x01\x00\x00\x00"
    assert data[36:] == NAK[12:]
    assert Ctrl.decode(data) == msg


def test_ack_nak() -> None:
    ack = AckPack(1, (AckItem.ack(0x0123),), rate=10)
    assert ack.encode() == ACK
    assert decode_datagram(ACK) == ack
    nak = AckPack(1, (AckItem.missing(0x0124, 3),), rate=10)
    assert nak.encode() == NAK
    got = decode_datagram(NAK)
    assert got == nak
    assert isinstance(got, AckPack)
    assert got.items[0].nak
    assert got.items[0].packet_index == 3
    multi = AckPack(7, tuple(AckItem.missing(5, i) for i in range(4)), rate=15)
    assert AckPack.decode(multi.encode()) == multi
    assert len(multi.encode()) == 16 + 32


# -- media ------------------------------------------------------------------------------


def test_media_first_second_and_audio() -> None:
    jpeg = _jpeg(2013)
    first = MediaPacket(1, 0, 0x0123, 0, jpeg[:1032], 2013, 2, 640, 480, 123456)
    data = first.encode()
    assert len(data) == 1072
    assert data[:48] == MEDIA_FIRST_HEAD
    got = decode_datagram(data)
    assert got == first
    second = MediaPacket(1, 0, 0x0123, 1, jpeg[1032:])
    data2 = second.encode()
    assert len(data2) == 1005
    assert data2[:24] == MEDIA_SECOND_HEAD
    assert decode_datagram(data2) == second
    assert got.payload + MediaPacket.decode(data2).payload == jpeg
    block = bytes(range(256)) * 2 + b"\x01\x02\x03\x04"
    audio = MediaPacket(1, 1, 0x0124, 0, block, timestamp=123500)
    adata = audio.encode()
    assert len(adata) == 544
    assert adata[:28] == AUDIO_HEAD
    assert decode_datagram(adata) == audio


def test_media_payload_offset_from_lengths() -> None:
    # A packet with extra (unknown) header bytes: offset = 8 + data_len - payload_len.
    payload = b"\xaa" * 10
    head = struct.pack("<4sHHIHHHHI", b"2TEG", 3, 16 + 6 + 10, 1, 1, 0, 9, 2, 10)
    got = MediaPacket.decode(head + b"\x00" * 6 + payload + b"trailing")
    assert got.payload == payload
    assert got.packet_count is None


def test_device_message_and_unknown() -> None:
    dev = bytes.fromhex("31544547 1000 1400") + bytes(20)
    got = decode_datagram(dev)
    assert got == DeviceMessage(b"1TEG", 0x10, bytes(20))
    hello = b"2TEG\x00\x00\x04\x00abcd"
    assert decode_datagram(hello) == DeviceMessage(b"2TEG", 0, b"abcd")
    assert DeviceMessage(b"2TEG", 0, b"abcd").encode() == hello


# -- malformed --------------------------------------------------------------------------


ALL_VECTORS = [
    SEARCH_REQ,
    SEARCH_RESP,
    LOGIN_REQ,
    LOGIN_OK,
    LIVE_VIDEO,
    PARAMS,
    HB_CLIENT,
    HB_CAMERA,
    CLOSE,
    CLOSE_RESP,
    ACK,
    NAK,
    MediaPacket(1, 0, 5, 0, _jpeg(100), 100, 1, 640, 480, 0).encode(),
]


@pytest.mark.parametrize("data", ALL_VECTORS)
def test_every_truncation_raises_malformed(data: bytes) -> None:
    for n in range(len(data)):
        try:
            decode_datagram(data[:n])
        except MalformedPacketError:
            pass


@pytest.mark.parametrize("data", ALL_VECTORS)
def test_truncated_header_lengths_rejected(data: bytes) -> None:
    with pytest.raises(MalformedPacketError):
        decode_datagram(data[:7])
    with pytest.raises(MalformedPacketError):
        decode_datagram(data[: len(data) - 1])  # data_len now exceeds the datagram


def test_garbage_rejected() -> None:
    for junk in (b"", b"xx", b"hello world!", b"3TEG\x00\x00\x00\x00", b"\xff" * 100):
        with pytest.raises(MalformedPacketError):
            decode_datagram(junk)
    bad_media = struct.pack("<4sHHIHHHHI", b"2TEG", 3, 16, 1, 1, 0, 0, 0, 500)
    with pytest.raises(MalformedPacketError):
        decode_datagram(bad_media)
    bad_ctrl = struct.pack("<4sHHIIIII", b"2TEG", 1, 20, 1, 0, 1, 99, 0)
    with pytest.raises(MalformedPacketError):
        decode_datagram(bad_ctrl)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=120), st.sampled_from([b"0TEG", b"1TEG", b"2TEG"]), st.integers(0, 20))
def test_fuzz_only_malformed_errors(tail: bytes, magic: bytes, cmd: int) -> None:
    exact = magic + struct.pack("<HH", cmd, len(tail)) + tail
    for data in (tail, magic + bytes([cmd, 0]) + tail, exact):
        try:
            decode_datagram(data)
        except MalformedPacketError:
            pass


# -- reassembly (pure, no sockets) ---------------------------------------------------------


def packetize(jpeg: bytes, fid: int, chunk: int = 1032, ts: int = 0) -> list[bytes]:
    """Cut a JPEG into MEDIA datagrams like the camera does."""
    pieces = [jpeg[i : i + chunk] for i in range(0, len(jpeg), chunk)]
    out = []
    for i, piece in enumerate(pieces):
        if i == 0:
            pkt = MediaPacket(1, 0, fid, 0, piece, len(jpeg), len(pieces), 640, 480, ts)
        else:
            pkt = MediaPacket(1, 0, fid, i, piece)
        out.append(pkt.encode())
    return out


def audio(fid: int) -> bytes:
    return MediaPacket(1, 1, fid, 0, b"\x00" * 516, timestamp=1).encode()


def run(reasm: Reassembler, datagrams: list[bytes]) -> list[tuple[bytes, int, int]]:
    out = []
    for d in datagrams:
        got = reasm.feed(d)
        if got is not None:
            out.extend(got)
    return out


JPEGS = [_jpeg(5000 + 997 * i) for i in range(12)]


def test_reassembly_in_order() -> None:
    stats = SessionStats()
    r = Reassembler(stats)
    frames = run(r, [d for i, j in enumerate(JPEGS) for d in packetize(j, 100 + i)])
    assert [f[0] for f in frames] == JPEGS
    assert all(f[1:] == (640, 480) for f in frames)
    assert stats.frames_dropped == 0
    assert stats.duplicates == 0
    assert stats.media_packets == sum(len(packetize(j, 0)) for j in JPEGS)
    assert r.partial_count == 0


def test_reassembly_shuffled_and_duplicated_within_frames() -> None:
    rnd = random.Random(7)
    stats = SessionStats()
    r = Reassembler(stats)
    stream = []
    for i, j in enumerate(JPEGS):
        pkts = packetize(j, i, chunk=700)
        pkts += rnd.sample(pkts, 3)  # duplicates
        rnd.shuffle(pkts)
        stream += pkts
    frames = run(r, stream)
    assert [f[0] for f in frames] == JPEGS
    assert stats.duplicates == 3 * len(JPEGS)
    assert stats.frames_dropped == 0


def test_reassembly_interleaved_adjacent_frames() -> None:
    # Packets of frames 1 and 2 interleave (chinesium's method fails here).
    a, b = packetize(JPEGS[0], 1, 600), packetize(JPEGS[1], 2, 600)
    stream = a[:-2] + b[:3] + a[-2:] + b[3:]
    assert [f[0] for f in run(Reassembler(), stream)] == JPEGS[:2]


def test_reassembly_missing_packet_drops_frame_only() -> None:
    stats = SessionStats()
    r = Reassembler(stats)
    stream = []
    for i, j in enumerate(JPEGS):
        pkts = packetize(j, i)
        if i in (3, 7):
            del pkts[2]
        if i == 5:
            del pkts[0]  # the header packet
        stream += pkts
    frames = run(r, stream)
    assert [f[0] for f in frames] == [j for i, j in enumerate(JPEGS) if i not in (3, 5, 7)]
    assert stats.frames_dropped == 3
    assert r.partial_count == 0


def test_reassembly_late_older_frame_dropped() -> None:
    stats = SessionStats()
    r = Reassembler(stats)
    a, b = packetize(JPEGS[0], 10), packetize(JPEGS[1], 11)
    frames = run(r, a[:-1] + b + a[-1:])  # frame 10 completes after 11 was emitted
    assert [f[0] for f in frames] == [JPEGS[1]]
    assert stats.frames_dropped == 1


def test_reassembly_frame_id_wrap_and_audio() -> None:
    r = Reassembler()
    stream = []
    fid = 65530
    for j in JPEGS:
        stream += packetize(j, fid & 0xFFFF)
        stream.insert(len(stream) - 2, audio((fid + 1) & 0xFFFF))  # audio mid-frame
        fid += 2  # audio shares the id counter
    frames = run(r, stream)
    assert [f[0] for f in frames] == JPEGS
    assert r.last_id == (fid - 2) & 0xFFFF


def test_reassembly_validates_size_and_markers() -> None:
    stats = SessionStats()
    r = Reassembler(stats)
    bad_eoi = JPEGS[0][:-1] + b"\x00"
    wrong_total = packetize(JPEGS[1], 2)
    first = MediaPacket.decode(wrong_total[0])
    wrong_total[0] = MediaPacket(
        1, 0, 2, 0, first.payload, 999, first.packet_count, 640, 480, 0
    ).encode()
    frames = run(r, packetize(bad_eoi, 1) + wrong_total + packetize(JPEGS[2], 3))
    assert [f[0] for f in frames] == [JPEGS[2]]
    assert stats.frames_dropped == 2


def test_reassembly_gives_up_after_many_newer_ids_and_bounds_partials() -> None:
    stats = SessionStats()
    r = Reassembler(stats, max_partials=3, max_ahead=8)
    # Frames whose last packet never arrives: partials pile up but stay bounded.
    for i in range(20):
        run(r, packetize(JPEGS[i % len(JPEGS)], i)[:-1])
        assert r.partial_count <= 3
    assert stats.frames_dropped == 17


def test_reassembly_age_limit() -> None:
    now = [0.0]
    stats = SessionStats()
    r = Reassembler(stats, clock=lambda: now[0], max_age=1.0)
    run(r, packetize(JPEGS[0], 1)[:-1])
    now[0] = 2.0
    frames = run(r, packetize(JPEGS[1], 2))
    assert [f[0] for f in frames] == [JPEGS[1]]
    assert stats.frames_dropped == 1
    # A straggler of the given-up frame does not resurrect it.
    assert run(r, packetize(JPEGS[0], 1)[-1:]) == []
    assert r.partial_count == 0


def test_reassembly_reports_missing_once() -> None:
    r = Reassembler(track_missing=True)
    a = packetize(JPEGS[0], 1)
    b = packetize(JPEGS[1], 2)
    run(r, [a[0], a[1], a[4]])
    assert r.naks == []  # nothing known to be missing before a later frame starts
    run(r, b[:1])
    assert r.naks == [(1, i) for i in range(len(a)) if i not in (0, 1, 4)]
    r.naks.clear()
    run(r, [audio(3), *packetize(JPEGS[2], 4)[:1]])
    assert r.naks == [(2, i) for i in range(1, len(b))]  # frame 1 already NAK'd once
    r.naks.clear()
    # The resends complete frame 1 (still before 2 completes).
    frames = run(r, [a[i] for i in range(len(a)) if i not in (0, 1, 4)])
    assert [f[0] for f in frames] == [JPEGS[0]]


def test_reassembly_counter_restart_resets() -> None:
    r = Reassembler()
    assert run(r, packetize(JPEGS[0], 5000))
    assert run(r, packetize(JPEGS[1], 0)) == [(JPEGS[1], 640, 480)]


def test_reassembly_garbage_counted() -> None:
    stats = SessionStats()
    r = Reassembler(stats)
    good = packetize(JPEGS[0], 1)
    junk = [b"", b"2TEG\x03\x00", good[0][:30], good[1][:-5], b"x" * 40]
    assert run(r, junk + good) == [(JPEGS[0], 640, 480)]
    assert stats.malformed == len(junk)


def test_reassembly_holds_newer_frame_while_resend_pending() -> None:
    now = [0.0]
    stats = SessionStats()
    r = Reassembler(stats, track_missing=True, clock=lambda: now[0])
    a, b, c = packetize(JPEGS[0], 1), packetize(JPEGS[1], 2), packetize(JPEGS[2], 3)
    assert run(r, a[:2] + a[3:]) == []
    assert run(r, b) == []  # frame 2 complete but held behind frame 1
    assert r.naks == [(1, 2)]
    assert r.held_count == 1
    # the resend arrives: both frames leave, in order
    assert [f[0] for f in run(r, [a[2]])] == JPEGS[:2]
    assert r.recovered == 1
    # a NAK'd frame whose resend never comes holds others only until nak_wait
    run(r, c[1:])
    d = packetize(JPEGS[3], 4)
    assert run(r, d) == []
    now[0] += r.nak_wait / 2
    assert r.poll() is None
    now[0] += r.nak_wait
    assert [f[0] for f in r.poll() or []] == [JPEGS[3]]
    assert stats.frames_dropped == 1
    assert r.partial_count == 0


def test_reassembly_holds_at_most_max_held() -> None:
    r = Reassembler(track_missing=True, max_held=2, clock=lambda: 0.0)
    a = packetize(JPEGS[0], 1)
    run(r, a[1:])
    out = run(r, [d for i in range(2, 6) for d in packetize(JPEGS[i - 1], i)])
    assert [f[0] for f in out] == JPEGS[1:5]  # released once more than 2 piled up
    assert r.held_count == 0


def test_reassembly_stops_nak_when_camera_never_resends() -> None:
    stats = SessionStats()
    r = Reassembler(stats, track_missing=True, probe_rounds=3, clock=lambda: 0.0)
    frames = []
    for i in range(8):
        pkts = packetize(JPEGS[i], i)
        frames += run(r, pkts[:1] + pkts[2:])  # packet 1 always lost
    assert not r.track_missing
    assert r.nak_rounds == 3
    assert r.held_count == 0
    assert frames == []
    assert len(r.naks) == 3


def _with_count(pkt: bytes, count: int) -> bytes:
    first = MediaPacket.decode(pkt)
    return MediaPacket(
        1, 0, first.frame_id, 0, first.payload, first.total_size, count, 640, 480, 0
    ).encode()


def test_reassembly_header_undercount_never_raises() -> None:
    # An index >= count stored before packet 0 must not complete the frame.
    stats = SessionStats()
    r = Reassembler(stats)
    pkts = packetize(JPEGS[0], 1, chunk=512)
    n = len(pkts)
    bad0 = _with_count(pkts[0], n - 2)
    assert run(r, [pkts[n - 1], bad0, *pkts[1 : n - 3]]) == []
    assert run(r, packetize(JPEGS[1], 2)) == [(JPEGS[1], 640, 480)]
    assert stats.frames_dropped == 1


@pytest.mark.parametrize("track", [False, True])
def test_reassembly_random_impairments_only_intact_frames_in_order(track: bool) -> None:
    valid = set(JPEGS)
    for seed in range(150):
        rnd = random.Random(seed)
        now = [0.0]
        r = Reassembler(
            track_missing=track, clock=lambda now=now: now[0], max_partials=rnd.choice([2, 4])
        )
        fid = rnd.randrange(65536)
        stream: list[bytes] = []
        for i in range(20):
            pkts = packetize(JPEGS[i % 12], fid & 0xFFFF, chunk=rnd.choice([300, 1032]))
            if rnd.random() < 0.2:
                pkts[0] = _with_count(pkts[0], max(1, len(pkts) + rnd.choice([-2, -1, 1])))
            if rnd.random() < 0.5:
                pkts.reverse()
            pkts += [p for p in pkts if rnd.random() < 0.2]
            pkts = [p for p in pkts if rnd.random() > 0.08]
            stream += pkts
            if rnd.random() < 0.3:
                fid += 1
                stream.append(audio(fid & 0xFFFF))
            fid += rnd.choice([1, 1, 2, 70])
        for k in range(len(stream) - 1):
            if rnd.random() < 0.05:
                j = min(len(stream) - 1, k + rnd.randrange(1, 30))
                stream[k], stream[j] = stream[j], stream[k]
        delivered_ids: list[int] = []
        for d in stream:
            now[0] += rnd.random() * 0.02
            out = (r.feed(d) or []) + ((r.poll() or []) if rnd.random() < 0.05 else [])
            r.naks.clear()
            for jpeg, _, _ in out:
                assert jpeg in valid
            if out:
                assert r.last_id is not None
                delivered_ids.append(r.last_id)
        # delivery order follows the frame ids (mod 2**16), never backwards
        for a, b in itertools.pairwise(delivered_ids):
            assert 0 < (b - a) & 0xFFFF < 0x8000
