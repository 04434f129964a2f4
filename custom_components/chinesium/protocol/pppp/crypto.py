"""CS2 "P2P_Proprietary" obfuscation of whole PPPP datagrams (pppp.md §5.1-5.3).

The cipher is a table XOR with ciphertext feedback: the keystream byte for
position *i* depends only on ciphertext byte *i - 1*, so decryption is a
vectorisable table lookup (``bytes.translate``) plus one big-integer XOR;
encryption is sequential but only used for our (small) outgoing datagrams.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from ..errors import MalformedPacketError

TABLE = bytes.fromhex(
    "7C9CE84A13DEDCB22F2123E4307B3D8CBC0B270C3CF79AE7087196009785EFC1"
    "1FC4DBA1C2EBD901FABA3B05B81587832872D18B5AD6DA9358FEAACC6E1BF0A3"
    "88AB43C00DB545384F502266207F075B14981D9BA72AB9A8CBF1FC4947063EB1"
    "0E043A945EEE541134DD4DF9ECC7C9E3781A6F706BA4BDA95DD5F8E5BB26AF42"
    "37D8E1020AAE5F1CC573094E6924906D12B319AD748A2940F52DBEA559E0F479"
    "D24BCE8982488425C6912BA2FB8FE9A6B09E3F65F603312EAC0F952C5CED39B7"
    "336C567EB4A0FD7A815351868D9F77FF6A80DFE2BF10D775645776F355CDD0C8"
    "18E6364162CF99F2324C67606192CAD3EA637D16B68ED46835C3529D46441E17"
)
"""The 256-byte substitution table shared by every implementation."""

MAX_KEY_BYTES = 20
"""The CS2 library only uses the first 20 bytes of the key string."""

KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "camera": (
        "DGB",
        "DGHA",
        "DGHG",
        "DGKA",
        "DGKB",
        "DGKC",
        "DGOA",
        "DGOB",
        "DGOC",
        "DGOD",
        "DGOE",
        "DGOF",
        "DGOG",
        "DGOH",
        "DGOI",
        "DGOJ",
        "DGOK",
        "NMSA",
        "NMSB",
        "NMSZ",
        "PETA",
    ),
    "SHIX": (
        "AAA",
        "ABC",
        "ABCF",
        "DDD",
        "EEE",
        "FFF",
        "HBW",
        "NNN",
        "PIXA",
        "PIXB",
        "PIXC",
        "PIXD",
        "XIAODOU",
    ),
    "vstarcam2019": ("VSTJ", "VSTK", "VSTL", "VSTM", "VSTN", "VSTP", "VC0"),
    "vstarcam2018": ("VSTG", "VSTH", "ELSC", "VE"),
    "@@@@....": ("ACCQ", "ACCR", "ACCS", "BCCQ"),
    "VMSV": ("VMA", "VMP", "VMS", "VMV"),
    "FERRY@88": ("FYIOT", "FYPPCS", "FYRTOS"),
    "mycamera": ("PPIL", "PPLL", "PPSL"),
    "Deng123abc": ("LIUX", "PIR", "TUT"),
    "Duncom": ("DUNIOTA", "NANOIOT"),
    "JX20130716": ("AYS", "XYX"),
    "hyWHzyhtzH": ("THPC",),
    "JYDGAOZHANP2P": ("JYDGZ",),
    "SZGMBESTER": ("XGAK",),
    "SSD@cs2-network.": (),
}
"""Known PSKs (init-string keys) and the device prefixes that use them (pppp.md §5.2)."""

SERVER_KEY = "SSD@cs2-network."
"""Fixed key of server traffic (MSG 0xF9); never used by a camera on the LAN."""


def key_bytes(key: str | bytes) -> bytes:
    """Mash a key string into the 4-byte effective key (k0, k1, k2, k3).

    Raises :class:`MalformedPacketError` (a ``ValueError``) for a key that is
    not Latin-1 text (keys are ASCII in practice).
    """
    try:
        raw = key.encode("latin-1") if isinstance(key, str) else bytes(key)
    except (UnicodeEncodeError, TypeError) as err:
        raise MalformedPacketError(f"PPPP key must be Latin-1 text: {key!r}") from err
    raw = raw[:MAX_KEY_BYTES]
    k0 = k2 = k3 = 0
    for b in raw:
        k0 += b
        k2 += b // 3
        k3 ^= b
    return bytes((k0 & 0xFF, -k0 & 0xFF, k2 & 0xFF, k3))


@dataclass(frozen=True, slots=True)
class Cipher:
    """Encrypt/decrypt datagrams with one key; build once per session (cheap to use)."""

    key: str
    effective: bytes
    _ks: bytes  # keystream byte for each possible previous ciphertext byte

    @classmethod
    def create(cls, key: str) -> Cipher:
        """Build the cipher for ``key`` (a non-empty key string)."""
        return _cipher(key)

    def encrypt(self, data: bytes | bytearray | memoryview) -> bytes:
        """P2P_Proprietary_Encrypt of one whole datagram."""
        ks = self._ks
        out = bytearray(len(data))
        prev = 0
        for i, b in enumerate(data):
            prev = b ^ ks[prev]
            out[i] = prev
        return bytes(out)

    def decrypt(self, data: bytes | bytearray | memoryview) -> bytes:
        """P2P_Proprietary_Decrypt of one whole datagram."""
        n = len(data)
        if n == 0:
            return b""
        stream = bytes((self._ks[0],)) + bytes(data[:-1]).translate(self._ks)
        return (int.from_bytes(data) ^ int.from_bytes(stream)).to_bytes(n)


@lru_cache(maxsize=64)
def _cipher(key: str) -> Cipher:
    if not key:
        raise MalformedPacketError("empty key means no encryption")
    k = key_bytes(key)
    ks = bytes(TABLE[(k[prev & 3] + prev) & 0xFF] for prev in range(256))
    return Cipher(key, k, ks)


def encrypt(data: bytes | bytearray | memoryview, key: str | None) -> bytes:
    """Encrypt with ``key`` (``None``/empty = plaintext, returned unchanged)."""
    return Cipher.create(key).encrypt(data) if key else bytes(data)


def decrypt(data: bytes | bytearray | memoryview, key: str | None) -> bytes:
    """Decrypt with ``key`` (``None``/empty = plaintext, returned unchanged)."""
    return Cipher.create(key).decrypt(data) if key else bytes(data)


def first_byte(key: str) -> int:
    """The first byte of every datagram encrypted with ``key`` (0xF1 XOR T[k0])."""
    return 0xF1 ^ TABLE[key_bytes(key)[0]]


def detect_key(
    datagram: bytes | bytearray | memoryview,
    candidate_keys: Iterable[str] = KNOWN_KEYS,
    *,
    expect: bytes | None = None,
) -> str | None:
    """Find the key a PPPP datagram was encrypted with (pppp.md §5.3).

    Returns ``""`` for plaintext, the matching key string, or ``None`` when no
    candidate decrypts it to a PPPP header. ``expect`` (e.g. ``f1 41 00 14``)
    demands a specific header prefix instead of just the ``0xF1`` magic and a
    consistent length.
    """
    if len(datagram) < 4:
        return None
    head = bytes(datagram[:4])
    if _plausible(head, len(datagram), expect):
        return ""
    b0 = head[0]
    for key in candidate_keys:
        if not key or first_byte(key) != b0:
            continue
        if _plausible(Cipher.create(key).decrypt(head), len(datagram), expect):
            return key
    return None


def _plausible(head: bytes, size: int, expect: bytes | None) -> bool:
    if expect is not None:
        return head.startswith(expect)
    return head[0] == 0xF1 and 4 + int.from_bytes(head[2:4]) <= size
