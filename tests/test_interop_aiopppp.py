"""Interop: the emulated PPPP camera against ``aiopppp`` (PyPI), an independent client.

aiopppp lives in its own venv (``.cache/aiopppp-venv``, created on demand with
``$UV`` or ``uv``; override the interpreter with ``AIOPPPP_PYTHON``). The driver
``bench/interop_aiopppp.py`` runs in that venv, discovers the camera by
*unicast* to 127.0.0.1 (its broadcast socket is replaced), logs in, receives
JPEG frames and prints JSON; the camera runs in-process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import hashlib
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
from typing import Any

import pytest

from fakecam.pppp import PpppCamera, PpppCameraConfig

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".cache" / "aiopppp-venv"
DRIVER = ROOT / "bench" / "interop_aiopppp.py"
BASE_PYTHON = sys.executable
"""The venv of aiopppp is built on the interpreter running the tests (3.13)."""


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _has_aiopppp(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", "import aiopppp"], capture_output=True, timeout=30, check=False
    )
    return probe.returncode == 0


@pytest.fixture(scope="session")
def aiopppp_python() -> str:
    """Interpreter with aiopppp installed (created once; skip if the index is unreachable)."""
    override = os.environ.get("AIOPPPP_PYTHON")
    if override:
        return override
    python = _venv_python()
    if _has_aiopppp(python):
        return str(python)
    uv = os.environ.get("UV") or shutil.which("uv")
    if not uv:
        pytest.skip("uv not found ($UV unset, no uv on PATH): cannot build the aiopppp venv")
    base = BASE_PYTHON
    steps = [
        [uv, "venv", "--allow-existing", "-p", base, str(VENV)],
        [uv, "pip", "install", "--python", str(python), "aiopppp==0.2.3"],
    ]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            pytest.skip(f"cannot install aiopppp ({' '.join(cmd[:3])}): {proc.stderr[-400:]}")
    if not _has_aiopppp(python):
        pytest.skip("aiopppp venv built but `import aiopppp` fails")
    return str(python)


type CamFactory = Callable[..., Awaitable[PpppCamera]]


@pytest.fixture
async def make_cam(socket_enabled: None) -> AsyncIterator[CamFactory]:
    cams: list[PpppCamera] = []

    async def _make(**kw: Any) -> PpppCamera:
        cam = PpppCamera(PpppCameraConfig(host="127.0.0.1", port=0, **kw))
        await cam.start()
        cams.append(cam)
        return cam

    yield _make
    for cam in cams:
        await cam.stop()


async def _drive(python: str, cam: PpppCamera, *extra: str, limit: float = 30) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        python,
        str(DRIVER),
        "--host",
        "127.0.0.1",
        "--port",
        str(cam.port),
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), limit)
    lines = out.decode().strip().splitlines()
    assert lines, f"driver printed nothing; stderr:\n{err.decode()[-2000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    await asyncio.sleep(0.1)  # let the camera process the client's CLOSE
    return result


def _assert_frames(result: dict[str, Any], cam: PpppCamera, count: int = 5) -> None:
    assert "error" not in result, result.get("error")
    frames = result["frames"]
    assert len(frames) >= count, result
    sent = {hashlib.sha256(f).hexdigest() for f in cam.sent_frames}
    for frame in frames:
        assert frame["soi"] == "ffd8"
        assert frame["eoi"] == "ffd9"
        assert frame["size"] == [640, 480]
        assert frame["sha256"] in sent, "aiopppp assembled a frame the camera never sent"
    assert len({f["sha256"] for f in frames}) == len(frames)


async def test_shix_obfuscated_camera_key(aiopppp_python: str, make_cam: CamFactory) -> None:
    """aiopppp's auto mode: PSK `camera` reply => JSON (SHIX) session."""
    cam = await make_cam(duid="DGOK-123456-ABCDE", encrypt="camera")
    result = await _drive(aiopppp_python, cam, "--frames", "5")
    disc = result["discovered"]
    assert disc["dev_id"] == "DGOK-123456-ABCDE"
    assert disc["encryption"] == "XOR1"
    assert disc["is_json"] is True
    assert disc["port"] == cam.session_port  # session port learnt from the reply source
    assert result["session_class"] == "JsonSession"
    assert result["properties"]["auth"] is True
    assert result["properties"]["sysver"].startswith("FAKECAM")
    _assert_frames(result, cam)
    assert cam.stats.logins_ok == 1
    assert cam.stats.garbage_rx >= 1  # aiopppp's plaintext search was ignored
    assert cam.stats.closes_rx >= 1
    assert cam.clients == []


async def test_shix_plain_forced_json(aiopppp_python: str, make_cam: CamFactory) -> None:
    """Plain transport + SHIX: aiopppp would pick iLnk, so the driver forces JSON."""
    cam = await make_cam(app="shix")
    result = await _drive(aiopppp_python, cam, "--force-json", "--frames", "5")
    assert result["discovered"]["encryption"] == "NONE"
    assert result["session_class"] == "JsonSession"
    _assert_frames(result, cam)


async def test_ilnk_plain(aiopppp_python: str, make_cam: CamFactory) -> None:
    cam = await make_cam(duid="BATE-123456-ABCDE")  # iLnk by prefix, admin/admin
    assert cam.config.app_layer == "ilnk"
    result = await _drive(aiopppp_python, cam, "--frames", "5")
    assert result["discovered"]["is_json"] is False
    assert result["session_class"] == "BinarySession"
    assert result["properties"]["auth"] is True
    assert result["properties"]["devName"] == "fakecam-ilnk"
    assert result["ticket"] not in ("", "00000000")
    _assert_frames(result, cam)
    assert cam.stats.auth_failures == 0  # every command carried the ticket
    assert "ilnk:0x3010" in cam.stats.commands


async def test_shix_wrong_password(aiopppp_python: str, make_cam: CamFactory) -> None:
    cam = await make_cam(app="shix", encrypt="camera", password="secret")
    result = await _drive(aiopppp_python, cam, "--frames", "1", "--timeout", "4")
    assert result["error"].startswith("AuthError"), result
    assert cam.stats.logins_failed == 1
    assert cam.stats.frames_sent == 0


async def test_ilnk_wrong_password(aiopppp_python: str, make_cam: CamFactory) -> None:
    """aiopppp 0.2.3 ignores the login result; the ticket check keeps video off."""
    cam = await make_cam(app="ilnk", password="secret")
    result = await _drive(aiopppp_python, cam, "--frames", "1", "--timeout", "2")
    assert cam.stats.logins_failed == 1
    assert result["frames"] == []
    assert cam.stats.frames_sent == 0


async def test_shix_lossy_link(aiopppp_python: str, make_cam: CamFactory) -> None:
    """Loss/dup/reorder on camera DRWs: retransmissions keep aiopppp going."""
    cam = await make_cam(
        encrypt="camera", loss=0.01, dup=0.05, reorder=0.05, seed=3, retransmit_timeout=0.2
    )
    result = await _drive(aiopppp_python, cam, "--frames", "5", "--timeout", "15")
    _assert_frames(result, cam)
    assert cam.stats.impaired_dups > 0
    assert cam.stats.impaired_reorders > 0
