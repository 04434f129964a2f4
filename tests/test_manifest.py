"""Static checks standing in for hassfest: manifest, translations, services, icons."""

from __future__ import annotations

import ast
import json
from pathlib import Path
import re
from typing import Any

import yaml

from custom_components.chinesium.config_flow import options_schema
from custom_components.chinesium.const import (
    CONF_MAX_FPS,
    CONF_MOTION_HOLD,
    CONF_MOTION_SENSITIVITY,
    CONF_STREAM_MODE,
    STREAM_MODES,
)
from custom_components.chinesium.issues import UNSUPPORTED_CAMERA
from custom_components.chinesium.protocol import PtzDirection

COMPONENT = Path(__file__).parent.parent / "custom_components" / "chinesium"


def _json(name: str) -> Any:
    return json.loads((COMPONENT / name).read_text(encoding="utf-8"))


def _strings_in_calls(source: str, functions: set[str], keyword: str) -> set[str]:
    """String literals passed as ``keyword=`` to calls of ``functions``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in functions:
            continue
        for kw in node.keywords:
            if kw.arg == keyword and isinstance(kw.value, ast.Constant):
                found.add(kw.value.value)
    return found


def test_manifest_keys_and_order() -> None:
    manifest = _json("manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest == {
        "domain": "chinesium",
        "name": "Chinesium",
        "codeowners": ["@chinesium-dev"],
        "config_flow": True,
        "dependencies": ["network", "stream"],
        "dhcp": [{"hostname": "rtthread*"}],
        "documentation": "https://github.com/chinesium-dev/chinesium",
        "integration_type": "device",
        "iot_class": "local_push",
        "issue_tracker": "https://github.com/chinesium-dev/chinesium/issues",
        "loggers": ["custom_components.chinesium"],
        "requirements": [],
        "version": "0.1.0",
    }
    for matcher in manifest["dhcp"]:
        assert matcher["hostname"] == matcher["hostname"].lower()


def test_strings_equals_translations() -> None:
    assert _json("strings.json") == _json("translations/en.json")


def _class_node(tree: ast.Module, name: str) -> ast.ClassDef:
    return next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)


def _steps(cls: ast.ClassDef) -> set[str]:
    return {
        node.name.removeprefix("async_step_")
        for node in cls.body
        if isinstance(node, ast.AsyncFunctionDef) and node.name.startswith("async_step_")
    }


def _literals(source: str) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", text))


def test_config_flow_keys_are_translated() -> None:
    en = _json("translations/en.json")["config"]
    source = (COMPONENT / "config_flow.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    aborts = _strings_in_calls(source, {"async_abort", "_abort_if_unique_id_mismatch"}, "reason")
    aborts |= {  # AbortFlow("reason", ...) is positional
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", "") == "AbortFlow"
        and isinstance(node.args[0], ast.Constant)
    }
    assert "unsupported" in aborts
    aborts |= {"already_configured", "already_in_progress"}  # raised by HA helpers we call
    aborts |= {"no_devices_found"}  # the DHCP step; the search step shows it as an error
    aborts |= {"reauth_successful", "reconfigure_successful"}  # async_update_reload_and_abort
    assert aborts == set(en["abort"]), aborts ^ set(en["abort"])
    assert _placeholders(en["abort"]["unsupported"]) == {"name"}
    # Error keys: string literals returned by async_probe / assigned to errors["base"].
    errors = {
        "cannot_connect",
        "invalid_auth",
        "camera_full",
        "invalid_host",
        "invalid_scan_host",
        "no_devices_found",
    }
    assert errors <= _literals(source)
    assert set(en["error"]) == errors
    assert _placeholders(en["error"]["invalid_scan_host"]) == {"host"}
    assert "/22" in en["error"]["invalid_scan_host"]
    assert "1024" in en["step"]["search"]["data_description"]["scan_hosts"]
    steps = _steps(_class_node(tree, "ChinesiumConfigFlow"))
    # Steps without a form of their own are entry points that forward elsewhere.
    forwarders = {"dhcp", "integration_discovery", "reauth"}
    assert steps - forwarders == set(en["step"])
    for step in en["step"].values():
        assert set(step.get("data_description", {})) <= set(step.get("data", {}))
    assert set(en["step"]["user"]["menu_options"]) == {"search", "manual"}


def test_options_keys_are_translated() -> None:
    """Every options field, error and selector choice has its English text."""
    translations = _json("translations/en.json")
    en = translations["options"]
    source = (COMPONENT / "config_flow.py").read_text(encoding="utf-8")
    assert _steps(_class_node(ast.parse(source), "ChinesiumOptionsFlow")) == set(en["step"])
    fields = {str(key) for key in options_schema().schema}
    # scan hosts: integration-wide
    assert fields == {
        CONF_STREAM_MODE,
        CONF_MAX_FPS,
        CONF_MOTION_SENSITIVITY,
        CONF_MOTION_HOLD,
        "hls",
        "audio",
        "restream",
        "restream_host",
        "restream_port",
    }
    assert set(en["step"]["init"]["data"]) == fields
    assert set(en["step"]["init"]["data_description"]) == fields
    assert set(en["error"]) == {"invalid_restream_host"}
    assert set(translations["selector"]) == {CONF_STREAM_MODE, "ptz_direction"}
    assert tuple(translations["selector"][CONF_STREAM_MODE]["options"]) == STREAM_MODES


def test_issue_keys_are_translated() -> None:
    """Repair issues: the translation key exists with the placeholders the code fills in."""
    en = _json("translations/en.json")["issues"]
    assert set(en) == {UNSUPPORTED_CAMERA, "no_video"}
    issue = en[UNSUPPORTED_CAMERA]
    assert issue["title"]
    assert _placeholders(issue["title"]) | _placeholders(issue["description"]) == {
        "name",
        "uid",
        "host",
        "seen",
        "url",
    }
    no_video = en["no_video"]
    assert _placeholders(no_video["title"]) | _placeholders(no_video["description"]) == {
        "name",
        "host",
        "seen",
        "url",
    }
    issues_source = (COMPONENT / "issues.py").read_text(encoding="utf-8")
    assert "translation_key=UNSUPPORTED_CAMERA" in issues_source
    assert "translation_key=NO_VIDEO" in issues_source


def test_exception_keys_are_translated() -> None:
    en = _json("translations/en.json")["exceptions"]
    used: set[str] = set()
    literals: set[str] = set()
    for path in COMPONENT.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        literals |= _literals(source)
        used |= _strings_in_calls(
            source,
            {
                "HomeAssistantError",
                "ServiceValidationError",
                "ConfigEntryNotReady",
                "ConfigEntryAuthFailed",
                "ConfigEntryError",
            },
            "translation_key",
        )
    assert used
    assert used <= set(en), used - set(en)
    # Keys passed through variables still appear as literals somewhere.
    assert set(en) <= literals, set(en) - literals
    for key, value in en.items():
        assert value["message"], key


def test_services_translations_icons_agree() -> None:
    services = yaml.safe_load((COMPONENT / "services.yaml").read_text(encoding="utf-8"))
    translations = _json("translations/en.json")["services"]
    icons = _json("icons.json")["services"]
    assert set(services) == set(translations) == set(icons) == {"snapshot", "ptz"}
    for name, service in services.items():
        assert service["target"]["entity"] == {"integration": "chinesium", "domain": "camera"}
        assert set(service["fields"]) == set(translations[name]["fields"])
        assert translations[name]["name"]
        assert translations[name]["description"]
        assert icons[name]["service"].startswith("mdi:")
    direction = services["ptz"]["fields"]["direction"]["selector"]["select"]
    choices = _json("translations/en.json")["selector"][direction["translation_key"]]["options"]
    assert direction["options"] == list(choices) == [d.value for d in PtzDirection]


def test_entity_translations_and_icons() -> None:
    en = _json("translations/en.json")["entity"]
    icons = _json("icons.json")["entity"]
    assert en["binary_sensor"]["connection"]["name"] == "Connection"
    assert set(icons["binary_sensor"]) <= set(en["binary_sensor"])
