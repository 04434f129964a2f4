"""IMA-ADPCM (DVI, 4-bit) decoding to 16-bit PCM: the audio of TEG and PPPP cameras.

Two framings exist:

* a **block** (TEG, teg.md §5.5): i16 LE predictor, u8 step index, u8
  reserved, then 4-bit codes, low nibble first. The header predictor is the
  block's first sample, so 512 code bytes give 1025 samples
  (:func:`decode_block`);
* a **frame** (SHIX and VStarcam over PPPP, pppp.md §6.2/§6.4): bare codes,
  high nibble first, the decoder state (predictor, step index) starting at 0
  in every frame (:func:`decode_frame`).

The algorithm is the standard IMA one (89 quantizer steps, index adjustment
by code), run from two precomputed tables indexed by ``step_index * 16 +
code``. Pure Python, about 0.2 µs per sample.
"""

from __future__ import annotations

from array import array
import sys

STEP_TABLE: tuple[int, ...] = (
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45,
    50, 55, 60, 66, 73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230,
    253, 279, 307, 337, 371, 408, 449, 494, 544, 598, 658, 724, 796, 876, 963,
    1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066, 2272, 2499, 2749, 3024, 3327,
    3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845, 8630, 9493, 10442,
    11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794,
    32767,
)  # fmt: skip
"""Quantizer step for each of the 89 step indexes."""
INDEX_TABLE: tuple[int, ...] = (-1, -1, -1, -1, 2, 4, 6, 8) * 2
"""Step index change for each 4-bit code."""
BLOCK_HEADER = 4


def _tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    delta: list[int] = []
    nxt: list[int] = []
    for index, step in enumerate(STEP_TABLE):
        for code in range(16):
            diff = step >> 3
            if code & 4:
                diff += step
            if code & 2:
                diff += step >> 1
            if code & 1:
                diff += step >> 2
            delta.append(-diff if code & 8 else diff)
            nxt.append(min(88, max(0, index + INDEX_TABLE[code])) * 16)
    return tuple(delta), tuple(nxt)


_DELTA, _NEXT = _tables()
"""Signed predictor change and next ``index * 16`` for each ``index * 16 + code``."""


class AdpcmError(ValueError):
    """A block too short or with a step index outside 0..88."""


def _decode(
    codes: bytes | bytearray | memoryview,
    predictor: int,
    state: int,
    high_first: bool,
    out: array[int],
) -> tuple[int, int]:
    """Append the samples of ``codes`` to ``out``; return the final (predictor, index*16)."""
    delta = _DELTA
    nxt = _NEXT
    append = out.append
    for byte in codes:
        first, second = (byte >> 4, byte & 0x0F) if high_first else (byte & 0x0F, byte >> 4)
        predictor += delta[state + first]
        if predictor > 32767:
            predictor = 32767
        elif predictor < -32768:
            predictor = -32768
        append(predictor)
        state = nxt[state + first]
        predictor += delta[state + second]
        if predictor > 32767:
            predictor = 32767
        elif predictor < -32768:
            predictor = -32768
        append(predictor)
        state = nxt[state + second]
    return predictor, state


def _pcm(out: array[int]) -> bytes:
    if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
        out.byteswap()
    return out.tobytes()


def decode_block(block: bytes) -> bytes:
    """One IMA-ADPCM block (4-byte header + codes) to s16 little-endian mono PCM.

    Returns ``1 + 2 * len(codes)`` samples. Raises :class:`AdpcmError`.
    """
    if len(block) < BLOCK_HEADER:
        raise AdpcmError(f"ADPCM block of {len(block)} bytes")
    predictor = int.from_bytes(block[0:2], "little", signed=True)
    index = block[2]
    if index > 88:
        raise AdpcmError(f"ADPCM step index {index} out of range")
    out: array[int] = array("h", [predictor])
    _decode(memoryview(block)[BLOCK_HEADER:], predictor, index * 16, False, out)
    return _pcm(out)


def decode_frame(codes: bytes | bytearray | memoryview, *, high_nibble_first: bool = True) -> bytes:
    """One headerless IMA-ADPCM frame to s16 little-endian mono PCM (two samples a byte).

    The decoder starts at predictor 0, step index 0 for every frame: VStarcam's
    ``adpcm_ver=1`` ("index and reference cleared" per frame), which is also
    what firmware without that field sends (see docs/protocol-notes.md).
    ``high_nibble_first`` puts the first sample of each byte in bits 7-4.
    """
    out: array[int] = array("h")
    _decode(codes, 0, 0, high_nibble_first, out)
    return _pcm(out)
