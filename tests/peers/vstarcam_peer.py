"""An independently written VStarcam/Eye4 PPPP camera, built only from ``pppp.md``.

It exists to check the chinesium PPPP client against something other than
``fakecam``: it was written from the spec alone (transport §1-§5, VStarcam CGI
layer §6.4, frame header §6.7, emulator checklist §8). Where the spec leaves
latitude it picks the *less* obvious legal choice, so brittle clients break here
first:

* **DID** ``VSTJ-002961-ZTPRW``: a prefix that uses the ``vstarcam2019`` PSK
  (§5.2), a serial with leading zeros, a check code without A/I/O/Q (§2.3).
* **Two sockets**: LAN_SEARCH is only answered on the search socket
  (:attr:`VStarcamPeer.port`, 32108 on a real camera); the PUNCH_PKT answer
  and *everything* after it come from a separate ephemeral session socket
  (:attr:`VStarcamPeer.session_port`). Handshake packets sent to the search
  port are ignored, like the CS2 search thread does.
* **P2P_RDY**: a matching PUNCH_PKT gets 4 copies 10 ms apart (CS2 device); a
  matching P2P_RDY gets one P2P_RDY back (iLnk style). A client that sends
  both sees 5 RDYs per round. A wrong DID gets nothing.
* **DRW payload size 1000** (not the usual 1024; ``chunk``). Each video frame
  still starts a new DRW (§6.7), but text replies are cut *after 24 bytes of
  text* so even a short reply spans two DRWs (§6.4 "long replies continue in
  further DRWs without a new header"; ``split_replies``).
* **Batched DRW_ACKs**: received indices are collected per channel and flushed
  after 20 ms or once 16 are pending (Eye4/CS2 style), so the text reply to a
  command usually arrives *before* the DRW_ACK for it (``ack_delay``).
* **Retransmission** with the same index: unacked DRWs are re-sent after
  ``rto`` (0.5 s), at most 16 per channel per 100 ms tick, plus one fast
  retransmit when a later index is acknowledged; at most 128 DRWs in flight per
  channel, the rest wait in a queue.
* **Indices** start at 0 per channel and direction (§4.1 says so; a non-zero
  start is *not* legal there, so it is only the ``index_start`` knob, e.g.
  0xFFF0 to test wrap-around). ``restart_video_index`` imitates the VStarcam
  firmware quirk of §4.1 (video index back to 0 on every ``livestream.cgi``
  that starts a burst; a request during a burst only extends it).
* **Reply envelopes** are ``01 0a a5 01`` + u32 LE length: bytes 2-3 are
  non-zero (§6.4 only says "2 bytes"). Text lines are ``var key=value;\\r\\n``
  with string values in double quotes (as VStarcam CGI text has them) and
  ``result=0`` is *not* the first line of ``get_status.cgi``.
* Every CGI request gets a text reply, including ``livestream.cgi`` (§6.4 does
  not say whether it has one). Bad credentials give ``var result=-1;`` (§8,
  "assumed") for every CGI and the session stays open. Credentials are checked
  on every request: each pair present (``loginuse/loginpas``, ``user/pwd``)
  must match and at least one must be present.
* **Video**: ``livestream.cgi?streamid=10`` streams for ``burst`` seconds (3 s)
  at the loop's frame rate on channel 1 (at least 2 frames, §8 "stream
  pacing"), then stops until re-requested (Eye4);
  a request while streaming extends the burst without a new keyframe; a fresh
  start begins at the next keyframe of the loop. ``streamid=16`` stops at once.
  Frames: 32-byte ``55 aa 15 a8`` header, byte 4 = 0x10 (I) / 0x11 (P), byte 5
  = 0, camera-clock time as u16 LE ms + u32 LE seconds, the VStarcam-"reserved"
  counter field filled with a running frame number, length at +16 and the 12
  trailing reserved bytes set to 0xAA; then one Annex-B access unit.
  The camera clock starts at 1 700 000 000.000 s when the peer starts.
* ``snapshot.cgi`` answers with an envelope whose body is a JPEG on channel 0.
* **Keepalive**: the camera sends ALIVE after 0.5 s of silence (real cameras do
  every 0.4-0.5 s), re-sends P2P_RDY with every ALIVE from the 3rd unanswered one on and drops the
  session after 7 s without any packet. ALIVE is answered with ALIVE_ACK.
* **Strict** transport by default (§8): datagrams whose size is not exactly
  4 + length, DRWs with a marker other than 0xD1 or channel >= 8, and DRW_ACKs
  with marker other than 0xD1 (0xD2 is accepted only with ``strict=False``) or
  k >= 82 are dropped and counted in ``malformed``.
* Every session is served independently (up to ``max_sessions``, 4); a
  PUNCH_PKT from a new address beyond that is ignored. Concurrent streams
  share one position in the video loop (``sent`` records every frame sent). CLOSE ends a session
  silently; :meth:`VStarcamPeer.stop` sends one CLOSE to each live session.
* **Audio** (§6.4, §6.7): ``audiostream.cgi?streamid=1`` or ``=10`` starts it,
  ``streamid=16`` stops it (each answered ``var result=0;``; other ids are answered
  and ignored; a start while on changes nothing). Independent of video; stopped
  when the session ends. Frames go on DRW **channel 2**, one every 128 ms on a
  schedule computed from the start time (no drift): 32-byte header with byte 4 =
  0x06, byte 5 = 1 (ADPCM), pts as u16 LE ms + u32 LE seconds (camera clock at
  start + 128 ms per frame), length (512) at +16, all reserved bytes zero; then
  512 bytes of IMA-ADPCM codes (1024 samples, 8 kHz mono, **high nibble first**),
  no per-frame block header. ``adpcm_ver`` (VStarcam's ``support_adpcm_version``):
  1 or absent = the encoder's predictor and step index are cleared at every frame
  (the firmware default); 2 = they run on across frames. The signal is a sine of
  ``tone_hz`` (440) with amplitude ``tone_amplitude`` (8000), phase 0 at the
  first sample. ``audio_sent`` records every frame, ``audio_on`` /
  ``audio_frames_sent`` tell tests the state.
* Not implemented: AES video, PSR, relay/server messages.

PSK obfuscation (§5.1) uses ``key`` (default ``vstarcam2019``; ``""`` = plain).
It only ever sends to 127.0.0.0/8 and only binds loopback addresses.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
import ipaddress
import logging
import math
import re
import struct
from typing import Any
from urllib.parse import unquote

from fakecam.h26x import EncodedFrame, encode_loop

_LOGGER = logging.getLogger(__name__)

# -- PPPP message types (§1.1) -------------------------------------------------------
LAN_SEARCH = 0x30
PUNCH_PKT = 0x41
P2P_RDY = 0x42
DRW = 0xD0
DRW_ACK = 0xD1
ALIVE = 0xE0
ALIVE_ACK = 0xE1
CLOSE = 0xF0
MAGIC = 0xF1
DRW_MARKER = 0xD1

CH_CMD = 0
CH_VIDEO = 1
CH_AUDIO = 2
MAX_INFLIGHT = 128
MAX_ACK_COUNT = 81
MIN_BURST_FRAMES = 2

REQ_MAGIC = b"\x01\x0a"
FRAME_MAGIC = b"\x55\xaa\x15\xa8"
FRAME_I = 0x10
FRAME_P = 0x11
FRAME_AUDIO = 0x06
AUDIO_ADPCM = 1
AUDIO_RATE = 8000
SYS_VER = "48.60.38.38"
SECRET_PREFIX = b"338DB900E559"

_TABLE = bytes.fromhex(
    """
    7C 9C E8 4A 13 DE DC B2 2F 21 23 E4 30 7B 3D 8C BC 0B 27 0C 3C F7 9A E7 08 71 96 00 97 85 EF C1
    1F C4 DB A1 C2 EB D9 01 FA BA 3B 05 B8 15 87 83 28 72 D1 8B 5A D6 DA 93 58 FE AA CC 6E 1B F0 A3
    88 AB 43 C0 0D B5 45 38 4F 50 22 66 20 7F 07 5B 14 98 1D 9B A7 2A B9 A8 CB F1 FC 49 47 06 3E B1
    0E 04 3A 94 5E EE 54 11 34 DD 4D F9 EC C7 C9 E3 78 1A 6F 70 6B A4 BD A9 5D D5 F8 E5 BB 26 AF 42
    37 D8 E1 02 0A AE 5F 1C C5 73 09 4E 69 24 90 6D 12 B3 19 AD 74 8A 29 40 F5 2D BE A5 59 E0 F4 79
    D2 4B CE 89 82 48 84 25 C6 91 2B A2 FB 8F E9 A6 B0 9E 3F 65 F6 03 31 2E AC 0F 95 2C 5C ED 39 B7
    33 6C 56 7E B4 A0 FD 7A 81 53 51 86 8D 9F 77 FF 6A 80 DF E2 BF 10 D7 75 64 57 76 F3 55 CD D0 C8
    18 E6 36 41 62 CF 99 F2 32 4C 67 60 61 92 CA D3 EA 63 7D 16 B6 8E D4 68 35 C3 52 9D 46 44 1E 17
    """
)
assert len(_TABLE) == 256


# -- obfuscation (§5.1) ---------------------------------------------------------------


def mash_key(key: str | bytes | None) -> tuple[int, int, int, int] | None:
    """The 4-byte effective key of a PSK (at most its first 20 bytes); ``None`` = plain."""
    raw = key.encode() if isinstance(key, str) else (key or b"")
    raw = raw[:20]
    if not raw:
        return None
    k0 = sum(raw) & 0xFF
    k2 = sum(b // 3 for b in raw) & 0xFF
    k3 = 0
    for b in raw:
        k3 ^= b
    return k0, (-k0) & 0xFF, k2, k3


def encrypt(data: bytes, k: tuple[int, int, int, int] | None) -> bytes:
    """P2P_Proprietary_Encrypt of a whole datagram."""
    if k is None:
        return data
    out = bytearray(len(data))
    prev = 0
    for i, b in enumerate(data):
        c = b ^ _TABLE[(k[prev & 3] + prev) & 0xFF]
        out[i] = c
        prev = c
    return bytes(out)


def decrypt(data: bytes, k: tuple[int, int, int, int] | None) -> bytes:
    """P2P_Proprietary_Decrypt of a whole datagram."""
    if k is None:
        return data
    out = bytearray(len(data))
    prev = 0
    for i, c in enumerate(data):
        out[i] = c ^ _TABLE[(k[prev & 3] + prev) & 0xFF]
        prev = c
    return bytes(out)


# -- wire helpers ---------------------------------------------------------------------


_DID_RE = re.compile(r"^([A-Za-z]{1,7})-?(\d{1,8})-?([A-Za-z]{1,7})$")


def did_bytes(did: str) -> bytes:
    """The 20-byte wire form (8-byte prefix, u32 BE serial, 8-byte check code; §2.1)."""
    m = _DID_RE.match(did.strip())
    if m is None:
        raise ValueError(f"not a PPPP device id: {did!r}")
    prefix, serial, check = m.group(1).upper(), int(m.group(2)), m.group(3).upper()
    return (
        prefix.encode().ljust(8, b"\0") + struct.pack(">I", serial) + check.encode().ljust(8, b"\0")
    )


def packet(mtype: int, body: bytes = b"") -> bytes:
    """A plain PPPP datagram (§1)."""
    return struct.pack(">BBH", MAGIC, mtype, len(body)) + body


def drw(channel: int, index: int, payload: bytes) -> bytes:
    """A plain DRW datagram (§4.1)."""
    return packet(DRW, struct.pack(">BBH", DRW_MARKER, channel, index & 0xFFFF) + payload)


def drw_ack(channel: int, indices: list[int]) -> bytes:
    """A plain DRW_ACK datagram (§4.2)."""
    body = struct.pack(">BBH", DRW_MARKER, channel, len(indices))
    body += b"".join(struct.pack(">H", i & 0xFFFF) for i in indices)
    return packet(DRW_ACK, body)


def envelope(text: bytes, tag: bytes = b"\x00\x00") -> bytes:
    """A VStarcam CGI envelope: ``01 0a`` + 2 bytes + u32 LE length + text (§6.4)."""
    return REQ_MAGIC + tag + struct.pack("<I", len(text)) + text


def frame_header(kind: int, pts_ms: int, counter: int, length: int) -> bytes:
    """The 32-byte ``55 aa 15 a8`` A/V frame header (§6.7)."""
    secs, ms = divmod(pts_ms, 1000)
    return (
        FRAME_MAGIC
        + bytes([kind, 0])
        + struct.pack("<HIII", ms, secs & 0xFFFFFFFF, counter & 0xFFFFFFFF, length)
        + b"\xaa" * 12
    )


def audio_header(pts_ms: int, length: int) -> bytes:
    """The 32-byte header of an audio frame: type 0x06, sub-type 1 (ADPCM), reserved zeros."""
    secs, ms = divmod(pts_ms, 1000)
    return (
        FRAME_MAGIC
        + bytes([FRAME_AUDIO, AUDIO_ADPCM])
        + struct.pack("<HIII", ms, secs & 0xFFFFFFFF, 0, length)
        + bytes(12)
    )


# -- IMA-ADPCM (§6.4 audio: 8 kHz mono, high nibble first) -------------------------------

IMA_STEPS = (
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45,
    50, 55, 60, 66, 73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230,
    253, 279, 307, 337, 371, 408, 449, 494, 544, 598, 658, 724, 796, 876, 963,
    1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066, 2272, 2499, 2749, 3024, 3327,
    3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845, 8630, 9493, 10442, 11487,
    12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794, 32767,
)  # fmt: skip
IMA_INDEX = (-1, -1, -1, -1, 2, 4, 6, 8)
assert len(IMA_STEPS) == 89


class ImaAdpcmEncoder:
    """A standard IMA-ADPCM encoder whose state runs on from call to call (no block headers)."""

    def __init__(self) -> None:
        """Start at predictor 0, step index 0."""
        self.predictor = 0
        self.index = 0

    def encode_sample(self, sample: int) -> int:
        """One 16-bit sample -> one 4-bit code; updates the state like a decoder would."""
        step = IMA_STEPS[self.index]
        diff = sample - self.predictor
        code = 0
        if diff < 0:
            code = 8
            diff = -diff
        vpdiff = step >> 3
        if diff >= step:
            code |= 4
            diff -= step
            vpdiff += step
        step >>= 1
        if diff >= step:
            code |= 2
            diff -= step
            vpdiff += step
        step >>= 1
        if diff >= step:
            code |= 1
            vpdiff += step
        pred = self.predictor - vpdiff if code & 8 else self.predictor + vpdiff
        self.predictor = max(-32768, min(32767, pred))
        self.index = max(0, min(88, self.index + IMA_INDEX[code & 7]))
        return code

    def encode(self, samples: Sequence[int]) -> bytes:
        """Encode an even number of samples; the first sample goes into bits 7-4 of byte 0."""
        if len(samples) % 2:
            raise ValueError("IMA-ADPCM packs two samples per byte: give an even count")
        out = bytearray(len(samples) // 2)
        for i in range(0, len(samples), 2):
            hi = self.encode_sample(samples[i])
            out[i // 2] = (hi << 4) | self.encode_sample(samples[i + 1])
        return bytes(out)


def tone(freq: float, amplitude: int, start: int, count: int, rate: int = AUDIO_RATE) -> list[int]:
    """``count`` samples of ``amplitude * sin(2 pi freq n / rate)`` from sample ``start`` on."""
    w = 2.0 * math.pi * freq / rate
    return [round(amplitude * math.sin(w * n)) for n in range(start, start + count)]


def _newer(a: int, b: int) -> bool:
    """Serial-arithmetic ``a > b`` for u16 indices (half range 0x8000)."""
    return 0 < ((a - b) & 0xFFFF) < 0x8000


@lru_cache(maxsize=4)
def snapshot_jpeg(width: int = 640, height: int = 360) -> bytes:
    """A JPEG test picture (encoded once with PyAV's MJPEG encoder)."""
    import av
    import numpy as np

    ctx: Any = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height = width, height
    ctx.pix_fmt = "yuvj420p"
    ctx.time_base = 1
    ys = np.arange(height, dtype=np.uint16)[:, None]
    xs = np.arange(width, dtype=np.uint16)[None, :]
    yuv = np.full((height * 3 // 2, width), 128, dtype=np.uint8)
    yuv[:height] = ((xs * 2 + ys) % 256).astype(np.uint8)
    frame: Any = av.VideoFrame.from_ndarray(yuv, format="yuvj420p")
    frame.pts = 0
    data = b"".join(bytes(p) for p in ctx.encode(frame))
    data += b"".join(bytes(p) for p in ctx.encode(None))
    return data


# -- configuration and state ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class PeerConfig:
    """Behaviour knobs; the defaults are the choices listed in the module docstring."""

    host: str = "127.0.0.1"
    port: int = 0
    """LAN search port (32108 on a real camera; 0 = ephemeral)."""
    session_port: int = 0
    did: str = "VSTJ-002961-ZTPRW"
    key: str = "vstarcam2019"
    codec: str = "h264"
    size: tuple[int, int] = (1280, 720)
    fps: int = 15
    gop: int = 15
    loop_frames: int = 30
    user: str = "admin"
    password: str = "888888"
    burst: float = 3.0
    """Seconds of video per ``livestream.cgi`` request."""
    chunk: int = 1000
    split_replies: bool = True
    reply_tag: bytes = b"\xa5\x01"
    reply_delay: float = 0.0
    livestream_reply: bool = True
    ack_delay: float = 0.02
    ack_batch: int = 16
    rto: float = 0.5
    alive_idle: float = 0.5
    dead_after: float = 7.0
    rdy_copies: int = 4
    strict: bool = True
    max_sessions: int = 4
    index_start: int = 0
    restart_video_index: bool = False
    drop_every: int = 0
    """Lose every n-th first transmission of a DRW (it is retransmitted later; 0 = never)."""
    close_on_stop: bool = True
    clock_start_ms: int = 1_700_000_000_000
    tone_hz: float = 440.0
    """Frequency of the sine tone sent as audio."""
    tone_amplitude: int = 8000
    audio_frame_samples: int = 1024
    """Samples per audio frame (1024 = 512 code bytes = 128 ms at 8 kHz)."""


@dataclass(slots=True)
class PeerStats:
    """What the peer saw and did; tests assert on these."""

    searches: int = 0
    punches: int = 0
    rdys_rx: int = 0
    did_mismatch: int = 0
    ignored_on_search_port: int = 0
    sessions_opened: int = 0
    logins: int = 0
    refused_logins: int = 0
    requests: list[str] = field(default_factory=list)
    stream_requests: int = 0
    stop_requests: int = 0
    snapshots: int = 0
    frames_sent: int = 0
    audio_requests: int = 0
    audio_stop_requests: int = 0
    audio_frames_sent: int = 0
    drw_sent: int = 0
    drw_rx: int = 0
    duplicates_rx: int = 0
    acks_sent: int = 0
    acks_rx: int = 0
    retransmissions: int = 0
    dropped_on_purpose: int = 0
    alives_rx: int = 0
    alives_sent: int = 0
    closes_rx: int = 0
    timeouts: int = 0
    malformed: int = 0
    undecryptable: int = 0
    no_session: int = 0


@dataclass(slots=True)
class SentFrame:
    """One video frame as sent: the access unit, its kind and camera-clock pts (ms)."""

    data: bytes
    keyframe: bool
    pts: int


@dataclass(slots=True)
class SentAudio:
    """One audio frame as sent: the IMA-ADPCM code bytes and its camera-clock pts (ms)."""

    data: bytes
    pts: int


@dataclass(slots=True)
class _Out:
    index: int
    datagram: bytes
    sent_at: float
    fast_done: bool = False


@dataclass(slots=True)
class _Tx:
    next_index: int
    queue: deque[tuple[int, bytes]] = field(default_factory=deque)
    inflight: dict[int, _Out] = field(default_factory=dict)


@dataclass(slots=True)
class _Rx:
    expected: int = 0
    future: dict[int, bytes] = field(default_factory=dict)
    buf: bytearray = field(default_factory=bytearray)


@dataclass(slots=True)
class _Session:
    addr: tuple[str, int]
    last_rx: float
    last_alive: float = 0.0
    alive_misses: int = 0
    tx: dict[int, _Tx] = field(default_factory=dict)
    rx: dict[int, _Rx] = field(default_factory=dict)
    ack_pending: dict[int, list[int]] = field(default_factory=dict)
    ack_handle: asyncio.TimerHandle | None = None
    stream_task: asyncio.Task[None] | None = None
    stream_until: float = 0.0
    audio_task: asyncio.Task[None] | None = None
    handles: set[asyncio.TimerHandle] = field(default_factory=set)


class _Proto(asyncio.DatagramProtocol):
    def __init__(self, handler: Callable[[bytes, tuple[str, int]], None]) -> None:
        self.handler = handler

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            self.handler(data, (str(addr[0]), int(addr[1])))
        except Exception:  # pragma: no cover - never let a bad datagram kill the peer
            _LOGGER.exception("vstarcam peer: handler failed")


_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def _is_loopback4(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.version == 4 and ip in _LOOPBACK


# -- the peer -----------------------------------------------------------------------------


class VStarcamPeer:
    """A fake VStarcam/Eye4 camera: a LAN-search socket and a session socket on ``host``."""

    def __init__(self, config: PeerConfig | None = None, **overrides: Any) -> None:
        """Create the peer; ``overrides`` replace fields of ``config``."""
        cfg = config or PeerConfig()
        self.config = replace(cfg, **overrides) if overrides else cfg
        if not _is_loopback4(self.config.host):
            raise ValueError("the VStarcam peer only binds 127.0.0.0/8 addresses")
        if not 1 <= self.config.chunk <= 1024:
            raise ValueError("DRW payloads must be 1..1024 bytes (§4.1)")
        if self.config.audio_frame_samples <= 0 or self.config.audio_frame_samples % 2:
            raise ValueError("audio frames need a positive, even number of samples")
        self.did = self.config.did
        self.did_wire = did_bytes(self.config.did)
        self.stats = PeerStats()
        self.sent: list[SentFrame] = []
        self.audio_sent: list[SentAudio] = []
        self._k = mash_key(self.config.key)
        self._sessions: dict[tuple[str, int], _Session] = {}
        self._search: asyncio.DatagramTransport | None = None
        self._sess: asyncio.DatagramTransport | None = None
        self._house: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._frames: tuple[EncodedFrame, ...] = ()
        self._pos = 0
        self._counter = 0
        self._t0 = 0.0
        self._last_pts = -1
        self._drw_first_sends = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Encode the video loop, bind both sockets and start housekeeping."""
        cfg = self.config
        width, height = cfg.size
        self._frames = await asyncio.to_thread(
            encode_loop,
            cfg.codec,
            width=width,
            height=height,
            fps=cfg.fps,
            frames=cfg.loop_frames,
            gop=cfg.gop,
        )
        loop = self._loop = asyncio.get_running_loop()
        self._t0 = loop.time()
        self._search, _ = await loop.create_datagram_endpoint(
            lambda: _Proto(self._on_search), local_addr=(cfg.host, cfg.port)
        )
        self._sess, _ = await loop.create_datagram_endpoint(
            lambda: _Proto(self._on_session), local_addr=(cfg.host, cfg.session_port)
        )
        self._house = loop.create_task(self._housekeeping(), name="vstarcam-peer-house")

    async def stop(self) -> None:
        """Close every session (one CLOSE each if ``close_on_stop``), stop all tasks, unbind."""
        tasks = [t for t in (self._house,) if t is not None]
        for sess in list(self._sessions.values()):
            if self.config.close_on_stop:
                self._send(sess.addr, packet(CLOSE))
            tasks.extend(t for t in (sess.stream_task, sess.audio_task) if t is not None)
            self._forget(sess)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._house = None
        for tr in (self._search, self._sess):
            if tr is not None:
                tr.close()
        self._search = self._sess = None
        await asyncio.sleep(0)

    async def __aenter__(self) -> VStarcamPeer:
        """Start on entry."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop on exit."""
        await self.stop()

    # -- public views ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The LAN search port (where clients send LAN_SEARCH)."""
        assert self._search is not None
        return int(self._search.get_extra_info("sockname")[1])

    @property
    def session_port(self) -> int:
        """The session socket's port (source of PUNCH_PKT and all session traffic)."""
        assert self._sess is not None
        return int(self._sess.get_extra_info("sockname")[1])

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._house is not None

    @property
    def sessions(self) -> list[tuple[str, int]]:
        """Client addresses with an established session."""
        return list(self._sessions)

    @property
    def sent_frames(self) -> list[bytes]:
        """Access units sent so far (Annex-B, without the 32-byte header), in order."""
        return [f.data for f in self.sent]

    @property
    def logins(self) -> int:
        """Requests with good credentials to a login/probe CGI."""
        return self.stats.logins

    @property
    def refused_logins(self) -> int:
        """Requests refused for bad credentials (``result=-1``)."""
        return self.stats.refused_logins

    @property
    def frames_sent(self) -> int:
        """Video frames sent."""
        return self.stats.frames_sent

    @property
    def stream_requests(self) -> int:
        """Accepted ``livestream.cgi?streamid=10`` requests."""
        return self.stats.stream_requests

    @property
    def audio_frames_sent(self) -> int:
        """Audio frames sent (all sessions)."""
        return self.stats.audio_frames_sent

    @property
    def audio_on(self) -> bool:
        """True while any session has audio running."""
        return any(s.audio_task is not None for s in self._sessions.values())

    def streaming(self) -> bool:
        """True while any session has a video burst running."""
        return any(s.stream_task is not None for s in self._sessions.values())

    def camera_clock_ms(self) -> int:
        """The camera clock now, in ms."""
        assert self._loop is not None
        return self.config.clock_start_ms + int((self._loop.time() - self._t0) * 1000)

    # -- sending ---------------------------------------------------------------------------

    def _send(self, addr: tuple[str, int], plain: bytes, *, search: bool = False) -> None:
        tr = self._search if search else self._sess
        if tr is None or tr.is_closing():
            return
        if not _is_loopback4(addr[0]):  # hard network rule
            _LOGGER.warning("vstarcam peer: refusing to send to %s", addr[0])
            return
        tr.sendto(encrypt(plain, self._k), addr)

    def _later(self, sess: _Session, delay: float, fn: Callable[[], None]) -> None:
        assert self._loop is not None
        holder: list[asyncio.TimerHandle] = []

        def run() -> None:
            sess.handles.discard(holder[0])
            if self._sessions.get(sess.addr) is sess:
                fn()

        handle = self._loop.call_later(delay, run)
        holder.append(handle)
        sess.handles.add(handle)

    def _tx(self, sess: _Session, ch: int) -> _Tx:
        tx = sess.tx.get(ch)
        if tx is None:
            tx = sess.tx[ch] = _Tx(self.config.index_start & 0xFFFF)
        return tx

    def _queue(self, sess: _Session, ch: int, payload: bytes) -> None:
        tx = self._tx(sess, ch)
        tx.queue.append((tx.next_index, payload))
        tx.next_index = (tx.next_index + 1) & 0xFFFF

    def _send_bytes(self, sess: _Session, ch: int, data: bytes, first: int | None = None) -> None:
        """Cut ``data`` into DRWs (first one ``first`` bytes if given) and send them."""
        size = self.config.chunk
        pos = 0
        if first is not None and 0 < first < len(data):
            self._queue(sess, ch, data[:first])
            pos = first
        while pos < len(data):
            self._queue(sess, ch, data[pos : pos + size])
            pos += size
        self._pump(sess, ch)

    def _pump(self, sess: _Session, ch: int) -> None:
        assert self._loop is not None
        tx = self._tx(sess, ch)
        now = self._loop.time()
        while tx.queue and len(tx.inflight) < MAX_INFLIGHT:
            index, payload = tx.queue.popleft()
            dgram = drw(ch, index, payload)
            tx.inflight[index] = _Out(index, dgram, now)
            self._drw_first_sends += 1
            n = self.config.drop_every
            if n and self._drw_first_sends % n == 0:
                self.stats.dropped_on_purpose += 1
                continue
            self.stats.drw_sent += 1
            self._send(sess.addr, dgram)

    def _reply(self, sess: _Session, text: str | bytes) -> None:
        body = text.encode() if isinstance(text, str) else text
        data = envelope(body, self.config.reply_tag)
        first = 8 + 24 if self.config.split_replies and isinstance(text, str) else None

        def go() -> None:
            self._send_bytes(sess, CH_CMD, data, first)

        if self.config.reply_delay > 0:
            self._later(sess, self.config.reply_delay, go)
        else:
            go()

    # -- LAN search socket -------------------------------------------------------------------

    def _on_search(self, data: bytes, addr: tuple[str, int]) -> None:
        plain = self._decode(data)
        if plain is None:
            return
        if plain[1] != LAN_SEARCH:
            self.stats.ignored_on_search_port += 1
            return
        self.stats.searches += 1
        # Answered from the session socket (§3.1), one PUNCH_PKT per search.
        self._send(addr, packet(PUNCH_PKT, self.did_wire))

    def _decode(self, data: bytes) -> bytes | None:
        """Decrypt and check framing; ``None`` (counted) when the datagram is unusable."""
        if len(data) == 17 and data.startswith(SECRET_PREFIX):
            return None
        plain = decrypt(data, self._k)
        if len(plain) < 4 or plain[0] != MAGIC:
            self.stats.undecryptable += 1
            return None
        (length,) = struct.unpack_from(">H", plain, 2)
        if len(plain) < 4 + length or (self.config.strict and len(plain) != 4 + length):
            self.stats.malformed += 1
            return None
        return plain[: 4 + length]

    # -- session socket -------------------------------------------------------------------

    def _on_session(self, data: bytes, addr: tuple[str, int]) -> None:
        plain = self._decode(data)
        if plain is None:
            return
        assert self._loop is not None
        mtype = plain[1]
        body = plain[4:]
        sess = self._sessions.get(addr)
        if sess is not None:
            sess.last_rx = self._loop.time()
            sess.alive_misses = 0
        if mtype in (PUNCH_PKT, P2P_RDY):
            self._on_handshake(mtype, body, addr, sess)
            return
        if sess is None:
            self.stats.no_session += 1
            return
        if mtype == ALIVE:
            self.stats.alives_rx += 1
            self._send(addr, packet(ALIVE_ACK))
        elif mtype == ALIVE_ACK:
            pass
        elif mtype == CLOSE:
            self.stats.closes_rx += 1
            self._forget(sess)
        elif mtype == DRW:
            self._on_drw(sess, body)
        elif mtype == DRW_ACK:
            self._on_ack(sess, body)

    def _on_handshake(
        self, mtype: int, body: bytes, addr: tuple[str, int], sess: _Session | None
    ) -> None:
        if body[:20] != self.did_wire or len(body) < 20:
            self.stats.did_mismatch += 1
            return
        assert self._loop is not None
        if sess is None:
            if len(self._sessions) >= self.config.max_sessions:
                return
            sess = self._sessions[addr] = _Session(addr, last_rx=self._loop.time())
            sess.last_alive = sess.last_rx
            self.stats.sessions_opened += 1
        rdy = packet(P2P_RDY, self.did_wire)
        if mtype == PUNCH_PKT:
            self.stats.punches += 1
            for i in range(self.config.rdy_copies):
                if i == 0:
                    self._send(addr, rdy)
                else:
                    self._later(sess, 0.01 * i, lambda: self._send(addr, rdy))
        else:
            self.stats.rdys_rx += 1
            self._send(addr, rdy)

    def _on_drw(self, sess: _Session, body: bytes) -> None:
        if len(body) < 4:
            self.stats.malformed += 1
            return
        marker, ch, index = struct.unpack_from(">BBH", body)
        if marker != DRW_MARKER or ch >= 8:
            self.stats.malformed += 1
            return
        self.stats.drw_rx += 1
        self._ack_later(sess, ch, index)
        rx = sess.rx.setdefault(ch, _Rx())
        if index != rx.expected and not _newer(index, rx.expected):
            self.stats.duplicates_rx += 1
            return
        if index in rx.future:
            self.stats.duplicates_rx += 1
            return
        rx.future[index] = body[4:]
        while rx.expected in rx.future:
            rx.buf += rx.future.pop(rx.expected)
            rx.expected = (rx.expected + 1) & 0xFFFF
        self._parse_envelopes(sess, rx)

    def _ack_later(self, sess: _Session, ch: int, index: int) -> None:
        pending = sess.ack_pending.setdefault(ch, [])
        pending.append(index)
        if len(pending) >= self.config.ack_batch:
            self._flush_acks(sess)
        elif sess.ack_handle is None:
            assert self._loop is not None
            sess.ack_handle = self._loop.call_later(self.config.ack_delay, self._flush_acks, sess)

    def _flush_acks(self, sess: _Session) -> None:
        if sess.ack_handle is not None:
            sess.ack_handle.cancel()
            sess.ack_handle = None
        if self._sessions.get(sess.addr) is not sess:
            return
        for ch, pending in sess.ack_pending.items():
            while pending:
                batch, pending[:] = (
                    pending[: self.config.ack_batch],
                    pending[self.config.ack_batch :],
                )
                self.stats.acks_sent += 1
                self._send(sess.addr, drw_ack(ch, batch))
        sess.ack_pending.clear()

    def _on_ack(self, sess: _Session, body: bytes) -> None:
        if len(body) < 4:
            self.stats.malformed += 1
            return
        marker, ch, count = struct.unpack_from(">BBH", body)
        ok_marker = marker == DRW_MARKER or (not self.config.strict and marker == 0xD2)
        if not ok_marker or ch >= 8 or count >= MAX_ACK_COUNT + 1 or len(body) != 4 + 2 * count:
            self.stats.malformed += 1
            return
        self.stats.acks_rx += 1
        tx = sess.tx.get(ch)
        if tx is None:
            return
        assert self._loop is not None
        newest: _Out | None = None
        for (index,) in struct.iter_unpack(">H", body[4:]):
            out = tx.inflight.pop(index, None)
            if out is not None and (newest is None or _newer(index, newest.index)):
                newest = out
        if newest is not None:
            # Fast retransmit: older packets still unacked, sent before the acked one.
            for out in tx.inflight.values():
                if (
                    not out.fast_done
                    and _newer(newest.index, out.index)
                    and out.sent_at <= newest.sent_at
                ):
                    out.fast_done = True
                    out.sent_at = self._loop.time()
                    self.stats.retransmissions += 1
                    self._send(sess.addr, out.datagram)
        self._pump(sess, ch)

    # -- application layer (§6.4) -----------------------------------------------------------

    def _parse_envelopes(self, sess: _Session, rx: _Rx) -> None:
        buf = rx.buf
        while len(buf) >= 8:
            if buf[:2] != REQ_MAGIC:
                pos = buf.find(REQ_MAGIC, 1)
                self.stats.malformed += 1
                del buf[: pos if pos > 0 else len(buf)]
                continue
            (length,) = struct.unpack_from("<I", buf, 4)
            if length > 65536:
                self.stats.malformed += 1
                del buf[:2]
                continue
            if len(buf) < 8 + length:
                return
            text = bytes(buf[8 : 8 + length])
            del buf[: 8 + length]
            self._on_cgi(sess, text.decode("latin-1"))

    def _on_cgi(self, sess: _Session, text: str) -> None:
        text = text.rstrip("\0\r\n ")
        self.stats.requests.append(text)
        if not text.startswith("GET "):
            self.stats.malformed += 1
            return
        target = text[4:].split(" ", 1)[0]
        path, _, query = target.partition("?")
        name = path.lstrip("/")
        params: dict[str, str] = {}
        for part in query.split("&"):
            if part:
                k, _, v = part.partition("=")
                params[unquote(k)] = unquote(v)
        if not self._credentials_ok(params):
            self.stats.refused_logins += 1
            self._reply(sess, "var result=-1;\r\n")
            return
        if name in ("check_user.cgi", "login.cgi"):
            self.stats.logins += 1
            self._reply(
                sess, f'var result=0;\r\nvar current_users=1;\r\nvar user="{self.config.user}";\r\n'
            )
        elif name == "get_status.cgi":
            self.stats.logins += 1
            self._reply(sess, self._status_text())
        elif name == "livestream.cgi":
            self._on_livestream(sess, params.get("streamid", ""))
        elif name == "snapshot.cgi":
            self.stats.snapshots += 1
            self._reply(sess, snapshot_jpeg())
        elif name == "audiostream.cgi":
            self._on_audiostream(sess, params.get("streamid", ""), params.get("adpcm_ver", "1"))
        elif name in ("camera_control.cgi", "decoder_control.cgi"):
            self._reply(sess, "var result=0;\r\n")
        # unknown CGIs: no reply

    def _credentials_ok(self, params: dict[str, str]) -> bool:
        pairs = [("loginuse", "loginpas"), ("user", "pwd")]
        seen = False
        for u, p in pairs:
            if u in params or p in params:
                seen = True
                if params.get(u) != self.config.user or params.get(p) != self.config.password:
                    return False
        return seen

    def _status_text(self) -> str:
        lines = [
            f'var deviceid="{self.did}";',
            f'var sys_ver="{SYS_VER}";',
            'var alias="vstarcam-peer";',
            f"var now={self.camera_clock_ms() // 1000};",
            "var alarm_status=0;",
            "var result=0;",
            "var upnp_status=0;",
            "var p2pstatus=1;",
        ]
        return "\r\n".join(lines) + "\r\n"

    def _on_livestream(self, sess: _Session, streamid: str) -> None:
        assert self._loop is not None
        if streamid == "16":
            self.stats.stop_requests += 1
            self._stop_stream(sess)
            if self.config.livestream_reply:
                self._reply(sess, "var result=0;\r\n")
            return
        if self.config.livestream_reply:
            self._reply(sess, "var result=0;\r\n")
        if streamid != "10":
            return  # Eye4 needs streamid=10; anything else is ignored
        self.stats.stream_requests += 1
        if self.config.restart_video_index and sess.stream_task is None:
            tx = self._tx(sess, CH_VIDEO)
            tx.queue.clear()
            tx.inflight.clear()
            tx.next_index = 0
        sess.stream_until = self._loop.time() + self.config.burst
        if sess.stream_task is None:
            # A fresh start begins at the next keyframe of the loop.
            while not self._frames[self._pos].keyframe:
                self._pos = (self._pos + 1) % len(self._frames)
            sess.stream_task = self._loop.create_task(
                self._stream(sess), name=f"vstarcam-peer-stream-{sess.addr[1]}"
            )

    def _on_audiostream(self, sess: _Session, streamid: str, adpcm_ver: str) -> None:
        assert self._loop is not None
        self._reply(sess, "var result=0;\r\n")
        if streamid == "16":
            self.stats.audio_stop_requests += 1
            self._stop_audio(sess)
            return
        if streamid not in ("1", "10"):
            return  # unknown stream ids are answered but ignored, like livestream.cgi
        self.stats.audio_requests += 1
        if sess.audio_task is None:  # a request while on changes nothing
            sess.audio_task = self._loop.create_task(
                self._audio(sess, carry=adpcm_ver == "2"),
                name=f"vstarcam-peer-audio-{sess.addr[1]}",
            )

    def _stop_audio(self, sess: _Session) -> None:
        task, sess.audio_task = sess.audio_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _audio(self, sess: _Session, *, carry: bool = False) -> None:
        """Send the tone as IMA-ADPCM frames on channel 2 in real time until stopped.

        Frame ``n`` is due at ``t0 + n * duration`` (no drift); its pts is the camera
        clock at ``t0`` plus ``n * duration``. The encoder starts every frame at
        predictor 0, step index 0 (ADPCM version 1), or only the first one with
        ``carry`` (version 2); there is no per-frame block header.
        """
        assert self._loop is not None
        cfg = self.config
        per_frame = cfg.audio_frame_samples
        duration = per_frame / AUDIO_RATE
        encoder = ImaAdpcmEncoder()
        t0 = self._loop.time()
        pts0 = self.camera_clock_ms()
        n = 0
        try:
            while self._sessions.get(sess.addr) is sess:
                pcm = tone(cfg.tone_hz, cfg.tone_amplitude, n * per_frame, per_frame)
                if not carry:
                    encoder = ImaAdpcmEncoder()
                codes = encoder.encode(pcm)
                pts = pts0 + (n * per_frame * 1000) // AUDIO_RATE
                self.audio_sent.append(SentAudio(codes, pts))
                self.stats.audio_frames_sent += 1
                self._send_bytes(sess, CH_AUDIO, audio_header(pts, len(codes)) + codes)
                n += 1
                await asyncio.sleep(max(0.0, t0 + n * duration - self._loop.time()))
        finally:
            if sess.audio_task is asyncio.current_task():
                sess.audio_task = None

    def _stop_stream(self, sess: _Session) -> None:
        task, sess.stream_task = sess.stream_task, None
        sess.stream_until = 0.0
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _stream(self, sess: _Session) -> None:
        assert self._loop is not None
        interval = 1.0 / self.config.fps
        next_t = self._loop.time()
        sent = 0
        try:
            while self._sessions.get(sess.addr) is sess and (
                sent < MIN_BURST_FRAMES or self._loop.time() < sess.stream_until
            ):
                self._send_frame(sess, self._frames[self._pos])
                self._pos = (self._pos + 1) % len(self._frames)
                sent += 1
                next_t += interval
                await asyncio.sleep(max(0.0, next_t - self._loop.time()))
        finally:
            if sess.stream_task is asyncio.current_task():
                sess.stream_task = None

    def _send_frame(self, sess: _Session, frame: EncodedFrame) -> None:
        pts = max(self.camera_clock_ms(), self._last_pts + 1)
        self._last_pts = pts
        self._counter += 1
        kind = FRAME_I if frame.keyframe else FRAME_P
        header = frame_header(kind, pts, self._counter, len(frame.data))
        self.sent.append(SentFrame(frame.data, frame.keyframe, pts))
        self.stats.frames_sent += 1
        self._send_bytes(sess, CH_VIDEO, header + frame.data)

    # -- housekeeping -----------------------------------------------------------------------

    def _forget(self, sess: _Session) -> None:
        self._stop_stream(sess)
        self._stop_audio(sess)
        if sess.ack_handle is not None:
            sess.ack_handle.cancel()
            sess.ack_handle = None
        for handle in sess.handles:
            handle.cancel()
        sess.handles.clear()
        if self._sessions.get(sess.addr) is sess:
            del self._sessions[sess.addr]

    async def _housekeeping(self) -> None:
        assert self._loop is not None
        cfg = self.config
        while True:
            await asyncio.sleep(0.1)
            now = self._loop.time()
            for sess in list(self._sessions.values()):
                if now - sess.last_rx >= cfg.dead_after:
                    self.stats.timeouts += 1
                    self._forget(sess)
                    continue
                if now - sess.last_rx >= cfg.alive_idle and now - sess.last_alive >= cfg.alive_idle:
                    sess.last_alive = now
                    sess.alive_misses += 1
                    self.stats.alives_sent += 1
                    self._send(sess.addr, packet(ALIVE))
                    if sess.alive_misses > 2:
                        self._send(sess.addr, packet(P2P_RDY, self.did_wire))
                for ch, tx in sess.tx.items():
                    resent = 0
                    for out in tx.inflight.values():
                        if resent >= 16:
                            break
                        if now - out.sent_at >= cfg.rto:
                            out.sent_at = now
                            resent += 1
                            self.stats.retransmissions += 1
                            self._send(sess.addr, out.datagram)
                    self._pump(sess, ch)


def main() -> None:  # pragma: no cover - manual use
    """Run a peer until interrupted: ``python -m tests.peers.vstarcam_peer``."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=32108)
    parser.add_argument("--key", default="vstarcam2019")
    parser.add_argument("--codec", default="h264")
    parser.add_argument("--tone-hz", type=float, default=440.0)
    args = parser.parse_args()

    async def run() -> None:
        peer = VStarcamPeer(port=args.port, key=args.key, codec=args.codec, tone_hz=args.tone_hz)
        await peer.start()
        print(
            f"VStarcam peer {peer.did}: search 127.0.0.1:{peer.port}, session {peer.session_port}"
        )
        try:
            await asyncio.Event().wait()
        finally:
            await peer.stop()

    asyncio.run(run())


if __name__ == "__main__":  # pragma: no cover
    main()
