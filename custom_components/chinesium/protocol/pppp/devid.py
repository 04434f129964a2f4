"""PPPP device IDs ("DID"/"UID"): text forms, 20-byte wire form, check-code rules (pppp.md §2)."""

from __future__ import annotations

from dataclasses import dataclass
import re
import struct

from ..errors import MalformedPacketError

DID_WIRE_SIZE = 20
_DID_STRUCT = struct.Struct(">8sI8s")

CS2_CHECK_ALPHABET = frozenset("BCDEFGHJKLMNPRSTUVWXYZ")
"""The 22 letters CS2 Network and Yi check codes are drawn from (never A, I, O, Q)."""
LEGACY_ILNK_CHECK_ALPHABET = frozenset("ABCDEF")
"""Legacy iLnk (Yunni) check codes are taken from an MD5 hex digest (CVE-2019-11219)."""

LETTER_ALIASES: dict[str, str] = {"B": "BHCC", "F": "FHBB", "G": "GHBB"}
"""One-letter prefix aliases shown by the LookCam app (``G000001NRLXW``)."""

_DASHED = re.compile(r"^([A-Z0-9]{1,7})-([0-9]{1,8})-([A-Z0-9]{1,7})$")
_PLAIN = re.compile(r"^([A-Z]{1,7})([0-9]{1,8})([A-Z]{1,7})$")


@dataclass(frozen=True, slots=True)
class DeviceId:
    """A PPPP device ID such as ``ABCD-123456-VWXYZ``.

    ``prefix`` and ``check`` are ASCII strings of at most 7 characters,
    ``serial`` is a u32. The wire form is 8/4/8 bytes (prefix NUL-padded,
    serial big-endian, check code NUL-padded).
    """

    prefix: str
    serial: int
    check: str

    def __post_init__(self) -> None:
        """Validate the field ranges so :meth:`encode` cannot fail."""
        if not 1 <= len(self.prefix) <= 7 or not self.prefix.isascii():
            raise ValueError(f"bad DID prefix {self.prefix!r}")
        if not 0 <= self.serial <= 0xFFFFFFFF:
            raise ValueError(f"bad DID serial {self.serial!r}")
        if not 1 <= len(self.check) <= 7 or not self.check.isascii():
            raise ValueError(f"bad DID check code {self.check!r}")

    def __str__(self) -> str:
        """Canonical text form, serial zero-padded to 6 digits."""
        return f"{self.prefix}-{self.serial:06d}-{self.check}"

    @property
    def compact(self) -> str:
        """The dash-less form apps often display (``BATD156362WONJM``)."""
        return f"{self.prefix}{self.serial:06d}{self.check}"

    def encode(self) -> bytes:
        """The 20-byte wire form (8-byte prefix, u32 BE serial, 8-byte check code)."""
        return _DID_STRUCT.pack(
            self.prefix.encode("ascii"), self.serial, self.check.encode("ascii")
        )

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> DeviceId:
        """Decode the 20-byte wire form; raise :class:`MalformedPacketError`."""
        if len(data) < DID_WIRE_SIZE:
            raise MalformedPacketError(f"DID needs {DID_WIRE_SIZE} bytes, got {len(data)}")
        raw_prefix, serial, raw_check = _DID_STRUCT.unpack_from(data)
        prefix = _cstr(raw_prefix)
        check = _cstr(raw_check)
        try:
            return cls(prefix, serial, check)
        except ValueError as err:
            raise MalformedPacketError(str(err)) from err

    @classmethod
    def parse(cls, text: str) -> DeviceId:
        """Parse ``ABC-123456-VWXYZ``, ``ABC123456VWXYZ`` or a LookCam alias.

        Case-insensitive; surrounding whitespace is ignored. Raises
        :class:`MalformedPacketError` (a ``ValueError``) for anything else.
        """
        if not isinstance(text, str):
            raise MalformedPacketError(f"not a PPPP device ID: {text!r}")
        norm = text.strip().upper()
        match = _DASHED.match(norm) if "-" in norm else _PLAIN.match(norm)
        if match is None:
            raise MalformedPacketError(f"not a PPPP device ID: {text!r}")
        prefix, serial, check = match.group(1), int(match.group(2)), match.group(3)
        prefix = LETTER_ALIASES.get(prefix, prefix)
        if len(prefix) < 3 or len(check) < 3:
            raise MalformedPacketError(f"not a PPPP device ID: {text!r}")
        if serial > 0xFFFFFFFF:
            raise MalformedPacketError(f"DID serial out of range: {text!r}")
        try:
            return cls(prefix, serial, check)
        except ValueError as err:  # pragma: no cover - the patterns above exclude it
            raise MalformedPacketError(str(err)) from err

    def matches(self, other: DeviceId) -> bool:
        """True if both IDs name the same device (what a CS2 device compares)."""
        return (self.prefix, self.serial, self.check) == (other.prefix, other.serial, other.check)

    @property
    def check_variant(self) -> str:
        """Classify the check code (pppp.md §2.3), for plausibility checks only.

        ``"ilnk-legacy"`` (5 letters A-F), ``"cs2"`` (5 letters without A/I/O/Q,
        CS2 Network or Yi), ``"letters"`` (other Latin letters: new iLnk networks)
        or ``"other"``.
        """
        if is_legacy_ilnk_check(self.check):
            return "ilnk-legacy"
        if is_cs2_check(self.check):
            return "cs2"
        if self.check.isalpha():
            return "letters"
        return "other"


def is_cs2_check(check: str) -> bool:
    """True for a 5-letter CS2/Yi check code (22-letter alphabet without A, I, O, Q)."""
    return len(check) == 5 and all(c in CS2_CHECK_ALPHABET for c in check)


def is_legacy_ilnk_check(check: str) -> bool:
    """True for a 5-letter legacy iLnk check code (letters A-F of an MD5 hex digest).

    The generator's secret input is not public, so only the alphabet can be checked.
    """
    return len(check) == 5 and all(c in LEGACY_ILNK_CHECK_ALPHABET for c in check)


def _cstr(raw: bytes) -> str:
    end = raw.find(b"\0")
    if end >= 0:
        raw = raw[:end]
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as err:
        raise MalformedPacketError(f"non-ASCII DID field {raw!r}") from err
    if not text.isprintable():
        raise MalformedPacketError(f"unprintable DID field {raw!r}")
    return text
