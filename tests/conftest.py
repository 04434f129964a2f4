"""Fixtures for the chinesium Home Assistant tests: fast timings, emulated TEG cameras."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

# Imported at module level so HA finds OUR custom_components (ha-notes §0.1).
from custom_components.chinesium import discovery
from custom_components.chinesium.const import DOMAIN
from custom_components.chinesium.protocol import CameraInfo, Family, SessionOptions
from custom_components.chinesium.settings import (
    RuntimeSettings,
    get_settings,
    set_settings,
)
from fakecam.pppp import PpppCamera, PpppCameraConfig
from fakecam.teg import TegCamera, TegCameraConfig

REAL_BROADCAST_TARGETS = discovery.async_broadcast_targets
"""The unpatched helper (the autouse fixture below replaces it)."""

UID = "EMUCAM1-0123456789AB-C0FFEE"
UID2 = "EMUCAM2-0123456789AB-BEEF00"
DEFAULT_TOKEN = "9e8040834b3a"
"""The TEG "no password" token the session sends when no password is stored."""
SECRET_TOKEN = "6ddd60335190"
"""A camera with a password set expects this token."""

TEST_SESSION_OPTIONS = SessionOptions(
    connect_timeout=0.5,
    keepalive_interval=0.2,
    silence_timeout=0.8,
    first_frame_timeout=1.5,
    local_host="127.0.0.1",
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """phcc disables custom integrations unless this fixture is used."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Use HA's syrupy extension (ids/timestamps normalised, tests/snapshots/)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


TEST_SETTINGS = RuntimeSettings(
    session=TEST_SESSION_OPTIONS,
    discovery_timeout=0.3,
    discovery_bind_host="127.0.0.1",
    reconnect_min_delay=0.05,
    reconnect_max_delay=0.2,
    scan_hosts=(),
    broadcast=False,
    # Never the real search ports: other emulators may run on this host.
    teg_search_port=9,
    pppp_search_port=9,
    settle_time=2.0,
    idle_probe_interval=0.5,
)
"""Short timeouts, loopback-only binds, never a broadcast."""


@pytest.fixture(autouse=True)
def fast_and_local(request: pytest.FixtureRequest) -> Iterator[None]:
    """HA tests get :data:`TEST_SETTINGS` injected; nothing ever broadcasts."""
    if "hass" in request.fixturenames:
        set_settings(request.getfixturevalue("hass"), TEST_SETTINGS)
    with patch(
        "custom_components.chinesium.discovery.async_broadcast_targets",
        return_value=[],
    ):
        yield


@contextmanager
def override_settings(hass: HomeAssistant, **changes: Any) -> Iterator[RuntimeSettings]:
    """Run a block with some settings changed (restored afterwards)."""
    old = get_settings(hass)
    new = replace(old, **changes)
    set_settings(hass, new)
    try:
        yield new
    finally:
        set_settings(hass, old)


def camera_config(**overrides: Any) -> TegCameraConfig:
    """An emulated TEG camera on 127.0.0.1 ephemeral ports."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "discovery_port": 0,
        "session_port": 0,
        "uid": UID,
        "token": DEFAULT_TOKEN,
        "fps": 15.0,
        # The camera forgets a vanished client after this long (real: 6 s).
        "stream_timeout": 1.5,
    }
    values.update(overrides)
    return TegCameraConfig(**values)


@pytest.fixture
async def camera_factory(
    socket_enabled: None,
) -> AsyncIterator[Callable[..., Awaitable[TegCamera]]]:
    """Start extra emulated cameras: ``await camera_factory(uid=..., token=...)``."""
    started: list[TegCamera] = []

    async def _start(**overrides: Any) -> TegCamera:
        cam = TegCamera(camera_config(**overrides))
        await cam.start()
        started.append(cam)
        return cam

    yield _start
    for cam in started:
        await cam.stop()


PPPP_DUID = "DGOA-123456-VWXYZ"
"""A SHIX-family device ID prefix: discovery names the app layer before connecting."""


@pytest.fixture
async def pppp_factory(
    socket_enabled: None,
) -> AsyncIterator[Callable[..., Awaitable[PpppCamera]]]:
    """Start emulated PPPP cameras on 127.0.0.1 ephemeral ports: ``await pppp_factory(app=...)``."""
    started: list[PpppCamera] = []

    async def _start(**overrides: Any) -> PpppCamera:
        values: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "duid": PPPP_DUID, "fps": 15.0}
        values.update(overrides)
        cam = PpppCamera(PpppCameraConfig(**values))
        await cam.start()
        started.append(cam)
        return cam

    yield _start
    for cam in started:
        await cam.stop()


@pytest.fixture
async def teg_camera(socket_enabled: None) -> AsyncIterator[TegCamera]:
    """One emulated TEG camera without a password."""
    cam = TegCamera(camera_config())
    await cam.start()
    yield cam
    await cam.stop()


def target(cam: TegCamera) -> str:
    """The ``host:port`` a test types to reach the emulator's search port."""
    return f"127.0.0.1:{cam.discovery_port}"


def camera_info(cam: TegCamera, uid: str = UID) -> CameraInfo:
    """What discovery reports for an emulated camera."""
    return CameraInfo(
        uid=uid,
        host="127.0.0.1",
        port=cam.session_port,
        family=Family.TEG,
        model="IWFCam (TEG)",
        extra={"search_port": cam.discovery_port},
    )


def entry_for(
    cam: TegCamera, *, password: str | None = None, uid: str = UID, **kwargs: Any
) -> MockConfigEntry:
    """A config entry pointing at an emulated camera."""
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=uid,
        title=f"TEG {uid}",
        data={**camera_info(cam, uid).as_dict(), "username": None, "password": password},
        **kwargs,
    )


@pytest.fixture
def mock_config_entry(teg_camera: TegCamera) -> MockConfigEntry:
    """A config entry for :func:`teg_camera`."""
    return entry_for(teg_camera)


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set up the integration with one camera and wait until frames flow."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(lambda: mock_config_entry.runtime_data.data.streaming)
    return mock_config_entry


async def wait_for(condition: Callable[[], Any], timeout: float = 5.0) -> None:
    """Poll ``condition`` until true (UDP on loopback is not instant)."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - polling a plain predicate
            await asyncio.sleep(0.01)
