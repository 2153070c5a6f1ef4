#!/usr/bin/env python3
"""Write docs/settings.md from the Settings model (localrag/config.py).

python scripts/gen_settings_reference.py          # rewrite the file
python scripts/gen_settings_reference.py --check  # exit 1 when the file is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from localrag.settings_reference import render  # noqa: E402

TARGET = REPO / "docs" / "settings.md"

if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv[1:]:
        current = TARGET.read_text(encoding="utf-8") if TARGET.is_file() else ""
        if current != text:
            sys.exit(f"{TARGET} is out of date: run python scripts/gen_settings_reference.py")
        sys.exit(0)
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
