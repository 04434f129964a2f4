"""PPPP LAN discovery: LAN_SEARCH (plain and per known PSK), collect PUNCH_PKTs (pppp.md §3, §5.3).

An obfuscated camera ignores a plaintext search (and vice versa), so every
round sends one plain LAN_SEARCH plus one encrypted with each known key; the
key that decrypts the reply is reported in ``CameraInfo.extra["key"]``.
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
from .apps.identify import identify as identify_layer
from .apps.registry import SUPPORTED
from .codec import LAN_SEARCH, MsgType, PunchPkt, decode
from .crypto import KNOWN_KEYS, SERVER_KEY, Cipher, detect_key
from .devid import DeviceId

_LOGGER = logging.getLogger(__name__)

PPPP_SEARCH_PORT = 32108
SEARCH_INTERVAL = 0.5
SEARCH_KEYS: tuple[str, ...] = tuple(k for k in KNOWN_KEYS if k != SERVER_KEY)
"""PSKs tried by default (every known camera key)."""

SUPPORTED_APP_LAYERS: frozenset[str] = frozenset(layer.value for layer in SUPPORTED)
"""App layers this library can stream from."""


def identify(did: DeviceId, key: str | None) -> str | None:
    """Best guess of the app layer (``"shix"``, ``"ilnk"``, ``"vstarcam"``, ...) or None.

    Uses the PSK first (it names the network), then the device prefix
    (pppp.md §6.1 / seed table), then the legacy iLnk check-code alphabet; the
    tables live in :mod:`.apps.identify`.
    """
    layer = identify_layer(prefix=did.prefix, key=key, check=did.check).layer
    return None if layer is None else layer.value


def search_datagrams(keys: Iterable[str] = SEARCH_KEYS) -> list[bytes]:
    """The LAN_SEARCH datagrams of one round: plain plus one per key."""
    return [LAN_SEARCH, *(Cipher.create(k).encrypt(LAN_SEARCH) for k in keys if k)]


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
) -> list[CameraInfo]:
    """Search ``targets`` (unicast or broadcast ``(host, port)``) for PPPP cameras.

    Collects PUNCH_PKT replies for ``timeout`` seconds (re-sending the search
    every ``interval`` s). Returns one :class:`CameraInfo` per device ID with
    ``host`` = the replying IP, ``port`` = the search port it answered (use it
    for :meth:`PpppConnection.connect`), ``extra`` = ``{"key": PSK or None,
    "session_port": port the reply came from}``. Never raises for
    unreachable hosts.
    """
    loop = asyncio.get_running_loop()
    key_list = [k for k in keys if k]
    datagrams = search_datagrams(key_list)
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
    protocols: list[_SearchProtocol] = []

    def on_reply(proto: _SearchProtocol, data: bytes, addr: tuple[Any, int]) -> None:
        key = detect_key(data, key_list, expect=bytes((0xF1, MsgType.PUNCH_PKT)))
        if key is None:
            return
        try:
            msg = decode(Cipher.create(key).decrypt(data) if key else data)
        except ChinesiumError:
            return
        if not isinstance(msg, PunchPkt):
            return
        uid = str(msg.did)
        if uid in found:
            return
        layer = protocols.index(proto)
        ip = str(addr[0])
        psk = key or None
        app_layer = identify(msg.did, psk)
        found[uid] = CameraInfo(
            uid=uid,
            host=ip,
            port=layers[layer].get(ip, fallback[layer]),
            family=Family.PPPP,
            app_layer=app_layer,
            supported=app_layer is None or app_layer in SUPPORTED_APP_LAYERS,
            extra={"key": psk, "session_port": int(addr[1])},
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
        while True:
            for layer, addr in sends:
                for datagram in datagrams:
                    with contextlib.suppress(OSError):
                        transports[layer].sendto(datagram, addr)
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
    return list(found.values())
