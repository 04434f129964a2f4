"""Run the browser end-to-end journey (``scripts/e2e``) as one pytest test.

Skipped unless ``CHINESIUM_E2E=1``: it needs Chromium, a Playwright venv and about a
minute of wall time, so the normal suite stays fast and offline.
"""

from __future__ import annotations

import os
from pathlib import Path
import subprocess

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("CHINESIUM_E2E") != "1", reason="browser e2e: set CHINESIUM_E2E=1"
    ),
]


@pytest.mark.timeout(400)
def test_user_journey_in_browser() -> None:
    """Scan/add, live picture, connectivity, snapshot action, reconfigure of a connected
    camera, manual error, an H.264 camera playing (HLS), an on-demand camera that dies
    while idle, and PTZ/light controls all pass."""
    proc = subprocess.run(
        [str(ROOT / "scripts" / "e2e")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=390,
        check=False,
    )
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-60:])
    assert proc.returncode == 0, f"scripts/e2e failed (rc={proc.returncode}):\n{tail}"
    assert "all steps passed" in proc.stdout + proc.stderr, tail
    for name in (
        "01-add-integration.png",
        "04-camera-live.png",
        "06-disconnected.png",
        "08-manual-error.png",
        "10-reconfigure-done.png",
        "11-h264-live.png",
        "13-on-demand-offline.png",
        "14-controls.png",
    ):
        assert (ROOT / "docs" / "screenshots" / name).stat().st_size > 10_000, name
