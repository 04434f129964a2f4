"""The README quotes the integration's UI labels exactly as translations/en.json has them.

README convention: *italic* text is one of the integration's own labels (a
step title, menu option, field, error, ...); **bold** is Home Assistant's UI.
An italic quote writes each ``{placeholder}`` as "…" and may cut a long label
short with a trailing "…".
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import re
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent
COMPONENT = ROOT / "custom_components" / "chinesium"

_CODE = re.compile(r"```.*?```|`[^`]*`", re.DOTALL)
_ITALIC = re.compile(r"(?<![*\w])\*(?!\*)([^*]+?)\*(?![*\w])")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def _values(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _values(value)
    elif isinstance(node, str):
        yield node


def ui_labels() -> list[str]:
    """Every text of the integration's translations."""
    return list(_values(json.loads((COMPONENT / "translations" / "en.json").read_text("utf-8"))))


def readme_quotes(text: str) -> list[str]:
    """The *italic* spans of Markdown ``text`` (outside code), whitespace normalised."""
    text = _LINK.sub(r"\1", _CODE.sub("", text))
    return [" ".join(match.split()) for match in _ITALIC.findall(text)]


def quotes_label(quote: str, labels: list[str]) -> bool:
    """``quote`` is a label with each ``{placeholder}`` written "…", or its start + "…"."""
    for label in labels:
        template = re.sub(r"{\w+}", "…", label)
        if quote == template:
            return True
        if quote.endswith("…") and template.startswith(quote.removesuffix("…").rstrip()):
            return True
    return False


def test_readme_quotes_are_ui_labels() -> None:
    """Every label the README quotes exists, word for word, in the translations."""
    quotes = readme_quotes((ROOT / "README.md").read_text("utf-8"))
    labels = ui_labels()
    assert quotes, "the README quotes no UI label"
    missing = [quote for quote in quotes if not quotes_label(quote, labels)]
    assert not missing, f"README quotes labels the UI does not have: {missing}"
    # The steps a new user goes through are all described.
    for needed in ("Search the network", "Enter an address", "Cameras found"):
        assert needed in quotes


@pytest.mark.parametrize(
    ("quote", "ok"),
    [
        ("Search the network", True),
        ("Search   the\n network", False),  # normalised by readme_quotes, not here
        ("Scan", False),
        ("Manual", False),
        ("No new cameras answered…", True),
        ("Do you want to add the … camera … at …?", True),
        ("Do you want to add the TEG camera … at …?", False),
        ("Do you want to add … at … now?", False),
        ("Search the net…", True),
    ],
)
def test_quote_matching(quote: str, ok: bool) -> None:
    """The matcher accepts exact labels and "…" abbreviations only."""
    labels = ui_labels()
    assert quotes_label(quote, labels) is ok


def test_readme_quote_extraction() -> None:
    """Italics are found across line breaks; bold, code and list bullets are not italics."""
    text = "a *Extra\n  discovery hosts* b **Submit** `*x*` * item\n*Cameras found*, c"
    assert readme_quotes(text) == ["Extra discovery hosts", "Cameras found"]
