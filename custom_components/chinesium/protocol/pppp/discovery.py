"""PPPP LAN discovery: LAN_SEARCH (plain and per known PSK), collect PUNCH_PKTs (pppp.md §3, §5.3).

An obfuscated camera ignores a plaintext search (and vice versa), so every
round sends one plain LAN_SEARCH plus one encrypted with each known key; the
key that decrypts the reply is reported in ``CameraInfo.extra["key"]``. iLnk
cameras also get the plaintext LAN_SEARCH_EXT (``f1 32 00 00``, pppp.md §1.1);
their LAN_SEARCH_EXT_ACK (0x33) is read as a DID followed by bytes we keep.

A reply nothing decodes (a PSK we do not know, another first byte than
``f1``) is still listed: ``CameraInfo(supported=False, app_layer="unknown")``
with what was seen in ``extra`` (``variant``, ``reason``, ``first_bytes``,
``size``, ``session_port``), never silently dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
import contextlib
import logging
import socket
from typing import Any

from ..errors import ChinesiumError
from ..model import CameraInfo, Family
from ..trace import TraceRecorder
from .apps.identify import identify as identify_layer
from .apps.registry import SUPPORTED
from .codec import LAN_SEARCH, MsgType, PunchPkt, decode, header
from .crypto import KNOWN_KEYS, SERVER_KEY, Cipher, detect_key
from .devid import DeviceId

_LOGGER = logging.getLogger(__name__)

PPPP_SEARCH_PORT = 32108
SEARCH_INTERVAL = 0.5
SEARCH_KEYS: tuple[str, ...] = tuple(k for k in KNOWN_KEYS if k != SERVER_KEY)
"""PSKs tried by default (every known camera key)."""

SUPPORTED_APP_LAYERS: frozenset[str] = frozenset(layer.value for layer in SUPPORTED)
"""App layers this library can stream from."""

LAN_SEARCH_EXT = header(MsgType.LAN_NOTIFY_ACK, 0)
"""iLnk LAN_SEARCH_EXT ``f1 32 00 00`` (pppp.md §1.1; plaintext, iLnk has no PSK)."""
UNKNOWN_VARIANT = "unknown"
"""``CameraInfo.app_layer`` of a camera whose answer we could not decode."""
_PUNCH_HEAD = bytes((0xF1, MsgType.PUNCH_PKT))
_EXT_ACK_HEAD = bytes((0xF1, MsgType.LAN_SEARCH_EXT_ACK))


def identify(did: DeviceId, key: str | None) -> str | None:
    """Best guess of the app layer (``"shix"``, ``"ilnk"``, ``"vstarcam"``, ...) or None.

    Uses the PSK first (it names the network), then the device prefix
    (pppp.md §6.1 / seed table), then the legacy iLnk check-code alphabet; the
    tables live in :mod:`.apps.identify`.
    """
    layer = identify_layer(prefix=did.prefix, key=key, check=did.check).layer
    return None if layer is None else layer.value


def search_datagrams(keys: Iterable[str] = SEARCH_KEYS, *, ext: bool = False) -> list[bytes]:
    """The search datagrams of one round: plain plus one per key (+ LAN_SEARCH_EXT)."""
    out = [LAN_SEARCH, *(Cipher.create(k).encrypt(LAN_SEARCH) for k in keys if k)]
    return [*out, LAN_SEARCH_EXT] if ext else out


def unknown_variant(data: bytes, ip: str, port: int, search_port: int) -> CameraInfo:
    """A camera that answered but whose answer nothing we know decodes (listed, unsupported).

    ``extra`` keeps what was seen: ``reason`` (``"unknown PSK"``, ``"unknown magic
    0x.."`` or ``"unknown message"``), ``first_bytes`` (hex, first 16), ``size``,
    ``session_port``. With an unknown first byte but an intact PUNCH_PKT header
    the DID is still read.
    """
    uid = f"unknown@{ip}:{port}"
    first = data[:1].hex()
    if len(data) >= 24 and data[1:4] == b"\x41\x00\x14":
        reason = f"unknown magic 0x{first}"
        with contextlib.suppress(ValueError, ChinesiumError):
            uid = str(DeviceId.decode(data[4:24]))
    elif data[:1] == b"\xf1":
        reason = "unknown message"
    else:
        reason = "unknown PSK"
    return CameraInfo(
        uid=uid,
        host=ip,
        port=search_port,
        family=Family.PPPP,
        app_layer=UNKNOWN_VARIANT,
        supported=False,
        extra={
            "key": None,
            "variant": UNKNOWN_VARIANT,
            "reason": reason,
            "first_bytes": data[:16].hex(" "),
            "size": len(data),
            "session_port": port,
        },
    )


class _SearchProtocol(asyncio.DatagramProtocol):
    def __init__(self, on_reply: Any) -> None:
        self._on_reply = on_reply

    def datagram_received(self, data: bytes, addr: tuple[Any, int]) -> None:
        self._on_reply(self, data, addr)

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("PPPP search socket error: %s", exc)


async def discover_pppp(
    targets: list[tuple[str, int]],
    *,
    timeout: float,
    bind_host: str = "0.0.0.0",  # noqa: S104
    allow_broadcast: bool = False,
    keys: Iterable[str] = SEARCH_KEYS,
    interval: float = SEARCH_INTERVAL,
    search_ext: bool = True,
    trace: TraceRecorder | None = None,
) -> list[CameraInfo]:
    """Search ``targets`` (unicast or broadcast ``(host, port)``) for PPPP cameras.

    Collects PUNCH_PKT replies for ``timeout`` seconds (re-sending the search
    every ``interval`` s). Returns one :class:`CameraInfo` per device ID with
    ``host`` = the replying IP, ``port`` = the search port it answered (use it
    for :meth:`PpppConnection.connect`), ``extra`` = ``{"key": PSK or None,
    "session_port": port the reply came from}``. Never raises for
    unreachable hosts. ``search_ext`` adds the iLnk LAN_SEARCH_EXT to each
    round; answers nothing decodes are listed as unknown variants (see
    :func:`unknown_variant`). ``trace`` records the first round sent and the
    replies.
    """
    loop = asyncio.get_running_loop()
    key_list = [k for k in keys if k]
    datagrams = search_datagrams(key_list, ext=search_ext)
    # One socket per "layer" so two targets on the same IP (tests, port forwards)
    # can be told apart: replies on socket k from IP x belong to the k-th target at x.
    layers: list[dict[str, int]] = []
    fallback: list[int] = []
    sends: list[tuple[int, tuple[str, int]]] = []
    for host, port in targets:
        try:
            infos = await loop.getaddrinfo(
                host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM
            )
        except OSError:
            continue
        ip = str(infos[0][4][0])
        layer = 0
        while layer < len(layers) and ip in layers[layer]:
            layer += 1
        if layer == len(layers):
            layers.append({})
            fallback.append(port)
        layers[layer][ip] = port
        sends.append((layer, (ip, port)))
    if not sends:
        return []

    found: dict[str, CameraInfo] = {}
    unknown: dict[tuple[str, int], CameraInfo] = {}
    known_addrs: set[tuple[str, int]] = set()
    protocols: list[_SearchProtocol] = []

    def on_reply(proto: _SearchProtocol, data: bytes, addr: tuple[Any, int]) -> None:
        layer = protocols.index(proto)
        ip = str(addr[0])
        search_port = layers[layer].get(ip, fallback[layer])
        source = (ip, int(addr[1]))
        key = detect_key(data, key_list, expect=_PUNCH_HEAD)
        ext = False
        if key is None and data[:2] == _EXT_ACK_HEAD:
            key, ext = "", True
        plain = data if not key else Cipher.create(key).decrypt(data)
        msg: Any = None
        if key is not None:
            with contextlib.suppress(ChinesiumError, ValueError):
                msg = PunchPkt(*PunchPkt._decode_body(plain[4:])) if ext else decode(plain)
        if not isinstance(msg, PunchPkt):
            seen = unknown.get(source)
            if source not in known_addrs and seen is None:
                seen = unknown[source] = unknown_variant(bytes(data), ip, source[1], search_port)
            if trace is not None:
                if seen is not None and not seen.uid.startswith("unknown@"):
                    trace.device_id(seen.uid, bytes(data[4:24]))
                trace.record("rx", plain, port=source[1], key=key or None)
            return
        if trace is not None:  # the DID first, so the recorded bytes are shortened
            trace.device_id(str(msg.did), msg.raw_did)
            trace.record("rx", plain, port=source[1], key=key or None)
        known_addrs.add(source)
        uid = str(msg.did)
        if uid in found:
            return
        psk = key or None
        app_layer = identify(msg.did, psk)
        extra: dict[str, Any] = {"key": psk, "session_port": source[1]}
        if ext:
            extra["search"] = "lan_search_ext"
            extra["ext_bytes"] = plain[24:].hex(" ")
        found[uid] = CameraInfo(
            uid=uid,
            host=ip,
            port=search_port,
            family=Family.PPPP,
            app_layer=app_layer,
            supported=app_layer is None or app_layer in SUPPORTED_APP_LAYERS,
            extra=extra,
        )

    transports: list[asyncio.DatagramTransport] = []
    try:
        for _ in layers:
            transport, proto = await loop.create_datagram_endpoint(
                lambda: _SearchProtocol(on_reply),
                local_addr=(bind_host, 0),
                allow_broadcast=allow_broadcast,
            )
            transports.append(transport)
            protocols.append(proto)
        deadline = loop.time() + timeout
        plain_round = search_datagrams([], ext=search_ext)
        first_round = True
        while True:
            for layer, addr in sends:
                for datagram in datagrams:
                    with contextlib.suppress(OSError):
                        transports[layer].sendto(datagram, addr)
                if trace is not None and first_round:
                    for datagram in plain_round:
                        trace.record("tx", datagram, port=addr[1], keys=len(key_list))
            first_round = False
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(interval, remaining))
            if loop.time() >= deadline:
                break
    except OSError as err:
        _LOGGER.debug("PPPP discovery failed: %s", err)
    finally:
        for transport in transports:
            transport.close()
    known_uids = set(found)
    extra_unknown = [
        info
        for source, info in unknown.items()
        if source not in known_addrs and info.uid not in known_uids
    ]
    return [*found.values(), *extra_unknown]
