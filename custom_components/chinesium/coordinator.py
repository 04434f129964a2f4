"""Push coordinator: HA's view of one camera.

The protocol library's :class:`SessionSupervisor` owns the connection life
cycle (reconnect with backoff, local-port reuse, late-close absorption, moved
cameras, on-demand use/linger and idle probes). One
:class:`ChinesiumCoordinator` per config entry keeps the HA concerns only:

* publishing what entities show (:class:`ChinesiumState`), and only when it
  changes (frames are not state: viewers wait on :meth:`async_wait_frame`);
* reauth when the camera rejects the password, a moved camera written to the
  entry, the firmware written to the device registry;
* HA's log-when-unavailable rule: one warning when the camera becomes
  unavailable, one info when it is back, also across setup retries (HA logs
  ``ConfigEntryNotReady`` at debug only).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homeassistant.components import network
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    HomeAssistantError,
)
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from . import protocol
from .const import (
    CONF_AUDIO,
    CONF_HLS,
    CONF_MAX_FPS,
    CONF_MOTION_HOLD,
    CONF_MOTION_SENSITIVITY,
    CONF_RESTREAM,
    CONF_RESTREAM_HOST,
    CONF_RESTREAM_PORT,
    CONF_STREAM_MODE,
    DATA_RESTREAM_TOKEN,
    DEFAULT_MAX_FPS,
    DEFAULT_MOTION_HOLD,
    DEFAULT_MOTION_SENSITIVITY,
    DEFAULT_RESTREAM_HOST,
    DEFAULT_RESTREAM_PORT,
    DEFAULT_STREAM_MODE,
    DOMAIN,
    LOGGER,
    STREAM_MODE_ON_DEMAND,
)
from .discovery import async_find_camera
from .issues import (
    async_create_no_video_issue,
    async_create_unsupported_issue,
    async_delete_no_video_issue,
)
from .media import LOCAL, async_acquire_server, async_release_server, server_at
from .protocol import (
    AuthenticationError,
    CameraFullError,
    CameraInfo,
    CameraSession,
    CameraState,
    CameraTimeoutError,
    Capability,
    ChinesiumError,
    Codec,
    Credentials,
    Frame,
    NightMode,
    SessionClosedError,
    SessionFacts,
    SessionOptions,
    TraceRecorder,
    UnsupportedCameraError,
    expected_codecs,
)
from .protocol.media import MediaHub, StillConverter, link_audio
from .protocol.motion import MotionDetector
from .protocol.supervisor import SessionSupervisor, SupervisorCallbacks
from .settings import RuntimeSettings, get_settings

type ChinesiumConfigEntry = ConfigEntry[ChinesiumCoordinator]

OFFLINE_LOGGED: HassKey[set[str]] = HassKey(f"{DOMAIN}_offline_logged")
"""Entry ids whose "unavailable" warning was logged (survives setup retries and reloads)."""
LAST_FAILURE: HassKey[dict[str, dict[str, Any]]] = HassKey(f"{DOMAIN}_last_failure")
"""Per entry id: the last failed connect attempt (error, time, bounded redacted trace);
kept across setup retries so diagnostics have it even when the entry did not load."""
TRACE_LIMIT = 24
"""Datagrams kept per direction in a connect attempt's trace."""

TOTAL_KEYS = ("frames_ok", "frames_dropped", "packets", "bytes_received")
"""Session counters summed over all sessions since setup (diagnostics)."""

DATA_CAPABILITIES = "capabilities"
DATA_RESOLUTIONS = "resolutions"
DATA_NIGHT_MODES = "night_modes"
"""Entry data keys: what the camera can do, so entities exist while it is offline."""

H26X = frozenset({Codec.H264, Codec.H265})
KEYFRAME_WAIT = 10.0
"""Seconds a still of an H.264/H.265 camera waits for the next keyframe."""


@dataclass(frozen=True, slots=True)
class ChinesiumState:
    """What the entities show; replaced (never mutated) on every change."""

    connected: bool = False
    """A session is up."""
    reachable: bool = False
    """The camera answered at the last attempt or probe (true while on-demand idle)."""
    streaming: bool = False
    """Connected and frames arrived within ``frame_stale_after`` seconds."""
    last_error: str | None = None
    """Why the last session ended or the last connect failed."""
    reconnects: int = 0
    """Successful reconnects after a loss or failure since setup."""
    camera: CameraState = field(default_factory=CameraState)
    """What the camera last reported (or we last set): controls and sensors."""
    motion: bool = False
    """Motion seen in the frames (never while frames do not flow)."""

    @property
    def online(self) -> bool:
        """Connectivity: frames flow, or (no session) the camera was reachable."""
        return self.streaming if self.connected else self.reachable


def entry_camera_info(entry: ConfigEntry[Any]) -> CameraInfo:
    """Build the :class:`CameraInfo` stored in a config entry."""
    return CameraInfo.from_dict(dict(entry.data))


def entry_credentials(entry: ConfigEntry[Any]) -> Credentials:
    """Build the :class:`Credentials` stored in a config entry."""
    return Credentials(
        username=entry.data.get(CONF_USERNAME) or None,
        password=entry.data.get(CONF_PASSWORD) or None,
    )


def describe_error(err: BaseException) -> str:
    """Short human-readable reason for logs and the state."""
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class ChinesiumCoordinator(DataUpdateCoordinator[ChinesiumState]):
    """One per config entry: the supervisor's events as HA state, and the latest frame."""

    config_entry: ChinesiumConfigEntry

    def __init__(self, hass: HomeAssistant, entry: ChinesiumConfigEntry) -> None:
        """Create the coordinator; call :meth:`async_connect` next."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=None,
            always_update=False,
        )
        self.settings: RuntimeSettings = get_settings(hass)
        self.options: dict[str, Any] = dict(entry.options)
        """The options this coordinator was built with (reload when they change)."""
        self.stream_mode: str = str(self.options.get(CONF_STREAM_MODE, DEFAULT_STREAM_MODE))
        self.max_fps: int = int(self.options.get(CONF_MAX_FPS, DEFAULT_MAX_FPS) or 0)
        self.hls: bool = bool(self.options.get(CONF_HLS, False))
        """MJPEG camera transcoded to H.264 for HA's stream while watched."""
        self.audio: bool = bool(self.options.get(CONF_AUDIO, False))
        """Sound carried in the MPEG-TS streams (cameras that send audio)."""
        self.restream_address: tuple[str, int] | None = (
            (
                str(self.options.get(CONF_RESTREAM_HOST) or DEFAULT_RESTREAM_HOST),
                int(self.options.get(CONF_RESTREAM_PORT) or DEFAULT_RESTREAM_PORT),
            )
            if self.options.get(CONF_RESTREAM)
            else None
        )
        """Where the opt-in LAN restream listens (``None``: off, nothing on the LAN)."""
        self.supervisor = SessionSupervisor(
            entry_camera_info(entry),
            entry_credentials(entry),
            self.settings.supervisor_options(on_demand=self.on_demand),
            SupervisorCallbacks(
                on_connect=self._on_connect,
                on_disconnect=self._on_disconnect,
                on_error=self._on_error,
                on_reachable=self._on_reachable,
                on_moved=self._on_moved,
                on_stopped=self._on_stopped,
            ),
            locate=self._async_locate,
            opener=self._async_open_traced,
        )
        self.session: CameraSession | None = None
        self._facts = SessionFacts()
        self.latest_frame: Frame | None = None
        self.frame_count = 0
        self.totals: dict[str, int] = dict.fromkeys(TOTAL_KEYS, 0)
        self._latest_at: float | None = None
        self._frame_event = asyncio.Event()
        self._unsub_frames: Callable[[], None] | None = None
        self._closing = False
        self.hub = MediaHub()
        """Every frame, timestamps sanitised; the MPEG-TS source of H.264/H.265 cameras."""
        self.stream_url: str | None = None
        """``stream_source()`` of an H.264/H.265 camera (local, token-protected)."""
        self._still: StillConverter | None = None
        self._media_acquired = False
        self._media_pending = False
        self._restream_acquired = False
        self.restream_error: str | None = None
        """Why the LAN restream could not start (address in use, ...)."""
        self._unlink_audio: Callable[[], None] | None = None
        self._trace: TraceRecorder | None = None
        self._session_frames = 0
        self._session_since = 0.0
        self._no_video = False
        self.data = ChinesiumState()
        self._init_controls()

    # -- public API ------------------------------------------------------------------

    @property
    def info(self) -> CameraInfo:
        """Where the camera is and what it speaks (updated when it moves)."""
        return self.supervisor.info

    @property
    def facts(self) -> SessionFacts:
        """What the current (else the last) session learned about the camera."""
        session = self.session
        return session.facts if session is not None else self._facts

    @property
    def firmware(self) -> str | None:
        """Firmware the camera reported (or the entry recorded)."""
        return self.facts.firmware or _str_or_none(self.info.extra.get("firmware"))

    @property
    def connected(self) -> bool:
        """True while a session is up."""
        return self.supervisor.connected and not self._closing

    @property
    def codec(self) -> Codec:
        """The video codec: as seen in frames, else what the camera's kind implies."""
        if self.facts.codec is not None:
            return self.facts.codec
        return min(expected_codecs(self.info), key=list(Codec).index)

    @property
    def is_h26x(self) -> bool:
        """True for H.264/H.265 cameras."""
        return self.codec in H26X

    @property
    def streams_via_ha(self) -> bool:
        """True when HA's ``stream`` plays the camera: H.264/H.265, or MJPEG transcoded."""
        return self.is_h26x or self.hls

    @property
    def current_frame(self) -> Frame | None:
        """The latest frame if it came from the current session, else ``None``."""
        return self.latest_frame if self._latest_at is not None and self.connected else None

    @property
    def recent_frame(self) -> Frame | None:
        """The latest frame while the picture counts as live (also across a quick reconnect)."""
        at = self._latest_at
        if at is None or asyncio.get_running_loop().time() - at >= self.settings.frame_stale_after:
            return None
        return self.latest_frame

    @property
    def on_demand(self) -> bool:
        """True when sessions are only kept while the camera is used."""
        return self.stream_mode == STREAM_MODE_ON_DEMAND

    @property
    def users(self) -> int:
        """Viewers/snapshots currently holding the session (on-demand bookkeeping)."""
        return self.supervisor.users

    async def async_connect(self) -> None:
        """First connect during setup; maps errors to HA setup exceptions."""
        try:
            await self.supervisor.connect()
        except AuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="auth_failed"
            ) from err
        except UnsupportedCameraError as err:
            async_create_unsupported_issue(self.hass, self.info, err.name, str(err))
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="unsupported",
                translation_placeholders={"name": err.name},
            ) from err
        except CameraFullError as err:
            self._log_unavailable(describe_error(err))
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="camera_full",
                translation_placeholders={"host": self.info.host},
            ) from err
        except ChinesiumError as err:
            self._log_unavailable(describe_error(err))
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"host": self.info.host, "error": describe_error(err)},
            ) from err
        if self.streams_via_ha:
            await self._async_start_media()
        if self.restream_address is not None:
            await self._async_start_restream(self.restream_address)
        self.config_entry.async_on_unload(
            async_track_time_interval(
                self.hass,
                self._async_check_stale,
                self.settings.stale_check_interval,
                name=f"{self.name} stale check",
            )
        )
        self.supervisor.start()

    @contextlib.asynccontextmanager
    async def async_use(self, timeout: float | None = None) -> AsyncIterator[CameraSession]:
        """Hold the camera session while the block runs (see ``SessionSupervisor.use``)."""
        async with self.supervisor.use(timeout) as session:
            yield session

    @contextlib.asynccontextmanager
    async def async_paused(self) -> AsyncIterator[None]:
        """Free the camera's slot while the block runs (a reconfigure probe)."""
        async with self.supervisor.paused():
            yield

    async def async_wait_frame(self, timeout: float | None = None) -> Frame | None:
        """Wait for the next frame; ``None`` on timeout, when offline or unloading."""
        if not self.connected:
            return None
        event = self._frame_event
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            return None
        return self.latest_frame if self.connected else None

    async def async_snapshot(self) -> Frame:
        """Return a fresh frame (the latest if younger than 1 s, else the next one)."""
        return await self.supervisor.snapshot()

    async def async_picture(self) -> tuple[bytes, Frame]:
        """A fresh still as JPEG, for every codec: ``(jpeg, frame it came from)``.

        JPEG cameras give their latest frame (or the next one). H.264/H.265
        cameras give their latest keyframe while the picture is live, else the
        next one, decoded in the executor (cached per keyframe).
        """
        async with self.supervisor.use():
            frame = await self._async_picture_frame()
        if frame.codec is Codec.JPEG:
            return frame.data, frame
        if self._still is None:
            self._still = StillConverter()
        jpeg = await self.hass.async_add_executor_job(self._still.jpeg, frame)
        return jpeg, frame

    async def _async_picture_frame(self) -> Frame:
        if not self.is_h26x:
            return await self.supervisor.snapshot()
        key = self.hub.latest_keyframe
        if key is not None and self.recent_frame is not None:
            return key
        loop = asyncio.get_running_loop()
        deadline = loop.time() + KEYFRAME_WAIT
        while (left := deadline - loop.time()) > 0:
            if not self.connected:
                raise SessionClosedError("camera is not connected")
            frame = await self.async_wait_frame(left)
            if frame is not None and frame.keyframe:
                return frame
        raise CameraTimeoutError("no keyframe from camera")

    def current_stats(self) -> dict[str, int]:
        """Counters of the current session (empty without one)."""
        session = self.session
        return session.stats.as_dict() if session is not None else {}

    async def async_shutdown(self) -> None:
        """Stop everything: wake waiters, close the session (called on unload).

        The MPEG-TS source goes last: HA's stream of the camera entity is
        stopped before (the entity's removal).
        """
        self._closing = True
        self._wake_waiters()
        self._detach()
        await self.supervisor.stop()
        await self._async_stop_media()
        await super().async_shutdown()

    # -- media -------------------------------------------------------------------------

    async def _async_start_media(self) -> None:
        """Serve the hub as MPEG-TS for ``stream_source()`` (H.264/H.265 cameras)."""
        if self._media_acquired:
            return
        self._media_acquired = True
        server = await async_acquire_server(self.hass, self.config_entry.entry_id)
        hold = self.supervisor.use if self.on_demand else None
        self.stream_url = server.add_source(
            self.config_entry.entry_id,
            self.hub,
            hold=hold,
            transcode=not self.is_h26x,
            audio=self.audio,
        )

    async def _async_start_restream(self, address: tuple[str, int]) -> None:
        """Offer the camera on the user's LAN address (opt-in), with its stored token."""
        entry = self.config_entry
        try:
            server = await async_acquire_server(self.hass, entry.entry_id, address)
        except OSError as err:
            self.restream_error = f"{address[0]}:{address[1]}: {err.strerror or err}"
            LOGGER.error("Cannot start the LAN restream of %s: %s", entry.title, err)
            return
        self._restream_acquired = True
        with contextlib.suppress(HomeAssistantError, OSError):
            self.lan_ip = await network.async_get_source_ip(self.hass)
        server.add_source(
            entry.entry_id,
            self.hub,
            hold=self.supervisor.use if self.on_demand else None,
            transcode=True,
            audio=self.audio,
            token=entry.data.get(DATA_RESTREAM_TOKEN),
        )
        self._store_restream_token(server.token(entry.entry_id))

    def _store_restream_token(self, token: str) -> None:
        entry = self.config_entry
        if entry.data.get(DATA_RESTREAM_TOKEN) != token:
            self.hass.config_entries.async_update_entry(
                entry, data={**entry.data, DATA_RESTREAM_TOKEN: token}
            )

    def restream_urls(self) -> dict[str, str]:
        """The LAN restream URLs (``ts``, and ``mjpeg`` for MJPEG cameras); empty when off."""
        address = self.restream_address
        server = server_at(self.hass, address) if self._restream_acquired and address else None
        if server is None or address is None:
            return {}
        name = self.config_entry.entry_id
        host = address[0]
        if host in ("0.0.0.0", ""):  # noqa: S104 - listening on every interface
            host = self.lan_ip or host
        urls = {"ts": server.url(name, "ts")}
        if not self.is_h26x:
            urls["mjpeg"] = server.url(name, "mjpeg")
        return {
            kind: url.replace(f"//{address[0]}:", f"//{host}:", 1) for kind, url in urls.items()
        }

    lan_ip: str | None = None
    """HA's LAN address, shown in restream URLs when listening on every interface."""

    async def async_rotate_restream_token(self) -> None:
        """Give the LAN restream a new token; streams using the old one end."""
        address = self.restream_address
        server = server_at(self.hass, address) if self._restream_acquired and address else None
        if server is None:
            raise SessionClosedError("the LAN restream is off")
        server.rotate_token(self.config_entry.entry_id)
        self._store_restream_token(server.token(self.config_entry.entry_id))
        self.async_update_listeners()

    async def _async_stop_media(self) -> None:
        self.hub.close()
        still, self._still = self._still, None
        if still is not None:
            still.close()
        if self._restream_acquired and self.restream_address is not None:
            self._restream_acquired = False
            await async_release_server(self.hass, self.config_entry.entry_id, self.restream_address)
        if not self._media_acquired:
            return
        self._media_acquired = False
        self.stream_url = None
        await async_release_server(self.hass, self.config_entry.entry_id, LOCAL)

    # -- supervisor callbacks ------------------------------------------------------------

    @callback
    def _on_connect(self, session: CameraSession) -> None:
        # After an absorbed late close the picture never stopped: keep "streaming".
        self._detach(keep_frame_time=True)
        self.session = session
        self._unsub_frames = session.add_frame_listener(self._on_frame)
        if self.audio and session.supports_audio:
            self._unlink_audio = link_audio(session, self.hub)
        self._session_frames = 0
        self._session_since = asyncio.get_running_loop().time()
        self._note_facts(session.facts)
        self._controls_connected(session)
        self._log_back_online()
        self._publish(connected=True, reachable=True, reconnects=self.supervisor.reconnects)

    @callback
    def _on_disconnect(self, reason: ChinesiumError | None) -> None:
        self._detach()
        if reason is None:
            LOGGER.debug("Closed the idle session of %s", self.config_entry.title)
            self._wake_waiters()
            self._publish(connected=False)
            return
        self._set_unreachable(describe_error(reason))

    @callback
    def _on_error(self, err: ChinesiumError) -> None:
        LOGGER.debug("Connecting to %s failed: %s", self.config_entry.title, err)
        self._set_unreachable(describe_error(err))

    @callback
    def _on_reachable(self) -> None:
        self._log_back_online()
        self._publish(reachable=True, last_error=None)

    @callback
    def _on_stopped(self, err: ChinesiumError) -> None:
        self._set_unreachable(describe_error(err))
        if isinstance(err, AuthenticationError):
            LOGGER.warning("Camera %s rejected the credentials", self.config_entry.title)
            self.config_entry.async_start_reauth(self.hass)

    @callback
    def _on_moved(self, info: CameraInfo) -> None:
        entry = self.config_entry
        LOGGER.info(
            "Camera %s moved from %s:%s to %s:%s",
            entry.title,
            entry.data.get(CONF_HOST),
            entry.data.get(CONF_PORT),
            info.host,
            info.port,
        )
        self.hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_HOST: info.host, CONF_PORT: info.port}
        )

    async def _async_open_traced(
        self, info: CameraInfo, credentials: Credentials, options: SessionOptions
    ) -> CameraSession:
        """Open a session recording a bounded, redacted trace; keep it if the attempt fails."""
        trace = TraceRecorder(limit=TRACE_LIMIT)
        try:
            session = await protocol.open_session(info, credentials, options, trace=trace)
        except ChinesiumError as err:
            self.hass.data.setdefault(LAST_FAILURE, {})[self.config_entry.entry_id] = {
                "time": dt_util.utcnow().isoformat(),
                "error": describe_error(err),
                "trace": trace.as_dict(),
            }
            raise
        self._trace = trace  # for a camera that logs in but sends no video
        return session

    async def _async_locate(self, info: CameraInfo) -> CameraInfo | None:
        hosts = [info.host]
        if search_port := info.extra.get("search_port"):
            hosts.append(f"{info.host}:{search_port}")
        return await async_find_camera(self.hass, info.uid, hosts)

    # -- helpers -------------------------------------------------------------------------

    def _detach(self, *, keep_frame_time: bool = False) -> None:
        """Forget the current session's listener and fold its counters into the totals."""
        session, self.session = self.session, None
        if session is not None and not keep_frame_time:
            self._motion_reset()
        if not keep_frame_time:
            self._latest_at = None
        if self._unsub_frames is not None:
            self._unsub_frames()
            self._unsub_frames = None
        if self._unlink_audio is not None:
            self._unlink_audio()
            self._unlink_audio = None
        if session is not None:
            stats = session.stats.as_dict()
            for key in TOTAL_KEYS:
                self.totals[key] += stats.get(key, 0)

    def _note_facts(self, facts: SessionFacts) -> None:
        """Keep what the session learned; write a new firmware to the device registry."""
        old = self._facts.firmware or _str_or_none(self.info.extra.get("firmware"))
        self._facts = facts
        firmware = self.firmware
        if firmware and firmware != old:
            dr.async_get(self.hass).async_get_or_create(
                config_entry_id=self.config_entry.entry_id,
                identifiers={(DOMAIN, self.info.uid)},
                sw_version=firmware,
            )

    def _log_unavailable(self, reason: str) -> None:
        logged = self.hass.data.setdefault(OFFLINE_LOGGED, set())
        if self.config_entry.entry_id not in logged:
            logged.add(self.config_entry.entry_id)
            LOGGER.warning("Camera %s is unavailable: %s", self.config_entry.title, reason)

    def _log_back_online(self) -> None:
        logged = self.hass.data.get(OFFLINE_LOGGED)
        if logged and self.config_entry.entry_id in logged:
            logged.discard(self.config_entry.entry_id)
            LOGGER.info("Camera %s is back online", self.config_entry.title)

    def _set_unreachable(self, reason: str) -> None:
        self._log_unavailable(reason)
        self._wake_waiters()
        self._publish(connected=False, reachable=False, last_error=reason)

    # -- frames and state -------------------------------------------------------------

    @callback
    def _on_frame(self, frame: Frame) -> None:
        frame = self.hub.publish(frame)
        self._session_frames += 1
        if self._no_video:
            self._no_video = False
            async_delete_no_video_issue(self.hass, self.info.uid)
        if frame.codec in H26X and not (
            self._media_acquired or self._media_pending or self._closing
        ):
            self._media_pending = True
            # An H.264/H.265 camera we did not expect (unknown app layer): serve it too.
            self.config_entry.async_create_background_task(
                self.hass, self._async_start_media(), f"{self.name} media"
            )
        self.latest_frame = frame
        self.frame_count += 1
        self._latest_at = asyncio.get_running_loop().time()
        self._wake_waiters()
        self._motion_frame(frame)
        if not self.data.streaming:
            self._publish()

    def _wake_waiters(self) -> None:
        event, self._frame_event = self._frame_event, asyncio.Event()
        event.set()

    @callback
    def _async_check_stale(self, _now: datetime) -> None:
        session = self.session
        if session is not None and session.facts != self._facts:
            self._note_facts(session.facts)
        self._check_no_video()
        self._publish()

    def _check_no_video(self) -> None:
        """A session that logged in but delivered no frame for long: raise a repair issue."""
        if self._no_video or self._session_frames or not self.connected:
            return
        age = asyncio.get_running_loop().time() - self._session_since
        if age < self.settings.no_video_after:
            return
        self._no_video = True
        trace = self._trace.as_dict() if self._trace is not None else {}
        media = [n for n in trace.get("steps", []) if n.get("step") == "media"]
        detail = f"media {media[0]}" if media else "no media data at all"
        async_create_no_video_issue(self.hass, self.info, self.config_entry.title, detail)

    def _streaming(self) -> bool:
        if not self.connected or self._latest_at is None:
            return False
        age = asyncio.get_running_loop().time() - self._latest_at
        return age < self.settings.frame_stale_after

    def _publish(self, **changes: Any) -> None:
        """Recompute the state and notify listeners when it changed (never otherwise)."""
        values: dict[str, Any] = {
            "connected": self.connected,
            "reachable": self.data.reachable,
            "streaming": self._streaming(),
            "last_error": self.data.last_error,
            "reconnects": self.data.reconnects,
            "camera": self._camera_state,
        }
        values.update(changes)
        if not values["connected"]:
            values["streaming"] = False
        values["motion"] = values["streaming"] and self._motion_on
        new = ChinesiumState(**values)
        if new != self.data or not self.last_update_success:
            self.async_set_updated_data(new)

    # -- controls and motion ------------------------------------------------------------

    def _init_controls(self) -> None:
        """Camera state, stored capabilities and the motion detector (from ``__init__``)."""
        self._camera_state = CameraState()
        self.state_refreshed = False
        """The current session's state was read once (diagnostics, tests)."""
        self._motion_on = False
        self._motion_busy = False
        self._motion_generation = 0
        self._motion_reset_pending = False
        self.motion_detector = MotionDetector(
            sensitivity=float(self.options.get(CONF_MOTION_SENSITIVITY, DEFAULT_MOTION_SENSITIVITY))
            / 100.0,
            hold=float(self.options.get(CONF_MOTION_HOLD, DEFAULT_MOTION_HOLD)),
        )

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the camera can do: the live session's, else what the entry stored."""
        session = self.session
        if session is not None:
            return session.capabilities
        return frozenset(
            Capability(v)
            for v in self.config_entry.data.get(DATA_CAPABILITIES, ())
            if v in Capability.__members__.values()
        )

    @property
    def resolutions(self) -> tuple[str, ...]:
        """Resolutions the camera accepts (session, else entry)."""
        session = self.session
        if session is not None:
            return session.resolutions
        return tuple(str(v) for v in self.config_entry.data.get(DATA_RESOLUTIONS, ()))

    @property
    def night_modes(self) -> tuple[NightMode, ...]:
        """Night modes the camera accepts (session, else entry)."""
        session = self.session
        if session is not None:
            return session.night_modes
        return tuple(
            NightMode(v)
            for v in self.config_entry.data.get(DATA_NIGHT_MODES, ())
            if v in NightMode.__members__.values()
        )

    @property
    def camera_state(self) -> CameraState:
        """What the camera last reported (kept while it is offline)."""
        return self._camera_state

    async def async_command[T](self, command: Callable[[CameraSession], Awaitable[T]]) -> T:
        """Run ``command(session)`` on the live session (on demand: connect first).

        The camera's state and capabilities are published afterwards, also
        when the command fails. Raises a :class:`ChinesiumError`.
        """
        async with self.supervisor.use() as session:
            try:
                return await command(session)
            finally:
                self._note_controls(session)

    @callback
    def _controls_connected(self, session: CameraSession) -> None:
        self.state_refreshed = False
        self._note_controls(session, publish=False)
        self.config_entry.async_create_background_task(
            self.hass, self._async_refresh_controls(session), f"{self.name} state"
        )

    async def _async_refresh_controls(self, session: CameraSession) -> None:
        try:
            await session.refresh_state()
        except ChinesiumError as err:
            LOGGER.debug("No state from %s: %s", self.config_entry.title, err)
        if session is self.session:
            self._note_controls(session)
            self.state_refreshed = True

    def _note_controls(self, session: CameraSession, *, publish: bool = True) -> None:
        """Store new capabilities in the entry; publish the session's camera state."""
        entry = self.config_entry
        stored = {
            DATA_CAPABILITIES: sorted(c.value for c in session.capabilities),
            DATA_RESOLUTIONS: list(session.resolutions),
            DATA_NIGHT_MODES: [m.value for m in session.night_modes],
        }
        if any(entry.data.get(key) != value for key, value in stored.items()):
            self.hass.config_entries.async_update_entry(entry, data={**entry.data, **stored})
        if session.facts != self._facts and session is self.session:
            self._note_facts(session.facts)
        self._camera_state = session.state
        if publish:
            self._publish()

    def _motion_frame(self, frame: Frame) -> None:
        """Analyse ``frame`` in the executor when due (one job at a time; others skipped)."""
        if self._motion_busy or self._closing or not self.motion_detector.due(frame):
            return
        self._motion_busy = True
        generation = self._motion_generation
        job = self.hass.async_add_executor_job(self.motion_detector.feed, frame)
        job.add_done_callback(lambda fut: self._motion_done(fut, generation))

    def _motion_done(self, fut: asyncio.Future[bool | None], generation: int) -> None:
        self._motion_busy = False
        if self._motion_reset_pending:
            self._motion_reset_pending = False
            self.motion_detector.reset()
        if fut.cancelled():
            return
        if (err := fut.exception()) is not None:
            LOGGER.debug("Motion analysis of %s failed: %s", self.config_entry.title, err)
            return
        if generation != self._motion_generation or self._closing:
            return
        if (changed := fut.result()) is not None:
            self._motion_on = changed
            self._publish()

    def _motion_reset(self) -> None:
        """Frames stopped: forget the background, motion off (after a running job)."""
        self._motion_generation += 1
        self._motion_on = False
        if self._motion_busy:
            self._motion_reset_pending = True
        else:
            self.motion_detector.reset()


def _str_or_none(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None
