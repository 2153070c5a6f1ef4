"""Fixtures for the generation tests: the real SmolLM2 model through the real llama.cpp backend."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def smol_factory(smollm2_path):
    """load_llama for SmolLM2 at a given context size (instances are cached per process)."""
    pytest.importorskip("llama_cpp")
    from localrag.generate.llama import load_llama

    def make(n_ctx: int = 2048):
        return load_llama(smollm2_path, n_ctx=n_ctx, n_threads=2, temperature=0.0)

    return make


@pytest.fixture(scope="session")
def smol(smol_factory):
    return smol_factory(2048)
