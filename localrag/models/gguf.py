"""GGUF files: the magic check that runs before llama.cpp sees a file, and the metadata header `doctor` shows."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from localrag.errors import ConfigError, ModelMissingError


def check_gguf(path: Path) -> None:
    """Fail early, with a clear message, on a file llama.cpp would reject with an obscure one."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelMissingError(f"LLM file {path} cannot be read: {e.strerror}") from None
    if magic != b"GGUF":
        raise ConfigError(f"{path} is not a GGUF file (llama.cpp needs GGUF; convert it or pick another model)")


_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def read_gguf_metadata(path: Path) -> dict[str, Any]:
    """The key/value header of a GGUF file (no tensors are read).

    Scalars and strings come back as values; arrays (the tokenizer's vocabulary, ...) as
    {"array": element type, "len": n} so a 150k-token vocabulary costs a skip, not a list.
    Raises ConfigError when the file is not GGUF or the header is cut short.
    """
    import struct

    size = path.stat().st_size

    def read(f, n: int) -> bytes:
        if n > size - f.tell():  # also guards against absurd lengths read from a damaged header
            raise ConfigError(f"{path}: GGUF header is truncated or damaged")
        return f.read(n)

    def scalar(f, t: int) -> Any:
        fmt = _GGUF_SCALARS[t]
        return struct.unpack(fmt, read(f, struct.calcsize(fmt)))[0]

    def string(f) -> str:
        (n,) = struct.unpack("<Q", read(f, 8))
        return read(f, n).decode("utf-8", "replace")

    def value(f, t: int) -> Any:
        if t in _GGUF_SCALARS:
            return scalar(f, t)
        if t == _GGUF_STRING:
            return string(f)
        if t == _GGUF_ARRAY:
            et, n = struct.unpack("<IQ", read(f, 12))
            if et in _GGUF_SCALARS:
                skip = struct.calcsize(_GGUF_SCALARS[et]) * n
                if skip > size - f.tell():
                    raise ConfigError(f"{path}: GGUF header is truncated or damaged")
                f.seek(skip, os.SEEK_CUR)
            else:
                for _ in range(n):
                    value(f, et)
            return {"array": et, "len": n}
        raise ConfigError(f"{path}: unknown GGUF value type {t}")

    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ConfigError(f"{path} is not a GGUF file")
        version, n_tensors, n_kv = struct.unpack("<IQQ", read(f, 20))
        meta: dict[str, Any] = {"gguf.version": version, "gguf.tensor_count": n_tensors}
        for _ in range(n_kv):
            key = string(f)
            (t,) = struct.unpack("<I", read(f, 4))
            meta[key] = value(f, t)
    return meta


def gguf_summary(path: Path) -> dict[str, Any]:
    """What `doctor` shows about an LLM file: architecture, trained context, chat template."""
    meta = read_gguf_metadata(path)
    arch = meta.get("general.architecture")
    return {
        "path": str(path),
        "name": meta.get("general.name"),
        "architecture": arch,
        "context_length": meta.get(f"{arch}.context_length"),
        "file_type": meta.get("general.file_type"),
        "chat_template": isinstance(meta.get("tokenizer.chat_template"), str),
        "vocab_size": (meta.get("tokenizer.ggml.tokens") or {}).get("len"),
    }
