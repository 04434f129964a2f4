"""One camera's frames fanned out to any number of consumers.

:class:`MediaHub` stamps every frame with a sanitized, monotonic ``pts`` and
hands it to each :class:`Subscription`. Each subscription has its own bounded
buffer; a consumer that falls behind loses whole GOPs (never a single
P-frame), so what it receives always decodes. A consumer that joins an
H.264/H.265 stream late starts at the cached GOP (the last keyframe onwards).
Everything runs on the event loop thread; no ``av`` import here.

Audio: :meth:`MediaHub.publish_audio` stamps decoded audio chunks onto
the video timeline and hands them to subscriptions made with
``audio=True`` (read with :meth:`Subscription.get_media`). The hub counts
those subscriptions (:attr:`MediaHub.audio_demand`) and tells its audio
demand listeners when the count leaves or returns to zero, so a session is
asked for audio only while a consumer of it exists (see :func:`link_audio`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
import dataclasses
import logging
from typing import Any, Protocol

from ..model import AudioChunk, Codec, Frame
from .timestamps import TimestampSanitizer

DEFAULT_SUBSCRIBER_MAXSIZE = 60
"""Frames one subscriber may have queued (4 s at 15 fps)."""
DEFAULT_GOP_CACHE_MAX = 300
"""A GOP longer than this is not cached (late joiners wait for the next keyframe)."""
AUDIO_QUEUE_MAX = 40
"""Audio chunks one subscriber may have queued (about 5 s of TEG audio)."""

_LOGGER = logging.getLogger(__name__)
type AudioDemandListener = Callable[[bool], None]


class Subscription:
    """One consumer's view of a :class:`MediaHub`: an async iterator of frames.

    Iteration ends when the subscription or its hub is closed. ``delivered``
    and ``dropped`` count frames handed out and frames lost to overflow.
    """

    __slots__ = (
        "_audio_queued",
        "_buf",
        "_closed",
        "_hub",
        "_skipping",
        "_waiter",
        "audio",
        "audio_delivered",
        "audio_dropped",
        "delivered",
        "dropped",
        "maxsize",
    )

    def __init__(self, hub: MediaHub, maxsize: int, audio: bool = False) -> None:
        """Created by :meth:`MediaHub.subscribe`."""
        self._hub: MediaHub | None = hub
        self.maxsize = maxsize
        self.audio = audio
        """True when audio chunks are queued too (read them with :meth:`get_media`)."""
        self._buf: deque[Frame | AudioChunk] = deque()
        self._audio_queued = 0
        self.audio_delivered = 0
        self.audio_dropped = 0
        self._closed = False
        self._skipping = False
        self._waiter: asyncio.Future[None] | None = None
        self.delivered = 0
        self.dropped = 0

    @property
    def closed(self) -> bool:
        """True once closed (by the consumer or by the hub)."""
        return self._closed

    @property
    def queued(self) -> int:
        """Frames waiting to be read."""
        return len(self._buf) - self._audio_queued

    def close(self) -> None:
        """Stop receiving frames; a parked reader wakes and its iteration ends."""
        if self._closed:
            return
        self._closed = True
        self._buf.clear()
        self._audio_queued = 0
        hub, self._hub = self._hub, None
        if hub is not None:
            hub._discard(self)
        self._wake()

    async def get(self) -> Frame | None:
        """Wait for the next frame (audio chunks are skipped); ``None`` once closed."""
        while True:
            item = await self.get_media()
            if item is None or isinstance(item, Frame):
                return item

    async def get_media(self) -> Frame | AudioChunk | None:
        """Wait for the next frame or audio chunk, in arrival order; ``None`` once closed."""
        while not self._buf:
            if self._closed:
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        item = self._buf.popleft()
        if isinstance(item, AudioChunk):
            self._audio_queued -= 1
            self.audio_delivered += 1
        else:
            self.delivered += 1
        return item

    def __aiter__(self) -> AsyncIterator[Frame]:
        """Iterate over frames until closed."""
        return self

    async def __anext__(self) -> Frame:
        """Next frame; ``StopAsyncIteration`` once closed."""
        frame = await self.get()
        if frame is None:
            raise StopAsyncIteration
        return frame

    def as_dict(self) -> dict[str, Any]:
        """Counters for diagnostics."""
        out: dict[str, Any] = {
            "queued": self.queued,
            "maxsize": self.maxsize,
            "delivered": self.delivered,
            "dropped": self.dropped,
        }
        if self.audio:
            out["audio_queued"] = self._audio_queued
            out["audio_delivered"] = self.audio_delivered
            out["audio_dropped"] = self.audio_dropped
        return out

    # -- hub side ---------------------------------------------------------------

    def _prefill(self, gop: list[Frame]) -> None:
        if len(gop) > self.maxsize:
            # Deliver a decodable prefix of the cached GOP, then wait for a keyframe.
            self._buf.extend(gop[: self.maxsize])
            self._skipping = True
        else:
            self._buf.extend(gop)

    def _offer(self, frame: Frame) -> None:
        if self._closed:
            return
        if not frame.keyframe:
            if self._skipping or self.queued >= self.maxsize:
                # Behind: lose the rest of this GOP, resume at the next keyframe.
                self._skipping = True
                self.dropped += 1
                return
        else:
            self._skipping = False
            if self.queued >= self.maxsize:
                # Drop from the oldest end until a keyframe starts the buffer and
                # there is room: only the tail of a GOP or whole GOPs are lost.
                buf = self._buf
                while buf:
                    head = buf[0]
                    if isinstance(head, AudioChunk):
                        buf.popleft()
                        self._audio_queued -= 1
                        self.audio_dropped += 1
                        continue
                    if self.queued < self.maxsize and head.keyframe:
                        break
                    buf.popleft()
                    self.dropped += 1
        self._buf.append(frame)
        self._wake()

    def _offer_audio(self, chunk: AudioChunk) -> None:
        if self._closed or not self.audio:
            return
        if self._audio_queued >= AUDIO_QUEUE_MAX:
            self.audio_dropped += 1
            return
        self._buf.append(chunk)
        self._audio_queued += 1
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class MediaHub:
    """Fan-out of one camera's frames with a GOP cache and sanitized timestamps.

    Call :meth:`publish` for every frame the session delivers (on the event
    loop); consumers call :meth:`subscribe`. ``nominal_step_ms`` is the frame
    period the sanitizer falls back to on a bad camera timestamp.
    """

    def __init__(
        self,
        *,
        nominal_step_ms: int = 67,
        max_jump_ms: int = 2000,
        gop_cache_max: int = DEFAULT_GOP_CACHE_MAX,
    ) -> None:
        """Create an open hub with no frames yet."""
        self._clock = TimestampSanitizer(nominal_step_ms=nominal_step_ms, max_jump_ms=max_jump_ms)
        self._gop: list[Frame] = []
        self._prev_gop: list[Frame] = []
        self._gop_cache_max = gop_cache_max
        self._subs: set[Subscription] = set()
        self._closed = False
        self._codec: Codec | None = None
        self._latest: Frame | None = None
        self._audio_subs = 0
        self._audio_demand_listeners: list[AudioDemandListener] = []
        self._last_audio_pts = -1
        self.latest_audio: AudioChunk | None = None
        """The last audio chunk published (with its hub ``pts``)."""
        self.audio_in = 0
        """Audio chunks published."""
        self._latest_keyframe: Frame | None = None
        self.frames_in = 0
        """Frames published."""
        self.keyframes_in = 0
        """Keyframes published."""

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    @property
    def codec(self) -> Codec | None:
        """Codec of the last frame published (``None`` before the first)."""
        return self._codec

    @property
    def latest(self) -> Frame | None:
        """The last frame published (with its sanitized ``pts``)."""
        return self._latest

    @property
    def latest_keyframe(self) -> Frame | None:
        """The last keyframe (any JPEG frame is one); ``None`` before the first."""
        return self._latest_keyframe

    @property
    def subscribers(self) -> int:
        """Open subscriptions."""
        return len(self._subs)

    def publish(self, frame: Frame) -> Frame:
        """Stamp ``frame`` with a monotonic pts and hand it to every subscriber.

        Returns the stamped frame. Ignored (returned unchanged) once closed.
        """
        if self._closed:
            return frame
        codec = frame.codec
        keyframe = frame.keyframe or codec is Codec.JPEG
        pts = self._clock.sanitize(frame.pts, frame.timestamp)
        if type(frame) is Frame:  # (cheaper than dataclasses.replace on the hot path)
            frame = Frame(
                frame.data,
                frame.width,
                frame.height,
                frame.timestamp,
                frame.seq,
                codec,
                keyframe,
                pts,
            )
        else:
            frame = dataclasses.replace(frame, pts=pts, keyframe=keyframe)
        self.frames_in += 1
        if frame.codec is not self._codec:
            self._codec = frame.codec
            self._gop = []
            self._prev_gop = []
            self._latest_keyframe = None
        if keyframe:
            self.keyframes_in += 1
            self._latest_keyframe = frame
            self._prev_gop = self._gop
            self._gop = [frame]
        elif self._gop:
            if len(self._gop) < self._gop_cache_max:
                self._gop.append(frame)
            else:
                self._gop = []
                self._prev_gop = []
        self._latest = frame
        for sub in tuple(self._subs):
            sub._offer(frame)
        return frame

    @property
    def audio_demand(self) -> int:
        """Open subscriptions that take audio."""
        return self._audio_subs

    def add_audio_demand_listener(self, listener: AudioDemandListener) -> Callable[[], None]:
        """Call ``listener(True)`` when the first audio subscription opens and
        ``listener(False)`` when the last one closes; returns an unsubscribe."""
        self._audio_demand_listeners.append(listener)

        def _unsub() -> None:
            if listener in self._audio_demand_listeners:
                self._audio_demand_listeners.remove(listener)

        return _unsub

    def publish_audio(self, chunk: AudioChunk) -> AudioChunk | None:
        """Stamp ``chunk`` onto the video timeline and hand it to audio subscribers.

        The hub ``pts`` is the last video frame's pts plus the arrival-time
        difference (ms, never decreasing). Returns the stamped chunk, or
        ``None`` when ignored (closed hub, or no video frame yet).
        """
        latest = self._latest
        if self._closed or latest is None or latest.pts is None:
            return None
        pts = latest.pts + round((chunk.timestamp - latest.timestamp) * 1000.0)
        pts = max(pts, self._last_audio_pts, 0)
        self._last_audio_pts = pts
        chunk = dataclasses.replace(chunk, pts=pts)
        self.audio_in += 1
        self.latest_audio = chunk
        if self._audio_subs:
            for sub in tuple(self._subs):
                sub._offer_audio(chunk)
        return chunk

    def subscribe(
        self,
        maxsize: int = DEFAULT_SUBSCRIBER_MAXSIZE,
        *,
        min_backlog: int = 0,
        audio: bool = False,
    ) -> Subscription:
        """A new consumer; it starts at the cached GOP (a closed hub: ends at once).

        ``maxsize`` bounds the frames it may have queued before it loses GOPs.
        ``min_backlog``: when the current GOP has fewer frames than this, start
        at the previous GOP instead (if it fits in ``maxsize``). A libavformat
        reader needs about 20 timestamped frames before ``av.open`` returns, so
        a restream that starts with enough frames opens at once.
        ``audio``: also queue audio chunks (this subscription counts as audio
        demand until closed).
        """
        sub = Subscription(self, max(1, maxsize), audio)
        if self._closed:
            sub.close()
            return sub
        if self._codec is Codec.JPEG:
            sub._prefill(self._gop[-1:])
        elif self._gop:
            backlog = self._gop
            if (
                len(backlog) < min_backlog
                and self._prev_gop
                and len(self._prev_gop) + len(backlog) <= sub.maxsize
            ):
                backlog = self._prev_gop + backlog
            sub._prefill(backlog)
        else:
            sub._skipping = True  # start at a keyframe (every JPEG frame is one)
        self._subs.add(sub)
        if audio:
            self._audio_subs += 1
            if self._audio_subs == 1:
                self._audio_demand(True)
        return sub

    def close(self) -> None:
        """End every subscription (parked readers wake); later publishes are ignored."""
        self._closed = True
        for sub in tuple(self._subs):
            sub.close()
        self._subs.clear()
        if self._audio_subs:
            self._audio_subs = 0
            self._audio_demand(False)
        self._gop = []
        self._prev_gop = []

    def as_dict(self) -> dict[str, Any]:
        """Counters for diagnostics (no frame data)."""
        return {
            "codec": None if self._codec is None else str(self._codec),
            "frames_in": self.frames_in,
            "keyframes_in": self.keyframes_in,
            "cached_gop": len(self._gop),
            "cached_previous_gop": len(self._prev_gop),
            "audio_in": self.audio_in,
            "audio_demand": self._audio_subs,
            "closed": self._closed,
            "subscribers": [s.as_dict() for s in self._subs],
        }

    def _discard(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.discard(sub)
            if sub.audio:
                self._audio_subs -= 1
                if self._audio_subs == 0:
                    self._audio_demand(False)

    def _audio_demand(self, wanted: bool) -> None:
        for listener in list(self._audio_demand_listeners):
            try:
                listener(wanted)
            except Exception:
                _LOGGER.exception("audio demand listener failed")


class AudioSource(Protocol):
    """What :func:`link_audio` needs from a session (a :class:`CameraSession`)."""

    def add_audio_listener(self, listener: Callable[[AudioChunk], None]) -> Callable[[], None]:
        """Register an audio listener; returns an unsubscribe."""
        ...  # pragma: no cover


def link_audio(session: AudioSource, hub: MediaHub) -> Callable[[], None]:
    """Feed ``session``'s audio into ``hub`` only while the hub has audio demand.

    Returns an unlink function (call it when the session ends or is replaced).
    """
    unsub: Callable[[], None] | None = None

    def feed(chunk: AudioChunk) -> None:
        hub.publish_audio(chunk)

    def on_demand(wanted: bool) -> None:
        nonlocal unsub
        if wanted and unsub is None:
            unsub = session.add_audio_listener(feed)
        elif not wanted and unsub is not None:
            unsub()
            unsub = None

    remove = hub.add_audio_demand_listener(on_demand)
    on_demand(hub.audio_demand > 0)

    def unlink() -> None:
        remove()
        on_demand(False)

    return unlink
