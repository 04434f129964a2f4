"""VStarcam CGI layer (pppp.md §6.4): vectors, parsing, sessions against the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import itertools
from typing import Any

import pytest

from custom_components.chinesium.protocol.errors import AuthenticationError, CameraTimeoutError
from custom_components.chinesium.protocol.jpeg import looks_like_jpeg
from custom_components.chinesium.protocol.model import (
    CameraInfo,
    Codec,
    Credentials,
    Family,
    Frame,
)
from custom_components.chinesium.protocol.pppp.apps import registry, vstarcam
from custom_components.chinesium.protocol.pppp.apps.avframe import FrameAssembler, FrameHeader
from custom_components.chinesium.protocol.pppp.apps.h26x import detect_codec, picture_size
from custom_components.chinesium.protocol.pppp.apps.identify import AppLayer
from custom_components.chinesium.protocol.pppp.codec import encode_drw
from custom_components.chinesium.protocol.pppp.crypto import Cipher
from custom_components.chinesium.protocol.pppp.discovery import discover_pppp
from custom_components.chinesium.protocol.pppp.session import PpppSession, open_pppp_session
from fakecam.h26x import encode_loop
from fakecam.pppp import PpppCamera, PpppCameraConfig

from .helpers import PPPP_OPTS

# -- vectors (pppp.md §7) ------------------------------------------------------------------


def _v20() -> bytes:
    # pppp.md vector #20, written out as in the spec (16 bytes a row).
    rows = """
    f1 d0 00 6d d1 00 00 00 01 0a 00 00 61 00 00 00 47 45 54 20 2f 6c 69 76 65 73 74 72 65 61 6d 2e
    63 67 69 3f 73 74 72 65 61 6d 69 64 3d 31 30 26 73 75 62 73 74 72 65 61 6d 3d 31 26 6c 6f 67 69
    6e 75 73 65 3d 61 64 6d 69 6e 26 6c 6f 67 69 6e 70 61 73 3d 38 38 38 38 38 38 26 75 73 65 72 3d
    61 64 6d 69 6e 26 70 77 64 3d 38 38 38 38 38 38 26
    """
    return bytes.fromhex("".join(rows.split()))


def test_vector_20_livestream_request() -> None:
    wire = _v20()
    payload = vstarcam.encode_cgi(
        "livestream.cgi", "admin", "888888", {"streamid": 10, "substream": 1}
    )
    assert payload[:4] == vstarcam.VSTARCAM_MAGIC
    assert len(payload) - 8 == 0x61  # 97 bytes of text including "GET "
    assert encode_drw(0, 0, payload) == wire
    enc = Cipher.create("vstarcam2019").encrypt(wire)
    assert enc[:16] == bytes.fromhex(
        "e4 db 36 2d ad 37 f0 85 ca 0f 9a 9d 19 61 5a 2c".replace(" ", "")
    )


def test_cgi_text_layout() -> None:
    assert (
        vstarcam.cgi_text("get_status.cgi", "admin", "888888")
        == "GET /get_status.cgi?loginuse=admin&loginpas=888888&user=admin&pwd=888888&"
    )
    # Reserved characters in credentials are percent-encoded.
    assert "loginpas=a%26b%3D" in vstarcam.cgi_text("x.cgi", "u", "a&b=")


def test_frame_header_i_frame() -> None:
    # Constructed like vector #21, VStarcam I-frame (0x10), t = 1700000000.5 s, 2068 bytes.
    want = bytes.fromhex("55aa15a8 1000 f401 00f15365 00000000 14080000".replace(" ", "")) + bytes(
        12
    )
    hdr = FrameHeader(codec=0x10, length=2068, millis=500, seconds=1_700_000_000)
    assert hdr.encode() == want
    assert FrameHeader.decode(want) == hdr
    p = FrameHeader.decode(bytes.fromhex("55aa15a8110000000000000000000000") + bytes(16))
    assert (p.codec, p.length) == (0x11, 0)


def test_reply_parsing() -> None:
    text = b'var result=0;\r\nvar sys_ver="48.60.64.187";\r\nvar alias="my cam";\r\nvar now=17;\r\n'
    reply = vstarcam.CgiReply.parse(text)
    assert reply.result == 0
    assert not reply.refused
    assert reply.get("sys_ver") == "48.60.64.187"
    assert reply.get("alias") == "my cam"
    assert reply.get_int("now") == 17
    assert reply.get_int("alias") is None
    assert reply.get("missing") is None
    assert vstarcam.CgiReply.parse(b"result=-1\n").refused
    assert vstarcam.parse_values("a=1&b=two&") == {"a": "1", "b": "two"}
    assert vstarcam.CgiReply.parse(b"deviceid=VSTC;").result is None


def test_decoder_spans_payloads_and_ignores_bytes_2_3() -> None:
    body = b'var result=0;\r\nvar deviceid="VSTC-1";\r\n' * 40
    jpeg = b"\xff\xd8\xff\xe0" + bytes(3000) + b"\xff\xd9"
    stream = (
        b"junk"
        + b"\x01\x0a\x11\x22"
        + len(body).to_bytes(4, "little")
        + body
        + b"\x01\x0a\x00\x00"
        + len(jpeg).to_bytes(4, "little")
        + jpeg
    )
    dec = vstarcam.VstarcamDecoder()
    out: list[vstarcam.CgiReply] = []
    for i in range(0, len(stream), 1024):
        out += dec.feed(stream[i : i + 1024])
    assert len(out) == 2
    assert out[0].get("deviceid") == "VSTC-1"
    assert out[0].result == 0
    assert out[1].jpeg == jpeg
    assert dec.skipped == 4
    reply, used = vstarcam.decode_envelope(stream[4:])
    assert used == 8 + len(body)
    assert reply.result == 0


@pytest.mark.parametrize("codec", ["h264", "h265"])
@pytest.mark.parametrize("size", [(640, 480), (1280, 720)])
def test_codec_and_size_from_nal_headers(codec: str, size: tuple[int, int]) -> None:
    loop = encode_loop(codec, width=size[0], height=size[1])
    assert loop[0].keyframe
    want = Codec.H264 if codec == "h264" else Codec.H265
    assert detect_codec(loop[0].data) is want
    assert picture_size(loop[0].data, want) == size
    assert detect_codec(b"\x00\x00\x00\x01\x09\xf0") is None  # AUD alone: undecided


def test_assembler_splits_h26x_frames() -> None:
    loop = encode_loop("h264")
    stream = b"".join(
        FrameHeader(0x10 if f.keyframe else 0x11, len(f.data), seconds=i).encode() + f.data
        for i, f in enumerate(loop[:4])
    )
    asm = FrameAssembler()
    frames = [fr for i in range(0, len(stream), 1024) for fr in asm.feed(stream[i : i + 1024])]
    assert [f.data for f in frames] == [f.data for f in loop[:4]]
    assert [f.codec for f in frames] == [0x10, 0x11, 0x11, 0x11]


def test_registry_is_the_one_source() -> None:
    assert {AppLayer.SHIX, AppLayer.ILNK, AppLayer.VSTARCAM, AppLayer.LOOKCAM} == registry.SUPPORTED
    assert set(registry.CLIENTS) == registry.SUPPORTED
    assert set(registry.DISPLAY_NAMES) == set(AppLayer)
    assert registry.CLIENTS[AppLayer.VSTARCAM] is vstarcam.VstarcamClient
    for layer, client in registry.CLIENTS.items():
        assert client.layer is layer
        assert client.name == layer.value
        assert registry.DISPLAY_NAMES[layer] == client.display_name
        assert (client.magic, layer) in registry.PAYLOAD_MAGICS
    assert not registry.REGISTRY[AppLayer.CAMHI].supported
    assert registry.layer_from_payload(b"\x01\x0a\x05\x00....") is AppLayer.VSTARCAM
    assert "snapshot" in registry.REGISTRY[AppLayer.VSTARCAM].capabilities


class _Channel:
    """In-memory control channel: answers each CGI call via ``answer(path)``."""

    def __init__(self, answer: Callable[[str], bytes | None]) -> None:
        self.answer = answer
        self.sent: list[str] = []
        self.handler: Callable[[bytes], None] | None = None

    def write(self, data: bytes) -> None:
        text = data[8:].decode()
        self.sent.append(text)
        body = self.answer(text[5:].partition("?")[0])
        if body is not None and self.handler is not None:
            reply = b"\x01\x0a\x03\x00" + len(body).to_bytes(4, "little") + body
            asyncio.get_running_loop().call_soon(self.handler, reply)

    def set_packet_handler(self, cb: Callable[[bytes], None] | None) -> None:
        self.handler = cb


async def test_client_login_falls_back_to_check_user() -> None:
    answers = {"get_status.cgi": b'var sys_ver="1.2.3";\r\n', "check_user.cgi": b"result=0;"}
    chan = _Channel(answers.get)
    client = vstarcam.VstarcamClient(chan, reply_timeout=1.0)
    await client.login("admin", "pw")
    assert client.firmware == "1.2.3"
    assert [t.split("?")[0] for t in chan.sent] == ["GET /get_status.cgi", "GET /check_user.cgi"]
    assert "loginuse=admin&loginpas=pw&user=admin&pwd=pw&" in chan.sent[0]
    answers["check_user.cgi"] = b"result=-1;"
    with pytest.raises(AuthenticationError):
        await client.login("admin", "bad")


async def test_client_snapshot_unanswered_times_out() -> None:
    client = vstarcam.VstarcamClient(_Channel(lambda _path: None), reply_timeout=0.2)
    with pytest.raises(CameraTimeoutError):
        await client.snapshot_jpeg()
    refused = vstarcam.VstarcamClient(_Channel(lambda _path: b"var result=-1;"))
    with pytest.raises(AuthenticationError):
        await refused.snapshot_jpeg()


# -- sessions against the emulated camera ----------------------------------------------

pytestmark = pytest.mark.usefixtures("socket_enabled")

DUID = "VSTJ-123456-ABCDE"
KEY = "vstarcam2019"
OPTS = PPPP_OPTS


def camera(**kw: Any) -> PpppCamera:
    """An emulated camera on 127.0.0.1 (``async with`` starts and stops it)."""
    kw.setdefault("encrypt", KEY)
    cfg = PpppCameraConfig(host="127.0.0.1", port=0, duid=DUID, app="vstarcam", **kw)
    return PpppCamera(cfg)


def info_for(cam: PpppCamera, key: str | None = KEY) -> CameraInfo:
    extra = {"key": key} if key else {}
    return CameraInfo(DUID, "127.0.0.1", cam.port, Family.PPPP, extra=extra)


async def collect(session: PpppSession, n: int, within: float = 30.0) -> list[Frame]:
    frames: list[Frame] = []
    got = asyncio.Event()

    def on_frame(frame: Frame) -> None:
        frames.append(frame)
        if len(frames) >= n:
            got.set()

    unsub: Callable[[], None] = session.add_frame_listener(on_frame)
    try:
        async with asyncio.timeout(within):
            await got.wait()
    finally:
        unsub()
    return frames[:n]


def decode_all(frames: list[Frame], codec: Codec) -> list[tuple[int, int]]:
    import av

    ctx: Any = av.CodecContext.create("h264" if codec is Codec.H264 else "hevc", "r")
    sizes: list[tuple[int, int]] = []
    for frame in frames:
        sizes += [(p.width, p.height) for p in ctx.decode(av.Packet(frame.data))]
    sizes += [(p.width, p.height) for p in ctx.decode(None)]
    return sizes


def check_stream(frames: list[Frame], codec: Codec, size: tuple[int, int]) -> None:
    assert frames[0].keyframe
    assert {f.codec for f in frames} == {codec}
    assert all((f.width, f.height) == size for f in frames)
    pts = [f.pts for f in frames]
    assert all(p is not None for p in pts)
    assert all(b > a for a, b in itertools.pairwise(pts)), pts  # type: ignore[operator]
    seqs = [f.seq for f in frames]
    assert seqs == sorted(set(seqs))
    assert decode_all(frames, codec) == [size] * len(frames)


@pytest.mark.parametrize("codec", ["h264", "h265"])
@pytest.mark.parametrize("size", [(640, 480), (1280, 720)])
async def test_session_streams_h26x(codec: str, size: tuple[int, int]) -> None:
    want = Codec.H264 if codec == "h264" else Codec.H265
    async with camera(codec=codec, width=size[0], height=size[1]) as cam:
        session = open_pppp_session(info_for(cam), None, OPTS)
        await session.start()
        try:
            frames = await collect(session, 20)
            check_stream(frames, want, size)
            assert session.app_layer is AppLayer.VSTARCAM
            facts = session.facts
            assert (facts.app_layer, facts.firmware) == ("vstarcam", "48.60.64.187")
            assert (facts.codec, facts.width, facts.height) == (want, *size)
            assert session.username == "admin"
            assert frames[0].data in cam.sent_frames
        finally:
            await session.close()
        assert any(c.startswith("vstarcam:get_status.cgi") for c in cam.stats.commands)
        assert cam.stats.logins_ok >= 1


async def test_loss_dup_reorder_recovered() -> None:
    async with camera(loss=0.08, dup=0.05, reorder=0.05, seed=7) as cam:
        session = open_pppp_session(info_for(cam), None, OPTS)
        await session.start()
        try:
            frames = await collect(session, 30, within=60.0)
            check_stream(frames, Codec.H264, (640, 480))
            assert all(f.data in cam.sent_frames for f in frames)
        finally:
            await session.close()
        stats = cam.stats
        assert stats.impaired_drops > 0
        assert stats.impaired_dups > 0
        assert stats.impaired_reorders > 0
        assert stats.drw_retx > 0


async def test_wrong_password_is_refused() -> None:
    async with camera(password="s3cret") as cam:
        session = open_pppp_session(info_for(cam), Credentials("admin", "wrong"), OPTS)
        with pytest.raises(AuthenticationError):
            await session.start()
        assert cam.stats.logins_failed >= 2  # the stored password, then admin/888888
        assert cam.stats.logins_ok == 0
        good = open_pppp_session(info_for(cam), Credentials("admin", "s3cret"), OPTS)
        await good.start()
        try:
            frames = await collect(good, 3)
            assert frames[0].keyframe
        finally:
            await good.close()


async def test_stream_rerequested_after_each_burst() -> None:
    """The camera streams 0.6 s per livestream.cgi; the client asks again after silence."""
    async with camera(stream_seconds=0.6) as cam:
        session = open_pppp_session(info_for(cam), None, OPTS)
        await session.start()
        try:
            frames = await collect(session, 45, within=60.0)  # 3 s of video at 15 fps
            check_stream(frames, Codec.H264, (640, 480))
            client = session.client
            assert isinstance(client, vstarcam.VstarcamClient)
            assert client.stream_requests >= 3
            assert cam.stats.stream_expired >= 2
            assert cam.stats.stream_starts >= 3
            assert session.conn is not None
            assert session.conn.counters.index_restarts >= 2  # video index restarts at 0
        finally:
            await session.close()
        assert cam.stats.stream_stops == 1  # streamid=16 on close


async def test_plaintext_camera_without_hint_by_prefix() -> None:
    async with camera(encrypt=None, codec="h265") as cam:
        session = open_pppp_session(info_for(cam, key=None), None, OPTS)
        await session.start()
        try:
            frames = await collect(session, 5)
            assert frames[0].keyframe
            assert frames[0].codec is Codec.H265
        finally:
            await session.close()


async def test_joining_mid_gop_waits_for_a_keyframe() -> None:
    async with camera(gop_offset=5) as cam:
        session = open_pppp_session(info_for(cam), None, OPTS)
        await session.start()
        try:
            frames = await collect(session, 16)
            check_stream(frames, Codec.H264, (640, 480))
            assert session.stats.frames_dropped >= 10  # P-frames 5..14 before the next I
            assert frames[0].data == encode_loop("h264")[15].data
        finally:
            await session.close()


async def test_snapshot_cgi_returns_jpeg() -> None:
    async with camera() as cam:
        session = open_pppp_session(info_for(cam), None, OPTS)
        await session.start()
        try:
            jpeg = await session.still_image()
            assert looks_like_jpeg(jpeg)
            assert cam.stats.snapshots == 1
        finally:
            await session.close()


async def test_discovery_lists_vstarcam_as_supported() -> None:
    async with camera() as cam:
        found = await discover_pppp([cam.discovery_target], timeout=1.0, bind_host="127.0.0.1")
    assert len(found) == 1
    info = found[0]
    assert (info.uid, info.app_layer, info.supported) == (DUID, "vstarcam", True)
    assert info.extra["key"] == KEY
