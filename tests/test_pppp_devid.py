"""PPPP device IDs: text forms, wire form, check-code rules."""

from __future__ import annotations

from hypothesis import given, strategies as st
import pytest

from custom_components.chinesium.protocol.errors import MalformedPacketError
from custom_components.chinesium.protocol.pppp.devid import (
    DeviceId,
    is_cs2_check,
    is_legacy_ilnk_check,
)

H = bytes.fromhex


def test_vector_dgok() -> None:
    did = DeviceId.parse("DGOK-123456-ABCDE")
    assert did == DeviceId("DGOK", 123456, "ABCDE")
    assert did.encode() == H("44 47 4f 4b 00 00 00 00 00 01 e2 40 41 42 43 44 45 00 00 00")
    assert DeviceId.decode(did.encode()) == did
    assert str(did) == "DGOK-123456-ABCDE"
    assert did.compact == "DGOK123456ABCDE"


def test_seed_forms() -> None:
    assert str(DeviceId.parse("ABC-123456-VWXYZ")) == "ABC-123456-VWXYZ"
    assert DeviceId.parse("BATD156362WONJM") == DeviceId("BATD", 156362, "WONJM")
    assert str(DeviceId.parse("XHA994KMMEB")) == "XHA-000994-KMMEB"  # unpadded serial
    assert str(DeviceId.parse("G000001NRLXW")) == "GHBB-000001-NRLXW"  # LookCam alias
    assert str(DeviceId.parse(" tnpchna-001234-abcde ")) == "TNPCHNA-001234-ABCDE"
    assert str(DeviceId.parse("VC0-000001-BCDEF")) == "VC0-000001-BCDEF"  # digit in prefix


def test_long_prefix_uses_8_4_8_layout() -> None:
    did = DeviceId.parse("TNPCHNA-123456-ABCDE")
    raw = did.encode()
    assert raw[:8] == b"TNPCHNA\0"
    assert raw[8:12] == (123456).to_bytes(4, "big")
    assert raw[12:] == b"ABCDE\0\0\0"
    assert DeviceId.decode(raw) == did


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ABC",
        "AB-123456-CDEFG",
        "ABCD-12345X-EFGHJ",
        "ABCDEFGH-1-ABCDE",
        "ABC-123-AB",
        "ABC-123456789-ABCDE",
        "123456",
        "ABCD-123456-ABCDEFGH",
        "ABCD-\u0661\u0662\u0663-EFGHJ",  # non-ASCII digits
        "ABCD\u0661\u0662\u0663EFGHJ",
        "\u00c9BCD-123456-EFGHJ",
    ],
)
def test_parse_rejects(text: str) -> None:
    # the library's typed error, still a ValueError for older callers
    with pytest.raises(MalformedPacketError):
        DeviceId.parse(text)
    with pytest.raises(ValueError):
        DeviceId.parse(text)


def test_parse_rejects_non_text() -> None:
    with pytest.raises(MalformedPacketError):
        DeviceId.parse(None)  # type: ignore[arg-type]


def test_decode_rejects() -> None:
    with pytest.raises(MalformedPacketError):
        DeviceId.decode(bytes(19))
    with pytest.raises(MalformedPacketError):
        DeviceId.decode(bytes(20))  # empty prefix
    with pytest.raises(MalformedPacketError):
        DeviceId.decode(b"ABCDEFGH" + bytes(4) + b"ABCDE\0\0\0")  # 8-char prefix, no NUL
    with pytest.raises(MalformedPacketError):
        DeviceId.decode(b"AB\x01D\0\0\0\0" + bytes(4) + b"ABCDE\0\0\0")
    assert DeviceId.decode(DeviceId("ABC", 1, "DEF").encode() + b"extra") == DeviceId(
        "ABC", 1, "DEF"
    )


def test_constructor_validation() -> None:
    with pytest.raises(ValueError):
        DeviceId("", 1, "ABCDE")
    with pytest.raises(ValueError):
        DeviceId("ABCD", -1, "ABCDE")
    with pytest.raises(ValueError):
        DeviceId("ABCD", 1 << 32, "ABCDE")
    with pytest.raises(ValueError):
        DeviceId("ABCD", 1, "ABCDEFGH")


def test_check_code_rules() -> None:
    assert is_cs2_check("VWXYZ")
    assert is_cs2_check("NRLXW")  # LookCam GHBB (CS2 network)
    assert not is_cs2_check("WONJM")  # BATD is an iLnk network: any letters
    assert not is_cs2_check("ABCDE")  # contains A
    for bad in "AIOQ":
        assert not is_cs2_check("BCDE" + bad)
    assert not is_cs2_check("BCDEFG")  # 6 letters
    assert is_legacy_ilnk_check("ABCDE")
    assert is_legacy_ilnk_check("FFFFF")
    assert not is_legacy_ilnk_check("ABCDG")
    assert not is_legacy_ilnk_check("ABCD")
    assert DeviceId("BATC", 1, "ABCDE").check_variant == "ilnk-legacy"
    assert DeviceId("GHBB", 1, "NRLXW").check_variant == "cs2"
    assert DeviceId("BATD", 1, "WONJM").check_variant == "letters"
    assert DeviceId("X", 1, "QQQQQ").check_variant == "letters"
    assert DeviceId("X", 1, "AB1").check_variant == "other"


def test_matches() -> None:
    a = DeviceId.parse("ABCD-000001-EFGHJ")
    assert a.matches(DeviceId.parse("abcd1efghj"))
    assert not a.matches(DeviceId.parse("ABCD-000002-EFGHJ"))


@given(
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=7),
    st.integers(0, 99_999_999),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=7),
)
def test_roundtrips(prefix: str, serial: int, check: str) -> None:
    did = DeviceId(prefix, serial, check)
    if prefix not in ("B", "F", "G"):
        assert DeviceId.parse(str(did)) == did
        assert DeviceId.parse(did.compact) == did
    assert DeviceId.decode(did.encode()) == did
