"""Push coordinator: owns the camera session, reconnects, publishes state and frames."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from . import const
from .const import DOMAIN, LOGGER
from .discovery import async_find_camera
from .protocol import (
    AuthenticationError,
    CameraFullError,
    CameraInfo,
    CameraSession,
    ChinesiumError,
    Credentials,
    Frame,
    SessionClosedError,
    UnsupportedCameraError,
    open_session,
)

type ChinesiumConfigEntry = ConfigEntry[ChinesiumCoordinator]


@dataclass(frozen=True, slots=True)
class ChinesiumState:
    """What the entities show; replaced (never mutated) on every change."""

    connected: bool = False
    """A session is up."""
    streaming: bool = False
    """Connected and frames arrived within ``const.FRAME_STALE_AFTER`` seconds."""
    stats: dict[str, int] = field(default_factory=dict)
    """Snapshot of the current session's counters."""
    last_error: str | None = None
    """Why the last session ended or the last connect failed."""
    reconnects: int = 0
    """Successful reconnects since setup."""


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
    """One per config entry: the session, its reconnect loop and the latest frame."""

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
        self.session: CameraSession | None = None
        self.latest_frame: Frame | None = None
        self.frame_count = 0
        self._latest_at: float | None = None
        self._frame_event = asyncio.Event()
        self._unsub_frames: list[Callable[[], None]] = []
        self._closing = False
        self._offline_logged = False
        self.data = ChinesiumState()

    # -- public API ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a session is up."""
        return self._is_connected()

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
                translation_domain=DOMAIN, translation_key="invalid_auth"
            ) from err
        except UnsupportedCameraError as err:
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="unsupported",
                translation_placeholders={"name": err.name},
            ) from err
        except CameraFullError as err:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="camera_full",
                translation_placeholders={"host": self.info.host},
            ) from err
        except ChinesiumError as err:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"host": self.info.host, "error": describe_error(err)},
            ) from err
        self._attach(session)
        entry = self.config_entry
        entry.async_on_unload(
            async_track_time_interval(
                self.hass, self._async_tick, const.STATS_INTERVAL, name=f"{self.name} stats"
            )
        )
        entry.async_create_background_task(
            self.hass, self._async_supervise(), f"{self.name} supervisor"
        )

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
        session = self.session
        if session is None or not self.connected:
            raise SessionClosedError("camera is not connected")
        return await session.snapshot()

    async def async_shutdown(self) -> None:
        """Stop everything: wake waiters, close the session (called on unload)."""
        self._closing = True
        self._wake_waiters()
        session = self._detach()
        if session is not None:
            await session.close()
        await super().async_shutdown()

    # -- session handling ----------------------------------------------------------

    async def _async_open(self, *, follow_moves: bool) -> CameraSession:
        """Open a session; on a connection failure look for the camera elsewhere."""
        try:
            return await open_session(self.info, self.credentials, const.SESSION_OPTIONS)
        except (AuthenticationError, UnsupportedCameraError):
            raise
        except ChinesiumError:
            if not follow_moves or not await self._async_follow_move():
                raise
        return await open_session(self.info, self.credentials, const.SESSION_OPTIONS)

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
        self.info = found
        self.hass.config_entries.async_update_entry(
            self.config_entry,
            data={**self.config_entry.data, CONF_HOST: found.host, CONF_PORT: found.port},
        )
        return True

    def _attach(self, session: CameraSession) -> None:
        self.session = session
        self._unsub_frames.append(session.add_frame_listener(self._on_frame))
        self._publish(connected=True)

    def _detach(self) -> CameraSession | None:
        session, self.session = self.session, None
        self._latest_at = None
        for unsub in self._unsub_frames:
            unsub()
        self._unsub_frames.clear()
        return session

    async def _async_supervise(self) -> None:
        """Wait for the session to end, then reconnect with backoff, forever."""
        while not self._closing:
            session = self.session
            if session is None:
                return
            reason: str | None = None
            try:
                await session.wait_closed()
            except ChinesiumError as err:
                reason = describe_error(err)
            if self._is_closing():
                return
            self._detach()
            await session.close()
            self._set_offline(reason or "session closed")
            if not await self._async_reconnect():
                return

    async def _async_reconnect(self) -> bool:
        """Reconnect with exponential backoff; False when giving up (auth, unsupported)."""
        delay = const.RECONNECT_MIN_DELAY
        while not self._closing:
            await asyncio.sleep(delay)
            delay = min(delay * 2, const.RECONNECT_MAX_DELAY)
            try:
                session = await self._async_open(follow_moves=True)
            except AuthenticationError as err:
                self._publish(last_error=describe_error(err))
                LOGGER.warning("Camera %s rejected the credentials", self.config_entry.title)
                self.config_entry.async_start_reauth(self.hass)
                return False
            except UnsupportedCameraError as err:
                self._publish(last_error=describe_error(err))
                return False
            except ChinesiumError as err:
                self._publish(last_error=describe_error(err))
                LOGGER.debug("Reconnect to %s failed: %s", self.config_entry.title, err)
                continue
            if self._is_closing():
                await session.close()
                return False
            self._attach(session)
            self._publish(reconnects=self.data.reconnects + 1)
            if self._offline_logged:
                LOGGER.info("Camera %s is back online", self.config_entry.title)
                self._offline_logged = False
            return True
        return False

    def _set_offline(self, reason: str) -> None:
        if not self._offline_logged:
            LOGGER.warning("Camera %s is unavailable: %s", self.config_entry.title, reason)
            self._offline_logged = True
        self._wake_waiters()
        self._publish(connected=False, last_error=reason)

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
