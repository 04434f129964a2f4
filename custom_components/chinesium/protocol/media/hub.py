"""One camera's frames fanned out to any number of consumers.

:class:`MediaHub` stamps every frame with a sanitized, monotonic ``pts`` and
hands it to each :class:`Subscription`. Each subscription has its own bounded
buffer; a consumer that falls behind loses whole GOPs (never a single
P-frame), so what it receives always decodes. A consumer that joins an
H.264/H.265 stream late starts at the cached GOP (the last keyframe onwards).
Everything runs on the event loop thread; no ``av`` import here.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
import dataclasses
from typing import Any

from ..model import Codec, Frame
from .timestamps import TimestampSanitizer

DEFAULT_SUBSCRIBER_MAXSIZE = 60
"""Frames one subscriber may have queued (4 s at 15 fps)."""
DEFAULT_GOP_CACHE_MAX = 300
"""A GOP longer than this is not cached (late joiners wait for the next keyframe)."""


class Subscription:
    """One consumer's view of a :class:`MediaHub`: an async iterator of frames.

    Iteration ends when the subscription or its hub is closed. ``delivered``
    and ``dropped`` count frames handed out and frames lost to overflow.
    """

    __slots__ = (
        "_buf",
        "_closed",
        "_hub",
        "_skipping",
        "_waiter",
        "delivered",
        "dropped",
        "maxsize",
    )

    def __init__(self, hub: MediaHub, maxsize: int) -> None:
        """Created by :meth:`MediaHub.subscribe`."""
        self._hub: MediaHub | None = hub
        self.maxsize = maxsize
        self._buf: deque[Frame] = deque()
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
        return len(self._buf)

    def close(self) -> None:
        """Stop receiving frames; a parked reader wakes and its iteration ends."""
        if self._closed:
            return
        self._closed = True
        self._buf.clear()
        hub, self._hub = self._hub, None
        if hub is not None:
            hub._discard(self)
        self._wake()

    async def get(self) -> Frame | None:
        """Wait for the next frame; ``None`` once closed."""
        while not self._buf:
            if self._closed:
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        self.delivered += 1
        return self._buf.popleft()

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
        return {
            "queued": len(self._buf),
            "maxsize": self.maxsize,
            "delivered": self.delivered,
            "dropped": self.dropped,
        }

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
            if self._skipping or len(self._buf) >= self.maxsize:
                # Behind: lose the rest of this GOP, resume at the next keyframe.
                self._skipping = True
                self.dropped += 1
                return
        else:
            self._skipping = False
            if len(self._buf) >= self.maxsize:
                # Drop from the oldest end until a keyframe starts the buffer and
                # there is room: only the tail of a GOP or whole GOPs are lost.
                buf = self._buf
                while buf and (len(buf) >= self.maxsize or not buf[0].keyframe):
                    buf.popleft()
                    self.dropped += 1
        self._buf.append(frame)
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
        keyframe = frame.keyframe or frame.codec is Codec.JPEG
        pts = self._clock.sanitize(frame.pts, frame.timestamp)
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

    def subscribe(
        self, maxsize: int = DEFAULT_SUBSCRIBER_MAXSIZE, *, min_backlog: int = 0
    ) -> Subscription:
        """A new consumer; it starts at the cached GOP (a closed hub: ends at once).

        ``maxsize`` bounds the frames it may have queued before it loses GOPs.
        ``min_backlog``: when the current GOP has fewer frames than this, start
        at the previous GOP instead (if it fits in ``maxsize``). A libavformat
        reader needs about 20 timestamped frames before ``av.open`` returns, so
        a restream that starts with enough frames opens at once.
        """
        sub = Subscription(self, max(1, maxsize))
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
        return sub

    def close(self) -> None:
        """End every subscription (parked readers wake); later publishes are ignored."""
        self._closed = True
        for sub in tuple(self._subs):
            sub.close()
        self._subs.clear()
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
            "closed": self._closed,
            "subscribers": [s.as_dict() for s in self._subs],
        }

    def _discard(self, sub: Subscription) -> None:
        self._subs.discard(sub)
