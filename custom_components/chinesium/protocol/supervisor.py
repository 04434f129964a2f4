"""Keep one camera connected: the connection supervisor.

Modelled on aioesphomeapi's ``ReconnectLogic``: a :class:`SessionSupervisor`
owns the life cycle of the sessions to one camera and tells its owner what
happens through callbacks. It

* connects, and after a loss reconnects with exponential backoff, forever
  (a rejected password or an unsupported camera stop it: retrying cannot help);
* reuses the previous session's local port, so a camera that still holds our
  slot hands it back instead of answering "full";
* absorbs a camera's *late close*: a camera that timed out our previous,
  silent session may close the slot right after we got it back; one quick
  reconnect follows, with no disconnect reported;
* follows a camera that moved (new address or port) through a ``locate``
  hook, and reports it through ``on_moved``;
* in on-demand mode connects only while someone holds :meth:`use`, closes the
  session ``linger`` seconds after the last user, and while idle probes the
  camera cheaply (``locate``) every ``idle_probe_interval`` seconds so its
  reachability stays true.

The supervisor logs at debug only (availability logging is the owner's), but
for an unexpected exception from a session, a library bug: one warning with
its traceback, then debug.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass, field, replace
from enum import StrEnum
import logging

from .errors import (
    AuthenticationError,
    CameraConnectionError,
    CameraTimeoutError,
    ChinesiumError,
    SessionClosedError,
    UnsupportedCameraError,
)
from .model import CameraInfo, Credentials, Frame
from .session import CameraSession, SessionOptions

_LOGGER = logging.getLogger(__name__)

type Opener = Callable[[CameraInfo, Credentials, SessionOptions], Awaitable[CameraSession]]
type Locator = Callable[[CameraInfo], Awaitable[CameraInfo | None]]


class LinkState(StrEnum):
    """Where the supervisor is."""

    INIT = "init"
    """Not started."""
    CONNECTING = "connecting"
    """A connect attempt is under way."""
    CONNECTED = "connected"
    """A session is up."""
    WAITING = "waiting"
    """Backing off after a failure or a loss."""
    IDLE = "idle"
    """On demand and nobody uses the camera: no session."""
    PAUSED = "paused"
    """Held off by :meth:`SessionSupervisor.paused` (another client probes the camera)."""
    STOPPED = "stopped"
    """Stopped for good (``stop()``, a rejected password, an unsupported camera)."""


@dataclass(frozen=True, slots=True)
class SupervisorOptions:
    """Timing and mode of a supervisor; defaults suit real cameras."""

    session: SessionOptions = field(default_factory=SessionOptions)
    """Options for every session opened."""
    min_delay: float = 1.0
    """First reconnect delay in seconds; doubles on every failure."""
    max_delay: float = 60.0
    """Reconnect delay cap in seconds."""
    on_demand: bool = False
    """Connect only while :meth:`SessionSupervisor.use` is held."""
    linger: float = 30.0
    """On demand: seconds a session stays up after the last user left."""
    idle_probe_interval: float = 60.0
    """On demand: seconds between reachability probes while idle."""
    settle_time: float = 5.0
    """A camera close this soon after connecting is absorbed by one quick reconnect."""
    use_timeout: float = 10.0
    """Seconds :meth:`SessionSupervisor.use` waits for a session by default."""
    bind_retry_delay: float = 0.1
    """Wait before binding the previous local port a second time."""


@dataclass(slots=True)
class SupervisorCallbacks:
    """What the owner is told. Every callback runs in the event loop and must not block."""

    on_connect: Callable[[CameraSession], None] = lambda _s: None
    """A session is up (also after an absorbed late close: then a new session)."""
    on_disconnect: Callable[[ChinesiumError | None], None] = lambda _e: None
    """The session ended: the loss reason, or ``None`` when closed on purpose (idle)."""
    on_error: Callable[[ChinesiumError], None] = lambda _e: None
    """A connect attempt or an idle probe failed (a rejected password stops the supervisor)."""
    on_reachable: Callable[[], None] = lambda: None
    """An idle probe found the camera (no session is opened)."""
    on_moved: Callable[[CameraInfo], None] = lambda _i: None
    """The camera answered at another address; later sessions use it."""
    on_stopped: Callable[[ChinesiumError], None] = lambda _e: None
    """The supervisor gave up for good (auth failure, unsupported camera)."""


def _is_bind_error(err: ChinesiumError) -> bool:
    """True when opening failed because the local socket could not be bound."""
    cause = err.__cause__
    return (
        isinstance(err, CameraConnectionError)
        and not isinstance(err, CameraTimeoutError)
        and isinstance(cause, OSError)
        and not isinstance(cause, TimeoutError)
    )


async def _default_opener(
    info: CameraInfo, credentials: Credentials, options: SessionOptions
) -> CameraSession:
    from . import open_session  # noqa: PLC0415 - the package imports this module

    return await open_session(info, credentials, options)


class SessionSupervisor:
    """Owns the sessions to one camera; see the module docstring."""

    def __init__(
        self,
        info: CameraInfo,
        credentials: Credentials | None = None,
        options: SupervisorOptions | None = None,
        callbacks: SupervisorCallbacks | None = None,
        *,
        locate: Locator | None = None,
        opener: Opener | None = None,
    ) -> None:
        """Prepare; nothing is sent until :meth:`connect` or :meth:`start`."""
        self.info = info
        self.credentials = credentials or Credentials()
        self.options = options or SupervisorOptions()
        self.callbacks = callbacks or SupervisorCallbacks()
        self._locate = locate
        self._opener: Opener = opener or _default_opener
        self.state = LinkState.INIT
        self.session: CameraSession | None = None
        self.last_error: ChinesiumError | None = None
        self.reachable = False
        """The camera answered at the last attempt or probe."""
        self.reconnects = 0
        """Sessions opened after a loss or failure (not counting absorbed late closes)."""
        self.absorbed = 0
        """Late closes absorbed by a quick reconnect."""
        self._local_port = 0
        self._users = 0
        self._pauses = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._waiters: list[asyncio.Future[CameraSession]] = []
        self._linger: asyncio.TimerHandle | None = None
        self._idle_close = False
        self._stopping = False
        self._connected_at = 0.0
        self._absorb_used = False
        self._closers: set[asyncio.Task[None]] = set()
        self._bug_logged = False

    # -- public API ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a session is up."""
        session = self.session
        return session is not None and session.connected and not self._stopping

    @property
    def users(self) -> int:
        """How many :meth:`use` blocks hold the camera."""
        return self._users

    @property
    def local_port(self) -> int:
        """The local port the next session will try to reuse (0: none yet)."""
        return self._local_port

    async def connect(self) -> CameraSession:
        """Open the first session now; raise its error (for the owner's setup)."""
        self.state = LinkState.CONNECTING
        try:
            session = await self._open(follow_moves=True)
        except ChinesiumError as err:
            self.last_error = err
            self.reachable = False
            self.state = LinkState.WAITING
            raise
        self._attach(session)
        return session

    def start(self) -> None:
        """Start supervising in a background task (after :meth:`connect` or instead)."""
        if self._task is None and not self._stopping:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"chinesium supervisor {self.info.uid}"
            )
            if self.options.on_demand and self.session is not None and not self._users:
                self._schedule_linger()

    async def stop(self) -> None:
        """Stop for good: close the session, end the task, fail waiters."""
        self._stopping = True
        self.state = LinkState.STOPPED
        self._cancel_linger()
        self._fail_waiters(SessionClosedError("supervisor stopped"))
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        session, self.session = self.session, None
        if session is not None:
            await session.close()
        if self._closers:
            await asyncio.gather(*self._closers, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def use(self, timeout: float | None = None) -> AsyncIterator[CameraSession]:
        """Hold the camera while the block runs; yields the live session.

        On demand this connects (waiting up to ``timeout`` s) and starts the
        linger timer when the last user leaves. Otherwise it fails at once
        while no session is up. Raises a :class:`ChinesiumError`.
        """
        self._users += 1
        self._cancel_linger()
        if self.options.on_demand:
            self._wake.set()
        try:
            yield await self._wait_session(timeout)
        finally:
            self._users -= 1
            if not self._users and self.options.on_demand and not self._stopping:
                self._schedule_linger()

    async def snapshot(self, max_age: float = 1.0) -> Frame:
        """A fresh frame: the latest if younger than ``max_age`` s, else the next."""
        async with self.use() as session:
            return await session.snapshot(max_age)

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """Close the session and hold off reconnects while the block runs.

        For a second client (a reconfigure probe) that needs the camera's only
        slot. The session comes back when the block ends.
        """
        self._pauses += 1
        self._fail_waiters(SessionClosedError("paused"))
        session = self.session
        if session is not None:
            self._idle_close = True
            await session.close()
            # Let the run loop see the end before the block starts.
            for _ in range(3):
                await asyncio.sleep(0)
        try:
            yield
        finally:
            self._pauses -= 1
            self._wake.set()

    def update_target(
        self, info: CameraInfo | None = None, credentials: Credentials | None = None
    ) -> None:
        """Use another address or credentials from the next session on."""
        if info is not None:
            self.info = info
        if credentials is not None:
            self.credentials = credentials

    # -- the loop --------------------------------------------------------------------------

    def _wanted(self) -> bool:
        if self._pauses:
            return False
        return not self.options.on_demand or self._users > 0 or self._waiters != []

    async def _run(self) -> None:
        delay = self.options.min_delay
        while not self._stopping:
            if self.session is not None:
                lost = await self._watch()
                if lost is None:
                    continue  # closed on purpose (idle, paused)
                if self._absorbable(lost) and await self._attempt(report=False):
                    self.absorbed += 1
                    _LOGGER.debug("%s: absorbed a late close (%s)", self.info.uid, lost)
                    continue
                self._absorb_used = False
                self.reachable = False
                self.last_error = lost
                self.callbacks.on_disconnect(lost)
                self._fail_waiters(lost)
                delay = self.options.min_delay
                await self._sleep(delay)
                continue
            if not self._wanted():
                await self._idle()
                continue
            result = await self._attempt(report=True)
            if result is None:
                return
            if result:
                delay = self.options.min_delay
                continue
            await self._sleep(delay)
            delay = min(delay * 2, self.options.max_delay)

    def _absorbable(self, lost: ChinesiumError) -> bool:
        """A camera close right after connecting, not absorbed just before."""
        if not isinstance(lost, SessionClosedError):
            return False
        age = asyncio.get_running_loop().time() - self._connected_at
        if age > self.options.settle_time:
            self._absorb_used = False
            return False
        if self._absorb_used:
            return False
        self._absorb_used = True
        return True

    async def _watch(self) -> ChinesiumError | None:
        """Wait until the session ends; the loss reason, or ``None`` when closed on purpose."""
        session = self.session
        assert session is not None
        self.state = LinkState.CONNECTED
        reason: ChinesiumError | None = None
        try:
            await session.wait_closed()
        except ChinesiumError as err:
            reason = err
        except Exception as err:  # a library bug must not end supervision
            reason = CameraConnectionError(f"{type(err).__name__}: {err}")
        if self._stopping:
            return None
        purposeful, self._idle_close = self._idle_close, False
        await session.close()
        self.session = None
        del session
        if purposeful and reason is None:
            self.callbacks.on_disconnect(None)
            return None
        return reason or SessionClosedError("session ended")

    async def _attempt(self, *, report: bool) -> bool | None:
        """One connect attempt: True on success, False to retry, None when stopped."""
        self.state = LinkState.CONNECTING
        was_reachable = self.reachable
        try:
            session = await self._open(follow_moves=True)
        except (AuthenticationError, UnsupportedCameraError) as err:
            self._give_up(err)
            return None
        except ChinesiumError as err:
            self._failed(err, report)
            return False
        except Exception as err:  # the loop must survive library bugs
            _LOGGER.log(
                logging.DEBUG if self._bug_logged else logging.WARNING,
                "Unexpected error while connecting to %s; will keep retrying",
                self.info.uid,
                exc_info=True,
            )
            self._bug_logged = True
            self._failed(CameraConnectionError(f"{type(err).__name__}: {err}"), report)
            return False
        if self._stopping or self._pauses:
            await session.close()
            return None if self._stopping else False
        if report and not was_reachable:
            self.reconnects += 1
        self._attach(session)
        return True

    def _failed(self, err: ChinesiumError, report: bool) -> None:
        self.last_error = err
        self.reachable = False
        self.state = LinkState.WAITING
        self._fail_waiters(err)
        if report:
            self.callbacks.on_error(err)

    def _give_up(self, err: ChinesiumError) -> None:
        self.last_error = err
        self.reachable = False
        self.state = LinkState.STOPPED
        self._stopping = True
        self._fail_waiters(err)
        self.callbacks.on_stopped(err)

    def _attach(self, session: CameraSession) -> None:
        self.session = session
        self.state = LinkState.CONNECTED
        self.reachable = True
        self.last_error = None
        self._connected_at = asyncio.get_running_loop().time()
        self._local_port = session.facts.local_port or self._local_port
        layer = session.facts.app_layer
        if layer is not None and self.info.app_layer is None:
            # Learned by the login: later sessions skip probing.
            self.info = replace(self.info, app_layer=layer)
        self.callbacks.on_connect(session)
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(session)
        if self.options.on_demand and not self._users:
            self._schedule_linger()

    async def _sleep(self, delay: float) -> None:
        """Back off; a new on-demand user or a resume cuts the wait short."""
        self.state = LinkState.WAITING
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()

    async def _idle(self) -> None:
        """No session wanted: wait for a user, probing reachability meanwhile."""
        self.state = LinkState.PAUSED if self._pauses else LinkState.IDLE
        self._wake.clear()
        interval = self.options.idle_probe_interval
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval if not self._pauses else None):
                await self._wake.wait()
                return
        if self._locate is None or self._pauses:
            return
        found = await self._locate(self.info)
        if found is None:
            err = CameraTimeoutError("camera did not answer the search")
            changed = self.reachable or self.last_error is None
            self.reachable = False
            self.last_error = err
            if changed:
                self.callbacks.on_error(err)
            return
        self._note_found(found)
        if not self.reachable:
            self.reachable = True
            self.last_error = None
            self.callbacks.on_reachable()

    # -- opening -------------------------------------------------------------------------

    async def _open(self, *, follow_moves: bool) -> CameraSession:
        """Open a session; on a connection failure look for the camera elsewhere."""
        try:
            return await self._open_here()
        except (AuthenticationError, UnsupportedCameraError):
            raise
        except ChinesiumError:
            if not follow_moves or self._locate is None or not await self._follow_move():
                raise
        return await self._open_here()

    async def _open_here(self) -> CameraSession:
        """Open at ``self.info``, from the previous session's local port when known."""
        options = self.options.session
        port = self._local_port
        if port and not options.local_port:
            preferred = replace(options, local_port=port)
            for attempt in range(2):
                try:
                    return await self._opener(self.info, self.credentials, preferred)
                except ChinesiumError as err:
                    if not _is_bind_error(err):
                        raise
                    if attempt == 0:
                        # The old socket may still be closing (transports close a loop
                        # iteration later): give it a moment.
                        await asyncio.sleep(self.options.bind_retry_delay)
                        continue
                    _LOGGER.debug("Local port %s is taken, using an ephemeral one", port)
        return await self._opener(self.info, self.credentials, options)

    async def _follow_move(self) -> bool:
        """Search for the uid; if it moved, switch to the new address. True when moved."""
        assert self._locate is not None
        found = await self._locate(self.info)
        if found is None:
            return False
        return self._note_found(found)

    def _note_found(self, found: CameraInfo) -> bool:
        info = self.info
        if (found.host, found.port) == (info.host, info.port):
            return False
        _LOGGER.debug("%s moved to %s:%s", info.uid, found.host, found.port)
        self.info = replace(
            info, host=found.host, port=found.port, extra={**info.extra, **found.extra}
        )
        self.callbacks.on_moved(self.info)
        return True

    # -- waiters and linger ----------------------------------------------------------------

    async def _wait_session(self, timeout: float | None) -> CameraSession:
        session = self.session
        if session is not None and session.connected and not self._idle_close:
            return session
        if self._stopping:
            raise SessionClosedError("supervisor stopped")
        if not self.options.on_demand:
            raise SessionClosedError("camera is not connected")
        fut: asyncio.Future[CameraSession] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._wake.set()
        try:
            async with asyncio.timeout(self.options.use_timeout if timeout is None else timeout):
                return await fut
        except TimeoutError as err:
            raise CameraTimeoutError("camera did not connect in time") from err
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)

    def _fail_waiters(self, err: ChinesiumError) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_exception(err)
                fut.exception()  # retrieved: no "never retrieved" warning

    def _schedule_linger(self) -> None:
        self._cancel_linger()
        self._linger = asyncio.get_running_loop().call_later(
            self.options.linger, self._linger_expired
        )

    def _cancel_linger(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None

    def _linger_expired(self) -> None:
        self._linger = None
        session = self.session
        if self._users or self._stopping or session is None or not session.connected:
            return
        _LOGGER.debug("%s: nobody uses the camera, closing its session", self.info.uid)
        self._idle_close = True
        task = asyncio.get_running_loop().create_task(session.close())
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)
