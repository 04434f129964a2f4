"""Decoders for PPPP "init strings" (server lists + optional PSK), pppp.md §5.6.

A LAN-only client never needs the servers, but an init string is where an
app keeps the network's PSK (CS2: the part after ``:``), so these decoders
let users paste an init string instead of guessing the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import re

from ..errors import MalformedPacketError

CS2_LUT = bytes.fromhex(
    "4959433DB5BF6DA347534F6165E371E9677F02030BADB3892B2F35C16B8B9597"
    "11E5A70DEFF1050783FB9D3BC5C713171D1F2529D3DF"
)
"""PPPP_DecodeString lookup table of the CS2 library (54 primes < 256, scrambled)."""

YI_LUT_PARTIAL = bytes.fromhex("C16B8B95976DA347E371E9677F11534F6165ADB3892B2F35E5A70DEFF10507")
"""First 31 entries of the Yi fork's table (recovered from the seed's example)."""

_LETTERS = re.compile(r"^(?:[A-Z][A-Z])*$")
_CS2_VALID = re.compile(r"^[A-Za-z0-9._,-]*$")
_HLP2P = re.compile(r"^([A-Za-z]{3})-((?:[0-9A-Fa-f]{2})+)$")


class InitStringError(MalformedPacketError):
    """The text is not a decodable init string of the requested variant."""


@dataclass(frozen=True, slots=True)
class InitString:
    """A decoded init string.

    ``variant`` is ``"cs2"``, ``"yi"``, ``"ilnk"`` or ``"hlp2p"``; ``servers``
    the server hosts/IPs; ``key`` the PSK (CS2 only, else ``None``);
    ``prefixes`` the device prefixes (HLP2P only); ``text`` the decoded
    plaintext; ``extra`` the iLnk DID-validation part or the HLP2P parameters.
    """

    variant: str
    servers: tuple[str, ...]
    key: str | None = None
    prefixes: tuple[str, ...] = ()
    text: str = ""
    extra: str | None = None


# -- CS2 / Yi ------------------------------------------------------------------------


def cs2_decode_text(encoded: str, lut: bytes = CS2_LUT) -> str:
    """PPPP_DecodeString: letter pairs -> text (raises :class:`InitStringError`)."""
    if not _LETTERS.match(encoded):
        raise InitStringError("CS2 init string needs an even number of upper-case letters")
    out = bytearray()
    acc = 0x39
    for i in range(len(encoded) // 2):
        if i >= len(lut):
            raise InitStringError(f"lookup table too short for pair {i}")
        hi, lo = ord(encoded[2 * i]) - 65, ord(encoded[2 * i + 1]) - 65
        byte = ((hi * 16 + lo) & 0xFF) ^ acc ^ lut[i % 54]
        out.append(byte)
        acc ^= byte
    end = out.find(0)
    if end >= 0:
        out = out[:end]
    try:
        return out.decode("ascii")
    except UnicodeDecodeError as err:
        raise InitStringError("init string decodes to non-ASCII") from err


def cs2_encode_text(text: str, lut: bytes = CS2_LUT) -> str:
    """Inverse of :func:`cs2_decode_text` using letters A-P only."""
    out = []
    acc = 0x39
    for i, byte in enumerate(text.encode("ascii")):
        if i >= len(lut):
            raise ValueError(f"lookup table too short for byte {i}")
        v = byte ^ acc ^ lut[i % 54]
        out.append(chr(65 + (v >> 4)) + chr(65 + (v & 15)))
        acc ^= byte
    return "".join(out)


def _cs2_like(init: str, lut: bytes, variant: str) -> InitString:
    encoded, _, key = init.strip().partition(":")
    text = cs2_decode_text(encoded, lut)
    if not _CS2_VALID.match(text) or "," not in text:
        raise InitStringError(f"not a {variant} init string (decoded {text!r})")
    servers = tuple(s for s in text.split(",") if s)
    return InitString(variant, servers, key or None, text=text)


def decode_cs2(init: str) -> InitString:
    """Decode a CS2 init string ``LETTERS[:PSK]``."""
    return _cs2_like(init, CS2_LUT, "cs2")


def decode_yi(init: str) -> InitString:
    """Decode a Yi init string (same algorithm, Yi table; only 31 entries are known)."""
    return _cs2_like(init, YI_LUT_PARTIAL, "yi")


# -- iLnk ----------------------------------------------------------------------------


def ilnk_decode_text(encoded: str) -> str:
    """HI_DecStr/XqStrDec: base-26 letter pairs -> characters."""
    if not _LETTERS.match(encoded):
        raise InitStringError("iLnk init string needs an even number of upper-case letters")
    chars = []
    for i in range(0, len(encoded), 2):
        n = (ord(encoded[i]) - 65) * 26 + (ord(encoded[i + 1]) - 65)
        chars.append(chr(n % 94 + 0x20))
    return "".join(chars)


def ilnk_encode_text(text: str) -> str:
    """Inverse of :func:`ilnk_decode_text` (printable ASCII only)."""
    out = []
    for ch in text:
        n = ord(ch) - 0x20
        if not 0 <= n < 94:
            raise ValueError(f"unencodable character {ch!r}")
        out.append(chr(65 + n // 26) + chr(65 + n % 26))
    return "".join(out)


def decode_ilnk(init: str) -> InitString:
    """Decode an iLnk init string ``LETTERS-EXTRA`` (``count;host1;host2;...``)."""
    encoded, sep, extra = init.strip().partition("-")
    if not sep:
        raise InitStringError("iLnk init string needs a '-'")
    text = ilnk_decode_text(encoded)
    count, _, rest = text.partition(";")
    if not count.isdigit():
        raise InitStringError(f"not an iLnk init string (decoded {text!r})")
    servers = tuple(s for s in rest.split(";") if s)
    if len(servers) != int(count):
        raise InitStringError(f"iLnk init string announces {count} servers, has {len(servers)}")
    return InitString("ilnk", servers, text=text, extra=None if extra == "$$" else extra)


# -- HLP2P ---------------------------------------------------------------------------


def parse_hlp2p_params(text: str) -> InitString:
    """Parse decrypted HLP2P parameters ``a,b,c,d,ip1-ip2-ip3,PREFIX1-PREFIX2``."""
    parts = text.strip().strip("\0").split(",")
    if len(parts) < 6:
        raise InitStringError(f"HLP2P parameters need 6 fields, got {len(parts)}")
    servers = tuple(s for s in parts[4].split("-") if s)
    prefixes = tuple(s for s in parts[5].split("-") if s)
    return InitString("hlp2p", servers, prefixes=prefixes, text=text, extra=text)


def decode_hlp2p(init: str, decrypt: Callable[[bytes], bytes] | None = None) -> InitString:
    """Decode ``XXX-<hex>``; the hex part is AES-CBC encrypted with an unpublished key.

    Without ``decrypt`` (ciphertext -> plaintext) only the structure is checked
    and ``servers`` is empty; ``extra`` holds the hex ciphertext.
    """
    match = _HLP2P.match(init.strip())
    if match is None:
        raise InitStringError("HLP2P init string looks like 'DAS-<hex>'")
    blob = bytes.fromhex(match.group(2))
    if decrypt is None:
        return InitString("hlp2p", (), extra=match.group(2))
    try:
        text = decrypt(blob).decode("ascii")
    except UnicodeDecodeError as err:
        raise InitStringError("HLP2P payload did not decrypt to text") from err
    return parse_hlp2p_params(text)


# -- auto-detection ------------------------------------------------------------------


def decode_init_string(init: str) -> InitString:
    """Decode any init string: HLP2P (``XXX-hex``), iLnk (has ``-``), else CS2 then Yi."""
    text = init.strip()
    if _HLP2P.match(text):
        return decode_hlp2p(text)
    if "-" in text.partition(":")[0]:
        return decode_ilnk(text)
    try:
        return decode_cs2(text)
    except InitStringError:
        return decode_yi(text)
