"""Push coordinator: owns the camera session, reconnects, publishes state and frames.

One :class:`ChinesiumCoordinator` per config entry. A single background task
(the *supervisor*) owns the session's life cycle:

* ``stream_mode: always``: keep a session connected; after a loss reconnect
  with exponential backoff, forever (only cancellation ends the loop; a
  rejected password starts reauth and stops it).
* ``stream_mode: on_demand``: connect only while someone uses the camera
  (:meth:`ChinesiumCoordinator.async_use`: MJPEG viewers, stills, snapshots)
  and close the session ``const.ON_DEMAND_LINGER`` seconds after the last use.
  While the camera is unreachable the supervisor keeps probing with backoff, so
  availability reflects the last attempt.

Logging follows HA's log-when-unavailable rule: one warning when the camera
becomes unavailable, one info when it is back, also across setup retries (HA
logs ``ConfigEntryNotReady`` at debug only).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util.hass_dict import HassKey

from . import const
from .const import (
    CONF_MAX_FPS,
    CONF_STREAM_MODE,
    DEFAULT_MAX_FPS,
    DEFAULT_STREAM_MODE,
    DOMAIN,
    LOGGER,
    STREAM_MODE_ON_DEMAND,
)
from .discovery import async_find_camera
from .protocol import (
    AuthenticationError,
    CameraConnectionError,
    CameraFullError,
    CameraInfo,
    CameraSession,
    CameraTimeoutError,
    ChinesiumError,
    Credentials,
    Frame,
    SessionClosedError,
    UnsupportedCameraError,
    open_session,
)

type ChinesiumConfigEntry = ConfigEntry[ChinesiumCoordinator]

OFFLINE_LOGGED: HassKey[set[str]] = HassKey(f"{DOMAIN}_offline_logged")
"""Entry ids whose "unavailable" warning was logged (survives setup retries and reloads)."""

SESSION_WAIT_TIMEOUT: float = 10.0
"""Seconds an on-demand user waits for the session to come up."""

BIND_RETRY_DELAY: float = 0.1
"""Seconds to wait before binding the previous local port a second time."""

TOTAL_KEYS = ("frames_ok", "frames_dropped", "packets", "bytes_received")
"""Session counters summed over all sessions since setup (diagnostics)."""


@dataclass(frozen=True, slots=True)
class ChinesiumState:
    """What the entities show; replaced (never mutated) on every change."""

    connected: bool = False
    """A session is up."""
    reachable: bool = False
    """The camera answered at the last attempt (stays true while on-demand idle)."""
    streaming: bool = False
    """Connected and frames arrived within ``const.FRAME_STALE_AFTER`` seconds."""
    stats: dict[str, int] = field(default_factory=dict)
    """Snapshot of the current session's counters."""
    last_error: str | None = None
    """Why the last session ended or the last connect failed."""
    reconnects: int = 0
    """Successful reconnects after a loss or failure since setup."""

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


def session_local_port(session: CameraSession) -> int:
    """The local UDP port a session is bound to (0 if unknown)."""
    port = getattr(session, "local_port", None)
    if isinstance(port, int) and port > 0:
        return port
    addr = getattr(session, "local_addr", None)  # TEG
    if isinstance(addr, tuple) and len(addr) >= 2 and isinstance(addr[1], int):
        return addr[1]
    conn = getattr(session, "conn", None)  # PPPP
    transport = getattr(conn, "_transport", None)
    if transport is not None:
        sockname = transport.get_extra_info("sockname")
        if isinstance(sockname, tuple) and len(sockname) >= 2 and isinstance(sockname[1], int):
            return sockname[1]
    return 0


def _is_bind_error(err: ChinesiumError) -> bool:
    """True when opening failed because the local socket could not be bound."""
    cause = err.__cause__
    return (
        isinstance(err, CameraConnectionError)
        and not isinstance(err, CameraTimeoutError)
        and isinstance(cause, OSError)
        and not isinstance(cause, TimeoutError)
    )


class ChinesiumCoordinator(DataUpdateCoordinator[ChinesiumState]):
    """One per config entry: the session, its supervisor and the latest frame."""

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
        self.info = entry_camera_info(entry)
        self.credentials = entry_credentials(entry)
        self.options: dict[str, Any] = dict(entry.options)
        """The options this coordinator was built with (reload when they change)."""
        self.stream_mode: str = str(self.options.get(CONF_STREAM_MODE, DEFAULT_STREAM_MODE))
        self.max_fps: int = int(self.options.get(CONF_MAX_FPS, DEFAULT_MAX_FPS) or 0)
        self.session: CameraSession | None = None
        self.latest_frame: Frame | None = None
        self.frame_count = 0
        self.firmware: str | None = _str_or_none(self.info.extra.get("firmware"))
        self.totals: dict[str, int] = dict.fromkeys(TOTAL_KEYS, 0)
        self._latest_at: float | None = None
        self._frame_event = asyncio.Event()
        self._unsub_frames: list[Callable[[], None]] = []
        self._closing = False
        self._local_port = 0
        self._users = 0
        self._wake = asyncio.Event()
        self._session_waiters: list[asyncio.Future[CameraSession]] = []
        self._cancel_linger: CALLBACK_TYPE | None = None
        self._idle_requested = False
        self._unexpected_logged = False
        self.data = ChinesiumState()

    # -- public API ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a session is up."""
        return self._is_connected()

    @property
    def current_frame(self) -> Frame | None:
        """The latest frame if it came from the current session, else ``None``."""
        return self.latest_frame if self._latest_at is not None and self.connected else None

    @property
    def on_demand(self) -> bool:
        """True when sessions are only kept while the camera is used."""
        return self.stream_mode == STREAM_MODE_ON_DEMAND

    @property
    def users(self) -> int:
        """Viewers/snapshots currently holding the session (on-demand bookkeeping)."""
        return self._users

    def _is_connected(self) -> bool:
        return self.session is not None and self.session.connected and not self._closing

    def _is_closing(self) -> bool:
        return self._closing

    async def async_connect(self) -> None:
        """First connect during setup; maps errors to HA setup exceptions."""
        try:
            session = await self._async_open(follow_moves=True)
        except AuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="auth_failed"
            ) from err
        except UnsupportedCameraError as err:
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
        self._attach(session)
        del session
        self._log_back_online()
        entry = self.config_entry
        entry.async_on_unload(
            async_track_time_interval(
                self.hass, self._async_tick, const.STATS_INTERVAL, name=f"{self.name} stats"
            )
        )
        entry.async_create_background_task(
            self.hass, self._async_supervise(), f"{self.name} supervisor"
        )
        if self.on_demand:
            self._schedule_linger()

    @contextlib.asynccontextmanager
    async def async_use(self, timeout: float | None = None) -> AsyncIterator[CameraSession]:
        """Hold the camera session while the block runs.

        On demand this connects (waiting up to ``timeout`` seconds, default
        :data:`SESSION_WAIT_TIMEOUT`) and starts the linger timer when the last
        user leaves. In ``always`` mode it fails at once while offline. Raises a
        :class:`ChinesiumError`.
        """
        self._users += 1
        self._cancel_linger_timer()
        if self.on_demand:
            self._wake.set()
        try:
            yield await self._async_wait_session(timeout)
        finally:
            self._users -= 1
            if self._users == 0 and self.on_demand and not self._closing:
                self._schedule_linger()

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
        return self.latest_frame if self._is_connected() else None

    async def async_snapshot(self) -> Frame:
        """Return a fresh frame (the latest if younger than 1 s, else the next one)."""
        if not self.on_demand:
            session = self.session
            if session is None or not self.connected:
                raise SessionClosedError("camera is not connected")
            return await session.snapshot()
        async with self.async_use() as session:
            return await session.snapshot()

    async def async_shutdown(self) -> None:
        """Stop everything: wake waiters, close the session (called on unload)."""
        self._closing = True
        self._cancel_linger_timer()
        self._fail_session_waiters(SessionClosedError("integration unloading"))
        self._wake_waiters()
        self._wake.set()
        session = self._detach()
        if session is not None:
            await session.close()
        del session
        await super().async_shutdown()

    # -- session handling ----------------------------------------------------------

    async def _async_open(self, *, follow_moves: bool) -> CameraSession:
        """Open a session; on a connection failure look for the camera elsewhere."""
        try:
            return await self._async_open_here()
        except (AuthenticationError, UnsupportedCameraError):
            raise
        except ChinesiumError:
            if not follow_moves or not await self._async_follow_move():
                raise
        return await self._async_open_here()

    async def _async_open_here(self) -> CameraSession:
        """Open at ``self.info``, from the previous session's local port when known.

        Reusing the port lets a camera that still holds our slot hand it back at
        once instead of answering "full" until it times the old client out. If
        the port cannot be bound any more, fall back to an ephemeral one.
        """
        options = const.SESSION_OPTIONS
        port = self._local_port
        if port and not options.local_port:
            preferred = replace(options, local_port=port)
            for attempt in range(2):
                try:
                    return await open_session(self.info, self.credentials, preferred)
                except ChinesiumError as err:
                    if not _is_bind_error(err):
                        raise
                    if attempt == 0:
                        # The old socket may still be closing (transports close a
                        # loop iteration later): give it a moment.
                        await asyncio.sleep(BIND_RETRY_DELAY)
                        continue
                    LOGGER.debug("Local port %s is taken, using an ephemeral port: %s", port, err)
        return await open_session(self.info, self.credentials, options)

    async def _async_follow_move(self) -> bool:
        """Re-discover the uid; if it moved, update the entry. True when it moved."""
        hosts = [self.info.host]
        if search_port := self.info.extra.get("search_port"):
            hosts.append(f"{self.info.host}:{search_port}")
        found = await async_find_camera(self.hass, self.info.uid, hosts)
        if found is None or (found.host, found.port) == (self.info.host, self.info.port):
            return False
        LOGGER.info(
            "Camera %s moved from %s:%s to %s:%s",
            self.config_entry.title,
            self.info.host,
            self.info.port,
            found.host,
            found.port,
        )
        if found.app_layer is None and self.info.app_layer is not None:
            found = replace(found, app_layer=self.info.app_layer)
        self.info = found
        self.hass.config_entries.async_update_entry(
            self.config_entry,
            data={**self.config_entry.data, CONF_HOST: found.host, CONF_PORT: found.port},
        )
        return True

    def _attach(self, session: CameraSession) -> None:
        self.session = session
        self._local_port = session_local_port(session) or self._local_port
        layer = getattr(session, "app_layer", None)
        if layer is not None and self.info.app_layer is None:
            # Learned by the login: later sessions skip probing.
            self.info = replace(self.info, app_layer=str(layer))
        firmware = _str_or_none(getattr(session, "firmware", None))
        if firmware:
            self.firmware = firmware
        self._unsub_frames.append(session.add_frame_listener(self._on_frame))
        self._unexpected_logged = False
        self._publish(connected=True, reachable=True)
        waiters, self._session_waiters = self._session_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(session)

    def _detach(self) -> CameraSession | None:
        """Forget the current session (listeners unsubscribed); return it for closing."""
        session, self.session = self.session, None
        self._latest_at = None
        for unsub in self._unsub_frames:
            unsub()
        self._unsub_frames.clear()
        if session is not None:
            stats = session.stats.as_dict()
            for key in TOTAL_KEYS:
                self.totals[key] += stats.get(key, 0)
            self._publish(stats=stats)
        return session

    def _wanted(self) -> bool:
        """Should a session be open (or be probed for) right now?"""
        return not self.on_demand or self._users > 0 or not self.data.reachable

    async def _async_supervise(self) -> None:
        """Keep the session as the stream mode wants; reconnect with backoff.

        Survives any exception of a connect attempt; only cancellation (unload),
        a rejected password (reauth) or an unsupported camera end it.
        """
        delay = const.RECONNECT_MIN_DELAY
        while not self._closing:
            if self.session is not None:
                if await self._async_watch_session():
                    delay = const.RECONNECT_MIN_DELAY
                    await self._async_sleep(delay)
                continue
            if not self._wanted():
                self._wake.clear()
                await self._wake.wait()
                continue
            result = await self._async_try_connect()
            if result is None:
                return
            if not result:
                await self._async_sleep(delay)
                delay = min(delay * 2, const.RECONNECT_MAX_DELAY)
                continue
            delay = const.RECONNECT_MIN_DELAY

    async def _async_watch_session(self) -> bool:
        """Wait until the current session ends; True when it was lost (not idle)."""
        session = self.session
        assert session is not None
        reason: str | None = None
        try:
            await session.wait_closed()
        except Exception as err:  # any end of the session is a loss
            reason = describe_error(err)
        if self._is_closing():
            return False
        idle, self._idle_requested = self._idle_requested, False
        if self.session is session:
            self._detach()
        await session.close()
        del session
        if idle and reason is None:
            LOGGER.debug("Closed the idle session of %s", self.config_entry.title)
            self._wake_waiters()
            self._publish(connected=False)
            return False
        self._set_unreachable(reason or "session closed")
        return True

    async def _async_try_connect(self) -> bool | None:
        """One connect attempt: True on success, False to retry, None to stop."""
        was_reachable = self.data.reachable
        try:
            session = await self._async_open(follow_moves=True)
        except AuthenticationError as err:
            self._fail_session_waiters(err)
            self._set_unreachable(describe_error(err))
            LOGGER.warning("Camera %s rejected the credentials", self.config_entry.title)
            self.config_entry.async_start_reauth(self.hass)
            return None
        except UnsupportedCameraError as err:
            self._fail_session_waiters(err)
            self._set_unreachable(describe_error(err))
            return None
        except ChinesiumError as err:
            self._fail_session_waiters(err)
            self._set_unreachable(describe_error(err))
            LOGGER.debug("Connecting to %s failed: %s", self.config_entry.title, err)
            return False
        except Exception as err:  # the loop must survive library bugs
            if not self._unexpected_logged:
                self._unexpected_logged = True
                LOGGER.warning(
                    "Unexpected error while connecting to %s; will keep retrying",
                    self.config_entry.title,
                    exc_info=True,
                )
            else:
                LOGGER.debug("Connecting to %s failed: %r", self.config_entry.title, err)
            self._fail_session_waiters(CameraConnectionError(describe_error(err)))
            self._set_unreachable(describe_error(err))
            return False
        if self._is_closing():
            await session.close()
            return None
        self._attach(session)
        del session
        if not was_reachable:
            self._publish(reconnects=self.data.reconnects + 1)
        self._log_back_online()
        if self.on_demand and self._users == 0:
            self._schedule_linger()
        return True

    async def _async_sleep(self, delay: float) -> None:
        """Back off; on demand a new user cuts the wait short."""
        self._wake.clear()
        if self.on_demand and self._users > 0:
            self._wake.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()

    async def _async_wait_session(self, timeout: float | None) -> CameraSession:
        session = self.session
        if session is not None and session.connected and not self._idle_requested:
            return session
        if self._closing:
            raise SessionClosedError("integration unloading")
        if not self.on_demand:
            raise SessionClosedError("camera is not connected")
        fut: asyncio.Future[CameraSession] = asyncio.get_running_loop().create_future()
        self._session_waiters.append(fut)
        try:
            async with asyncio.timeout(SESSION_WAIT_TIMEOUT if timeout is None else timeout):
                return await fut
        except ChinesiumError:
            raise
        except TimeoutError as err:
            raise CameraTimeoutError("camera did not connect in time") from err
        finally:
            if fut in self._session_waiters:
                self._session_waiters.remove(fut)

    def _fail_session_waiters(self, err: ChinesiumError) -> None:
        waiters, self._session_waiters = self._session_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_exception(err)
                fut.exception()  # retrieved: no "never retrieved" warning

    # -- on-demand linger ------------------------------------------------------------

    def _schedule_linger(self) -> None:
        self._cancel_linger_timer()
        self._cancel_linger = async_call_later(
            self.hass, const.ON_DEMAND_LINGER, self._async_linger_expired
        )

    def _cancel_linger_timer(self) -> None:
        if self._cancel_linger is not None:
            self._cancel_linger()
            self._cancel_linger = None

    @callback
    def _async_linger_expired(self, _now: datetime) -> None:
        self._cancel_linger = None
        session = self.session
        if self._users or self._closing or session is None or not session.connected:
            return
        self._idle_requested = True
        LOGGER.debug("Nobody watches %s: closing its session", self.config_entry.title)
        self.config_entry.async_create_background_task(
            self.hass, session.close(), f"{self.name} idle close"
        )

    # -- availability logging ----------------------------------------------------------

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
        self.latest_frame = frame
        self.frame_count += 1
        self._latest_at = asyncio.get_running_loop().time()
        self._wake_waiters()
        if not self.data.streaming:
            self._publish()

    def _wake_waiters(self) -> None:
        event, self._frame_event = self._frame_event, asyncio.Event()
        event.set()

    @callback
    def _async_tick(self, _now: datetime) -> None:
        self._publish()

    def _streaming(self) -> bool:
        if not self.connected or self._latest_at is None:
            return False
        return asyncio.get_running_loop().time() - self._latest_at < const.FRAME_STALE_AFTER

    def _publish(self, **changes: Any) -> None:
        """Recompute the state and notify listeners when it changed."""
        session = self.session
        values: dict[str, Any] = {
            "connected": self.connected,
            "reachable": self.data.reachable,
            "streaming": self._streaming(),
            "stats": session.stats.as_dict() if session is not None else self.data.stats,
            "last_error": self.data.last_error,
            "reconnects": self.data.reconnects,
        }
        values.update(changes)
        if not values["connected"]:
            values["streaming"] = False
        new = ChinesiumState(**values)
        if new != self.data or not self.last_update_success:
            self.async_set_updated_data(new)


def _str_or_none(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None
