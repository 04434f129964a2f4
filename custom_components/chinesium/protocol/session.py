"""The family-agnostic camera session interface.

The Home Assistant layer (and the CLI) only ever sees :class:`CameraSession`:

    session = await open_session(info, credentials)   # connected, live video on
    unsub = session.add_frame_listener(callback)     # or: async for f in session.frames()
    await session.wait_closed()                      # returns/raises when the session ends
    await session.close()

A session is one connection. It does not reconnect by itself; when it ends
(camera closed it, went silent, socket error) ``wait_closed()`` raises the
reason and the owner opens a new session (the HA coordinator does, with
backoff). Families subclass :class:`CameraSession`, implement ``_open`` and
``_close`` and call ``_deliver_frame`` / ``_lost`` from their datagram handler.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
import logging
from typing import Any

from .controls import CameraState, Capability, NightMode, PtzDirection
from .errors import (
    CameraTimeoutError,
    ChinesiumError,
    SessionClosedError,
    UnsupportedCommandError,
)
from .model import AudioChunk, CameraInfo, Credentials, Frame, SessionFacts, SessionStats

_LOGGER = logging.getLogger(__name__)

type FrameListener = Callable[[Frame], None]
type AudioListener = Callable[[AudioChunk], None]
type Unsubscribe = Callable[[], None]


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """Timing knobs; defaults follow the specs, tests shorten them."""

    connect_timeout: float = 3.0
    """Seconds to wait for the login answer (retrying sends meanwhile)."""
    keepalive_interval: float = 2.0
    """Seconds between keep-alive datagrams we send."""
    silence_timeout: float = 6.0
    """Seconds without any datagram from the camera before the session is lost."""
    first_frame_timeout: float = 5.0
    """Seconds ``snapshot()`` waits for a frame."""
    local_host: str = "0.0.0.0"  # noqa: S104 - the product listens on the LAN
    """Local address to bind the session socket to."""
    local_port: int = 0
    """Local port (0 = ephemeral). Reusing a port lets a camera reuse our slot."""
    resend: bool = True
    """Ask the camera to resend lost media packets where the protocol allows it."""


class CameraSession(ABC):
    """One live connection to one camera."""

    def __init__(
        self,
        info: CameraInfo,
        credentials: Credentials | None = None,
        options: SessionOptions | None = None,
    ) -> None:
        """Prepare a session; nothing is sent until :meth:`start`."""
        self.info = info
        self.credentials = credentials or Credentials()
        self.options = options or SessionOptions()
        self.stats = SessionStats()
        self.facts = SessionFacts()
        """What the session learned about the camera (typed; see :class:`SessionFacts`)."""
        self.state = CameraState()
        """What the camera last reported (updated by commands and :meth:`refresh_state`)."""
        self.latest_frame: Frame | None = None
        self._listeners: list[FrameListener] = []
        self._audio_listeners: list[AudioListener] = []
        self._waiters: list[asyncio.Future[Frame]] = []
        self._closed: asyncio.Future[None] | None = None
        self._started = False

    # -- public API -----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True between a successful ``start()`` and the end of the session."""
        return self._started and self._closed is not None and not self._closed.done()

    async def start(self) -> None:
        """Connect, log in and start live video. Raises a :class:`ChinesiumError`."""
        if self._started:
            return
        self._closed = asyncio.get_running_loop().create_future()
        try:
            await self._open()
        except BaseException:
            await self._safe_close()
            if not self._closed.done():
                self._closed.set_result(None)
            raise
        self._started = True

    async def close(self) -> None:
        """Close the session politely; idempotent.

        Also drops what could keep the ended session alive in reference cycles
        (listeners, waiters, the traceback of the loss reason, which references
        the frames that awaited ``wait_closed()``), so it is freed by reference
        counting as soon as its owner lets go of it. ``wait_closed()`` still
        raises the loss reason afterwards.
        """
        closed = self._closed
        if closed is not None and not closed.done():
            closed.set_result(None)
        self._fail_waiters(SessionClosedError("session closed"))
        self._listeners.clear()
        self._audio_listeners.clear()
        await self._safe_close()
        if closed is not None and not closed.cancelled():
            _drop_tracebacks(closed.exception())

    async def wait_closed(self) -> None:
        """Wait until the session ends; raise the reason if it was lost."""
        closed = self._closed
        if closed is None:
            raise SessionClosedError("session not started")
        # The loss reason's traceback will record this frame: it must reference
        # neither the session nor the future holding the reason (cycles).
        del self
        try:
            await asyncio.shield(closed)
        finally:
            del closed

    def add_frame_listener(self, listener: FrameListener) -> Unsubscribe:
        """Call ``listener(frame)`` for every delivered frame; returns an unsubscribe."""
        self._listeners.append(listener)

        def _unsub() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return _unsub

    @property
    def supports_audio(self) -> bool:
        """True when this session can deliver camera audio (see :meth:`add_audio_listener`)."""
        return False

    @property
    def audio_wanted(self) -> bool:
        """True while at least one audio listener is registered."""
        return bool(self._audio_listeners)

    def add_audio_listener(self, listener: AudioListener) -> Unsubscribe:
        """Call ``listener(chunk)`` for every decoded audio chunk; returns an unsubscribe.

        Audio is requested from the camera only while at least one audio
        listener is registered (the first one starts it, the last one leaving
        stops it). A session without :attr:`supports_audio` never calls it.
        """
        first = not self._audio_listeners
        self._audio_listeners.append(listener)
        if first:
            self._audio_wanted_changed(True)

        def _unsub() -> None:
            if listener in self._audio_listeners:
                self._audio_listeners.remove(listener)
                if not self._audio_listeners:
                    self._audio_wanted_changed(False)

        return _unsub

    async def next_frame(self, timeout: float | None = None) -> Frame:
        """Wait for the next delivered frame."""
        if not self.connected:
            raise SessionClosedError("session is not connected")
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            async with asyncio.timeout(
                self.options.first_frame_timeout if timeout is None else timeout
            ):
                return await fut
        except TimeoutError as err:
            raise CameraTimeoutError("no frame from camera") from err
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)

    async def snapshot(self, max_age: float = 1.0, timeout: float | None = None) -> Frame:
        """Return the latest frame if younger than ``max_age`` s, else the next one."""
        frame = self.latest_frame
        loop = asyncio.get_running_loop()
        latest_at = self._latest_at
        if frame is not None and latest_at is not None and loop.time() - latest_at <= max_age:
            return frame
        return await self.next_frame(timeout)

    async def frames(self) -> AsyncIterator[Frame]:
        """Yield frames until the session ends (then raise its reason, if any)."""
        queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize=8)

        def _put(frame: Frame) -> None:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(frame)

        unsub = self.add_frame_listener(_put)
        if self._closed is None:
            unsub()
            raise SessionClosedError("session not started")
        closed: asyncio.Future[Any] = self._closed
        # The loss reason raised below must not record a frame referencing the session.
        del self
        try:
            while True:
                get: asyncio.Future[Any] = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({get, closed}, return_when=asyncio.FIRST_COMPLETED)
                if get in done:
                    yield get.result()
                    continue
                get.cancel()
                while not queue.empty():
                    yield queue.get_nowait()
                closed.result()  # raises the loss reason, if any
                return
        finally:
            unsub()

    # -- controls (capabilities and typed commands) ---------------------------------

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this session can do or report beyond live video."""
        return frozenset()

    @property
    def resolutions(self) -> tuple[str, ...]:
        """Values :meth:`set_resolution` accepts (empty without :attr:`Capability.RESOLUTION`)."""
        return ()

    @property
    def night_modes(self) -> tuple[NightMode, ...]:
        """Modes :meth:`set_night_mode` accepts (empty without :attr:`Capability.NIGHT_MODE`)."""
        return ()

    async def ptz(
        self,
        direction: PtzDirection,
        *,
        duration: float | None = None,
        steps: int | None = None,
    ) -> None:
        """Move the pan/tilt motor.

        ``steps``: that many single steps; ``duration``: move for that many
        seconds, then stop; neither: start moving until ``ptz(PtzDirection.STOP)``.
        """
        direction = PtzDirection(direction)
        self._require(Capability.PTZ, "ptz")
        if steps is not None and duration is not None:
            raise ValueError("give steps or duration, not both")
        if direction is PtzDirection.STOP:
            await self._ptz_move(direction)
        elif steps is not None:
            if steps < 1:
                raise ValueError("steps must be >= 1")
            for _ in range(steps):
                await self._ptz_step(direction)
        elif duration is not None:
            if duration < 0:
                raise ValueError("duration must be >= 0")
            await self._ptz_move(direction)
            try:
                await asyncio.sleep(duration)
            finally:
                await self._ptz_move(PtzDirection.STOP)
        else:
            await self._ptz_move(direction)

    async def set_night_mode(self, mode: NightMode) -> None:
        """Switch the IR-cut filter / IR LEDs (one of :attr:`night_modes`)."""
        mode = NightMode(mode)
        self._require(Capability.NIGHT_MODE, "set_night_mode")
        if mode not in self.night_modes:
            raise UnsupportedCommandError(
                "set_night_mode", f"night mode {mode.value!r} not supported by this camera"
            )
        await self._set_night_mode(mode)
        self._set_state(night_mode=mode)

    async def set_light(self, on: bool) -> None:
        """Switch the white light / lamp."""
        self._require(Capability.LIGHT, "set_light")
        await self._set_light(bool(on))
        self._set_state(light=bool(on))

    async def set_flip(self, on: bool) -> None:
        """Turn the picture upside down (or back); the mirror setting is kept."""
        self._require(Capability.FLIP, "set_flip")
        mirror = bool(self.state.mirror)
        await self._set_orientation(bool(on), mirror)
        self._set_state(flip=bool(on), mirror=mirror)

    async def set_mirror(self, on: bool) -> None:
        """Mirror the picture left-right (or back); the flip setting is kept."""
        self._require(Capability.MIRROR, "set_mirror")
        flip = bool(self.state.flip)
        await self._set_orientation(flip, bool(on))
        self._set_state(flip=flip, mirror=bool(on))

    async def set_resolution(self, value: str) -> None:
        """Switch the stream resolution to one of :attr:`resolutions`."""
        self._require(Capability.RESOLUTION, "set_resolution")
        if value not in self.resolutions:
            raise ValueError(f"resolution {value!r} not in {self.resolutions}")
        await self._set_resolution(value)
        self._set_state(resolution=value)

    async def reboot(self) -> None:
        """Reboot the camera. The session ends (``wait_closed()`` raises SessionClosedError)."""
        self._require(Capability.REBOOT, "reboot")
        await self._reboot()
        self._lost(SessionClosedError("camera is rebooting"))

    async def refresh_state(self) -> CameraState:
        """Ask the camera for its current state; returns (and stores) :attr:`state`."""
        if not self.connected:
            raise SessionClosedError("session is not connected")
        await self._refresh_state()
        return self.state

    # -- controls: hooks for families (defaults: unsupported) -----------------------

    def _require(self, capability: Capability, command: str) -> None:
        if capability not in self.capabilities:
            raise UnsupportedCommandError(command)
        if not self.connected:
            raise SessionClosedError("session is not connected")

    def _set_state(self, **changes: Any) -> None:
        """Record reported/set values (replaces :attr:`state`); firmware also goes to facts."""
        self.state = replace(self.state, **changes)
        firmware = changes.get("firmware")
        if firmware and firmware != self.facts.firmware:
            self._set_facts(firmware=firmware)

    async def _ptz_move(self, direction: PtzDirection) -> None:
        """Start moving in ``direction`` (or stop, for STOP)."""
        raise UnsupportedCommandError("ptz")

    async def _ptz_step(self, direction: PtzDirection) -> None:
        """One step: start then stop at once (layers with a step command override this)."""
        await self._ptz_move(direction)
        await self._ptz_move(PtzDirection.STOP)

    async def _set_night_mode(self, mode: NightMode) -> None:
        raise UnsupportedCommandError("set_night_mode")

    async def _set_light(self, on: bool) -> None:
        raise UnsupportedCommandError("set_light")

    async def _set_orientation(self, flip: bool, mirror: bool) -> None:
        raise UnsupportedCommandError("set_flip")

    async def _set_resolution(self, value: str) -> None:
        raise UnsupportedCommandError("set_resolution")

    async def _reboot(self) -> None:
        raise UnsupportedCommandError("reboot")

    async def _refresh_state(self) -> None:  # noqa: B027 - optional hook
        """Query the camera and update :attr:`state` (default: nothing to ask)."""

    # -- for subclasses ------------------------------------------------------------

    _latest_at: float | None = None

    @abstractmethod
    async def _open(self) -> None:
        """Open the socket, log in, start video. Raise a ChinesiumError on failure."""

    @abstractmethod
    async def _close(self) -> None:
        """Tell the camera goodbye (best effort) and release the socket."""

    def _set_facts(self, **changes: Any) -> None:
        """Record what the session learned (replaces :attr:`facts`)."""
        self.facts = replace(self.facts, **changes)

    def _deliver_frame(self, frame: Frame) -> None:
        """Hand a complete frame to listeners and waiters (call from the loop)."""
        facts = self.facts
        if facts.codec is not frame.codec or (
            frame.width and (facts.width, facts.height) != (frame.width, frame.height)
        ):
            self._set_facts(
                codec=frame.codec,
                width=frame.width or facts.width,
                height=frame.height or facts.height,
            )
        self.latest_frame = frame
        self._latest_at = asyncio.get_running_loop().time()
        self.stats.frames_ok += 1
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(frame)
        self._waiters.clear()
        for listener in list(self._listeners):
            try:
                listener(frame)
            except Exception:
                _LOGGER.exception("frame listener failed")

    def _audio_wanted_changed(self, wanted: bool) -> None:  # noqa: B027 - optional hook
        """Start (``True``) or stop asking the camera for audio (families override)."""

    def _deliver_audio(self, chunk: AudioChunk) -> None:
        """Hand a decoded audio chunk to the audio listeners (call from the loop)."""
        for listener in list(self._audio_listeners):
            try:
                listener(chunk)
            except Exception:
                _LOGGER.exception("audio listener failed")

    def _lost(self, reason: ChinesiumError) -> None:
        """Mark the session as ended by the camera/network; idempotent."""
        if self._closed is not None and not self._closed.done():
            _drop_tracebacks(reason)
            self._closed.set_exception(reason)
            # Mark retrieved so an owner that never awaits does not log a warning.
            self._closed.exception()
        self._fail_waiters(reason)

    # -- internals -------------------------------------------------------------------

    def _fail_waiters(self, reason: ChinesiumError) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_exception(reason)
        self._waiters.clear()

    async def _safe_close(self) -> None:
        try:
            await self._close()
        except Exception:
            _LOGGER.debug("error while closing session", exc_info=True)


def _drop_tracebacks(err: BaseException | None) -> None:
    """Forget the tracebacks of ``err`` and its causes/contexts (they pin frames)."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        err.__traceback__ = None
        if err.__cause__ is not None:
            _drop_tracebacks(err.__cause__)
        err = err.__context__
