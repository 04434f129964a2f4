"""LookCam JSON layer (pppp.md §6.5): vectors, decoding, sessions against the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
from typing import Any

import pytest

from custom_components.chinesium.protocol.errors import AuthenticationError
from custom_components.chinesium.protocol.model import CameraInfo, Codec, Credentials, Family, Frame
from custom_components.chinesium.protocol.pppp.apps import lookcam, registry
from custom_components.chinesium.protocol.pppp.apps.h26x import is_keyframe
from custom_components.chinesium.protocol.pppp.apps.identify import AppLayer
from custom_components.chinesium.protocol.pppp.codec import encode_drw
from custom_components.chinesium.protocol.pppp.discovery import discover_pppp
from custom_components.chinesium.protocol.pppp.session import PpppSession, open_pppp_session
from fakecam.h26x import encode_loop
from fakecam.pppp import PpppCamera, PpppCameraConfig, _LookcamHandler, lookcam_frame

from .helpers import PPPP_OPTS

# -- vectors (pppp.md §6.5 table, written out field by field) -------------------------------

LOGIN_JSON = b'{"cmd":"LoginDev","pwd":"123456"}'
STAMP = 1_700_000_000 + 3600  # local time for tz +1 h

VECTOR_LOGIN = (
    bytes.fromhex(
        "a0afafaf"  # magic, u32 LE 0xAFAFAFA0
        "00"  # 0
        "01"  # timezone offset in hours (signed)
        "10ff536500000000"  # i64 LE local timestamp 1700003600
        "0000000000000000"  # 8 zero bytes
        "21000000"  # JSON length 33, u32 LE
    )
    + LOGIN_JSON
    + bytes.fromhex("f4f3f2f1")
)  # trailer


def test_vector_login_frame() -> None:
    obj = {"cmd": "LoginDev", "pwd": "123456"}
    lib = lookcam.encode_message(obj, timezone_hours=1, timestamp=STAMP)
    emu = lookcam_frame(obj, tz_hours=1, stamp=STAMP)
    assert lib == VECTOR_LOGIN
    assert emu == VECTOR_LOGIN
    assert len(VECTOR_LOGIN) == 26 + len(LOGIN_JSON) + 4
    # the emulator's size rule reads the same length field
    assert _LookcamHandler.message_size(bytearray(VECTOR_LOGIN)) == len(VECTOR_LOGIN)
    # commands go on channel 1
    drw = encode_drw(lookcam.COMMAND_CHANNEL, 0, lib)
    head = bytes.fromhex("f1d0") + (4 + len(lib)).to_bytes(2, "big")
    assert drw[:8] == head + b"\xd1\x01\x00\x00"


def test_vector_get_dev_info_and_negative_timezone() -> None:
    got = lookcam.encode_message({"cmd": "GetDevInfo"}, timezone_hours=-5, timestamp=0)
    assert got[:26] == bytes.fromhex("a0afafaf00fb" + "00" * 8 + "00" * 8 + "14000000")
    assert got[26:-4] == b'{"cmd":"GetDevInfo"}'
    assert got[-4:] == b"\xf4\xf3\xf2\xf1"
    assert lookcam.decode_message(got) == ({"cmd": "GetDevInfo"}, len(got))


def test_decoder_spans_payloads_and_accepts_25_byte_device_header() -> None:
    a = lookcam.encode_message({"cmd": "LoginDev", "result": 0, "connectNum": 3}, timestamp=5)
    short = a[:21] + a[22:]  # the seed's 25-byte device prefix
    b = lookcam.encode_message({"cmd": "GetDevInfo", "version": "x"}, timestamp=5)
    stream = b"junk" + a + short + b
    dec = lookcam.LookcamDecoder()
    out: list[dict[str, Any]] = []
    for i in range(0, len(stream), 7):
        out += dec.feed(stream[i : i + 7])
    assert [m["cmd"] for m in out] == ["LoginDev", "LoginDev", "GetDevInfo"]
    assert out[0]["connectNum"] == 3
    assert dec.skipped == 4
    with pytest.raises(ValueError, match="magic"):
        lookcam.decode_message(b"\x06\x0a\xa0\x80" + bytes(30))


def test_media_assembler_cuts_at_headers() -> None:
    loop = encode_loop("h265", width=320, height=240, frames=6, gop=3)
    header = lookcam.MEDIA_MAGIC + bytes(79)
    stream = b"".join(header + f.data for f in loop)
    asm = lookcam.LookcamMediaAssembler()
    # the emulator and the cameras start every frame in a new DRW: cut per frame
    units = []
    for f in loop:
        blob = header + f.data
        for i in range(0, len(blob), 1024):
            units += asm.feed(blob[i : i + 1024])
    assert len(stream) > 0
    assert [u.data for u in units] == [f.data for f in loop[:-1]]  # last one waits
    assert [u.keyframe for u in units] == [f.keyframe for f in loop[:-1]]
    assert units[0].codec is Codec.H265
    assert all(u.header == header for u in units)


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_is_keyframe(codec: str) -> None:
    loop = encode_loop(codec, width=320, height=240, frames=4, gop=2)
    assert [is_keyframe(f.data) for f in loop] == [f.keyframe for f in loop]


def test_registered_as_supported() -> None:
    entry = registry.REGISTRY[AppLayer.LOOKCAM]
    assert entry.supported
    assert entry.client is lookcam.LookcamClient
    assert registry.CLIENTS[AppLayer.LOOKCAM] is lookcam.LookcamClient
    assert registry.layer_from_payload(VECTOR_LOGIN) is AppLayer.LOOKCAM
    assert lookcam.LookcamClient.control_channel == 1
    assert lookcam.LookcamClient.video_channel == 0


class _Channel:
    def __init__(self, answer: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        self.answer = answer
        self.sent: list[bytes] = []
        self.handler: Callable[[bytes], None] | None = None

    def write(self, data: bytes) -> None:
        self.sent.append(data)
        reply = self.answer(lookcam.decode_message(data)[0])
        if reply is not None and self.handler is not None:
            asyncio.get_running_loop().call_soon(
                self.handler, lookcam.encode_message(reply, timestamp=0)
            )

    def set_packet_handler(self, cb: Callable[[bytes], None] | None) -> None:
        self.handler = cb


async def test_client_login_and_refusal() -> None:
    def answer(req: dict[str, Any]) -> dict[str, Any] | None:
        if req["cmd"] == "LoginDev":
            return {"cmd": "LoginDev", "result": 0 if req["pwd"] == "ok" else -1, "connectNum": 4}
        if req["cmd"] == "GetDevInfo":
            return {"cmd": "GetDevInfo", "version": "V1.2"}
        return None

    chan = _Channel(answer)
    client = lookcam.LookcamClient(chan, reply_timeout=1.0)
    await client.login("ignored", "ok")
    assert (client.connect_num, client.firmware) == (4, "V1.2")
    await client.start_video()
    sent = [lookcam.decode_message(d)[0] for d in chan.sent]
    assert sent[-1] == {"cmd": "OpenVideo", "state": 1, "pwd": "ok", "stream": 2, "userid": 4}
    with pytest.raises(AuthenticationError):
        await client.login("", "bad")


# -- sessions against the emulated camera ----------------------------------------------

pytestmark = pytest.mark.usefixtures("socket_enabled")

DUID = "GHBB-000001-NRLXW"
OPTS = PPPP_OPTS


def camera(**kw: Any) -> PpppCamera:
    """An emulated camera on 127.0.0.1 (``async with`` starts and stops it)."""
    kw.setdefault("duid", DUID)
    cfg = PpppCameraConfig(host="127.0.0.1", port=0, width=320, height=240, **kw)
    return PpppCamera(cfg)


def info_for(cam: PpppCamera, app_layer: str | None = None) -> CameraInfo:
    return CameraInfo(cam.config.duid, "127.0.0.1", cam.port, Family.PPPP, app_layer=app_layer)


async def collect(session: PpppSession, n: int, within: float = 30.0) -> list[Frame]:
    frames: list[Frame] = []
    got = asyncio.Event()

    def on_frame(frame: Frame) -> None:
        frames.append(frame)
        if len(frames) >= n:
            got.set()

    unsub = session.add_frame_listener(on_frame)
    try:
        async with asyncio.timeout(within):
            await got.wait()
    finally:
        unsub()
    return frames[:n]


def decoded_sizes(frames: list[Frame], codec: Codec) -> list[tuple[int, int]]:
    import av

    ctx: Any = av.CodecContext.create("h264" if codec is Codec.H264 else "hevc", "r")
    sizes: list[tuple[int, int]] = []
    for frame in frames:
        sizes += [(p.width, p.height) for p in ctx.decode(av.Packet(frame.data))]
    sizes += [(p.width, p.height) for p in ctx.decode(None)]
    return sizes


@pytest.mark.parametrize(("codec", "want"), [("h265", Codec.H265), ("h264", Codec.H264)])
async def test_session_streams_from_emulator(codec: str, want: Codec) -> None:
    async with camera(lookcam_codec=codec) as cam:
        assert cam.config.app_layer == "lookcam"
        session = open_pppp_session(info_for(cam), None, OPTS)
        await session.start()
        try:
            frames = await collect(session, 12)
            assert session.app_layer is AppLayer.LOOKCAM
            facts = session.facts
            assert (facts.app_layer, facts.firmware) == ("lookcam", "FAKECAM_LOOKCAM 1.0")
            assert (facts.codec, facts.width, facts.height) == (want, 320, 240)
            assert frames[0].keyframe
            assert {f.codec for f in frames} == {want}
            assert all(f.data in cam.sent_frames for f in frames)
            assert [f.keyframe for f in frames] == [is_keyframe(f.data) for f in frames]
            assert decoded_sizes(frames, want) == [(320, 240)] * len(frames)
        finally:
            await session.close()
        assert cam.stats.commands[:3] == [
            "lookcam:LoginDev",
            "lookcam:GetDevInfo",
            "lookcam:OpenVideo",
        ]
        assert cam.stats.stream_stops == 1  # OpenVideo state 0 on close


async def test_session_with_25_byte_replies_and_lossy_link() -> None:
    async with camera(lookcam_reply_header=25, loss=0.05, dup=0.05, reorder=0.05, seed=3) as cam:
        session = open_pppp_session(info_for(cam, "lookcam"), None, OPTS)
        await session.start()
        try:
            frames = await collect(session, 10)
            assert decoded_sizes(frames, Codec.H265) == [(320, 240)] * 10
        finally:
            await session.close()


async def test_password_checked_when_the_firmware_does() -> None:
    async with camera(lookcam_check_password=True, password="secret") as cam:
        session = open_pppp_session(info_for(cam), Credentials(password="wrong"), OPTS)
        with pytest.raises(AuthenticationError):
            await session.start()
        await session.close()
        good = open_pppp_session(info_for(cam), Credentials(password="secret"), OPTS)
        await good.start()
        await good.close()
        assert cam.stats.logins_ok == 1


async def test_unknown_prefix_found_by_probing() -> None:
    async with camera(duid="ZZZZ-000777-ABCDE", app="lookcam") as cam:
        session = open_pppp_session(info_for(cam), None, OPTS)
        await session.start()
        try:
            await collect(session, 2)
            assert session.facts.app_layer == "lookcam"
        finally:
            await session.close()


async def test_discovery_lists_lookcam_as_supported() -> None:
    async with camera() as cam:
        found = await discover_pppp([cam.discovery_target], timeout=0.6, bind_host="127.0.0.1")
    assert [(i.uid, i.app_layer, i.supported) for i in found] == [(DUID, "lookcam", True)]
    assert found[0].extra["key"] is None
    assert json.dumps(found[0].as_dict())


def test_emulator_reply_and_media_bytes() -> None:
    cam = PpppCamera(PpppCameraConfig(duid=DUID))
    handler = next(h for h in cam._handlers if h.name == "lookcam")
    sent: list[tuple[bytes, int]] = []
    cam._reply = lambda _sess, payload, channel=0: sent.append((payload, channel))  # type: ignore[method-assign]
    sess: Any = object()
    handler.handle(sess, lookcam.encode_message({"cmd": "GetDevInfo"}, timestamp=0))
    ((reply, channel),) = sent
    assert channel == 1
    assert reply[:6] == b"\xa0\xaf\xaf\xaf\x00\x00"
    assert reply[14:22] == bytes(8)
    n = int.from_bytes(reply[22:26], "little")
    assert len(reply) == 26 + n + 4
    assert reply[-4:] == b"\xf4\xf3\xf2\xf1"
    assert json.loads(reply[26:-4])["cmd"] == "GetDevInfo"
    header = handler.media_header(0x10, 1000, 0, 0.0)
    assert header == b"\x01\xaf\xaf\xaf" + bytes(79)
    assert handler.video_channel == 0
