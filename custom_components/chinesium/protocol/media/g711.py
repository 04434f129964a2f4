"""G.711 A-law and µ-law to 16-bit PCM (iLnk audio is 8 kHz A-law, pppp.md §6.3).

Both expand one byte to one sample through a 256-entry table. The output is
built with two ``bytes.translate`` calls (low and high byte of each sample)
interleaved into one buffer, so decoding runs at C speed.
"""

from __future__ import annotations


def _alaw(byte: int) -> int:
    byte ^= 0x55
    segment = (byte >> 4) & 7
    value = (byte & 0x0F) << 4
    value = value + 8 if segment == 0 else (value + 0x108) << (segment - 1)
    return value if byte & 0x80 else -value


def _ulaw(byte: int) -> int:
    byte = ~byte & 0xFF
    segment = (byte >> 4) & 7
    value = (((byte & 0x0F) << 3) + 0x84) << segment
    value -= 0x84
    return -value if byte & 0x80 else value


ALAW_TABLE: tuple[int, ...] = tuple(_alaw(b) for b in range(256))
"""Sample value of each A-law byte (ITU-T G.711)."""
ULAW_TABLE: tuple[int, ...] = tuple(_ulaw(b) for b in range(256))
"""Sample value of each µ-law byte (ITU-T G.711)."""


def _split(table: tuple[int, ...]) -> tuple[bytes, bytes]:
    raw = [v & 0xFFFF for v in table]
    return bytes(v & 0xFF for v in raw), bytes(v >> 8 for v in raw)


_ALAW_LO, _ALAW_HI = _split(ALAW_TABLE)
_ULAW_LO, _ULAW_HI = _split(ULAW_TABLE)


def _expand(data: bytes | bytearray | memoryview, lo: bytes, hi: bytes) -> bytes:
    raw = bytes(data)
    out = bytearray(2 * len(raw))
    out[0::2] = raw.translate(lo)
    out[1::2] = raw.translate(hi)
    return bytes(out)


def alaw_decode(data: bytes | bytearray | memoryview) -> bytes:
    """A-law bytes to s16 little-endian PCM (one sample per byte)."""
    return _expand(data, _ALAW_LO, _ALAW_HI)


def ulaw_decode(data: bytes | bytearray | memoryview) -> bytes:
    """µ-law bytes to s16 little-endian PCM (one sample per byte)."""
    return _expand(data, _ULAW_LO, _ULAW_HI)
