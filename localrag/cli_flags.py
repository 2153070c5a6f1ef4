"""Boolean options are plain flags in `--help`.

typer 0.29's rich help gives every option a type column, flags included (`--json <bool>`,
`--help <bool>`), which reads as if the flag took a value: `--json true` is then a usage error.
Its plain-text help already leaves the type out for flags; this makes the rich panel agree.
Imported by localrag.cli for its side effect.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

_display_type_rich = TyperOption.display_type_rich


def _flag_has_no_type(self: TyperOption, ctx: Any) -> str | None:
    if self.is_flag and not self.count and self.metavar is None:
        return None
    return _display_type_rich(self, ctx)


if getattr(TyperOption.display_type_rich, "__name__", "") != _flag_has_no_type.__name__:
    TyperOption.display_type_rich = _flag_has_no_type  # type: ignore[method-assign]
