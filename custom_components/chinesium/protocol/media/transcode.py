"""MJPEG to H.264 for consumers that need H.264 (HA's stream, NVRs).

:class:`MjpegTranscoder` is synchronous (decode JPEG with PyAV's ``mjpeg``,
encode with ``libx264`` ultrafast/zerolatency, one thread; ha-notes §17
facts 3, 5, 6): the caller runs it in an executor thread.
:class:`TranscodingHub` runs it only while someone uses its output: entering
:meth:`TranscodingHub.use` starts a task that reads the JPEG hub and
publishes H.264 access units into a fresh H.264 :class:`MediaHub`; the last
user leaving stops it. ``av`` is imported on first use.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from fractions import Fraction
import logging
from typing import Any

from ..model import AudioChunk, Codec, Frame
from .hub import MediaHub, Subscription

_LOGGER = logging.getLogger(__name__)
_MS = Fraction(1, 1000)
DEFAULT_KEYFRAME_INTERVAL_MS = 1000
"""An IDR at least this often (HLS parts and late joiners start at one)."""
_DIRECT = frozenset({"yuvj420p", "yuv420p"})
"""Decoded picture formats libx264 takes without conversion."""
TRANSCODE_QUEUE = 4
"""JPEG frames waiting for the encoder; older ones are dropped when it lags."""


class TranscodeError(ValueError):
    """A JPEG frame could not be decoded."""


class MjpegTranscoder:
    """JPEG :class:`Frame` in, H.264 :class:`Frame` (Annex-B access unit) out.

    Each output keeps the input's ``pts``, ``timestamp``, ``seq`` and size;
    a keyframe (IDR with SPS/PPS in-band) comes first and then at least every
    ``keyframe_interval_ms`` of pts. libx264 ``crf`` sets the quality. A
    picture size change restarts the encoder (next output is an IDR). Not
    thread-safe: use one instance from one thread at a time.
    """

    def __init__(
        self, *, keyframe_interval_ms: int = DEFAULT_KEYFRAME_INTERVAL_MS, crf: int = 23
    ) -> None:
        """Nothing is allocated until the first frame."""
        self.keyframe_interval_ms = keyframe_interval_ms
        self.crf = crf
        self._av: Any = None
        self._decoder: Any = None
        self._encoder: Any = None
        self._size = (0, 0)
        self._fmt = ""
        self._last_key: int | None = None
        self._last_pts = -1
        self._meta: dict[int, Frame] = {}
        self.frames_in = 0
        """JPEG frames fed."""
        self.frames_out = 0
        """H.264 access units produced."""
        self.errors = 0
        """JPEG frames that did not decode (skipped)."""

    def encode(self, frame: Frame) -> list[Frame]:
        """Transcode one JPEG frame; returns the H.264 frames ready (0 or 1).

        Raises :class:`TranscodeError` for a JPEG that does not decode and
        ``ValueError`` for a frame that is not JPEG.
        """
        if frame.codec is not Codec.JPEG:
            raise ValueError(f"not a JPEG frame: {frame.codec}")
        av = self._import()
        self.frames_in += 1
        if self._decoder is None:
            self._decoder = av.CodecContext.create("mjpeg", "r")
            self._decoder.thread_count = 1
        try:
            pictures = self._decoder.decode(av.Packet(frame.data))
        except av.FFmpegError as err:
            self.errors += 1
            self._decoder = None
            raise TranscodeError(f"JPEG does not decode: {err}") from err
        if not pictures:
            self.errors += 1
            raise TranscodeError("JPEG gave no picture")
        picture = pictures[-1]
        size = (picture.width & ~1, picture.height & ~1)
        # Full-range 4:2:0 (what cameras send) goes to x264 as it is, flagged
        # full range in the VUI: no swscale pass (about 1 ms per 640x480 frame).
        fmt = picture.format.name if picture.format.name in _DIRECT else "yuv420p"
        if size != self._size or fmt != self._fmt or self._encoder is None:
            self._open_encoder(size, fmt)
        # Strictly increasing pts for the encoder (the hub's pts already are).
        pts = frame.pts if frame.pts is not None else round(frame.timestamp * 1000)
        pts = max(pts, self._last_pts + 1)
        self._last_pts = pts
        if fmt == picture.format.name and size == (picture.width, picture.height):
            yuv = picture
        else:
            yuv = picture.reformat(width=size[0], height=size[1], format=fmt)
        yuv.pts = pts
        yuv.time_base = _MS
        if self._last_key is None or pts - self._last_key >= self.keyframe_interval_ms:
            yuv.pict_type = av.video.frame.PictureType.I
            self._last_key = pts
        else:
            # The decoded JPEG is an I picture; let the encoder choose.
            yuv.pict_type = av.video.frame.PictureType.NONE
        self._meta[pts] = frame
        return self._collect(self._encoder.encode(yuv))

    def close(self) -> None:
        """Drop the codec contexts (recreated on the next frame)."""
        self._decoder = None
        self._encoder = None
        self._meta.clear()
        self._size = (0, 0)
        self._last_key = None

    def _import(self) -> Any:
        if self._av is None:
            import av  # noqa: PLC0415 - heavy, only for transcoding users

            self._av = av
        return self._av

    def _open_encoder(self, size: tuple[int, int], fmt: str) -> None:
        av = self._av
        enc: Any = av.CodecContext.create("libx264", "w")
        enc.width, enc.height = size
        enc.pix_fmt = fmt
        enc.time_base = _MS
        enc.thread_count = 1
        enc.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "crf": str(self.crf),
            "forced-idr": "1",
            "x264-params": "keyint=infinite:scenecut=0:repeat-headers=1",
        }
        self._encoder = enc
        self._size = size
        self._fmt = fmt
        self._last_key = None
        self._meta.clear()

    def _collect(self, packets: list[Any]) -> list[Frame]:
        out: list[Frame] = []
        for packet in packets:
            src = self._meta.pop(int(packet.pts), None)
            if src is None:  # pragma: no cover - zerolatency returns one AU per picture
                continue
            out.append(
                Frame(
                    bytes(packet),
                    self._size[0],
                    self._size[1],
                    src.timestamp,
                    src.seq,
                    Codec.H264,
                    bool(packet.is_keyframe),
                    src.pts,
                )
            )
        self.frames_out += len(out)
        return out


class TranscodingHub:
    """An H.264 view of a JPEG :class:`MediaHub`, transcoded only while used.

    ``async with th.use() as h264_hub:`` — the first user starts transcoding
    into a fresh H.264 hub; it runs in ``executor`` (``None``: the loop's
    default) and stops when the last user leaves (the hub is then closed).
    Frames arriving while the encoder is busy are dropped (oldest first); a
    JPEG that does not decode is skipped.
    """

    def __init__(
        self,
        source: MediaHub,
        *,
        executor: Any = None,
        keyframe_interval_ms: int = DEFAULT_KEYFRAME_INTERVAL_MS,
        crf: int = 23,
        audio: bool = False,
    ) -> None:
        """Nothing runs until :meth:`use` is entered.

        ``audio``: also pass the source hub's audio chunks to the output hub
        (the source then has audio demand while transcoding runs).
        """
        self.source = source
        self.audio = audio
        self._executor = executor
        self._kf = keyframe_interval_ms
        self._crf = crf
        self._users = 0
        self._hub: MediaHub | None = None
        self._task: asyncio.Task[None] | None = None
        self.transcoder: MjpegTranscoder | None = None
        """The running transcoder (``None`` while idle)."""
        self.runs = 0
        """Times transcoding was started."""

    @property
    def active(self) -> bool:
        """True while transcoding (someone is using the output)."""
        return self._task is not None

    @property
    def users(self) -> int:
        """Current users of the output."""
        return self._users

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[MediaHub]:
        """Use the H.264 output hub; transcoding runs while at least one user is in."""
        if self._users == 0 or self._hub is None:
            self._start()
        hub = self._hub
        assert hub is not None
        self._users += 1
        try:
            yield hub
        finally:
            self._users -= 1
            if self._users == 0:
                await self._stop()

    def _start(self) -> None:
        self._hub = MediaHub()
        self.transcoder = MjpegTranscoder(keyframe_interval_ms=self._kf, crf=self._crf)
        self.runs += 1
        # Subscribe now: frames published before the task first runs are not lost.
        sub = self.source.subscribe(TRANSCODE_QUEUE, audio=self.audio)
        self._task = asyncio.get_running_loop().create_task(
            self._run(sub, self._hub, self.transcoder), name="chinesium-mjpeg-transcode"
        )

    async def _stop(self) -> None:
        task, self._task = self._task, None
        hub, self._hub = self._hub, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                if (current := asyncio.current_task()) is not None and current.cancelling():
                    raise
            except Exception:
                _LOGGER.exception("MJPEG transcoding failed")
        if hub is not None:
            hub.close()
        self.transcoder = None

    async def _run(self, sub: Subscription, out: MediaHub, transcoder: MjpegTranscoder) -> None:
        loop = asyncio.get_running_loop()
        try:
            while (frame := await sub.get_media()) is not None:
                if isinstance(frame, AudioChunk):
                    out.publish_audio(frame)
                    continue
                if frame.codec is not Codec.JPEG:
                    continue
                try:
                    produced = await loop.run_in_executor(self._executor, transcoder.encode, frame)
                except TranscodeError as err:
                    _LOGGER.debug("skipping a JPEG frame: %s", err)
                    continue
                for h264 in produced:
                    out.publish(h264)
        except Exception:
            # An encoder failure ends this run: clients see the end of the stream.
            _LOGGER.exception("MJPEG transcoding stopped")
        finally:
            sub.close()
            out.close()
