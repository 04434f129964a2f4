"""Local HTTP restream of cameras (aiohttp): MPEG-TS and multipart MJPEG.

``GET /<name>.ts?token=<token>`` streams ``video/mp2t`` from a fresh hub
subscription, starting at the cached GOP. Home Assistant's stream worker (and
go2rtc, ffmpeg, NVRs) open that URL with libavformat (ha-notes §17 facts
10-11). A JPEG source added with ``transcode=True`` is served there as H.264
through a :class:`~.transcode.TranscodingHub` that runs only while a client
streams; otherwise a JPEG source answers 415 on ``.ts``.
``GET /<name>.mjpeg?token=<token>`` streams a JPEG source as
``multipart/x-mixed-replace`` (415 for H.264/H.265 sources).

Bound to 127.0.0.1 on an ephemeral port unless told otherwise (a LAN
restream is a second server on the user's address); each source has its own
random token (:meth:`MediaServer.rotate_token`); a missing or wrong token
gets 401.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
import hmac
import logging
import re
import secrets

from aiohttp import web

from ..errors import ChinesiumError
from ..model import AudioChunk, Codec, Frame
from .hub import MediaHub, Subscription
from .mpegts import mpegts_av_chunks, mpegts_chunks
from .transcode import TranscodingHub

_LOGGER = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
CONTENT_TYPE = "video/mp2t"
MJPEG_BOUNDARY = "chinesiumframe"
MJPEG_CONTENT_TYPE = f"multipart/x-mixed-replace;boundary={MJPEG_BOUNDARY}"
MJPEG_SUBSCRIBER_MAXSIZE = 2
"""JPEG frames an MJPEG client may lag behind (older ones are dropped)."""
SERVER_SUBSCRIBER_MAXSIZE = 150
"""Frames a client may lag behind before it loses GOPs (10 s at 15 fps)."""
PROBE_BACKLOG = 24
"""Frames sent at once to a new client when possible: libavformat's stream probe
wants about 20 timestamped H.264/H.265 frames before ``av.open`` returns, so a
client joining just after a keyframe starts at the previous GOP (bench/media.py)."""


type Hold = Callable[[], AbstractAsyncContextManager[object]]
"""Entered for as long as a client streams (e.g. an on-demand camera's ``use()``)."""


@dataclass(slots=True, eq=False)
class _Source:
    hub: MediaHub
    token: str
    hold: Hold | None = None
    transcode: bool = False
    audio: bool = False
    subscriptions: set[Subscription] = field(default_factory=set)
    transcoder: TranscodingHub | None = None


WRITE_INTERVAL = 0.2
"""Seconds an MPEG-TS client's bytes may wait to go out with a later frame's: one TCP
write per ~3 frames instead of one per frame."""
WRITE_AT_ONCE = 2.0
"""Seconds from a client's start during which every chunk is written at once (the
player's probing reads the backlog without delay)."""


async def _pump(response: web.StreamResponse, chunks: AsyncIterator[bytes]) -> None:
    """Write ``chunks`` to ``response``, coalesced to one write per :data:`WRITE_INTERVAL`.

    For the first :data:`WRITE_AT_ONCE` seconds every chunk goes out at once; after
    that, bytes are written when a chunk arrives at least ``WRITE_INTERVAL`` after the
    last write, and at the end. No timer is armed (a timer would wake an idle process,
    which costs more than the write it saves), so a chunk can wait for the next frame.
    """
    loop = asyncio.get_running_loop()
    pending: list[bytes] = []
    start = last = loop.time()
    async for chunk in chunks:
        pending.append(chunk)
        now = loop.time()
        if now - last >= WRITE_INTERVAL or now - start < WRITE_AT_ONCE:
            data = b"".join(pending)
            pending.clear()
            last = now
            await response.write(data)
    if pending:
        await response.write(b"".join(pending))


class MediaServer:
    """HTTP server restreaming registered hubs as MPEG-TS.

    ``start()`` binds (``port=0``: ephemeral), ``add_source()`` returns the
    URL of one hub, ``stop()`` ends every client and releases the socket.
    Each client reads its own hub subscription (``subscriber_maxsize``,
    ``min_backlog``: see :meth:`MediaHub.subscribe`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        subscriber_maxsize: int = SERVER_SUBSCRIBER_MAXSIZE,
        min_backlog: int = PROBE_BACKLOG,
    ) -> None:
        """Configure (nothing is bound until :meth:`start`)."""
        self.host = host
        self._want_port = port
        self._subscriber_maxsize = subscriber_maxsize
        self._min_backlog = min_backlog
        self._sources: dict[str, _Source] = {}
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._stopping = False
        self.clients_served = 0
        """Streams started since :meth:`start`."""

    @property
    def port(self) -> int:
        """The bound port (0 before :meth:`start`)."""
        return self._port

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._runner is not None

    async def start(self) -> None:
        """Bind and serve."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/{name}.ts", self._handle)
        app.router.add_get("/{name}.mjpeg", self._handle_mjpeg)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._want_port)
        try:
            await site.start()
            self._port = int(runner.addresses[0][1])
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._stopping = False
        self.clients_served = 0

    async def stop(self) -> None:
        """End every client stream (parked handlers wake), then close the socket."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping = True
        for source in self._sources.values():
            for sub in tuple(source.subscriptions):
                sub.close()
        await runner.cleanup()
        self._port = 0

    def add_source(
        self,
        name: str,
        hub: MediaHub,
        *,
        hold: Hold | None = None,
        transcode: bool = False,
        token: str | None = None,
        audio: bool = False,
    ) -> str:
        """Register ``hub`` as ``name`` and return its MPEG-TS URL.

        ``hold()`` is entered while a client streams (an on-demand camera
        connects for it); if entering it raises, the client gets 503.
        ``transcode``: serve a JPEG hub on ``.ts`` as H.264 (libx264, only
        while a client streams); without it a JPEG hub answers 415 there.
        ``token``: reuse a stored token (default: a fresh random one).
        ``audio``: ``.ts`` clients also get the hub's audio as AAC (each such
        client is audio demand on the hub; feed it with
        :func:`~.hub.link_audio`); a camera that sends none gives video only.
        Registering a name again replaces it (old clients are ended).
        Raises ``ValueError`` for a bad name or token, ``RuntimeError`` before
        :meth:`start`.
        """
        if not _NAME.match(name):
            raise ValueError(f"bad source name {name!r}")
        if token is not None and not _TOKEN.match(token):
            raise ValueError("token must be 16-128 URL-safe characters")
        if self._runner is None:
            raise RuntimeError("server not started")
        self.remove_source(name)
        source = _Source(hub, token or new_token(), hold, transcode, audio)
        self._sources[name] = source
        return self.url(name)

    def url(self, name: str, kind: str = "ts") -> str:
        """The URL of a registered source (``KeyError`` if unknown).

        ``kind`` is ``"ts"`` (MPEG-TS) or ``"mjpeg"`` (multipart MJPEG).
        """
        if kind not in ("ts", "mjpeg"):
            raise ValueError(f"unknown URL kind {kind!r}")
        source = self._sources[name]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}/{name}.{kind}?token={source.token}"

    def token(self, name: str) -> str:
        """The current token of a source (``KeyError`` if unknown)."""
        return self._sources[name].token

    def rotate_token(self, name: str, token: str | None = None) -> str:
        """Give ``name`` a new token (random, or ``token``); return its new URL.

        Clients streaming with the old token are ended; the old token gets 401
        from now on. ``KeyError`` if unknown.
        """
        if token is not None and not _TOKEN.match(token):
            raise ValueError("token must be 16-128 URL-safe characters")
        source = self._sources[name]
        source.token = token or new_token()
        for sub in tuple(source.subscriptions):
            sub.close()
        return self.url(name)

    def remove_source(self, name: str) -> None:
        """Forget ``name`` and end its client streams (no error if unknown)."""
        source = self._sources.pop(name, None)
        if source is not None:
            for sub in tuple(source.subscriptions):
                sub.close()

    def clients(self, name: str) -> int:
        """Open client streams of one source (0 if unknown)."""
        source = self._sources.get(name)
        return 0 if source is None else sum(not s.closed for s in source.subscriptions)

    def _authorized(self, request: web.Request) -> _Source:
        source = self._sources.get(request.match_info["name"])
        if source is None or self._stopping:
            raise web.HTTPNotFound
        token = request.query.get("token", "")
        if not hmac.compare_digest(token.encode(), source.token.encode()):
            raise web.HTTPUnauthorized
        return source

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        source = self._authorized(request)
        if source.hub.codec is Codec.JPEG and not source.transcode:
            raise web.HTTPUnsupportedMediaType(text="source is MJPEG, not H.264/H.265")
        return await self._held(request, source, self._stream)

    async def _handle_mjpeg(self, request: web.Request) -> web.StreamResponse:
        source = self._authorized(request)
        if source.hub.codec not in (None, Codec.JPEG):
            raise web.HTTPUnsupportedMediaType(text="source is H.264/H.265, not MJPEG")
        return await self._held(request, source, self._stream_mjpeg)

    async def _held(
        self,
        request: web.Request,
        source: _Source,
        stream: Callable[[web.Request, _Source], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        async with contextlib.AsyncExitStack() as stack:
            if source.hold is not None:
                try:
                    await stack.enter_async_context(source.hold())
                except ChinesiumError as err:
                    raise web.HTTPServiceUnavailable(text=f"camera not available: {err}") from err
            return await stream(request, source)
        raise AssertionError("unreachable")  # pragma: no cover

    def _ts(self, sub: Subscription, source: _Source, first: Frame | None) -> AsyncIterator[bytes]:
        if source.audio:
            return mpegts_av_chunks(_Peeked(first, sub))
        return mpegts_chunks(sub if first is None else _prepend(first, sub))

    async def _stream(self, request: web.Request, source: _Source) -> web.StreamResponse:
        sub = source.hub.subscribe(
            self._subscriber_maxsize, min_backlog=self._min_backlog, audio=source.audio
        )
        source.subscriptions.add(sub)
        response = web.StreamResponse(headers={"Content-Type": CONTENT_TYPE})
        response.enable_chunked_encoding()
        self.clients_served += 1
        try:
            await response.prepare(request)
            first = await sub.get()
            if first is None:
                return response
            if first.codec is not Codec.JPEG:
                await _pump(response, self._ts(sub, source, first))
                return response
            # A JPEG source (e.g. an on-demand camera that just connected).
            sub.close()
            source.subscriptions.discard(sub)
            if not source.transcode:
                return response
            if source.transcoder is None or source.transcoder.source is not source.hub:
                source.transcoder = TranscodingHub(source.hub, audio=source.audio)
            async with source.transcoder.use() as h264:
                sub = h264.subscribe(
                    self._subscriber_maxsize, min_backlog=self._min_backlog, audio=source.audio
                )
                source.subscriptions.add(sub)
                await _pump(response, self._ts(sub, source, None))
        except (ConnectionResetError, asyncio.CancelledError) as err:
            _LOGGER.debug("MPEG-TS client of %s left: %r", request.path, err)
            if isinstance(err, asyncio.CancelledError):
                raise
        finally:
            sub.close()
            source.subscriptions.discard(sub)
        return response

    async def _stream_mjpeg(self, request: web.Request, source: _Source) -> web.StreamResponse:
        sub = source.hub.subscribe(MJPEG_SUBSCRIBER_MAXSIZE)
        source.subscriptions.add(sub)
        response = web.StreamResponse(
            headers={"Content-Type": MJPEG_CONTENT_TYPE, "Cache-Control": "no-cache"}
        )
        self.clients_served += 1
        try:
            await response.prepare(request)
            async for frame in sub:
                if frame.codec is not Codec.JPEG:
                    break
                await response.write(
                    f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(frame.data)}\r\n\r\n".encode()
                    + frame.data
                    + b"\r\n"
                )
        except (ConnectionResetError, asyncio.CancelledError) as err:
            _LOGGER.debug("MJPEG client of %s left: %r", request.path, err)
            if isinstance(err, asyncio.CancelledError):
                raise
        finally:
            sub.close()
            source.subscriptions.discard(sub)
        return response


def new_token() -> str:
    """A fresh random source token (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


class _Peeked:
    """A subscription with one frame already taken (given back first)."""

    __slots__ = ("_first", "_sub")

    def __init__(self, first: Frame | None, sub: Subscription) -> None:
        self._first = first
        self._sub = sub

    async def get_media(self) -> Frame | AudioChunk | None:
        first, self._first = self._first, None
        if first is not None:
            return first
        return await self._sub.get_media()


async def _prepend(first: Frame, rest: Subscription) -> AsyncIterator[Frame]:
    yield first
    async for frame in rest:
        yield frame
