"""Runtime settings of the integration: timeouts, ports, scan targets, broadcast switch.

Read through one accessor, :func:`get_settings`. The defaults come from the
specs and the environment (``CHINESIUM_SCAN_HOSTS``, ``CHINESIUM_BROADCAST``,
which ``scripts/develop`` sets); tests and tools inject their own with
:func:`set_settings` instead of patching module globals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
import os

from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .protocol import SessionOptions
from .protocol.discovery import PPPP_SEARCH_PORT, TEG_SEARCH_PORT
from .protocol.supervisor import SupervisorOptions

SETTINGS: HassKey[RuntimeSettings] = HassKey("chinesium_settings")


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """Every tunable the integration reads at run time."""

    session: SessionOptions = field(default_factory=SessionOptions)
    """Options for every camera session."""
    discovery_timeout: float = 1.5
    """Seconds to collect discovery replies."""
    discovery_bind_host: str = "0.0.0.0"  # noqa: S104 - discovery listens on the LAN
    """Local address discovery sockets bind to."""
    teg_search_port: int = TEG_SEARCH_PORT
    """UDP port TEG cameras answer searches on."""
    pppp_search_port: int = PPPP_SEARCH_PORT
    """UDP port PPPP cameras answer searches on."""
    scan_hosts: tuple[str, ...] = ()
    """Extra unicast targets (``host`` or ``host:port``) added to every LAN scan."""
    broadcast: bool = True
    """Broadcast searches on the LAN (``CHINESIUM_BROADCAST=0`` turns it off)."""
    scan_interval: timedelta = timedelta(minutes=15)
    """How often the background scan looks for new or moved cameras."""
    reconnect_min_delay: float = 1.0
    """First reconnect delay in seconds; doubles on every failure."""
    reconnect_max_delay: float = 60.0
    """Reconnect delay cap in seconds."""
    on_demand_linger: float = 30.0
    """Seconds an on-demand session stays up after the last viewer or snapshot."""
    idle_probe_interval: float = 60.0
    """Seconds between reachability searches while an on-demand camera is idle."""
    settle_time: float = 5.0
    """A camera close this soon after connecting is absorbed by one quick reconnect."""
    session_wait_timeout: float = 10.0
    """Seconds an on-demand user waits for the session to come up."""
    frame_stale_after: float = 5.0
    """Seconds without a frame after which the stream counts as stalled."""
    stream_frame_timeout: float = 10.0
    """Seconds an MJPEG stream waits for the next frame before ending."""
    stale_check_interval: timedelta = timedelta(seconds=5)
    """How often a silent stream is checked for staleness."""
    no_video_after: float = 30.0
    """Seconds after a login without any frame before a "no video" repair issue."""

    def supervisor_options(self, *, on_demand: bool) -> SupervisorOptions:
        """Options for one camera's :class:`SessionSupervisor`."""
        return SupervisorOptions(
            session=self.session,
            min_delay=self.reconnect_min_delay,
            max_delay=self.reconnect_max_delay,
            on_demand=on_demand,
            linger=self.on_demand_linger,
            idle_probe_interval=self.idle_probe_interval,
            settle_time=self.settle_time,
            use_timeout=self.session_wait_timeout,
        )


def scan_hosts_from_env(environ: Mapping[str, str]) -> list[str]:
    """Parse ``CHINESIUM_SCAN_HOSTS`` (comma separated ``host[:port]``)."""
    return [
        host.strip() for host in environ.get("CHINESIUM_SCAN_HOSTS", "").split(",") if host.strip()
    ]


def broadcast_from_env(environ: Mapping[str, str]) -> bool:
    """Parse ``CHINESIUM_BROADCAST``: broadcast unless it is 0/false/no/off."""
    return environ.get("CHINESIUM_BROADCAST", "1").strip().lower() not in {
        "0",
        "false",
        "no",
        "off",
    }


ENV_SECONDS: dict[str, str] = {
    "CHINESIUM_ON_DEMAND_LINGER": "on_demand_linger",
    "CHINESIUM_IDLE_PROBE_INTERVAL": "idle_probe_interval",
}
"""Timing knobs ``scripts/develop`` and ``scripts/e2e`` may shorten (seconds, > 0)."""


def seconds_from_env(environ: Mapping[str, str]) -> dict[str, float]:
    """Parse :data:`ENV_SECONDS`; invalid or non-positive values are ignored."""
    out: dict[str, float] = {}
    for var, name in ENV_SECONDS.items():
        try:
            value = float(environ.get(var, ""))
        except ValueError:
            continue
        if value > 0:
            out[name] = value
    return out


def settings_from_env(environ: Mapping[str, str] | None = None) -> RuntimeSettings:
    """The default settings, with the environment's scan hosts, broadcast switch and
    shortened timings (:data:`ENV_SECONDS`)."""
    env = os.environ if environ is None else environ
    settings = RuntimeSettings(
        scan_hosts=tuple(scan_hosts_from_env(env)), broadcast=broadcast_from_env(env)
    )
    seconds = seconds_from_env(env)
    return replace(
        settings,
        on_demand_linger=seconds.get("on_demand_linger", settings.on_demand_linger),
        idle_probe_interval=seconds.get("idle_probe_interval", settings.idle_probe_interval),
    )


def get_settings(hass: HomeAssistant) -> RuntimeSettings:
    """The settings in force (created from the environment on first use)."""
    settings = hass.data.get(SETTINGS)
    if settings is None:
        settings = hass.data[SETTINGS] = settings_from_env()
    return settings


def set_settings(hass: HomeAssistant, settings: RuntimeSettings) -> None:
    """Inject settings (tests, tools); entries set up afterwards use them."""
    hass.data[SETTINGS] = settings
