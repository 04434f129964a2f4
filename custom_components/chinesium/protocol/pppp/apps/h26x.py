"""Just enough H.264/H.265 bitstream reading for a camera stream (pppp.md §6.4).

VStarcam frames say "I" or "P" but not which codec: :func:`detect_codec` tells
H.264 from H.265 by the NAL unit headers of a keyframe, :func:`picture_size`
reads the coded size (minus the cropping window) from its SPS.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...model import Codec

_H265_PARAMS = {32, 33, 34}  # VPS, SPS, PPS
_H265_IRAP = set(range(16, 22))
_H264_PARAMS_IDR = {5, 7, 8}  # IDR slice, SPS, PPS


def nal_units(data: bytes, limit: int = 8) -> Iterator[bytes]:
    """The first ``limit`` NAL units of an Annex-B buffer (start codes removed)."""
    pos = data.find(b"\x00\x00\x01")
    n = 0
    while pos >= 0 and n < limit:
        start = pos + 3
        nxt = data.find(b"\x00\x00\x01", start)
        end = len(data) if nxt < 0 else nxt
        unit = data[start:end]
        if nxt >= 0 and unit.endswith(b"\x00"):
            unit = unit.rstrip(b"\x00")
        if unit:
            yield unit
            n += 1
        pos = nxt


def detect_codec(data: bytes) -> Codec | None:
    """H.264 or H.265 from the NAL headers of an access unit (``None``: can't tell).

    H.265 parameter sets / IRAP slices have a two-byte header whose second
    byte is ``01`` (layer 0, temporal id 1); H.264 SPS/PPS/IDR have types 7/8/5.
    """
    for unit in nal_units(data):
        if len(unit) < 2 or unit[0] & 0x80:
            continue
        h265_type = (unit[0] >> 1) & 0x3F
        if unit[1] == 0x01 and (h265_type in _H265_PARAMS or h265_type in _H265_IRAP):
            return Codec.H265
        if unit[0] & 0x1F in _H264_PARAMS_IDR:
            return Codec.H264
    return None


def is_keyframe(data: bytes) -> bool:
    """True when an Annex-B access unit holds an IRAP (H.265) or IDR (H.264) slice.

    Parameter sets alone do not count; the first 16 NAL units are looked at.
    """
    for unit in nal_units(data, 16):
        if len(unit) < 2 or unit[0] & 0x80:
            continue
        if unit[1] == 0x01 and ((unit[0] >> 1) & 0x3F) in _H265_IRAP:
            return True
        if unit[0] & 0x1F == 5 and unit[1] != 0x01:
            return True
    return False


class _Bits:
    """Exp-Golomb bit reader over an RBSP (emulation prevention removed)."""

    def __init__(self, nal: bytes) -> None:
        self._data = nal.replace(b"\x00\x00\x03", b"\x00\x00")
        self._pos = 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self._data[self._pos >> 3]  # IndexError past the end
            value = (value << 1) | ((byte >> (7 - (self._pos & 7))) & 1)
            self._pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad exp-golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt:
            nxt = (last + bits.se()) % 256
        last = nxt or last


def _h264_size(sps: bytes) -> tuple[int, int]:
    b = _Bits(sps[1:])
    profile = b.u(8)
    b.u(16)  # constraint flags + level
    b.ue()  # sps id
    chroma = 1
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = b.ue()
        if chroma == 3:
            b.u(1)
        b.ue()
        b.ue()
        b.u(1)
        if b.u(1):  # seq_scaling_matrix_present
            for i in range(8 if chroma != 3 else 12):
                if b.u(1):
                    _skip_scaling_list(b, 16 if i < 6 else 64)
    b.ue()  # log2_max_frame_num
    poc_type = b.ue()
    if poc_type == 0:
        b.ue()
    elif poc_type == 1:
        b.u(1)
        b.se()
        b.se()
        for _ in range(b.ue()):
            b.se()
    b.ue()  # max_num_ref_frames
    b.u(1)
    width_mbs = b.ue() + 1
    height_units = b.ue() + 1
    frame_mbs_only = b.u(1)
    if not frame_mbs_only:
        b.u(1)
    b.u(1)
    width = width_mbs * 16
    height = height_units * 16 * (2 - frame_mbs_only)
    if b.u(1):  # frame_cropping
        left, right, top, bottom = b.ue(), b.ue(), b.ue(), b.ue()
        cx = 1 if chroma == 0 else 2 if chroma in (1, 2) else 1
        cy = (1 if chroma in (0, 2, 3) else 2) * (2 - frame_mbs_only)
        width -= (left + right) * cx
        height -= (top + bottom) * cy
    return width, height


def _h265_size(sps: bytes) -> tuple[int, int]:
    b = _Bits(sps[2:])
    b.u(4)  # vps id
    sub_layers = b.u(3)
    b.u(1)
    b.u(96)  # general profile_tier_level
    present = [(b.u(1), b.u(1)) for _ in range(sub_layers)]
    if sub_layers:
        b.u(2 * (8 - sub_layers))
    for profile_present, level_present in present:
        b.u(88 if profile_present else 0)
        b.u(8 if level_present else 0)
    b.ue()  # sps id
    chroma = b.ue()
    if chroma == 3:
        b.u(1)
    width, height = b.ue(), b.ue()
    if b.u(1):  # conformance window
        left, right, top, bottom = b.ue(), b.ue(), b.ue(), b.ue()
        sub_w = 2 if chroma in (1, 2) else 1
        sub_h = 2 if chroma == 1 else 1
        width -= (left + right) * sub_w
        height -= (top + bottom) * sub_h
    return width, height


def picture_size(data: bytes, codec: Codec) -> tuple[int, int] | None:
    """Picture size from the SPS in an access unit, or ``None`` (no/odd SPS)."""
    for unit in nal_units(data):
        try:
            if codec is Codec.H264 and unit[0] & 0x1F == 7:
                return _h264_size(unit)
            if codec is Codec.H265 and len(unit) > 2 and (unit[0] >> 1) & 0x3F == 33:
                return _h265_size(unit)
        except (IndexError, ValueError):
            return None
    return None
