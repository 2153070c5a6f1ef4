"""In-process GGUF models through llama-cpp-python.

Three things here are not what llama-cpp-python does by default, on purpose:

* Extra buffer types (weight repacking, including the AMX path) are turned off. Some virtual
  machines advertise AMX but cannot execute it, and llama.cpp then segfaults on the first
  decode. `Llama.__init__` does not expose the `use_extra_bufts` model parameter, so a subclass
  sets it on the parameter struct as it is assigned.
* Before a model is loaded in-process it is loaded and run for a few tokens in a subprocess
  (`localrag.generate.probe`), because a crash in native code would take the whole app down.
  The verdict is cached per model file, llama-cpp-python version and CPU flags.
* An abort callback is installed on the context, so cancelling stops prompt processing too,
  not only between generated tokens (a long prompt on a small CPU takes many seconds).

Prefix reuse: `Llama.generate` keeps the evaluated tokens and, on the next call, evaluates only
the part after the longest common prefix. Every answer prompt starts with the same system
prompt, so that part of the KV cache is reused between questions without extra code.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from localrag.errors import LLMError

PROBE_TIMEOUT_S = 180
# Parameter sets tried in order until one survives the subprocess probe.
PROBE_VARIANTS: list[dict[str, Any]] = [
    {"use_extra_bufts": False},
    {"use_extra_bufts": False, "use_mmap": False, "single_thread": True},
]


def _llama_module() -> Any:
    try:
        import llama_cpp
    except ImportError as e:  # pragma: no cover - depends on the install
        raise LLMError(
            f"llama-cpp-python is not importable ({e}); install it, or use `--llm none` "
            "or an OpenAI-compatible server (llm.backend = 'openai')"
        ) from None
    return llama_cpp


def supports_extra_bufts_switch() -> bool:
    llama_cpp = _llama_module()
    return any(name == "use_extra_bufts" for name, *_ in llama_cpp.llama_model_params._fields_)


def make_llama(
    path: Path,
    *,
    n_ctx: int,
    n_threads: int,
    use_extra_bufts: bool = False,
    use_mmap: bool = True,
    abort: Any = None,
    **kwargs: Any,
) -> Any:
    """A `llama_cpp.Llama` with the model and context parameters it does not expose set.

    `abort` is a ctypes `ggml_abort_callback` (kept alive by the caller) or None.
    """
    llama_cpp = _llama_module()
    switch = supports_extra_bufts_switch()

    class _Llama(llama_cpp.Llama):  # type: ignore[misc, name-defined]
        @property
        def model_params(self) -> Any:
            return self._localrag_model_params

        @model_params.setter
        def model_params(self, params: Any) -> None:
            if switch:
                params.use_extra_bufts = use_extra_bufts
            self._localrag_model_params = params

        @property
        def context_params(self) -> Any:
            return self._localrag_context_params

        @context_params.setter
        def context_params(self, params: Any) -> None:
            if abort is not None:
                params.abort_callback = abort
            self._localrag_context_params = params

    try:
        return _Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            use_mmap=use_mmap,
            verbose=False,
            **kwargs,
        )
    except (ValueError, RuntimeError) as e:
        raise LLMError(f"could not load {path.name}: {e}") from None


# ---------------------------------------------------------------- probe ----


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return hashlib.sha256(line.encode()).hexdigest()[:16]
    except OSError:
        pass
    return "unknown"


def probe_key(path: Path) -> str:
    """Identity of (model file, llama-cpp-python build, CPU) for caching the probe verdict."""
    st = path.stat()
    llama_cpp = _llama_module()
    raw = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{llama_cpp.__version__}|{_cpu_flags()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _cache_file() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("localrag")) / "llm_probe.json"


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(_cache_file().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(key: str, verdict: dict[str, Any]) -> None:
    cache = _read_cache()
    cache[key] = verdict
    f = _cache_file()
    try:
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache, indent=1))
        os.replace(tmp, f)
    except OSError:
        pass  # a cache we cannot write only costs a re-probe next time


def run_probe(path: Path, variant: dict[str, Any], n_threads: int, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Load + decode a few tokens in a subprocess. None when it worked, else why not."""
    cmd = [
        sys.executable, "-m", "localrag.generate.probe", str(path),
        "--threads", "1" if variant.get("single_thread") else str(n_threads),
        "--extra-bufts", "1" if variant.get("use_extra_bufts") else "0",
        "--mmap", "1" if variant.get("use_mmap", True) else "0",
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f}s"
    if proc.returncode == 0:
        return None
    if proc.returncode < 0:
        return f"crashed with signal {-proc.returncode}"
    tail = (proc.stderr.strip().splitlines() or ["exit status %d" % proc.returncode])[-1]
    return tail[:300]


def choose_variant(path: Path, n_threads: int, use_cache: bool = True) -> dict[str, Any]:
    """The first parameter set that survives the probe (cached), or LLMError naming the failures."""
    key = probe_key(path)
    if use_cache:
        cached = _read_cache().get(key)
        if isinstance(cached, dict) and cached.get("ok"):
            return dict(cached["variant"])
    failures = []
    for variant in PROBE_VARIANTS:
        why = run_probe(path, variant, n_threads)
        if why is None:
            _write_cache(key, {"ok": True, "variant": variant, "model": path.name})
            return dict(variant)
        failures.append(why)
    raise LLMError(
        f"the model {path.name} does not run on this machine with llama.cpp ("
        + "; ".join(failures)
        + "). Use `--llm none` for extractive answers, or an OpenAI-compatible server "
        "(llm.backend = 'openai', llm.base_url = ...)"
    )


# ---------------------------------------------------------------- backend ----


class LlamaCppLLM:
    """A GGUF chat model kept loaded. Generation is serialised: one stream at a time."""

    def __init__(
        self,
        path: Path,
        n_ctx: int = 4096,
        n_threads: int = 1,
        temperature: float = 0.1,
        variant: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        llama_cpp = _llama_module()
        variant = variant or PROBE_VARIANTS[0]
        self.path = path
        self.name = path.stem
        self.temperature = temperature
        self.seed = seed
        self._lock = threading.Lock()
        self._cancel: threading.Event | None = None
        # Kept on self: llama.cpp holds only the raw function pointer.
        self._abort_cb = llama_cpp.ggml_abort_callback(self._should_abort)
        threads = 1 if variant.get("single_thread") else n_threads
        self._llama = make_llama(
            path,
            n_ctx=n_ctx,
            n_threads=threads,
            use_extra_bufts=bool(variant.get("use_extra_bufts", False)),
            use_mmap=bool(variant.get("use_mmap", True)),
            abort=self._abort_cb,
            seed=seed,
        )
        self.n_ctx = self._llama.n_ctx()
        self._formatter = self._template_formatter()
        if self._formatter is not None:
            # generate with exactly the template the tokens are counted with
            self._llama.chat_format = "chat_template.default"

    def _should_abort(self, _data: Any) -> bool:
        cancel = self._cancel
        return bool(cancel is not None and cancel.is_set())

    def _template_formatter(self) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self._llama.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        model = self._llama._model
        eos, bos = self._llama.token_eos(), self._llama.token_bos()
        return Jinja2ChatFormatter(
            template=template,
            eos_token=model.token_get_text(eos) if eos != -1 else "",
            bos_token=model.token_get_text(bos) if bos != -1 else "",
        )

    @property
    def chat_template(self) -> str | None:
        return self._llama.metadata.get("tokenizer.chat_template")

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_messages(self, messages: list[dict[str, str]]) -> int:
        """Exact prompt tokens: the GGUF chat template rendered and tokenized as generation does."""
        if self._formatter is None:  # llama-cpp-python falls back to a built-in format
            from localrag.generate.base import APPROX_TOKENS_PER_MESSAGE, APPROX_TOKENS_REPLY_PRIMER

            return APPROX_TOKENS_REPLY_PRIMER + sum(
                self.count_tokens(m["content"]) + APPROX_TOKENS_PER_MESSAGE for m in messages
            )
        return len(self._prompt_tokens(messages))

    def _prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        """The GGUF chat template rendered and tokenized as generation does (needs the template)."""
        result = self._formatter(messages=messages)
        return self._llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)

    def opening_probability(
        self, messages: list[dict[str, str]], opening: str, cancel: threading.Event | None = None
    ) -> float | None:
        """The probability that the reply to `messages` starts with the first token of `opening`,
        from the model's next-token distribution after the prompt (None without a chat template).

        The prompt is evaluated into the KV cache here, so a `stream` of the same messages that
        follows starts generating at once (llama-cpp-python reuses the cached prefix).
        """
        if self._formatter is None:
            return None
        import numpy as np

        llama_cpp = _llama_module()
        tokens = self._prompt_tokens(messages)
        first = self._llama.tokenize(opening.encode("utf-8"), add_bos=False, special=False)[0]
        with self._lock:
            self._cancel = cancel
            try:
                llama = self._llama
                cached = llama.longest_token_prefix(llama._input_ids, tokens)
                llama.n_tokens = min(cached, len(tokens) - 1)  # eval() drops the cache past this
                llama.eval(tokens[llama.n_tokens :])
                # the next generate() must decode again before sampling (it replays one token)
                llama._requires_eval = True
                logits = np.ctypeslib.as_array(
                    llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1), shape=(llama.n_vocab(),)
                ).astype(np.float64)
            except AttributeError:  # a llama-cpp-python without these internals: no estimate
                return None
            except RuntimeError as e:
                if cancel is not None and cancel.is_set():
                    return None
                raise LLMError(f"{self.name}: prompt evaluation failed: {e}") from None
            finally:
                self._cancel = None
        probs = np.exp(logits - logits.max())
        return float(probs[first] / probs.sum())

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        stop: list[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        with self._lock:
            self._cancel = cancel
            chunks = None
            try:
                chunks = self._llama.create_chat_completion(
                    messages=messages,
                    max_tokens=max_tokens,
                    stop=stop or [],
                    temperature=self.temperature,
                    seed=self.seed,
                    stream=True,
                )
                for chunk in chunks:
                    if cancel is not None and cancel.is_set():
                        return
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except RuntimeError as e:
                if cancel is not None and cancel.is_set():
                    return  # llama_decode aborted by our callback
                raise LLMError(f"{self.name}: generation failed: {e}") from None
            finally:
                if chunks is not None:
                    chunks.close()
                self._cancel = None


_LOADED: dict[tuple[str, int, int, float], LlamaCppLLM] = {}
_LOADED_LOCK = threading.Lock()


def find_gguf(path: Path) -> Path:
    if path.is_dir():
        files = sorted(path.glob("*.gguf"))
        if len(files) != 1:
            raise LLMError(f"expected one .gguf file in {path}, found {len(files)}")
        return files[0]
    if not path.is_file():
        raise LLMError(f"model file not found: {path}")
    return path


def load_llama(
    path: Path,
    n_ctx: int,
    n_threads: int,
    temperature: float = 0.1,
    probe: bool = True,
) -> LlamaCppLLM:
    """Load (once per process and parameter set) a GGUF model, probing it first."""
    path = find_gguf(path)
    key = (str(path.resolve()), n_ctx, n_threads, temperature)
    with _LOADED_LOCK:
        llm = _LOADED.get(key)
        if llm is None:
            variant = choose_variant(path, n_threads) if probe else PROBE_VARIANTS[0]
            llm = LlamaCppLLM(path, n_ctx=n_ctx, n_threads=n_threads, temperature=temperature, variant=variant)
            _LOADED[key] = llm
        return llm
