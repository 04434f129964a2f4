"""Camera entity: still images and MJPEG from the session's frames; snapshot and PTZ actions."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from homeassistant.components.camera import Camera, CameraEntityFeature, async_get_still_stream
from homeassistant.core import HomeAssistant, ServiceResponse, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv, entity_platform
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
import voluptuous as vol

from .const import DOMAIN, LOGGER
from .coordinator import ChinesiumConfigEntry, ChinesiumCoordinator, describe_error
from .entity import ChinesiumEntity, chinesium_exception_handler
from .protocol import ChinesiumError, Codec, Frame, PtzDirection

PARALLEL_UPDATES = 0

SERVICE_SNAPSHOT = "snapshot"
ATTR_FILENAME = "filename"
CONTENT_TYPE = "image/jpeg"
SERVICE_PTZ = "ptz"
ATTR_DIRECTION = "direction"
ATTR_DURATION = "duration"
ATTR_STEPS = "steps"
MAX_PTZ_DURATION = 60.0
"""Longest move the ``chinesium.ptz`` action accepts, seconds."""
MAX_PTZ_STEPS = 50
PTZ_SCHEMA = vol.All(
    cv.make_entity_service_schema(
        {
            vol.Required(ATTR_DIRECTION): vol.In([d.value for d in PtzDirection]),
            vol.Exclusive(ATTR_DURATION, "amount"): vol.All(
                vol.Coerce(float), vol.Range(min=0, max=MAX_PTZ_DURATION)
            ),
            vol.Exclusive(ATTR_STEPS, "amount"): vol.All(
                vol.Coerce(int), vol.Range(min=1, max=MAX_PTZ_STEPS)
            ),
        }
    ),
)
"""``direction``; ``duration`` (s) or ``steps`` (neither: one step; STOP ignores both)."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ChinesiumConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the camera entity and register the ``chinesium.snapshot`` entity action."""
    async_add_entities([ChinesiumCamera(entry.runtime_data)])
    platform = entity_platform.async_get_current_platform()
    platform.async_register_entity_service(
        SERVICE_SNAPSHOT,
        {vol.Optional(ATTR_FILENAME): cv.string},
        "async_snapshot",
        supports_response=SupportsResponse.OPTIONAL,
    )
    platform.async_register_entity_service(SERVICE_PTZ, PTZ_SCHEMA, "async_ptz")


def _write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``; the parent directory must exist (executor)."""
    if not path.parent.is_dir():
        raise FileNotFoundError(str(path.parent))
    path.write_bytes(data)


class ChinesiumCamera(ChinesiumEntity, Camera):
    """The camera's live picture: MJPEG, or H.264/H.265 through HA's ``stream``."""

    _attr_name = None

    def __init__(self, coordinator: ChinesiumCoordinator) -> None:
        """Initialise the camera entity."""
        ChinesiumEntity.__init__(self, coordinator, "camera")
        Camera.__init__(self)
        self.content_type = CONTENT_TYPE

    @property
    def supported_features(self) -> CameraEntityFeature:
        """STREAM for H.264/H.265 cameras, and MJPEG ones with the HLS option."""
        if self.coordinator.streams_via_ha:
            return CameraEntityFeature.STREAM
        return CameraEntityFeature(0)

    async def stream_source(self) -> str | None:
        """The local MPEG-TS URL of an H.264/H.265 camera (``None`` for MJPEG ones)."""
        return self.coordinator.stream_url

    async def async_will_remove_from_hass(self) -> None:
        """Stop HA's stream of this camera before its source goes (providers first)."""
        stream, self.stream = self.stream, None
        if stream is not None:
            for provider in list(stream.outputs().values()):
                await stream.remove_provider(provider)
            await stream.stop()
        await super().async_will_remove_from_hass()

    @property
    def available(self) -> bool:
        """Available while connected or (on demand, idle) reachable at the last attempt."""
        data = self.coordinator.data
        return super().available and (data.connected or data.reachable)

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        """Return the latest frame, or wait for one if none arrived yet; None offline.

        On demand this connects first; a camera that does not answer or send a
        frame in time raises a translated :class:`HomeAssistantError`.
        """
        coordinator = self.coordinator
        if coordinator.on_demand:
            return (await self._async_fresh_picture())[0]
        if not coordinator.connected:
            # A quick reconnect (a late close absorbed) keeps the picture.
            recent = coordinator.recent_frame
            if recent is not None and recent.codec is Codec.JPEG:
                return recent.data
            return None
        frame = coordinator.latest_frame
        if frame is not None and frame.codec is Codec.JPEG:
            return frame.data
        try:
            return (await coordinator.async_picture())[0]
        except ChinesiumError:
            return None

    async def handle_async_mjpeg_stream(self, request: web.Request) -> web.StreamResponse | None:
        """Serve an MJPEG stream: one part per frame, at most ``max_fps`` per second.

        On demand the session is held open for as long as the stream runs.
        """
        coordinator = self.coordinator
        if coordinator.is_h26x:
            # Stills from keyframes; the live view is HLS/WebRTC through ``stream``.
            return await super().handle_async_mjpeg_stream(request)
        min_interval = 1.0 / coordinator.max_fps if coordinator.max_fps > 0 else 0.0
        loop = asyncio.get_running_loop()
        sent: list[Frame | None] = [None]
        sent_at = [0.0]

        async def _next_image() -> bytes | None:
            if min_interval:
                delay = sent_at[0] + min_interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            frame = coordinator.current_frame
            if frame is None or frame is sent[0]:
                frame = await coordinator.async_wait_frame(
                    coordinator.settings.stream_frame_timeout
                )
            sent[0] = frame
            sent_at[0] = loop.time()
            return frame.data if frame is not None else None

        if not coordinator.on_demand:
            return await async_get_still_stream(request, _next_image, CONTENT_TYPE, 0.0)
        try:
            async with coordinator.async_use():
                return await async_get_still_stream(request, _next_image, CONTENT_TYPE, 0.0)
        except ChinesiumError as err:
            LOGGER.debug("MJPEG stream of %s not started: %s", self.entity_id, err)
            return None

    async def _async_fresh_picture(self) -> tuple[bytes, Frame]:
        """A fresh JPEG through the coordinator; errors become translated HA errors."""
        try:
            return await self.coordinator.async_picture()
        except ChinesiumError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="snapshot_failed",
                translation_placeholders={
                    "entity_id": self.entity_id,
                    "error": describe_error(err),
                },
            ) from err

    @chinesium_exception_handler
    async def async_ptz(
        self, direction: str, duration: float | None = None, steps: int | None = None
    ) -> None:
        """Move the pan/tilt motor: ``steps`` steps or for ``duration`` s (default 1 step)."""
        move = PtzDirection(direction)
        if move is PtzDirection.STOP:
            duration = steps = None
        elif duration is None and steps is None:
            steps = 1
        await self.coordinator.async_command(
            lambda session: session.ptz(move, duration=duration, steps=steps)
        )

    async def async_snapshot(self, filename: str | None = None) -> ServiceResponse:
        """Take a snapshot; save it to ``filename`` if given and return it."""
        path: Path | None = None
        if filename is not None:
            path = Path(filename)
            if not await self.hass.async_add_executor_job(
                self.hass.config.is_allowed_path, filename
            ):
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="path_not_allowed",
                    translation_placeholders={"filename": filename},
                )
        if not self.coordinator.on_demand and not self.coordinator.connected:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="camera_unavailable",
                translation_placeholders={"entity_id": self.entity_id},
            )
        jpeg, frame = await self._async_fresh_picture()
        if path is not None:
            try:
                await self.hass.async_add_executor_job(_write_file, path, jpeg)
            except FileNotFoundError as err:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="directory_not_found",
                    translation_placeholders={"directory": str(path.parent)},
                ) from err
            except OSError as err:
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="write_failed",
                    translation_placeholders={"filename": str(path), "error": str(err)},
                ) from err
        return {
            "content_type": CONTENT_TYPE,
            "size": len(jpeg),
            "timestamp": datetime.fromtimestamp(frame.timestamp, UTC).isoformat(),
            "width": frame.width,
            "height": frame.height,
            "filename": str(path) if path is not None else None,
            "image_base64": base64.b64encode(jpeg).decode("ascii"),
        }
