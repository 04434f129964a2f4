"""Codec-aware media pipeline: hub, timestamps, MPEG-TS restream, stills.

No Home Assistant imports; ``av`` (PyAV) is imported only by the parts that
need it (muxing, stills), and ``aiohttp`` only by :mod:`.server`, so a
JPEG-only user pays for neither.

* :class:`TimestampSanitizer` — camera clocks to monotonic ms.
* :class:`MediaHub` / :class:`Subscription` — per-camera fan-out, GOP cache.
* :class:`MpegTsMuxer`, :func:`mpegts_chunks` — H.264/H.265 into MPEG-TS;
  :func:`mpegts_av_chunks` adds AAC audio (:func:`link_audio` feeds a hub
  from a session only while audio is consumed).
* :mod:`.transcode` — MJPEG to H.264 while a consumer exists.
* :mod:`.adpcm` — IMA-ADPCM decoding (TEG blocks, SHIX/VStarcam code streams).
* :mod:`.g711` — A-law and µ-law decoding (iLnk audio).
* :class:`StillConverter` — keyframe to JPEG (cached).
* :class:`MediaServer` — ``http://127.0.0.1:<port>/<name>.ts?token=...``
  (import from :mod:`.server`, or get it lazily from this package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .hub import DEFAULT_SUBSCRIBER_MAXSIZE, MediaHub, Subscription, link_audio
from .mpegts import AAC_RATE, TS_TIME_BASE, MpegTsMuxer, mpegts_av_chunks, mpegts_chunks
from .still import StillConverter, StillError
from .timestamps import TimestampSanitizer

if TYPE_CHECKING:
    from .server import MediaServer

__all__ = [
    "AAC_RATE",
    "DEFAULT_SUBSCRIBER_MAXSIZE",
    "TS_TIME_BASE",
    "MediaHub",
    "MediaServer",
    "MpegTsMuxer",
    "StillConverter",
    "StillError",
    "Subscription",
    "TimestampSanitizer",
    "link_audio",
    "mpegts_av_chunks",
    "mpegts_chunks",
]


def __getattr__(name: str) -> Any:
    """Import :class:`MediaServer` (and aiohttp) only when asked for."""
    if name == "MediaServer":
        from .server import MediaServer  # noqa: PLC0415

        return MediaServer
    raise AttributeError(name)
