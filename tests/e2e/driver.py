"""Drive a real Home Assistant in Chromium through the chinesium user journey.

Run by ``scripts/e2e`` with the Playwright venv (``.cache/e2e-venv``); it expects HA
and the emulated cameras to be started already. Every step asserts and saves a
screenshot into ``docs/screenshots/``; any failure exits non-zero and leaves a
``failure-*.png`` in the work directory.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import json
import os
from pathlib import Path
import re
import signal
import sys
import time
from typing import Any

from playwright.sync_api import (
    Browser,
    Error as PlaywrightError,
    Locator,
    Page,
    expect,
    sync_playwright,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hahttp

T0 = time.monotonic()
UI_TIMEOUT_MS = 30_000
expect.set_options(timeout=UI_TIMEOUT_MS)
# The device is named after the camera; the connectivity sensor's state text in the UI:
CONNECTED, DISCONNECTED = "Connected", "Disconnected"
HASS_JS = "document.querySelector('home-assistant').hass"


def log(msg: str) -> None:
    """Print a timestamped progress line."""
    print(f"[driver {time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def poll(what: str, fn: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    """Call ``fn`` until it returns something truthy; raise AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


class Journey:
    """The user journey, one method per step; state shared through attributes."""

    def __init__(self, args: argparse.Namespace, browser: Browser, tokens: dict[str, Any]) -> None:
        self.args = args
        self.base: str = args.url
        self.shots = Path(args.shots)
        self.work = Path(args.work)
        self.cams: list[dict[str, Any]] = json.loads(args.cams)
        translations = json.loads(Path(args.translations).read_text())
        self.tr: dict[str, Any] = translations["config"]
        self.entity_tr: dict[str, Any] = translations["entity"]
        self.selector_tr: dict[str, Any] = translations["selector"]
        self.blocked: list[str] = []
        self.page_errors: list[str] = []
        ctx = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
        # Log in by handing the frontend the tokens from HTTP onboarding.
        ctx.add_init_script(
            f"window.localStorage.setItem('hassTokens', {json.dumps(json.dumps(tokens))});"
        )
        # Network rule: the page may only talk to HA on loopback (brand icons etc. are
        # requested from the internet by HA's frontend; they are refused here).
        ctx.route("**/*", self._route)
        self.page: Page = ctx.new_page()
        self.page.set_default_timeout(UI_TIMEOUT_MS)
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        self.entry_id = ""
        self.device_id = ""
        self.camera_id = ""
        self.sensor_id = ""
        self.cam = self.cams[0]

    # -- helpers ---------------------------------------------------------------

    def _route(self, route: Any) -> None:
        url: str = route.request.url
        if url.startswith((self.base + "/", "data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def shot(self, name: str, target: Page | Locator | None = None) -> None:
        """Save a screenshot into docs/screenshots/."""
        path = self.shots / name
        (target or self.page).screenshot(path=str(path))
        log(f"  screenshot {path.name}")

    def goto(self, path: str) -> None:
        """Navigate and wait until the frontend is connected to HA."""
        log(f"  goto {path}")
        for attempt in range(3):
            try:
                self.page.goto(self.base + path)
                break
            except PlaywrightError as err:
                # The single-page frontend may cancel a navigation it is busy with (a
                # closing dialog, a stream player being torn down): go again.
                if "ERR_ABORTED" not in str(err) or attempt == 2:
                    raise
                log(f"  navigation aborted by the page ({attempt + 1}), again")
                time.sleep(1)
        self.page.wait_for_function(
            "() => { const h = document.querySelector('home-assistant');"
            " return h && h.hass && h.hass.connected && h.hass.states; }",
            timeout=60_000,
        )

    def ws(self, msg: dict[str, Any]) -> Any:
        """Send a websocket command through the frontend's own connection."""
        return self.page.evaluate(f"m => {HASS_JS}.callWS(m)", msg)

    def state(self, entity_id: str) -> str | None:
        """Current state of an entity as the frontend sees it."""
        return self.page.evaluate(
            f"e => {{ const s = {HASS_JS}.states[e]; return s ? s.state : null; }}", entity_id
        )

    def sensor_row(self) -> Locator:
        """The connectivity sensor's row on the device page (state text is slotted in)."""
        name = self.tr_entity_name()
        return self.page.locator("hui-generic-entity-row", has_text=name)

    def tr_entity_name(self) -> str:
        """Translated name of the connectivity sensor."""
        return str(self.entity_tr["binary_sensor"]["connection"]["name"])

    def flow_dialog(self) -> Locator:
        """The config-flow dialog."""
        return self.page.locator("dialog-data-entry-flow")

    def remove_onboarding_entries(self) -> None:
        """Delete the entries onboarding adds (google_translate fails without its package)."""
        for entry in self.ws({"type": "config_entries/get"}):
            if entry["domain"] in {"google_translate", "shopping_list", "met", "radio_browser"}:
                self.page.evaluate(
                    f"i => {HASS_JS}.callApi('DELETE', 'config/config_entries/entry/' + i)",
                    entry["entry_id"],
                )
                log(f"  removed onboarding entry {entry['domain']}")

    def start_chinesium_flow(self, screenshot: str | None) -> None:
        """Integrations dashboard → Add integration → search "Chinesium" → pick it."""
        self.goto("/config/integrations/dashboard")
        if screenshot:  # first visit: tidy the dashboard for the screenshots
            self.remove_onboarding_entries()
        self.page.get_by_text("Add integration", exact=True).click()
        dialog = self.page.locator("dialog-add-integration")
        # The brand list fills in after the descriptions and titles are fetched.
        expect(dialog.locator("ha-integration-list-item").first).to_be_attached()
        dialog.locator("search-input input").fill("Chinesium")
        item = dialog.locator("ha-integration-list-item", has_text="Chinesium")
        expect(item).to_have_count(1)
        expect(item).to_be_visible()
        if screenshot:
            self.shot(screenshot)
        item.click()
        menu = self.tr["step"]["user"]["menu_options"]
        # With discovered-but-unconfigured cameras pending, HA first offers those; the user
        # flow is behind "Setup another instance of Chinesium".
        scan = self.flow_dialog().get_by_text(menu["search"])
        another = self.page.get_by_text("another instance of Chinesium")
        poll(
            "the user menu or the discovered-devices picker",
            lambda: scan.is_visible() or another.is_visible(),
            timeout=20,
        )
        if not scan.is_visible():
            log("  discovered cameras pending: choosing 'Setup another instance'")
            another.click()
        expect(scan).to_be_visible()
        expect(self.flow_dialog().get_by_text(menu["manual"])).to_be_visible()

    def submit(self) -> None:
        """Press the flow dialog's Submit button."""
        self.flow_dialog().get_by_role("button", name="Submit").click()

    # -- steps -------------------------------------------------------------------

    def add_camera_by_scan(self, cam: dict[str, Any], shots: bool) -> dict[str, str]:
        """Add integration → Chinesium → Search → pick ``cam`` → entry created.

        Returns the new entry's ids: entry, camera, sensor, device.
        """
        self.start_chinesium_flow("01-add-integration.png" if shots else None)
        dialog = self.flow_dialog()
        host = cam["host"]
        before = {e["entry_id"] for e in self.ws({"type": "config_entries/get"})}
        if self.args.add_by == "manual":  # debugging aid only: skips the scan
            log(f"  --add-by manual: adding {host} by address instead of scanning")
            dialog.get_by_text(self.tr["step"]["user"]["menu_options"]["manual"]).click()
            dialog.get_by_label(self.tr["step"]["manual"]["data"]["host"]).fill(host)
        else:
            dialog.get_by_text(self.tr["step"]["user"]["menu_options"]["search"]).click()
            # The search form (extra discovery hosts, empty here): submit it as it is.
            expect(dialog.get_by_text(self.tr["step"]["search"]["title"])).to_be_visible()
            self.submit()
            log("  scanning")
            no_devices = dialog.get_by_text(self.tr["error"]["no_devices_found"])
            expect(
                dialog.get_by_text(self.tr["step"]["scan"]["title"]).or_(no_devices)
            ).to_be_visible()
            assert not no_devices.is_visible(), "the scan found no cameras"
            if shots:  # every emulated camera is offered: "<name> (<host>)"
                for other in self.cams:
                    expect(dialog.get_by_text(f"({other['host']})")).to_have_count(1)
            option = dialog.get_by_text(f"({host})")
            if option.is_visible():  # short lists are radio buttons
                option.click()
            else:  # longer lists are a drop-down
                dialog.locator("ha-select, ha-combo-box").first.click()
                self.page.get_by_role("option", name=re.compile(re.escape(f"({host})"))).click()
            if shots:
                self.shot("02-scan-pick.png")
        self.submit()
        creds = dialog.get_by_text(self.tr["step"]["credentials"]["title"]).or_(
            dialog.get_by_text(self.tr["step"]["pppp_credentials"]["title"])
        )
        done = dialog.locator("step-flow-create-entry")
        expect(done.or_(creds)).to_be_visible()
        assert not creds.is_visible(), (
            f"camera {host} asked for credentials although the emulator runs without a password"
        )
        if shots:
            self.shot("03-entry-created.png")
        entries = poll(
            "a new loaded chinesium config entry",
            lambda: [
                e
                for e in self.ws({"type": "config_entries/get", "domain": "chinesium"})
                if e["state"] == "loaded" and e["entry_id"] not in before
            ],
            20,
        )
        assert len(entries) == 1, entries
        entry_id = entries[0]["entry_id"]
        done.get_by_role("button", name="Finish").click()
        expect(done).to_be_hidden()
        regs = [
            e
            for e in self.ws({"type": "config/entity_registry/list"})
            if e["config_entry_id"] == entry_id
        ]
        by_domain: dict[str, dict[str, Any]] = {}
        for e in regs:
            if e["entity_id"].startswith("binary_sensor.") and not e["entity_id"].endswith(
                "_connection"
            ):
                continue  # motion, charging: the connectivity sensor is the one we want
            by_domain.setdefault(e["entity_id"].split(".")[0], e)
        assert {"camera", "binary_sensor"} <= by_domain.keys(), [e["entity_id"] for e in regs]
        ids = {
            "entry": entry_id,
            "title": entries[0]["title"],
            "camera": by_domain["camera"]["entity_id"],
            "sensor": by_domain["binary_sensor"]["entity_id"],
            "device": by_domain["camera"]["device_id"],
        }
        log(f"  entry {ids['title']!r}: {ids['camera']}, {ids['sensor']}")
        return ids

    def step1_add_by_scan(self) -> None:
        """Add integration → Chinesium → Scan → pick a camera → entry created."""
        ids = self.add_camera_by_scan(self.cam, shots=True)
        self.entry_id = ids["entry"]
        self.camera_id = ids["camera"]
        self.sensor_id = ids["sensor"]
        self.device_id = ids["device"]

    def step2_camera_live(self) -> None:
        """The camera's more-info dialog shows a live picture that changes."""
        self.goto(f"/config/devices/device/{self.device_id}")
        state = poll(
            f"{self.camera_id} to be available",
            lambda: (
                (st := self.state(self.camera_id)) not in (None, "unavailable", "unknown") and st
            ),
            20,
        )
        log(f"  {self.camera_id} is {state}")
        # Open more-info the way the UI does (the device page lists the camera row).
        row = self.page.locator("ha-device-entities-card, ha-card").get_by_text(
            self.page.evaluate(
                f"e => {HASS_JS}.states[e].attributes.friendly_name", self.camera_id
            ),
            exact=True,
        )
        if row.count():
            row.first.click()
        else:
            log("  camera row not found on the device page; opening more-info by event")
            self.page.evaluate(
                "e => document.querySelector('home-assistant').dispatchEvent(new CustomEvent("
                "'hass-more-info', {detail: {entityId: e}, bubbles: true, composed: true}))",
                self.camera_id,
            )
        dialog = self.page.locator("ha-more-info-dialog")
        img = dialog.locator("ha-camera-stream img")
        expect(img).to_be_visible()
        poll(
            "the camera <img> to load a picture",
            lambda: img.evaluate("i => i.complete && i.naturalWidth > 0"),
            15,
        )
        size = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
        src = img.get_attribute("src") or ""
        log(f"  live image {size[0]}x{size[1]} from {src.split('?')[0]}")
        first = img.screenshot()
        self.shot("04-camera-live.png")
        second = poll(
            "the live picture to change",
            lambda: (b := img.screenshot()) != first and b,
            10,
            interval=0.5,
        )
        assert first != second
        self.page.keyboard.press("Escape")
        expect(img).to_be_hidden()

    def step3_connected(self) -> None:
        """The connectivity sensor shows Connected on the device page."""
        poll(f"{self.sensor_id} on", lambda: self.state(self.sensor_id) == "on", 20)
        self.goto(f"/config/devices/device/{self.device_id}")
        expect(self.sensor_row()).to_contain_text(re.compile(rf"\b{CONNECTED}\b"))
        self.shot("05-connected.png")

    def step4_snapshot(self) -> None:
        """Developer tools → Actions → chinesium.snapshot with a filename → JPEG + response."""
        target = Path(self.args.config_dir) / "www" / "e2e-snapshot.jpg"
        target.unlink(missing_ok=True)
        self.goto("/developer-tools/action")
        panel = self.page.locator("developer-tools-action")
        self.page.get_by_text("Go to YAML mode").click()
        editor = panel.locator("ha-code-editor .cm-content").first
        editor.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(
            "action: chinesium.snapshot\n"
            f"target:\n  entity_id: {self.camera_id}\n"
            f"data:\n  filename: {target}\n"
        )
        self.page.get_by_role("button", name="Perform action").click()
        response = panel.locator("ha-card", has_text="Response").locator(".cm-content")
        expect(response).to_contain_text("size:")
        text = response.inner_text()
        fields = [ln.strip() for ln in text.splitlines() if re.match(r"\s*\w+:", ln)]
        log("  response: " + " | ".join(f[:80] for f in fields))
        assert re.search(r"timestamp:\s*\S+", text), text
        size = int(re.search(r"size:\s*(\d+)", text).group(1))  # type: ignore[union-attr]
        self.shot("07-snapshot-action.png")
        assert target.is_file(), f"{target} was not written"
        data = target.read_bytes()
        assert data[:2] == b"\xff\xd8", f"{target} does not start with a JPEG SOI marker"
        assert data[-2:] == b"\xff\xd9", f"{target} does not end with a JPEG EOI marker"
        assert len(data) == size, (len(data), size)
        log(f"  {target} is a {len(data)}-byte JPEG")

    def wait_sensor(self, on: bool, since: float, what: str, timeout: float) -> None:
        """Poll the connectivity sensor's state, then check the row's text in the UI."""
        want = "on" if on else "off"
        poll(f"{self.sensor_id} {want}", lambda: self.state(self.sensor_id) == want, timeout, 0.5)
        log(f"  sensor {want} {time.monotonic() - since:.1f} s after {what}")
        text = CONNECTED if on else DISCONNECTED
        expect(self.sensor_row()).to_contain_text(re.compile(rf"\b{text}\b"))

    def signal_cam(self, sig: signal.Signals) -> float:
        """Send ``sig`` to the picked camera's emulator process; return the time sent."""
        log(f"  {sig.name} to emulated camera {self.cam['name']} (pid {self.cam['pid']})")
        os.kill(self.cam["pid"], sig)
        return time.monotonic()

    def step3_disconnected(self) -> None:
        """Freeze/resume/kill the emulated camera: Disconnected, Connected again, Disconnected."""
        self.goto(f"/config/devices/device/{self.device_id}")
        expect(self.sensor_row()).to_contain_text(re.compile(rf"\b{CONNECTED}\b"))
        if self.args.cam_stop == "freeze":
            # SIGSTOP: the camera goes silent like one that lost power or Wi-Fi; its
            # socket stays bound, so nothing but the keepalive/frame timeout can notice.
            since = self.signal_cam(signal.SIGSTOP)
            self.wait_sensor(False, since, "the freeze", 40)
            self.shot("06-disconnected.png")
            # Resume it: the integration must reconnect by itself.
            since = self.signal_cam(signal.SIGCONT)
            self.wait_sensor(True, since, "the resume", 60)
        # SIGKILL: the process dies; on loopback the kernel answers further datagrams
        # with ICMP port unreachable, so this path is usually noticed at once.
        since = self.signal_cam(signal.SIGKILL)
        self.wait_sensor(False, since, "the kill", 40)
        if self.args.cam_stop == "kill":
            self.shot("06-disconnected.png")

    def open_entry_menu_item(self, entry_title: str, item: str) -> None:
        """Integration page → the entry's overflow menu (⋮) → ``item`` (e.g. Reconfigure)."""
        self.goto("/config/integrations/integration/chinesium")
        row = self.page.locator("ha-md-list-item.config_entry").filter(has_text=entry_title)
        expect(row).to_have_count(1)
        row.get_by_role("button", name="Menu").click()
        self.page.get_by_role("menuitem", name=item).click()

    def step4b_reconfigure_connected(self) -> None:
        """Reconfigure the connected camera unchanged: saved, camera keeps streaming."""
        entry = next(
            e
            for e in self.ws({"type": "config_entries/get", "domain": "chinesium"})
            if e["entry_id"] == self.entry_id
        )
        self.open_entry_menu_item(entry["title"], "Reconfigure")
        dialog = self.flow_dialog()
        title = self.tr["step"]["reconfigure"]["title"].split("{", 1)[0]
        expect(dialog.get_by_text(re.compile("^" + re.escape(title)))).to_be_visible()
        self.shot("09-reconfigure.png")
        self.submit()
        message = self.tr["abort"]["reconfigure_successful"]
        expect(dialog.get_by_text(message)).to_be_visible()
        expect(dialog.get_by_text(self.tr["error"]["camera_full"])).to_have_count(0)
        self.shot("10-reconfigure-done.png")
        dialog.get_by_role("button", name="Finish").or_(
            dialog.get_by_role("button", name="Close")
        ).first.click()
        poll(
            f"{self.sensor_id} on after the reload", lambda: self.state(self.sensor_id) == "on", 30
        )

    def open_more_info(self, entity_id: str) -> Locator:
        """Open the more-info dialog of ``entity_id`` the way the frontend does."""
        self.page.evaluate(
            "e => document.querySelector('home-assistant').dispatchEvent(new CustomEvent("
            "'hass-more-info', {detail: {entityId: e}, bubbles: true, composed: true}))",
            entity_id,
        )
        return self.page.locator("ha-more-info-dialog")

    def step6_h264_live(self) -> None:
        """An H.264 camera (emulated VStarcam) plays in the UI through HA's stream (HLS)."""
        cam = next(c for c in self.cams if c["name"] == "vstarcam")
        ids = self.add_camera_by_scan(cam, shots=False)
        self.goto(f"/config/devices/device/{ids['device']}")
        poll(
            f"{ids['camera']} to be available",
            lambda: self.state(ids["camera"]) not in (None, "unavailable", "unknown"),
            30,
        )
        features = self.page.evaluate(
            f"e => {HASS_JS}.states[e].attributes.supported_features", ids["camera"]
        )
        assert features & 2, f"camera {ids['camera']} does not offer STREAM ({features})"
        dialog = self.open_more_info(ids["camera"])
        video = dialog.locator("video")
        expect(video).to_be_attached(timeout=60_000)
        played = poll(
            "the H.264 <video> to play",
            lambda: video.evaluate(
                "v => v.readyState >= 2 && v.currentTime > 1 && v.videoWidth > 0"
                " ? [v.videoWidth, v.videoHeight, v.currentTime] : null"
            ),
            60,
            interval=0.5,
        )
        log(f"  HLS video {played[0]}x{played[1]} playing, t={played[2]:.1f} s")
        self.shot("11-h264-live.png")
        self.page.keyboard.press("Escape")

    def step7_on_demand_dead(self) -> None:
        """An on-demand camera that dies while idle is shown Disconnected (idle probes)."""
        cam = next(c for c in self.cams if c["name"] == "teg-b")
        ids = self.add_camera_by_scan(cam, shots=False)
        # Options: stream mode "On demand" (CONFIGURE on the integration page).
        self.goto("/config/integrations/integration/chinesium")
        row = self.page.locator("ha-md-list-item.config_entry").filter(has_text=ids["title"])
        expect(row).to_have_count(1)
        row.get_by_role("button", name="Configure").click()
        dialog = self.flow_dialog()
        on_demand = self.selector_tr["stream_mode"]["options"]["on_demand"]
        radio = dialog.get_by_role("radio", name=on_demand)
        expect(radio).to_be_visible()
        radio.check()
        expect(radio).to_be_checked()
        always = self.selector_tr["stream_mode"]["options"]["always"]
        expect(dialog.get_by_role("radio", name=always)).not_to_be_checked()
        time.sleep(0.5)  # let the radio animation settle for the screenshot
        self.shot("12-on-demand-option.png")
        self.submit()
        expect(dialog).to_be_hidden()
        poll(f"{ids['sensor']} on", lambda: self.state(ids["sensor"]) == "on", 30)
        # Idle: the session closes after the linger time; the sensor stays Connected.
        time.sleep(float(os.environ.get("CHINESIUM_ON_DEMAND_LINGER", "30")) + 1)
        assert self.state(ids["sensor"]) == "on"
        log(f"  SIGKILL to idle on-demand camera {cam['name']} (pid {cam['pid']})")
        since = time.monotonic()
        os.kill(cam["pid"], signal.SIGKILL)
        probe = float(os.environ.get("CHINESIUM_IDLE_PROBE_INTERVAL", "60"))
        poll(
            f"{ids['sensor']} off",
            lambda: self.state(ids["sensor"]) == "off",
            probe * 2 + 20,
            0.5,
        )
        log(f"  sensor off {time.monotonic() - since:.1f} s after the kill (idle probe)")
        self.goto(f"/config/devices/device/{ids['device']}")
        row = self.page.locator("hui-generic-entity-row", has_text=self.tr_entity_name())
        expect(row).to_contain_text(re.compile(rf"\b{DISCONNECTED}\b"))
        self.shot("13-on-demand-offline.png")

    def step8_controls(self) -> None:
        """SHIX camera: press Pan right and toggle the Light on the device page."""
        cam = next(c for c in self.cams if c["name"] == "pppp-a")
        ids = self.add_camera_by_scan(cam, shots=False)
        regs = [
            e
            for e in self.ws({"type": "config/entity_registry/list"})
            if e["config_entry_id"] == ids["entry"]
        ]
        by_key = {e["unique_id"].rsplit("_", 1)[-1]: e["entity_id"] for e in regs}
        button = next(e["entity_id"] for e in regs if e["unique_id"].endswith("_pan_right"))
        light = next(e["entity_id"] for e in regs if e["unique_id"].endswith("_light"))
        log(f"  controls: {sorted(by_key)}")
        self.goto(f"/config/devices/device/{ids['device']}")
        names = self.entity_tr
        before = self.state(button)
        row = self.page.locator(
            "hui-button-entity-row", has_text=names["button"]["pan_right"]["name"]
        )
        expect(row).to_be_visible()
        row.get_by_role("button", name="Press").click()
        poll(f"{button} pressed", lambda: self.state(button) != before, 15)
        log(f"  {button} pressed at {self.state(button)}")
        poll(f"{light} known", lambda: self.state(light) in ("on", "off"), 20)
        was = self.state(light)
        toggle = self.page.locator(
            "hui-toggle-entity-row", has_text=names["switch"]["light"]["name"]
        ).get_by_role("switch")
        expect(toggle).to_be_visible()
        toggle.click()
        want = "off" if was == "on" else "on"
        poll(f"{light} {want} (reported by the camera)", lambda: self.state(light) == want, 20)
        log(f"  {light}: {was} -> {want}")
        self.shot("14-controls.png")

    def step5_manual_error(self) -> None:
        """Manual add of an unreachable loopback host shows the translated error."""
        self.start_chinesium_flow(None)
        dialog = self.flow_dialog()
        dialog.get_by_text(self.tr["step"]["user"]["menu_options"]["manual"]).click()
        expect(dialog.get_by_text(self.tr["step"]["manual"]["title"])).to_be_visible()
        field = dialog.get_by_label(self.tr["step"]["manual"]["data"]["host"])
        field.fill(self.args.unreachable)
        self.submit()
        message = self.tr["error"]["cannot_connect"]
        alert = dialog.locator("ha-alert", has_text=message)
        expect(alert).to_be_visible()
        expect(dialog.get_by_text("cannot_connect")).to_have_count(0)
        self.shot("08-manual-error.png")
        dialog.get_by_role("button", name="Close").first.click()


SCREENSHOTS = (
    "01-add-integration.png",
    "02-scan-pick.png",
    "03-entry-created.png",
    "04-camera-live.png",
    "05-connected.png",
    "06-disconnected.png",
    "07-snapshot-action.png",
    "08-manual-error.png",
    "09-reconfigure.png",
    "10-reconfigure-done.png",
    "11-h264-live.png",
    "12-on-demand-option.png",
    "13-on-demand-offline.png",
    "14-controls.png",
)

STEPS: list[tuple[str, str]] = [
    ("1", "step1_add_by_scan"),
    ("2", "step2_camera_live"),
    ("3a", "step3_connected"),
    ("4", "step4_snapshot"),  # before the camera is stopped
    ("4b", "step4b_reconfigure_connected"),
    ("3b", "step3_disconnected"),
    ("5", "step5_manual_error"),
    ("6", "step6_h264_live"),
    ("7", "step7_on_demand_dead"),
    ("8", "step8_controls"),
]


def main() -> int:
    """Parse arguments, onboard HA, run the steps."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", required=True)
    ap.add_argument("--config-dir", required=True)
    ap.add_argument("--cams", required=True, help="JSON list of {name, family, host, pid}")
    ap.add_argument("--ha-pid", type=int)
    ap.add_argument("--shots", required=True)
    ap.add_argument("--work", default="/tmp")
    ap.add_argument("--translations", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--unreachable", default="127.0.0.9")
    ap.add_argument("--headful", action="store_true")
    ap.add_argument("--slowmo", type=float, default=0)
    ap.add_argument(
        "--cam-stop",
        choices=["kill", "freeze"],
        default="freeze",
        help="freeze: SIGSTOP (keepalive path), SIGCONT (reconnect), then SIGKILL; kill: SIGKILL",
    )
    ap.add_argument("--add-by", choices=["scan", "manual"], default="scan", help="debug aid")
    ap.add_argument("--steps", help="comma-separated subset of step numbers, e.g. 1,2,5")
    args = ap.parse_args()

    log(f"waiting for HA at {args.url}")
    log(f"  HA answered after {hahttp.wait_http(args.url, args.ha_pid):.1f} s")
    tokens = hahttp.onboard(args.url)
    log("onboarding done over HTTP")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=args.chromium,
            headless=not args.headful,
            slow_mo=args.slowmo,
            args=[
                "--no-sandbox",
                # Belt and braces for the loopback-only rule (HA's frontend asks for
                # brands.home-assistant.io icons): no name resolves except 127.0.0.1.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        journey = Journey(args, browser, tokens)
        current = ""
        try:
            wanted = set(args.steps.split(",")) if args.steps else None
            for number, name in STEPS:
                if wanted is not None and number not in wanted and number != "1":
                    continue
                current = name
                started = time.monotonic()
                log(f"step {number}: {getattr(Journey, name).__doc__}")
                getattr(journey, name)()
                log(f"step {number} ok ({time.monotonic() - started:.1f} s)")
        except Exception as err:  # report, screenshot, exit non-zero
            failure = journey.work / f"failure-{current}.png"
            try:
                journey.page.screenshot(path=str(failure))
                log(f"failure screenshot: {failure}")
            except Exception:  # best effort
                pass
            detail = str(err).split("Call log:")[0].strip()
            log(f"FAILED in {current}: {type(err).__name__}: {detail[:800]}")
            for e in journey.page_errors[-5:]:
                log(f"  page error: {e}")
            return 1
        finally:
            log(f"refused {len(journey.blocked)} non-loopback browser requests")
            browser.close()
    if args.add_by == "scan" and not args.steps:
        missing = [n for n in SCREENSHOTS if not (Path(args.shots) / n).is_file()]
        if missing:
            log(f"FAILED: screenshots missing: {missing}")
            return 1
    log("journey complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
