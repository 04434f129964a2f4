"""TEG LAN search (teg.md §3, §7.1).

Sends SEARCH_REQ to every target three times ~200 ms apart from one socket and
collects SEARCH_RESP replies for ``timeout`` seconds, de-duplicated by UID.

Which address becomes ``CameraInfo.host``: the reply's **source IP**. It is
the address that demonstrably reached us and the camera answers from its
only interface, so on a flat LAN it equals the LAN IP the camera reports at
offset 36; where they differ (NAT / port forward, emulators on loopback that
report a fake LAN address, a camera reporting 0.0.0.0) the reported one is
not reachable and the source is. The reported address is kept in
``extra["lan_ip"]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

from ..errors import MalformedPacketError
from ..model import CameraInfo, Family
from .codec import SearchRequest, SearchResponse

_LOGGER = logging.getLogger(__name__)

SEARCH_PORT = 10104
REPEATS = 3
REPEAT_GAP = 0.2
MODEL = "IWFCam (TEG)"


class _SearchProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.found: dict[str, CameraInfo] = {}

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            resp = SearchResponse.decode(data)
        except MalformedPacketError:
            return  # our own request echoed by a broadcast, other devices, garbage
        if not resp.uid or resp.uid in self.found:
            return
        source = str(addr[0])
        if resp.lan_ip not in ("0.0.0.0", source):  # noqa: S104
            _LOGGER.debug(
                "TEG %s reports LAN IP %s, replied from %s", resp.uid, resp.lan_ip, source
            )
        self.found[resp.uid] = CameraInfo(
            uid=resp.uid,
            host=source,
            port=resp.session_port,
            family=Family.TEG,
            model=MODEL,
            extra={"lan_ip": resp.lan_ip, "search_port": int(addr[1])},
        )

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("TEG search socket error: %s", exc)


async def discover_teg(
    targets: list[tuple[str, int]],
    *,
    timeout: float,
    bind_host: str = "0.0.0.0",  # noqa: S104 - replies may come from any LAN address
    allow_broadcast: bool = False,
) -> list[CameraInfo]:
    """Search ``targets`` (``(host, port)``) for TEG cameras; never raises for bad targets."""
    if not targets:
        return []
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if allow_broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind((bind_host, 0))
        sock.setblocking(False)
        transport, proto = await loop.create_datagram_endpoint(_SearchProtocol, sock=sock)
    except OSError as err:
        sock.close()
        _LOGGER.debug("TEG search: cannot open socket on %s: %s", bind_host, err)
        return []
    request = SearchRequest().encode()
    try:
        start = loop.time()
        targets = await _resolve(targets)
        for i in range(REPEATS):
            for target in targets:
                try:
                    transport.sendto(request, target)
                except (OSError, ValueError) as err:
                    _LOGGER.debug("TEG search to %s failed: %s", target, err)
            if i < REPEATS - 1:
                await asyncio.sleep(min(REPEAT_GAP, max(0.0, timeout / REPEATS)))
        remaining = timeout - (loop.time() - start)
        if remaining > 0:
            await asyncio.sleep(remaining)
    finally:
        with contextlib.suppress(Exception):
            transport.close()
    return list(proto.found.values())


async def _resolve(targets: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Resolve host names (IPv4 literals pass through); unresolvable targets are dropped."""
    loop = asyncio.get_running_loop()
    out: list[tuple[str, int]] = []
    for host, port in targets:
        try:
            socket.inet_aton(host)
        except OSError:
            try:
                infos = await loop.getaddrinfo(host, port, family=socket.AF_INET)
            except OSError as err:
                _LOGGER.debug("TEG search: cannot resolve %s: %s", host, err)
                continue
            out.append((str(infos[0][4][0]), port))
            continue
        out.append((host, port))
    return out
