"""TEG (IWFCam) live session: login, live video, keep-alive, close (teg.md §4, §5, §7).

One connected UDP socket carries everything. The datagram handler is the hot
path: media packets go straight to the :class:`Reassembler` without building
message objects; everything else goes through :func:`codec.decode_datagram`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import logging
import socket
import time
from typing import Any

from ..controls import Capability, NightMode, PtzDirection
from ..errors import (
    AuthenticationError,
    CameraConnectionError,
    CameraFullError,
    CameraRejectedError,
    CameraTimeoutError,
    ChinesiumError,
    MalformedPacketError,
    SessionClosedError,
    UnsupportedCommandError,
)
from ..media.adpcm import AdpcmError, decode_block
from ..model import AudioChunk, Frame
from ..session import CameraSession
from ..trace import TraceRecorder
from .codec import (
    AckItem,
    AckPack,
    Ctl,
    Ctrl,
    CtrlResp,
    LoginRequest,
    LoginResponse,
    LoginResult,
    MediaParams,
    StreamMask,
    decode_datagram,
    validate_token,
)
from .reassembly import Reassembler

_LOGGER = logging.getLogger(__name__)

_MEDIA_PREFIX = b"2TEG\x03\x00"
LOGIN_RETRY = 0.5
"""Seconds between login rounds (§7.2)."""
LOGIN_PAIR_GAP = 0.02
"""The login request is sent twice this far apart (chinesium)."""
LIVE_RETRY = 0.5
"""Seconds between LIVE requests until params or media arrive (§7.3)."""
RCVBUF = 1 << 20
"""Receive buffer asked for (the kernel may cap it at net.core.rmem_max)."""
_REFUSED_LIMIT = 3
"""ICMP port-unreachable answers to login before giving up early."""

TEG_CAPABILITIES: frozenset[Capability] = frozenset(
    {
        Capability.PTZ,
        Capability.NIGHT_MODE,
        Capability.FLIP,
        Capability.MIRROR,
        Capability.RESOLUTION,
        Capability.REBOOT,
    }
)
"""What the TEG control codes offer (teg.md §5.3). The camera reports no feature
list we can read, so a code it answers with 0xFFFF ("unsupported") is removed
from the session's capabilities at run time."""
TEG_RESOLUTIONS: dict[str, int] = {"320x240": 0, "640x480": 1, "1280x720": 2}
"""VIDEO_RESOLUTION (ctl 4) sub values: our reading, not in teg.md (see protocol notes)."""
TEG_NIGHT_MODES: tuple[NightMode, ...] = (NightMode.ON, NightMode.OFF)
"""IR LED ctl 0x13: sub 3 = on, sub 4 = off; no "auto" code is known."""
IR_ON = 3
IR_OFF = 4
PTZ_CODES: dict[PtzDirection, int] = {
    PtzDirection.UP: 2,
    PtzDirection.DOWN: 3,
    PtzDirection.LEFT: 4,
    PtzDirection.RIGHT: 5,
}
PTZ_STOP_V = 0
PTZ_STOP_H = 1
RESULT_OK = 0
RESULT_UNSUPPORTED = 0xFFFF
COMMAND_RETRY = 0.5
"""Seconds between re-sends of a control code until its CTRL_RESP arrives."""
REBOOT_REPEAT = 3
REBOOT_GAP = 0.2
"""REBOOT is sent 3 times 200 ms apart (teg.md §5.3)."""
_CAPABILITY_OF_CTL: dict[int, Capability] = {
    Ctl.PTZ: Capability.PTZ,
    Ctl.IR_LED: Capability.NIGHT_MODE,
    Ctl.VIDEO_RESOLUTION: Capability.RESOLUTION,
}


class _Protocol(asyncio.DatagramProtocol):
    """Forwards socket events to the session (``datagram_received`` is bound directly)."""

    def __init__(self, session: TegSession) -> None:
        self.datagram_received = session._on_datagram  # type: ignore[method-assign]
        self._session = session

    def error_received(self, exc: Exception) -> None:
        self._session._on_error(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._session._on_connection_lost(exc)


class TegSession(CameraSession):
    """A live session with one TEG camera (``info.host:info.port`` = session port).

    ``credentials.password`` is the camera's 12-character login token
    (``None`` = the no-password token ``9e8040834b3a``).
    """

    live_mask: int = StreamMask.VIDEO
    """Streams requested with LIVE (bit 0 video, bit 1 audio). The audio bit is
    added while an audio listener exists (:meth:`add_audio_listener`)."""
    _transport: asyncio.DatagramTransport | None = None
    _task: asyncio.Task[None] | None = None
    _ended = False
    _unsupported: frozenset[Capability] = frozenset()
    """Capabilities the camera answered with 0xFFFF ("unsupported")."""
    trace: TraceRecorder | None = None
    """Set before :meth:`start` to record the first datagrams each way (token redacted)."""

    def _setup(self) -> None:
        self.link_id = 1
        self.params: MediaParams | None = None
        self.local_addr: tuple[str, int] | None = None
        self._reasm = Reassembler(self.stats, track_missing=self.options.resend)
        self._seq = 0
        self._login: asyncio.Future[int] | None = None
        self._live: asyncio.Future[None] | None = None
        self._live_ok = False
        self._refused = 0
        self._failure: ChinesiumError | None = None
        self._ended = False
        self._rate = 10
        self._poll_timer: asyncio.TimerHandle | None = None
        self._pair_timer: asyncio.TimerHandle | None = None
        self._unsupported = frozenset()
        self._command_lock = asyncio.Lock()
        self._command: tuple[int, asyncio.Future[int]] | None = None
        self._audio_seq = 0
        self._last_audio_id: int | None = None

    # -- CameraSession hooks --------------------------------------------------------------

    async def _open(self) -> None:
        self._setup()
        try:
            token = validate_token(self.credentials.password)
        except ValueError as err:
            raise AuthenticationError(str(err)) from err
        if self.trace is not None:
            self.trace.redact(token)
            self.trace.device_id(self.info.uid)
        loop = asyncio.get_running_loop()
        opts = self.options
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self),
                local_addr=(opts.local_host, opts.local_port),
                remote_addr=(self.info.host, self.info.port),
            )
        except OSError as err:
            raise CameraConnectionError(
                f"cannot open UDP socket to {self.info.host}:{self.info.port}: {err}"
            ) from err
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # A frame is a burst of ~20-130 datagrams; a roomy buffer rides out loop stalls.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        ip, port = transport.get_extra_info("sockname")[:2]
        if ip in ("0.0.0.0", ""):  # noqa: S104 - detecting an unbound address
            ip = _route_ip(self.info.host)
        self.local_addr = (ip, port)
        self._set_facts(local_port=port)
        request = LoginRequest(client_ip=ip, client_port=port, token=token).encode()

        self._login = loop.create_future()
        self.link_id = await self._retry(
            self._login,
            lambda: self._send_pair(request),
            LOGIN_RETRY,
            f"no login answer from {self.info.host}:{self.info.port}",
        )
        live = Ctrl.live(self.link_id, self._request_mask()).encode()
        self._live = loop.create_future()
        if self._live_ok:
            self._live.set_result(None)
        await self._retry(
            self._live,
            lambda: self._send(live),
            LIVE_RETRY,
            "camera accepted the login but sent no video",
        )
        self._task = loop.create_task(self._keepalive(), name="teg-keepalive")

    async def _close(self) -> None:
        for name in ("_poll_timer", "_pair_timer"):
            timer = getattr(self, name, None)
            setattr(self, name, None)
            if timer is not None:
                timer.cancel()
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        transport, self._transport = self._transport, None
        if transport is None or transport.is_closing():
            self._release()
            return
        login = self._login
        if (
            login is not None
            and login.done()
            and not login.cancelled()
            and login.exception() is None
        ):
            # Stop video twice 15 ms apart, then CLOSE twice 10 ms apart (§7.6).
            stop = Ctrl.live(self.link_id, StreamMask.NONE).encode()
            bye = Ctrl.close(self.link_id).encode()
            with contextlib.suppress(OSError):
                transport.sendto(stop)
                await asyncio.sleep(0.015)
                transport.sendto(stop)
                transport.sendto(bye)
                await asyncio.sleep(0.01)
                transport.sendto(bye)
        transport.close()
        self._release()

    def _release(self) -> None:
        """Drop references that would keep the ended session alive in cycles.

        The failure reason (and the login/live futures holding it) carries a
        traceback whose frames reference this session; partial frames pin
        datagram buffers. ``_ended`` keeps the datagram handler shut.
        """
        self._ended = True
        self._failure = None
        self._login = self._live = None
        reasm: Reassembler | None = getattr(self, "_reasm", None)
        if reasm is not None:
            reasm.clear()

    # -- audio (teg.md §5.4-5.5) ---------------------------------------------------------

    @property
    def supports_audio(self) -> bool:
        """TEG cameras send IMA-ADPCM audio (8 kHz mono) when asked with mask bit 1."""
        return True

    def _request_mask(self) -> int:
        if self._audio_listeners:
            return self.live_mask | StreamMask.AUDIO
        return self.live_mask

    def _audio_wanted_changed(self, wanted: bool) -> None:
        # Sub 1 sets bits 0-1 to the mask sent: adding or dropping the audio bit.
        # The keep-alive re-sends LIVE with the same mask every keepalive_interval.
        if self.connected and not self._ended:
            self._send(Ctrl.live(self.link_id, self._request_mask()).encode())

    def _on_audio(self, data: bytes) -> None:
        """One audio MEDIA packet: a single IMA-ADPCM block (teg.md §5.5)."""
        if len(data) < 28:
            return
        fid = int.from_bytes(data[16:20], "little")
        if fid == self._last_audio_id:
            return  # duplicate
        data_len = int.from_bytes(data[6:8], "little")
        plen = int.from_bytes(data[20:24], "little")
        end = 8 + data_len
        start = end - plen
        if start < 28 or end > len(data):
            return
        try:
            pcm = decode_block(data[start:end])
        except AdpcmError:
            self.stats.malformed += 1
            return
        self._last_audio_id = fid
        self._audio_seq += 1
        ts = int.from_bytes(data[24:28], "little")
        self._deliver_audio(AudioChunk(pcm, 8000, time.time(), self._audio_seq, ts))

    # -- open helpers ---------------------------------------------------------------------

    async def _retry[T](
        self, fut: asyncio.Future[T], send: Callable[[], None], interval: float, what: str
    ) -> T:
        """Call ``send()`` every ``interval`` s until ``fut`` resolves or connect_timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.connect_timeout
        while not fut.done():
            if self._failure is not None:
                raise self._failure
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise CameraTimeoutError(what)
            send()
            await asyncio.wait([fut], timeout=min(interval, remaining))
        if self._failure is not None:
            raise self._failure
        return fut.result()

    def _send_pair(self, data: bytes) -> None:
        self._send(data)
        if self._pair_timer is not None:
            self._pair_timer.cancel()
        self._pair_timer = asyncio.get_running_loop().call_later(LOGIN_PAIR_GAP, self._send, data)

    def _send(self, data: bytes) -> None:
        transport = self._transport
        if self.trace is not None:
            self.trace.record("tx", data)
        if transport is not None and not transport.is_closing():
            try:
                transport.sendto(data)
            except OSError as err:  # pragma: no cover - depends on the OS
                _LOGGER.debug("send failed: %s", err)

    # -- keep-alive and silence watchdog ------------------------------------------------

    async def _keepalive(self) -> None:
        """Send keep-alives and watch for a silent camera (one task per session).

        Keep-alive = the vendor's ctl-2 heartbeat *and* a repeated LIVE request.
        Any datagram resets the camera's 6 s timer (§5.7), but only the LIVE
        re-send is confirmed on real TEG cameras (chinesium streams for hours
        re-sending LIVE every 2 s; Delphi does the same); the heartbeat is what
        the vendor client sends and carries our receive rate. LIVE also re-arms
        video if the camera ever lost our stream mask. Both are tiny.
        """
        loop = asyncio.get_running_loop()
        opts = self.options
        tick = max(0.02, min(0.5, opts.keepalive_interval, opts.silence_timeout / 4))
        stats = self.stats
        seen = stats.packets
        last_rx = last_ka = loop.time()
        frames_at_ka = stats.frames_ok
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            if stats.packets != seen:
                seen = stats.packets
                last_rx = now
            elif now - last_rx >= opts.silence_timeout:
                self._fail(CameraTimeoutError(f"camera silent for {now - last_rx:.1f} s"))
                return
            if now - last_ka >= opts.keepalive_interval:
                fps = (stats.frames_ok - frames_at_ka) / (now - last_ka)
                self._rate = max(1, min(255, round(fps)))
                frames_at_ka = stats.frames_ok
                last_ka = now
                self._send(Ctrl.heartbeat(self.link_id, self._rate).encode())
                self._send(Ctrl.live(self.link_id, self._request_mask()).encode())

    def _fail(self, err: ChinesiumError) -> None:
        """End the session because of ``err`` (camera/network side)."""
        if self._ended:
            return
        if self._failure is None:
            self._failure = err
        for fut in (self._login, self._live):
            if fut is not None and not fut.done():
                # Wake _retry, which raises self._failure itself. (Cancelling keeps the
                # error out of the future: err -> traceback -> _retry frame -> fut -> err
                # would be a reference cycle holding the session.)
                fut.cancel()
        if self._started:
            _LOGGER.debug("TEG session %s lost: %s", self.info.uid, err)
            self._lost(err)
            task = self._task
            if task is not None and task is not asyncio.current_task():
                task.cancel()  # awaited by _close

    # -- controls (teg.md §5.3) -----------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[Capability]:
        """TEG control codes, minus those this camera answered "unsupported"."""
        return TEG_CAPABILITIES - self._unsupported

    @property
    def resolutions(self) -> tuple[str, ...]:
        """VIDEO_RESOLUTION values (see :data:`TEG_RESOLUTIONS`)."""
        if Capability.RESOLUTION not in self.capabilities:
            return ()
        return tuple(TEG_RESOLUTIONS)

    @property
    def night_modes(self) -> tuple[NightMode, ...]:
        """IR LED on/off."""
        return TEG_NIGHT_MODES if Capability.NIGHT_MODE in self.capabilities else ()

    async def control(self, ctl: int, sub: int = 0, payload: bytes = b"") -> int:
        """Send CTRL(ctl, sub) until its CTRL_RESP arrives; return the result (sub).

        Re-sent every :data:`COMMAND_RETRY` s (UDP) up to ``connect_timeout``;
        raises :class:`CameraTimeoutError` when unanswered. Video keeps flowing.
        """
        if not self.connected:
            raise SessionClosedError("session is not connected")
        data = Ctrl(self.link_id, ctl, sub, payload).encode()
        loop = asyncio.get_running_loop()
        async with self._command_lock:
            fut: asyncio.Future[int] = loop.create_future()
            self._command = (ctl, fut)
            try:
                deadline = loop.time() + self.options.connect_timeout
                while not fut.done():
                    remaining = deadline - loop.time()
                    if remaining <= 0 or not self.connected:
                        raise CameraTimeoutError(f"no answer to TEG control 0x{ctl:02x}")
                    self._send(data)
                    await asyncio.wait([fut], timeout=min(COMMAND_RETRY, remaining))
                return fut.result()
            finally:
                self._command = None

    async def _checked(self, ctl: int, sub: int, command: str) -> None:
        result = await self.control(ctl, sub)
        if result == RESULT_UNSUPPORTED:
            cap = _CAPABILITY_OF_CTL.get(ctl)
            if cap is not None:
                self._unsupported |= {cap}
            elif ctl == Ctl.VIDEO_FLIP:
                self._unsupported |= {Capability.FLIP, Capability.MIRROR}
            raise UnsupportedCommandError(command, f"camera answered {command} as unsupported")
        if result != RESULT_OK:
            raise CameraRejectedError(f"camera refused {command} (result {result})")

    async def _ptz_move(self, direction: PtzDirection) -> None:
        if direction is PtzDirection.STOP:
            await self._checked(Ctl.PTZ, PTZ_STOP_V, "ptz")
            await self._checked(Ctl.PTZ, PTZ_STOP_H, "ptz")
        else:
            await self._checked(Ctl.PTZ, PTZ_CODES[direction], "ptz")

    async def _set_night_mode(self, mode: NightMode) -> None:
        await self._checked(Ctl.IR_LED, IR_ON if mode is NightMode.ON else IR_OFF, "set_night_mode")

    async def _set_orientation(self, flip: bool, mirror: bool) -> None:
        await self._checked(Ctl.VIDEO_FLIP, int(flip) | int(mirror) << 1, "set_flip")

    async def _set_resolution(self, value: str) -> None:
        await self._checked(Ctl.VIDEO_RESOLUTION, TEG_RESOLUTIONS[value], "set_resolution")

    async def _reboot(self) -> None:
        data = Ctrl(self.link_id, Ctl.REBOOT, 0).encode()
        for i in range(REBOOT_REPEAT):
            if i:
                await asyncio.sleep(REBOOT_GAP)
            self._send(data)

    async def _refresh_state(self) -> None:
        """Re-send LIVE: its answer carries the media params (size, flip bits)."""
        fut = self._params_waiter = asyncio.get_running_loop().create_future()
        live = Ctrl.live(self.link_id, self._request_mask()).encode()
        try:
            await self._retry(fut, lambda: self._send(live), LIVE_RETRY, "no media params")
        finally:
            self._params_waiter = None

    _params_waiter: asyncio.Future[None] | None = None

    def _on_params(self, params: MediaParams) -> None:
        self.params = params
        resolution = f"{params.width}x{params.height}"
        self._set_state(
            flip=bool(params.flip & 1),
            mirror=bool(params.flip & 2),
            resolution=resolution if resolution in TEG_RESOLUTIONS else self.state.resolution,
        )
        waiter = self._params_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- datagram handling ------------------------------------------------------------

    def _on_datagram(self, data: bytes, addr: Any) -> None:
        if self._failure is not None or self._ended:
            return  # the session is over; only close() remains
        stats = self.stats
        stats.packets += 1
        if self.trace is not None:
            self.trace.record("rx", data)
        if data.startswith(_MEDIA_PREFIX):
            if not self._live_ok:
                self._media_started(data)
            reasm = self._reasm
            got = reasm.feed(data)
            if reasm.naks:
                self._send_naks()
            if got is not None:
                self._deliver(got)
            elif self._audio_listeners and len(data) >= 28 and data[14:16] == b"\x01\x00":
                self._on_audio(data)
            if reasm.held_count and self._poll_timer is None:
                self._poll_timer = asyncio.get_running_loop().call_later(reasm.nak_wait, self._poll)
            return
        try:
            msg = decode_datagram(data)
        except MalformedPacketError:
            stats.malformed += 1
            return
        kind = type(msg)
        if kind is LoginResponse:
            assert isinstance(msg, LoginResponse)
            self._on_login(msg)
        elif kind is CtrlResp:
            assert isinstance(msg, CtrlResp)
            if msg.ctl == Ctl.LIVE and msg.params is not None:
                self._on_params(msg.params)
                if msg.sub & StreamMask.VIDEO:
                    self._set_live()
            else:
                pending = self._command
                if pending is not None and pending[0] == msg.ctl and not pending[1].done():
                    pending[1].set_result(msg.sub)
        elif kind is Ctrl:
            assert isinstance(msg, Ctrl)
            # A late CLOSE addressed to an older session (other link id) must not
            # end this one.
            if msg.ctl == Ctl.CLOSE and msg.link_id == self.link_id:
                self._fail(SessionClosedError("camera closed the session"))
        # camera heartbeats, device messages, search replies: nothing to do

    def _deliver(self, frames: list[tuple[bytes, int, int]]) -> None:
        for jpeg, width, height in frames:
            self._seq += 1
            self._deliver_frame(Frame(jpeg, width, height, time.time(), self._seq))

    def _poll(self) -> None:
        """Release frames held back behind a frame that waits for resends."""
        self._poll_timer = None
        reasm = self._reasm
        got = reasm.poll()
        if got is not None and self._failure is None:
            self._deliver(got)
        if reasm.held_count and self._transport is not None:
            self._poll_timer = asyncio.get_running_loop().call_later(reasm.nak_wait, self._poll)

    def _media_started(self, data: bytes) -> None:
        login = self._login
        if login is not None and not login.done() and len(data) >= 12:
            # Media before LOGIN_RESP: the login worked; take the link id from it.
            login.set_result(int.from_bytes(data[8:12], "little") or 1)
        self._set_live()

    def _set_live(self) -> None:
        self._live_ok = True
        live = self._live
        if live is not None and not live.done():
            live.set_result(None)

    def _on_login(self, msg: LoginResponse) -> None:
        login = self._login
        if login is None or login.done():
            return
        if msg.ok:
            login.set_result(msg.link_id)
        elif msg.result == LoginResult.WRONG_PASSWORD:
            self._fail(AuthenticationError("camera rejected the password token"))
        elif msg.result == LoginResult.FULL:
            self._fail(CameraFullError("camera has no free client slot"))
        else:
            self._fail(CameraRejectedError(f"camera refused the login (result {msg.result})"))

    def _send_naks(self) -> None:
        reasm = self._reasm
        items = [AckItem.missing(fid, idx) for fid, idx in reasm.naks[:255]]
        reasm.naks.clear()
        self.stats.resend_requests += len(items)
        self._send(AckPack(self.link_id, tuple(items), self._rate).encode())

    def _on_error(self, exc: Exception) -> None:
        if isinstance(exc, ConnectionRefusedError):
            self._refused += 1
            if self._started:
                self._fail(CameraConnectionError("camera port unreachable"))
            elif self._refused >= _REFUSED_LIMIT and self.stats.packets == 0:
                self._fail(CameraTimeoutError("camera session port unreachable"))
            return
        _LOGGER.debug("TEG socket error: %s", exc)

    def _on_connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self._fail(CameraConnectionError(f"socket closed: {exc}"))


def _route_ip(host: str) -> str:
    """Local IP the OS would use to reach ``host`` (a connected UDP socket's address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((host, 9))
            return str(sock.getsockname()[0])
        except OSError:
            return "0.0.0.0"  # noqa: S104 - no route; the camera will refuse (result 1)
