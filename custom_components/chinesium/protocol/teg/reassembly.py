"""JPEG frame reassembly from TEG MEDIA packets (teg.md §8).

The camera cuts every JPEG into numbered packets; the network (and the
camera itself) may lose, duplicate and reorder them. :class:`Reassembler`
keys partial frames by frame id, stores payloads by packet index, and emits a
frame when every index ``0..count-1`` is present, the joined size matches the
frame header and the bytes look like a JPEG. Only frames newer (mod 2**16)
than the last one emitted are delivered. Partial frames are given up when a
newer frame completes, after ``max_age`` seconds, or when more than
``max_ahead`` newer frame ids have been seen. Audio and data packets are
ignored (they share the frame-id counter, so video ids may skip).

Hot path: one ``struct.unpack_from`` and one memoryview slice per packet; the
payloads are joined once per frame (the only copy of the media bytes).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
import struct
import time

from ..jpeg import jpeg_size
from ..model import SessionStats

_MEDIA = struct.Struct("<4sHHIHHHHI")
_FRAME_HDR = struct.Struct("<IIHHI")
_MAGIC_CMD = b"2TEG\x03\x00"
_MEDIA_HEADER = 24
_FRAME_HEADER = 16
_SOI = b"\xff\xd8"
_EOI = b"\xff\xd9"
_MAX_PACKETS = 4096
"""Sanity bound on a frame's packet count (132 KiB frames need ~130)."""
_JUMP_BACK = 64
"""A frame id this far *behind* the last emitted one means the camera restarted its counter."""


type DecodedFrame = tuple[bytes, int, int]
"""``(jpeg, width, height)``."""


class _Partial:
    __slots__ = (
        "count",
        "frame_id",
        "height",
        "nak_at",
        "nak_done",
        "parts",
        "started",
        "total",
        "width",
    )

    def __init__(self, frame_id: int, started: float) -> None:
        self.frame_id = frame_id
        self.started = started
        self.parts: dict[int, memoryview] = {}
        self.count = 0  # 0 = unknown (packet 0 not seen yet)
        self.total = 0
        self.width = 0
        self.height = 0
        self.nak_done = False  # its one NAK round was sent
        self.nak_at = 0.0  # ... at this time

    def missing(self) -> list[int]:
        """Indices known to be missing (with an unknown count: 0 and interior gaps)."""
        parts = self.parts
        if self.count:
            return [i for i in range(self.count) if i not in parts]
        top = max(parts, default=0)
        return [i for i in range(top) if i not in parts]


class Reassembler:
    """Turns raw TEG MEDIA datagrams into complete JPEG frames.

    ``feed(datagram)`` returns ``None`` or a list of ``(jpeg, width, height)``
    frames, oldest first.

    With ``track_missing`` the reassembler lists ``(frame_id, packet_index)``
    pairs in :attr:`naks` once a later frame shows they are missing (one round
    per frame); the owner sends them and clears the list. A newer frame that
    completes while an older NAK'd frame waits for its resends is held back
    (order is kept) for at most ``nak_wait`` seconds or ``max_held`` frames;
    the owner calls :meth:`poll` now and then so held frames leave even when
    no more packets come. If the camera never resends (real TEG cameras do
    not), tracking switches itself off after ``probe_rounds`` fruitless NAK
    rounds, so nothing is ever held again.
    """

    def __init__(
        self,
        stats: SessionStats | None = None,
        *,
        max_partials: int = 4,
        max_age: float = 1.0,
        max_ahead: int = 8,
        track_missing: bool = False,
        nak_wait: float = 0.15,
        max_held: int = 4,
        probe_rounds: int = 12,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a reassembler counting into ``stats``."""
        self.stats = stats if stats is not None else SessionStats()
        self.max_partials = max_partials
        self.max_age = max_age
        self.max_ahead = max_ahead
        self.track_missing = track_missing
        self.nak_wait = nak_wait
        self.max_held = max_held
        self.probe_rounds = probe_rounds
        self.naks: list[tuple[int, int]] = []
        self.nak_rounds = 0
        self.recovered = 0
        """Packets that arrived for a frame after its NAK round (resends, late reorders)."""
        self.last_id: int | None = None
        self.newest_id: int | None = None
        self._partials: dict[int, _Partial] = {}
        self._held: dict[int, DecodedFrame] = {}
        self._dead: deque[int] = deque(maxlen=32)
        self._clock = clock

    @property
    def partial_count(self) -> int:
        """Number of frames currently being assembled."""
        return len(self._partials)

    @property
    def held_count(self) -> int:
        """Complete frames held back behind an older frame awaiting resends."""
        return len(self._held)

    def feed(self, data: bytes) -> list[DecodedFrame] | None:
        """Process one MEDIA datagram; return the frames it completed (oldest first)."""
        stats = self.stats
        n = len(data)
        if n < _MEDIA_HEADER or not data.startswith(_MAGIC_CMD):
            stats.malformed += 1
            return None
        _, _, data_len, _, _, stype, fid, idx, plen = _MEDIA.unpack_from(data)
        end = 8 + data_len
        start = end - plen
        if end > n or start < _MEDIA_HEADER:
            stats.malformed += 1
            return None
        stats.media_packets += 1
        if stype:  # audio / data: never disturbs video
            return None
        last = self.last_id
        if last is not None:
            diff = (fid - last) & 0xFFFF
            if diff == 0:
                stats.duplicates += 1
                return None
            if diff >= 0x8000:
                if 0x10000 - diff <= _JUMP_BACK:
                    return None  # late packet of a frame we are past
                self._reset()  # the camera restarted its frame counter
        part = self._partials.get(fid)
        out: list[DecodedFrame] | None = None
        if part is None:
            if fid in self._dead or fid in self._held:
                stats.duplicates += 1
                return None
            part = self._new_partial(fid)
            if self._held:
                out = self._release()
                if fid not in self._partials:  # a released newer frame made it obsolete
                    return out
        parts = part.parts
        if idx in parts:
            stats.duplicates += 1
            return out
        count = part.count
        if count and idx >= count:
            stats.malformed += 1
            return out
        parts[idx] = memoryview(data)[start:end]
        stats.bytes_received += plen
        if part.nak_done:
            self.recovered += 1
        if idx == 0 and not count and start - _MEDIA_HEADER >= _FRAME_HEADER:
            total, count, width, height, _ = _FRAME_HDR.unpack_from(data, _MEDIA_HEADER)
            if not 0 < count <= _MAX_PACKETS:
                stats.malformed += 1
                del parts[0]
                return out
            part.count = count
            part.total = total
            part.width = width
            part.height = height
            if len(parts) > 1 and max(parts) >= count:  # stored before the count was known
                for bad in [i for i in parts if i >= count]:
                    del parts[bad]
                stats.malformed += 1
        if count and len(parts) == count:
            done = self._complete(part)
            if done:
                return done if out is None else out + done
        return out

    def clear(self) -> None:
        """Forget partial and held frames (the session ended; not counted as drops)."""
        self._partials.clear()
        self._held.clear()
        self.naks.clear()

    def poll(self) -> list[DecodedFrame] | None:
        """Release held frames whose wait is over (call a few times a second)."""
        return self._release() if self._held else None

    # -- internals ------------------------------------------------------------------------

    def _reset(self) -> None:
        self.stats.frames_dropped += len(self._partials) + len(self._held)
        self._partials.clear()
        self._held.clear()
        self.last_id = None
        self.newest_id = None
        self._dead.clear()

    def _give_up(self, part: _Partial) -> None:
        self._partials.pop(part.frame_id, None)
        self._dead.append(part.frame_id)
        self.stats.frames_dropped += 1

    def _new_partial(self, fid: int) -> _Partial:
        """Housekeeping, once per new frame id: age out, NAK, bound the partials."""
        now = self._clock()
        newest = self.newest_id
        if newest is None or 0 < ((fid - newest) & 0xFFFF) < 0x8000:
            self.newest_id = newest = fid
        if self._partials:
            limit = now - self.max_age
            for old in list(self._partials.values()):
                behind = (newest - old.frame_id) & 0xFFFF
                if behind > self.max_ahead or old.started < limit:
                    self._give_up(old)
                elif self.track_missing and not old.nak_done and 0 < behind < 0x8000:
                    # a later frame has started, so this one's burst is over
                    old.nak_done = True
                    old.nak_at = now
                    self.nak_rounds += 1
                    self.naks.extend((old.frame_id, i) for i in old.missing())
            while len(self._partials) >= self.max_partials:
                oldest = max(self._partials.values(), key=lambda p: (newest - p.frame_id) & 0xFFFF)
                self._give_up(oldest)
            if self.track_missing and self.nak_rounds >= self.probe_rounds and self.recovered == 0:
                self.track_missing = False  # the camera ignores NAKs: stop asking/waiting
        part = _Partial(fid, now)
        self._partials[fid] = part
        return part

    def _complete(self, part: _Partial) -> list[DecodedFrame] | None:
        fid = part.frame_id
        parts = part.parts
        jpeg = b"".join([parts[i] for i in range(part.count)])
        del self._partials[fid]
        if (part.total and len(jpeg) != part.total) or jpeg[:2] != _SOI or jpeg[-2:] != _EOI:
            self._dead.append(fid)
            self.stats.frames_dropped += 1
            return self._release() if self._held else None
        width, height = part.width, part.height
        if not width or not height:
            width, height = jpeg_size(jpeg) or (0, 0)
        frame = (jpeg, width, height)
        if self._held or (self.track_missing and self._older_partials(fid)):
            self._held[fid] = frame
            return self._release()
        self._emit(fid)
        return [frame]

    def _older_partials(self, fid: int) -> list[_Partial]:
        return [p for p in self._partials.values() if 0 < ((fid - p.frame_id) & 0xFFFF) < 0x8000]

    def _emit(self, fid: int) -> None:
        """``fid`` is delivered: older partials can no longer be emitted in order."""
        self.last_id = fid
        if self._partials:
            for old in self._older_partials(fid):
                self._give_up(old)

    def _release(self) -> list[DecodedFrame] | None:
        """Deliver held frames, oldest first, that no waiting older frame blocks."""
        out: list[DecodedFrame] | None = None
        held = self._held
        now = self._clock()
        while held:
            ref = self.newest_id if self.newest_id is not None else 0
            fid = max(held, key=lambda f: (ref - f) & 0xFFFF)
            blockers = self._older_partials(fid)
            if blockers:
                waiting = self.track_missing and len(held) <= self.max_held
                if waiting and all(
                    now - (p.nak_at if p.nak_done else p.started) < self.nak_wait for p in blockers
                ):
                    break
            frame = held.pop(fid)
            self._emit(fid)  # gives up the blockers
            if out is None:
                out = []
            out.append(frame)
        return out
