"""The LLM's state after the fixed beginning of every answer prompt, kept on disk between processes.

Every answer prompt begins with the same tokens: the chat template's opening and the system
prompt (~90 tokens for Qwen2.5). A long-lived process (the chat app, the server) evaluates them
once and llama-cpp-python reuses them for each later question; a one-off `localrag ask` would
evaluate them on every run (~0.6 s of its first token on 2 cores). So the first run saves the
llama.cpp state after those tokens, and later runs restore it instead.

A saved state is used only by the same model file, llama.cpp build and context settings (its
file name is a digest of them and of the tokens), and only when its content digest matches
(a torn or corrupt file is evaluated again and replaced, never fed to llama.cpp). States are
small (~30 kB per token for a 1.5B model) and the newest few are kept.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("localrag")

KEEP = 8  # states kept (one per model, settings and system prompt in use)
MIN_TOKENS = 16  # a shorter shared beginning is not worth a file


def default_folder() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("localrag")) / "llm-prefix"


def shared_prefix(a: list[int], b: list[int]) -> list[int]:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return a[:n]


class PrefixCache:
    """Saved llama.cpp states, each after one token prefix, for one model and context (`identity`)."""

    def __init__(self, identity: dict[str, Any], folder: Path | None = None):
        self.identity = identity
        self.folder = folder or default_folder()

    def _stem(self, tokens: list[int]) -> str:
        key = json.dumps({"identity": self.identity, "tokens": tokens}, sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def restore(self, llama: Any, tokens: list[int]) -> bool:
        """Put the saved state after `tokens` into `llama` (a llama_cpp.Llama with nothing evaluated);
        False when there is none, or it is unusable (then it is removed)."""
        import llama_cpp

        state = self.folder / f"{self._stem(tokens)}.state"
        try:
            data = state.read_bytes()
            meta = json.loads(state.with_suffix(".json").read_text())
        except (OSError, ValueError):
            return False
        if meta.get("sha256") != hashlib.sha256(data).hexdigest() or meta.get("n_tokens") != len(tokens):
            self._remove(state)
            return False
        buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if llama_cpp.llama_state_set_data(llama._ctx.ctx, buffer, len(data)) != len(data):
            log.info("the saved LLM prompt state %s did not load; evaluating the prompt instead", state.name)
            llama.reset()
            self._remove(state)
            return False
        llama.input_ids[: len(tokens)] = tokens
        llama.n_tokens = len(tokens)
        with contextlib.suppress(OSError):
            os.utime(state)  # recently used: kept by _prune
        return True

    def save(self, llama: Any, tokens: list[int]) -> None:
        """Save `llama`'s state, which must hold exactly `tokens` evaluated."""
        import llama_cpp

        size = llama_cpp.llama_state_get_size(llama._ctx.ctx)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(llama._ctx.ctx, buffer, size)
        data = bytes(buffer)[:written]
        state = self.folder / f"{self._stem(tokens)}.state"
        meta = {"n_tokens": len(tokens), "sha256": hashlib.sha256(data).hexdigest(), **self.identity}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = state.with_name(f".{state.stem}-{os.getpid()}.state")
            tmp.write_bytes(data)
            state.with_suffix(".json").write_text(json.dumps(meta))
            os.replace(tmp, state)
        except OSError as e:  # a read-only cache: every run evaluates the prefix, nothing else changes
            log.info("cannot save the LLM prompt state in %s: %s", self.folder, e)
            return
        self._prune()

    def _remove(self, state: Path) -> None:
        for path in (state, state.with_suffix(".json")):
            with contextlib.suppress(OSError):
                path.unlink()

    def _prune(self) -> None:
        states = sorted(self.folder.glob("*.state"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in states[KEEP:]:
            self._remove(old)
