#!/usr/bin/env python3
"""Static forward-compatibility check of the integration against a newer Home Assistant.

Reads the ``homeassistant`` sources straight out of a release wheel (or an installed
tree) with :mod:`ast` -- nothing of that Home Assistant is imported -- and checks that:

* every ``homeassistant.*`` module and name the integration imports still exists;
* attributes used on them resolve (``Platform.CAMERA``, ``cv.string``, ``hass.config_entries``
  ``.async_forward_entry_setups``, ``self.async_show_menu`` in a ``ConfigFlow`` ...), as far as
  they can be followed statically through imports, annotations and base classes;
* keyword arguments passed to Home Assistant callables are still accepted;
* hooks the integration overrides (``async_camera_image``, ``handle_async_mjpeg_stream``,
  ``_attr_*`` ...) still exist on the base classes (compared with a baseline tree);
* nothing used is deprecated (``DeprecatedConstant*`` / ``_DEPRECATED_*``, ``@deprecated*``
  decorators, unconditional ``report_usage`` / ``frame.report`` or
  ``warnings.warn(..., DeprecationWarning)`` in the body of what we call).

Usage: ``python scripts/ha_compat.py [--version X] [--wheel PATH] [--no-baseline]``.
Prints a report and exits 1 when a problem is found, 2 when the wheel cannot be fetched.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
import hashlib
import importlib.util
import json
from pathlib import Path
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION_DIR = ROOT / "custom_components" / "chinesium"
CACHE_DIR = ROOT / ".venv" / "ha-compat"

PINNED_VERSION = "2026.11.0"
"""Newest ``homeassistant`` release checked by the test suite (bump deliberately)."""
PINNED_SHA256 = "7ca5fbde9dea879ac7723949fc84347aac5182e6309c357b2e4973fd391b00f7"
"""SHA-256 of ``homeassistant-<PINNED_VERSION>-py3-none-any.whl`` as published on PyPI."""
PYPI_JSON = "https://pypi.org/pypi/homeassistant/json"

OK, MISSING, DEPRECATED, NOTE = "ok", "MISSING", "DEPRECATED", "note"
PROBLEMS = frozenset({MISSING, DEPRECATED})

_DEPRECATION_DECORATORS = frozenset(
    {"deprecated", "deprecated_function", "deprecated_class", "deprecated_substitute"}
)
_DEPRECATED_CONSTANT_CALLS = frozenset(
    {"DeprecatedConstant", "DeprecatedConstantEnum", "DeprecatedAlias", "EnumWithDeprecatedMembers"}
)
_REPORT_CALLS = frozenset({"report_usage", "report", "_report_usage"})
_DEPRECATION_WARNINGS = frozenset({"DeprecationWarning", "PendingDeprecationWarning"})
_ENUM_BASES = frozenset({"Enum", "StrEnum", "IntEnum", "IntFlag", "Flag"})
_TRIVIAL_BASES = frozenset({"object", "Generic", "ABC", "Protocol", "TypedDict", "NamedTuple"})


class WheelUnavailableError(Exception):
    """The wheel is not cached and cannot be downloaded (index unreachable)."""


# ---------------------------------------------------------------------------------------------
# Home Assistant source trees
# ---------------------------------------------------------------------------------------------


class Source:
    """Read-only view of a tree holding the ``homeassistant`` package."""

    label: str

    def read(self, relpath: str) -> str | None:
        """Text of ``relpath`` (``homeassistant/core.py``) or ``None`` if absent."""
        raise NotImplementedError


class WheelSource(Source):
    """Files read from a wheel with :mod:`zipfile` (never extracted, never imported)."""

    def __init__(self, path: Path) -> None:
        """Open the wheel at ``path``."""
        self.label = path.name
        self._zip = zipfile.ZipFile(path)
        self._names = set(self._zip.namelist())

    def read(self, relpath: str) -> str | None:
        """Text of ``relpath`` inside the wheel."""
        if relpath not in self._names:
            return None
        return self._zip.read(relpath).decode("utf-8")


class DirSource(Source):
    """Files read from a directory that contains ``homeassistant/`` (site-packages)."""

    def __init__(self, root: Path, label: str | None = None) -> None:
        """Use ``root`` (the directory holding the ``homeassistant`` package)."""
        self.root = root
        self.label = label or str(root)

    def read(self, relpath: str) -> str | None:
        """Text of ``root/relpath``."""
        path = self.root / relpath
        return path.read_text(encoding="utf-8") if path.is_file() else None


def installed_source() -> DirSource | None:
    """The ``homeassistant`` installed next to this interpreter (located, not imported)."""
    spec = importlib.util.find_spec("homeassistant")
    if spec is None or not spec.submodule_search_locations:
        return None
    pkg = Path(next(iter(spec.submodule_search_locations)))
    version = "?"
    const = pkg / "const.py"
    if const.is_file():
        version = _version_from_const(const.read_text(encoding="utf-8"))
    return DirSource(pkg.parent, f"installed homeassistant {version}")


def _version_from_const(text: str) -> str:
    values: dict[str, object] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for tgt in targets:
                if (
                    isinstance(tgt, ast.Name)
                    and tgt.id in {"MAJOR_VERSION", "MINOR_VERSION", "PATCH_VERSION"}
                    and isinstance(node.value, ast.Constant)
                ):
                    values[tgt.id] = node.value.value
    return (
        f"{values.get('MAJOR_VERSION')}.{values.get('MINOR_VERSION')}.{values.get('PATCH_VERSION')}"
    )


# ---------------------------------------------------------------------------------------------
# Wheel download / cache
# ---------------------------------------------------------------------------------------------


def wheel_filename(version: str) -> str:
    """File name of the pure-Python ``homeassistant`` wheel of ``version``."""
    return f"homeassistant-{version}-py3-none-any.whl"


def _urlopen(url: str, timeout: float) -> bytes:
    if urllib.parse.urlsplit(url).scheme not in {"https", "http"}:
        raise WheelUnavailableError(f"refusing to fetch {url!r}")
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (scheme checked)
        data: bytes = resp.read()
    return data


def ensure_wheel(
    version: str = PINNED_VERSION,
    cache_dir: Path = CACHE_DIR,
    *,
    sha256: str | None = None,
    fetch: Callable[[str, float], bytes] = _urlopen,
) -> Path:
    """Return the cached wheel of ``version``, downloading it from PyPI once.

    Raises :class:`WheelUnavailableError` when it is not cached and the index cannot be
    reached, or has no wheel for ``version``.
    """
    if sha256 is None and version == PINNED_VERSION:
        sha256 = PINNED_SHA256
    dest = cache_dir / wheel_filename(version)
    if dest.is_file():
        return dest
    try:
        meta = json.loads(fetch(PYPI_JSON, 60))
    except (OSError, ValueError) as err:  # URLError and timeouts are OSErrors
        raise WheelUnavailableError(f"cannot reach the package index ({PYPI_JSON}): {err}") from err
    files = meta.get("releases", {}).get(version) or []
    wheels = [f for f in files if f.get("filename") == wheel_filename(version)]
    if not wheels:
        raise WheelUnavailableError(f"no wheel {wheel_filename(version)} on the index")
    info = wheels[0]
    expected = sha256 or info.get("digests", {}).get("sha256")
    url = urllib.parse.urljoin(PYPI_JSON, info["url"])
    try:
        data = fetch(url, 600)
    except OSError as err:
        raise WheelUnavailableError(f"cannot download {url}: {err}") from err
    digest = hashlib.sha256(data).hexdigest()
    if expected and digest != expected:
        raise ValueError(f"{wheel_filename(version)}: sha256 {digest} != expected {expected}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return dest


# ---------------------------------------------------------------------------------------------
# Index of Home Assistant modules / symbols
# ---------------------------------------------------------------------------------------------


@dataclass
class Module:
    """A parsed Home Assistant module and its top-level bindings."""

    name: str
    is_package: bool
    tree: ast.Module
    bindings: dict[str, ast.AST] = field(default_factory=dict)
    deprecated: dict[str, str] = field(default_factory=dict)
    has_getattr: bool = False


@dataclass(frozen=True)
class Sym:
    """A resolved name: ``kind`` is module, class, function, value, external or dynamic."""

    kind: str
    module: str
    name: str = ""
    node: ast.AST | None = field(default=None, compare=False, hash=False)

    @property
    def qualname(self) -> str:
        """Dotted name (``homeassistant.const.Platform``)."""
        return f"{self.module}.{self.name}" if self.name else self.module


@dataclass(frozen=True)
class Member:
    """A member found on a Home Assistant class."""

    owner: Sym
    name: str
    kind: str  # method, property, attr, class
    node: ast.AST | None = field(compare=False, hash=False)
    annotation: ast.expr | None = field(default=None, compare=False, hash=False)
    value: ast.expr | None = field(default=None, compare=False, hash=False)


def _decorator_names(node: ast.AST) -> list[str]:
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return []
    names = []
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        names.append(_tail_name(target))
    return names


def _tail_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _iter_stmts(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a module/class body including those nested in if/try/with blocks."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from _iter_stmts(stmt.body)
            yield from _iter_stmts(stmt.orelse)
        elif isinstance(stmt, ast.Try | ast.TryStar):
            yield from _iter_stmts(stmt.body)
            for handler in stmt.handlers:
                yield from _iter_stmts(handler.body)
            yield from _iter_stmts(stmt.orelse)
            yield from _iter_stmts(stmt.finalbody)
        elif isinstance(stmt, ast.With):
            yield from _iter_stmts(stmt.body)


def _assigned_names(stmt: ast.stmt) -> list[str]:
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, ast.AnnAssign | ast.AugAssign):
        targets = [stmt.target]
    names: list[str] = []
    for tgt in targets:
        for node in ast.walk(tgt):
            if isinstance(node, ast.Name):
                names.append(node.id)
    return names


# PEP 758 (Python 3.14): ``except A, B:`` without parentheses; older parsers reject it.
_BARE_EXCEPT_TUPLE = re.compile(r"^(\s*except\*?\s+)(?!\()([^\n:#]+?,[^\n:#]+?)\s*:", re.MULTILINE)


def parse_source(text: str, filename: str) -> ast.Module:
    """Parse ``text``; newer-Python syntax this interpreter lacks is rewritten first."""
    try:
        return ast.parse(text, filename)
    except SyntaxError:
        return ast.parse(_BARE_EXCEPT_TUPLE.sub(r"\1(\2):", text), filename)


class HaIndex:
    """Lazily parsed view of the ``homeassistant`` package in a :class:`Source`."""

    def __init__(self, source: Source) -> None:
        """Index ``source``."""
        self.source = source
        self._modules: dict[str, Module | None] = {}
        self._mro: dict[Sym, tuple[list[Sym], set[str]]] = {}
        self._members: dict[Sym, dict[str, Member]] = {}

    @property
    def label(self) -> str:
        """Where the sources come from."""
        return self.source.label

    def module(self, name: str) -> Module | None:
        """Parse module ``name`` (``homeassistant.helpers.event``); ``None`` if absent."""
        if name in self._modules:
            return self._modules[name]
        base = name.replace(".", "/")
        mod: Module | None = None
        for relpath, is_pkg in ((f"{base}.py", False), (f"{base}/__init__.py", True)):
            text = self.source.read(relpath)
            if text is not None:
                mod = self._build(name, is_pkg, parse_source(text, relpath))
                break
        self._modules[name] = mod
        return mod

    @staticmethod
    def _build(name: str, is_pkg: bool, tree: ast.Module) -> Module:
        mod = Module(name, is_pkg, tree)
        for stmt in _iter_stmts(tree.body):
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                mod.bindings.setdefault(stmt.name, stmt)
                if stmt.name == "__getattr__":
                    mod.has_getattr = True
            elif isinstance(stmt, ast.Import | ast.ImportFrom):
                for alias in stmt.names:
                    local = alias.asname or alias.name.split(".")[0]
                    if alias.name != "*":
                        mod.bindings.setdefault(local, stmt)
            elif isinstance(stmt, ast.TypeAlias) and isinstance(stmt.name, ast.Name):
                mod.bindings.setdefault(stmt.name.id, stmt)
            elif isinstance(stmt, ast.Assign | ast.AnnAssign):
                value = stmt.value
                for tname in _assigned_names(stmt):
                    mod.bindings.setdefault(tname, stmt)
                    if tname == "__getattr__":
                        mod.has_getattr = True
                    is_dep_call = isinstance(value, ast.Call) and (
                        _tail_name(value.func) in _DEPRECATED_CONSTANT_CALLS
                    )
                    if tname.startswith("_DEPRECATED_"):
                        mod.deprecated[tname.removeprefix("_DEPRECATED_")] = _describe_dep_const(
                            value
                        )
                    elif is_dep_call:
                        mod.deprecated[tname] = _describe_dep_const(value)
        return mod

    # -- name resolution --------------------------------------------------------------------

    def resolve(self, module: str, name: str, _depth: int = 0) -> Sym | None:
        """Resolve ``name`` as seen from module ``module``; ``None`` when it does not exist."""
        mod = self.module(module)
        if mod is None or _depth > 20:
            return None
        node = mod.bindings.get(name)
        if node is None:
            if self.module(f"{module}.{name}") is not None:
                return Sym("module", f"{module}.{name}")
            if mod.has_getattr and name in mod.deprecated:
                return Sym("value", module, name, None)
            return None
        if isinstance(node, ast.ClassDef):
            return Sym("class", module, name, node)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return Sym("function", module, name, node)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) != name:
                    continue
                target = alias.name if alias.asname else alias.name.split(".")[0]
                if target.split(".")[0] == "homeassistant":
                    return Sym("module", target) if self.module(target) else None
                return Sym("external", target)
        if isinstance(node, ast.ImportFrom):
            src = self._absolute(mod, node)
            for alias in node.names:
                if (alias.asname or alias.name) != name:
                    continue
                if src.split(".")[0] != "homeassistant":
                    return Sym("external", src, alias.name)
                return self.resolve_attr(src, alias.name, _depth + 1)
        if (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and isinstance(node.value, ast.Name | ast.Attribute)
            and name not in mod.deprecated
        ):
            # ``Platform = EntityPlatforms``: an alias of a class/function/module
            aliased = self.resolve_expr(module, node.value, _depth + 1)
            if aliased is not None and aliased.kind in {"class", "function", "module"}:
                return aliased
        return Sym("value", module, name, node)

    def resolve_attr(self, module: str, name: str, _depth: int = 0) -> Sym | None:
        """Resolve ``module.name`` (a binding of the module or a submodule)."""
        sym = self.resolve(module, name, _depth)
        if sym is None and self.module(f"{module}.{name}") is not None:
            return Sym("module", f"{module}.{name}")
        return sym

    @staticmethod
    def _absolute(mod: Module, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = mod.name.split(".")
        if not mod.is_package:
            parts = parts[:-1]
        if node.level > 1:
            parts = parts[: len(parts) - (node.level - 1)]
        return ".".join([*parts, node.module] if node.module else parts)

    def resolve_expr(self, module: str, expr: ast.expr | None, _depth: int = 0) -> Sym | None:
        """Resolve a dotted name/annotation expression in ``module`` to a symbol."""
        if expr is None or _depth > 20:
            return None
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            try:
                parsed = ast.parse(expr.value, mode="eval").body
            except SyntaxError:
                return None
            return self.resolve_expr(module, parsed)
        if isinstance(expr, ast.Subscript):
            return self.resolve_expr(module, expr.value)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
            for side in (expr.left, expr.right):
                if isinstance(side, ast.Constant) and side.value is None:
                    continue
                if (sym := self.resolve_expr(module, side)) is not None:
                    return sym
            return None
        if isinstance(expr, ast.Name):
            sym = self.resolve(module, expr.id, _depth + 1)
            if sym is not None and sym.kind == "value" and isinstance(sym.node, ast.TypeAlias):
                return self.resolve_expr(sym.module, sym.node.value, _depth + 1)
            return sym
        if isinstance(expr, ast.Attribute):
            base = self.resolve_expr(module, expr.value)
            if base is None:
                return None
            if base.kind == "module":
                return self.resolve_attr(base.module, expr.attr)
            if base.kind == "class":
                member = self.lookup(base, expr.attr)
                if isinstance(member, Member) and member.kind == "class":
                    return Sym("class", member.owner.module, expr.attr, member.node)
            return None
        return None

    # -- classes ------------------------------------------------------------------------------

    def bases(self, cls: Sym) -> tuple[list[Sym], list[str]]:
        """Home Assistant base classes of ``cls`` and the names of external bases."""
        assert isinstance(cls.node, ast.ClassDef)
        ha: list[Sym] = []
        external: list[str] = []
        for base in cls.node.bases:
            sym = self.resolve_expr(cls.module, base)
            if sym is not None and sym.kind == "class":
                ha.append(sym)
            else:
                name = _tail_name(base.value if isinstance(base, ast.Subscript) else base)
                external.append(name or "?")
        return ha, external

    def mro(self, cls: Sym) -> tuple[list[Sym], set[str]]:
        """Depth-first linearisation of HA classes, plus external base names met on the way."""
        if cls in self._mro:
            return self._mro[cls]
        seen: list[Sym] = []
        external: set[str] = set()

        def visit(c: Sym) -> None:
            if c in seen:
                return
            seen.append(c)
            ha, ext = self.bases(c)
            external.update(ext)
            for b in ha:
                visit(b)

        visit(cls)
        self._mro[cls] = (seen, external)
        return seen, external

    def class_members(self, cls: Sym) -> dict[str, Member]:
        """Members defined directly by ``cls`` (body, annotations, ``self.x`` in methods)."""
        if cls in self._members:
            return self._members[cls]
        node = cls.node
        assert isinstance(node, ast.ClassDef)
        out: dict[str, Member] = {}
        for stmt in _iter_stmts(node.body):
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                decos = _decorator_names(stmt)
                is_prop = any(
                    d in {"property", "cached_property", "under_cached_property"} for d in decos
                )
                if stmt.name in out and not is_prop:
                    continue  # keep the getter of a property with a setter
                kind = "property" if is_prop else "method"
                out[stmt.name] = Member(cls, stmt.name, kind, stmt, stmt.returns)
            elif isinstance(stmt, ast.ClassDef):
                out.setdefault(stmt.name, Member(cls, stmt.name, "class", stmt))
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                out.setdefault(
                    stmt.target.id,
                    Member(cls, stmt.target.id, "attr", stmt, stmt.annotation, stmt.value),
                )
            elif isinstance(stmt, ast.Assign):
                for tname in _assigned_names(stmt):
                    out.setdefault(tname, Member(cls, tname, "attr", stmt, None, stmt.value))
        for stmt in node.body:
            if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for sub in ast.walk(stmt):
                tgt: ast.expr | None = None
                ann: ast.expr | None = None
                value: ast.expr | None = None
                if isinstance(sub, ast.AnnAssign):
                    tgt, ann, value = sub.target, sub.annotation, sub.value
                elif isinstance(sub, ast.Assign) and len(sub.targets) == 1:
                    tgt, value = sub.targets[0], sub.value
                if (
                    isinstance(tgt, ast.Attribute)
                    and isinstance(tgt.value, ast.Name)
                    and tgt.value.id == "self"
                ):
                    prev = out.get(tgt.attr)
                    if prev is None or (prev.annotation is None and ann is not None):
                        out[tgt.attr] = Member(cls, tgt.attr, "attr", sub, ann, value)
        self._members[cls] = out
        return out

    def lookup(self, cls: Sym, attr: str) -> Member | str | None:
        """Find ``attr`` on ``cls`` or its HA bases.

        Returns the :class:`Member`, ``"external"`` when it may come from a non-HA base we
        cannot see, or ``None`` when it does not exist.
        """
        classes, external = self.mro(cls)
        for c in classes:
            member = self.class_members(c).get(attr)
            if member is not None:
                return member
        if any("__getattr__" in self.class_members(c) for c in classes):
            return "external"  # dynamic attributes
        if any(e in _ENUM_BASES for e in external):
            if attr in {"name", "value", "_value_", "_name_"} or not attr.isupper():
                return "external"
            return None
        if external - _TRIVIAL_BASES:
            return "external"
        if attr.startswith("__") and attr.endswith("__"):
            return "external"  # object's dunders
        return None

    def is_enum(self, cls: Sym) -> bool:
        """``cls`` derives from an :mod:`enum` class."""
        return bool(self.mro(cls)[1] & _ENUM_BASES)

    def is_typeddict(self, cls: Sym) -> bool:
        """``cls`` is a ``TypedDict``."""
        return "TypedDict" in self.mro(cls)[1]

    def is_dataclass(self, cls: Sym) -> bool:
        """``cls`` is decorated with ``@dataclass``."""
        return "dataclass" in _decorator_names(cls.node) if cls.node else False

    def constructor(self, cls: Sym) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The ``__init__`` that ``cls(...)`` runs, if it is defined in Home Assistant."""
        if self.is_typeddict(cls) or self.is_dataclass(cls):
            return None
        for c in self.mro(cls)[0]:
            init = self.class_members(c).get("__init__")
            if init is not None and isinstance(init.node, ast.FunctionDef | ast.AsyncFunctionDef):
                return init.node
        return None

    def constructor_params(self, cls: Sym) -> tuple[set[str], bool] | None:
        """Keyword names accepted by ``cls(...)``: ``(names, takes_any)``; ``None``: unknown."""
        classes, external = self.mro(cls)
        if self.is_typeddict(cls) or self.is_dataclass(cls):
            names: set[str] = set()
            for c in classes:
                for m in self.class_members(c).values():
                    if m.kind == "attr" and isinstance(m.node, ast.AnnAssign):
                        names.add(m.name)
            return names, False
        for c in classes:
            init = self.class_members(c).get("__init__")
            if init is not None and isinstance(init.node, ast.FunctionDef | ast.AsyncFunctionDef):
                return function_params(init.node)
        if external - _TRIVIAL_BASES:
            return None
        return set(), False


def function_params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[set[str], bool]:
    """Keyword-passable parameter names of a function and whether it takes ``**kwargs``."""
    args = node.args
    names = {a.arg for a in (*args.args, *args.kwonlyargs)}
    return names, args.kwarg is not None


def _describe_dep_const(value: ast.expr | None) -> str:
    if isinstance(value, ast.Call):
        parts = [ast.unparse(a) for a in value.args[1:]]
        return f"{_tail_name(value.func)}({', '.join(parts)})" if parts else _tail_name(value.func)
    return "_DEPRECATED_ constant"


# ---------------------------------------------------------------------------------------------
# Deprecation detection in HA definitions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deprecation:
    """A deprecation marker found in a definition; ``condition`` is set when it is guarded."""

    reason: str
    condition: str | None = None
    guard_params: frozenset[str] = frozenset()


def _is_report_call(node: ast.Call) -> str | None:
    name = _tail_name(node.func)
    if name in _REPORT_CALLS:
        msg = node.args[0] if node.args else None
        text = ast.unparse(msg) if msg is not None else ""
        return f"{_dotted(node.func)}({text[:90]})"
    if name == "warn" and any(
        _tail_name(a) in _DEPRECATION_WARNINGS
        for a in (*node.args, *(k.value for k in node.keywords))
    ):
        msg = node.args[0] if node.args else None
        return (
            f"warnings.warn({ast.unparse(msg)[:90] if msg is not None else ''}, DeprecationWarning)"
        )
    return None


def body_deprecations(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[Deprecation]:
    """``report_usage``/``warnings.warn(DeprecationWarning)`` calls in a function body."""
    found: list[Deprecation] = []
    params = {a.arg for a in (*func.args.args, *func.args.kwonlyargs, *func.args.posonlyargs)}

    def visit(stmts: list[ast.stmt], conds: list[ast.expr]) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue  # nested definitions run later, if ever
            if isinstance(stmt, ast.If | ast.While):
                visit(stmt.body, [*conds, stmt.test])
                visit(stmt.orelse, [*conds, ast.UnaryOp(ast.Not(), stmt.test)])
                continue
            if isinstance(stmt, ast.For | ast.AsyncFor):
                visit(stmt.body, [*conds, ast.Name("<loop>")])
                visit(stmt.orelse, conds)
                continue
            if isinstance(stmt, ast.Try | ast.TryStar):
                visit(stmt.body, conds)
                for handler in stmt.handlers:
                    visit(
                        handler.body,
                        [
                            *conds,
                            ast.Name(
                                f"<except {ast.unparse(handler.type) if handler.type else ''}>"
                            ),
                        ],
                    )
                visit(stmt.orelse, conds)
                visit(stmt.finalbody, conds)
                continue
            if isinstance(stmt, ast.With | ast.AsyncWith):
                visit(stmt.body, conds)
                continue
            if isinstance(stmt, ast.Match):
                for case in stmt.cases:
                    visit(case.body, [*conds, ast.Name("<match>")])
                continue
            for node in ast.walk(stmt):
                if isinstance(node, ast.Call) and (desc := _is_report_call(node)):
                    if conds:
                        cond = " and ".join(ast.unparse(c) for c in conds)
                        guards = frozenset(
                            n.id
                            for c in conds
                            for n in ast.walk(c)
                            if isinstance(n, ast.Name) and n.id in params - {"self", "cls"}
                        ) | frozenset(
                            n.attr
                            for c in conds
                            for n in ast.walk(c)
                            if isinstance(n, ast.Attribute)
                            and isinstance(n.value, ast.Name)
                            and n.value.id == "self"
                            and n.attr in params
                        )
                        found.append(Deprecation(desc, cond, guards))
                    else:
                        found.append(Deprecation(desc))

    visit(func.body, [])
    doc = ast.get_docstring(func) or ""
    if doc.lower().startswith("deprecated"):
        found.append(Deprecation(f"docstring: {doc.splitlines()[0][:90]}"))
    return found


def definition_deprecations(
    index: HaIndex, sym: Sym | Member, *, init: str = "all"
) -> list[Deprecation]:
    """Deprecation markers on a symbol/member: decorators, constants, body reports.

    For a class, ``init`` selects the ``__init__``/``__init_subclass__`` reports included:
    ``"all"`` (we instantiate it), ``"unconditional"`` (we subclass it) or ``"none"``.
    """
    out: list[Deprecation] = []
    node = sym.node
    if isinstance(sym, Sym) and sym.name:
        mod = index.module(sym.module)
        if mod is not None and sym.name in mod.deprecated:
            out.append(Deprecation(f"{sym.name} is deprecated: {mod.deprecated[sym.name]}"))
    if (
        isinstance(node, ast.Assign | ast.AnnAssign)
        and isinstance(node.value, ast.Call)
        and _tail_name(node.value.func) in _DEPRECATED_CONSTANT_CALLS
    ):
        out.append(Deprecation(_describe_dep_const(node.value)))
    for name in _decorator_names(node) if node is not None else []:
        if name in _DEPRECATION_DECORATORS:
            out.append(Deprecation(f"@{name}"))
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        out.extend(body_deprecations(node))
    if isinstance(sym, Sym) and sym.kind == "class":
        for c in index.mro(sym)[0]:
            for dec in _decorator_names(c.node) if c.node is not None else []:
                if dec in _DEPRECATION_DECORATORS and c != sym:
                    out.append(Deprecation(f"base {c.name} is @{dec}"))
            for hook in ("__init__", "__init_subclass__"):
                m = index.class_members(c).get(hook)
                if init == "none" or m is None:
                    continue
                if isinstance(m.node, ast.FunctionDef | ast.AsyncFunctionDef):
                    for dep in body_deprecations(m.node):
                        if init == "unconditional" and dep.condition is not None:
                            continue
                        out.append(
                            Deprecation(
                                f"{c.name}.{hook}: {dep.reason}", dep.condition, dep.guard_params
                            )
                        )
    return out


# ---------------------------------------------------------------------------------------------
# Integration analysis
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VHa:
    """A Home Assistant module/class/function/value object."""

    sym: Sym


@dataclass(frozen=True)
class VInstance:
    """An instance of an HA class or of one of our classes (``cls`` is a Sym or a LocalClass)."""

    cls: Sym | LocalClass


@dataclass(frozen=True)
class VMember:
    """A member of an HA class reached through an instance (bound) or its class."""

    member: Member
    bound: bool = True


@dataclass(frozen=True)
class VLocalClassObj:
    """One of our own classes (the class object)."""

    cls: LocalClass


@dataclass(frozen=True)
class VSuper:
    """``super()`` inside a method of one of our classes."""

    cls: LocalClass


Value = VHa | VInstance | VMember | VLocalClassObj | VSuper


@dataclass(eq=False)
class LocalClass:
    """A class of the integration, with its own members and HA bases."""

    module: str
    name: str
    node: ast.ClassDef
    file: str
    members: dict[str, ast.AST] = field(default_factory=dict)
    bases: list[Value] = field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    """One checked name: ``status`` is ok, MISSING, DEPRECATED or note."""

    status: str
    target: str
    kind: str
    where: str
    detail: str = ""


@dataclass
class LocalModule:
    """A parsed module of the integration."""

    name: str
    file: str
    tree: ast.Module
    is_package: bool = False
    scope: dict[str, ast.AST] = field(default_factory=dict)


class Checker:
    """Walks the integration and checks every HA name it uses against an :class:`HaIndex`."""

    def __init__(
        self, integration_dir: Path, index: HaIndex, baseline: HaIndex | None = None
    ) -> None:
        """Check the integration at ``integration_dir`` against ``index``."""
        self.dir = integration_dir
        self.index = index
        self.baseline = baseline
        self.package = f"custom_components.{integration_dir.name}"
        self.modules: dict[str, LocalModule] = {}
        self.classes: dict[tuple[str, str], LocalClass] = {}
        self.findings: dict[tuple[str, str, str], Finding] = {}
        self._cache: dict[tuple[int, str], Value | None] = {}
        self._busy: set[tuple[int, str]] = set()

    # -- entry point ----------------------------------------------------------------------------

    def run(self) -> list[Finding]:
        """Analyse every ``.py`` of the integration; return the findings, sorted."""
        for path in sorted(self.dir.rglob("*.py")):
            rel = path.relative_to(self.dir)
            parts = [*rel.parts[:-1]] + ([] if rel.name == "__init__.py" else [rel.stem])
            name = ".".join([self.package, *parts])
            file = (
                str(path.relative_to(self.dir.parent.parent))
                if self._under_root(path)
                else str(path)
            )
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            mod = LocalModule(name, file, tree, is_package=rel.name == "__init__.py")
            for stmt in _iter_stmts(tree.body):
                self._bind(mod.scope, stmt)
            self.modules[name] = mod
            for stmt in _iter_stmts(tree.body):
                if isinstance(stmt, ast.ClassDef):
                    self.classes[(name, stmt.name)] = LocalClass(name, stmt.name, stmt, file)
        for mod in self.modules.values():
            self._check_imports(mod)
        for cls in self.classes.values():
            self._init_class(cls)
        for cls in self.classes.values():
            self._check_overrides(cls)
        for mod in self.modules.values():
            self._walk_body(mod, mod.tree.body, {}, None)
        order = {MISSING: 0, DEPRECATED: 1, NOTE: 2, OK: 3}
        return sorted(self.findings.values(), key=lambda f: (order[f.status], f.target, f.where))

    def _under_root(self, path: Path) -> bool:
        try:
            path.relative_to(self.dir.parent.parent)
        except ValueError:
            return False
        return True

    @staticmethod
    def _bind(scope: dict[str, ast.AST], stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            scope.setdefault(stmt.name, stmt)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                scope.setdefault(alias.asname or alias.name.split(".")[0], stmt)
        elif isinstance(stmt, ast.TypeAlias) and isinstance(stmt.name, ast.Name):
            scope.setdefault(stmt.name.id, stmt)
        elif isinstance(stmt, ast.Assign | ast.AnnAssign):
            for tname in _assigned_names(stmt):
                scope.setdefault(tname, stmt)

    def _add(
        self,
        status: str,
        target: str,
        kind: str,
        mod: LocalModule,
        node: ast.AST,
        *,
        detail: str = "",
    ) -> None:
        where = f"{mod.file}:{getattr(node, 'lineno', 0)}"
        key = (target, where, kind)
        prev = self.findings.get(key)
        order = {MISSING: 0, DEPRECATED: 1, NOTE: 2, OK: 3}
        if prev is None or order[status] < order[prev.status]:
            self.findings[key] = Finding(status, target, kind, where, detail)

    def _report_deprecations(
        self,
        target: Sym | Member,
        name: str,
        mod: LocalModule,
        node: ast.AST,
        passed: set[str] | None = None,
        *,
        init: str = "all",
        conditional: bool = True,
    ) -> None:
        for dep in definition_deprecations(self.index, target, init=init):
            if dep.condition is not None and not conditional:
                continue  # reported where it is called, with the arguments we pass
            if dep.condition is None:
                self._add(DEPRECATED, name, "deprecation", mod, node, detail=dep.reason)
            elif passed is not None and dep.guard_params and dep.guard_params <= passed:
                self._add(
                    OK,
                    name,
                    "guarded report",
                    mod,
                    node,
                    detail=f"we pass {', '.join(sorted(dep.guard_params))}; "
                    f"guarded: if {dep.condition[:80]}",
                )
            else:
                self._add(
                    NOTE,
                    name,
                    "conditional report",
                    mod,
                    node,
                    detail=f"if {dep.condition[:100]}: {dep.reason}",
                )

    # -- imports ----------------------------------------------------------------------------------

    def _local_absolute(self, mod: LocalModule, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = mod.name.split(".")
        if not mod.is_package:
            parts = parts[:-1]
        if node.level > 1:
            parts = parts[: len(parts) - (node.level - 1)]
        return ".".join([*parts, node.module] if node.module else parts)

    def _check_imports(self, mod: LocalModule) -> None:
        for stmt in _iter_stmts(mod.tree.body):
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.name.split(".")[0] == "homeassistant":
                        ok = self.index.module(alias.name) is not None
                        self._add(OK if ok else MISSING, alias.name, "module", mod, stmt)
            elif isinstance(stmt, ast.ImportFrom):
                src = self._local_absolute(mod, stmt)
                if src.split(".")[0] != "homeassistant":
                    continue
                if self.index.module(src) is None:
                    self._add(MISSING, src, "module", mod, stmt)
                    continue
                self._add(OK, src, "module", mod, stmt)
                for alias in stmt.names:
                    sym = self.index.resolve_attr(src, alias.name)
                    target = f"{src}.{alias.name}"
                    if sym is None:
                        self._add(MISSING, target, "import", mod, stmt)
                        continue
                    self._add(OK, target, f"import ({sym.kind})", mod, stmt)
                    self._report_deprecations(sym, target, mod, stmt, init="none")

    # -- classes ----------------------------------------------------------------------------------

    def _init_class(self, cls: LocalClass) -> None:
        mod = self.modules[cls.module]
        for stmt in _iter_stmts(cls.node.body):
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                cls.members.setdefault(stmt.name, stmt)
            elif isinstance(stmt, ast.Assign | ast.AnnAssign):
                for tname in _assigned_names(stmt):
                    cls.members.setdefault(tname, stmt)
        for sub in ast.walk(cls.node):
            if isinstance(sub, ast.Assign | ast.AnnAssign):
                targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                for tgt in targets:
                    if (
                        isinstance(tgt, ast.Attribute)
                        and isinstance(tgt.value, ast.Name)
                        and tgt.value.id == "self"
                    ):
                        cls.members.setdefault(tgt.attr, sub)
        for base in cls.node.bases:
            val = self._eval(mod, base.value if isinstance(base, ast.Subscript) else base, {}, None)
            if val is not None:
                cls.bases.append(val)
            if isinstance(val, VHa) and val.sym.kind == "class":
                self._report_deprecations(
                    val.sym, val.sym.qualname, mod, base, init="unconditional"
                )
        for kw in cls.node.keywords:
            self._eval(mod, kw.value, {}, None)

    def _ha_bases(self, cls: LocalClass, _seen: set[int] | None = None) -> list[Sym]:
        seen = _seen if _seen is not None else set()
        if id(cls) in seen:
            return []
        seen.add(id(cls))
        out: list[Sym] = []
        for base in cls.bases:
            if isinstance(base, VHa) and base.sym.kind == "class":
                out.append(base.sym)
            elif isinstance(base, VLocalClassObj):
                out.extend(self._ha_bases(base.cls, seen))
        return out

    def _local_mro(self, cls: LocalClass) -> list[LocalClass]:
        out = [cls]
        for base in cls.bases:
            if isinstance(base, VLocalClassObj):
                for c in self._local_mro(base.cls):
                    if c not in out:
                        out.append(c)
        return out

    def _lookup_on(self, index: HaIndex, bases: list[Sym], attr: str) -> Member | str | None:
        result: Member | str | None = None
        for base in bases:
            found = index.lookup(base, attr)
            if isinstance(found, Member):
                return found
            if found == "external":
                result = "external"
        return result

    def _check_overrides(self, cls: LocalClass) -> None:
        bases = self._ha_bases(cls)
        if not bases:
            return
        mod = self.modules[cls.module]
        base_names = ", ".join(b.name for b in bases)
        for name, node in cls.members.items():
            if name in {"__init__", "__doc__", "__module__", "__qualname__"} or isinstance(
                node, ast.ClassDef
            ):
                continue
            is_self_attr = not any(node is s for s in cls.node.body)
            found = self._lookup_on(self.index, bases, name)
            if isinstance(found, Member):
                target = f"{found.owner.qualname}.{name}"
                if is_self_attr and not name.startswith("_attr_"):
                    # ``self.x = ...`` that shadows a base attribute: only report the name
                    self._add(OK, target, "attribute (assigned)", mod, node)
                else:
                    self._add(OK, target, "override", mod, node)
                self._report_deprecations(found, target, mod, node, conditional=False)
                continue
            if self.baseline is not None:
                old = self._lookup_on(self.baseline, self._rebase(bases), name)
                if isinstance(old, Member):
                    self._add(
                        MISSING,
                        f"{old.owner.qualname}.{name}",
                        "override",
                        mod,
                        node,
                        detail=f"no longer defined on {base_names}: the override is dead code",
                    )

    def _rebase(self, bases: list[Sym]) -> list[Sym]:
        assert self.baseline is not None
        out: list[Sym] = []
        for b in bases:
            sym = self.baseline.resolve(b.module, b.name)
            if sym is not None and sym.kind == "class":
                out.append(sym)
        return out

    # -- expressions ------------------------------------------------------------------------------

    def _walk_body(
        self,
        mod: LocalModule,
        body: list[ast.stmt],
        local: dict[str, ast.AST],
        cls: LocalClass | None,
        self_cls: LocalClass | None = None,
    ) -> None:
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                lc = self.classes.get((mod.name, stmt.name))
                self._walk_body(mod, stmt.body, {}, lc, None)
                continue
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                self._walk_function(mod, stmt, local, cls, self_cls)
                continue
            self._walk_exprs(mod, stmt, local, self_cls)

    def _walk_function(
        self,
        mod: LocalModule,
        func: ast.FunctionDef | ast.AsyncFunctionDef,
        outer: dict[str, ast.AST],
        cls: LocalClass | None,
        outer_self: LocalClass | None,
    ) -> None:
        local: dict[str, ast.AST] = dict(outer)
        self_cls = outer_self
        all_args = [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]
        is_static = "staticmethod" in _decorator_names(func)
        for i, arg in enumerate(all_args):
            if i == 0 and cls is not None and not is_static and arg.arg == "self":
                self_cls = cls
                local.pop("self", None)
                continue
            local[arg.arg] = arg
        for dec in func.decorator_list:
            self._walk_exprs(mod, dec, outer, outer_self)
        for arg in all_args:
            if arg.annotation is not None:
                self._walk_exprs(mod, arg.annotation, outer, outer_self)
        if func.returns is not None:
            self._walk_exprs(mod, func.returns, outer, outer_self)
        for stmt in _walk_stmts_shallow(func.body):
            if isinstance(stmt, ast.Assign | ast.AnnAssign):
                for tname in _assigned_names(stmt):
                    local.setdefault(tname, stmt)
            elif isinstance(stmt, ast.For | ast.AsyncFor | ast.With | ast.AsyncWith):
                targets = (
                    [stmt.target]
                    if isinstance(stmt, ast.For | ast.AsyncFor)
                    else [i.optional_vars for i in stmt.items if i.optional_vars is not None]
                )
                for tgt in targets:
                    for n in ast.walk(tgt):
                        if isinstance(n, ast.Name):
                            local.setdefault(n.id, ast.Pass())
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                local[stmt.name] = stmt
        self._walk_body(mod, func.body, local, None, self_cls)

    def _walk_exprs(
        self,
        mod: LocalModule,
        node: ast.AST,
        local: dict[str, ast.AST],
        self_cls: LocalClass | None,
    ) -> None:
        stack = [node]
        while stack:
            cur = stack.pop()
            if isinstance(cur, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self._walk_body(mod, [cur], local, None, self_cls)
                continue
            if isinstance(cur, ast.Lambda):
                continue
            if isinstance(cur, ast.Attribute | ast.Call) and isinstance(cur, ast.expr):
                self._eval(mod, cur, local, self_cls)
            if isinstance(cur, ast.NamedExpr) and isinstance(cur.target, ast.Name):
                local.setdefault(cur.target.id, cur)
            stack.extend(ast.iter_child_nodes(cur))

    def _eval(
        self,
        mod: LocalModule,
        expr: ast.expr,
        local: dict[str, ast.AST],
        self_cls: LocalClass | None,
    ) -> Value | None:
        key = (id(expr), mod.name)
        if key in self._cache:
            return self._cache[key]
        if key in self._busy:
            return None
        self._busy.add(key)
        try:
            val = self._eval_uncached(mod, expr, local, self_cls)
        finally:
            self._busy.discard(key)
        self._cache[key] = val
        return val

    def _eval_uncached(
        self,
        mod: LocalModule,
        expr: ast.expr,
        local: dict[str, ast.AST],
        self_cls: LocalClass | None,
    ) -> Value | None:
        if isinstance(expr, ast.Name):
            if expr.id == "self" and self_cls is not None:
                return VInstance(self_cls)
            return self._eval_name(mod, expr.id, local, self_cls)
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            try:
                parsed = ast.parse(expr.value, mode="eval").body
            except SyntaxError:
                return None
            return self._eval(mod, parsed, local, self_cls)
        if isinstance(expr, ast.Subscript):
            return None
        if isinstance(expr, ast.Await):
            return self._eval(mod, expr.value, local, self_cls)
        if isinstance(expr, ast.Attribute):
            base = self._eval(mod, expr.value, local, self_cls)
            return self._attr(mod, expr, base)
        if isinstance(expr, ast.Call):
            return self._call(mod, expr, local, self_cls)
        return None

    def _eval_name(
        self, mod: LocalModule, name: str, local: dict[str, ast.AST], self_cls: LocalClass | None
    ) -> Value | None:
        node = local.get(name)
        if node is None:
            node = mod.scope.get(name)
            local = {}
            self_cls = None
        if node is None:
            return None
        if isinstance(node, ast.arg):
            return self._as_type(mod, node.annotation, {}, None)
        if isinstance(node, ast.ClassDef):
            lc = self.classes.get((mod.name, node.name))
            return VLocalClassObj(lc) if lc else None
        if isinstance(node, ast.TypeAlias):
            return self._eval(
                mod,
                node.value.value if isinstance(node.value, ast.Subscript) else node.value,
                {},
                None,
            )
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) == name:
                    target = alias.name if alias.asname else alias.name.split(".")[0]
                    if target.split(".")[0] == "homeassistant":
                        return VHa(Sym("module", target)) if self.index.module(target) else None
            return None
        if isinstance(node, ast.ImportFrom):
            src = self._local_absolute(mod, node)
            for alias in node.names:
                if (alias.asname or alias.name) != name:
                    continue
                if src.split(".")[0] == "homeassistant":
                    sym = self.index.resolve_attr(src, alias.name)
                    return VHa(sym) if sym is not None else None
                if src in self.modules:
                    other = self.modules[src]
                    if (src, alias.name) in self.classes:
                        return VLocalClassObj(self.classes[(src, alias.name)])
                    return self._eval_name(other, alias.name, {}, None)
                sub = f"{src}.{alias.name}"
                if sub in self.modules:
                    return None
            return None
        if isinstance(node, ast.AnnAssign):
            return self._as_type(mod, node.annotation, local, self_cls)
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            return self._instance_of(self._eval(mod, node.value, local, self_cls), node.value)
        if isinstance(node, ast.NamedExpr):
            return self._eval(mod, node.value, local, self_cls)
        return None

    @staticmethod
    def _instance_of(val: Value | None, value_expr: ast.expr) -> Value | None:
        """A value bound by ``x = <expr>``: calls already return instances."""
        return val

    def _as_type(
        self,
        mod: LocalModule,
        ann: ast.expr | None,
        local: dict[str, ast.AST],
        self_cls: LocalClass | None,
    ) -> Value | None:
        if ann is None:
            return None
        if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
            for side in (ann.left, ann.right):
                is_none = isinstance(side, ast.Constant) and side.value is None
                if not is_none and (v := self._as_type(mod, side, local, self_cls)) is not None:
                    return v
            return None
        if isinstance(ann, ast.Subscript):
            return self._as_type(mod, ann.value, local, self_cls)
        if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
            try:
                return self._as_type(mod, ast.parse(ann.value, mode="eval").body, local, self_cls)
            except SyntaxError:
                return None
        val = self._eval(mod, ann, local, self_cls)
        if isinstance(val, VHa) and val.sym.kind == "class":
            return VInstance(val.sym)
        if isinstance(val, VLocalClassObj):
            return VInstance(val.cls)
        if isinstance(val, VInstance):  # a type alias evaluated to an instance already
            return val
        return None

    def _ha_type(self, module: str, ann: ast.expr | None) -> Value | None:
        """Instance type of an annotation written in HA module ``module``."""
        sym = self.index.resolve_expr(module, ann)
        if sym is not None and sym.kind == "class":
            return VInstance(sym)
        return None

    def _member_value(self, member: Member) -> Value | None:
        """What reading ``member`` on an instance gives (its type, if we can tell)."""
        module = member.owner.module
        if member.kind == "property":
            return self._ha_type(module, member.annotation)
        if member.kind in {"method"}:
            return VMember(member)
        if member.kind == "class":
            return VHa(Sym("class", module, member.name, member.node))
        if member.annotation is not None:
            return self._ha_type(module, member.annotation)
        if isinstance(member.value, ast.Call):
            sym = self.index.resolve_expr(module, member.value.func)
            if sym is not None and sym.kind == "class":
                return VInstance(sym)
        return None

    def _attr(self, mod: LocalModule, expr: ast.Attribute, base: Value | None) -> Value | None:
        attr = expr.attr
        if isinstance(base, VHa):
            sym = base.sym
            if sym.kind == "module":
                target = f"{sym.module}.{attr}"
                found = self.index.resolve_attr(sym.module, attr)
                if found is None:
                    self._add(MISSING, target, "module attribute", mod, expr)
                    return None
                self._add(OK, target, f"module attribute ({found.kind})", mod, expr)
                self._report_deprecations(
                    found, target, mod, expr, init="unconditional", conditional=False
                )
                return VHa(found)
            if sym.kind == "class":
                member = self.index.lookup(sym, attr)
                target = f"{sym.qualname}.{attr}"
                if member is None:
                    self._add(MISSING, target, "class attribute", mod, expr)
                    return None
                if member == "external":
                    self._add(
                        NOTE,
                        target,
                        "class attribute",
                        mod,
                        expr,
                        detail="inherited from a non-HA base",
                    )
                    return None
                assert isinstance(member, Member)
                target = f"{member.owner.qualname}.{attr}"
                kind = (
                    "enum member"
                    if self.index.is_enum(sym) and attr.isupper()
                    else f"class {member.kind}"
                )
                self._add(OK, target, kind, mod, expr)
                self._report_deprecations(
                    member, target, mod, expr, init="unconditional", conditional=False
                )
                if kind == "enum member":
                    return VInstance(sym)
                if member.kind == "method":
                    return VMember(member, bound=False)
                return self._member_value(member)
            return None
        if isinstance(base, VInstance | VSuper):
            cls = base.cls
            if isinstance(cls, LocalClass):
                if not isinstance(base, VSuper):
                    for lc in self._local_mro(cls):
                        if attr in lc.members:
                            return self._local_member_value(lc, attr)
                bases = self._ha_bases(cls)
                if not bases:
                    return None
                hit = self._lookup_on(self.index, bases, attr)
                owner = ", ".join(b.name for b in bases)
            else:
                hit = self.index.lookup(cls, attr)
                owner = cls.qualname
            if hit is None:
                self._add(MISSING, f"{owner}.{attr}", "instance attribute", mod, expr)
                return None
            if not isinstance(hit, Member):
                return None  # may come from a base outside Home Assistant
            target = f"{hit.owner.qualname}.{attr}"
            self._add(OK, target, f"instance {hit.kind}", mod, expr)
            if hit.kind != "method":
                self._report_deprecations(hit, target, mod, expr, None)
            return self._member_value(hit)
        return None

    def _local_member_value(self, lc: LocalClass, attr: str) -> Value | None:
        node = lc.members[attr]
        mod = self.modules[lc.module]
        if isinstance(node, ast.AnnAssign):
            return self._as_type(mod, node.annotation, {}, None)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if "property" in _decorator_names(node):
                return self._as_type(mod, node.returns, {}, None)
            return None
        return None

    def _call(
        self,
        mod: LocalModule,
        expr: ast.Call,
        local: dict[str, ast.AST],
        self_cls: LocalClass | None,
    ) -> Value | None:
        func = expr.func
        if isinstance(func, ast.Name) and func.id == "super" and self_cls is not None:
            return VSuper(self_cls)
        callee = self._eval(mod, func, local, self_cls)
        kwargs = {kw.arg for kw in expr.keywords if kw.arg is not None}
        if isinstance(callee, VHa) and callee.sym.kind == "class":
            sym = callee.sym
            params = self.index.constructor_params(sym)
            self._check_kwargs(mod, expr, f"{sym.qualname}", params, kwargs)
            init = self.index.constructor(sym)
            if init is not None:
                self._check_shape(mod, expr, sym.qualname, init, bound=True)
            self._report_deprecations(sym, sym.qualname, mod, expr, kwargs)
            return VInstance(sym)
        if isinstance(callee, VHa) and callee.sym.kind == "function":
            node = callee.sym.node
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            self._check_kwargs(mod, expr, callee.sym.qualname, function_params(node), kwargs)
            self._check_shape(mod, expr, callee.sym.qualname, node, bound=False)
            self._report_deprecations(
                callee.sym,
                callee.sym.qualname,
                mod,
                expr,
                kwargs | self._positional_names(node, expr),
            )
            return self._ha_type(callee.sym.module, node.returns)
        if isinstance(callee, VMember) and isinstance(
            callee.member.node, ast.FunctionDef | ast.AsyncFunctionDef
        ):
            member = callee.member
            node = callee.member.node
            target = f"{member.owner.qualname}.{member.name}"
            self._check_kwargs(mod, expr, target, function_params(node), kwargs)
            self._check_shape(mod, expr, target, node, bound=callee.bound)
            self._report_deprecations(
                member,
                target,
                mod,
                expr,
                kwargs | self._positional_names(node, expr, bound=callee.bound),
            )
            if member.name == "__init__":
                return None
            return self._ha_type(member.owner.module, node.returns)
        if isinstance(callee, VLocalClassObj):
            return VInstance(callee.cls)
        return None

    def _check_shape(
        self,
        mod: LocalModule,
        call: ast.Call,
        target: str,
        node: ast.FunctionDef | ast.AsyncFunctionDef,
        *,
        bound: bool,
    ) -> None:
        """Positional count and required parameters of ``call`` against ``node``'s signature."""
        if any(isinstance(a, ast.Starred) for a in call.args) or any(
            kw.arg is None for kw in call.keywords
        ):
            return  # *args / **kwargs at the call site: cannot tell
        args = node.args
        pos = [*args.posonlyargs, *args.args]
        n_defaults = len(args.defaults)
        required = pos[: len(pos) - n_defaults]
        decos = _decorator_names(node)
        if (bound and "staticmethod" not in decos) or "classmethod" in decos:
            pos, required = pos[1:], required[1:]
        given = len(call.args)
        keywords = {kw.arg for kw in call.keywords}
        name = f"{target}(...)"
        if given > len(pos) and args.vararg is None:
            detail = f"{given} positional arguments given, it takes {len(pos)}"
            self._add(MISSING, name, "call signature", mod, call, detail=detail)
            return
        missing = [a.arg for a in required[given:] if a.arg not in keywords]
        missing += [
            k.arg
            for k, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
            if default is None and k.arg not in keywords
        ]
        if missing:
            detail = f"new required parameter(s): {', '.join(missing)}"
            self._add(MISSING, name, "call signature", mod, call, detail=detail)
        else:
            self._add(OK, name, "call signature", mod, call)

    @staticmethod
    def _positional_names(
        node: ast.FunctionDef | ast.AsyncFunctionDef, call: ast.Call, *, bound: bool = False
    ) -> set[str]:
        params = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
        if bound and params and params[0] in {"self", "cls"}:
            params = params[1:]
        return set(params[: len(call.args)])

    def _check_kwargs(
        self,
        mod: LocalModule,
        call: ast.Call,
        target: str,
        params: tuple[set[str], bool] | None,
        kwargs: set[str],
    ) -> None:
        if params is None or not kwargs:
            return
        names, any_kw = params
        for kw in sorted(kwargs):
            if kw in names or any_kw:
                self._add(OK, f"{target}({kw}=)", "keyword argument", mod, call)
            else:
                self._add(
                    MISSING,
                    f"{target}({kw}=)",
                    "keyword argument",
                    mod,
                    call,
                    detail="parameter no longer accepted",
                )


def _walk_stmts_shallow(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a function body, into blocks but not into nested definitions."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for fld in ("body", "orelse", "finalbody"):
            sub = getattr(stmt, fld, None)
            if isinstance(sub, list):
                yield from _walk_stmts_shallow([s for s in sub if isinstance(s, ast.stmt)])
        for handler in getattr(stmt, "handlers", []) or []:
            yield from _walk_stmts_shallow(handler.body)
        for case in getattr(stmt, "cases", []) or []:
            yield from _walk_stmts_shallow(case.body)


# ---------------------------------------------------------------------------------------------
# Reporting and CLI
# ---------------------------------------------------------------------------------------------


def check(integration_dir: Path, index: HaIndex, baseline: HaIndex | None = None) -> list[Finding]:
    """Check the integration at ``integration_dir`` against ``index``; return all findings."""
    return Checker(integration_dir, index, baseline).run()


def problems(findings: list[Finding]) -> list[Finding]:
    """The findings that fail the check (missing or deprecated)."""
    return [f for f in findings if f.status in PROBLEMS]


def format_report(findings: list[Finding], label: str, *, verbose: bool = True) -> str:
    """A table of checked names (grouped, with our file:line) and a summary line."""
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for f in findings:
        groups.setdefault((f.status, f.target, f.kind, f.detail), []).append(f.where)
    rows = [
        (status, target, kind, _short_wheres(wheres), detail)
        for (status, target, kind, detail), wheres in groups.items()
        if verbose or status != OK
    ]
    head = ("status", "Home Assistant name", "kind", "used at", "detail")
    widths = [
        min(max([len(head[i]), *(len(r[i]) for r in rows)]), cap)
        for i, cap in enumerate((10, 78, 22, 48, 200))
    ]
    lines = [
        f"== {label}",
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip(),
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    counts = {s: sum(1 for f in findings if f.status == s) for s in (OK, MISSING, DEPRECATED, NOTE)}
    names = len({f.target for f in findings})
    verdict = "FAIL" if counts[MISSING] or counts[DEPRECATED] else "PASS"
    lines.append(
        f"{verdict}: {names} names checked at {len(findings)} use sites - "
        f"{counts[MISSING]} missing, {counts[DEPRECATED]} deprecated, {counts[NOTE]} notes"
    )
    return "\n".join(lines)


def _short_wheres(wheres: list[str]) -> str:
    uniq = sorted(set(wheres), key=lambda w: (w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1])))
    files: dict[str, list[str]] = {}
    for w in uniq:
        path, line = w.rsplit(":", 1)
        files.setdefault(path.removeprefix("custom_components/"), []).append(line)
    return "; ".join(f"{p}:{','.join(ls)}" for p, ls in files.items())


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default=PINNED_VERSION, help="homeassistant release to check")
    parser.add_argument("--wheel", type=Path, help="check this wheel instead of downloading")
    parser.add_argument("--integration", type=Path, default=INTEGRATION_DIR)
    parser.add_argument("--no-baseline", action="store_true", help="skip the installed-HA run")
    parser.add_argument("--fetch-only", action="store_true", help="only download/cache the wheel")
    parser.add_argument("-q", "--quiet", action="store_true", help="list only problems and notes")
    args = parser.parse_args(argv)

    wheel: Path | None = args.wheel
    if wheel is None:
        try:
            wheel = ensure_wheel(args.version)
        except WheelUnavailableError as err:
            print(f"ha-compat: cannot get homeassistant {args.version}: {err}", file=sys.stderr)
            return 2
    if args.fetch_only:
        print(wheel)
        return 0
    installed = installed_source()
    baseline = HaIndex(installed) if installed is not None else None
    target = HaIndex(WheelSource(wheel))
    failed = False
    findings = check(args.integration, target, baseline)
    print(format_report(findings, f"homeassistant from {target.label}", verbose=not args.quiet))
    failed |= bool(problems(findings))
    if baseline is not None and not args.no_baseline:
        base_findings = check(args.integration, baseline)
        print()
        print(format_report(base_findings, f"baseline: {baseline.label}", verbose=not args.quiet))
        failed |= bool(problems(base_findings))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
