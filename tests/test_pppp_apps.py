"""Unit tests for the PPPP application-layer codecs (pppp.md §6, vectors §7)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
import struct

import pytest

from custom_components.chinesium.protocol.errors import (
    AuthenticationError,
    CameraTimeoutError,
    MalformedPacketError,
)
from custom_components.chinesium.protocol.pppp.apps import avframe, identify, ilnk, shix
from custom_components.chinesium.protocol.pppp.apps.avframe import (
    FRAME_HEADER_SIZE,
    AvFrame,
    FrameAssembler,
    FrameHeader,
)
from custom_components.chinesium.protocol.pppp.apps.identify import AppLayer


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace("\n", " ").strip())


# DRW headers are 8 bytes (f1 d0 len d1 ch idx); the app payload follows.
V15_SHIX_LOGIN = h(
    """
f1 d0 00 56 d1 00 00 00 06 0a a0 80 4a 00 00 00 7b 22 70 72 6f 22 3a 22 63 68 65 63 6b 5f 75 73
65 72 22 2c 22 63 6d 64 22 3a 31 30 30 2c 22 75 73 65 72 22 3a 22 61 64 6d 69 6e 22 2c 22 70 77
64 22 3a 22 36 36 36 36 22 2c 22 64 65 76 6d 61 63 22 3a 22 30 30 30 30 22 7d"""
)
V16_SHIX_STREAM = h(
    """
f1 d0 00 5c d1 00 00 01 06 0a a0 80 50 00 00 00 7b 22 70 72 6f 22 3a 22 73 74 72 65 61 6d 22 2c
22 63 6d 64 22 3a 31 31 31 2c 22 76 69 64 65 6f 22 3a 31 2c 22 75 73 65 72 22 3a 22 61 64 6d 69
6e 22 2c 22 70 77 64 22 3a 22 36 36 36 36 22 2c 22 64 65 76 6d 61 63 22 3a 22 30 30 30 30 22 7d"""
)
V17_ILNK_LOGIN = (
    h("f1 d0 00 b0 d1 00 00 00 11 0a 20 10 a4 00 ff 00 00 00 00 00")
    + b"\x6f"
    + b"\x01" * 27
    + h("60 65 6c 68 6f")
    + b"\x01" * 123
    + h("60 65 6c 68")
)
V18_ILNK_START = h("f1 d0 00 10 d1 00 00 00 11 0a 10 30 04 00 00 00 01 02 03 04")
V18_ILNK_STATUS = h("f1 d0 00 10 d1 00 00 00 11 0a 08 10 04 00 00 00 01 02 03 04")
V21_HEADER = h("55 aa 15 a8 03 00 00 00 00 f1 53 65 07 00 00 00 14 08 00 00") + bytes(12)


# -- SHIX ------------------------------------------------------------------------------


def test_shix_login_vector() -> None:
    assert shix.encode_request("check_user", 100, "admin", "6666") == V15_SHIX_LOGIN[8:]
    assert len(V15_SHIX_LOGIN) == 4 + 0x56


def test_shix_stream_vector() -> None:
    assert shix.encode_request("stream", 111, "admin", "6666", video=1) == V16_SHIX_STREAM[8:]


def test_shix_decode_block_roundtrip() -> None:
    obj, used = shix.decode_block(V15_SHIX_LOGIN[8:] + b"trailing")
    assert used == len(V15_SHIX_LOGIN) - 8
    assert obj == {
        "pro": "check_user",
        "cmd": 100,
        "user": "admin",
        "pwd": "6666",
        "devmac": "0000",
    }


@pytest.mark.parametrize(
    "data",
    [
        b"\x06\x0a\xa0",  # short header
        b"\x07\x0a\xa0\x80\x02\x00\x00\x00{}",  # bad magic
        b"\x06\x0a\xa0\x80\x09\x00\x00\x00{}",  # truncated body
        b"\x06\x0a\xa0\x80\x03\x00\x00\x00{x}",  # not JSON
        b"\x06\x0a\xa0\x80\x02\x00\x00\x00[]",  # not an object
        b"\x06\x0a\xa0\x80\xff\xff\xff\x7f",  # absurd length
    ],
)
def test_shix_decode_block_malformed(data: bytes) -> None:
    with pytest.raises(MalformedPacketError):
        shix.decode_block(data)


def test_shix_stream_decoder_split_and_merged() -> None:
    a = shix.encode_block({"cmd": 100, "result": 0})
    b = shix.encode_block({"cmd": 111, "result": 0}, flags=b"\xa1\x80")
    stream = b"junk" + a + b
    dec = shix.ShixDecoder()
    got: list[dict[str, object]] = []
    for i in range(0, len(stream), 5):  # 5-byte pieces split headers and bodies
        got += dec.feed(stream[i : i + 5])
    assert got == [{"cmd": 100, "result": 0}, {"cmd": 111, "result": 0}]
    assert dec.skipped == 4
    # several blocks in one payload, NUL padding after JSON tolerated
    padded = b"\x06\x0a\xa0\x80" + struct.pack("<I", 12) + b'{"cmd":1}\0\0\0'
    assert shix.ShixDecoder().feed(a + padded) == [{"cmd": 100, "result": 0}, {"cmd": 1}]


def test_shix_stream_decoder_bad_body_raises_then_resyncs() -> None:
    dec = shix.ShixDecoder()
    with pytest.raises(MalformedPacketError):
        dec.feed(b"\x06\x0a\xa0\x80\x03\x00\x00\x00{x}")
    assert dec.feed(shix.encode_block({"cmd": 5})) == [{"cmd": 5}]


# -- iLnk ------------------------------------------------------------------------------


def test_xqbytes_vectors() -> None:
    assert ilnk.xq_decode(b"\x01" * 31 + b"\x00") == bytes(3) + b"\x01" + bytes(28)
    assert ilnk.xq_decode(h("01 02 03 04"), rotation=0) == h("00 03 02 05")
    data = bytes(range(50))
    assert ilnk.xq_decode(ilnk.xq_encode(data)) == data


def test_ilnk_login_vector() -> None:
    assert ilnk.encode_login("admin", "admin") == V17_ILNK_LOGIN[8:]
    assert len(V17_ILNK_LOGIN) == 180


def test_ilnk_start_and_status_vectors() -> None:
    ticket = h("01 02 03 04")
    assert ilnk.IlnkMessage(ilnk.CMD_LIVEVIDEO_START, ticket=ticket).encode() == V18_ILNK_START[8:]
    assert ilnk.IlnkMessage(ilnk.CMD_STATUS_GET, ticket=ticket).encode() == V18_ILNK_STATUS[8:]


def test_ilnk_decode_login_request() -> None:
    msg, used = ilnk.IlnkMessage.decode(V17_ILNK_LOGIN[8:])
    assert used == 172
    assert msg.command == ilnk.CMD_USER_CHK
    assert msg.dest == ilnk.DEST_LOGIN
    assert msg.ticket == bytes(4)
    assert msg.data[:32].rstrip(b"\0") == b"admin"
    assert msg.data[32:].rstrip(b"\0") == b"admin"
    assert len(msg.data) == 160


@pytest.mark.parametrize(
    "data",
    [
        b"\x11\x0a\x20\x10",  # short
        b"\x12\x0a\x20\x10\x04\x00\x00\x00\x00\x00\x00\x00",  # bad magic
        b"\x11\x0a\x20\x10\x02\x00\x00\x00\x00\x00\x00\x00",  # length < 4
        b"\x11\x0a\x20\x10\x08\x00\x00\x00\x00\x00\x00\x00\x01",  # truncated
    ],
)
def test_ilnk_decode_malformed(data: bytes) -> None:
    with pytest.raises(MalformedPacketError):
        ilnk.IlnkMessage.decode(data)


def test_ilnk_stream_decoder() -> None:
    reply = ilnk.IlnkMessage(0x1120, bytes(4) + b"TICK", dest=0x55AA).encode()
    status = ilnk.IlnkMessage(0x1108, bytes(range(124))).encode()
    stream = b"\x00\x11" + reply + status
    dec = ilnk.IlnkDecoder()
    got: list[ilnk.IlnkMessage] = []
    for i in range(0, len(stream), 7):
        got += dec.feed(stream[i : i + 7])
    assert [m.command for m in got] == [0x1120, 0x1108]
    assert got[0].data == bytes(4) + b"TICK"
    assert got[1].data == bytes(range(124))
    assert dec.skipped == 2


def test_login_username_too_long() -> None:
    with pytest.raises(ValueError):
        ilnk.encode_login("x" * 32, "pw")


# -- A/V frame header and reassembly -----------------------------------------------------


def test_frame_header_vector() -> None:
    hdr = FrameHeader(codec=0x03, length=2068, seconds=1_700_000_000, counter=7)
    assert hdr.encode() == V21_HEADER
    assert FrameHeader.decode(V21_HEADER) == hdr


@pytest.mark.parametrize("data", [V21_HEADER[:31], b"\x55\xaa\x15\xa9" + V21_HEADER[4:]])
def test_frame_header_malformed(data: bytes) -> None:
    with pytest.raises(MalformedPacketError):
        FrameHeader.decode(data)


def fake_jpeg(n: int, fill: int = 0x11) -> bytes:
    return b"\xff\xd8\xff\xdb" + bytes([fill]) * (n - 6) + b"\xff\xd9"


def framed(jpeg: bytes, counter: int = 0, codec: int = 0x03) -> bytes:
    return FrameHeader(codec=codec, length=len(jpeg), counter=counter).encode() + jpeg


def chunks(data: bytes, size: int = 1024) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def feed_all(asm: FrameAssembler, payloads: list[bytes]) -> list[AvFrame]:
    out: list[AvFrame] = []
    for p in payloads:
        out += asm.feed(p)
    return out


def test_reassembly_across_payloads() -> None:
    jpegs = [fake_jpeg(5000, i) for i in range(3)]
    stream = b"".join(framed(j, i) for i, j in enumerate(jpegs))
    asm = FrameAssembler()
    frames = feed_all(asm, chunks(stream))  # frames and headers straddle boundaries
    assert [f.data for f in frames] == jpegs
    assert [f.header.counter for f in frames if f.header] == [0, 1, 2]
    assert asm.dropped == 0
    assert asm.skipped == 0
    assert not asm.in_frame


@pytest.mark.parametrize("size", [1, 3, 31, 33, 1000])
def test_reassembly_any_split(size: int) -> None:
    jpegs = [fake_jpeg(300, i) for i in range(4)]
    stream = b"garbage" + b"".join(framed(j) for j in jpegs)
    asm = FrameAssembler()
    frames = feed_all(asm, chunks(stream, size))
    assert [f.data for f in frames] == jpegs
    assert asm.skipped == len(b"garbage")


def test_reassembly_one_payload_exact_frame_no_copy() -> None:
    jpeg = fake_jpeg(900)
    asm = FrameAssembler()
    assert asm.feed(FrameHeader(codec=3, length=len(jpeg)).encode()) == []
    (frame,) = asm.feed(jpeg)
    assert frame.data == jpeg


def test_reassembly_lost_payload_resyncs_on_next_header() -> None:
    jpegs = [fake_jpeg(3000, i) for i in range(3)]
    payloads: list[bytes] = []
    for i, j in enumerate(jpegs):
        payloads += chunks(framed(j, i))
    del payloads[1]  # middle of frame 0 never arrives; next frame starts a payload
    asm = FrameAssembler()
    frames = feed_all(asm, payloads)
    assert [f.data for f in frames] == jpegs[1:]
    assert asm.dropped == 1


def test_reassembly_raw_jpegs() -> None:
    jpegs = [fake_jpeg(2500, i) for i in range(3)]
    payloads = [c for j in jpegs for c in chunks(j)]
    frames = feed_all(FrameAssembler(), payloads)
    assert [f.data for f in frames] == jpegs
    assert all(f.header is None and f.codec == avframe.Codec.JPEG for f in frames)


def test_reassembly_raw_without_eoi_ends_at_next_start() -> None:
    truncated = fake_jpeg(1500)[:-2]
    nxt = fake_jpeg(100)
    frames = feed_all(FrameAssembler(), [*chunks(truncated), nxt])
    assert [f.data for f in frames] == [truncated, nxt]


def test_reassembly_mixed_audio_and_empty() -> None:
    audio = framed(b"\x01" * 320, codec=0x06)
    video = framed(fake_jpeg(700))
    empty = FrameHeader(codec=0x03, length=0).encode()
    frames = feed_all(FrameAssembler(), chunks(audio + empty + video, 100))
    assert [f.codec for f in frames] == [0x06, 0x03, 0x03]
    assert frames[1].data == b""


def test_reassembly_absurd_length_skipped() -> None:
    bogus = FrameHeader(codec=3, length=avframe.MAX_FRAME_SIZE + 1).encode()
    jpeg = fake_jpeg(200)
    asm = FrameAssembler()
    frames = feed_all(asm, [bogus + framed(jpeg)])
    assert [f.data for f in frames] == [jpeg]
    assert asm.skipped == FRAME_HEADER_SIZE


def test_reassembly_reset_counts_drop() -> None:
    asm = FrameAssembler()
    asm.feed(framed(fake_jpeg(3000))[:1024])
    assert asm.in_frame
    asm.reset()
    assert asm.dropped == 1
    assert not asm.in_frame


# -- identification --------------------------------------------------------------------


def test_identify_clues() -> None:
    assert identify.identify(payload=V15_SHIX_LOGIN[8:]).layer is AppLayer.SHIX
    assert identify.identify(payload=V17_ILNK_LOGIN[8:]).layer is AppLayer.ILNK
    ident = identify.identify(payload=b"\x01\x0a\x00\x00\x10\x00\x00\x00result=0", key="camera")
    assert (ident.layer, ident.source, ident.supported) == (AppLayer.VSTARCAM, "payload", True)
    ident = identify.identify(payload=b"\x56\x56\x50\x99", key="camera")
    assert (ident.layer, ident.source, ident.supported) == (AppLayer.MEARI, "payload", False)
    assert identify.identify(key="camera", prefix="VSTC").layer is AppLayer.SHIX
    ident = identify.identify(key="vstarcam2019")
    assert ident.layer is AppLayer.VSTARCAM
    assert "VStarcam" in ident.display_name
    assert identify.identify(prefix="batc").layer is AppLayer.ILNK
    assert identify.identify(prefix="GHBB").layer is AppLayer.LOOKCAM
    assert identify.identify(prefix="TNPCHNA").layer is AppLayer.YI
    assert identify.identify(payload=b"\x99\x99\x99\x99").layer is AppLayer.CAMHI
    assert identify.identify(prefix="XXXX", check="ABCDE").source == "check"
    assert identify.identify(prefix="XXXX", check="ABCDE", key="k").layer is None
    unknown = identify.identify(prefix="EEEE", payload=b"zz")
    assert (unknown.layer, unknown.source, unknown.supported) == (None, "unknown", True)


def test_probe_order() -> None:
    none = identify.Identification(None, "unknown")
    assert identify.probe_order(none, encrypted=True) == [AppLayer.SHIX]
    assert identify.probe_order(none, encrypted=False) == [
        AppLayer.ILNK,
        AppLayer.SHIX,
        AppLayer.LOOKCAM,
    ]
    ilnk_id = identify.Identification(AppLayer.ILNK, "prefix")
    assert identify.probe_order(ilnk_id, encrypted=True) == [AppLayer.ILNK, AppLayer.SHIX]
    shix_id = identify.Identification(AppLayer.SHIX, "key")
    assert identify.probe_order(shix_id, encrypted=True) == [AppLayer.SHIX]
    assert identify.probe_order(shix_id, encrypted=False) == [
        AppLayer.SHIX,
        AppLayer.ILNK,
        AppLayer.LOOKCAM,
    ]
    vst_id = identify.Identification(AppLayer.VSTARCAM, "key")
    assert identify.probe_order(vst_id, encrypted=True) == [AppLayer.VSTARCAM, AppLayer.SHIX]


# -- clients over an in-memory channel -----------------------------------------------------


class FakeChannel:
    """Records writes; a test-supplied responder answers them."""

    def __init__(self, responder: Callable[[bytes], bytes | None]) -> None:
        self.writes: list[bytes] = []
        self.handler: Callable[[bytes], None] | None = None
        self.responder = responder

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        reply = self.responder(data)
        if reply is not None and self.handler is not None:
            handler = self.handler
            asyncio.get_running_loop().call_soon(handler, reply)

    def set_packet_handler(self, cb: Callable[[bytes], None] | None) -> None:
        self.handler = cb


def shix_responder(data: bytes) -> bytes | None:
    obj, _ = shix.decode_block(data)
    ok = obj["user"] == "admin" and obj["pwd"] == "6666"
    return shix.encode_block({"cmd": obj["cmd"], "result": 0 if ok else -3}, flags=b"\xa1\x80")


async def test_shix_client_login_and_stream() -> None:
    chan = FakeChannel(shix_responder)
    client = shix.ShixClient(chan, reply_timeout=1.0)
    with pytest.raises(AuthenticationError):
        await client.login("admin", "wrong")
    await client.login("admin", "6666")
    await client.start_video()
    await client.stop_video()
    sent = [json.loads(w[8:]) for w in chan.writes]
    assert [s["pro"] for s in sent] == ["check_user", "check_user", "stream", "stream"]
    assert sent[2]["video"] == 1
    assert sent[3]["video"] == 0
    assert sent[3]["pwd"] == "6666"
    client.detach()
    assert chan.handler is None


async def test_shix_client_timeout() -> None:
    client = shix.ShixClient(FakeChannel(lambda _d: None), reply_timeout=0.05)
    with pytest.raises(CameraTimeoutError):
        await client.login("admin", "6666")


def ilnk_responder(data: bytes) -> bytes | None:
    msg, _ = ilnk.IlnkMessage.decode(data)
    if msg.command != ilnk.CMD_USER_CHK:
        return None
    ok = msg.data[:32].rstrip(b"\0") == b"admin" and msg.data[32:].rstrip(b"\0") == b"admin"
    result = b"\0\0\0\0" if ok else b"\xff\xff\xff\xff"
    return ilnk.IlnkMessage(0x1120, result + b"TKT1", dest=0x55AA).encode()


async def test_ilnk_client_login_ticket_and_video() -> None:
    chan = FakeChannel(ilnk_responder)
    client = ilnk.IlnkClient(chan, reply_timeout=1.0)
    with pytest.raises(AuthenticationError):
        await client.login("admin", "nope")
    await client.login("admin", "admin")
    assert client.ticket == b"TKT1"
    await client.start_video()
    msgs = [ilnk.IlnkMessage.decode(w)[0] for w in chan.writes]
    assert [m.command for m in msgs] == [0x1020, 0x1020, 0x3018, 0x3010]
    assert msgs[2].data == struct.pack("<II", 1, 2)
    assert msgs[3].ticket == b"TKT1"
