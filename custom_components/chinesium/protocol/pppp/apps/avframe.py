"""Common A/V frame header ("55 AA 15 A8") and frame reassembly (pppp.md §6.7).

A camera cuts each frame into DRW payloads of about 1 KiB on the media
channel. The first payload of a frame starts with a 32-byte header whose
u32 LE at offset 16 is the length of the frame data that follows (in the same
and the next payloads, without further headers). Some iLnk firmwares send raw
JPEGs without a header; :class:`FrameAssembler` handles both.

The assembler is the video hot path: it keeps references to the received
payloads and joins a frame's bytes exactly once, logs nothing and allocates
nothing per payload beyond a list slot (and a slice where a frame boundary
falls inside a payload).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
import struct
from typing import Self

from ...errors import MalformedPacketError

FRAME_MAGIC = b"\x55\xaa\x15\xa8"
FRAME_HEADER_SIZE = 32
MAX_FRAME_SIZE = 4 * 1024 * 1024
"""Frames announcing more data than this are treated as garbage (resync)."""

_HEADER = struct.Struct("<4sBBHIII12s")
_JPEG_SOI = b"\xff\xd8\xff"
_JPEG_EOI = b"\xff\xd9"


class Codec(IntEnum):
    """Frame type byte (offset 4) values seen in the wild."""

    JPEG = 0x03
    AUDIO = 0x06
    ADPCM = 0x08
    I_FRAME = 0x10
    P_FRAME = 0x11
    ADPCM_AA = 0xAA


class AudioFormat(StrEnum):
    """How an audio frame's data is coded."""

    PCM = "pcm"
    """Signed 16-bit little-endian samples."""
    ADPCM = "adpcm"
    """IMA-ADPCM codes, high nibble first, state carried between frames."""
    ALAW = "alaw"
    ULAW = "ulaw"


_AUDIO_SUBTYPES = {
    0: AudioFormat.PCM,
    1: AudioFormat.ADPCM,
    2: AudioFormat.ALAW,
    3: AudioFormat.ULAW,
}
"""VStarcam audio sub-types (byte 5 of a type 0x06 frame, pppp.md §6.7)."""


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """The 32-byte A/V frame header; integers little-endian."""

    codec: int
    length: int
    subtype: int = 0
    millis: int = 0
    seconds: int = 0
    counter: int = 0
    reserved: bytes = bytes(12)

    @property
    def pts_ms(self) -> int:
        """The camera-clock time of the frame in ms (seconds * 1000 + millis)."""
        return self.seconds * 1000 + self.millis

    def encode(self) -> bytes:
        """The 32-byte wire form."""
        return _HEADER.pack(
            FRAME_MAGIC,
            self.codec,
            self.subtype,
            self.millis,
            self.seconds,
            self.counter,
            self.length,
            self.reserved,
        )

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> Self:
        """Parse a header at the start of ``data``; raise :class:`MalformedPacketError`."""
        if len(data) < FRAME_HEADER_SIZE:
            raise MalformedPacketError(f"frame header needs 32 bytes, got {len(data)}")
        magic, codec, subtype, millis, seconds, counter, length, reserved = _HEADER.unpack_from(
            data
        )
        if magic != FRAME_MAGIC:
            raise MalformedPacketError(f"bad frame header magic {bytes(magic).hex()}")
        return cls(codec, length, subtype, millis, seconds, counter, bytes(reserved))


def audio_format(header: FrameHeader) -> AudioFormat | None:
    """The audio coding a header announces (``None``: not an audio frame).

    Types 0x08 and 0xAA are IMA-ADPCM (SHIX); type 0x06 is told by the
    sub-type byte (VStarcam: 0 PCM, 1 ADPCM, 2 A-law, 3 µ-law).
    """
    codec = header.codec
    if codec in (Codec.ADPCM, Codec.ADPCM_AA):
        return AudioFormat.ADPCM
    if codec == Codec.AUDIO:
        return _AUDIO_SUBTYPES.get(header.subtype)
    return None


@dataclass(frozen=True, slots=True)
class AvFrame:
    """One reassembled frame: its header (``None`` for a raw JPEG) and data."""

    header: FrameHeader | None
    data: bytes

    @property
    def codec(self) -> int:
        """Frame type byte; raw JPEGs report :attr:`Codec.JPEG`."""
        return Codec.JPEG if self.header is None else self.header.codec


class FrameAssembler:
    """Turn the in-order DRW payloads of one media channel into frames.

    Call :meth:`feed` with every payload in index order; it returns the frames
    completed by that payload. Framed data (32-byte header + ``length`` bytes)
    is collected until ``length`` bytes are in; a payload that starts with a new
    header while a frame is incomplete abandons the old frame (the camera gave
    up on a lost packet). Raw JPEGs (a payload starting ``ff d8 ff`` while no
    framed frame is open) end at a payload ending ``ff d9`` or at the next
    frame start. Bytes that fit neither are skipped until the next frame start.
    ``dropped`` counts abandoned frames, ``skipped`` skipped bytes.
    """

    __slots__ = ("_chunks", "_got", "_header", "_pending", "_raw", "dropped", "skipped")

    def __init__(self) -> None:
        """Start with no frame open."""
        self._header: FrameHeader | None = None
        self._raw = False
        self._chunks: list[bytes] = []
        self._got = 0
        self._pending = b""  # a header split across payloads
        self.dropped = 0
        self.skipped = 0

    @property
    def in_frame(self) -> bool:
        """True while a frame is partially collected."""
        return self._header is not None or self._raw

    def reset(self) -> None:
        """Forget any partial frame (e.g. after a stream restart)."""
        if self.in_frame:
            self.dropped += 1
        self._clear()

    def feed(self, payload: bytes) -> list[AvFrame]:
        """Consume one DRW payload; return the frames it completed (usually 0 or 1)."""
        out: list[AvFrame] = []
        data = payload
        if self._pending:
            data = self._pending + data
            self._pending = b""
        elif data.startswith(FRAME_MAGIC) and self.in_frame:
            if self._raw:
                self._finish_raw(out)
            elif len(data) >= FRAME_HEADER_SIZE and self._plausible(data):
                self.dropped += 1
                self._clear()
        elif self._raw and data.startswith(_JPEG_SOI):
            self._finish_raw(out)
        pos = 0
        end = len(data)
        while pos < end:
            header = self._header
            if header is not None:
                need = header.length - self._got
                take = min(need, end - pos)
                self._chunks.append(data if (pos == 0 and take == end) else data[pos : pos + take])
                self._got += take
                pos += take
                if self._got >= header.length:
                    out.append(AvFrame(header, b"".join(self._chunks)))
                    self._clear()
                continue
            if self._raw:
                self._chunks.append(data if pos == 0 else data[pos:])
                self._got += end - pos
                if data.endswith(_JPEG_EOI):
                    self._finish_raw(out)
                elif self._got > MAX_FRAME_SIZE:
                    self.dropped += 1
                    self._clear()
                break
            # Not in a frame: look for a header (or a raw JPEG at a payload start).
            if data.startswith(FRAME_MAGIC, pos):
                if end - pos < FRAME_HEADER_SIZE:
                    self._pending = data[pos:]
                    break
                new = FrameHeader.decode(memoryview(data)[pos : pos + FRAME_HEADER_SIZE])
                if new.length > MAX_FRAME_SIZE:
                    self.skipped += 4
                    pos += 4
                    continue
                pos += FRAME_HEADER_SIZE
                if new.length == 0:
                    out.append(AvFrame(new, b""))
                    continue
                self._header = new
                self._got = 0
                continue
            if pos == 0 and data.startswith(_JPEG_SOI):
                self._raw = True
                self._got = 0
                continue
            nxt = data.find(FRAME_MAGIC, pos + 1)
            if nxt < 0:
                # Keep a possible split magic at the very end.
                tail = _magic_prefix_len(data, end)
                self.skipped += end - pos - tail
                if tail:
                    self._pending = data[end - tail :]
                break
            self.skipped += nxt - pos
            pos = nxt
        return out

    def _finish_raw(self, out: list[AvFrame]) -> None:
        out.append(AvFrame(None, b"".join(self._chunks)))
        self._clear()

    def _clear(self) -> None:
        self._header = None
        self._raw = False
        self._chunks = []
        self._got = 0

    @staticmethod
    def _plausible(data: bytes) -> bool:
        return int.from_bytes(data[16:20], "little") <= MAX_FRAME_SIZE


def _magic_prefix_len(data: bytes, end: int) -> int:
    """Length of the longest proper prefix of the magic that ends ``data``."""
    for n in (3, 2, 1):
        if end >= n and data.endswith(FRAME_MAGIC[:n]):
            return n
    return 0
