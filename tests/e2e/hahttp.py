"""Tiny stdlib HTTP helpers for the e2e driver: wait for HA, finish onboarding."""

from __future__ import annotations

import json
import os
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

USERNAME = "e2e"
PASSWORD = "e2e-password-1234"


def request(
    base: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    form: bool = False,
    timeout: float = 15,
) -> tuple[int, Any]:
    """Send one request to HA; return (status, decoded JSON or text)."""
    data: bytes | None = None
    headers = {}
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    text = raw.decode(errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def wait_http(base: str, ha_pid: int | None, timeout: float = 150) -> float:
    """Poll /api/onboarding until HA answers 200; fail early if HA died. Returns seconds."""
    start = time.monotonic()
    last: object = None
    while time.monotonic() - start < timeout:
        if ha_pid is not None:
            try:
                os.kill(ha_pid, 0)
            except ProcessLookupError:
                raise AssertionError("Home Assistant exited during startup") from None
        try:
            status, _ = request(base, "GET", "/api/onboarding", timeout=3)
            if status == 200:
                return time.monotonic() - start
            last = status
        except OSError as err:
            last = err
        time.sleep(0.5)
    raise AssertionError(f"HA did not answer on {base} within {timeout:.0f} s (last: {last!r})")


def onboard(base: str) -> dict[str, Any]:
    """Run every onboarding step over HTTP; return frontend-style tokens (hassTokens)."""
    client_id = base + "/"
    status, body = request(
        base,
        "POST",
        "/api/onboarding/users",
        {
            "client_id": client_id,
            "name": "E2E Owner",
            "username": USERNAME,
            "password": PASSWORD,
            "language": "en",
        },
    )
    assert status == 200, f"onboarding/users -> {status} {body}"
    status, tok = request(
        base,
        "POST",
        "/auth/token",
        {"grant_type": "authorization_code", "code": body["auth_code"], "client_id": client_id},
        form=True,
    )
    assert status == 200, f"auth/token -> {status} {tok}"
    access = tok["access_token"]
    for step, payload in (
        ("core_config", {}),
        ("analytics", {}),
        ("integration", {"client_id": client_id, "redirect_uri": base + "/?auth_callback=1"}),
    ):
        status, resp = request(base, "POST", f"/api/onboarding/{step}", payload, token=access)
        assert status == 200, f"onboarding/{step} -> {status} {resp}"
    status, steps = request(base, "GET", "/api/onboarding")
    assert status == 200, steps
    assert all(s["done"] for s in steps), f"onboarding not complete: {steps}"
    return {
        "hassUrl": base,
        "clientId": client_id,
        "access_token": access,
        "refresh_token": tok["refresh_token"],
        "token_type": "Bearer",
        "expires_in": tok["expires_in"],
        "expires": int(time.time() * 1000) + tok["expires_in"] * 1000,
    }
