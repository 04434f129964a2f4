"""Tiny JPEG helpers (no image library): validity and dimensions."""

from __future__ import annotations

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
# Start-of-frame markers that carry the picture size (all SOFn but DHT/JPG/DAC).
_SOF_MARKERS = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)


def looks_like_jpeg(data: bytes | bytearray | memoryview) -> bool:
    """True if ``data`` starts with SOI and ends with EOI."""
    return len(data) >= 4 and data[:2] == SOI and data[-2:] == EOI


def jpeg_size(data: bytes | bytearray | memoryview) -> tuple[int, int] | None:
    """Return ``(width, height)`` from the first SOF segment, or None."""
    n = len(data)
    i = 2
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        seg_len = (data[i + 2] << 8) | data[i + 3]
        if marker in _SOF_MARKERS:
            if i + 9 > n:
                return None
            height = (data[i + 5] << 8) | data[i + 6]
            width = (data[i + 7] << 8) | data[i + 8]
            return width, height
        if marker == 0xDA:  # start of scan before any SOF
            return None
        i += 2 + seg_len
    return None
