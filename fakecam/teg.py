"""Emulated TEG (IWFCam / "rtthread") Wi-Fi camera, written from ``teg.md``.

Implements the emulator checklist of teg.md §11: LAN search on one UDP port,
login plus the whole ``2TEG`` session on another, live MJPEG video and
IMA-ADPCM audio (a continuous 1 kHz tone), seeded impairments (loss,
duplication, reordering, dropped requests), inactivity timeouts, camera
heartbeats, close, other controls.

It never sends to addresses outside 127.0.0.0/8 unless
``TegCameraConfig.allow_non_loopback`` is set.

Usage::

    async with TegCamera(TegCameraConfig(host="127.0.0.1")) as cam:
        print(cam.discovery_port, cam.session_port)

Choices where teg.md leaves latitude:

* LOGIN_RESP goes to the login's source address; the params CTRL_RESP, media,
  heartbeats and CLOSE go to the announced address (offsets 28/26, or 20/24
  when non-zero). An announced address outside 127.0.0.0/8 gets result 1.
* Link id = lowest free value from ``link_id_base`` (1): the first client gets 1.
  After :meth:`TegCamera.reboot` no session exists, so stale link ids are ignored.
* One shared frame-id counter per camera (audio and video), reset on reboot.
* Timeouts are checked every ``min(0.25, stream_timeout/8, heartbeat/4)`` s;
  while ``silent`` nothing is checked, so quiet clients are dropped (with
  CLOSE) as soon as the camera speaks again.
* The loop clock drives everything: under a frozen clock (freezegun) no frame,
  heartbeat or timeout fires, and a jump >= ``stream_timeout`` drops clients.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, fields
from functools import lru_cache
import ipaddress
import logging
import random
import socket
import struct
from typing import Self

from .audio import TONE_HZ, tone_blocks
from .controls import CameraControls
from .frames import FrameSource
from .motion import MotionFrameSource, MotionScript

__all__ = [
    "DEFAULT_TOKEN",
    "DEFAULT_UID",
    "SessionCounters",
    "TegCamera",
    "TegCameraConfig",
    "TegStats",
]

_LOGGER = logging.getLogger(__name__)

DEFAULT_UID = "EMUCAM1-0123456789AB-C0FFEE"
DEFAULT_TOKEN = "9e8040834b3a"  # noqa: S105 - no-password token (teg.md §4.1)

MAGIC_1 = b"1TEG"
MAGIC_2 = b"2TEG"

# 1TEG commands
SEARCH_REQ = 0x0B
SEARCH_RESP = 0x0C
LOGIN_REQ = 0x0D
LOGIN_RESP = 0x0E
# 2TEG commands
CMD_CTRL = 0x01
CMD_CTRL_RESP = 0x02
CMD_MEDIA = 0x03
CMD_ACKNAK = 0x04
# control codes (teg.md §5.3)
CTL_LIVE = 0x00
CTL_HEARTBEAT = 0x02
CTL_CLOSE = 0x03
CTL_BRIGHTNESS = 0x06
CTL_CONTRAST = 0x07
CTL_RESOLUTION = 0x04
CTL_FLIP = 0x08
CTL_PTZ = 0x09
CTL_KEYFRAME = 0x0C
CTL_IR = 0x13
CTL_REBOOT = 0x50
_KNOWN_CTLS = frozenset(range(0x01, 0x1B)) | {CTL_REBOOT}

LOGIN_OK = 0
LOGIN_BAD_REQUEST = 1
LOGIN_FULL = 2
LOGIN_WRONG_PASSWORD = 3

STREAM_VIDEO = 0
STREAM_AUDIO = 1

RESOLUTIONS = {0: (320, 240), 1: (640, 480), 2: (1280, 720)}
"""VIDEO_RESOLUTION sub values (chinesium's reading; teg.md gives none)."""
_PTZ_MOVES = {2: (0, 1), 3: (0, -1), 4: (-1, 0), 5: (1, 0)}
RESULT_UNSUPPORTED = 0xFFFF

_HDR = struct.Struct("<4sHH")
_CTRL_HDR = struct.Struct("<4sHHIIIII")  # 28 bytes
_MEDIA_HDR = struct.Struct("<4sHHIHHHHI")  # 24 bytes
_MEDIA_HDR0 = struct.Struct("<4sHHIHHHHIIIHHI")  # 40 bytes: + frame header
_AUDIO_HDR = struct.Struct("<4sHHIHHIII")  # 28 bytes
_SEARCH_RESP = struct.Struct("<4sHHIII8s4s2s2s4s32sHH")  # 76 bytes (ports as BE bytes)
_LOGIN_RESP = struct.Struct("<4sHH12sII4s2s2s4s6sH32sI8s")  # 92 bytes (ports as BE bytes)
_PARAMS = struct.Struct("<HHIHHHHIIIIIIIIIII4sIIIII")  # 84 bytes
_U16BE = struct.Struct(">H")
_U32 = struct.Struct("<I")

ADPCM_BLOCK = 516
_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


@dataclass(slots=True)
class TegCameraConfig:
    """Everything configurable about one emulated TEG camera.

    Ports 0 mean "ephemeral" (the real ports are on :class:`TegCamera`).
    ``loss``/``dup``/``reorder`` are per media packet probabilities,
    ``rx_drop`` the probability of ignoring an incoming datagram. ``resend``
    makes the camera honour NAKs once (beyond the spec: TEG cameras
    reportedly never retransmit). ``frames`` lets cameras share one
    :class:`FrameSource` (default: one shared per process and frame size).
    ``motion`` plays a scripted motion scenario instead (fakecam/motion.py).
    """

    host: str = "127.0.0.1"
    discovery_port: int = 0
    session_port: int = 0
    uid: str = DEFAULT_UID
    token: str = DEFAULT_TOKEN
    fps: float = 15.0
    loss: float = 0.0
    dup: float = 0.0
    reorder: float = 0.0
    rx_drop: float = 0.0
    seed: int = 1
    max_clients: int = 1
    stream_timeout: float = 6.0
    idle_timeout: float = 45.0
    heartbeat_interval: float = 15.0
    chunk: int = 1032
    frame_id_start: int = 0
    discovery_repeat: int = 2
    resend: bool = False
    width: int = 640
    height: int = 480
    audio_interval: float = 0.128
    link_id_base: int = 1
    announce_ip: str | None = None
    allow_non_loopback: bool = False
    frames: FrameSource | None = field(default=None, repr=False, compare=False)
    unsupported_ctls: frozenset[int] = frozenset()
    """Control codes answered with 0xFFFF (e.g. ``{0x09}``: a camera without PTZ)."""
    mute_ctls: frozenset[int] = frozenset()
    """Control codes never answered (a camera that swallows a command)."""
    reboot_downtime: float = 0.3
    """Seconds the camera stays silent after a REBOOT command."""
    dark: bool = False
    """Night mode AUTO sees darkness (grey IR picture)."""
    motion: MotionScript | None = None


@dataclass(slots=True)
class TegStats:
    """Camera-wide counters (all sessions, since start)."""

    frames_sent: int = 0
    packets_sent: int = 0
    packets_dropped: int = 0
    packets_duplicated: int = 0
    audio_sent: int = 0
    logins: int = 0
    rejected_logins: int = 0
    acks: int = 0
    naks: int = 0
    resent: int = 0
    clients: int = 0  # sessions ever created
    discovery_replies: int = 0
    requests_dropped: int = 0
    ignored: int = 0  # garbage, foreign address, wrong link id, unknown commands
    timeouts: int = 0
    errors: int = 0


@dataclass(slots=True)
class SessionCounters:
    """Per-session statistics (teg.md §11 item 12)."""

    addr: tuple[str, int]
    link_id: int
    frames: int = 0
    packets: int = 0
    dropped: int = 0
    audio: int = 0
    acks: int = 0
    naks: int = 0
    resent: int = 0
    end_reason: str = ""

    def line(self) -> str:
        """One human-readable summary line."""
        return (
            f"session {self.addr[0]}:{self.addr[1]} link {self.link_id}: "
            f"frames {self.frames} packets {self.packets} lost {self.dropped} "
            f"audio {self.audio} acks {self.acks} naks {self.naks} resent {self.resent}"
            + (f" ({self.end_reason})" if self.end_reason else "")
        )


class _Client:
    """State of one logged-in client."""

    __slots__ = ("addr", "counters", "history", "last_rx", "last_tx", "link_id", "mask", "t0")

    def __init__(self, addr: tuple[str, int], link_id: int, now: float) -> None:
        self.addr = addr
        self.link_id = link_id
        self.mask = 0
        self.last_rx = now
        self.last_tx = now
        self.t0 = now
        self.counters = SessionCounters(addr, link_id)
        # (stream type, frame id) -> packets, only when resend is enabled
        self.history: dict[tuple[int, int], list[bytes]] = {}


@lru_cache(maxsize=4)
def _shared_frames(width: int, height: int) -> FrameSource:
    return FrameSource(width=width, height=height)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.IPv4Address(host) in _LOOPBACK
    except ValueError:
        return False


def build_ctrl(cmd: int, link_id: int, ctl: int, sub: int, payload: bytes = b"") -> bytes:
    """A 2TEG CTRL (cmd 1) or CTRL_RESP (cmd 2) message (teg.md §5.1)."""
    n = len(payload)
    return _CTRL_HDR.pack(MAGIC_2, cmd, 20 + n, link_id, ctl, sub, n, 0) + payload


class _Endpoint(asyncio.DatagramProtocol):
    """Forwards datagrams to a camera handler; never raises."""

    def __init__(self, cam: TegCamera, discovery: bool) -> None:
        self._cam = cam
        self._discovery = discovery

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        cam = self._cam
        if cam.silent:
            return
        try:
            peer = (str(addr[0]), int(addr[1]))
            if cam.config.rx_drop and cam.rng.random() < cam.config.rx_drop:
                cam.stats.requests_dropped += 1
                return
            if self._discovery:
                cam.handle_discovery(data, peer)
            else:
                cam.handle_session(data, peer)
        except Exception:
            cam.stats.errors += 1
            _LOGGER.exception("TEG %s: error handling datagram from %s", cam.config.uid, addr)

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("TEG %s: socket error %s", self._cam.config.uid, exc)


class TegCamera:
    """One emulated TEG camera (see module docstring and /tmp/fakecam_api.md)."""

    def __init__(self, config: TegCameraConfig | None = None) -> None:
        """Validate ``config``; nothing is bound until :meth:`start`."""
        cfg = config or TegCameraConfig()
        if not cfg.allow_non_loopback and not _is_loopback(cfg.host):
            raise ValueError(
                f"refusing to bind {cfg.host!r}: not in 127.0.0.0/8 (allow_non_loopback=False)"
            )
        if not 1 <= cfg.chunk <= 65000:
            raise ValueError("chunk must be in 1..65000")
        if cfg.fps <= 0:
            raise ValueError("fps must be > 0")
        if cfg.max_clients < 1:
            raise ValueError("max_clients must be >= 1")
        self.config = cfg
        self.stats = TegStats()
        self.rng = random.Random(cfg.seed)
        self.frames: FrameSource | MotionFrameSource
        if cfg.frames is None and cfg.motion is not None:
            self.frames = MotionFrameSource(
                cfg.motion, width=cfg.width, height=cfg.height, fps=cfg.fps
            )
        else:
            self.frames = cfg.frames or _shared_frames(cfg.width, cfg.height)
        self.silent = False
        self.finished_sessions: list[SessionCounters] = []
        self.discovery_port = 0
        self.session_port = 0
        self._token = cfg.token.encode("latin-1")[:12].ljust(12, b"\x00")
        self._uid = cfg.uid.encode("latin-1")[:32]
        self._ip_bytes = socket.inet_aton(cfg.announce_ip or cfg.host)
        self._clients: dict[tuple[str, int], _Client] = {}
        self._frame_id = cfg.frame_id_start & 0xFFFF
        self.controls = CameraControls(cfg.width, cfg.height, dark=cfg.dark)
        """PTZ / IR / flip / resolution state and the picture they give (fakecam.controls)."""
        self.reboots = 0
        self._reboot_task: asyncio.Task[None] | None = None
        self._brightness = 50
        self._contrast = 50
        self._disc_tr: asyncio.DatagramTransport | None = None
        self._sess_tr: asyncio.DatagramTransport | None = None
        self._frame_h: asyncio.TimerHandle | None = None
        self._audio_h: asyncio.TimerHandle | None = None
        self._hk_h: asyncio.TimerHandle | None = None
        self._next_frame_at = 0.0
        self._buf = bytearray(40 + cfg.chunk)
        self._bmv = memoryview(self._buf)
        self._audio_blocks = tone_blocks(TONE_HZ)
        self._audio_n = 0
        self._running = False

    # ------------------------------------------------------------------ API

    @property
    def client_count(self) -> int:
        """Number of logged-in clients."""
        return len(self._clients)

    @property
    def sessions(self) -> list[SessionCounters]:
        """Counters of the active sessions."""
        return [c.counters for c in self._clients.values()]

    @property
    def client_addresses(self) -> list[tuple[str, int]]:
        """Announced IP:port of every logged-in client."""
        return list(self._clients)

    def client_mask(self, addr: tuple[str, int]) -> int | None:
        """Stream mask of the client at ``addr`` (None if not logged in)."""
        c = self._clients.get(addr)
        return None if c is None else c.mask

    @property
    def flip(self) -> int:
        """Current flip bits (bit0 vertical, bit1 mirror)."""
        return self.controls.orientation_bits

    async def start(self) -> None:
        """Bind both ports and start the timers."""
        if self._running:
            return
        loop = asyncio.get_running_loop()
        cfg = self.config
        tr, _ = await loop.create_datagram_endpoint(
            lambda: _Endpoint(self, discovery=True), local_addr=(cfg.host, cfg.discovery_port)
        )
        self._disc_tr = tr
        self.discovery_port = int(tr.get_extra_info("sockname")[1])
        try:
            await self._bind_session(cfg.session_port)
        except BaseException:
            tr.close()
            raise
        self._running = True
        now = loop.time()
        self._next_frame_at = now
        self._schedule_frame(loop)
        self._audio_h = loop.call_later(cfg.audio_interval, self._audio_tick)
        self._hk_h = loop.call_later(self._housekeeping_interval(), self._housekeeping)

    async def stop(self) -> None:
        """Send CLOSE to every client, unbind, stop timers."""
        if not self._running:
            return
        for c in list(self._clients.values()):
            self._drop(c, "camera stopped", send_close=True)
        self._running = False
        if self._reboot_task is not None:
            self._reboot_task.cancel()
        for h in (self._frame_h, self._audio_h, self._hk_h):
            if h is not None:
                h.cancel()
        self._frame_h = self._audio_h = self._hk_h = None
        for tr in (self._disc_tr, self._sess_tr):
            if tr is not None:
                tr.close()
        self._disc_tr = self._sess_tr = None
        await asyncio.sleep(0)

    def time_out_clients(self) -> int:
        """Drop every client now, with CLOSE, as a stream timeout would; returns how many.

        Models a camera that times out a stale slot just after its client came back.
        """
        clients = list(self._clients.values())
        for c in clients:
            self.stats.timeouts += 1
            self._drop(c, "timed out (forced)", send_close=True)
        return len(clients)

    async def reboot(self, new_session_port: bool = False) -> None:
        """Forget every client without telling them; optionally move the session port."""
        for c in list(self._clients.values()):
            self._drop(c, "camera rebooted", send_close=False)
        self._frame_id = self.config.frame_id_start & 0xFFFF
        self.controls.reset()
        if new_session_port and self._sess_tr is not None:
            old = self.session_port
            self._sess_tr.close()
            self._sess_tr = None
            await asyncio.sleep(0)
            if self.config.session_port == 0:
                for _ in range(5):
                    tr = await self._bind_session(0)
                    if self.session_port != old:
                        break
                    tr.close()
                    await asyncio.sleep(0)
            else:
                await self._bind_session(old + 1 if old < 65535 else 1024)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def describe(self) -> str:
        """The one-line banner the CLI prints."""
        h = self.config.host
        return (
            f"TEG camera {self.config.uid} on {h}:{self.discovery_port} "
            f"session {h}:{self.session_port}"
        )

    # ------------------------------------------------------------ internals

    async def _bind_session(self, port: int) -> asyncio.DatagramTransport:
        loop = asyncio.get_running_loop()
        tr, _ = await loop.create_datagram_endpoint(
            lambda: _Endpoint(self, discovery=False), local_addr=(self.config.host, port)
        )
        self._sess_tr = tr
        self.session_port = int(tr.get_extra_info("sockname")[1])
        return tr

    def _housekeeping_interval(self) -> float:
        cfg = self.config
        return max(0.02, min(0.25, cfg.stream_timeout / 8, cfg.heartbeat_interval / 4))

    def _send(self, data: bytes | memoryview, addr: tuple[str, int]) -> None:
        tr = self._sess_tr
        if tr is not None and not tr.is_closing():
            tr.sendto(data, addr)

    def _next_id(self) -> int:
        fid = self._frame_id
        self._frame_id = (fid + 1) & 0xFFFF
        return fid

    def _params(self, mask: int) -> bytes:
        cfg = self.config
        return _PARAMS.pack(
            0, 0, 0,  # device type, sub-type, features
            1, 1, 0, 0,  # channels
            *self.controls.size, round(cfg.fps), self._brightness, self._contrast,
            0, self.controls.orientation_bits, 0, 0, 0, 0,  # light, flip, codec, enc idx, ptz
            b"MJPG", 1, 8000, 16, 0x11, mask,
        )  # fmt: skip

    # ---- discovery (teg.md §3)

    def handle_discovery(self, data: bytes, addr: tuple[str, int]) -> None:
        """Answer a SEARCH_REQ with ``discovery_repeat`` unicast copies."""
        n = len(data)
        if n < 8:
            self.stats.ignored += 1
            return
        magic, cmd, dlen = _HDR.unpack_from(data)
        if magic != MAGIC_1 or cmd != SEARCH_REQ or dlen + 8 > n:
            self.stats.ignored += 1
            return
        if not self.config.allow_non_loopback and not _is_loopback(addr[0]):
            self.stats.ignored += 1
            return
        reply = self.search_response()
        tr = self._disc_tr
        if tr is None:
            return
        for _ in range(max(1, self.config.discovery_repeat)):
            tr.sendto(reply, addr)
        self.stats.discovery_replies += 1

    def search_response(self) -> bytes:
        """The 76-byte SEARCH_RESP for the current session port (teg.md §3.2)."""
        return _SEARCH_RESP.pack(
            MAGIC_1, SEARCH_RESP, 0x44, 1, 1, 0, b"", b"", b"",
            _U16BE.pack(self.session_port), self._ip_bytes, self._uid, 0, 0,
        )  # fmt: skip

    # ---- session port

    def handle_session(self, data: bytes, addr: tuple[str, int]) -> None:
        """Dispatch one datagram that arrived on the session port."""
        n = len(data)
        if n < 8:
            self.stats.ignored += 1
            return
        magic, cmd, dlen = _HDR.unpack_from(data)
        end = 8 + dlen
        if end > n:
            self.stats.ignored += 1
            return
        if magic == MAGIC_1:
            if cmd == LOGIN_REQ:
                self._handle_login(data, dlen, addr)
            else:
                self.stats.ignored += 1
            return
        if magic != MAGIC_2 or dlen < 4:
            self.stats.ignored += 1
            return
        c = self._clients.get(addr)
        if c is None or _U32.unpack_from(data, 8)[0] != c.link_id:
            self.stats.ignored += 1
            return
        c.last_rx = asyncio.get_running_loop().time()
        if cmd == CMD_CTRL and dlen >= 20:
            self._handle_ctrl(c, data, end)
        elif cmd == CMD_ACKNAK and dlen >= 8:
            self._handle_acknak(c, data, 12, end)
        else:
            self.stats.ignored += 1

    def _login_resp(self, result: int, link_id: int, req: bytes, online: int) -> bytes:
        ok = result == LOGIN_OK
        return _LOGIN_RESP.pack(
            MAGIC_1, LOGIN_RESP, 0x54, b"", result, link_id if ok else 0,
            req[20:24], req[24:26], _U16BE.pack(self.session_port), self._ip_bytes, b"",
            online, self._uid,
            1 if ok else 0, b"",
        )  # fmt: skip

    def _handle_login(self, data: bytes, dlen: int, src: tuple[str, int]) -> None:
        if dlen < 37:  # must reach the end of the token (offset 45)
            self.stats.ignored += 1
            return
        loop = asyncio.get_running_loop()
        stats = self.stats
        pub_ip, pub_port = data[20:24], _U16BE.unpack_from(data, 24)[0]
        lan_port, lan_ip = _U16BE.unpack_from(data, 26)[0], data[28:32]
        target: tuple[str, int] | None = None
        if pub_ip != b"\x00\x00\x00\x00" and pub_port:
            target = (socket.inet_ntoa(pub_ip), pub_port)
        elif lan_ip != b"\x00\x00\x00\x00" and lan_port:
            target = (socket.inet_ntoa(lan_ip), lan_port)
        if (
            target is not None
            and not self.config.allow_non_loopback
            and not _is_loopback(target[0])
        ):
            target = None
        if target is None:
            result = LOGIN_BAD_REQUEST
        elif data[33:45] != self._token:
            result = LOGIN_WRONG_PASSWORD
        elif target not in self._clients and len(self._clients) >= self.config.max_clients:
            result = LOGIN_FULL
        else:
            result = LOGIN_OK
        if result != LOGIN_OK or target is None:
            stats.rejected_logins += 1
            _LOGGER.debug("TEG %s: login from %s refused (%d)", self.config.uid, src, result)
            self._send(self._login_resp(result, 0, data, len(self._clients)), src)
            return
        c = self._clients.get(target)
        if c is None:
            used = {x.link_id for x in self._clients.values()}
            link = self.config.link_id_base
            while link in used:
                link += 1
            c = _Client(target, link, loop.time())
            self._clients[target] = c
            stats.clients += 1
            _LOGGER.info("TEG %s: client %s:%d logged in, link %d", self.config.uid, *target, link)
        c.last_rx = loop.time()
        stats.logins += 1
        # params first, then the login reply (teg.md §4.2)
        self._send(build_ctrl(CMD_CTRL_RESP, c.link_id, CTL_LIVE, c.mask, self._params(c.mask)),
                   target)  # fmt: skip
        self._send(self._login_resp(LOGIN_OK, c.link_id, data, len(self._clients)), src)
        c.last_tx = loop.time()

    def _handle_ctrl(self, c: _Client, data: bytes, end: int) -> None:
        _m, _cmd, _dl, _link, ctl, sub, plen, ack_flag = _CTRL_HDR.unpack_from(data)
        payload = data[28 : min(28 + plen, end)] if plen else b""
        if ack_flag == 1 and len(data) > end + 4:
            self._handle_acknak(c, data, end, len(data))
        link = c.link_id
        if ctl == CTL_LIVE:
            req = _U32.unpack_from(payload, 4)[0] if len(payload) >= 8 else 0
            old = c.mask
            if sub == 1:
                c.mask = (old & ~3) | req
            elif sub == 0:
                c.mask = old & ~req
            if c.mask & 3 and not old & 3:
                c.t0 = asyncio.get_running_loop().time()
            self._send(build_ctrl(CMD_CTRL_RESP, link, CTL_LIVE, c.mask, self._params(c.mask)),
                       c.addr)  # fmt: skip
        elif ctl in (CTL_HEARTBEAT, CTL_KEYFRAME):
            return
        elif ctl == CTL_CLOSE:
            self._send(build_ctrl(CMD_CTRL_RESP, link, CTL_CLOSE, 1), c.addr)
            self._drop(c, "client closed", send_close=False)
        elif ctl in self.config.mute_ctls:
            return
        elif ctl in self.config.unsupported_ctls:
            self._send(build_ctrl(CMD_CTRL_RESP, link, ctl, RESULT_UNSUPPORTED), c.addr)
        elif ctl == CTL_REBOOT:
            self._start_reboot()
        elif ctl in _KNOWN_CTLS:
            result = self._control(ctl, sub)
            self._send(build_ctrl(CMD_CTRL_RESP, link, ctl, result), c.addr)
        else:
            self._send(build_ctrl(CMD_CTRL_RESP, link, ctl, RESULT_UNSUPPORTED), c.addr)

    def _control(self, ctl: int, sub: int) -> int:
        """Apply a generic control code; returns the CTRL_RESP result (0 = ok)."""
        ctrl = self.controls
        if ctl == CTL_FLIP:
            ctrl.set_orientation(bool(sub & 1), bool(sub & 2))
        elif ctl == CTL_BRIGHTNESS:
            self._brightness = sub
        elif ctl == CTL_CONTRAST:
            self._contrast = sub
        elif ctl == CTL_PTZ:
            if sub in _PTZ_MOVES:
                ctrl.ptz_start(*_PTZ_MOVES[sub])
            elif sub == 0:
                ctrl.ptz_stop(pan=False)
            elif sub == 1:
                ctrl.ptz_stop(tilt=False)
            else:
                return 1  # patrols are not emulated
        elif ctl == CTL_IR:
            if sub == 3:
                ctrl.set_night("on")
            elif sub == 4:
                ctrl.set_night("off")
            else:
                return 1
        elif ctl == CTL_RESOLUTION:
            size = RESOLUTIONS.get(sub)
            if size is None:
                return 1
            ctrl.size = size
        return 0

    def _start_reboot(self) -> None:
        """REBOOT (sent 3x): forget every client, stay silent for a while."""
        if self._reboot_task is not None and not self._reboot_task.done():
            return
        self.reboots += 1

        async def _reboot() -> None:
            await self.reboot()
            self.silent = True
            try:
                await asyncio.sleep(self.config.reboot_downtime)
            finally:
                self.silent = False

        self._reboot_task = asyncio.get_running_loop().create_task(_reboot())

    def _handle_acknak(self, c: _Client, data: bytes, off: int, end: int) -> None:
        """ACK/NAK body at ``off``: rate u8, 2 zero, count u8, 8-byte items."""
        if off + 4 > end:
            return
        count = data[off + 3]
        pos = off + 4
        for _ in range(count):
            if pos + 8 > end:
                break
            if data[pos] == 1:
                c.counters.acks += 1
                self.stats.acks += 1
            else:
                c.counters.naks += 1
                self.stats.naks += 1
                if self.config.resend:
                    stype, fid, idx = struct.unpack_from("<HHH", data, pos + 2)
                    pkts = c.history.get((stype, fid))
                    if pkts is not None and idx < len(pkts) and pkts[idx]:
                        self._send(pkts[idx], c.addr)
                        pkts[idx] = b""  # resend once only
                        c.counters.resent += 1
                        self.stats.resent += 1
            pos += 8

    def _drop(self, c: _Client, reason: str, *, send_close: bool) -> None:
        if self._clients.get(c.addr) is not c:
            return
        if send_close:
            self._send(build_ctrl(CMD_CTRL, c.link_id, CTL_CLOSE, 1), c.addr)
        del self._clients[c.addr]
        c.counters.end_reason = reason
        self.finished_sessions.append(c.counters)
        _LOGGER.info("TEG %s: %s", self.config.uid, c.counters.line())

    # ---- timers

    def _schedule_frame(self, loop: asyncio.AbstractEventLoop) -> None:
        self._next_frame_at += 1.0 / self.config.fps
        now = loop.time()
        if self._next_frame_at < now - 1.0 / self.config.fps:
            self._next_frame_at = now  # fell behind: skip, do not burst
        self._frame_h = loop.call_at(self._next_frame_at, self._frame_tick)

    def _frame_tick(self) -> None:
        if not self._running:
            return
        loop = asyncio.get_running_loop()
        try:
            if not self.silent and self._sess_tr is not None:
                streaming = [c for c in self._clients.values() if c.mask & 1]
                if streaming:
                    frame = self.controls.render(self.frames.next_frame())
                    fid = self._next_id()
                    now = loop.time()
                    for c in streaming:
                        self._send_video(c, frame, fid, now)
        except Exception:
            self.stats.errors += 1
            _LOGGER.exception("TEG %s: frame tick failed", self.config.uid)
        self._schedule_frame(loop)

    def _send_video(self, c: _Client, frame: bytes, fid: int, now: float) -> None:
        cfg = self.config
        tr = self._sess_tr
        assert tr is not None
        sendto = tr.sendto
        addr = c.addr
        link = c.link_id
        total = len(frame)
        chunk = cfg.chunk
        n = (total + chunk - 1) // chunk
        mv = memoryview(frame)
        buf, bmv = self._buf, self._bmv
        ts = int((now - c.t0) * 1000) & 0xFFFFFFFF
        rng = self.rng
        loss, dup = cfg.loss, cfg.dup
        width, height = self.controls.size
        order: range | list[int] = range(n)
        if cfg.reorder:
            lst = list(range(n))
            for i in range(n - 1):
                if rng.random() < cfg.reorder:
                    j = min(n - 1, i + 1 + rng.randrange(3))
                    lst[i], lst[j] = lst[j], lst[i]
            order = lst
        history: list[bytes] | None = None
        if cfg.resend:
            history = [b""] * n
            c.history[(STREAM_VIDEO, fid)] = history
            if len(c.history) > 16:
                del c.history[next(iter(c.history))]
        sent = dropped = dups = 0
        for idx in order:
            off = idx * chunk
            plen = min(chunk, total - off)
            if idx == 0:
                _MEDIA_HDR0.pack_into(
                    buf, 0, MAGIC_2, CMD_MEDIA, 32 + plen, link, 1, STREAM_VIDEO, fid, 0, plen,
                    total, n, width, height, ts,
                )  # fmt: skip
                stop = 40 + plen
                buf[40:stop] = mv[off : off + plen]
            else:
                _MEDIA_HDR.pack_into(
                    buf, 0, MAGIC_2, CMD_MEDIA, 16 + plen, link, 1, STREAM_VIDEO, fid, idx, plen
                )
                stop = 24 + plen
                buf[24:stop] = mv[off : off + plen]
            pkt = bmv[:stop]
            if history is not None:
                history[idx] = bytes(pkt)
            if loss and rng.random() < loss:
                dropped += 1
                continue
            sendto(pkt, addr)
            sent += 1
            if dup and rng.random() < dup:
                sendto(pkt, addr)
                dups += 1
        st = self.stats
        st.frames_sent += 1
        st.packets_sent += sent + dups
        st.packets_dropped += dropped
        st.packets_duplicated += dups
        cc = c.counters
        cc.frames += 1
        cc.packets += sent + dups
        cc.dropped += dropped
        c.last_tx = now

    def _audio_tick(self) -> None:
        if not self._running:
            return
        loop = asyncio.get_running_loop()
        try:
            if not self.silent and self._sess_tr is not None:
                listening = [c for c in self._clients.values() if c.mask & 2]
                if listening:
                    fid = self._next_id()
                    block = self._audio_blocks[self._audio_n % len(self._audio_blocks)]
                    self._audio_n += 1
                    now = loop.time()
                    for c in listening:
                        ts = int((now - c.t0) * 1000) & 0xFFFFFFFF
                        hdr = _AUDIO_HDR.pack(
                            MAGIC_2, CMD_MEDIA, 20 + ADPCM_BLOCK, c.link_id, 1, STREAM_AUDIO,
                            fid, ADPCM_BLOCK, ts,
                        )  # fmt: skip
                        pkt = hdr + block
                        if self.config.loss and self.rng.random() < self.config.loss:
                            self.stats.packets_dropped += 1
                            c.counters.dropped += 1
                            continue
                        self._send(pkt, c.addr)
                        self.stats.audio_sent += 1
                        self.stats.packets_sent += 1
                        c.counters.audio += 1
                        c.counters.packets += 1
                        c.last_tx = now
        except Exception:
            self.stats.errors += 1
            _LOGGER.exception("TEG %s: audio tick failed", self.config.uid)
        self._audio_h = loop.call_later(self.config.audio_interval, self._audio_tick)

    def _housekeeping(self) -> None:
        if not self._running:
            return
        loop = asyncio.get_running_loop()
        try:
            if not self.silent:
                now = loop.time()
                cfg = self.config
                for c in list(self._clients.values()):
                    limit = cfg.stream_timeout if c.mask & 3 else cfg.idle_timeout
                    if now - c.last_rx > limit:
                        self.stats.timeouts += 1
                        self._drop(c, f"timed out after {limit:g} s", send_close=True)
                    elif now - c.last_tx >= cfg.heartbeat_interval:
                        payload = struct.pack(
                            "<HHI", len(self._clients), min(round(cfg.fps), 0xFFFF), 0
                        )
                        self._send(build_ctrl(CMD_CTRL, c.link_id, CTL_HEARTBEAT, 0, payload),
                                   c.addr)  # fmt: skip
                        c.last_tx = now
        except Exception:
            self.stats.errors += 1
            _LOGGER.exception("TEG %s: housekeeping failed", self.config.uid)
        self._hk_h = loop.call_later(self._housekeeping_interval(), self._housekeeping)


def config_fields() -> list[str]:
    """Names of all :class:`TegCameraConfig` fields (for CLIs and docs)."""
    return [f.name for f in fields(TegCameraConfig)]
