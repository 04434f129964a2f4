"""IMA-ADPCM (DVI, 4-bit) decoding to 16-bit PCM: the audio of TEG cameras.

A TEG audio packet (teg.md §5.5) carries one block: i16 LE predictor, u8 step
index, u8 reserved, then 4-bit codes, low nibble first. The header predictor
is the block's first sample, so 512 code bytes give 1025 samples (8 kHz
mono). The algorithm is the standard IMA one (step table of 89 entries,
index adjustment by code). Pure Python; ~1 ms per block.
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


class AdpcmError(ValueError):
    """A block too short or with a step index outside 0..88."""


def _decode_codes(codes: bytes, predictor: int, index: int, out: array[int]) -> None:
    steps = STEP_TABLE
    adjust = INDEX_TABLE
    for byte in codes:
        for code in (byte & 0x0F, byte >> 4):
            step = steps[index]
            diff = step >> 3
            if code & 4:
                diff += step
            if code & 2:
                diff += step >> 1
            if code & 1:
                diff += step >> 2
            if code & 8:
                predictor -= diff
                predictor = max(predictor, -32768)
            else:
                predictor += diff
                predictor = min(predictor, 32767)
            index += adjust[code]
            if index < 0:
                index = 0
            elif index > 88:
                index = 88
            out.append(predictor)


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
    _decode_codes(block[BLOCK_HEADER:], predictor, index, out)
    if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
        out.byteswap()
    return out.tobytes()
