"""Where the test models are: found as localrag finds them (LOCALRAG_MODELS, ./models, the
checkout's models/, the per-user folder `make test-models` fills); the checkout's when absent.
A module of its own so that conftest.py and the support modules of the test folders share it."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def find_models(environ: dict[str, str] | None = None) -> Path:
    from localrag.config import load_settings
    from localrag.errors import LocalragError
    from localrag.models import resolve_model_path

    env = dict(os.environ) if environ is None else environ
    try:
        return resolve_model_path(load_settings(environ=env), "embedder", "all-MiniLM-L6-v2").parent.absolute()
    except LocalragError:
        return REPO / "models"
