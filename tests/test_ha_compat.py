"""Forward compatibility: the integration's use of HA against the newest pinned release.

``scripts/ha_compat.py`` reads Home Assistant's sources from the release wheel (cached in
``.venv/ha-compat/``) and checks statically that every name we use still exists and is not
deprecated. The synthetic tests prove the checker can fail.
"""

from __future__ import annotations

from collections.abc import Callable
import hashlib
import importlib.util
import json
from pathlib import Path
import subprocess
import sys
from types import ModuleType
import zipfile

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "ha_compat.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ha_compat", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ha_compat"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


hc = _load_script()


def _problem_report(findings: list, label: str) -> str:
    return hc.format_report([f for f in findings if f.status != hc.OK], label)


# -- the real check ------------------------------------------------------------------------------


def test_installed_baseline_resolves_everything() -> None:
    """Every HA name the integration uses resolves in the installed (locked) HA."""
    source = hc.installed_source()
    assert source is not None, "homeassistant is not installed in this venv"
    findings = hc.check(hc.INTEGRATION_DIR, hc.HaIndex(source))
    assert len({f.target for f in findings}) > 100  # it really looked at our code
    assert not hc.problems(findings), _problem_report(findings, source.label)


def test_pinned_release_compat() -> None:
    """The pinned newest HA release still has everything we use, nothing of it deprecated."""
    # Downloaded in a subprocess: the HA test plugin blocks sockets inside pytest.
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--fetch-only"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode == 2:
        pytest.skip(f"HA {hc.PINNED_VERSION} wheel unavailable: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    wheel = Path(proc.stdout.strip().splitlines()[-1])
    assert wheel.name == hc.wheel_filename(hc.PINNED_VERSION)
    installed = hc.installed_source()
    baseline = hc.HaIndex(installed) if installed is not None else None
    findings = hc.check(hc.INTEGRATION_DIR, hc.HaIndex(hc.WheelSource(wheel)), baseline)
    assert not hc.problems(findings), _problem_report(
        findings, f"homeassistant {hc.PINNED_VERSION}"
    )


# -- synthetic trees: the checker can fail ---------------------------------------------------------

_HA_FILES = {
    "homeassistant/__init__.py": "",
    "homeassistant/helpers/__init__.py": "",
    "homeassistant/helpers/deprecation.py": (
        "class DeprecatedConstant: ...\n"
        "def check_if_deprecated_constant(name, module_globals): ...\n"
        "def deprecated_function(replacement):\n"
        "    return lambda f: f\n"
    ),
    "homeassistant/helpers/frame.py": "def report_usage(what, **kw): ...\n",
    "homeassistant/const.py": (
        "from enum import StrEnum\n"
        "from functools import partial\n"
        "from .helpers.deprecation import DeprecatedConstant, check_if_deprecated_constant\n"
        "from .generated.platforms import EntityPlatforms\n"
        "Platform = EntityPlatforms\n"
        "CONF_HOST = 'host'\n"
        "_DEPRECATED_CONF_OLD = DeprecatedConstant('old', 'CONF_HOST', '2099.1')\n"
        "__getattr__ = partial(check_if_deprecated_constant, module_globals=globals())\n"
    ),
    "homeassistant/generated/__init__.py": "",
    "homeassistant/generated/platforms.py": (
        "from enum import StrEnum\nclass EntityPlatforms(StrEnum):\n    CAMERA = 'camera'\n"
    ),
    "homeassistant/helpers/thing.py": (
        "import warnings\n"
        "from .deprecation import deprecated_function\n"
        "from .frame import report_usage\n"
        "def old_helper(x, *, flag=None):\n"
        "    report_usage('uses old_helper')\n"
        "@deprecated_function('new_helper')\n"
        "def decorated(): ...\n"
        "def needs(a, b): ...\n"
        "def warns():\n"
        "    warnings.warn('gone soon', DeprecationWarning)\n"
        "class Base:\n"
        "    hass: object = None\n"
        "    def hook(self) -> None: ...\n"
        "    def helper(self, a=None) -> None:\n"
        "        if a is None:\n"
        "            report_usage('passes no a')\n"
        "    def other(self, b=None) -> None:\n"
        "        if b is None:\n"
        "            report_usage('passes no b')\n"
    ),
}
_BASELINE_EXTRA = "    def old_hook(self) -> None: ...\n"

_INTEGRATION = """\
from homeassistant.const import CONF_GONE, CONF_HOST, CONF_OLD, Platform
from homeassistant.helpers import thing
from homeassistant.helpers.missing_module import X

PLATFORMS = [Platform.CAMERA, Platform.LIGHT]


def use() -> None:
    thing.old_helper(1, flag=2, bogus=3)
    thing.decorated()
    thing.warns(1)
    thing.needs(1)


class My(thing.Base):
    def hook(self) -> None:
        self.helper(1)
        self.other()
        self.nope()
        print(self.hass)

    def old_hook(self) -> None: ...

    def own_method(self) -> None: ...
"""


def _write_wheel(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def _write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def synthetic(tmp_path: Path) -> Callable[[], list]:
    """Run the checker on a tiny integration against a tiny wheel + baseline tree."""
    wheel = _write_wheel(tmp_path / "homeassistant-0.0.0-py3-none-any.whl", _HA_FILES)
    base_files = dict(_HA_FILES)
    base_files["homeassistant/helpers/thing.py"] += _BASELINE_EXTRA
    baseline = _write_tree(tmp_path / "baseline", base_files)
    integration = tmp_path / "custom_components" / "demo"
    _write_tree(integration, {"__init__.py": _INTEGRATION})

    def run() -> list:
        return hc.check(
            integration, hc.HaIndex(hc.WheelSource(wheel)), hc.HaIndex(hc.DirSource(baseline))
        )

    return run


def test_synthetic_tree_fails(synthetic: Callable[[], list]) -> None:
    """Missing modules/names/members/kwargs/hooks and deprecations are all reported."""
    findings = synthetic()
    got = {(f.status, f.target, f.where.rsplit(":", 1)[1]) for f in hc.problems(findings)}
    c = "homeassistant.const"
    t = "homeassistant.helpers.thing"
    assert got == {
        (hc.MISSING, f"{c}.CONF_GONE", "1"),
        (hc.DEPRECATED, f"{c}.CONF_OLD", "1"),
        (hc.MISSING, "homeassistant.helpers.missing_module", "3"),
        (hc.MISSING, "homeassistant.generated.platforms.EntityPlatforms.LIGHT", "5"),
        (hc.DEPRECATED, f"{t}.old_helper", "9"),
        (hc.MISSING, f"{t}.old_helper(bogus=)", "9"),
        (hc.DEPRECATED, f"{t}.decorated", "10"),
        (hc.DEPRECATED, f"{t}.warns", "11"),
        (hc.MISSING, f"{t}.warns(...)", "11"),  # too many positional arguments
        (hc.MISSING, f"{t}.needs(...)", "12"),  # b is required now
        (hc.MISSING, "Base.nope", "19"),
        (hc.MISSING, f"{t}.Base.old_hook", "22"),
    }
    ok = {(f.target, f.kind) for f in findings if f.status == hc.OK}
    assert ("homeassistant.generated.platforms.EntityPlatforms.CAMERA", "enum member") in ok
    assert (f"{t}.Base.hook", "override") in ok
    assert (f"{t}.Base.hass", "instance attr") in ok
    assert (f"{t}.old_helper(flag=)", "keyword argument") in ok
    assert (f"{t}.Base.helper(...)", "call signature") in ok
    # helper(1) passes the guarded parameter; other() does not -> only a note
    assert (f"{t}.Base.helper", "guarded report") in ok
    notes = {f.target for f in findings if f.status == hc.NOTE}
    assert notes == {f"{t}.Base.other"}
    assert not any("own_method" in f.target for f in findings)
    report = hc.format_report(findings, "synthetic")
    assert report.splitlines()[-1].startswith("FAIL:")
    assert "demo/__init__.py:9" in report


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI prints the table and exits 1 on problems, 0 when clean."""
    wheel = _write_wheel(tmp_path / "ha.whl", _HA_FILES)
    bad = _write_tree(
        tmp_path / "bad" / "custom_components" / "demo", {"__init__.py": _INTEGRATION}
    )
    good = _write_tree(
        tmp_path / "good" / "custom_components" / "demo",
        {"__init__.py": "from homeassistant.const import Platform\nP = Platform.CAMERA\n"},
    )
    assert hc.main(["--wheel", str(wheel), "--integration", str(bad), "--no-baseline"]) == 1
    assert "MISSING" in capsys.readouterr().out
    assert hc.main(["--wheel", str(wheel), "--integration", str(good), "--no-baseline", "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("PASS")


def test_python314_syntax_is_parsed() -> None:
    """HA releases needing Python 3.14 use ``except A, B:``; the index still parses them."""
    tree = hc.parse_source("try:\n    pass\nexcept KeyError, ValueError:\n    pass\n", "x.py")
    handler = tree.body[0].handlers[0]  # type: ignore[attr-defined]
    assert len(handler.type.elts) == 2


# -- wheel download / cache ---------------------------------------------------------------------


def test_ensure_wheel_downloads_once_and_verifies(tmp_path: Path) -> None:
    """The wheel is fetched via the JSON API once, checked against its sha256, then cached."""
    payload = b"PK fake wheel"
    meta = {
        "releases": {
            "1.2.3": [
                {
                    "filename": "homeassistant-1.2.3-py3-none-any.whl",
                    "url": "../../packages/aa/homeassistant-1.2.3-py3-none-any.whl",
                    "digests": {"sha256": hashlib.sha256(payload).hexdigest()},
                }
            ]
        }
    }
    calls: list[str] = []

    def fetch(url: str, timeout: float) -> bytes:
        calls.append(url)
        return json.dumps(meta).encode() if url.endswith("/json") else payload

    path = hc.ensure_wheel("1.2.3", tmp_path, fetch=fetch)
    assert path.read_bytes() == payload
    assert calls == [
        hc.PYPI_JSON,
        "https://pypi.org/packages/aa/homeassistant-1.2.3-py3-none-any.whl",
    ]
    assert hc.ensure_wheel("1.2.3", tmp_path, fetch=fetch) == path
    assert len(calls) == 2  # cached
    with pytest.raises(ValueError, match="sha256"):
        hc.ensure_wheel("1.2.3", tmp_path / "other", sha256="0" * 64, fetch=fetch)
    with pytest.raises(hc.WheelUnavailableError, match="no wheel"):
        hc.ensure_wheel("9.9.9", tmp_path, fetch=fetch)


def test_ensure_wheel_unreachable_index(tmp_path: Path) -> None:
    """An unreachable index is a WheelUnavailableError (the pinned test then skips)."""

    def fetch(url: str, timeout: float) -> bytes:
        raise OSError("network is unreachable")

    with pytest.raises(hc.WheelUnavailableError, match="cannot reach"):
        hc.ensure_wheel("1.2.3", tmp_path, fetch=fetch)
