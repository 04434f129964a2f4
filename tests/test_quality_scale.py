"""quality_scale.yaml: every rule of HA's integration quality scale, with cheap proof checks."""

from __future__ import annotations

import ast
from collections.abc import Callable
import json
from pathlib import Path
import re
import struct
import tomllib
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parent.parent
COMPONENT = ROOT / "custom_components" / "chinesium"

RULES: dict[str, tuple[str, ...]] = {
    "bronze": (
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow-test-coverage",
        "config-flow",
        "dependency-transparency",
        "docs-actions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
    ),
    "silver": (
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    ),
    "gold": (
        "devices",
        "diagnostics",
        "discovery-update-info",
        "discovery",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    ),
    "platinum": ("async-dependency", "inject-websession", "strict-typing"),
}
"""HA's rule list (developers.home-assistant.io/docs/core/integration-quality-scale/rules)."""

ALL_RULES = [rule for tier in RULES.values() for rule in tier]

_ERRORS = {
    "HomeAssistantError",
    "ServiceValidationError",
    "ConfigEntryNotReady",
    "ConfigEntryAuthFailed",
    "ConfigEntryError",
}


def _rules() -> dict[str, Any]:
    data = yaml.safe_load((COMPONENT / "quality_scale.yaml").read_text(encoding="utf-8"))
    assert set(data) == {"rules"}
    rules: dict[str, Any] = data["rules"]
    return rules


def _status(value: Any) -> str:
    return value if isinstance(value, str) else value["status"]


def _src(name: str) -> str:
    return (COMPONENT / name).read_text(encoding="utf-8")


def _tree(name: str) -> ast.Module:
    return ast.parse(_src(name))


def _json(name: str) -> Any:
    return json.loads(_src(name))


def _readme_sections() -> dict[str, str]:
    """README ``## `` / ``### `` headings → their text (the preamble under ``""``)."""
    sections: dict[str, str] = {"": ""}
    current = ""
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^#{2,3} (.+)$", line):
            current = match.group(1).strip()
            sections[current] = ""
        elif not line.startswith("# "):
            sections[current] += line + "\n"
    return sections


def _section(title: str, min_chars: int = 80) -> str:
    sections = _readme_sections()
    assert title in sections, f"README has no section {title!r}"
    text = sections[title]
    assert len(text.strip()) >= min_chars, f"README section {title!r} is too short"
    return text


def _class_defs(tree: ast.Module) -> list[ast.ClassDef]:
    return [node for node in tree.body if isinstance(node, ast.ClassDef)]


def _assigns(cls: ast.ClassDef) -> dict[str, ast.expr]:
    found: dict[str, ast.expr] = {}
    for node in cls.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            found[node.target.id] = node.value
    return found


def _methods(cls: ast.ClassDef) -> set[str]:
    return {
        node.name for node in cls.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _platform_modules() -> list[str]:
    """Platform module names from ``PLATFORMS`` in ``__init__.py`` (``Platform.X`` → ``x``)."""
    for node in _tree("__init__.py").body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            if isinstance(target, ast.Name) and target.id == "PLATFORMS":
                assert isinstance(node.value, ast.List)
                return [
                    elt.attr.lower() for elt in node.value.elts if isinstance(elt, ast.Attribute)
                ]
    raise AssertionError("no PLATFORMS in __init__.py")


def _entity_classes() -> list[tuple[str, ast.ClassDef]]:
    """Entity classes of every platform module (subclasses of ChinesiumEntity)."""
    found = []
    for module in _platform_modules():
        for cls in _class_defs(_tree(f"{module}.py")):
            bases = {getattr(b, "id", getattr(b, "attr", "")) for b in cls.bases}
            if "ChinesiumEntity" in bases:
                found.append((module, cls))
    assert found
    return found


def _calls(tree: ast.AST, names: set[str]) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        in names
    ]


# -- mechanical checks of "done" claims -------------------------------------------------


def _config_flow() -> None:
    assert _json("manifest.json")["config_flow"] is True
    steps = _json("translations/en.json")["config"]["step"]
    for name, step in {**steps, **_json("translations/en.json")["options"]["step"]}.items():
        assert set(step.get("data_description", {})) == set(step.get("data", {})), name


def _config_flow_test_coverage() -> None:
    assert (ROOT / "tests" / "test_config_flow.py").is_file()
    assert (ROOT / "tests" / "test_options.py").is_file()


def _brands() -> None:
    for name, size in (("icon.png", 256), ("icon@2x.png", 512)):
        head = (COMPONENT / "brand" / name).read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", head[16:24]) == (size, size)


def _common_modules() -> None:
    assert (COMPONENT / "coordinator.py").is_file()
    assert (COMPONENT / "entity.py").is_file()


def _has_entity_name() -> None:
    base = next(c for c in _class_defs(_tree("entity.py")) if c.name == "ChinesiumEntity")
    value = _assigns(base)["_attr_has_entity_name"]
    assert isinstance(value, ast.Constant)
    assert value.value is True
    for module, cls in _entity_classes():
        value = _assigns(cls).get("_attr_has_entity_name")
        assert value is None or (isinstance(value, ast.Constant) and value.value is True), module


def _entity_unique_id() -> None:
    assert "self._attr_unique_id = " in _src("entity.py")


def _runtime_data() -> None:
    assert "entry.runtime_data = " in _src("__init__.py")
    for path in COMPONENT.glob("*.py"):
        assert "hass.data[DOMAIN]" not in path.read_text(encoding="utf-8"), path.name


def _test_before_configure() -> None:
    assert "await open_session(" in _src("config_flow.py")


def _test_before_setup() -> None:
    source = _src("coordinator.py")
    assert "ConfigEntryNotReady(" in source
    assert "ConfigEntryAuthFailed(" in source


def _unique_config_entry() -> None:
    source = _src("config_flow.py")
    assert "async_set_unique_id(" in source
    assert "_abort_if_unique_id_configured(" in source


def _docs_removal() -> None:
    assert "Delete" in _section("Removal")


def _docs_installation() -> None:
    assert "HACS" in _section("Installation with HACS")


def _docs_high_level() -> None:
    assert "Home Assistant" in _section("")


def _docs_actions() -> None:
    assert "chinesium.snapshot" in _section("What you get")


def _config_entry_unloading() -> None:
    assert "async_unload_platforms" in _src("__init__.py")


def _action_exceptions() -> None:
    assert _calls(_tree("camera.py"), {"ServiceValidationError", "HomeAssistantError"})


def _docs_configuration_parameters() -> None:
    text = _section("Configuration options")
    labels = _json("translations/en.json")["options"]["step"]["init"]["data"].values()
    for label in labels:
        assert label in text, label


def _docs_installation_parameters() -> None:
    text = _section("What you get")
    assert "host:port" in text
    assert "password" in text


def _entity_unavailable() -> None:
    assert "def available" in _src("camera.py")


def _integration_owner() -> None:
    assert _json("manifest.json")["codeowners"]


def _log_when_unavailable() -> None:
    source = _src("coordinator.py")
    assert "LOGGER.warning" in source
    assert "LOGGER.info" in source


def _parallel_updates() -> None:
    for module in _platform_modules():
        tree = _tree(f"{module}.py")
        names = {
            t.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        assert "PARALLEL_UPDATES" in names, module


def _reauthentication_flow() -> None:
    flow = next(c for c in _class_defs(_tree("config_flow.py")) if c.name == "ChinesiumConfigFlow")
    assert {"async_step_reauth", "async_step_reauth_confirm"} <= _methods(flow)


def _reconfiguration_flow() -> None:
    flow = next(c for c in _class_defs(_tree("config_flow.py")) if c.name == "ChinesiumConfigFlow")
    assert "async_step_reconfigure" in _methods(flow)


def _test_coverage() -> None:
    tests = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    for module in ("config_flow", "init", "diagnostics", *_platform_modules()):
        assert f"test_{module}.py" in tests, module


def _devices() -> None:
    assert "DeviceInfo(" in _src("entity.py")


def _diagnostics() -> None:
    funcs = {
        node.name for node in _tree("diagnostics.py").body if isinstance(node, ast.AsyncFunctionDef)
    }
    assert {"async_get_config_entry_diagnostics", "async_get_device_diagnostics"} <= funcs


def _discovery() -> None:
    assert _json("manifest.json")["dhcp"]
    flow = next(c for c in _class_defs(_tree("config_flow.py")) if c.name == "ChinesiumConfigFlow")
    assert {"async_step_dhcp", "async_step_integration_discovery"} <= _methods(flow)
    assert "async_start_background_scan(hass)" in _src("__init__.py")


def _discovery_update_info() -> None:
    assert "_abort_if_unique_id_configured(updates=" in _src("config_flow.py").replace("\n", "")


def _docs_data_update() -> None:
    assert "polling" in _section("Data updates")


def _docs_examples() -> None:
    assert "action: chinesium.snapshot" in _section("Snapshot in an automation")


def _docs_known_limitations() -> None:
    _section("Known limitations")


def _docs_supported_devices() -> None:
    text = _section("Supported cameras")
    assert "TEG" in text
    assert "PPPP" in text


def _docs_supported_functions() -> None:
    text = _section("What you get")
    assert "Camera entity" in text
    assert "binary sensor" in text


def _docs_troubleshooting() -> None:
    _section("Troubleshooting")


def _docs_use_cases() -> None:
    assert "automation" in _section("Snapshot in an automation")


def _entity_category() -> None:
    assert "EntityCategory.DIAGNOSTIC" in _src("binary_sensor.py")


def _entity_device_class() -> None:
    assert "BinarySensorDeviceClass.CONNECTIVITY" in _src("binary_sensor.py")


def _entity_translations() -> None:
    en = _json("translations/en.json")["entity"]
    for module, cls in _entity_classes():
        attrs = _assigns(cls)
        name = attrs.get("_attr_name")
        if isinstance(name, ast.Constant) and name.value is None:
            continue  # the main entity: named after the device
        if any(
            isinstance(node, ast.AnnAssign)
            and getattr(node.target, "id", "") == "entity_description"
            for node in cls.body
        ):
            # Named by its descriptions' translation keys.
            keys = [
                kw.value.value
                for call in ast.walk(_tree(f"{module}.py"))
                if isinstance(call, ast.Call)
                for kw in call.keywords
                if kw.arg == "translation_key" and isinstance(kw.value, ast.Constant)
            ]
            assert keys, f"{module}.{cls.name}"
            for name in keys:
                assert en[module][name]["name"], (module, name)
            continue
        key = attrs.get("_attr_translation_key")
        assert isinstance(key, ast.Constant), f"{module}.{cls.name}"
        assert en[module][key.value]["name"]


def _exception_translations() -> None:
    for path in COMPONENT.glob("*.py"):
        for call in _calls(ast.parse(path.read_text(encoding="utf-8")), _ERRORS):
            keywords = {kw.arg for kw in call.keywords}
            assert {"translation_domain", "translation_key"} <= keywords, (path.name, call.lineno)


def _icon_translations() -> None:
    icons = _json("icons.json")
    assert set(icons["services"]) == set(_json("translations/en.json")["services"])
    assert icons["entity"]


def _repair_issues() -> None:
    assert "ir.async_create_issue(" in _src("issues.py")
    assert _json("translations/en.json")["issues"]
    assert "async_create_unsupported_issue(" in _src("discovery.py")
    assert "async_create_unsupported_issue(" in _src("config_flow.py")


def _async_dependency() -> None:
    for path in (COMPONENT / "protocol").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "homeassistant" not in source, path
        assert "time.sleep(" not in source, path
        assert "import requests" not in source, path


def _strict_typing() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert config["strict"] is True
    assert "custom_components" in config["files"]


def _entity_event_setup() -> None:
    # Entities subscribe through CoordinatorEntity.async_added_to_hass; none registers
    # listeners in __init__.
    for module, cls in _entity_classes():
        for node in cls.body:
            if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                listeners = _calls(node, {"async_add_listener", "async_track_time_interval"})
                assert not listeners, module


CHECKS: dict[str, Callable[[], None]] = {
    "action-exceptions": _action_exceptions,
    "async-dependency": _async_dependency,
    "brands": _brands,
    "common-modules": _common_modules,
    "config-entry-unloading": _config_entry_unloading,
    "config-flow": _config_flow,
    "config-flow-test-coverage": _config_flow_test_coverage,
    "devices": _devices,
    "diagnostics": _diagnostics,
    "discovery": _discovery,
    "discovery-update-info": _discovery_update_info,
    "docs-actions": _docs_actions,
    "docs-configuration-parameters": _docs_configuration_parameters,
    "docs-data-update": _docs_data_update,
    "docs-examples": _docs_examples,
    "docs-high-level-description": _docs_high_level,
    "docs-installation-instructions": _docs_installation,
    "docs-installation-parameters": _docs_installation_parameters,
    "docs-known-limitations": _docs_known_limitations,
    "docs-removal-instructions": _docs_removal,
    "docs-supported-devices": _docs_supported_devices,
    "docs-supported-functions": _docs_supported_functions,
    "docs-troubleshooting": _docs_troubleshooting,
    "docs-use-cases": _docs_use_cases,
    "entity-category": _entity_category,
    "entity-device-class": _entity_device_class,
    "entity-event-setup": _entity_event_setup,
    "entity-translations": _entity_translations,
    "entity-unavailable": _entity_unavailable,
    "entity-unique-id": _entity_unique_id,
    "exception-translations": _exception_translations,
    "has-entity-name": _has_entity_name,
    "icon-translations": _icon_translations,
    "integration-owner": _integration_owner,
    "log-when-unavailable": _log_when_unavailable,
    "parallel-updates": _parallel_updates,
    "reauthentication-flow": _reauthentication_flow,
    "reconfiguration-flow": _reconfiguration_flow,
    "repair-issues": _repair_issues,
    "runtime-data": _runtime_data,
    "strict-typing": _strict_typing,
    "test-before-configure": _test_before_configure,
    "test-before-setup": _test_before_setup,
    "test-coverage": _test_coverage,
    "unique-config-entry": _unique_config_entry,
}


def test_every_rule_listed_once_with_valid_status() -> None:
    """All 52 rules, nothing else; ``exempt``/``todo`` carry a reason."""
    assert len(ALL_RULES) == len(set(ALL_RULES)) == 52
    rules = _rules()
    assert set(rules) == set(ALL_RULES), set(rules) ^ set(ALL_RULES)
    for rule, value in rules.items():
        if isinstance(value, str):
            assert value == "done", rule  # a bare todo/exempt would have no reason
            continue
        assert set(value) <= {"status", "comment"}, rule
        assert value["status"] in {"done", "todo", "exempt"}, rule
        if value["status"] != "done":
            assert len(str(value.get("comment", "")).strip()) >= 20, f"{rule}: needs a comment"


def test_file_lists_rules_in_tier_order() -> None:
    """Same order as HA's rule list (bronze → platinum), like core's files."""
    assert list(_rules()) == ALL_RULES


def test_checks_only_name_real_rules() -> None:
    assert set(CHECKS) <= set(ALL_RULES)


@pytest.mark.parametrize("rule", sorted(CHECKS))
def test_done_claims_hold(rule: str) -> None:
    """Spot-check the code/docs behind each rule claimed ``done``."""
    if _status(_rules()[rule]) != "done":
        pytest.skip(f"{rule} is not claimed done")
    CHECKS[rule]()


def test_action_setup_exemption_still_needed() -> None:
    """If the snapshot action ever moves to async_setup, claim ``action-setup`` done."""
    platform_registers = "async_register_entity_service(" in _src("camera.py")
    assert (_status(_rules()["action-setup"]) == "exempt") == platform_registers
