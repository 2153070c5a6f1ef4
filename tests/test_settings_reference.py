"""The settings reference is generated from the Settings model, and the hand-written docs quote its defaults."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from localrag.config import Settings
from localrag.settings_reference import render

REPO = Path(__file__).resolve().parents[1]
CONFIGURATION = REPO / "docs" / "configuration.md"


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"store": {"milvus": {"uri": ...}}} -> {"store.milvus.uri": ...}."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _defaults() -> dict[str, Any]:
    """Dotted key -> default, as the TOML file would spell it."""
    return _flatten(Settings().model_dump(mode="json"))


def _same(doc_value: Any, default: Any) -> bool:
    if isinstance(default, float) and isinstance(doc_value, (int, float)) and not isinstance(doc_value, bool):
        return abs(doc_value - default) < 1e-12
    return doc_value == default


def test_settings_md_is_generated_from_the_model():
    current = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    assert current == render(), "docs/settings.md is out of date: run python scripts/gen_settings_reference.py"


def test_reference_lists_every_key_with_its_default():
    text = render()
    for dotted, default in _defaults().items():
        section, _, key = dotted.rpartition(".")
        block = (
            text.split(f"## [{section}]")[1].split("\n## ")[0]
            if section
            else text.split("## Top-level keys")[1].split("\n## ")[0]
        )
        row = next((ln for ln in block.splitlines() if ln.startswith(f"| `{key}` |")), None)
        assert row is not None, f"{dotted} missing from the reference"
        shown = "unset" if default is None else ("true" if default is True else "false" if default is False else None)
        assert (shown or repr(default).replace("'", '"')) in row or str(default) in row, (dotted, row)


def test_configuration_md_example_holds_every_key_at_its_default():
    text = CONFIGURATION.read_text(encoding="utf-8")
    block = (
        text.split("A complete example with every key at its default value", 1)[1]
        .split("```toml\n", 1)[1]
        .split("```", 1)[0]
    )
    # keys left commented out are the ones without a default (None)
    uncommented = re.sub(r"^\s*#\s*(\w+\s*=)", r"\1", block, flags=re.MULTILINE)
    data = tomllib.loads(uncommented)
    commented = set(re.findall(r"^\s*#\s*(\w+)\s*=", block, flags=re.MULTILINE))
    seen = _flatten(data)
    defaults = _defaults()
    assert set(seen) == set(defaults), f"missing: {set(defaults) - set(seen)}, unknown: {set(seen) - set(defaults)}"
    for dotted, value in seen.items():
        if dotted.rpartition(".")[2] in commented and defaults[dotted] is None:
            continue
        assert _same(value, defaults[dotted]), (
            f"docs/configuration.md says {dotted} = {value!r}; the code's default is {defaults[dotted]!r}"
        )


def test_prose_quotes_the_defaults():
    """'`min_dense` (default 0.20)' in configuration.md, '`retrieval.min_dense` (0.20' in README."""
    defaults = _defaults()
    checked = 0
    section = None
    for line in CONFIGURATION.read_text(encoding="utf-8").splitlines():
        m = re.match(r"## \[(\w+)\] settings", line)
        if m:
            section = m.group(1)
        elif line.startswith("## "):
            section = None
        for key, raw in re.findall(r"`(\w+)` \(default `?([^`),]+)`?", line):
            dotted = f"{section}.{key}" if section else key
            if dotted in defaults:
                checked += 1
                value = tomllib.loads(f"v = {raw}")["v"] if not raw[0].isalpha() or raw in ("true", "false") else raw
                assert _same(value, defaults[dotted]) or str(value) == str(defaults[dotted]), (
                    dotted,
                    raw,
                    defaults[dotted],
                )
    for doc in (REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))):
        for dotted, raw in re.findall(r"`(\w+\.\w+)` \((-?[0-9.]+)", doc.read_text(encoding="utf-8")):
            if dotted in defaults:
                checked += 1
                assert _same(float(raw), defaults[dotted]), (
                    f"{doc.name} says {dotted} is {raw}; the code's default is {defaults[dotted]}"
                )
    assert checked >= 8
