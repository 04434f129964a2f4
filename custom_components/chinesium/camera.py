"""Camera entity: still images and MJPEG from the session's frames, plus the snapshot action."""

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
from .entity import ChinesiumEntity
from .protocol import ChinesiumError, Frame

PARALLEL_UPDATES = 0

SERVICE_SNAPSHOT = "snapshot"
ATTR_FILENAME = "filename"
CONTENT_TYPE = "image/jpeg"


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


def _write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``; the parent directory must exist (executor)."""
    if not path.parent.is_dir():
        raise FileNotFoundError(str(path.parent))
    path.write_bytes(data)


class ChinesiumCamera(ChinesiumEntity, Camera):
    """The camera's live picture."""

    _attr_name = None
    _attr_supported_features = CameraEntityFeature(0)

    def __init__(self, coordinator: ChinesiumCoordinator) -> None:
        """Initialise the camera entity."""
        ChinesiumEntity.__init__(self, coordinator, "camera")
        Camera.__init__(self)
        self.content_type = CONTENT_TYPE

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
            return (await self._async_fresh_frame()).data
        if not coordinator.connected:
            # A quick reconnect (a late close absorbed) keeps the picture.
            recent = coordinator.recent_frame
            return recent.data if recent is not None else None
        frame = coordinator.latest_frame
        if frame is None:
            try:
                frame = await coordinator.async_snapshot()
            except ChinesiumError:
                return None
        return frame.data

    async def handle_async_mjpeg_stream(self, request: web.Request) -> web.StreamResponse | None:
        """Serve an MJPEG stream: one part per frame, at most ``max_fps`` per second.

        On demand the session is held open for as long as the stream runs.
        """
        coordinator = self.coordinator
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

    async def _async_fresh_frame(self) -> Frame:
        """Snapshot through the coordinator; errors become translated HA errors."""
        try:
            return await self.coordinator.async_snapshot()
        except ChinesiumError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="snapshot_failed",
                translation_placeholders={
                    "entity_id": self.entity_id,
                    "error": describe_error(err),
                },
            ) from err

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
        frame = await self._async_fresh_frame()
        if path is not None:
            try:
                await self.hass.async_add_executor_job(_write_file, path, frame.data)
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
            "size": len(frame.data),
            "timestamp": datetime.fromtimestamp(frame.timestamp, UTC).isoformat(),
            "width": frame.width,
            "height": frame.height,
            "filename": str(path) if path is not None else None,
            "image_base64": base64.b64encode(frame.data).decode("ascii"),
        }
