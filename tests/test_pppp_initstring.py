"""Init-string decoders: the seed's CS2 / Yi / iLnk / HLP2P examples and pppp.md §7 #22."""

from __future__ import annotations

from hypothesis import given, strategies as st
import pytest

from custom_components.chinesium.protocol.pppp.crypto import encrypt, key_bytes
from custom_components.chinesium.protocol.pppp.initstring import (
    InitStringError,
    cs2_decode_text,
    cs2_encode_text,
    decode_cs2,
    decode_hlp2p,
    decode_ilnk,
    decode_init_string,
    decode_yi,
    ilnk_decode_text,
    ilnk_encode_text,
    parse_hlp2p_params,
)

CS2 = "DRFTEOBOJWHSFQHQEVGNDQEXFRLZGKLUGSDUAIBXBOIULLKRDNAJDNOZHNKMJO:SECRETKEY"
CS2_AP = "EBGDEOBOKGICGAIAFFGNEAFHGBMJGKMEHCEEAICHBOJELLLBDNAJDNPJHNKMJO"
YI = "LZERHWKWHUEQKOFUOREPNWERHLDLDYFSGUFOJXIXJMASBXANOTHRAFMXNXBSAM:SECRETKEY"
ILNK = "ATBBARASAXAOAQAOAQAOARBBARAZASAOARAWAYAOARAOARBBARAQAOAQAOAQAOAR-$$"
SERVERS = ("127.0.0.1", "192.168.1.1", "10.0.0.1")


def test_cs2_seed() -> None:
    res = decode_cs2(CS2)
    assert res.variant == "cs2"
    assert res.text == "127.0.0.1,192.168.1.1,10.0.0.1,"
    assert res.servers == SERVERS
    assert res.key == "SECRETKEY"
    assert key_bytes(res.key) == bytes.fromhex("af 51 e3 41")
    assert encrypt(bytes.fromhex("f1 30 00 00"), res.key) == bytes.fromhex("57 c5 9a 26")


def test_cs2_a_to_p_form() -> None:
    res = decode_cs2(CS2_AP)
    assert res.servers == SERVERS
    assert res.key is None
    assert cs2_encode_text(res.text) == CS2_AP


def test_yi_seed() -> None:
    res = decode_yi(YI)
    assert res.variant == "yi"
    assert res.servers == SERVERS
    assert res.key == "SECRETKEY"
    with pytest.raises(InitStringError):
        decode_cs2(YI)  # the CS2 table yields garbage
    with pytest.raises(InitStringError):
        decode_yi(YI.split(":", maxsplit=1)[0] + "AB")  # table entries beyond 31 are unknown


def test_ilnk_seed() -> None:
    res = decode_ilnk(ILNK)
    assert res.variant == "ilnk"
    assert res.text == "3;127.0.0.1;192.168.1.1;10.0.0.1"
    assert res.servers == SERVERS
    assert res.key is None
    assert res.extra is None
    assert decode_ilnk(ILNK[:-2] + "XY").extra == "XY"
    assert ilnk_encode_text(res.text) == ILNK.split("-", maxsplit=1)[0]


def test_hlp2p() -> None:
    res = decode_hlp2p("DAS-0123456789ABCDEF")
    assert res.variant == "hlp2p"
    assert res.servers == ()
    assert res.extra == "0123456789ABCDEF"
    text = "DCDC07FF,das,10000001,a+a+a,127.0.0.1-192.168.1.1-10.0.0.1,ABC-CBA"
    parsed = parse_hlp2p_params(text)
    assert parsed.servers == SERVERS
    assert parsed.prefixes == ("ABC", "CBA")
    via = decode_hlp2p("DAS-00ff", decrypt=lambda blob: text.encode())
    assert via.servers == SERVERS
    with pytest.raises(InitStringError):
        parse_hlp2p_params("a,b,c")
    with pytest.raises(InitStringError):
        decode_hlp2p("DASH-00")


def test_auto_detection() -> None:
    assert decode_init_string(CS2).variant == "cs2"
    assert decode_init_string(CS2_AP).variant == "cs2"
    assert decode_init_string(YI).variant == "yi"
    assert decode_init_string(ILNK).variant == "ilnk"
    assert decode_init_string("DAS-0123456789ABCDEF").variant == "hlp2p"


@pytest.mark.parametrize("bad", ["", "ABC", "abcd", "AB1D", "ZZZZZZZZ"])
def test_cs2_rejects(bad: str) -> None:
    with pytest.raises(InitStringError):
        decode_cs2(bad)


@pytest.mark.parametrize("bad", ["ABC-$$", "-$$", "ATBB", "AZAZ-$$", "ATAR-$$"])
def test_ilnk_rejects(bad: str) -> None:
    with pytest.raises(InitStringError):
        decode_ilnk(bad)


@given(st.text("abcdefghijklmnopqrstuvwxyz0123456789.,-", max_size=54))
def test_cs2_roundtrip(text: str) -> None:
    assert cs2_decode_text(cs2_encode_text(text)) == text


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7D), max_size=80))
def test_ilnk_roundtrip(text: str) -> None:
    assert ilnk_decode_text(ilnk_encode_text(text)) == text
