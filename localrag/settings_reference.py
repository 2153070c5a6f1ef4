"""The settings reference (docs/settings.md), generated from the pydantic Settings model.

One source of truth: defaults, types, ranges and descriptions come from localrag/config.py.
`python scripts/gen_settings_reference.py` rewrites the file; a test fails when it drifts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from localrag.config import _ENV_ALIASES, ENV_PREFIX, Settings

HEADER = """# Settings reference

<!-- Generated from localrag/config.py by `python scripts/gen_settings_reference.py`; do not edit by hand
     (tests/test_settings_reference.py fails when this file and the code disagree). -->

Every setting, its type, default and allowed range. Set them in `localrag.toml`
(`[section]` then `key = value`), with an environment variable, or with the
flags that exist for a few of them; [configuration.md](configuration.md) explains
the order in which they apply and what the settings do.
"""


def _type(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return " \\| ".join(json.dumps(a) for a in get_args(annotation))
    args = get_args(annotation)
    if args:
        return " \\| ".join("none" if a is type(None) else _type(a) for a in args)
    names = {bool: "bool", int: "int", float: "float", str: "string", Path: "path"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _toml(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return json.dumps(str(value))
    return json.dumps(value)


def _range(field: FieldInfo) -> str:
    bounds = []
    for m in field.metadata:
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None:
                bounds.append(f"{sign} {v:g}" if isinstance(v, float) else f"{sign} {v}")
    return ", ".join(bounds)


def _env(section: str | None, key: str) -> str:
    dotted = f"{section}.{key}" if section else key
    alias = next((name for name, target in _ENV_ALIASES.items() if target == dotted), None)
    if alias:
        return f"`{alias}`"
    return f"`{ENV_PREFIX}{section.upper().replace('.', '__')}__{key.upper()}`" if section else "—"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _anchor(section: str | None) -> str:
    return (
        f"configuration.md#{section.split('.')[0]}-settings"
        if section
        else "configuration.md#top-level-keys-the-index-and-the-models-directory"
    )


def _table(model: type[BaseModel], section: str | None) -> list[str]:
    rows = ["| key | type | default | range | environment | what it does |", "| --- | --- | --- | --- | --- | --- |"]
    more = f"see [configuration.md]({_anchor(section)})"
    for key, field in model.model_fields.items():
        if field.exclude or (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            continue
        rows.append(
            f"| `{key}` | {_type(field.annotation)} | `{_toml(field.get_default(call_default_factory=True))}` | "
            f"{_range(field) or '—'} | {_env(section, key)} | {_cell(field.description or more)} |"
        )
    return rows


def _sections(model: type[BaseModel], prefix: str | None = None) -> Iterator[tuple[str, type[BaseModel]]]:
    """(dotted name, model) of every table of settings, nested ones ([store.milvus]) after their parent."""
    for name, field in model.model_fields.items():
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            dotted = f"{prefix}.{name}" if prefix else name
            yield dotted, sub
            yield from _sections(sub, dotted)


def render() -> str:
    """The whole reference, as docs/settings.md holds it."""
    lines = [HEADER, "## Top-level keys", "", *_table(Settings, None), ""]
    for name, model in _sections(Settings):
        doc = (model.__doc__ or "").strip()
        lines += [f"## [{name}]", ""]
        if doc and not doc.startswith("Usage docs"):
            lines += [" ".join(doc.split()), ""]
        lines += [*_table(model, name), ""]
    return "\n".join(lines).rstrip() + "\n"
