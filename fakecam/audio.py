"""Emulator audio: a recognisable tone, coded the way the cameras send it.

* TEG: IMA-ADPCM blocks with a header, low nibble first (teg.md §5.5),
  pre-computed once and cycled (:func:`tone_blocks`);
* SHIX / VStarcam over PPPP: headerless IMA-ADPCM frames, high nibble first,
  each from a cleared encoder state (:func:`adpcm_frame`);
* iLnk: G.711 A-law (:func:`alaw_encode`).

The ADPCM encoder is the standard IMA one (it tracks the decoder's predictor,
so a decoder reproduces the tone).
"""

from __future__ import annotations

import math
import struct

_STEPS = (
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45,
    50, 55, 60, 66, 73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230,
    253, 279, 307, 337, 371, 408, 449, 494, 544, 598, 658, 724, 796, 876, 963,
    1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066, 2272, 2499, 2749, 3024, 3327,
    3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845, 8630, 9493, 10442,
    11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794,
    32767,
)  # fmt: skip
_ADJUST = (-1, -1, -1, -1, 2, 4, 6, 8) * 2

TONE_HZ = 1000
"""Frequency of the emulator's test tone."""
SAMPLE_RATE = 8000
CODE_BYTES = 512
SAMPLES_PER_BLOCK = 1 + 2 * CODE_BYTES


def tone(n: int, *, start: int = 0, hz: float = TONE_HZ, amplitude: int = 8000) -> list[int]:
    """``n`` samples of a sine at ``hz`` (8 kHz), from sample ``start``."""
    w = 2 * math.pi * hz / SAMPLE_RATE
    return [round(amplitude * math.sin(w * (start + i))) for i in range(n)]


def _encode(samples: list[int], predictor: int, index: int) -> tuple[list[int], int, int]:
    """IMA-encode ``samples``; return the 4-bit codes and the final predictor and index."""
    nibbles: list[int] = []
    for sample in samples:
        step = _STEPS[index]
        diff = sample - predictor
        code = 0
        if diff < 0:
            code = 8
            diff = -diff
        if diff >= step:
            code |= 4
            diff -= step
        if diff >= step >> 1:
            code |= 2
            diff -= step >> 1
        if diff >= step >> 2:
            code |= 1
        # Track what the decoder will reconstruct.
        delta = step >> 3
        if code & 4:
            delta += step
        if code & 2:
            delta += step >> 1
        if code & 1:
            delta += step >> 2
        predictor = predictor - delta if code & 8 else predictor + delta
        predictor = max(-32768, min(32767, predictor))
        index = max(0, min(88, index + _ADJUST[code]))
        nibbles.append(code)
    return nibbles, predictor, index


def encode_block(samples: list[int], index: int = 0) -> tuple[bytes, int]:
    """Encode ``1 + 2k`` samples into one block; return it and the final step index."""
    if len(samples) % 2 != 1:
        raise ValueError("a block holds an odd number of samples")
    predictor = max(-32768, min(32767, samples[0]))
    header = struct.pack("<hBB", predictor, index, 0)
    codes = bytearray()
    nibbles, _, index = _encode(samples[1:], predictor, index)
    for lo, hi in zip(nibbles[0::2], nibbles[1::2], strict=True):
        codes.append(lo | hi << 4)
    return header + bytes(codes), index


def tone_blocks(hz: float = TONE_HZ) -> list[bytes]:
    """Consecutive 516-byte blocks of a continuous tone; cycling them stays in phase.

    For a 1 kHz tone (period 8 samples) eight blocks of 1025 samples make a
    whole number of periods.
    """
    period = SAMPLE_RATE / math.gcd(int(hz), SAMPLE_RATE)
    count = 1
    while (count * SAMPLES_PER_BLOCK) % period:
        count += 1
    blocks: list[bytes] = []
    index = 0
    for _pass in range(2):  # the second pass starts with a settled step index
        blocks = []
        for b in range(count):
            samples = tone(SAMPLES_PER_BLOCK, start=b * SAMPLES_PER_BLOCK, hz=hz)
            block, index = encode_block(samples, index)
            blocks.append(block)
    return blocks


def adpcm_frame(samples: list[int]) -> bytes:
    """Headerless IMA-ADPCM, high nibble first, from a cleared state (PPPP cameras).

    Every frame starts at predictor 0, step index 0 (VStarcam ``adpcm_ver=1``).
    """
    if len(samples) % 2:
        raise ValueError("two samples per byte")
    nibbles, _, _ = _encode(samples, 0, 0)
    return bytes(hi << 4 | lo for hi, lo in zip(nibbles[0::2], nibbles[1::2], strict=True))


def _alaw_byte(sample: int) -> int:
    """G.711 A-law code of one 16-bit sample."""
    sign = 0x80 if sample >= 0 else 0
    magnitude = min(abs(sample) if sample >= 0 else -sample - 1, 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        segment = magnitude.bit_length() - 5  # 1..7
        code = segment << 4 | (magnitude >> segment) & 0x0F
    return (sign | code) ^ 0x55


def alaw_encode(samples: list[int]) -> bytes:
    """G.711 A-law, one byte per sample (iLnk audio)."""
    return bytes(_alaw_byte(s) for s in samples)


class ToneSource:
    """A phase-continuous sine at ``hz``: consecutive calls continue the wave."""

    def __init__(self, hz: float = TONE_HZ) -> None:
        """Start at sample 0."""
        self.hz = hz
        self.position = 0

    def next(self, n: int) -> list[int]:
        """The next ``n`` samples."""
        out = tone(n, start=self.position, hz=self.hz)
        self.position += n
        return out
