"""Emulated PPPP ("CS2 P2P") camera for tests, benchmarks and manual runs.

Written from ``pppp.md`` alone (not from the integration's client code) so a
shared misreading of the spec shows up as an interop failure.

Transport (pppp.md §1-§5, §8): a discovery socket (real cameras: UDP 32108)
answers ``LAN_SEARCH`` with one ``PUNCH_PKT`` sent from a separate *session*
socket (ephemeral port); ``PUNCH_PKT``/``P2P_RDY`` with our DID on the session
socket open a session (4 x ``P2P_RDY`` 10 ms apart); DRW channels with per-DRW
ACKs, retransmission of unacked DRWs with the same index (timeout + fast
retransmit), in-order delivery with reordering/duplicate handling, ALIVE /
ALIVE_ACK, silence timeout, CLOSE, optional CS2 obfuscation (``encrypt``) and
seeded fault injection on outgoing DRWs.

Application layers (§6.2-§6.5), one handler class each (``_HANDLERS``): SHIX
JSON (``06 0a a0 80``), iLnk binary (``11 0a`` + XqBytes), VStarcam CGI
(``01 0a 00 00``) and LookCam JSON (``a0 af af af`` on channel 1, HEVC frames
behind an 83-byte ``01 af af af`` header on channel 0). Other layers' video is
on channel 1 with the 32-byte A/V header (§6.7):
JPEG frames (SHIX, iLnk) or H.264/H.265 access units encoded once by
:func:`fakecam.h26x.encode_loop` and replayed as a closed GOP loop (VStarcam).
"""

from __future__ import annotations

import argparse
import asyncio
from collections import deque
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
import ipaddress
import json
import logging
import random
import struct
import time
from typing import Any, ClassVar, Protocol, Self
import urllib.parse

from fakecam.audio import TONE_HZ, ToneSource, adpcm_frame, alaw_encode
from fakecam.motion import MotionFrameSource, MotionScript

from .controls import CameraControls

__all__ = [
    "PpppCamera",
    "PpppCameraConfig",
    "PpppStats",
    "add_arguments",
    "app_for_did",
    "decrypt",
    "did_to_bytes",
    "effective_key",
    "encrypt",
    "run_cli",
    "xq_decode",
    "xq_encode",
]

_LOGGER = logging.getLogger(__name__)

# --- wire constants (pppp.md §1.1) -------------------------------------------------------

MAGIC = 0xF1
T_LAN_SEARCH = 0x30
T_PUNCH_PKT = 0x41
T_P2P_RDY = 0x42
T_LAN_SEARCH_EXT = 0x32  # iLnk (pppp.md §1.1)
T_LAN_SEARCH_EXT_ACK = 0x33
T_DRW = 0xD0
T_DRW_ACK = 0xD1
T_ALIVE = 0xE0
T_ALIVE_ACK = 0xE1
T_CLOSE = 0xF0
DRW_MARKER = 0xD1
MAX_DRW_PAYLOAD = 1024
MAX_INFLIGHT = 128
CH_CMD = 0
CH_VIDEO = 1
CH_AUDIO = 2
AUDIO_RATE = 8000
AUDIO_SAMPLES = 1024
"""Samples per audio frame (128 ms at 8 kHz; 512 ADPCM bytes, as real VStarcams send)."""

DEFAULT_PORT = 32108
AV_MAGIC = b"\x55\xaa\x15\xa8"
SHIX_MAGIC = b"\x06\x0a"
ILNK_MAGIC = b"\x11\x0a"

# --- CS2 P2P_Proprietary_Encrypt (pppp.md §5.1) -----------------------------------------

_TABLE = bytes.fromhex(
    "7C9CE84A13DEDCB22F2123E4307B3D8CBC0B270C3CF79AE7087196009785EFC1"
    "1FC4DBA1C2EBD901FABA3B05B81587832872D18B5AD6DA9358FEAACC6E1BF0A3"
    "88AB43C00DB545384F502266207F075B14981D9BA72AB9A8CBF1FC4947063EB1"
    "0E043A945EEE541134DD4DF9ECC7C9E3781A6F706BA4BDA95DD5F8E5BB26AF42"
    "37D8E1020AAE5F1CC573094E6924906D12B319AD748A2940F52DBEA559E0F479"
    "D24BCE8982488425C6912BA2FB8FE9A6B09E3F65F603312EAC0F952C5CED39B7"
    "336C567EB4A0FD7A815351868D9F77FF6A80DFE2BF10D775645776F355CDD0C8"
    "18E6364162CF99F2324C67606192CAD3EA637D16B68ED46835C3529D46441E17"
)


def effective_key(key: str | bytes) -> tuple[int, int, int, int]:
    """Mash a PSK string into the 4-byte effective key (first 20 bytes used)."""
    raw = key.encode() if isinstance(key, str) else bytes(key)
    raw = raw[:20]
    k0 = sum(raw) & 0xFF
    k1 = (-sum(raw)) & 0xFF
    k2 = sum(b // 3 for b in raw) & 0xFF
    k3 = 0
    for b in raw:
        k3 ^= b
    return (k0, k1, k2, k3)


def encrypt(data: bytes, key: tuple[int, int, int, int]) -> bytes:
    """Obfuscate one whole datagram (ciphertext feedback, prev starts at 0)."""
    out = bytearray(len(data))
    prev = 0
    for i, b in enumerate(data):
        c = b ^ _TABLE[(key[prev & 3] + prev) & 0xFF]
        out[i] = c
        prev = c
    return bytes(out)


def decrypt(data: bytes, key: tuple[int, int, int, int]) -> bytes:
    """Inverse of :func:`encrypt`."""
    out = bytearray(len(data))
    prev = 0
    for i, c in enumerate(data):
        out[i] = c ^ _TABLE[(key[prev & 3] + prev) & 0xFF]
        prev = c
    return bytes(out)


# --- DID (pppp.md §2) ------------------------------------------------------------------


def did_to_bytes(text: str) -> bytes:
    """``PREFIX-NNNNNN-CHECK`` (dashes optional) -> 20-byte 8/4/8 wire form."""
    s = text.strip().upper().replace("-", "")
    i = 0
    while i < len(s) and s[i].isalpha():
        i += 1
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    prefix, serial, check = s[:i], s[i:j], s[j:]
    if not (1 <= len(prefix) <= 7 and 1 <= len(serial) <= 9 and 1 <= len(check) <= 7):
        raise ValueError(f"not a PPPP device id: {text!r}")
    return struct.pack(">8sI8s", prefix.encode(), int(serial), check.encode())


def did_from_bytes(raw: bytes) -> str:
    """20-byte wire form -> canonical ``PREFIX-NNNNNN-CHECK``."""
    prefix, serial, check = struct.unpack(">8sI8s", raw[:20])
    p = prefix.split(b"\0", 1)[0].decode("ascii", "replace")
    c = check.split(b"\0", 1)[0].decode("ascii", "replace")
    return f"{p}-{serial:06d}-{c}"


_SHIX_PREFIXES = {"DBG", "DGB", "DGO", "DGOA", "DGOC", "DGOE", "DGOK", "NMSA", "AYS", "AYSA", "TUT"}
_ILNK_PREFIXES = {"BATC", "BATD", "BATE", "PTZ", "PTZA", "PTZB", "TBAT", "FTY", "FTYA", "FTYC"}
_ILNK_PREFIXES |= {"FTZ", "FTZW"}


_VSTARCAM_PREFIXES = {"VSTA", "VSTB", "VSTC", "VSTD", "VSTF", "VSTG", "VSTH", "VSTJ", "VSTK"}
_VSTARCAM_PREFIXES |= {"VSTL", "VSTM", "VSTN", "VSTP", "VC0", "VE", "ELSC", "ACCQ", "BCCQ"}


_LOOKCAM_PREFIXES = {"BHCC", "FHBB", "GHBB"}


def app_for_did(duid: str) -> str:
    """Application layer typical for a DID prefix (pppp.md §6.1 / seed); default shix."""
    prefix = did_from_bytes(did_to_bytes(duid)).split("-", 1)[0]
    if prefix in _ILNK_PREFIXES:
        return "ilnk"
    if prefix in _LOOKCAM_PREFIXES:
        return "lookcam"
    return "vstarcam" if prefix in _VSTARCAM_PREFIXES else "shix"


# --- helpers ---------------------------------------------------------------------------


def packet(ptype: int, body: bytes = b"") -> bytes:
    """PPPP header (``f1``, type, u16 BE length) + body."""
    return struct.pack(">BBH", MAGIC, ptype, len(body)) + body


def drw_packet(channel: int, index: int, payload: bytes) -> bytes:
    """DRW datagram (unencrypted)."""
    return packet(T_DRW, struct.pack(">BBH", DRW_MARKER, channel, index) + payload)


def drw_ack_packet(channel: int, indices: list[int]) -> bytes:
    """DRW_ACK datagram (unencrypted), marker 0xD1."""
    body = struct.pack(">BBH", DRW_MARKER, channel, len(indices))
    body += b"".join(struct.pack(">H", i) for i in indices)
    return packet(T_DRW_ACK, body)


def xq_encode(data: bytes) -> bytes:
    """iLnk XqBytes: flip every LSB, rotate left by 4."""
    flipped = bytes(b ^ 1 for b in data)
    return flipped[4:] + flipped[:4] if len(flipped) > 4 else flipped


def xq_decode(data: bytes) -> bytes:
    """Inverse of :func:`xq_encode`: flip every LSB, rotate right by 4."""
    flipped = bytes(b ^ 1 for b in data)
    return flipped[-4:] + flipped[:-4] if len(flipped) > 4 else flipped


def av_header(codec: int, length: int, frame_no: int, now: float, subtype: int = 0) -> bytes:
    """32-byte ``55 aa 15 a8`` A/V frame header (pppp.md §6.7)."""
    secs = int(now)
    ms = int((now - secs) * 1000)
    return (
        AV_MAGIC
        + struct.pack(
            "<BBHIII", codec, subtype, ms, secs & 0xFFFFFFFF, frame_no & 0xFFFFFFFF, length
        )
        + bytes(12)
    )


def _sdiff(a: int, b: int) -> int:
    """Serial difference a - b on u16 indices (half range 0x8000)."""
    d = (a - b) & 0xFFFF
    return d - 0x10000 if d >= 0x8000 else d


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


# --- frames ----------------------------------------------------------------------------


class _FrameSourceLike(Protocol):
    def next_frame(self) -> bytes: ...


_FRAME_SOURCES: dict[tuple[int, int, int], _FrameSourceLike] = {}


def _build_frame_source(width: int, height: int, seed: int) -> _FrameSourceLike:
    try:
        from fakecam.frames import FrameSource  # noqa: PLC0415 - owned by another module

        src: _FrameSourceLike = FrameSource(width=width, height=height, count=24, seed=seed)
    except ImportError:  # pragma: no cover - fallback while frames.py is missing
        src = _PillowFrames(width, height, seed)
    return src


class _PillowFrames:
    """Tiny fallback frame source (distinct JPEGs drawn with Pillow)."""

    def __init__(self, width: int, height: int, seed: int) -> None:
        self._w, self._h, self._n = width, height, seed

    def next_frame(self) -> bytes:
        import io  # noqa: PLC0415

        from PIL import Image, ImageDraw  # noqa: PLC0415

        self._n += 1
        img = Image.new("RGB", (self._w, self._h), ((self._n * 37) % 256, 80, 160))
        ImageDraw.Draw(img).text((20, 20), f"PPPP {self._n}", fill=(255, 255, 255))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=70)
        return buf.getvalue()


async def _frame_source(
    width: int, height: int, seed: int, motion: MotionScript | None = None, fps: float = 15.0
) -> _FrameSourceLike:
    if motion is not None:  # per camera: the script's clock is the camera's frame count
        return MotionFrameSource(motion, width=width, height=height, fps=fps)
    key = (width, height, seed)
    src = _FRAME_SOURCES.get(key)
    if src is None:
        src = await asyncio.to_thread(_build_frame_source, width, height, seed)
        _FRAME_SOURCES[key] = src
    return src


# --- configuration and statistics ------------------------------------------------------


@dataclass(slots=True)
class PpppCameraConfig:
    """Knobs of the emulated camera.

    ``port`` is the discovery port (0 = ephemeral; real cameras 32108); the
    session socket always uses an ephemeral port (pppp.md §3.1). ``app`` None
    picks the layer from the DID prefix; ``password`` None uses the layer's
    default (shix ``6666``, ilnk ``admin``, vstarcam ``888888``). VStarcam:
    ``codec`` (``h264``/``h265``) and ``width``/``height`` pick the encoded
    loop, ``stream_seconds`` the video sent per ``livestream.cgi`` (Eye4 quirk),
    ``snapshot`` whether ``snapshot.cgi`` answers, ``gop_offset`` where in the
    loop a new session starts (> 0: mid-GOP, the client must wait for a keyframe).
    ``restart_video_index`` None = the layer's default (on for vstarcam).
    ``loss``/``dup``/``reorder`` are
    probabilities applied to outgoing DRWs (``impair_acks`` extends loss/dup to
    DRW_ACKs). ``reply_delay`` keeps command replies >= 50 ms after their ACK
    (aiopppp 0.2.3 race, pppp.md §8).
    """

    host: str = "127.0.0.1"
    port: int = 0
    duid: str = "ABCD-123456-VWXYZ"
    encrypt: str | None = None
    app: str | None = None
    user: str = "admin"
    password: str | None = None
    fps: float = 15.0
    loss: float = 0.0
    dup: float = 0.0
    reorder: float = 0.0
    seed: int = 1
    silence_timeout: float = 7.0
    alive_interval: float = 1.0
    max_clients: int = 1
    retransmit_timeout: float = 0.5
    reply_delay: float = 0.05
    impair_acks: bool = False
    strict: bool = False
    start_index: int = 0
    restart_video_index: bool | None = None
    ilnk_require_ticket: bool = True
    width: int = 640
    height: int = 480
    allow_non_loopback: bool = False
    codec: str = "h264"
    stream_seconds: float = 3.0
    snapshot: bool = True
    gop_offset: int = 0
    frames: Any = field(default=None, repr=False, compare=False)
    """A ``FrameSource`` for the native size (default: a shared 24-picture one)."""
    dark: bool = False
    """Night mode AUTO sees darkness (grey IR picture)."""
    battery: bool = True
    """Report a battery (SHIX batValue/batStatus, iLnk mV) and Wi-Fi signal."""
    mute_commands: frozenset[str] = frozenset()
    """Commands never answered, named as in ``stats.commands`` (``"shix:get_parms:101"``,
    ``"ilnk:0x300a"``, ``"vstarcam:camera_control.cgi"``)."""
    garble_commands: frozenset[str] = frozenset()
    """Commands answered with a malformed reply (same names)."""
    motion: MotionScript | None = None
    """JPEG layers: play a scripted motion scenario (fakecam/motion.py)."""
    # -- LookCam / unknown-variant knobs (issue 12)
    lookcam_codec: str = "h265"
    """LookCam: codec of the channel-0 media (HEVC per pppp.md §6.5)."""
    lookcam_reply_header: int = 26
    """LookCam: header size of replies (26 like requests; the seed says 25)."""
    lookcam_check_password: bool = False
    """LookCam: refuse a wrong ``LoginDev`` pwd (real firmware does not check it)."""
    answer_any_search: bool = False
    """Answer every datagram on the discovery port, even one that does not decrypt
    with our key (lets a client see a camera whose PSK it does not know)."""
    punch_magic: int = 0xF1
    """First byte of our PUNCH_PKT answer (another value = an unknown PPPP variant)."""
    app_magic: bytes | None = None
    """Answer every app-layer request with this unknown magic (+ 12 zero bytes)."""
    lan_search_ext: bool = False
    """Answer iLnk LAN_SEARCH_EXT (0x32) with a 52-byte 0x33 (DID + 32 zero bytes)."""
    # -- audio (issue 13)
    audio: bool = True
    """The camera has a microphone: SHIX (``stream audio:1``) and VStarcam
    (``audiostream.cgi``) then send a tone as IMA-ADPCM on channel 2."""
    tone_hz: float = TONE_HZ
    """Frequency of the tone the camera "hears"."""
    ilnk_audio: bool = False
    """iLnk: send the tone as 8 kHz A-law frames (type 0x06) between the video frames
    while streaming (off by default: most iLnk tests count video only)."""

    @property
    def app_layer(self) -> str:
        """Effective application layer name."""
        return self.app or app_for_did(self.duid)

    @property
    def effective_password(self) -> str:
        """Password the camera accepts."""
        if self.password is not None:
            return self.password
        handler = _HANDLERS.get(self.app_layer)
        return handler.default_password if handler is not None else "6666"

    @property
    def codec_for_layer(self) -> str:
        """Codec of the H.26x media (LookCam has its own knob)."""
        return self.lookcam_codec if self.app_layer == "lookcam" else self.codec


@dataclass(slots=True)
class PpppStats:
    """Counters exposed for assertions (all monotonic)."""

    searches: int = 0
    punch_replies: int = 0
    punches_rx: int = 0
    rdys_rx: int = 0
    rdys_tx: int = 0
    did_mismatch: int = 0
    sessions_opened: int = 0
    sessions_closed: int = 0
    sessions_timed_out: int = 0
    sessions_refused: int = 0
    closes_rx: int = 0
    closes_tx: int = 0
    alive_rx: int = 0
    alive_tx: int = 0
    alive_ack_rx: int = 0
    alive_ack_tx: int = 0
    drw_rx: int = 0
    drw_dup_rx: int = 0
    drw_ooo_rx: int = 0
    drw_tx: int = 0
    drw_retx: int = 0
    acks_rx: int = 0
    acks_tx: int = 0
    acked_indices: int = 0
    garbage_rx: int = 0
    stray_rx: int = 0
    impaired_drops: int = 0
    impaired_dups: int = 0
    impaired_reorders: int = 0
    logins_ok: int = 0
    logins_failed: int = 0
    auth_failures: int = 0
    commands: list[str] = field(default_factory=list)
    frames_sent: int = 0
    frames_skipped: int = 0
    stream_starts: int = 0
    stream_stops: int = 0
    snapshots: int = 0
    stream_expired: int = 0
    audio_starts: int = 0
    audio_stops: int = 0
    audio_frames_sent: int = 0
    audio_frames_skipped: int = 0


# --- per-session state -----------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    raw: bytes
    sent_at: float
    first_sent: float
    tries: int = 1


@dataclass(slots=True)
class _Channel:
    next_out: int = 0
    inflight: dict[int, _Pending] = field(default_factory=dict)
    expected_in: int = 0
    ooo: dict[int, bytes] = field(default_factory=dict)
    stream: bytearray = field(default_factory=bytearray)


@dataclass(slots=True)
class _Session:
    addr: tuple[str, int]
    created: float
    last_rx: float
    channels: dict[int, _Channel] = field(default_factory=dict)
    last_alive_tx: float = 0.0
    alive_misses: int = 0
    logged_in: bool = False
    ticket: bytes = b"\0\0\0\0"
    streaming: bool = False
    resolution: tuple[int, int] = (640, 480)
    frame_no: int = 0
    next_frame_at: float = 0.0
    stream_until: float = 0.0
    loop_pos: int = 0
    need_key: bool = False
    handles: list[asyncio.TimerHandle] = field(default_factory=list)
    audio: bool = False
    """Audio asked for (SHIX ``audio:1``, VStarcam ``audiostream.cgi``)."""
    next_audio_at: float = 0.0
    audio_frame_no: int = 0
    tone: ToneSource | None = None

    def channel(self, ch: int, start_index: int = 0) -> _Channel:
        chan = self.channels.get(ch)
        if chan is None:
            chan = self.channels[ch] = _Channel(next_out=start_index)
        return chan


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[bytes, tuple[str, int]], None]) -> None:
        self._on = on_datagram

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._on(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("pppp fakecam socket error: %s", exc)


# --- application layers: one handler per layer ----------------------------------------

AV_JPEG = 0x03
AV_AUDIO = 0x06
AV_ADPCM_AA = 0xAA
AV_I_FRAME = 0x10
AV_P_FRAME = 0x11
VSTARCAM_MAGIC = b"\x01\x0a\x00\x00"

_Media = tuple[int, bytes, bool]
"""(A/V header type byte, frame data, keyframe)."""


class _AppHandler:
    """One application layer of the emulated camera (pppp.md §6, §8 "Application").

    ``magic`` starts every request of the layer; ``message_size`` gives a whole
    request's size from its header (``None``: impossible header, resync);
    ``handle`` answers one complete request; ``next_media`` yields the next
    frame to stream.
    """

    name: ClassVar[str]
    magic: ClassVar[bytes]
    header_size: ClassVar[int] = 8
    default_password: ClassVar[str]
    restart_video_index: ClassVar[bool] = False
    """Default of the "video index restarts per stream request" quirk."""
    stream_seconds: float = 0.0
    """Seconds of video per stream request (0 = until stopped)."""
    video_channel: ClassVar[int] = CH_VIDEO
    """DRW channel of the media frames."""
    audio_channel: ClassVar[int] = CH_AUDIO
    """DRW channel of the audio frames."""
    audio_type: ClassVar[tuple[int, int] | None] = None
    """(header type byte, sub-type) of the layer's audio frames; ``None``: no audio."""

    def audio_payload(self, sess: _Session, samples: list[int]) -> bytes:
        """Code one audio frame (default: headerless IMA-ADPCM, high nibble first,
        from a cleared state)."""
        return adpcm_frame(samples)

    def __init__(self, cam: PpppCamera) -> None:
        self.cam = cam

    def media_header(self, ftype: int, length: int, counter: int, now: float) -> bytes:
        """Header in front of each media frame (default: the 32-byte ``55 aa 15 a8``)."""
        return av_header(ftype, length, counter, now)

    @staticmethod
    def message_size(buf: bytearray) -> int | None:
        raise NotImplementedError

    def handle(self, sess: _Session, msg: bytes) -> None:
        raise NotImplementedError

    def media_ready(self, size: tuple[int, int]) -> bool:
        return size in self.cam._frames

    async def load(self, size: tuple[int, int]) -> None:
        """Prepare the media for ``size`` (JPEG layers: a frame source)."""
        w, h = size
        cfg = self.cam.config
        if cfg.frames is not None and size == (cfg.width, cfg.height):
            self.cam._frames[size] = cfg.frames
            return
        self.cam._frames[size] = await _frame_source(w, h, cfg.seed, cfg.motion, cfg.fps)

    def next_media(self, sess: _Session) -> _Media | None:
        src = self.cam._frames.get(sess.resolution)
        if src is None:
            return None
        return (AV_JPEG, self.cam.controls.render(src.next_frame()), True)

    def intercept(self, sess: _Session, key: str) -> bool:
        """Record ``key``; True when the request must not be handled (muted/garbled)."""
        cfg = self.cam.config
        self.cam.stats.commands.append(key)
        if key in cfg.mute_commands:
            return True
        if key in cfg.garble_commands:
            self.garble(sess, key)
            return True
        return False

    def garble(self, sess: _Session, key: str) -> None:
        """Answer the request ``key`` with a malformed reply (SHIX: a body that is not JSON)."""
        self.cam._reply(sess, self.magic[:2] + b"\xa0\x80" + struct.pack("<I", 5) + b"\xff{]\x00!")


class _ShixHandler(_AppHandler):
    """SHIX JSON (``06 0a a0 80``, pppp.md §6.2)."""

    name = "shix"
    magic = SHIX_MAGIC
    default_password = "6666"  # noqa: S105 - public factory default
    audio_type = (AV_ADPCM_AA, 1)  # "55 aa 15 a8 aa 01" (pppp.md §6.2)

    @staticmethod
    def message_size(buf: bytearray) -> int | None:
        (length,) = struct.unpack_from("<I", buf, 4)
        return None if length > 64 * 1024 else 8 + length

    def _send(self, sess: _Session, obj: dict[str, Any], admin: bool = False) -> None:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        head = b"\x06\x0a\xa1\x80" if admin else b"\x06\x0a\xa0\x80"
        self.cam._reply(sess, head + struct.pack("<I", len(raw)) + raw)

    def handle(self, sess: _Session, msg: bytes) -> None:
        cam = self.cam
        stats = cam.stats
        try:
            req = json.loads(msg[8:].rstrip(b"\0").decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            stats.garbage_rx += 1
            return
        if not isinstance(req, dict):
            stats.garbage_rx += 1
            return
        cmd = req.get("cmd")
        pro = req.get("pro")
        if self.intercept(sess, f"shix:{pro}:{cmd}"):
            return
        if not isinstance(cmd, int):
            self._send(sess, {"cmd": cmd, "result": -1})
            return
        cfg = cam.config
        if req.get("user") != cfg.user:
            result = -1
        elif req.get("pwd") != cfg.effective_password:
            result = -3
        else:
            result = 0
        if result != 0:
            stats.auth_failures += 1
            if cmd == 100:
                stats.logins_failed += 1
            self._send(sess, {"cmd": cmd, "result": result})
            return
        if cmd == 100:
            stats.logins_ok += 1
            sess.logged_in = True
            self._send(
                sess,
                {
                    "cmd": 100,
                    "result": 0,
                    "admin": 1,
                    "restrict": 0,
                    "mode": 110,
                    "type": 600,
                    "checkstr": "SHIX",
                    "cloud_key": "fakecam",
                },
                admin=True,
            )
        elif cmd == 101:
            ctrl = cam.controls
            parms: dict[str, Any] = {
                "cmd": 101,
                "result": 0,
                "tz": 0,
                "time": int(time.time()),
                "icut": _SHIX_ICUT[ctrl.night_mode],
                "batValue": 87,
                "batStatus": 1,
                "sysver": "FAKECAM_PPPP_SHIX 1.0",
                "mcuver": "1.0.0.0",
                "sensor": "FAKE0640",
                "isShowIcutAuto": 1,
                "rotmir": ctrl.orientation_bits,
                "signal": 80,
                "lamp": int(ctrl.light),
            }
            if not cfg.battery:
                for key in ("batValue", "batStatus", "signal"):
                    del parms[key]
            self._send(sess, parms)
        elif cmd == 102:
            self._dev_control(sess, req)
        elif cmd == 128:
            value = req.get("value")
            if req.get("parms", 0) != 0 or not isinstance(value, int) or not 0 <= value <= 7:
                self._send(sess, {"cmd": 128, "result": -1})
                return
            move = _SHIX_PTZ[value // 2]
            if value % 2 == 0:
                cam.controls.ptz_start(*move)
            else:
                cam.controls.ptz_stop(pan=bool(move[0]), tilt=bool(move[1]))
            self._send(sess, {"cmd": 128, "result": 0})
        elif cmd == 111:
            video = req.get("video")
            if video in (1, 2):
                size = (cfg.width, cfg.height) if video == 1 else (320, 240)
                if not (sess.streaming and sess.resolution == size):
                    cam._start_stream(sess, size)
            elif video == 0:
                cam._stop_stream(sess)
            audio = req.get("audio")
            if audio == 1:
                cam._start_audio(sess)
            elif audio == 0:
                cam._stop_audio(sess)
            self._send(sess, {"cmd": 111, "result": 0})
        elif cmd in (106, 107, 108, 112, 113, 114, 199, 300, 304, 305, 9000):
            self._send(sess, {"cmd": cmd, "result": 0})
        elif cmd == 126:
            self._send(sess, {"cmd": 128, "result": 0})  # observed quirk (§6.2)
        else:
            self._send(sess, {"cmd": cmd, "result": -1})

    def _dev_control(self, sess: _Session, req: dict[str, Any]) -> None:
        cam = self.cam
        ctrl = cam.controls
        result = 0
        if "icut" in req:
            mode = {v: k for k, v in _SHIX_ICUT.items()}.get(req["icut"])
            if mode is None:
                result = -1
            else:
                ctrl.set_night(mode)
        if "lamp" in req:
            ctrl.light = bool(req["lamp"])
        self._send(sess, {"cmd": 102, "result": result})
        if req.get("reboot") == 1:
            cam._reboot_soon()


_SHIX_ICUT = {"off": 0, "on": 1, "auto": 2}
"""Emulator's reading of ``icut`` (aiopppp sends 1 = IR on, 0 = off; 2 = auto is a guess)."""
_SHIX_PTZ = ((0, 1), (0, -1), (-1, 0), (1, 0))
"""ptz_control value // 2: up, down, left, right (even = start, odd = stop)."""


class _IlnkHandler(_AppHandler):
    """iLnk binary (``11 0a`` + XqBytes, pppp.md §6.3)."""

    name = "ilnk"
    magic = ILNK_MAGIC
    header_size = 12
    default_password = "admin"  # noqa: S105 - public factory default
    audio_channel = CH_VIDEO
    audio_type = (AV_AUDIO, 0)  # 8 kHz A-law between the video frames (pppp.md §6.3)

    def audio_payload(self, sess: _Session, samples: list[int]) -> bytes:
        """G.711 A-law, one byte per sample."""
        return alaw_encode(samples)

    @staticmethod
    def message_size(buf: bytearray) -> int | None:
        (length,) = struct.unpack_from("<H", buf, 4)
        return None if length < 4 else 8 + length

    def _send(self, sess: _Session, cmd: int, data: bytes = b"", dest: int = 0) -> None:
        """Reply: 8-byte header + 4 plain bytes (zero) + XqBytes(data)."""
        body = b"\0\0\0\0" + xq_encode(data)
        self.cam._reply(sess, ILNK_MAGIC + struct.pack("<HHH", cmd, len(body), dest) + body)

    def handle(self, sess: _Session, msg: bytes) -> None:
        cmd, length, _dest = struct.unpack_from("<HHH", msg, 2)
        ticket = msg[8:12]
        data = xq_decode(msg[12 : 8 + length])
        cam = self.cam
        stats = cam.stats
        if self.intercept(sess, f"ilnk:{cmd:#06x}"):
            return
        cfg = cam.config
        if cmd == 0x1020:
            user = data[:32].split(b"\0", 1)[0].decode("utf-8", "replace")
            pwd = data[32:160].split(b"\0", 1)[0].decode("utf-8", "replace")
            if user == cfg.user and pwd == cfg.effective_password:
                stats.logins_ok += 1
                sess.logged_in = True
                sess.ticket = bytes(cam._rng.randrange(1, 256) for _ in range(4))
                self._send(sess, 0x1120, b"\0\0\0\0" + sess.ticket, dest=0x00FF)
            else:
                stats.logins_failed += 1
                stats.auth_failures += 1
                self._send(sess, 0x1120, struct.pack("<i", -1) + bytes(4), dest=0x00FF)
            return
        if cfg.ilnk_require_ticket and (not sess.logged_in or ticket != sess.ticket):
            stats.auth_failures += 1
            self._send(sess, (cmd + 0x100) & 0xFFFF, struct.pack("<i", -1))
            return
        ctrl = cam.controls
        if cmd == 0x1008:
            self._send(sess, 0x1108, self._status(), dest=0x55AA)
        elif cmd == 0x3018:
            if len(data) >= 8:
                ptype, value = struct.unpack_from("<II", data)
                if ptype == 1:
                    size = (320, 240) if value == 0 else (cfg.width, cfg.height)
                    if sess.streaming and size != sess.resolution:
                        cam._start_stream(sess, size)
                    sess.resolution = size
                elif ptype == 8:
                    ctrl.set_orientation(bool(value & 1), bool(value & 2))
            self._send(sess, 0x3118)
        elif cmd in (0x300A, 0x300B):
            on = bool(struct.unpack_from("<I", data)[0]) if len(data) >= 4 else None
            if cmd == 0x300A:
                ctrl.set_night(
                    ("off" if ctrl.night else "on") if on is None else ("on" if on else "off")
                )
            else:
                ctrl.light = (not ctrl.light) if on is None else on
            self._send(sess, cmd + 0x100, struct.pack("<i", 0))
        elif cmd == 0x50FF:
            self._send(sess, 0x51FF, struct.pack("<i", self._passthrough(data)))
        elif cmd == 0x1011:
            self._send(sess, 0x1111, struct.pack("<i", 0))
            cam._reboot_soon()
        elif cmd == 0x3010:
            cam._start_stream(sess, sess.resolution)
            self._send(sess, 0x3110)
        elif cmd == 0x3011:
            cam._stop_stream(sess)
            self._send(sess, 0x3111)
        elif cmd == 0x301A:
            stats.snapshots += 1
            self._send(sess, 0x311A)
            sess.handles.append(
                asyncio.get_running_loop().call_later(cfg.reply_delay * 2, cam._send_snapshot, sess)
            )
        else:
            self._send(sess, (cmd + 0x100) & 0xFFFF)

    def garble(self, sess: _Session, key: str) -> None:
        """The right reply command with 3 bytes of data (too short for anything)."""
        cmd = int(key.rsplit(":", 1)[1], 16)
        self._send(sess, (cmd + 0x100) & 0xFFFF, b"\x01\x02\x03")

    def _passthrough(self, data: bytes) -> int:
        """PTZ_SET inside PASSTHROUGH_STRING_PUT (aiopppp layout); returns the result."""
        if len(data) < 4 + 12 + 12:
            return -1
        magic, command, _length, _dest = struct.unpack_from(">4H", data, 4)
        ptype, direction, _ = struct.unpack_from(">III", data, 16)
        if magic != 0x010A or command != 0x5049 or ptype != 0:
            return -1
        ctrl = self.cam.controls
        if direction == 12:
            ctrl.ptz_stop()
        elif direction < 4:
            ctrl.ptz_start(*_SHIX_PTZ[direction])
        else:
            return -1
        return 0

    def _status(self) -> bytes:
        """124-byte SYSTEM_STATUS_GET reply (layout as parsed by aiopppp 0.2.3).

        Our reading of its fields: i32 @4 battery mV, i32 @16 Wi-Fi dBm, i32 @20
        power supply (charging), byte 93 IR-cut (see docs/protocol-notes.md).
        """
        battery = self.cam.config.battery
        return struct.pack(
            "<4s5i64s10B6s4s4s3I",
            bytes([1, 0, 0, 1]),
            3950 if battery else 0,
            0,
            0,
            -55 if battery else 0,
            1 if battery else 0,
            b"fakecam-ilnk",
            0,
            1,
            1,
            0,
            0,
            int(self.cam.controls.night),
            1,
            0,
            0,
            1,
            bytes.fromhex("02fa4ec0ffee"),
            bytes([127, 0, 0, 1]),
            bytes([255, 0, 0, 0]),
            0,
            0,
            0,
        )


class _H26xLoopHandler(_AppHandler):
    """A layer that streams H.264/H.265: one pre-encoded closed-GOP loop per size."""

    _loops: dict[tuple[int, int], tuple[Any, ...]]

    def video_codec(self) -> str:
        """``h264`` or ``h265``."""
        raise NotImplementedError

    def media_ready(self, size: tuple[int, int]) -> bool:
        return size in self._loops

    async def load(self, size: tuple[int, int]) -> None:
        from fakecam.h26x import encode_loop  # noqa: PLC0415 - needs av, only here

        w, h = size
        fps = max(1, round(self.cam.config.fps))
        self._loops[size] = await asyncio.to_thread(
            encode_loop, self.video_codec(), width=w, height=h, fps=fps, frames=2 * fps, gop=fps
        )

    def next_media(self, sess: _Session) -> _Media | None:
        loop = self._loops.get(sess.resolution)
        if not loop:
            return None
        frame = loop[sess.loop_pos % len(loop)]
        sess.loop_pos += 1
        return (AV_I_FRAME if frame.keyframe else AV_P_FRAME, frame.data, frame.keyframe)


class _VstarcamHandler(_H26xLoopHandler):
    """VStarcam / Eye4 CGI (``01 0a 00 00`` envelopes, pppp.md §6.4 and §8).

    ``GET /name.cgi?...&loginuse=U&loginpas=P&user=U&pwd=P&``; every call is
    checked, wrong credentials get ``var result=-1;`` (session kept open).
    ``livestream.cgi?streamid=10`` streams Annex-B H.264/H.265 (0x10 I / 0x11 P
    frames) on channel 1 for ``stream_seconds`` only, restarting the video index
    at 0 (quirk, on by default); ``streamid=16`` stops; ``snapshot.cgi`` answers
    with a JPEG on channel 0.
    """

    name = "vstarcam"
    magic = VSTARCAM_MAGIC
    default_password = "888888"  # noqa: S105 - public factory default
    restart_video_index = True
    audio_type = (AV_AUDIO, 1)  # type 0x06, sub-type 1 = IMA-ADPCM (pppp.md §6.7)

    def __init__(self, cam: PpppCamera) -> None:
        super().__init__(cam)
        self.stream_seconds = cam.config.stream_seconds
        self._loops: dict[tuple[int, int], tuple[Any, ...]] = {}

    @staticmethod
    def message_size(buf: bytearray) -> int | None:
        (length,) = struct.unpack_from("<I", buf, 4)
        return None if length > 64 * 1024 else 8 + length

    def _send(self, sess: _Session, body: bytes) -> None:
        self.cam._reply(sess, b"\x01\x0a\x00\x00" + struct.pack("<I", len(body)) + body)

    def _text(self, sess: _Session, values: dict[str, str | int]) -> None:
        lines = "".join(
            f'var {k}="{v}";\r\n' if isinstance(v, str) else f"var {k}={v};\r\n"
            for k, v in values.items()
        )
        self._send(sess, lines.encode())

    def handle(self, sess: _Session, msg: bytes) -> None:
        cam = self.cam
        stats = cam.stats
        cfg = cam.config
        text = msg[8:].rstrip(b"\0").decode("utf-8", "replace")
        if not text.startswith("GET /"):
            stats.garbage_rx += 1
            return
        path, _, query = text[5:].partition("?")
        params = dict(urllib.parse.parse_qsl(query.rstrip("&"), keep_blank_values=True))
        if self.intercept(sess, f"vstarcam:{path}"):
            return
        user = params.get("loginuse", params.get("user"))
        pwd = params.get("loginpas", params.get("pwd"))
        if user != cfg.user or pwd != cfg.effective_password:
            stats.auth_failures += 1
            if path in ("get_status.cgi", "check_user.cgi", "login.cgi"):
                stats.logins_failed += 1
            self._text(sess, {"result": -1})
            return
        if path == "get_status.cgi":
            stats.logins_ok += 1
            sess.logged_in = True
            self._text(
                sess,
                {
                    "result": 0,
                    "alias": "fakecam",
                    "deviceid": cam.config.duid,
                    "sys_ver": "48.60.64.187",
                    "app_version": "fakecam-vstarcam",
                    "now": int(time.time()),
                    "alarm_status": 0,
                    "upnp_status": 0,
                    "p2pstatus": 1,
                },
            )
        elif path in ("check_user.cgi", "login.cgi"):
            stats.logins_ok += 1
            sess.logged_in = True
            self._text(sess, {"result": 0, "current_users": len(cam._sessions)})
        elif path == "livestream.cgi":
            stream = params.get("streamid")
            if stream == "16":
                cam._stop_stream(sess)
            elif stream in ("10", "0", "1"):  # 10 = main stream (required on Eye4)
                cam._start_stream(sess, (cfg.width, cfg.height))
            self._text(sess, {"result": 0})
        elif path == "audiostream.cgi":
            stream = params.get("streamid")
            if stream == "16":
                cam._stop_audio(sess)
            elif stream in ("1", "10"):
                cam._start_audio(sess)
            self._text(sess, {"result": 0})
        elif path == "decoder_control.cgi":
            self._text(sess, {"result": self._decoder_control(params)})
        elif path == "camera_control.cgi":
            self._text(sess, {"result": self._camera_control(params)})
        elif path == "get_camera_params.cgi":
            ctrl = cam.controls
            self._text(
                sess,
                {
                    "result": 0,
                    "resolution": self.resolution_code,
                    "vbright": 128,
                    "vcontrast": 128,
                    "flip": ctrl.orientation_bits,
                    "ircut": int(ctrl.night),
                },
            )
        elif path == "reboot.cgi":
            self._text(sess, {"result": 0})
            cam._reboot_soon()
        elif path == "snapshot.cgi":
            stats.snapshots += 1
            if not cfg.snapshot:
                self._text(sess, {"result": -2})  # assumed "not supported" answer
                return
            task = asyncio.get_running_loop().create_task(self._snapshot(sess))
            cam._bg.add(task)
            task.add_done_callback(cam._bg.discard)
        else:
            self._text(sess, {"result": 0})

    resolution_code = 32
    """camera_control.cgi param 0 value (state only: the H.264 loop keeps its size)."""

    def _decoder_control(self, params: dict[str, str]) -> int:
        try:
            command = int(params.get("command", ""))
        except ValueError:
            return -1
        if not 0 <= command <= 7:
            return -1
        ctrl = self.cam.controls
        move = _SHIX_PTZ[command // 2]
        if command % 2:
            ctrl.ptz_stop(pan=bool(move[0]), tilt=bool(move[1]))
            return 0
        ctrl.ptz_start(*move)
        if params.get("onestep") == "1":
            ctrl.ptz_stop()
        return 0

    def _camera_control(self, params: dict[str, str]) -> int:
        try:
            param, value = int(params.get("param", "")), int(params.get("value", ""))
        except ValueError:
            return -1
        ctrl = self.cam.controls
        if param == 0 and value in (8, 32):
            self.resolution_code = value
        elif param == 5 and 0 <= value <= 3:
            ctrl.set_orientation(bool(value & 1), bool(value & 2))
        elif param == 14 and value in (0, 1):
            ctrl.set_night("on" if value else "off")
        elif param not in (1, 2, 3):  # brightness, contrast, 50/60 Hz: accepted, ignored
            return -1
        return 0

    def garble(self, sess: _Session, key: str) -> None:
        """A reply whose text has no ``key=value`` at all."""
        self._send(sess, b"\x00?!#%\x01")

    async def _snapshot(self, sess: _Session) -> None:
        cam = self.cam
        size = (cam.config.width, cam.config.height)
        src = cam._frames.get(size)
        if src is None:
            cfg = cam.config
            src = cam._frames[size] = await _frame_source(*size, cfg.seed, cfg.motion, cfg.fps)
        if cam._sessions.get(sess.addr) is sess:
            self._send(sess, src.next_frame())

    def video_codec(self) -> str:
        return self.cam.config.codec


LOOKCAM_MAGIC = b"\xa0\xaf\xaf\xaf"
LOOKCAM_TRAILER = b"\xf4\xf3\xf2\xf1"
LOOKCAM_MEDIA_MAGIC = b"\x01\xaf\xaf\xaf"
LOOKCAM_MEDIA_HEADER = 83
CH_LOOKCAM_CMD = 1
CH_LOOKCAM_MEDIA = 0


def lookcam_frame(obj: dict[str, Any], *, tz_hours: int = 0, stamp: int | None = None) -> bytes:
    """LookCam command framing (pppp.md §6.5): 26-byte header, JSON, ``f4 f3 f2 f1``."""
    body = json.dumps(obj, separators=(",", ":")).encode()
    if stamp is None:
        stamp = int(time.time()) + tz_hours * 3600
    head = LOOKCAM_MAGIC + struct.pack("<Bbq8xI", 0, tz_hours, stamp, len(body))
    return head + body + LOOKCAM_TRAILER


class _LookcamHandler(_H26xLoopHandler):
    """LookCam JSON (``a0 af af af``, pppp.md §6.5).

    Commands on channel 1: 26-byte header (magic, 0, tz hours, i64 LE local
    time, 8 zero bytes, u32 LE JSON length), JSON, trailer ``f4 f3 f2 f1``;
    replies framed the same way on channel 1 (header size knob: the seed says
    the device prefix is 25 bytes). ``LoginDev`` -> ``result``/``connectNum``
    (password not checked unless ``lookcam_check_password``), ``GetDevInfo``,
    ``OpenVideo`` ``state`` 1/2 start, 0 stop (no JSON reply). Media on channel
    0: an 83-byte header ``01 af af af`` + zeros (its fields are not publicly
    documented) and one Annex-B access unit (HEVC by default).
    """

    name = "lookcam"
    magic = LOOKCAM_MAGIC
    header_size = 26
    default_password = "123456"  # noqa: S105 - not enforced by the firmware (§6.5)
    video_channel = CH_LOOKCAM_MEDIA

    def __init__(self, cam: PpppCamera) -> None:
        super().__init__(cam)
        self._loops: dict[tuple[int, int], tuple[Any, ...]] = {}
        self._connects = 0

    @staticmethod
    def message_size(buf: bytearray) -> int | None:
        (length,) = struct.unpack_from("<I", buf, 22)
        return None if length > 64 * 1024 else 26 + length + 4

    def _send(self, sess: _Session, obj: dict[str, Any]) -> None:
        raw = lookcam_frame(obj)
        if self.cam.config.lookcam_reply_header == 25:
            raw = raw[:21] + raw[22:]  # 25-byte variant: one zero pad byte fewer
        self.cam._reply(sess, raw, channel=CH_LOOKCAM_CMD)

    def handle(self, sess: _Session, msg: bytes) -> None:
        cam = self.cam
        stats = cam.stats
        cfg = cam.config
        if msg[-4:] != LOOKCAM_TRAILER:
            stats.garbage_rx += 1
            return
        try:
            req = json.loads(msg[26:-4].decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            stats.garbage_rx += 1
            return
        if not isinstance(req, dict):
            stats.garbage_rx += 1
            return
        cmd = req.get("cmd")
        stats.commands.append(f"lookcam:{cmd}")
        if cmd == "LoginDev":
            if cfg.lookcam_check_password and req.get("pwd") != cfg.effective_password:
                stats.logins_failed += 1
                stats.auth_failures += 1
                self._send(sess, {"cmd": "LoginDev", "result": -1})
                return
            stats.logins_ok += 1
            sess.logged_in = True
            self._connects += 1
            self._send(
                sess,
                {
                    "cmd": "LoginDev",
                    "result": 0,
                    "connectNum": self._connects,
                    "devtype": 1,
                    "audioType": 1,
                    "SampleRate": 8000,
                    "csType": 0,
                },
            )
        elif cmd == "GetDevInfo":
            self._send(
                sess,
                {
                    "cmd": "GetDevInfo",
                    "result": 0,
                    "devId": cfg.duid,
                    "version": "FAKECAM_LOOKCAM 1.0",
                    "wifiName": "fakecam",
                    "wifiSignal": 100,
                    "ledState": 0,
                },
            )
        elif cmd == "OpenVideo":
            state = req.get("state")
            if state in (1, 2):
                cam._start_stream(sess, (cfg.width, cfg.height))
            elif state == 0:
                cam._stop_stream(sess)
        elif cmd in ("LevelFlip", "VerticalFlip", "SetLed", "SetDevVideoInfo"):
            pass  # no JSON reply (pppp.md §6.5 sources)
        elif cmd == "AppointDev":
            self._send(sess, {"cmd": "AppointDev", "result": 0, "state": 0})
        else:
            self._send(sess, {"cmd": cmd, "result": 0})

    def media_header(self, ftype: int, length: int, counter: int, now: float) -> bytes:
        return LOOKCAM_MEDIA_MAGIC + bytes(LOOKCAM_MEDIA_HEADER - 4)

    def video_codec(self) -> str:
        return self.cam.config.lookcam_codec


_HANDLERS: dict[str, type[_AppHandler]] = {
    h.name: h for h in (_ShixHandler, _IlnkHandler, _VstarcamHandler, _LookcamHandler)
}
"""Application-layer handlers by layer name."""


# --- the camera ------------------------------------------------------------------------


class PpppCamera:
    """An emulated PPPP camera; ``async with PpppCamera(cfg) as cam: ...``."""

    def __init__(self, config: PpppCameraConfig | None = None) -> None:
        """Prepare (not start) a camera."""
        self.config = config or PpppCameraConfig()
        self.stats = PpppStats()
        self.silent = False
        self.did = did_to_bytes(self.config.duid)
        self.sent_frames: deque[bytes] = deque(maxlen=256)
        self._key = effective_key(self.config.encrypt) if self.config.encrypt else None
        self._rng = random.Random(self.config.seed)
        self._sessions: dict[tuple[str, int], _Session] = {}
        self._disc: asyncio.DatagramTransport | None = None
        self._sess: asyncio.DatagramTransport | None = None
        self._task: asyncio.Task[None] | None = None
        self._held: tuple[tuple[str, int], bytes] | None = None
        self._held_handle: asyncio.TimerHandle | None = None
        self._frames: dict[tuple[int, int], _FrameSourceLike] = {}
        self._bg: set[asyncio.Task[None]] = set()
        handler = _HANDLERS.get(self.config.app_layer)
        if handler is None:
            raise ValueError(f"unknown app layer {self.config.app_layer!r}")
        self._handlers = [cls(self) for cls in _HANDLERS.values()]
        self._app = next(h for h in self._handlers if h.name == handler.name)
        restart = self.config.restart_video_index
        self._restart_video_index = handler.restart_video_index if restart is None else restart
        self._clock0 = time.time()
        self._mono0 = time.monotonic()
        self.controls = CameraControls(self.config.width, self.config.height, dark=self.config.dark)
        """PTZ / IR / light / flip state and the picture they give (fakecam.controls)."""
        self.reboots = 0
        """Reboot commands obeyed."""

    # -- lifecycle

    @property
    def port(self) -> int:
        """Bound discovery port."""
        assert self._disc is not None, "camera not started"
        return int(self._disc.get_extra_info("sockname")[1])

    @property
    def session_port(self) -> int:
        """Bound session port (changes on :meth:`reboot`)."""
        assert self._sess is not None, "camera not started"
        return int(self._sess.get_extra_info("sockname")[1])

    @property
    def discovery_target(self) -> tuple[str, int]:
        """``(host, port)`` to send LAN_SEARCH to."""
        return (self.config.host, self.port)

    @property
    def clients(self) -> list[tuple[str, int]]:
        """Addresses of the open sessions."""
        return list(self._sessions)

    @property
    def streaming(self) -> bool:
        """True while at least one session receives video."""
        return any(s.streaming for s in self._sessions.values())

    async def start(self) -> None:
        """Bind the sockets and start the housekeeping task."""
        cfg = self.config
        if not cfg.allow_non_loopback and not _is_loopback(cfg.host):
            raise ValueError(f"refusing non-loopback host {cfg.host!r}")
        loop = asyncio.get_running_loop()
        await self._app.load((cfg.width, cfg.height))
        self._disc, _ = await loop.create_datagram_endpoint(
            lambda: _Endpoint(self._on_discovery), local_addr=(cfg.host, cfg.port)
        )
        await self._open_session_socket()
        self._task = asyncio.create_task(self._housekeeping(), name="pppp-fakecam")

    async def _open_session_socket(self) -> None:
        loop = asyncio.get_running_loop()
        self._sess, _ = await loop.create_datagram_endpoint(
            lambda: _Endpoint(self._on_session), local_addr=(self.config.host, 0)
        )

    async def stop(self) -> None:
        """Stop everything (no CLOSE is sent)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for sess in list(self._sessions.values()):
            self._forget(sess)
        for task in list(self._bg):
            task.cancel()
        if self._held_handle is not None:
            self._held_handle.cancel()
        for tr in (self._disc, self._sess):
            if tr is not None:
                tr.close()
        self._disc = self._sess = None

    async def reboot(self, downtime: float = 0.2) -> None:
        """Drop all sessions silently, go dark, come back with a new session port."""
        for sess in list(self._sessions.values()):
            self._forget(sess)
        if self._sess is not None:
            self._sess.close()
            self._sess = None
        await asyncio.sleep(downtime)
        await self._open_session_socket()

    def _reboot_soon(self) -> None:
        """A reboot command: answer first, then drop every session and reset the controls."""
        self.reboots += 1

        async def _go() -> None:
            await asyncio.sleep(self.config.reply_delay * 3)
            self.controls.reset()
            await self.reboot()

        task = asyncio.get_running_loop().create_task(_go())
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def close_sessions(self) -> None:
        """Send CLOSE to every client (mid-stream hang-up) and forget them."""
        for sess in list(self._sessions.values()):
            self._send(sess.addr, packet(T_CLOSE))
            self.stats.closes_tx += 1
            self._forget(sess)
            self.stats.sessions_closed += 1

    async def __aenter__(self) -> Self:
        """Start on entry."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop on exit."""
        await self.stop()

    # -- sending

    def _send(self, addr: tuple[str, int], raw: bytes) -> None:
        if self.silent or self._sess is None:
            return
        if not self.config.allow_non_loopback and not _is_loopback(addr[0]):
            return
        self._sess.sendto(encrypt(raw, self._key) if self._key else raw, addr)

    def _send_impaired(self, addr: tuple[str, int], raw: bytes) -> None:
        cfg = self.config
        if cfg.loss and self._rng.random() < cfg.loss:
            self.stats.impaired_drops += 1
            return
        copies = 1
        if cfg.dup and self._rng.random() < cfg.dup:
            self.stats.impaired_dups += 1
            copies = 2
        if cfg.reorder and self._held is None and self._rng.random() < cfg.reorder:
            self.stats.impaired_reorders += 1
            self._held = (addr, raw)
            self._held_handle = asyncio.get_running_loop().call_later(0.03, self._flush_held)
            return
        for _ in range(copies):
            self._send(addr, raw)
        self._flush_held()

    def _flush_held(self) -> None:
        if self._held is not None:
            addr, raw = self._held
            self._held = None
            self._send(addr, raw)
        if self._held_handle is not None:
            self._held_handle.cancel()
            self._held_handle = None

    def _send_ack(self, addr: tuple[str, int], channel: int, index: int) -> None:
        self.stats.acks_tx += 1
        raw = drw_ack_packet(channel, [index])
        if self.config.impair_acks:
            self._send_impaired(addr, raw)
        else:
            self._send(addr, raw)

    def _send_rdy(self, sess: _Session, copies: int) -> None:
        raw = packet(T_P2P_RDY, self.did)
        loop = asyncio.get_running_loop()
        for i in range(copies):
            if i == 0:
                self._send(sess.addr, raw)
            else:
                sess.handles.append(loop.call_later(0.01 * i, self._send, sess.addr, raw))
            self.stats.rdys_tx += 1

    def _send_drw(self, sess: _Session, channel: int, payload: bytes) -> None:
        """Queue + send application bytes on a channel, cut into <= 1024-byte DRWs."""
        chan = sess.channel(channel, self.config.start_index)
        now = time.monotonic()
        for off in range(0, max(len(payload), 1), MAX_DRW_PAYLOAD):
            chunk = payload[off : off + MAX_DRW_PAYLOAD]
            idx = chan.next_out
            chan.next_out = (idx + 1) & 0xFFFF
            raw = drw_packet(channel, idx, chunk)
            chan.inflight[idx] = _Pending(raw, now, now)
            self.stats.drw_tx += 1
            self._send_impaired(sess.addr, raw)

    def _reply(self, sess: _Session, payload: bytes, channel: int = CH_CMD) -> None:
        """Send a command reply after ``reply_delay`` (never in the ACK's tick)."""
        loop = asyncio.get_running_loop()

        def _go() -> None:
            if self._sessions.get(sess.addr) is sess:
                self._send_drw(sess, channel, payload)

        sess.handles.append(loop.call_later(self.config.reply_delay, _go))

    # -- receiving

    def _decode(self, data: bytes) -> tuple[int, bytes] | None:
        """Decrypt + validate framing; return (type, body) or None."""
        if self._key:
            data = decrypt(data, self._key)
        if len(data) < 4 or data[0] != MAGIC:
            self.stats.garbage_rx += 1
            return None
        ptype, length = data[1], struct.unpack_from(">H", data, 2)[0]
        if len(data) < 4 + length or (self.config.strict and len(data) != 4 + length):
            self.stats.garbage_rx += 1
            return None
        return ptype, data[4 : 4 + length]

    def _on_discovery(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.silent:
            return
        decoded = self._decode(data)
        if decoded is None:
            if self.config.answer_any_search:
                self._answer_search(addr)
            return
        ptype, _ = decoded
        if ptype == T_LAN_SEARCH:
            self._answer_search(addr)
        elif ptype == T_LAN_SEARCH_EXT and self.config.lan_search_ext:
            self.stats.searches += 1
            self._send(addr, packet(T_LAN_SEARCH_EXT_ACK, self.did + bytes(32)))
            self.stats.punch_replies += 1
        else:
            self.stats.stray_rx += 1

    def _answer_search(self, addr: tuple[str, int]) -> None:
        self.stats.searches += 1
        if self._sess is None:
            return
        raw = packet(T_PUNCH_PKT, self.did)
        if self.config.punch_magic != MAGIC:
            raw = bytes((self.config.punch_magic & 0xFF,)) + raw[1:]
        self._send(addr, raw)
        self.stats.punch_replies += 1

    def _did_matches(self, body: bytes) -> bool:
        if len(body) < 20:
            return False
        # compare prefix (8), serial (4), check code (8) like the CS2 device
        return body[:20] == self.did

    def _on_session(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.silent:
            return
        decoded = self._decode(data)
        if decoded is None:
            return
        ptype, body = decoded
        now = time.monotonic()
        sess = self._sessions.get(addr)
        if sess is not None:
            sess.last_rx = now
            sess.alive_misses = 0
        if ptype == T_LAN_SEARCH:
            self._answer_search(addr)
        elif ptype in (T_PUNCH_PKT, T_P2P_RDY):
            self._on_punch(ptype, body, addr, sess, now)
        elif sess is None:
            self.stats.stray_rx += 1
        elif ptype == T_DRW:
            self._on_drw(sess, body)
        elif ptype == T_DRW_ACK:
            self._on_ack(sess, body, now)
        elif ptype == T_ALIVE:
            self.stats.alive_rx += 1
            self.stats.alive_ack_tx += 1
            self._send(addr, packet(T_ALIVE_ACK))
        elif ptype == T_ALIVE_ACK:
            self.stats.alive_ack_rx += 1
        elif ptype == T_CLOSE:
            self.stats.closes_rx += 1
            self.stats.sessions_closed += 1
            self._forget(sess)
        else:
            self.stats.stray_rx += 1

    def _on_punch(
        self, ptype: int, body: bytes, addr: tuple[str, int], sess: _Session | None, now: float
    ) -> None:
        if ptype == T_PUNCH_PKT:
            self.stats.punches_rx += 1
        else:
            self.stats.rdys_rx += 1
        if not self._did_matches(body) or (self.config.strict and len(body) != 20):
            self.stats.did_mismatch += 1
            return
        if sess is not None:  # retry from an established client: one more RDY
            self._send_rdy(sess, 1)
            return
        if len(self._sessions) >= self.config.max_clients:
            self.stats.sessions_refused += 1
            return
        sess = _Session(addr=addr, created=now, last_rx=now, last_alive_tx=now)
        sess.loop_pos = self.config.gop_offset
        sess.resolution = (self.config.width, self.config.height)
        self._sessions[addr] = sess
        self.stats.sessions_opened += 1
        self._send_rdy(sess, 4)

    def _on_drw(self, sess: _Session, body: bytes) -> None:
        if len(body) < 4:
            self.stats.garbage_rx += 1
            return
        marker, channel, index = struct.unpack_from(">BBH", body)
        if channel >= 8 or (self.config.strict and marker != DRW_MARKER):
            self.stats.garbage_rx += 1
            return
        self.stats.drw_rx += 1
        self._send_ack(sess.addr, channel, index)
        chan = sess.channel(channel)
        diff = _sdiff(index, chan.expected_in)
        if diff < 0 or index in chan.ooo:
            self.stats.drw_dup_rx += 1
            return
        if diff > 0:
            self.stats.drw_ooo_rx += 1
            if len(chan.ooo) < 512:
                chan.ooo[index] = body[4:]
            return
        chan.stream += body[4:]
        chan.expected_in = (chan.expected_in + 1) & 0xFFFF
        while chan.expected_in in chan.ooo:
            chan.stream += chan.ooo.pop(chan.expected_in)
            chan.expected_in = (chan.expected_in + 1) & 0xFFFF
        self._parse_app(sess, chan)

    def _on_ack(self, sess: _Session, body: bytes, now: float) -> None:
        if len(body) < 4:
            self.stats.garbage_rx += 1
            return
        marker, channel, count = struct.unpack_from(">BBH", body)
        if marker not in (0xD1, 0xD2) or (self.config.strict and marker != DRW_MARKER):
            self.stats.garbage_rx += 1
            return
        if (self.config.strict and count >= 82) or len(body) < 4 + 2 * count:
            self.stats.garbage_rx += 1
            return
        self.stats.acks_rx += 1
        chan = sess.channels.get(channel)
        if chan is None:
            return
        newest: int | None = None
        for (idx,) in struct.iter_unpack(">H", body[4 : 4 + 2 * count]):
            if chan.inflight.pop(idx, None) is not None:
                self.stats.acked_indices += 1
            if newest is None or _sdiff(idx, newest) > 0:
                newest = idx
        if newest is None:
            return
        # fast retransmit: older unacked DRWs that have been out for a while
        for idx, pend in list(chan.inflight.items())[:16]:
            if _sdiff(idx, newest) < 0 and now - pend.sent_at > 0.1:
                self._retransmit(sess, pend, now)

    def _retransmit(self, sess: _Session, pend: _Pending, now: float) -> None:
        pend.sent_at = now
        pend.tries += 1
        self.stats.drw_retx += 1
        self._send_impaired(sess.addr, pend.raw)

    def _forget(self, sess: _Session) -> None:
        for h in sess.handles:
            h.cancel()
        sess.handles.clear()
        sess.streaming = False
        sess.audio = False
        self._sessions.pop(sess.addr, None)

    # -- application layers (one handler per layer, see _HANDLERS)

    def _parse_app(self, sess: _Session, chan: _Channel) -> None:
        buf = chan.stream
        if self.config.app_magic is not None:
            # An app layer nobody knows: answer anything with our own magic.
            if buf:
                number = next(n for n, c in sess.channels.items() if c is chan)
                self.stats.commands.append(f"unknown:{bytes(buf[:4]).hex()}")
                buf.clear()
                self._reply(sess, self.config.app_magic + bytes(12), channel=number)
            return
        handlers = self._handlers
        while len(buf) >= 8:
            handler = next((h for h in handlers if buf.startswith(h.magic)), None)
            if handler is None:  # resync on the next known magic
                nxt = [p for h in handlers if (p := buf.find(h.magic, 1)) > 0]
                self.stats.garbage_rx += 1
                del buf[: min(nxt) if nxt else len(buf) - 1]
                continue
            if len(buf) < handler.header_size:
                return
            size = handler.message_size(buf)
            if size is None:
                del buf[:2]
                continue
            if len(buf) < size:
                return
            msg = bytes(buf[:size])
            del buf[:size]
            if handler is self._app:
                handler.handle(sess, msg)
            else:
                self.stats.stray_rx += 1

    # -- video

    def _start_stream(self, sess: _Session, size: tuple[int, int]) -> None:
        self.stats.stream_starts += 1
        if self._restart_video_index:
            sess.channels.pop(CH_VIDEO, None)
        sess.resolution = size
        seconds = self._app.stream_seconds
        sess.stream_until = time.monotonic() + seconds if seconds else 0.0
        if not sess.streaming:
            sess.streaming = True
            sess.next_frame_at = time.monotonic() + self.config.reply_delay * 2
        self._load_media(size)

    def _load_media(self, size: tuple[int, int]) -> None:
        if self._app.media_ready(size):
            return

        async def _load() -> None:
            await self._app.load(size)

        task = asyncio.get_running_loop().create_task(_load())
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    def _stop_stream(self, sess: _Session) -> None:
        if sess.streaming:
            self.stats.stream_stops += 1
        sess.streaming = False

    def _send_frame(self, sess: _Session) -> bool:
        media = self._app.next_media(sess)
        if media is None:
            return False
        ftype, data, keyframe = media
        video_ch = self._app.video_channel
        chan = sess.channel(video_ch, self.config.start_index)
        needed = (len(data) + 32 + MAX_DRW_PAYLOAD - 1) // MAX_DRW_PAYLOAD
        if sess.need_key and not keyframe:
            self.stats.frames_skipped += 1
            return False
        if len(chan.inflight) + needed > MAX_INFLIGHT:
            self.stats.frames_skipped += 1
            sess.need_key = True  # an encoder restarts its GOP after a dropped frame
            return False
        sess.need_key = False
        counter = 0 if ftype in (AV_I_FRAME, AV_P_FRAME) else sess.frame_no  # VStarcam: reserved
        header = self._app.media_header(ftype, len(data), counter, self._camera_clock())
        sess.frame_no += 1
        self._send_drw(sess, video_ch, header + data)
        self.sent_frames.append(data)
        self.stats.frames_sent += 1
        return True

    # -- audio

    def _start_audio(self, sess: _Session) -> None:
        if self._app.audio_type is None or not self.config.audio:
            return
        self.stats.audio_starts += 1
        if not sess.audio:
            sess.audio = True
            sess.tone = ToneSource(self.config.tone_hz)
            sess.audio_frame_no = 0
            sess.next_audio_at = time.monotonic() + self.config.reply_delay * 2

    def _stop_audio(self, sess: _Session) -> None:
        if sess.audio:
            self.stats.audio_stops += 1
        sess.audio = False

    def _audio_on(self, sess: _Session) -> bool:
        """iLnk cameras send audio with the video (``ilnk_audio``); the others when asked."""
        if self._app.name == "ilnk":
            return sess.streaming and self.config.ilnk_audio and self.config.audio
        return sess.audio

    def _send_audio(self, sess: _Session) -> None:
        app = self._app
        if app.audio_type is None:
            return
        if sess.tone is None:
            sess.tone = ToneSource(self.config.tone_hz)
        chan = sess.channel(app.audio_channel, self.config.start_index)
        if len(chan.inflight) + 1 > MAX_INFLIGHT:
            self.stats.audio_frames_skipped += 1
            sess.tone.next(AUDIO_SAMPLES)
            return
        data = app.audio_payload(sess, sess.tone.next(AUDIO_SAMPLES))
        ftype, subtype = app.audio_type
        header = av_header(ftype, len(data), sess.audio_frame_no, self._camera_clock(), subtype)
        sess.audio_frame_no += 1
        self._send_drw(sess, app.audio_channel, header + data)
        self.stats.audio_frames_sent += 1

    def _camera_clock(self) -> float:
        """Camera wall clock (never steps back during a run)."""
        return self._clock0 + time.monotonic() - self._mono0

    def _send_snapshot(self, sess: _Session) -> None:
        if self._sessions.get(sess.addr) is sess:
            self._send_frame(sess)

    # -- timers

    async def _housekeeping(self) -> None:
        tick = 0.02
        while True:
            await asyncio.sleep(tick)
            if self.silent:
                continue
            now = time.monotonic()
            for sess in list(self._sessions.values()):
                self._tick_session(sess, now)

    def _tick_session(self, sess: _Session, now: float) -> None:
        cfg = self.config
        if now - sess.last_rx > cfg.silence_timeout:
            _LOGGER.debug("pppp fakecam: %s silent, dropping", sess.addr)
            self.stats.sessions_timed_out += 1
            self._forget(sess)
            return
        if now - sess.last_rx >= cfg.alive_interval and now - sess.last_alive_tx >= (
            cfg.alive_interval
        ):
            sess.last_alive_tx = now
            sess.alive_misses += 1
            self.stats.alive_tx += 1
            self._send(sess.addr, packet(T_ALIVE))
            if sess.alive_misses >= 2:
                self._send_rdy(sess, 1)
        for chan in sess.channels.values():
            budget = 32
            for pend in list(chan.inflight.values()):
                if budget <= 0:
                    break
                rto = cfg.retransmit_timeout * (1 if pend.tries < 3 else 2)
                if now - pend.sent_at >= rto:
                    self._retransmit(sess, pend, now)
                    budget -= 1
        if sess.streaming and sess.stream_until and now >= sess.stream_until:
            sess.streaming = False  # VStarcam: only a few seconds per request (§6.4)
            self.stats.stream_expired += 1
        if self._audio_on(sess):
            if not sess.next_audio_at:
                sess.next_audio_at = now
            period = AUDIO_SAMPLES / AUDIO_RATE
            for _ in range(4):  # catch up after a slow tick, at most 4 frames at once
                if now < sess.next_audio_at:
                    break
                sess.next_audio_at = max(sess.next_audio_at + period, now - period)
                self._send_audio(sess)
        if sess.streaming and cfg.fps > 0 and now >= sess.next_frame_at:
            period = 1.0 / cfg.fps
            sess.next_frame_at = max(sess.next_frame_at + period, now - period)
            self._send_frame(sess)


# --- CLI -------------------------------------------------------------------------------

DEFAULT_DUIDS = {"vstarcam": "VSTC-123456-ABCDE"}
"""Device IDs the CLI uses per app layer when ``--duid`` is not given (a VSTC
prefix is a plaintext VStarcam network: clients identify it by prefix)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``python -m fakecam pppp`` options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="discovery port")
    parser.add_argument(
        "--duid", default=None, help="device id (default: a VSTC id for vstarcam, else ABCD)"
    )
    parser.add_argument("--encrypt", metavar="KEY", default=None, help="CS2 PSK, e.g. camera")
    parser.add_argument("--app", choices=sorted(_HANDLERS), default=None)
    parser.add_argument("--user", default="admin")
    parser.add_argument(
        "--password", default=None, help="default: shix 6666, ilnk admin, vstarcam 888888"
    )
    parser.add_argument("--codec", choices=["h264", "h265"], default="h264", help="vstarcam video")
    parser.add_argument("--size", default="640x480", help="picture size WxH, e.g. 1280x720")
    parser.add_argument(
        "--stream-seconds", type=float, default=3.0, help="vstarcam: video per livestream.cgi"
    )
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--motion", action="store_true", help="JPEG: scripted motion scenario")
    parser.add_argument("--loss", type=float, default=0.0, help="outgoing DRW loss probability")
    parser.add_argument("--dup", type=float, default=0.0, help="outgoing DRW duplication prob.")
    parser.add_argument("--reorder", type=float, default=0.0, help="outgoing DRW reorder prob.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-clients", type=int, default=1)
    parser.add_argument("--silence-timeout", type=float, default=7.0)
    parser.add_argument("--strict", action="store_true", help="drop sloppy datagrams")
    parser.add_argument("--allow-non-loopback", action="store_true")
    parser.add_argument(
        "--lookcam-codec", choices=["h264", "h265"], default="h265", help="lookcam video"
    )
    parser.add_argument(
        "--answer-any-search",
        action="store_true",
        help="answer searches that do not decrypt with --encrypt (unknown-PSK camera)",
    )
    parser.add_argument(
        "--app-magic", metavar="HEX", default=None, help="answer with an unknown app magic"
    )
    parser.add_argument("--lan-search-ext", action="store_true", help="answer iLnk 0x32")
    parser.add_argument("--tone-hz", type=float, default=TONE_HZ, help="audio test tone")
    parser.add_argument("--no-audio", action="store_true", help="no microphone")
    parser.add_argument("--ilnk-audio", action="store_true", help="ilnk: A-law with the video")


def config_from_args(args: argparse.Namespace) -> PpppCameraConfig:
    """Build a :class:`PpppCameraConfig` from parsed CLI arguments."""
    width, _, height = str(args.size).lower().partition("x")
    return PpppCameraConfig(
        width=int(width),
        height=int(height),
        codec=args.codec,
        stream_seconds=args.stream_seconds,
        host=args.host,
        port=args.port,
        duid=args.duid or DEFAULT_DUIDS.get(args.app or "", "ABCD-123456-VWXYZ"),
        encrypt=args.encrypt or None,
        app=args.app,
        user=args.user,
        password=args.password,
        fps=args.fps,
        loss=args.loss,
        dup=args.dup,
        reorder=args.reorder,
        seed=args.seed,
        max_clients=args.max_clients,
        silence_timeout=args.silence_timeout,
        strict=args.strict,
        allow_non_loopback=args.allow_non_loopback,
        motion=MotionScript() if getattr(args, "motion", False) else None,
        lookcam_codec=getattr(args, "lookcam_codec", "h265"),
        answer_any_search=getattr(args, "answer_any_search", False),
        app_magic=bytes.fromhex(args.app_magic) if getattr(args, "app_magic", None) else None,
        lan_search_ext=getattr(args, "lan_search_ext", False),
        tone_hz=getattr(args, "tone_hz", TONE_HZ),
        audio=not getattr(args, "no_audio", False),
        ilnk_audio=getattr(args, "ilnk_audio", False),
    )


async def run_cli(args: argparse.Namespace) -> None:
    """Run the camera until cancelled (Ctrl-C)."""
    cfg = config_from_args(args)
    if not cfg.allow_non_loopback and not _is_loopback(cfg.host):
        raise SystemExit(f"refusing host {cfg.host}: not in 127.0.0.0/8 (--allow-non-loopback)")
    async with PpppCamera(cfg) as cam:
        print(
            f"pppp camera {cfg.duid} app={cfg.app_layer} encrypt={cfg.encrypt or '-'} "
            f"user={cfg.user} password={cfg.effective_password} "
            f"discovery={cfg.host}:{cam.port} session={cfg.host}:{cam.session_port}",
            flush=True,
        )
        await asyncio.Event().wait()
