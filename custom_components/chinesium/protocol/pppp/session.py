"""PPPP camera session: transport + app-layer login + live video (pppp.md §3-§6).

``_open`` connects the transport (LAN search to ``info.host:info.port``, key
from ``info.extra["key"]``), picks the application layer (``info.app_layer``,
else the key/DID-prefix clues, else probing iLnk/SHIX), logs in (the user's
credentials first, then the layer's factory defaults) and starts live video.
Video payloads on the media channel go straight into a
:class:`~.apps.avframe.FrameAssembler`; each complete JPEG, or H.264/H.265
access unit (VStarcam I/P frames, codec told by the NAL headers, P-frames
dropped until the first keyframe), becomes a :class:`~..model.Frame`.
LookCam (commands on channel 1, media on channel 0 behind its own 83-byte
header) cuts its access units itself (``AppClient.own_media``).

A stored ``info.app_layer`` that no longer answers, answers in another
layer, or names a layer we cannot speak is re-identified from the clues and
probing (:attr:`PpppSession.reidentified_from`, ``facts.app_layer``). An
optional :class:`~..trace.TraceRecorder` records datagrams and steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ..controls import Capability, NightMode, PtzDirection
from ..errors import (
    AuthenticationError,
    CameraTimeoutError,
    ChinesiumError,
    SessionClosedError,
    UnsupportedCameraError,
)
from ..jpeg import jpeg_size, looks_like_jpeg
from ..media.adpcm import decode_frame
from ..media.g711 import alaw_decode, ulaw_decode
from ..model import AudioChunk, CameraInfo, Codec as FrameCodec, Credentials, Frame
from ..session import CameraSession, SessionOptions
from ..trace import TraceRecorder
from .apps.avframe import AudioFormat, AvFrame, Codec, FrameAssembler
from .apps.base import AppClient, MediaUnit, UnknownLayerError, WrongLayerError
from .apps.h26x import detect_codec, picture_size
from .apps.identify import AppLayer, Identification, identify, probe_order
from .apps.registry import CLIENTS, DISPLAY_NAMES, REGISTRY, SUPPORTED
from .devid import DeviceId
from .transport import PpppConnection

_LOGGER = logging.getLogger(__name__)

_JPEG = int(Codec.JPEG)
_I_FRAME = int(Codec.I_FRAME)
_P_FRAME = int(Codec.P_FRAME)


def _unsupported(layer: AppLayer) -> UnsupportedCameraError:
    return UnsupportedCameraError(
        layer.value, f"camera speaks {DISPLAY_NAMES[layer]}, which is not supported yet"
    )


PROBE_TIMEOUT = 1.0
"""Seconds to wait for a login reply from a layer that is only a guess."""


class PpppSession(CameraSession):
    """A live session with one PPPP camera (SHIX JSON, iLnk binary, VStarcam CGI, LookCam)."""

    def __init__(
        self,
        info: CameraInfo,
        credentials: Credentials | None = None,
        options: SessionOptions | None = None,
        *,
        trace: TraceRecorder | None = None,
    ) -> None:
        """Prepare the session; nothing is sent until :meth:`start`.

        ``trace`` (optional) records the first datagrams each way and every
        identification/login step, credentials redacted (:mod:`..trace`).
        """
        super().__init__(info, credentials, options)
        self.trace = trace
        if trace is not None:
            trace.redact(self.credentials.password, self.credentials.username)
            trace.device_id(info.uid)
        self.first_media: bytes | None = None
        """The first 32 bytes of the first media payload (layer header included)."""
        self.reidentified_from: str | None = None
        """The stored app layer that no longer answered, when the session re-identified."""
        self.conn: PpppConnection | None = None
        self.client: AppClient | None = None
        self.app_layer: AppLayer | None = None
        self.username: str | None = None
        """The user name that logged in (diagnostics)."""
        self._assembler = FrameAssembler()
        self._dropped_seen = 0
        self._seq = 0
        self._video_requested = False
        self._h26x: FrameCodec | None = None
        self._size = (0, 0)
        self._need_key = True
        self._state_task: asyncio.Task[None] | None = None
        self._audio_asm = FrameAssembler()
        self._audio_tasks: set[asyncio.Task[None]] = set()
        self._audio_asked = False
        self.audio_frames = 0
        """Audio frames decoded and delivered (also each chunk's ``seq``)."""

    # -- CameraSession hooks ----------------------------------------------------------

    async def _open(self) -> None:
        info = self.info
        opts = self.options
        key = info.extra.get("key") or None
        did = _parse_did(info.uid)
        conn = await PpppConnection.connect(
            info.host,
            info.port,
            did=did,
            key=key,
            local_host=opts.local_host,
            local_port=opts.local_port,
            connect_timeout=opts.connect_timeout,
            alive_interval=min(opts.keepalive_interval, 1.0),
            silence_timeout=opts.silence_timeout,
            lan_search=bool(info.extra.get("lan_search", True)),
            stats=self.stats,
            trace=self.trace,
        )
        self.conn = conn
        self._set_facts(local_port=conn.local_port)
        conn.on_lost(self._on_conn_lost)
        self._note("session", key=key, did_prefix=conn.did.prefix if conn.did else None)
        ident = self._identify(conn, key)
        self._note("identify", layer=ident.layer, source=ident.source)
        if ident.layer is not None and ident.layer not in SUPPORTED:
            if ident.source != "info":
                raise _unsupported(ident.layer)
            # A stored layer we cannot speak: the firmware may have changed since.
            ident = self._reidentify(conn, key, ident)
        try:
            client = await self._login(conn, probe_order(ident, encrypted=key is not None))
        except ChinesiumError as err:
            self._note("login", result=type(err).__name__, detail=str(err))
            raise
        if (
            self.info.app_layer
            and self.app_layer is not None
            and self.app_layer.value != self.info.app_layer
        ):
            self.reidentified_from = self.info.app_layer
            self._note("reidentified", stored=self.info.app_layer, now=self.app_layer)
        self._note("login", result="ok", layer=self.app_layer, firmware=client.firmware)
        sink = self._on_own_media if client.own_media else self._on_video
        client.attach_video(conn.channel(client.video_channel), sink)
        audio_ch = client.audio_channel
        if audio_ch is not None and audio_ch != client.video_channel:
            # Always drained, so nothing piles up while no one listens.
            client.attach_audio(conn.channel(audio_ch), self._on_audio_payload)
        self._video_requested = True
        await client.start_video()
        if self._audio_listeners and audio_ch is not None:
            self._spawn_audio(client, True)
        # Firmware, battery, signal...: asked in the background so video starts at once.
        self._state_task = asyncio.get_running_loop().create_task(
            self._initial_state(), name="pppp-initial-state"
        )

    async def _close(self) -> None:
        task, self._state_task = self._state_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for audio_task in list(self._audio_tasks):
            if audio_task is not asyncio.current_task():
                audio_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await audio_task
        conn, client = self.conn, self.client
        self.conn = None
        self._assembler.reset()  # frees a partial frame's payloads
        if conn is None:
            return
        if client is not None:
            client.fail_pending(SessionClosedError("session closed"))
            if conn.is_open and self._video_requested:
                with contextlib.suppress(ChinesiumError):
                    if self._audio_asked:
                        self._audio_asked = False
                        await client.stop_audio()
                    await client.stop_video()
            client.detach()
        with contextlib.suppress(Exception):
            conn.channel(self._video_channel()).set_packet_handler(None)
            if client is not None and client.audio_channel is not None:
                conn.channel(client.audio_channel).set_packet_handler(None)
        self._audio_asm.reset()
        await conn.close()

    # -- app layer ----------------------------------------------------------------------

    def _note(self, step: str, **fields: object) -> None:
        if self.trace is not None:
            self.trace.note(step, **fields)

    def _identify(self, conn: PpppConnection, key: str | None) -> Identification:
        if self.info.app_layer:
            try:
                return Identification(AppLayer(self.info.app_layer), "info")
            except ValueError:
                return self._reidentify(conn, key, Identification(None, "info"))
        return self._clues(conn, key)

    def _reidentify(
        self, conn: PpppConnection, key: str | None, stored: Identification
    ) -> Identification:
        """Forget a stored layer we cannot use and go by the clues (then probing)."""
        ident = self._clues(conn, key)
        self._note("reidentify", stored=self.info.app_layer, clue=ident.layer, source=ident.source)
        if ident.layer is not None and ident.layer not in SUPPORTED:
            raise _unsupported(ident.layer) if stored.layer is None else _unsupported(stored.layer)
        return ident

    def _clues(self, conn: PpppConnection, key: str | None) -> Identification:
        did = conn.did
        if did is None:
            return identify(key=key)
        return identify(prefix=did.prefix, key=key, check=did.check)

    def _candidates(self, client: type[AppClient]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        creds = self.credentials
        if creds.password is not None or creds.username is not None:
            default_user = client.default_credentials[0][0]
            default_pw = client.default_credentials[0][1]
            out.append((creds.username or default_user, creds.password or default_pw))
        for pair in client.default_credentials:
            if pair not in out:
                out.append(pair)
        return out

    async def _login(self, conn: PpppConnection, layers: list[AppLayer]) -> AppClient:
        """Try each candidate layer; within a layer, each credential pair."""
        last: ChinesiumError = CameraTimeoutError("no app-layer reply")
        unknown: UnknownLayerError | None = None
        try:
            timeout = self.options.connect_timeout
            queue = list(layers)
            tried: set[AppLayer] = set()
            while queue:
                layer = queue.pop(0)
                if layer in tried:
                    continue
                tried.add(layer)
                # While other candidate layers remain, a silent layer is probably the wrong
                # one: give up on it quickly (LAN replies take milliseconds) and move on.
                wait = min(PROBE_TIMEOUT, timeout) if queue else timeout
                cls = CLIENTS[layer]
                control = conn.channel(cls.control_channel)
                client = cls(control, reply_timeout=wait)
                self.client = client
                if control.buffered:  # bytes that arrived before the handler existed
                    client.feed(await control.read())
                auth_failed = False
                for user, password in self._candidates(type(client)):
                    if self.trace is not None:
                        self.trace.redact(user, password)  # defaults are credentials too
                    try:
                        await client.login(user, password)
                    except AuthenticationError as err:
                        auth_failed = True
                        last = err
                        self._note("login", layer=layer, user=user, result="refused")
                        continue
                    except WrongLayerError as err:
                        self._note("reply", layer=layer, answered=err.layer)
                        if err.layer not in SUPPORTED:
                            raise _unsupported(err.layer) from err
                        queue.insert(0, err.layer)
                        break
                    except UnknownLayerError as err:
                        self._note("reply", layer=layer, unknown_magic=err.magic[:8])
                        unknown = err
                        break
                    except CameraTimeoutError as err:
                        self._note("login", layer=layer, result="no reply")
                        if auth_failed:
                            # Answered before, silent now: treat as a refused login.
                            last = AuthenticationError(f"{layer.value} login not answered")
                            break
                        last = err
                        break
                    self.app_layer = layer
                    self.username = user
                    self._set_facts(app_layer=layer.value, firmware=client.firmware)
                    if client.firmware:
                        self._set_state(firmware=client.firmware)
                    return client
                if auth_failed:
                    raise last
                client.detach()
            if unknown is not None:
                raise UnknownLayerError(unknown.magic)
            raise last
        finally:
            # ``last`` -> its traceback -> this frame -> ``last``: a cycle holding the
            # session (the error propagates to the owner regardless).
            del last, unknown

    async def still_image(self) -> bytes:
        """A still JPEG from the camera's own snapshot command.

        Only layers with the ``"snapshot"`` capability (VStarcam
        ``snapshot.cgi``) have one; others raise :class:`UnsupportedCameraError`
        (use :meth:`snapshot` for the latest live frame instead). Raises
        :class:`CameraTimeoutError` when the camera does not answer.
        """
        client = self.client
        if client is None or not self.connected:
            raise SessionClosedError("session is not connected")
        return await client.snapshot_jpeg()

    # -- controls: delegated to the app layer ------------------------------------------

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The app layer's capabilities (narrowed by what the camera reported)."""
        client = self.client
        if client is not None and self.app_layer is not None:
            return client.live_capabilities()
        if self.info.app_layer:
            try:
                return REGISTRY[AppLayer(self.info.app_layer)].capabilities
            except (KeyError, ValueError):
                return frozenset()
        return frozenset()

    @property
    def resolutions(self) -> tuple[str, ...]:
        """Resolutions of the app layer."""
        client = self.client
        return client.resolutions if client is not None else ()

    @property
    def night_modes(self) -> tuple[NightMode, ...]:
        """Night modes of the app layer (narrowed by what the camera reported)."""
        client = self.client
        return client.night_modes if client is not None else ()

    def _app(self) -> AppClient:
        client = self.client
        if client is None or not self.connected:
            raise SessionClosedError("session is not connected")
        return client

    async def _ptz_move(self, direction: PtzDirection) -> None:
        await self._app().ptz_move(direction)

    async def _ptz_step(self, direction: PtzDirection) -> None:
        await self._app().ptz_step(direction)

    async def _set_night_mode(self, mode: NightMode) -> None:
        await self._app().set_night_mode(mode)

    async def _set_light(self, on: bool) -> None:
        await self._app().set_light(on)

    async def _set_orientation(self, flip: bool, mirror: bool) -> None:
        await self._app().set_orientation(flip, mirror)

    async def _set_resolution(self, value: str) -> None:
        await self._app().set_resolution(value)

    async def _reboot(self) -> None:
        await self._app().reboot()

    async def _refresh_state(self) -> None:
        fields = await self._app().read_state()
        if fields:
            self._set_state(**fields)

    async def _initial_state(self) -> None:
        try:
            await self._refresh_state()
        except ChinesiumError as err:
            _LOGGER.debug("PPPP %s: no initial state: %s", self.info.uid, err)

    # -- audio --------------------------------------------------------------------------

    @property
    def supports_audio(self) -> bool:
        """True when the app layer carries audio (SHIX, VStarcam, iLnk)."""
        client = self.client
        if client is not None and self.app_layer is not None:
            return client.audio_channel is not None
        if self.info.app_layer:
            try:
                cls = CLIENTS.get(AppLayer(self.info.app_layer))
            except ValueError:
                return False
            return cls is not None and cls.audio_channel is not None
        return False

    def _audio_wanted_changed(self, wanted: bool) -> None:
        client = self.client
        if client is None or not self.connected or client.audio_channel is None:
            return  # the next _open asks for it
        self._spawn_audio(client, wanted)

    def _spawn_audio(self, client: AppClient, on: bool) -> None:
        """Start or stop audio in the background (a silent camera must not hold _open)."""
        task = asyncio.get_running_loop().create_task(
            self._set_audio(client, on), name="pppp-audio"
        )
        self._audio_tasks.add(task)
        task.add_done_callback(self._audio_tasks.discard)

    async def _set_audio(self, client: AppClient, on: bool) -> None:
        self._audio_asked = on
        if on:
            self._audio_asm.reset()
        try:
            await (client.start_audio() if on else client.stop_audio())
        except ChinesiumError as err:
            _LOGGER.debug("PPPP %s: audio %s failed: %s", self.info.uid, "on" if on else "off", err)

    def _on_audio_payload(self, payload: bytes) -> None:
        """A payload of the audio channel (SHIX, VStarcam: channel 2)."""
        asm = self._audio_asm
        for av in asm.feed(payload):
            self._on_audio_frame(av)

    def _on_audio_frame(self, av: AvFrame) -> None:
        header = av.header
        client = self.client
        if header is None or client is None or not self._audio_listeners:
            return
        fmt = client.audio_format(header)
        data = av.data
        if fmt is AudioFormat.ADPCM:
            pcm = decode_frame(data)  # each frame starts from a cleared state
        elif fmt is AudioFormat.ALAW:
            pcm = alaw_decode(data)
        elif fmt is AudioFormat.ULAW:
            pcm = ulaw_decode(data)
        elif fmt is AudioFormat.PCM:
            pcm = data[: len(data) & ~1]
        else:
            return
        if not pcm:
            return
        self.audio_frames += 1
        self._deliver_audio(
            AudioChunk(pcm, client.audio_rate, time.time(), self.audio_frames, header.pts_ms)
        )

    def _video_channel(self) -> int:
        return self.client.video_channel if self.client is not None else 1

    # -- hot path -------------------------------------------------------------------------

    def _on_video(self, payload: bytes) -> None:
        stats = self.stats
        stats.media_packets += 1
        if stats.media_packets == 1:
            self._first_media(payload)
        asm = self._assembler
        frames = asm.feed(payload)
        if asm.dropped != self._dropped_seen:
            stats.frames_dropped += asm.dropped - self._dropped_seen
            self._dropped_seen = asm.dropped
            self._need_key = True  # a P-frame chain is broken: wait for the next I-frame
        for av in frames:
            code = av.codec
            if code in (_I_FRAME, _P_FRAME):
                self._on_h26x(av, code == _I_FRAME)
                continue
            if code != _JPEG:
                if av.header is not None:
                    self._on_audio_frame(av)  # iLnk: audio between the video frames
                continue
            data = av.data
            if not looks_like_jpeg(data):
                stats.frames_dropped += 1
                continue
            width, height = jpeg_size(data) or (0, 0)
            self._seq += 1
            self._deliver_frame(Frame.now(data, width, height, self._seq))

    def _first_media(self, payload: bytes) -> None:
        self.first_media = payload[:32]
        if self.trace is not None:
            self.trace.note("media", first_bytes=payload[:16], size=len(payload))

    def _on_own_media(self, payload: bytes) -> None:
        """Media of a layer that cuts its own frames (LookCam ``01 af af af``)."""
        self.stats.media_packets += 1
        client = self.client
        if client is None:
            return
        if self.stats.media_packets == 1:
            self._first_media(payload)
        for unit in client.media_units(payload):
            self._on_unit(unit)

    def _on_unit(self, unit: MediaUnit) -> None:
        if unit.codec is not None and self._h26x is None:
            self._h26x = unit.codec
        self._on_h26x_data(unit.data, unit.keyframe, unit.pts)

    def _on_h26x(self, av: AvFrame, keyframe: bool) -> None:
        header = av.header
        pts = None if header is None else header.pts_ms
        self._on_h26x_data(av.data, keyframe, pts)

    def _on_h26x_data(self, data: bytes, keyframe: bool, pts: int | None) -> None:
        codec = self._h26x
        if keyframe:
            codec = detect_codec(data) or codec
            if codec is None:
                self.stats.frames_dropped += 1
                return
            self._h26x = codec
            self._size = picture_size(data, codec) or self._size
            self._need_key = False
        elif codec is None or self._need_key:
            self.stats.frames_dropped += 1
            return
        width, height = self._size
        self._seq += 1
        self._deliver_frame(
            Frame(data, width, height, time.time(), self._seq, codec, keyframe, pts)
        )

    def _on_conn_lost(self, reason: ChinesiumError) -> None:
        if self.client is not None:
            self.client.fail_pending(reason)
        self._lost(reason)


def _parse_did(uid: str) -> DeviceId | None:
    try:
        return DeviceId.parse(uid)
    except ValueError:
        return None


def open_pppp_session(
    info: CameraInfo,
    credentials: Credentials | None = None,
    options: SessionOptions | None = None,
    *,
    trace: TraceRecorder | None = None,
) -> PpppSession:
    """Build an unstarted PPPP session (``await session.start()`` connects)."""
    return PpppSession(info, credentials, options, trace=trace)
