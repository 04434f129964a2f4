"""Property tests (hypothesis) for every decoder of the protocol library.

Two kinds of property, for each decoder:

* robustness: random bytes and mutated valid messages either decode or raise
  the library's own :class:`MalformedPacketError` (anything else escapes and
  fails the test);
* round trip: ``decode(encode(m)) == m`` for valid messages drawn from
  strategies, and stream decoders (reassemblers) given any split / order of a
  valid stream give back exactly what was sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
import json
import socket
import struct
from typing import Any

from hypothesis import HealthCheck, assume, given, settings, strategies as st
import pytest

from custom_components.chinesium.protocol.errors import ChinesiumError, MalformedPacketError
from custom_components.chinesium.protocol.jpeg import jpeg_size, looks_like_jpeg
from custom_components.chinesium.protocol.model import CameraInfo, Family, SessionStats
from custom_components.chinesium.protocol.pppp import codec as pcodec, crypto, devid, initstring
from custom_components.chinesium.protocol.pppp.apps import avframe, identify, ilnk, shix
from custom_components.chinesium.protocol.pppp.transport import PpppConnection
from custom_components.chinesium.protocol.teg import codec as tcodec
from custom_components.chinesium.protocol.teg.discovery import _SearchProtocol
from custom_components.chinesium.protocol.teg.reassembly import Reassembler
from custom_components.chinesium.protocol.teg.session import TegSession
from fakecam import pppp as fake_pppp

FAST = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
ipv4 = st.ip_addresses(v=4).map(str)
ascii_field = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=32
)


# -- helpers -----------------------------------------------------------------------------


def decodes_or_malformed[T](fn: Callable[[bytes], T], data: bytes) -> T | None:
    """Call ``fn(data)``; only MalformedPacketError may escape (as None)."""
    try:
        return fn(data)
    except MalformedPacketError:
        return None


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    """A valid datagram with 1-4 mutations (bit flip, truncation, extension, overwrite)."""
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("flip", "cut", "extend", "byte", "len")))
        if op == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[draw(st.integers(0, len(data))) :]
        elif op == "extend":
            data += draw(st.binary(min_size=1, max_size=64))
        elif op == "byte" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(u8)
        elif op == "len" and len(data) >= 8:
            # length fields sit at offset 2 (PPPP) or 6 (TEG): scribble on both
            off = draw(st.sampled_from((2, 6)))
            data[off : off + 2] = draw(u16).to_bytes(2, "little")
    return bytes(data)


_LOOP: asyncio.AbstractEventLoop | None = None


def run[T](coro: Any) -> T:
    """Run ``coro`` on a module-wide event loop (hypothesis tests are sync)."""
    global _LOOP
    if _LOOP is None:
        _LOOP = asyncio.new_event_loop()
    return _LOOP.run_until_complete(coro)  # type: ignore[no-any-return]


@pytest.fixture(autouse=True, scope="module")
def _close_loop() -> Iterator[None]:
    yield
    global _LOOP
    if _LOOP is not None:
        _LOOP.close()
        _LOOP = None


# -- TEG message strategies ------------------------------------------------------------

ack_items = st.one_of(
    u16.map(tcodec.AckItem.ack),
    st.builds(tcodec.AckItem.missing, u16, u16, u16),
)
ack_bodies = st.builds(tcodec.AckBody, st.lists(ack_items, max_size=12).map(tuple), u8)
teg_tokens = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=12, max_size=12
)


def _control(cls: type[tcodec._Control]) -> st.SearchStrategy[tcodec._Control]:
    return st.builds(cls, u32, u32, u32, st.binary(max_size=200), st.one_of(st.none(), ack_bodies))


@st.composite
def media_packets(draw: st.DrawFn) -> tcodec.MediaPacket:
    link, fid, flag = draw(u32), draw(u16), draw(u16)
    payload = draw(st.binary(max_size=300))
    kind = draw(st.sampled_from(("video0", "video", "audio")))
    if kind == "video0":
        return tcodec.MediaPacket(
            link, 0, fid, 0, payload, draw(u32), draw(u32), draw(u16), draw(u16), draw(u32), flag
        )
    if kind == "video":
        return tcodec.MediaPacket(link, 0, fid, draw(st.integers(1, 0xFFFF)), payload, flag=flag)
    stype = draw(st.integers(1, 0xFFFF))
    ts = draw(st.one_of(st.none(), u32))
    return tcodec.MediaPacket(link, stype, fid, draw(u16), payload, timestamp=ts, flag=flag)


search_responses = st.builds(
    tcodec.SearchResponse,
    session_port=u16,
    lan_ip=ipv4,
    uid=ascii_field,
    result_type=u32,
    record_count=u32,
    device_type=u32,
    device_id=st.binary(min_size=8, max_size=8),
    wan_ip=ipv4,
    wan_port=u16,
    lan_app_port=u16,
)
teg_messages: st.SearchStrategy[Any] = st.one_of(
    st.builds(tcodec.SearchRequest, u32),
    search_responses,
    st.builds(tcodec.LoginRequest, ipv4, u16, teg_tokens, ipv4, u16, u8),
    st.builds(
        tcodec.LoginResponse,
        st.one_of(st.sampled_from(tcodec.LoginResult), u32),
        u32,
        ipv4,
        u16,
        ascii_field,
        u16,
        u32,
        ipv4,
        u16,
    ),
    _control(tcodec.Ctrl),
    _control(tcodec.CtrlResp),
    media_packets(),
    st.builds(tcodec.AckPack, u32, st.lists(ack_items, max_size=20).map(tuple), u8),
)
teg_datagrams = teg_messages.map(lambda m: m.encode())


def _sample_jpeg(seed: int, size: int) -> bytes:
    body = bytes((seed * 31 + i * 7) & 0xFF for i in range(size))
    return b"\xff\xd8" + body + b"\xff\xd9"


def _teg_frame_packets(fid: int, jpeg: bytes, chunk: int, link: int = 1) -> list[bytes]:
    n = (len(jpeg) + chunk - 1) // chunk
    out = []
    for i in range(n):
        part = jpeg[i * chunk : (i + 1) * chunk]
        if i == 0:
            pkt = tcodec.MediaPacket(link, 0, fid, 0, part, len(jpeg), n, 640, 480, 0)
        else:
            pkt = tcodec.MediaPacket(link, 0, fid, i, part)
        out.append(pkt.encode())
    return out


# -- TEG codec ------------------------------------------------------------------------------


@FAST
@given(teg_messages)
def test_teg_round_trip(msg: Any) -> None:
    """Every valid TEG message decodes back to itself (class and via decode_datagram)."""
    data = msg.encode()
    assert type(msg).decode(data) == msg
    assert tcodec.decode_datagram(data) == msg


@FAST
@given(
    st.one_of(
        st.builds(tcodec.LivePayload, u32, u16, u16),
        st.builds(tcodec.ClientHeartbeat, u16),
        st.builds(tcodec.CameraHeartbeat, u16, u16, u32),
        ack_bodies,
        st.builds(
            tcodec.MediaParams,
            width=u32,
            height=u32,
            fps=u32,
            fourcc=st.binary(min_size=4, max_size=4),
            mask=u32,
            audio_rate=u32,
        ),
        st.builds(
            tcodec.DeviceMessage,
            st.sampled_from((b"0TEG", b"1TEG", b"2TEG")),
            u16,
            st.binary(max_size=100),
        ),
    )
)
def test_teg_payload_round_trip(part: Any) -> None:
    """Payload structures (LIVE, heartbeats, ACK bodies, media params) round-trip."""
    assert type(part).decode(part.encode()) == part


TEG_DECODERS: list[Callable[[bytes], Any]] = [
    tcodec.decode_datagram,
    tcodec.SearchRequest.decode,
    tcodec.SearchResponse.decode,
    tcodec.LoginRequest.decode,
    tcodec.LoginResponse.decode,
    tcodec.Ctrl.decode,
    tcodec.CtrlResp.decode,
    tcodec.MediaPacket.decode,
    tcodec.AckPack.decode,
    tcodec.DeviceMessage.decode,
    tcodec.AckItem.decode,
    tcodec.AckBody.decode,
    tcodec.LivePayload.decode,
    tcodec.ClientHeartbeat.decode,
    tcodec.CameraHeartbeat.decode,
    tcodec.MediaParams.decode,
]


@FAST
@given(st.one_of(st.binary(max_size=200), mutated(teg_datagrams), teg_datagrams))
def test_teg_decoders_never_escape(data: bytes) -> None:
    """Random and mutated datagrams: every TEG decoder decodes or raises MalformedPacketError."""
    for decoder in TEG_DECODERS:
        decodes_or_malformed(decoder, data)
    # a 2TEG/1TEG header on random bytes reaches the per-command decoders
    for prefix in (
        b"1TEG\x0c\x00",
        b"1TEG\x0e\x00",
        b"2TEG\x01\x00",
        b"2TEG\x03\x00",
        b"2TEG\x04\x00",
    ):
        decodes_or_malformed(tcodec.decode_datagram, prefix + data)


@FAST
@given(st.one_of(st.binary(max_size=120), mutated(search_responses.map(lambda m: m.encode()))))
def test_teg_discovery_handler_never_raises(data: bytes) -> None:
    """The search-reply handler ignores garbage and records well-formed replies only."""
    proto = _SearchProtocol()
    proto.datagram_received(data, ("127.0.0.1", 10104))
    for info in proto.found.values():
        assert info.uid
        assert 0 <= info.port <= 0xFFFF


# -- TEG reassembly -------------------------------------------------------------------------


class FakeClock:
    """Manual clock for the reassembler's age limits."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@FAST
@given(
    frames=st.lists(st.integers(10, 3000), min_size=1, max_size=6),
    chunk=st.integers(16, 700),
    first_id=u16,
    data=st.data(),
)
def test_teg_reassembly_any_order_and_duplicates(
    frames: list[int], chunk: int, first_id: int, data: st.DataObject
) -> None:
    """Frames sent one after another, packets shuffled and duplicated within each frame:
    every frame comes out intact, once, in order."""
    stats = SessionStats()
    reasm = Reassembler(stats, clock=FakeClock())
    sent: list[bytes] = []
    got: list[bytes] = []
    for n, size in enumerate(frames):
        jpeg = _sample_jpeg(n, size)
        sent.append(jpeg)
        pkts = _teg_frame_packets((first_id + n) & 0xFFFF, jpeg, chunk)
        dups = data.draw(st.lists(st.sampled_from(pkts), max_size=3))
        order = data.draw(st.permutations(pkts + dups))
        for pkt in order:
            out = reasm.feed(pkt)
            if out:
                got.extend(j for j, _, _ in out)
    assert got == sent
    assert stats.frames_dropped == 0
    assert stats.malformed == 0


@FAST
@given(
    frames=st.lists(st.integers(10, 2000), min_size=2, max_size=6),
    chunk=st.integers(16, 500),
    data=st.data(),
)
def test_teg_reassembly_interleaved_lossy(
    frames: list[int], chunk: int, data: st.DataObject
) -> None:
    """Any interleaving and loss of packets of several frames: what comes out is a
    subsequence of what was sent, byte-identical, in order; nothing raises."""
    reasm = Reassembler(SessionStats(), clock=FakeClock())
    sent = [_sample_jpeg(n, size) for n, size in enumerate(frames)]
    pkts = [p for n, j in enumerate(sent) for p in _teg_frame_packets(n, j, chunk)]
    keep = data.draw(st.lists(st.booleans(), min_size=len(pkts), max_size=len(pkts)))
    order = data.draw(st.permutations([p for p, k in zip(pkts, keep, strict=True) if k]))
    got: list[bytes] = []
    for pkt in order:
        out = reasm.feed(pkt)
        if out:
            got.extend(j for j, _, _ in out)
    positions = [sent.index(j) for j in got]
    assert positions == sorted(set(positions))


@FAST
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=80),
            st.binary(max_size=80).map(lambda b: b"2TEG\x03\x00" + b),
            mutated(media_packets().map(lambda m: m.encode())),
            media_packets().map(lambda m: m.encode()),
        ),
        max_size=30,
    )
)
def test_teg_reassembler_garbage(packets: list[bytes]) -> None:
    """Random and mutated media datagrams never raise; any frame out is a JPEG."""
    clock = FakeClock()
    reasm = Reassembler(SessionStats(), clock=clock, track_missing=True)
    for pkt in packets:
        clock.now += 0.01
        for jpeg, _, _ in (reasm.feed(pkt) or []) + (reasm.poll() or []):
            assert looks_like_jpeg(jpeg)


@SLOW
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=120),
            teg_datagrams,
            mutated(teg_datagrams),
        ),
        max_size=25,
    )
)
def test_teg_session_handler_never_raises(datagrams: list[bytes]) -> None:
    """TegSession's datagram handler survives any datagram sequence (no socket needed)."""

    async def feed() -> TegSession:
        info = CameraInfo("EMU", "127.0.0.1", 9, Family.TEG)
        session = TegSession(info)
        session._setup()
        session._closed = asyncio.get_running_loop().create_future()
        for data in datagrams:
            session._on_datagram(data, ("127.0.0.1", 9))
        timer = session._poll_timer
        if timer is not None:
            timer.cancel()
        return session

    session = run(feed())  # type: ignore[var-annotated]
    assert session.stats.packets == len(datagrams)


# -- PPPP codec ------------------------------------------------------------------------------

did_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=7)
device_ids = st.builds(devid.DeviceId, did_text, u32, did_text)
pppp_messages: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from((pcodec.LanSearch(), pcodec.Alive(), pcodec.AliveAck(), pcodec.Close())),
    st.builds(pcodec.Drw, st.integers(0, 7), u16, st.binary(max_size=1024), u8),
    st.builds(pcodec.Psr, st.integers(0, 7), u16, st.binary(max_size=200), u8),
    st.builds(
        pcodec.DrwAck,
        st.integers(0, 7),
        st.lists(u16, min_size=1, max_size=pcodec.MAX_ACK_INDICES).map(tuple),
        u8,
    ),
    st.builds(
        pcodec.Unknown,
        st.integers(0, 0xFF).filter(
            lambda t: t not in (0x30, 0x41, 0x42, 0xD0, 0xD1, 0xD8, 0xE0, 0xE1, 0xF0)
        ),
        st.binary(max_size=100),
    ),
)
pppp_datagrams = st.one_of(
    pppp_messages.map(lambda m: m.encode()),
    device_ids.map(pcodec.encode_punch),
    device_ids.map(pcodec.encode_p2p_rdy),
)


@FAST
@given(pppp_messages)
def test_pppp_round_trip(msg: Any) -> None:
    """Every valid PPPP message decodes back to itself (also in strict mode)."""
    data = msg.encode()
    assert pcodec.decode(data) == msg
    if getattr(msg, "marker", pcodec.DRW_MARKER) == pcodec.DRW_MARKER:
        assert pcodec.decode(data, strict=True) == msg


@FAST
@given(device_ids, st.binary(max_size=8))
def test_pppp_did_messages_round_trip(did: devid.DeviceId, extra: bytes) -> None:
    """PUNCH_PKT / P2P_RDY carry the DID (and any trailing extension) unchanged."""
    for cls in (pcodec.PunchPkt, pcodec.P2pRdy):
        msg = cls(did, did.encode(), extra)
        back = pcodec.decode(msg.encode())
        assert back == msg
        assert back.did.matches(did)


@FAST
@given(st.one_of(st.binary(max_size=200), pppp_datagrams, mutated(pppp_datagrams)))
def test_pppp_decode_never_escapes(data: bytes) -> None:
    """Random / mutated PPPP datagrams decode or raise MalformedPacketError."""
    for strict in (False, True):
        try:
            pcodec.decode(data, strict=strict)
        except MalformedPacketError:
            pass
        try:
            pcodec.parse_header(data, strict=strict)
        except MalformedPacketError:
            pass
    decodes_or_malformed(lambda d: pcodec.decode(b"\xf1\x41" + d), data)
    decodes_or_malformed(lambda d: pcodec.decode(b"\xf1\xd1" + d), data)


_PPPP_ADDR = ("127.0.0.1", 32108)


def _fake_connection(key: str | None) -> PpppConnection:
    async def make() -> PpppConnection:
        conn = PpppConnection(key=key)
        conn._established = True
        conn.remote = _PPPP_ADDR
        return conn

    return run(make())


@SLOW
@given(
    st.one_of(st.none(), st.sampled_from(("camera", "SHIX", "vstarcam2019"))),
    st.lists(
        st.one_of(st.binary(max_size=100), pppp_datagrams, mutated(pppp_datagrams)),
        max_size=30,
    ),
)
def test_pppp_transport_receive_path_never_raises(key: str | None, datagrams: list[bytes]) -> None:
    """The transport's inline receive path survives any datagram sequence."""
    conn = _fake_connection(key)
    got: list[bytes] = []
    conn.channel(1).set_packet_handler(got.append)
    for data in datagrams:
        wire = crypto.encrypt(data, key)
        conn._on_datagram(wire, _PPPP_ADDR)
        conn._on_datagram(wire, ("127.0.0.2", 1))  # foreign: ignored
    assert conn.counters.foreign >= len(datagrams) or conn._closed
    conn._abort()


# -- crypto ----------------------------------------------------------------------------------

latin1_keys = st.text(st.characters(max_codepoint=0xFF), min_size=1, max_size=40)


@FAST
@given(latin1_keys, st.binary(max_size=300))
def test_crypto_round_trip(key: str, data: bytes) -> None:
    """decrypt(encrypt(x)) == x and encrypt(decrypt(x)) == x for any key and bytes."""
    enc = crypto.encrypt(data, key)
    assert len(enc) == len(data)
    assert crypto.decrypt(enc, key) == data
    assert crypto.encrypt(crypto.decrypt(data, key), key) == data
    assert crypto.decrypt(data, None) == data == crypto.encrypt(data, "")


@FAST
@given(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30),
    st.binary(max_size=100),
)
def test_crypto_matches_independent_implementation(key: str, data: bytes) -> None:
    """Our cipher agrees with fakecam's (written separately from the spec)."""
    ek = fake_pppp.effective_key(key)
    assert crypto.encrypt(data, key) == fake_pppp.encrypt(data, ek)
    assert crypto.decrypt(data, key) == fake_pppp.decrypt(data, ek)


@FAST
@given(st.one_of(st.binary(max_size=60), pppp_datagrams.map(lambda d: crypto.encrypt(d, "camera"))))
def test_detect_key_never_raises(data: bytes) -> None:
    """Key detection returns a key, "" or None for any datagram."""
    key = crypto.detect_key(data)
    assert key is None or isinstance(key, str)
    if key is not None and len(data) >= 4:
        assert crypto.decrypt(data[:4], key)[0] == 0xF1


# -- device IDs ------------------------------------------------------------------------------


@FAST
@given(
    st.one_of(
        st.text(max_size=30),
        st.from_regex(r"[A-Za-z]{1,8}-?\d{1,9}-?[A-Za-z0-9]{1,8}", fullmatch=True),
    )
)
def test_devid_parse_random_text(text: str) -> None:
    """DeviceId.parse returns a valid ID or raises ValueError (its documented error)."""
    try:
        did = devid.DeviceId.parse(text)
    except ValueError:
        return
    assert devid.DeviceId.decode(did.encode()) == did
    assert devid.DeviceId.parse(str(did)) == did


@FAST
@given(
    st.text(st.characters(min_codepoint=ord("A"), max_codepoint=ord("Z")), min_size=3, max_size=7),
    st.integers(0, 99_999_999),
    st.text(st.characters(min_codepoint=ord("A"), max_codepoint=ord("Z")), min_size=3, max_size=7),
)
def test_devid_text_round_trip(prefix: str, serial: int, check: str) -> None:
    """Canonical and compact text forms parse back to the same ID."""
    did = devid.DeviceId(prefix, serial, check)
    assert devid.DeviceId.parse(str(did)) == did
    assert devid.DeviceId.parse(did.compact.lower()) == did


@FAST
@given(
    st.one_of(
        st.binary(min_size=0, max_size=24),
        device_ids.map(lambda d: d.encode()),
        mutated(device_ids.map(lambda d: d.encode())),
    )
)
def test_devid_decode_random_bytes(data: bytes) -> None:
    """The 20-byte wire form decodes or raises MalformedPacketError; decoded IDs re-encode."""
    did = decodes_or_malformed(devid.DeviceId.decode, data)
    if did is not None:
        assert devid.DeviceId.decode(did.encode()) == did
        assert did.check_variant in ("ilnk-legacy", "cs2", "letters", "other")


@FAST
@given(device_ids)
def test_devid_wire_round_trip(did: devid.DeviceId) -> None:
    """encode/decode round-trip for any valid printable ID."""
    assert devid.DeviceId.decode(did.encode()) == did


# -- init strings ----------------------------------------------------------------------------

upper_pairs = st.text(st.characters(min_codepoint=65, max_codepoint=90), max_size=60).map(
    lambda s: s[: len(s) // 2 * 2]
)


@FAST
@given(
    st.one_of(
        st.text(max_size=80),
        upper_pairs,
        st.builds(lambda a, b: f"{a}:{b}", upper_pairs, st.text(max_size=10)),
        st.builds(lambda a, b: f"{a}-{b}", upper_pairs, st.text(max_size=10)),
        st.from_regex(r"[A-Za-z]{3}-([0-9A-Fa-f]{2}){0,20}", fullmatch=True),
    )
)
def test_init_string_random_text(text: str) -> None:
    """Any text decodes to an InitString or raises InitStringError (a MalformedPacketError)."""
    for decoder in (
        initstring.decode_init_string,
        initstring.decode_cs2,
        initstring.decode_yi,
        initstring.decode_ilnk,
        initstring.decode_hlp2p,
        initstring.parse_hlp2p_params,
    ):
        try:
            result = decoder(text)
        except initstring.InitStringError:
            continue
        assert result.variant in ("cs2", "yi", "ilnk", "hlp2p")


@FAST
@given(
    st.lists(st.from_regex(r"[a-z0-9.]{1,12}", fullmatch=True), min_size=2, max_size=3),
    st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9]{1,10}", fullmatch=True)),
)
def test_init_string_round_trip(servers: list[str], key: str | None) -> None:
    """Encoded CS2 and iLnk init strings decode back to their servers (and PSK)."""
    text = ",".join(servers)
    encoded = initstring.cs2_encode_text(text)
    assert initstring.cs2_decode_text(encoded) == text
    decoded = initstring.decode_cs2(encoded + (f":{key}" if key else ""))
    assert decoded.servers == tuple(servers)
    assert decoded.key == key
    ilnk_text = f"{len(servers)};" + ";".join(servers)
    ilnk_init = initstring.ilnk_encode_text(ilnk_text) + "-$$"
    assert initstring.decode_ilnk(ilnk_init).servers == tuple(servers)


# -- PPPP app layers -------------------------------------------------------------------------


def _splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in [*points, len(data)]:
        out.append(data[prev:p])
        prev = p
    return [c for c in out if c]


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**31), 2**31), st.text(max_size=20)),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
shix_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=5)


@FAST
@given(st.lists(shix_objects, min_size=1, max_size=4), st.lists(st.integers(0, 5000), max_size=8))
def test_shix_stream_any_split(objs: list[dict[str, Any]], cuts: list[int]) -> None:
    """SHIX blocks split anywhere across payloads decode back to the same objects."""
    stream = b"".join(shix.encode_block(o) for o in objs)
    assert shix.decode_block(shix.encode_block(objs[0])) == (
        objs[0],
        len(shix.encode_block(objs[0])),
    )
    dec = shix.ShixDecoder()
    got: list[dict[str, Any]] = []
    for part in _splits(stream, cuts):
        got.extend(dec.feed(part))
    assert got == objs


@FAST
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=60), st.binary(max_size=40).map(lambda b: shix.SHIX_MAGIC + b)
        ),
        max_size=10,
    )
)
def test_shix_decoder_garbage(chunks: list[bytes]) -> None:
    """Garbage on the SHIX control channel only ever raises MalformedPacketError."""
    dec = shix.ShixDecoder()
    for chunk in chunks:
        decodes_or_malformed(dec.feed, chunk)
        decodes_or_malformed(shix.decode_block, chunk)


ilnk_messages = st.builds(
    ilnk.IlnkMessage, u16, st.binary(max_size=300), st.binary(min_size=4, max_size=4), u16
)


@FAST
@given(st.lists(ilnk_messages, min_size=1, max_size=4), st.lists(st.integers(0, 2000), max_size=8))
def test_ilnk_stream_any_split(msgs: list[ilnk.IlnkMessage], cuts: list[int]) -> None:
    """iLnk messages split anywhere decode back to the same messages."""
    for m in msgs:
        assert ilnk.IlnkMessage.decode(m.encode()) == (m, len(m.encode()))
    dec = ilnk.IlnkDecoder()
    got: list[ilnk.IlnkMessage] = []
    for part in _splits(b"".join(m.encode() for m in msgs), cuts):
        got.extend(dec.feed(part))
    assert got == msgs


@FAST
@given(st.binary(max_size=300), st.integers(1, 8))
def test_xqbytes_round_trip(data: bytes, rotation: int) -> None:
    """XqBytes encode/decode are inverses; our encoding equals fakecam's (rotation 4)."""
    assert ilnk.xq_decode(ilnk.xq_encode(data, rotation), rotation) == data
    assert ilnk.xq_encode(data) == fake_pppp.xq_encode(data)


@FAST
@given(
    st.lists(
        st.one_of(st.binary(max_size=60), mutated(ilnk_messages.map(lambda m: m.encode()))),
        max_size=10,
    )
)
def test_ilnk_decoder_garbage(chunks: list[bytes]) -> None:
    """Garbage on the iLnk control channel never raises from the stream decoder."""
    dec = ilnk.IlnkDecoder()
    for chunk in chunks:
        for msg in dec.feed(chunk):
            assert isinstance(msg, ilnk.IlnkMessage)
        decodes_or_malformed(ilnk.IlnkMessage.decode, chunk)
        identify.layer_from_payload(chunk)


frame_headers = st.builds(
    avframe.FrameHeader,
    u8,
    st.integers(0, 3000),
    u8,
    u16,
    u32,
    u32,
    st.binary(min_size=12, max_size=12),
)


@FAST
@given(frame_headers)
def test_av_header_round_trip(header: avframe.FrameHeader) -> None:
    """The 32-byte A/V header round-trips."""
    assert avframe.FrameHeader.decode(header.encode()) == header


@FAST
@given(
    st.lists(st.tuples(frame_headers, st.data()), min_size=1, max_size=5),
    st.lists(st.integers(0, 20000), max_size=12),
)
def test_av_assembler_any_split(
    items: list[tuple[avframe.FrameHeader, Any]], cuts: list[int]
) -> None:
    """Framed A/V data cut into payloads anywhere gives back exactly the frames sent."""
    frames: list[avframe.AvFrame] = []
    for header, data in items:
        body = data.draw(st.binary(min_size=header.length, max_size=header.length))
        assume(avframe.FRAME_MAGIC not in body)
        frames.append(avframe.AvFrame(header, body))
    stream = b"".join(f.header.encode() + f.data for f in frames if f.header is not None)
    asm = avframe.FrameAssembler()
    got: list[avframe.AvFrame] = []
    for part in _splits(stream, cuts):
        got.extend(asm.feed(part))
    assert got == frames
    assert asm.dropped == 0


@FAST
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=100),
            frame_headers.map(lambda h: h.encode()),
            mutated(frame_headers.map(lambda h: h.encode() + bytes(h.length))),
            st.binary(max_size=50).map(lambda b: b"\xff\xd8\xff" + b),
            st.binary(max_size=50).map(lambda b: b + b"\xff\xd9"),
        ),
        max_size=20,
    )
)
def test_av_assembler_garbage(chunks: list[bytes]) -> None:
    """Random payloads never raise from the frame assembler; headers decode or are malformed."""
    asm = avframe.FrameAssembler()
    for chunk in chunks:
        for frame in asm.feed(chunk):
            assert isinstance(frame.data, bytes)
        decodes_or_malformed(avframe.FrameHeader.decode, chunk)
    asm.reset()
    assert not asm.in_frame


# -- jpeg helpers --------------------------------------------------------------------------


def _jpeg(width: int, height: int, extra: bytes) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    app = b"\xff\xe0" + struct.pack(">H", 2 + len(extra)) + extra
    return b"\xff\xd8" + app + sof + b"\xff\xda\x00\x02" + b"\x00" * 8 + b"\xff\xd9"


@FAST
@given(u16, u16, st.binary(max_size=40))
def test_jpeg_size_valid(width: int, height: int, extra: bytes) -> None:
    """jpeg_size finds the SOF of a well-formed JPEG."""
    data = _jpeg(width, height, extra)
    assert looks_like_jpeg(data)
    assert jpeg_size(data) == (width, height)


@FAST
@given(
    st.one_of(st.binary(max_size=200), mutated(st.builds(_jpeg, u16, u16, st.binary(max_size=20))))
)
def test_jpeg_helpers_never_raise(data: bytes) -> None:
    """Random and mutated JPEGs: helpers return a bool / a size or None, never raise."""
    assert isinstance(looks_like_jpeg(data), bool)
    assert isinstance(looks_like_jpeg(memoryview(data)), bool)
    size = jpeg_size(data)
    assert size is None or (0 <= size[0] <= 0xFFFF and 0 <= size[1] <= 0xFFFF)


# -- sanity: the fuzz helpers themselves ------------------------------------------------------


def test_decodes_or_malformed_lets_other_errors_escape() -> None:
    """The robustness helper really fails on non-library exceptions."""

    def boom(_: bytes) -> None:
        raise IndexError("escape")

    with pytest.raises(IndexError):
        decodes_or_malformed(boom, b"")
    assert decodes_or_malformed(tcodec.decode_datagram, b"x") is None
    assert issubclass(initstring.InitStringError, ChinesiumError)
    assert json.loads("{}") == {}
    assert socket.inet_aton("127.0.0.1")
