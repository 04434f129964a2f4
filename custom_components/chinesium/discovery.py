"""LAN discovery for Home Assistant: broadcast targets, unicast look-ups, background scan."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
import ipaddress
import re

from homeassistant.components import network
from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import discovery_flow
from homeassistant.helpers.event import async_track_time_interval

from .const import DOMAIN, LOGGER, SCAN_CIDR_MIN_PREFIX
from .issues import async_create_unsupported_issue, async_delete_unsupported_issue
from .protocol import CameraInfo, discover
from .settings import get_settings
from .stored_settings import async_get_stored_settings, async_stored_scan_hosts

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$",
    re.IGNORECASE,
)


def expand_scan_host(value: str) -> list[str]:
    """Validate one scan target and return the discovery targets it stands for.

    ``host`` and ``host:port`` (an IPv4 address or a host name) come back as
    they are; a CIDR ``a.b.c.d/nn`` with ``nn >= 22`` expands to its host
    addresses. Raises :class:`ValueError` for anything else.
    """
    value = value.strip()
    if "/" in value:
        try:
            net = ipaddress.IPv4Network(value, strict=False)
        except ValueError as err:
            raise ValueError(f"invalid network {value!r}") from err
        if net.prefixlen < SCAN_CIDR_MIN_PREFIX:
            raise ValueError(f"network {value!r} is larger than /{SCAN_CIDR_MIN_PREFIX}")
        return [str(addr) for addr in net.hosts()]
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = value, ""
    elif not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"invalid port in {value!r}")
    if all(part.isdigit() for part in host.split(".")):
        try:
            ipaddress.IPv4Address(host)
        except ValueError as err:
            raise ValueError(f"invalid IPv4 address in {value!r}") from err
    elif not _HOSTNAME.match(host):
        raise ValueError(f"invalid host name in {value!r}")
    return [value]


def validate_host(value: str) -> str:
    """Check a camera address: an IPv4 address or host name, optionally ``:port``.

    Purely syntactic (no DNS, no packets); returns the stripped value or raises
    :class:`ValueError`. Networks are not camera addresses.
    """
    value = value.strip()
    if "/" in value:
        raise ValueError(f"a network is not a camera address: {value!r}")
    return expand_scan_host(value)[0]


def expand_scan_hosts(values: Iterable[str]) -> list[str]:
    """Expand many scan targets (see :func:`expand_scan_host`); invalid ones are skipped."""
    targets: dict[str, None] = {}
    for value in values:
        try:
            targets.update(dict.fromkeys(expand_scan_host(value)))
        except ValueError as err:
            LOGGER.warning("Ignoring scan host: %s", err)
    return list(targets)


@callback
def async_extra_hosts(hass: HomeAssistant) -> list[str]:
    """Extra unicast discovery targets: the settings' and the integration's ``scan_hosts``.

    A plain (non-coroutine) event-loop function; CIDRs come back expanded. The
    stored hosts count once the settings are loaded (the async callers below
    make sure of that).
    """
    return expand_scan_hosts([*get_settings(hass).scan_hosts, *async_stored_scan_hosts(hass)])


async def async_broadcast_targets(hass: HomeAssistant) -> list[str]:
    """Return the IPv4 broadcast addresses of the adapters enabled in HA.

    Empty when broadcasting is switched off (``CHINESIUM_BROADCAST=0``).
    """
    if not get_settings(hass).broadcast:
        return []
    return sorted(str(addr) for addr in await network.async_get_ipv4_broadcast_addresses(hass))


async def async_discover(
    hass: HomeAssistant, hosts: Iterable[str] = (), *, broadcast: bool = False
) -> list[CameraInfo]:
    """Search for cameras at ``hosts`` (``host`` or ``host:port``) and optionally broadcast.

    Returns an empty list when there is nothing to search; never raises for
    unreachable hosts.
    """
    unicast = list(dict.fromkeys(hosts))
    bcast = await async_broadcast_targets(hass) if broadcast else []
    if not unicast and not bcast:
        return []
    settings = get_settings(hass)
    try:
        return await discover(
            unicast,
            broadcast=bcast,
            timeout=settings.discovery_timeout,
            teg_port=settings.teg_search_port,
            pppp_port=settings.pppp_search_port,
            bind_host=settings.discovery_bind_host,
        )
    except OSError as err:
        LOGGER.debug("Discovery failed: %s", err)
        return []


async def async_scan(hass: HomeAssistant) -> list[CameraInfo]:
    """Scan the LAN: broadcast on every enabled adapter plus :func:`async_extra_hosts`."""
    await async_get_stored_settings(hass)
    return await async_discover(hass, async_extra_hosts(hass), broadcast=True)


async def async_find_camera(
    hass: HomeAssistant, uid: str, hosts: Iterable[str] = ()
) -> CameraInfo | None:
    """Unicast-search ``hosts`` (and :func:`async_extra_hosts`) for ``uid``; ``None`` if absent.

    No broadcast: a camera that moved to another IP is found by DHCP or the
    periodic background scan, which update the entry.
    """
    await async_get_stored_settings(hass)
    for info in await async_discover(hass, [*hosts, *async_extra_hosts(hass)]):
        if info.uid == uid:
            return info
    return None


@callback
def async_trigger_discovery(hass: HomeAssistant, cameras: Iterable[CameraInfo]) -> None:
    """Start an integration-discovery flow for every new or moved camera.

    A camera whose protocol we cannot speak gets a repair issue instead.
    """
    known = {entry.unique_id: entry for entry in hass.config_entries.async_entries(DOMAIN)}
    for info in cameras:
        if not info.supported:
            async_create_unsupported_issue(hass, info)
            continue
        async_delete_unsupported_issue(hass, info.uid)
        entry = known.get(info.uid)
        if entry is not None and (entry.data.get(CONF_HOST), entry.data.get(CONF_PORT)) == (
            info.host,
            info.port,
        ):
            continue
        discovery_flow.async_create_flow(
            hass,
            DOMAIN,
            context={"source": SOURCE_INTEGRATION_DISCOVERY},
            data=info.as_dict(),
        )


@callback
def async_start_background_scan(hass: HomeAssistant) -> None:
    """Scan now and every ``scan_interval`` (settings); stops when HA stops."""

    async def _scan() -> None:
        async_trigger_discovery(hass, await async_scan(hass))

    @callback
    def _on_interval(_now: datetime) -> None:
        hass.async_create_background_task(_scan(), f"{DOMAIN} discovery scan")

    hass.async_create_background_task(_scan(), f"{DOMAIN} discovery scan")
    async_track_time_interval(
        hass,
        _on_interval,
        get_settings(hass).scan_interval,
        name=f"{DOMAIN} discovery",
        cancel_on_shutdown=True,
    )
