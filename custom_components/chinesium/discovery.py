"""LAN discovery for Home Assistant: broadcast targets, unicast look-ups, background scan."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from homeassistant.components import network
from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import discovery_flow
from homeassistant.helpers.event import async_track_time_interval

from . import const
from .const import DOMAIN, LOGGER
from .protocol import CameraInfo, discover


async def async_broadcast_targets(hass: HomeAssistant) -> list[str]:
    """Return the IPv4 broadcast addresses of the adapters enabled in HA.

    Empty when broadcasting is switched off (``CHINESIUM_BROADCAST=0``).
    """
    if not const.BROADCAST:
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
    try:
        return await discover(
            unicast,
            broadcast=bcast,
            timeout=const.DISCOVERY_TIMEOUT,
            teg_port=const.TEG_SEARCH_PORT,
            pppp_port=const.PPPP_SEARCH_PORT,
            bind_host=const.DISCOVERY_BIND_HOST,
        )
    except OSError as err:
        LOGGER.debug("Discovery failed: %s", err)
        return []


async def async_scan(hass: HomeAssistant) -> list[CameraInfo]:
    """Scan the LAN: broadcast on every enabled adapter plus ``const.SCAN_HOSTS``."""
    return await async_discover(hass, const.SCAN_HOSTS, broadcast=True)


async def async_find_camera(
    hass: HomeAssistant, uid: str, hosts: Iterable[str] = ()
) -> CameraInfo | None:
    """Unicast-search ``hosts`` (and ``const.SCAN_HOSTS``) for ``uid``; ``None`` if absent.

    No broadcast: a camera that moved to another IP is found by DHCP or the
    periodic background scan, which update the entry.
    """
    for info in await async_discover(hass, [*hosts, *const.SCAN_HOSTS]):
        if info.uid == uid:
            return info
    return None


@callback
def async_trigger_discovery(hass: HomeAssistant, cameras: Iterable[CameraInfo]) -> None:
    """Start an integration-discovery flow for every new or moved camera."""
    known = {entry.unique_id: entry for entry in hass.config_entries.async_entries(DOMAIN)}
    for info in cameras:
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
    """Scan now and every ``const.SCAN_INTERVAL``; stops when HA stops."""

    async def _scan() -> None:
        async_trigger_discovery(hass, await async_scan(hass))

    @callback
    def _on_interval(_now: datetime) -> None:
        hass.async_create_background_task(_scan(), f"{DOMAIN} discovery scan")

    hass.async_create_background_task(_scan(), f"{DOMAIN} discovery scan")
    async_track_time_interval(
        hass,
        _on_interval,
        const.SCAN_INTERVAL,
        name=f"{DOMAIN} discovery",
        cancel_on_shutdown=True,
    )
