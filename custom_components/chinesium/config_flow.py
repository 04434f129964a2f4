"""Config flow: search / manual, DHCP and background discovery, credentials, reauth, reconfigure."""

from __future__ import annotations

from collections.abc import Mapping
import ipaddress
from typing import Any, NoReturn

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_HOST, CONF_MAC, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import AbortFlow
from homeassistant.helpers.device_registry import format_mac
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
from homeassistant.helpers.typing import DiscoveryInfoType
import voluptuous as vol

from .const import (
    CONF_AUDIO,
    CONF_HLS,
    CONF_MAX_FPS,
    CONF_MOTION_HOLD,
    CONF_MOTION_SENSITIVITY,
    CONF_RESTREAM,
    CONF_RESTREAM_HOST,
    CONF_RESTREAM_PORT,
    CONF_SCAN_HOSTS,
    CONF_STREAM_MODE,
    CREDENTIAL_FIELDS,
    DEFAULT_MAX_FPS,
    DEFAULT_MOTION_HOLD,
    DEFAULT_MOTION_SENSITIVITY,
    DEFAULT_RESTREAM_HOST,
    DEFAULT_RESTREAM_PORT,
    DEFAULT_STREAM_MODE,
    DOMAIN,
    FAMILY_LABELS,
    MAX_FPS_LIMIT,
    MAX_MOTION_HOLD,
    STREAM_MODES,
)
from .discovery import async_discover, async_scan, expand_scan_host, validate_host
from .entity import camera_title
from .issues import (
    async_create_unsupported_issue,
    async_delete_unsupported_issue,
    protocol_name,
)
from .protocol import (
    AuthenticationError,
    CameraFullError,
    CameraInfo,
    ChinesiumError,
    Credentials,
    Family,
    UnsupportedCameraError,
    open_session,
)
from .settings import get_settings
from .stored_settings import async_get_stored_settings

CONF_CAMERA = "camera"

MANUAL_SCHEMA = vol.Schema({vol.Required(CONF_HOST): str})
SEARCH_SCHEMA = vol.Schema(
    {vol.Optional(CONF_SCAN_HOSTS): TextSelector(TextSelectorConfig(multiple=True))}
)
_PASSWORD_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
CREDENTIALS_STEPS: dict[Family, str] = {
    Family.TEG: "credentials",
    Family.PPPP: "pppp_credentials",
}
"""Credentials form per family (each has its own help text)."""


def invalid_scan_host(hosts: list[str]) -> str | None:
    """The first entry of ``hosts`` that is not a host, ``host:port`` or small network."""
    for host in hosts:
        try:
            expand_scan_host(host)
        except ValueError:
            return host
    return None


def camera_label(info: CameraInfo) -> str:
    """One line describing a discovered camera in the scan list."""
    kind = "/".join(part for part in (FAMILY_LABELS[info.family], info.app_layer) if part)
    label = f"{kind} {info.uid} ({info.host})"
    return label if info.supported else f"{label} [unsupported]"


def credentials_schema(family: Family, *, password_required: bool) -> vol.Schema:
    """The credential fields a family needs (TEG: token; PPPP: username + password)."""
    fields: dict[Any, Any] = {}
    for name in CREDENTIAL_FIELDS[family]:
        if name == CONF_PASSWORD:
            key = vol.Required(name) if password_required else vol.Optional(name)
            fields[key] = _PASSWORD_SELECTOR
        else:
            fields[vol.Optional(name)] = str
    return vol.Schema(fields)


def credentials_from_input(user_input: Mapping[str, Any]) -> Credentials:
    """Credentials from form input; empty fields mean "use the default"."""
    return Credentials(
        username=(user_input.get(CONF_USERNAME) or "").strip() or None,
        password=(user_input.get(CONF_PASSWORD) or "").strip() or None,
    )


def entry_data(info: CameraInfo, credentials: Credentials) -> dict[str, Any]:
    """Config entry data: the camera description plus its credentials."""
    return {
        **info.as_dict(),
        CONF_USERNAME: credentials.username,
        CONF_PASSWORD: credentials.password,
    }


async def async_probe(
    hass: HomeAssistant, info: CameraInfo, credentials: Credentials
) -> str | None:
    """Open and close a session; return a form error key or ``None`` on success.

    :class:`UnsupportedCameraError` is not mapped: the flow aborts on it.
    """
    if not info.supported:
        raise UnsupportedCameraError(protocol_name(info))
    try:
        session = await open_session(info, credentials, get_settings(hass).session)
    except UnsupportedCameraError:
        raise
    except AuthenticationError:
        return "invalid_auth"
    except CameraFullError:
        return "camera_full"
    except ChinesiumError:
        return "cannot_connect"
    await session.close()
    return None


class ChinesiumConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a camera: scan, manual host, DHCP or background discovery."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> ChinesiumOptionsFlow:
        """Options: stream mode, frame-rate cap, motion sensitivity and hold time."""
        return ChinesiumOptionsFlow()

    def __init__(self) -> None:
        """Initialise the flow."""
        self._discovered: dict[str, CameraInfo] = {}
        self._info: CameraInfo | None = None
        self._mac: str | None = None
        """MAC address from DHCP (``aa:bb:cc:dd:ee:ff``), stored in the entry."""

    # -- user: menu, search + scan, manual ------------------------------------------

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Offer a LAN search or a manual host."""
        return self.async_show_menu(step_id="user", menu_options=["search", "manual"])

    async def async_step_search(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Edit the integration-wide extra discovery hosts, then search the LAN."""
        settings = await async_get_stored_settings(self.hass)
        errors: dict[str, str] = {}
        placeholders = {"host": ""}
        if user_input is not None:
            hosts = [h.strip() for h in user_input.get(CONF_SCAN_HOSTS) or () if h.strip()]
            if (bad := invalid_scan_host(hosts)) is not None:
                errors[CONF_SCAN_HOSTS] = "invalid_scan_host"
                placeholders["host"] = bad
            else:
                await settings.async_set_scan_hosts(hosts)
                configured = self._async_current_ids(include_ignore=False)
                self._discovered = {
                    info.uid: info
                    for info in await async_scan(self.hass)
                    if info.uid not in configured
                }
                for info in self._discovered.values():
                    if not info.supported:
                        async_create_unsupported_issue(self.hass, info)
                if self._discovered:
                    return await self.async_step_scan()
                errors["base"] = "no_devices_found"
        suggested = user_input or {CONF_SCAN_HOSTS: settings.scan_hosts}
        return self.async_show_form(
            step_id="search",
            data_schema=self.add_suggested_values_to_schema(SEARCH_SCHEMA, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_scan(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick one of the cameras the search found that are not configured yet."""
        errors: dict[str, str] = {}
        if user_input is not None:
            result = await self._async_claim_and_connect(self._discovered[user_input[CONF_CAMERA]])
            if not isinstance(result, str):
                return result
            errors["base"] = result
        options = {uid: camera_label(info) for uid, info in self._discovered.items()}
        return self.async_show_form(
            step_id="scan",
            data_schema=vol.Schema({vol.Required(CONF_CAMERA): vol.In(options)}),
            errors=errors,
        )

    async def async_step_manual(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Find the camera at a host (``host`` or ``host:port``)."""
        errors: dict[str, str] = {}
        if user_input is not None and (host := self._check_host(user_input, errors)):
            info = await self._async_find(host)
            if info is None:
                errors["base"] = "cannot_connect"
            else:
                result = await self._async_claim_and_connect(info)
                if not isinstance(result, str):
                    return result
                errors["base"] = result
        return self.async_show_form(
            step_id="manual",
            data_schema=self.add_suggested_values_to_schema(MANUAL_SCHEMA, user_input),
            errors=errors,
        )

    async def async_step_credentials(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the password/token (and username) the camera wants."""
        return await self._async_credentials_form(user_input)

    async def async_step_pppp_credentials(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The credentials step of a PPPP camera (username and password of its app)."""
        return await self._async_credentials_form(user_input)

    async def _async_credentials_form(self, user_input: dict[str, Any] | None) -> ConfigFlowResult:
        """Credentials form of the family's step; check them and create the entry."""
        info = self._info
        assert info is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            credentials = credentials_from_input(user_input)
            error = await self._async_probe(info, credentials)
            if error is None:
                return self._async_create(info, credentials)
            errors["base"] = error
        return self.async_show_form(
            step_id=CREDENTIALS_STEPS[info.family],
            data_schema=credentials_schema(info.family, password_required=True),
            errors=errors,
            description_placeholders=self._placeholders(info),
        )

    # -- discovery: DHCP and background scan ----------------------------------------

    async def async_step_dhcp(self, discovery_info: DhcpServiceInfo) -> ConfigFlowResult:
        """A device named ``rtthread*`` got an address: ask it who it is."""
        info = await self._async_find(discovery_info.ip)
        if info is None:
            return self.async_abort(reason="no_devices_found")
        self._mac = format_mac(discovery_info.macaddress)
        return await self._async_discovered(info)

    async def async_step_integration_discovery(
        self, discovery_info: DiscoveryInfoType
    ) -> ConfigFlowResult:
        """A camera found by the background scan."""
        return await self._async_discovered(CameraInfo.from_dict(dict(discovery_info)))

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm adding a discovered camera."""
        info = self._info
        assert info is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            result = await self._async_connect(info)
            if not isinstance(result, str):
                return result
            errors["base"] = result
        return self.async_show_form(
            step_id="discovery_confirm",
            errors=errors,
            description_placeholders=self._placeholders(info),
        )

    # -- reauth and reconfigure ---------------------------------------------------------

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The camera rejected the stored credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for new credentials and check them."""
        entry = self._get_reauth_entry()
        info = CameraInfo.from_dict(dict(entry.data))
        errors: dict[str, str] = {}
        if user_input is not None:
            credentials = credentials_from_input(user_input)
            error = await self._async_probe(info, credentials)
            if error is None:
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={
                        CONF_USERNAME: credentials.username,
                        CONF_PASSWORD: credentials.password,
                    },
                )
            errors["base"] = error
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=credentials_schema(info.family, password_required=True),
            errors=errors,
            description_placeholders=self._placeholders(info, entry.title),
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the host and/or credentials of a configured camera."""
        entry = self._get_reconfigure_entry()
        old = CameraInfo.from_dict(dict(entry.data))
        errors: dict[str, str] = {}
        if user_input is not None and (host := self._check_host(user_input, errors)):
            info = await self._async_find(host, prefer_uid=old.uid)
            if info is None:
                errors["base"] = "cannot_connect"
            else:
                await self.async_set_unique_id(info.uid)
                self._abort_if_unique_id_mismatch(reason="wrong_device")
                credentials = credentials_from_input(user_input)
                error = await self._async_probe_entry(entry, info, credentials)
                if error is None:
                    return self.async_update_reload_and_abort(
                        entry, data_updates=entry_data(info, credentials)
                    )
                errors["base"] = error
        schema = vol.Schema(
            {
                vol.Required(CONF_HOST): str,
                **credentials_schema(old.family, password_required=False).schema,
            }
        )
        suggested = user_input or {
            CONF_HOST: old.host,
            CONF_USERNAME: entry.data.get(CONF_USERNAME),
            CONF_PASSWORD: entry.data.get(CONF_PASSWORD),
        }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders=self._placeholders(old, entry.title),
        )

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _check_host(user_input: Mapping[str, Any], errors: dict[str, str]) -> str | None:
        """The form's host if it is a valid address; else ``None`` (error set unless empty).

        Checked before any packet or DNS look-up: an IPv4 address or host name,
        optionally with ``:port``.
        """
        value = str(user_input.get(CONF_HOST) or "").strip()
        if not value:
            return None
        try:
            return validate_host(value)
        except ValueError:
            errors[CONF_HOST] = "invalid_host"
            return None

    async def _async_find(self, host: str, prefer_uid: str | None = None) -> CameraInfo | None:
        """Unicast-discover ``host`` (``host`` or ``host:port``)."""
        found = await async_discover(self.hass, [host.strip()])
        if not found:
            return None
        for info in found:
            if info.uid == prefer_uid:
                return info
        return next((info for info in found if info.supported), found[0])

    async def _async_discovered(self, info: CameraInfo) -> ConfigFlowResult:
        """Common tail of the discovery steps: dedupe, update a moved camera, confirm."""
        await self.async_set_unique_id(info.uid)
        updates: dict[str, Any] = {CONF_HOST: info.host, CONF_PORT: info.port}
        if self._mac:
            updates[CONF_MAC] = self._mac
        self._abort_if_unique_id_configured(updates=updates)
        if not info.supported:
            self._abort_unsupported(info)
        self._info = info
        self.context["title_placeholders"] = {"name": camera_title(info), "host": info.host}
        return await self.async_step_discovery_confirm()

    async def _async_claim_and_connect(self, info: CameraInfo) -> ConfigFlowResult | str:
        """Claim the camera's unique id (a known camera gets its new address), then connect."""
        await self.async_set_unique_id(info.uid, raise_on_progress=False)
        self._abort_if_unique_id_configured(updates={CONF_HOST: info.host, CONF_PORT: info.port})
        return await self._async_connect(info)

    async def _async_connect(self, info: CameraInfo) -> ConfigFlowResult | str:
        """Probe with default credentials: create the entry, ask for credentials, or an error."""
        self._info = info
        error = await self._async_probe(info, Credentials())
        if error is None:
            return self._async_create(info, Credentials())
        if error == "invalid_auth":
            return await self._async_credentials_form(None)
        return error

    async def _async_probe_entry(
        self, entry: ConfigEntry, info: CameraInfo, credentials: Credentials
    ) -> str | None:
        """Probe for a configured camera without fighting its own running session.

        Nothing changed and the camera is connected: no probe is needed. Else
        the running session frees the camera's slot while the probe runs.
        """
        coordinator = entry.runtime_data if entry.state is ConfigEntryState.LOADED else None
        if coordinator is None:
            return await self._async_probe(info, credentials)
        old = coordinator.info
        same = (info.host, info.port) == (old.host, old.port) and credentials == Credentials(
            entry.data.get(CONF_USERNAME) or None, entry.data.get(CONF_PASSWORD) or None
        )
        if same and coordinator.connected:
            return None
        async with coordinator.async_paused():
            return await self._async_probe(info, credentials)

    async def _async_probe(self, info: CameraInfo, credentials: Credentials) -> str | None:
        """:func:`async_probe`, aborting the flow if the camera is unsupported."""
        try:
            return await async_probe(self.hass, info, credentials)
        except UnsupportedCameraError as err:
            self._abort_unsupported(info, err.name)

    def _abort_unsupported(self, info: CameraInfo, name: str | None = None) -> NoReturn:
        """Raise a repair issue for ``info`` and abort with ``unsupported``."""
        async_create_unsupported_issue(self.hass, info, name)
        raise AbortFlow("unsupported", {"name": protocol_name(info, name), "uid": info.uid})

    def _async_create(self, info: CameraInfo, credentials: Credentials) -> ConfigFlowResult:
        async_delete_unsupported_issue(self.hass, info.uid)
        self._async_abort_other_flows(info.uid)
        data = entry_data(info, credentials)
        if self._mac:
            data[CONF_MAC] = self._mac
        return self.async_create_entry(title=camera_title(info), data=data)

    @callback
    def _async_abort_other_flows(self, uid: str) -> None:
        """Abort other flows (e.g. background discovery) for the camera about to be added.

        HA aborts them too, but only after deciding whether the "New devices
        discovered" notification may go, so it would stay behind.
        """
        manager = self.hass.config_entries.flow
        for flow in manager.async_progress_by_handler(DOMAIN):
            if flow["flow_id"] != self.flow_id and flow["context"].get("unique_id") == uid:
                manager.async_abort(flow["flow_id"])

    @staticmethod
    def _placeholders(info: CameraInfo, name: str | None = None) -> dict[str, str]:
        return {
            "name": name or camera_title(info),
            "uid": info.uid,
            "host": info.host,
            "family": FAMILY_LABELS[info.family],
        }


class ChinesiumOptionsFlow(OptionsFlow):
    """Stream mode, frame-rate cap and motion detection settings of one camera entry.

    The extra discovery hosts are integration-wide: the *Search the network*
    step of the config flow edits them (see :mod:`.stored_settings`).
    """

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the options form and store the submitted options."""
        errors: dict[str, str] = {}
        if user_input is not None:
            host = str(user_input.get(CONF_RESTREAM_HOST) or DEFAULT_RESTREAM_HOST).strip()
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                errors[CONF_RESTREAM_HOST] = "invalid_restream_host"
            if not errors:
                return self.async_create_entry(
                    data={
                        CONF_STREAM_MODE: user_input.get(CONF_STREAM_MODE, DEFAULT_STREAM_MODE),
                        CONF_MAX_FPS: int(user_input.get(CONF_MAX_FPS, DEFAULT_MAX_FPS)),
                        CONF_MOTION_SENSITIVITY: int(
                            user_input.get(CONF_MOTION_SENSITIVITY, DEFAULT_MOTION_SENSITIVITY)
                        ),
                        CONF_MOTION_HOLD: int(
                            user_input.get(CONF_MOTION_HOLD, DEFAULT_MOTION_HOLD)
                        ),
                        CONF_HLS: bool(user_input.get(CONF_HLS, False)),
                        CONF_AUDIO: bool(user_input.get(CONF_AUDIO, False)),
                        CONF_RESTREAM: bool(user_input.get(CONF_RESTREAM, False)),
                        CONF_RESTREAM_HOST: host,
                        CONF_RESTREAM_PORT: int(
                            user_input.get(CONF_RESTREAM_PORT, DEFAULT_RESTREAM_PORT)
                        ),
                    }
                )
        coordinator = getattr(self.config_entry, "runtime_data", None)
        urls = coordinator.restream_urls() if coordinator is not None else {}
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                options_schema(), user_input or self.config_entry.options
            ),
            errors=errors,
            description_placeholders={
                "restream_url": urls.get("ts") or "—",
                "restream_mjpeg_url": urls.get("mjpeg") or "—",
            },
        )


def options_schema() -> vol.Schema:
    """The options form (values are pre-filled from the entry's options)."""
    return vol.Schema(
        {
            vol.Optional(CONF_STREAM_MODE, default=DEFAULT_STREAM_MODE): SelectSelector(
                SelectSelectorConfig(
                    options=list(STREAM_MODES),
                    translation_key=CONF_STREAM_MODE,
                    mode=SelectSelectorMode.LIST,
                )
            ),
            vol.Optional(CONF_MAX_FPS, default=DEFAULT_MAX_FPS): NumberSelector(
                NumberSelectorConfig(min=0, max=MAX_FPS_LIMIT, step=1, mode=NumberSelectorMode.BOX)
            ),
            vol.Optional(
                CONF_MOTION_SENSITIVITY, default=DEFAULT_MOTION_SENSITIVITY
            ): NumberSelector(
                NumberSelectorConfig(
                    min=0,
                    max=100,
                    step=1,
                    unit_of_measurement="%",
                    mode=NumberSelectorMode.SLIDER,
                )
            ),
            vol.Optional(CONF_MOTION_HOLD, default=DEFAULT_MOTION_HOLD): NumberSelector(
                NumberSelectorConfig(
                    min=0,
                    max=MAX_MOTION_HOLD,
                    step=1,
                    unit_of_measurement="s",
                    mode=NumberSelectorMode.BOX,
                )
            ),
            vol.Optional(CONF_HLS, default=False): BooleanSelector(),
            vol.Optional(CONF_AUDIO, default=False): BooleanSelector(),
            vol.Optional(CONF_RESTREAM, default=False): BooleanSelector(),
            vol.Optional(CONF_RESTREAM_HOST, default=DEFAULT_RESTREAM_HOST): TextSelector(),
            vol.Optional(CONF_RESTREAM_PORT, default=DEFAULT_RESTREAM_PORT): NumberSelector(
                NumberSelectorConfig(min=1024, max=65535, step=1, mode=NumberSelectorMode.BOX)
            ),
        }
    )
