"""VStarcam / Eye4 CGI application layer ("01 0A 00 00", pppp.md §6.4).

Requests are HTTP-like CGI calls in an 8-byte envelope (``01 0a 00 00`` +
u32 LE text length) on channel 0, credentials in every call
(``loginuse/loginpas`` and ``user/pwd``). Replies use the same envelope (bytes
2-3 may differ) and carry ``var key=value;`` / ``key=value`` text, or a JPEG
for ``snapshot.cgi``. Live video arrives on channel 1 as ``55 aa 15 a8``
frames (type 0x10 = I, 0x11 = P) holding Annex-B H.264 or H.265; Eye4
firmware streams only a few seconds per ``livestream.cgi`` request, so the
client asks again after a second of silence. Audio (``audiostream.cgi``)
arrives on channel 2 as type 0x06 frames (sub-type 1: IMA-ADPCM, high nibble
first, 8 kHz, decoder state cleared per frame) and is asked for again after
silence too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
import re
import struct
from typing import Any
from urllib.parse import quote

from ...controls import Capability, NightMode, PtzDirection
from ...errors import (
    AuthenticationError,
    CameraRejectedError,
    CameraTimeoutError,
    ChinesiumError,
    MalformedPacketError,
)
from ...model import Codec
from .base import (
    AUDIO_CHANNEL,
    AppClient,
    ChannelLike,
    MagicFramer,
    MediaChannelLike,
    ReplyWaiter,
)
from .layers import AppLayer

VSTARCAM_MAGIC = b"\x01\x0a\x00\x00"
"""Request envelope magic."""
VSTARCAM_PREFIX = b"\x01\x0a"
"""Reply envelopes start with these two bytes (the next two vary)."""
HEADER_SIZE = 8
MAX_BODY = 4 * 1024 * 1024
"""Envelopes announcing more than this are treated as garbage (resync)."""

STREAM_MAIN = 10
"""``livestream.cgi`` stream id that starts video (required on Eye4)."""
STREAM_STOP = 16
"""``livestream.cgi`` stream id that stops video."""
AUDIO_START: dict[str, str | int] = {"streamid": 1, "adpcm_ver": 1}
"""``audiostream.cgi`` parameters that start IMA-ADPCM audio: stream 1 (pppp.md §6.4)
and ADPCM version 1, whose frames each start from a cleared decoder state (what the
vendor's app asks for; firmware without the field sends that too)."""
REFRESH_AFTER = 1.0
"""Seconds of media silence after which ``livestream.cgi`` is sent again."""

DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "888888"  # noqa: S105 - public factory default

PTZ_COMMANDS: dict[PtzDirection, int] = {
    PtzDirection.UP: 0,
    PtzDirection.DOWN: 2,
    PtzDirection.LEFT: 4,
    PtzDirection.RIGHT: 6,
}
"""``decoder_control.cgi`` ``command`` starting a move; command + 1 stops that move."""
PARAM_RESOLUTION = 0
PARAM_FLIP = 5
"""``camera_control.cgi`` param 5: value bit 0 flip, bit 1 mirror (IPCAM CGI SDK)."""
PARAM_IRCUT = 14
"""``camera_control.cgi`` param 14 = IR (1 on / 0 off): our reading, see protocol notes."""
RESOLUTIONS: dict[str, int] = {"640x480": 32, "320x240": 8}
"""``camera_control.cgi`` param 0 values of the IPCAM CGI SDK (MJPEG models)."""
REBOOT_WAIT = 1.0
VSTARCAM_CAPABILITIES: frozenset[Capability] = frozenset(
    {
        Capability.SNAPSHOT,
        Capability.PTZ,
        Capability.NIGHT_MODE,
        Capability.FLIP,
        Capability.MIRROR,
        Capability.RESOLUTION,
        Capability.REBOOT,
        Capability.FIRMWARE,
    }
)
"""snapshot.cgi, decoder_control.cgi (PTZ), camera_control.cgi (IR, flip/mirror,
resolution), reboot.cgi, get_status.cgi (``sys_ver``) / get_camera_params.cgi (pppp.md §6.4)."""

_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"
_ASSIGN = re.compile(r"""(?:\bvar\s+)?([A-Za-z_][\w.\[\]]*)\s*=\s*("[^"]*"|'[^']*'|[^;&\r\n]*)""")


def encode_envelope(text: bytes) -> bytes:
    """Wrap request text: ``01 0a 00 00`` + u32 LE length + text."""
    return VSTARCAM_MAGIC + struct.pack("<I", len(text)) + text


def cgi_text(cgi: str, user: str, password: str, params: dict[str, str | int] | None = None) -> str:
    """``GET /cgi?params&loginuse=U&loginpas=P&user=U&pwd=P&`` (pppp.md §6.4, vector #20)."""
    u = quote(user, safe="")
    p = quote(password, safe="")
    query = "".join(f"{k}={quote(str(v), safe='')}&" for k, v in (params or {}).items())
    return f"GET /{cgi}?{query}loginuse={u}&loginpas={p}&user={u}&pwd={p}&"


def encode_cgi(
    cgi: str, user: str, password: str, params: dict[str, str | int] | None = None
) -> bytes:
    """A complete request envelope for one CGI call."""
    return encode_envelope(cgi_text(cgi, user, password, params).encode())


def parse_values(text: str) -> dict[str, str]:
    """Parse ``var key=value;`` and ``key=value`` assignments (quotes stripped)."""
    out: dict[str, str] = {}
    for m in _ASSIGN.finditer(text):
        value = m.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[m.group(1)] = value
    return out


def find_jpeg(body: bytes) -> bytes | None:
    """The JPEG inside a reply body (``ff d8`` ... last ``ff d9``), if any."""
    start = body.find(_JPEG_SOI + b"\xff")
    if start < 0:
        return None
    end = body.rfind(_JPEG_EOI)
    return body[start : end + 2] if end > start else None


@dataclass(frozen=True, slots=True)
class CgiReply:
    """One reply envelope: its raw body and the parsed ``key=value`` pairs.

    ``jpeg`` is set instead of ``values`` when the body holds a picture.
    """

    body: bytes
    values: dict[str, str] = field(default_factory=dict)
    jpeg: bytes | None = None

    @classmethod
    def parse(cls, body: bytes) -> CgiReply:
        """Parse a reply body (text or JPEG)."""
        jpeg = find_jpeg(body)
        if jpeg is not None:
            return cls(body, {}, jpeg)
        text = body.rstrip(b"\0").decode("utf-8", "replace")
        return cls(body, parse_values(text))

    def get(self, key: str) -> str | None:
        """A value as text, or ``None``."""
        return self.values.get(key)

    def get_int(self, key: str) -> int | None:
        """A value as an integer, or ``None`` when absent or not a number."""
        value = self.values.get(key)
        if value is None:
            return None
        try:
            return int(value.strip())
        except ValueError:
            return None

    @property
    def result(self) -> int | None:
        """The ``result`` code (0 = ok; negative = refused), if the reply has one."""
        return self.get_int("result")

    @property
    def refused(self) -> bool:
        """True when ``result`` is negative (wrong credentials, pppp.md §8 / §9 q4)."""
        result = self.result
        return result is not None and result < 0


def decode_envelope(data: bytes | bytearray | memoryview) -> tuple[CgiReply, int]:
    """Decode one envelope at the start of ``data``; return (reply, bytes consumed)."""
    if len(data) < HEADER_SIZE:
        raise MalformedPacketError(f"VStarcam envelope needs 8 bytes, got {len(data)}")
    if bytes(data[:2]) != VSTARCAM_PREFIX:
        raise MalformedPacketError(f"bad VStarcam magic {bytes(data[:4]).hex()}")
    (length,) = struct.unpack_from("<I", data, 4)
    end = HEADER_SIZE + length
    if length > MAX_BODY or len(data) < end:
        raise MalformedPacketError(f"VStarcam envelope truncated or too long ({length})")
    return CgiReply.parse(bytes(data[HEADER_SIZE:end])), end


def _frame_size(header: bytearray) -> int | None:
    (length,) = struct.unpack_from("<I", header, 4)
    return None if length > MAX_BODY else HEADER_SIZE + length


class VstarcamDecoder(MagicFramer):
    """Incremental decoder for the control channel (replies may span DRWs)."""

    def __init__(self) -> None:
        """Start with an empty buffer."""
        super().__init__(VSTARCAM_PREFIX, HEADER_SIZE, _frame_size)

    def feed(self, data: bytes) -> list[CgiReply]:
        """Add bytes; return the complete replies."""
        return [CgiReply.parse(frame[HEADER_SIZE:]) for frame in self.frames(data)]


def _is_text(reply: CgiReply) -> bool:
    return reply.jpeg is None


def _is_picture(reply: CgiReply) -> bool:
    return reply.jpeg is not None or reply.refused


def _has(key: str) -> Callable[[CgiReply], bool]:
    """Accept a text reply carrying ``key`` (or a refusal): other replies are not ours."""

    def pred(reply: CgiReply) -> bool:
        return reply.jpeg is None and (key in reply.values or reply.refused)

    return pred


class VstarcamClient(AppClient):
    """Client side of the VStarcam CGI layer: status login, live stream, snapshot."""

    layer = AppLayer.VSTARCAM
    name = AppLayer.VSTARCAM.value
    display_name = "VStarcam CGI (Eye4, O-KAM Pro, JXLCAM)"
    magic = VSTARCAM_PREFIX
    capabilities = VSTARCAM_CAPABILITIES
    video_codecs = frozenset({Codec.H264, Codec.H265})
    audio_channel = AUDIO_CHANNEL
    resolutions = tuple(RESOLUTIONS)
    night_modes = (NightMode.ON, NightMode.OFF)
    default_credentials = ((DEFAULT_USER, DEFAULT_PASSWORD),)

    def __init__(
        self,
        control: ChannelLike,
        *,
        reply_timeout: float = 3.0,
        refresh_after: float = REFRESH_AFTER,
    ) -> None:
        """Attach to ``control`` (channel 0)."""
        self._decoder = VstarcamDecoder()
        self._replies: ReplyWaiter[CgiReply] = ReplyWaiter()
        self.user = DEFAULT_USER
        self.password = DEFAULT_PASSWORD
        self.status: CgiReply | None = None
        """The ``get_status.cgi`` reply from the last login."""
        self.refresh_after = refresh_after
        self.stream_requests = 0
        """``livestream.cgi`` start requests sent (first + refreshes)."""
        self._video: MediaChannelLike | None = None
        self._media_at = 0.0
        self._requested_at = 0.0
        self._audio: MediaChannelLike | None = None
        self._audio_on = False
        self._audio_at = 0.0
        self._audio_requested_at = 0.0
        self.audio_requests = 0
        """``audiostream.cgi`` start requests sent (first + refreshes)."""
        self._refresher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._last_move = PtzDirection.UP
        super().__init__(control, reply_timeout=reply_timeout)

    # -- control channel

    def _feed_control(self, payload: bytes) -> None:
        for reply in self._decoder.feed(payload):
            self._replies.deliver(reply)

    def fail_pending(self, err: ChinesiumError) -> None:
        """Fail every request waiting for a reply; stop re-requesting video."""
        self._stop_refresher()
        self._replies.fail(err)

    def detach(self) -> None:
        """Stop re-requesting video and release the control channel."""
        self._stop_refresher()
        super().detach()

    def send(self, cgi: str, params: dict[str, str | int] | None = None) -> None:
        """Send one CGI call with the current credentials (no reply awaited)."""
        self._control.write(encode_cgi(cgi, self.user, self.password, params))

    async def request(
        self, cgi: str, params: dict[str, str | int] | None = None, *, picture: bool = False
    ) -> CgiReply:
        """Send a CGI call and wait for its text reply (``picture``: a JPEG reply).

        Replies name no request, so calls that wait are serialised.
        """
        pred = _is_picture if picture else _is_text
        return await self._call(cgi, params, pred)

    async def _call(
        self, cgi: str, params: dict[str, str | int] | None, pred: Callable[[CgiReply], bool]
    ) -> CgiReply:
        async with self._lock:
            self.send(cgi, params)
            return await self._replies.wait(pred, self.reply_timeout, f"VStarcam {cgi}")

    async def login(self, username: str, password: str) -> None:
        """Probe with ``get_status.cgi`` (``check_user.cgi`` when it has no ``result``).

        A negative ``result`` is taken as wrong credentials (pppp.md §8; the
        exact refusal text is an open question, §9 q4). ``sys_ver`` becomes
        :attr:`firmware`.
        """
        self.user, self.password = username, password
        status = await self.request("get_status.cgi")
        if status.refused:
            raise AuthenticationError(f"VStarcam refused {username!r} (result {status.result})")
        if status.result is None:
            check = await self.request("check_user.cgi")
            if check.refused:
                raise AuthenticationError(f"VStarcam refused {username!r} (result {check.result})")
        self.status = status
        self.firmware = status.get("sys_ver") or self.firmware

    # -- video

    def attach_video(self, channel: MediaChannelLike, sink: Callable[[bytes], None]) -> None:
        """Route media payloads to ``sink``, noting when the last one arrived."""
        self._video = channel
        loop = asyncio.get_running_loop()

        def _media(payload: bytes) -> None:
            self._media_at = loop.time()
            sink(payload)

        channel.set_packet_handler(_media)

    def _request_stream(self) -> None:
        if self._video is not None:
            # Some firmwares restart the video index at 0 per request (pppp.md §4.1).
            self._video.allow_index_restart()
        self.stream_requests += 1
        self._requested_at = asyncio.get_running_loop().time()
        self.send("livestream.cgi", {"streamid": STREAM_MAIN, "substream": 1})

    async def start_video(self) -> None:
        """``livestream.cgi?streamid=10&substream=1``; re-sent after silence."""
        self._media_at = asyncio.get_running_loop().time()
        self._request_stream()
        if self._refresher is None and self.refresh_after > 0:
            self._refresher = asyncio.get_running_loop().create_task(
                self._refresh_loop(), name="vstarcam-livestream-refresh"
            )

    async def _refresh_loop(self) -> None:
        # Sleeps until a refresh could be due (media and request both ``period``
        # old, for video and, while asked for, audio): while media flow that is about
        # one wake-up per period.
        loop = asyncio.get_running_loop()
        period = self.refresh_after
        while True:
            now = loop.time()
            due = max(self._media_at, self._requested_at) + period
            if now >= due:
                with contextlib.suppress(ChinesiumError):
                    self._request_stream()
                due = now + period
            if self._audio_on:
                audio_due = max(self._audio_at, self._audio_requested_at) + period
                if now >= audio_due:
                    with contextlib.suppress(ChinesiumError):
                        self._request_audio()
                    audio_due = now + period
                due = min(due, audio_due)
            await asyncio.sleep(max(0.01, due - now))

    def _stop_refresher(self) -> None:
        task, self._refresher = self._refresher, None
        if task is not None and not task.done():
            task.cancel()

    async def stop_video(self) -> None:
        """``livestream.cgi?streamid=16`` (no reply awaited)."""
        self._stop_refresher()
        self.send("livestream.cgi", {"streamid": STREAM_STOP})

    # -- audio

    def attach_audio(self, channel: MediaChannelLike, sink: Callable[[bytes], None]) -> None:
        """Route channel-2 payloads to ``sink``, noting when the last one arrived."""
        self._audio = channel
        loop = asyncio.get_running_loop()

        def _audio(payload: bytes) -> None:
            self._audio_at = loop.time()
            sink(payload)

        channel.set_packet_handler(_audio)

    def _request_audio(self) -> None:
        if self._audio is not None:
            self._audio.allow_index_restart()  # as for video: a new request may restart it
        self.audio_requests += 1
        self._audio_requested_at = asyncio.get_running_loop().time()
        self.send("audiostream.cgi", AUDIO_START)

    async def start_audio(self) -> None:
        """``audiostream.cgi?streamid=1&adpcm_ver=1``; re-sent after silence like video."""
        self._audio_on = True
        self._audio_at = asyncio.get_running_loop().time()
        self._request_audio()

    async def stop_audio(self) -> None:
        """``audiostream.cgi?streamid=16`` (no reply awaited)."""
        self._audio_on = False
        self.send("audiostream.cgi", {"streamid": STREAM_STOP})

    # -- controls

    async def command(self, cgi: str, params: dict[str, str | int]) -> CgiReply:
        """A CGI call whose reply must carry a ``result`` that is not negative."""
        reply = await self.request(cgi, params)
        if reply.result is None:
            raise MalformedPacketError(f"VStarcam {cgi} reply has no result: {reply.body[:40]!r}")
        if reply.refused:
            raise CameraRejectedError(f"VStarcam {cgi} refused (result {reply.result})")
        return reply

    async def ptz_move(self, direction: PtzDirection) -> None:
        """``decoder_control.cgi?command=N`` (STOP: the stop code of the last move)."""
        if direction is PtzDirection.STOP:
            code = PTZ_COMMANDS[self._last_move] + 1
        else:
            code = PTZ_COMMANDS[direction]
            self._last_move = direction
        await self.command("decoder_control.cgi", {"command": code})

    async def ptz_step(self, direction: PtzDirection) -> None:
        """``decoder_control.cgi?command=N&onestep=1``: the camera stops by itself."""
        if direction is PtzDirection.STOP:
            await self.ptz_move(direction)
            return
        await self.command(
            "decoder_control.cgi", {"command": PTZ_COMMANDS[direction], "onestep": 1}
        )

    async def set_night_mode(self, mode: NightMode) -> None:
        """``camera_control.cgi?param=14&value=1|0``."""
        value = int(mode is NightMode.ON)
        await self.command("camera_control.cgi", {"param": PARAM_IRCUT, "value": value})

    async def set_orientation(self, flip: bool, mirror: bool) -> None:
        """``camera_control.cgi?param=5&value=0..3``."""
        value = int(flip) | int(mirror) << 1
        await self.command("camera_control.cgi", {"param": PARAM_FLIP, "value": value})

    async def set_resolution(self, value: str) -> None:
        """``camera_control.cgi?param=0&value=N``."""
        code = RESOLUTIONS[value]
        await self.command("camera_control.cgi", {"param": PARAM_RESOLUTION, "value": code})

    async def reboot(self) -> None:
        """``reboot.cgi``; its answer (if any) is awaited briefly."""
        async with self._lock:
            self.send("reboot.cgi")
            with contextlib.suppress(CameraTimeoutError):
                await self._replies.wait(_is_text, REBOOT_WAIT, "VStarcam reboot.cgi")

    async def read_state(self) -> dict[str, Any]:
        """``get_status.cgi`` (``sys_ver``) and ``get_camera_params.cgi`` (flip, resolution, IR)."""
        out: dict[str, Any] = {}
        status = await self._call("get_status.cgi", None, _has("sys_ver"))
        if status.refused:
            raise CameraRejectedError(f"VStarcam get_status.cgi refused (result {status.result})")
        firmware = status.get("sys_ver")
        if firmware:
            self.firmware = out["firmware"] = firmware
        params = await self._call("get_camera_params.cgi", None, _has("flip"))
        if params.refused:
            raise CameraRejectedError(
                f"VStarcam get_camera_params.cgi refused (result {params.result})"
            )
        flip = params.get_int("flip")
        if flip is not None:
            out["flip"] = bool(flip & 1)
            out["mirror"] = bool(flip & 2)
        code = params.get_int("resolution")
        name = next((k for k, v in RESOLUTIONS.items() if v == code), None)
        if name is not None:
            out["resolution"] = name
        ircut = params.get_int("ircut")
        if ircut is not None:
            out["night_mode"] = NightMode.ON if ircut else NightMode.OFF
        return out

    async def snapshot_jpeg(self, resolution: int = 1) -> bytes:
        """``snapshot.cgi?res=N``: the JPEG the camera returns on channel 0.

        Raises :class:`CameraTimeoutError` when the camera does not answer with a
        picture (not every firmware implements it).
        """
        reply = await self.request("snapshot.cgi", {"res": resolution}, picture=True)
        if reply.jpeg is None:
            raise AuthenticationError(f"VStarcam snapshot refused (result {reply.result})")
        return reply.jpeg


__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USER",
    "HEADER_SIZE",
    "STREAM_MAIN",
    "STREAM_STOP",
    "VSTARCAM_MAGIC",
    "VSTARCAM_PREFIX",
    "CgiReply",
    "VstarcamClient",
    "VstarcamDecoder",
    "cgi_text",
    "decode_envelope",
    "encode_cgi",
    "encode_envelope",
    "find_jpeg",
    "parse_values",
]
