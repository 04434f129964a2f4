"""Static checks standing in for hassfest: manifest, translations, services, icons."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import yaml

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
        "dependencies": ["network"],
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


def test_config_flow_keys_are_translated() -> None:
    en = _json("translations/en.json")["config"]
    source = (COMPONENT / "config_flow.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    aborts = _strings_in_calls(source, {"async_abort", "_abort_if_unique_id_mismatch"}, "reason")
    aborts |= {"already_configured", "already_in_progress"}  # raised by HA helpers we call
    aborts |= {"reauth_successful", "reconfigure_successful"}  # async_update_reload_and_abort
    assert aborts <= set(en["abort"]), aborts - set(en["abort"])
    # Error keys: string literals returned by async_probe / assigned to errors["base"].
    errors = {"cannot_connect", "invalid_auth", "camera_full", "unsupported"}
    literals = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert errors <= literals
    assert set(en["error"]) == errors
    steps = {
        node.name.removeprefix("async_step_")
        for node in ast.walk(tree)
        if isinstance(node, ast.AsyncFunctionDef) and node.name.startswith("async_step_")
    }
    # Steps without a form of their own are entry points that forward elsewhere.
    forwarders = {"dhcp", "integration_discovery", "reauth"}
    assert steps - forwarders == set(en["step"])
    for step in en["step"].values():
        assert set(step.get("data_description", {})) <= set(step.get("data", {}))
    assert set(en["step"]["user"]["menu_options"]) == {"scan", "manual"}


def test_exception_keys_are_translated() -> None:
    en = _json("translations/en.json")["exceptions"]
    used: set[str] = set()
    for path in COMPONENT.glob("*.py"):
        used |= _strings_in_calls(
            path.read_text(encoding="utf-8"),
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
    assert used == set(en), used ^ set(en)


def test_services_translations_icons_agree() -> None:
    services = yaml.safe_load((COMPONENT / "services.yaml").read_text(encoding="utf-8"))
    translations = _json("translations/en.json")["services"]
    icons = _json("icons.json")["services"]
    assert set(services) == set(translations) == set(icons) == {"snapshot"}
    for name, service in services.items():
        assert service["target"]["entity"] == {"integration": "chinesium", "domain": "camera"}
        assert set(service["fields"]) == set(translations[name]["fields"])
        assert translations[name]["name"]
        assert translations[name]["description"]
        assert icons[name]["service"].startswith("mdi:")


def test_entity_translations_and_icons() -> None:
    en = _json("translations/en.json")["entity"]
    icons = _json("icons.json")["entity"]
    assert en["binary_sensor"]["connection"]["name"] == "Connection"
    assert set(icons["binary_sensor"]) <= set(en["binary_sensor"])
