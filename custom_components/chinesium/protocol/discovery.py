"""Family-agnostic LAN discovery: TEG and PPPP searches run together.

Targets are strings: ``"host"`` (the family's standard search port) or
``"host:port"`` (that port, for every family; used by tests and by cameras
behind port forwards). Broadcast addresses are targets too; the caller picks
them (the product uses the HA network helper, tests never broadcast).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from .model import CameraInfo, Family

TEG_SEARCH_PORT = 10104
PPPP_SEARCH_PORT = 32108
DEFAULT_TIMEOUT = 1.5


def parse_target(target: str, default_port: int) -> tuple[str, int]:
    """Split ``"host[:port]"`` into ``(host, port)``."""
    host, sep, port = target.rpartition(":")
    if sep and host and port.isdigit():
        return host, int(port)
    return target, default_port


async def discover(
    hosts: Iterable[str] = (),
    *,
    broadcast: Iterable[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
    families: Sequence[Family] = (Family.TEG, Family.PPPP),
    teg_port: int = TEG_SEARCH_PORT,
    pppp_port: int = PPPP_SEARCH_PORT,
    bind_host: str = "0.0.0.0",  # noqa: S104
) -> list[CameraInfo]:
    """Search for cameras of every requested family; de-duplicated by (family, uid).

    ``hosts`` are unicast targets, ``broadcast`` broadcast addresses. Replies
    are collected for ``timeout`` seconds. Never raises for unreachable hosts.
    """
    hosts = list(hosts)
    bcast = list(broadcast)
    jobs = []
    if Family.TEG in families:
        from .teg.discovery import discover_teg  # noqa: PLC0415

        jobs.append(
            discover_teg(
                [parse_target(h, teg_port) for h in hosts] + [(b, teg_port) for b in bcast],
                timeout=timeout,
                bind_host=bind_host,
                allow_broadcast=bool(bcast),
            )
        )
    if Family.PPPP in families:
        from .pppp.discovery import discover_pppp  # noqa: PLC0415

        jobs.append(
            discover_pppp(
                [parse_target(h, pppp_port) for h in hosts] + [(b, pppp_port) for b in bcast],
                timeout=timeout,
                bind_host=bind_host,
                allow_broadcast=bool(bcast),
            )
        )
    found: dict[tuple[Family, str], CameraInfo] = {}
    for result in await asyncio.gather(*jobs):
        for info in result:
            found.setdefault((info.family, info.uid), info)
    return list(found.values())
