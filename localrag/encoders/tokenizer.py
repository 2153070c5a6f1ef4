"""The encoders' tokenizer for the OpenVINO backend, read from the model folder's tokenizer.json with
the `tokenizers` library alone.

transformers' AutoTokenizer wraps the same Rust tokenizer, but importing transformers imports torch
(1.6 s of a 4 s process start, measured; a query needs neither). The output is the dictionary of
int64 arrays that transformers' fast tokenizer returns for `return_tensors="np"`: special tokens
added, truncated to `max_length` (longest first for pairs), padded on the right to the longest in
the batch; tests/test_openvino_encoder.py checks the two agree token for token.

A folder without tokenizer.json (a slow, vocabulary-only tokenizer) is tokenized by transformers.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np


class FastTokenizer:
    """A model folder's tokenizer.json, called like transformers' fast tokenizer for what the encoders use."""

    def __init__(self, model_dir: Path):
        from tokenizers import Tokenizer

        self.backend_tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        config = _json(model_dir / "tokenizer_config.json")
        self.model_max_length = int(config.get("model_max_length") or 512)
        pad_token = _token_text(config.get("pad_token")) or _token_text(
            _json(model_dir / "special_tokens_map.json").get("pad_token")
        )
        pad_id = self.backend_tokenizer.token_to_id(pad_token) if pad_token else None
        if pad_token is None or pad_id is None:
            raise ValueError(f"{model_dir}: the tokenizer names no padding token")
        self._pad = {"pad_id": pad_id, "pad_token": pad_token}
        self._configured: dict[tuple[str | None, int], Any] = {}
        self._lock = threading.Lock()

    def _for(self, strategy: str | None, max_length: int) -> Any:
        """A copy of the tokenizer set to one truncation (None: off) with padding to the longest.
        Setting truncation mutates a tokenizer, and encoders run on several threads at once (a
        server's queries), so each setting gets its own copy instead of being set per call."""
        key = (strategy, max_length)
        with self._lock:
            tok = self._configured.get(key)
            if tok is None:
                from tokenizers import Tokenizer

                tok = Tokenizer.from_str(self.backend_tokenizer.to_str())
                if strategy is None:
                    tok.no_truncation()
                else:
                    tok.enable_truncation(max_length, strategy=strategy)
                tok.enable_padding(direction="right", **self._pad)
                self._configured[key] = tok
        return tok

    def __call__(
        self,
        texts: list[str] | str,
        pairs: list[str] | None = None,
        *,
        max_length: int | None = None,
        truncation: bool | str = True,
        add_special_tokens: bool = True,
        **_: Any,
    ) -> dict[str, np.ndarray]:
        """Token ids, attention mask and token types (int64, batch x longest). `truncation`: True or
        "longest_first", "only_second", or False; the remaining transformers keywords
        (padding=True, return_tensors="np") are what this always does."""
        batch = [texts] if isinstance(texts, str) else list(texts)
        strategy = (truncation if isinstance(truncation, str) else "longest_first") if truncation else None
        tok = self._for(strategy, max_length or self.model_max_length)
        inputs = batch if pairs is None else list(zip(batch, pairs))
        encodings = tok.encode_batch(inputs, add_special_tokens=add_special_tokens)
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }


def load_tokenizer(model_dir: Path) -> Any:
    """The folder's tokenizer: FastTokenizer where tokenizer.json exists, else transformers' AutoTokenizer."""
    if (model_dir / "tokenizer.json").is_file():
        return FastTokenizer(model_dir)
    quiet_transformers()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)


def quiet_transformers() -> None:
    """No progress bars and no warnings from transformers: the chunker measures texts longer than the
    model's window on purpose (to split them), which transformers warns about on every call."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _token_text(value: Any) -> str | None:
    """A special token as tokenizer configs write it: a string, or {"content": ...} (AddedToken)."""
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None
