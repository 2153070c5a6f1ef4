"""In-process GGUF models through llama-cpp-python.

Three things here are not what llama-cpp-python does by default, on purpose:

* Extra buffer types (weight repacking, including the AMX path) are turned off. Some virtual
  machines advertise AMX but cannot execute it, and llama.cpp then segfaults on the first
  decode. `Llama.__init__` does not expose the `use_extra_bufts` model parameter, so a subclass
  sets it on the parameter struct as it is assigned.
* Before a model is loaded in-process it is loaded and run for a few tokens in a subprocess
  (`localrag.generate.probe`), because a crash in native code would take the whole app down.
  The verdict is cached per model file, llama-cpp-python version and CPU flags.
* GPU offload (`llm.n_gpu_layers`, `llm.main_gpu`, `llm.flash_attn`; decided in
  `localrag.hardware`) goes through the same probe: when offloading every layer fails, half the
  layers, then the CPU are tried, and the fallback is said once, as a warning. A GPU that fails
  mid-answer ends that answer with a clear error and the model is reloaded on the CPU.
* An abort callback is installed on the context, so cancelling stops prompt processing too,
  not only between generated tokens (a long prompt on a small CPU takes many seconds).

Prefix reuse: `Llama.generate` keeps the evaluated tokens and, on the next call, evaluates only
the part after the longest common prefix. Every answer prompt starts with the same system
prompt, so that part of the KV cache is reused between questions without extra code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localrag import hardware
from localrag.errors import LLMError
from localrag.generate.base import BaseLLM
from localrag.generate.prefix_cache import MIN_TOKENS as MIN_PREFIX_TOKENS
from localrag.generate.prefix_cache import PrefixCache, shared_prefix

log = logging.getLogger("localrag")

PROBE_TIMEOUT_S = 180
# CPU parameter sets tried in order until one survives the subprocess probe.
PROBE_VARIANTS: list[dict[str, Any]] = [
    {"use_extra_bufts": False},
    {"use_extra_bufts": False, "use_mmap": False, "single_thread": True},
]
# The probe's exit status when layers were to be offloaded but the llama.cpp build has no GPU
# backend: trying fewer layers cannot help, so the CPU variants come next.
NO_GPU_BACKEND_EXIT = 5


@dataclass(frozen=True)
class GpuRequest:
    """What to ask llama.cpp for: `layers` to offload (hardware.ALL_LAYERS = every one), on `main_gpu`,
    with flash attention `flash_attn` (the llm.flash_attn setting). `reason`: why this many layers."""

    layers: int = 0
    main_gpu: int = 0
    flash_attn: str = "auto"
    reason: str = ""


def gpu_offload_supported() -> bool:
    """Whether the installed llama.cpp was built with a GPU backend."""
    return bool(_llama_module().llama_supports_gpu_offload())


def gpu_request(llm_settings: Any) -> GpuRequest:
    """The GpuRequest for the llm settings section ("auto" layers resolved against this build)."""
    layers, reason = hardware.resolve_gpu_layers(llm_settings.n_gpu_layers, gpu_offload_supported())
    return GpuRequest(layers, llm_settings.main_gpu, llm_settings.flash_attn, reason)


def probe_variants(gpu: GpuRequest, n_layers: int | None) -> list[dict[str, Any]]:
    """Parameter sets to try in order: the layers asked for, fewer, then the CPU variants."""
    offloaded = [
        {"use_extra_bufts": False, "n_gpu_layers": layers}
        for layers in hardware.fallback_layers(gpu.layers, n_layers)
        if layers != 0
    ]
    return offloaded + [{**v, "n_gpu_layers": 0} for v in PROBE_VARIANTS]


def _flash_attn_type(setting: str, layers: int) -> int:
    llama_cpp = _llama_module()
    return {
        "auto": llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO,
        "on": llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED,
        "off": llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED,
    }[hardware.flash_attention(setting, layers)]


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
    n_gpu_layers: int = 0,
    main_gpu: int = 0,
    flash_attn: str = "auto",
    **kwargs: Any,
) -> Any:
    """A `llama_cpp.Llama` with the model and context parameters it does not expose set.

    `abort` is a ctypes `ggml_abort_callback` (kept alive by the caller) or None; `flash_attn` is
    the llm.flash_attn setting (see hardware.flash_attention).
    """
    llama_cpp = _llama_module()
    switch = supports_extra_bufts_switch()
    flash = _flash_attn_type(flash_attn, n_gpu_layers)

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
            params.flash_attn_type = flash
            self._localrag_context_params = params

    try:
        return _Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            use_mmap=use_mmap,
            n_gpu_layers=n_gpu_layers,
            main_gpu=main_gpu,
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


def probe_key(path: Path, gpu: GpuRequest = GpuRequest()) -> str:
    """Identity of (model file, llama-cpp-python build, CPU, GPU request) for caching the probe verdict."""
    st = path.stat()
    llama_cpp = _llama_module()
    raw = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{llama_cpp.__version__}|{_cpu_flags()}"
    if gpu.layers != 0:  # CPU-only keys stay as they were, so existing verdicts still count
        # the build's backends too: a rebuild with CMAKE_ARGS keeps the version but not the verdict
        build = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
        raw += f"|gpu {gpu.layers} {gpu.main_gpu} {gpu.flash_attn}|{build}"
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


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    why: str = ""  # when not ok
    no_gpu_backend: bool = False  # offload asked of a build without a GPU backend


def run_probe(
    path: Path,
    variant: dict[str, Any],
    n_threads: int,
    timeout: float = PROBE_TIMEOUT_S,
    gpu: GpuRequest = GpuRequest(),
) -> ProbeResult:
    """Load + decode a few tokens in a subprocess, with `variant`'s parameters and `gpu`'s device choices."""
    cmd = [
        sys.executable, "-m", "localrag.generate.probe", str(path),
        "--threads", "1" if variant.get("single_thread") else str(n_threads),
        "--extra-bufts", "1" if variant.get("use_extra_bufts") else "0",
        "--mmap", "1" if variant.get("use_mmap", True) else "0",
        "--gpu-layers", str(variant.get("n_gpu_layers", 0)),
        "--main-gpu", str(gpu.main_gpu),
        "--flash-attn", gpu.flash_attn,
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return ProbeResult(False, f"timed out after {timeout:.0f}s")
    if proc.returncode == 0:
        return ProbeResult(True)
    if proc.returncode < 0:
        return ProbeResult(False, f"crashed with signal {-proc.returncode}")
    tail = (proc.stderr.strip().splitlines() or ["exit status %d" % proc.returncode])[-1]
    return ProbeResult(False, tail[:300], no_gpu_backend=proc.returncode == NO_GPU_BACKEND_EXIT)


def _model_layers(path: Path) -> int | None:
    from localrag.models import read_gguf_metadata

    try:
        meta = read_gguf_metadata(path)
    except (OSError, ValueError, LLMError):
        return None
    layers = meta.get(f"{meta.get('general.architecture')}.block_count")
    return layers if isinstance(layers, int) else None


def fallback_note(gpu: GpuRequest, layers: int, why: str) -> str:
    """The one plain sentence said when fewer layers than asked run on the GPU."""
    where = "every layer runs on the CPU" if layers == 0 else f"{hardware.describe_layers(layers)} run on the GPU"
    return f"could not offload {hardware.describe_layers(gpu.layers)} to the GPU: {why}; {where} instead"


def choose_variant(
    path: Path, n_threads: int, use_cache: bool = True, gpu: GpuRequest = GpuRequest()
) -> dict[str, Any]:
    """The first parameter set that survives the probe (cached), or LLMError naming the failures.

    The variant's "n_gpu_layers" is what runs on the GPU; "fallback" (when present) says why fewer
    layers than `gpu` asked for do.
    """
    key = probe_key(path, gpu)
    if use_cache:
        cached = _read_cache().get(key)
        if isinstance(cached, dict) and cached.get("ok"):
            return dict(cached["variant"])
    failures: list[str] = []
    gpu_failure, no_backend = "", False
    for variant in probe_variants(gpu, _model_layers(path) if gpu.layers else None):
        layers = variant["n_gpu_layers"]
        if layers and no_backend:
            continue  # fewer layers cannot help a build without a GPU backend
        result = run_probe(path, variant, n_threads, gpu=gpu)
        if result.ok:
            chosen = dict(variant)
            if layers != gpu.layers:
                chosen["fallback"] = fallback_note(gpu, layers, gpu_failure)
            _write_cache(key, {"ok": True, "variant": chosen, "model": path.name})
            return chosen
        failures.append(result.why)
        if layers:
            gpu_failure, no_backend = result.why, result.no_gpu_backend
    raise LLMError(
        f"the model {path.name} does not run on this machine with llama.cpp ("
        + "; ".join(failures)
        + "). Use `--llm none` for extractive answers, or an OpenAI-compatible server "
        "(llm.backend = 'openai', llm.base_url = ...)"
    )


# ---------------------------------------------------------------- backend ----


class LlamaCppLLM(BaseLLM):
    """A GGUF chat model kept loaded. Generation is serialised: one stream at a time."""

    def __init__(
        self,
        path: Path,
        n_ctx: int = 4096,
        n_threads: int = 1,
        temperature: float = 0.1,
        variant: dict[str, Any] | None = None,
        seed: int = 0,
        gpu: GpuRequest = GpuRequest(),
    ) -> None:
        llama_cpp = _llama_module()
        variant = variant or PROBE_VARIANTS[0]
        self.path = path
        self.name = path.stem
        self.temperature = temperature
        self.seed = seed
        self.gpu = gpu
        # layers on the GPU (hardware.ALL_LAYERS: every one); 0 once a GPU failure moved the model to the CPU
        self.gpu_layers = int(variant.get("n_gpu_layers", 0))
        self.offload_note: str | None = variant.get("fallback")  # why fewer layers than asked are offloaded
        self._lock = threading.Lock()
        self._cancel: threading.Event | None = None
        # Kept on self: llama.cpp holds only the raw function pointer.
        self._abort_cb = llama_cpp.ggml_abort_callback(self._should_abort)
        self._load_args: dict[str, Any] = {
            "n_ctx": n_ctx,
            "n_threads": 1 if variant.get("single_thread") else n_threads,
            "use_extra_bufts": bool(variant.get("use_extra_bufts", False)),
            "use_mmap": bool(variant.get("use_mmap", True)),
            "abort": self._abort_cb,
            "seed": seed,
            "main_gpu": gpu.main_gpu,
            "flash_attn": gpu.flash_attn,
        }
        self._llama = make_llama(path, n_gpu_layers=self.gpu_layers, **self._load_args)
        self.n_ctx = self._llama.n_ctx()
        self._formatter = self._template_formatter()
        self.prefix_restored = False  # the first prompt's fixed beginning came from prefix_cache
        self.continues_replies = self._formatter is not None  # a reply is continued in the rendered template
        self._use_template()

    def _use_template(self) -> None:
        if self._formatter is not None:
            # generate with exactly the template the tokens are counted with
            self._llama.chat_format = "chat_template.default"

    @property
    def device(self) -> str:
        """ "GPU" when layers are offloaded, else "CPU" (for status lines)."""
        return "GPU" if self.gpu_layers != 0 else "CPU"

    def _failed(self, what: str, error: Exception) -> LLMError:
        """The error for a failed decode; a GPU failure moves the model to the CPU for the next question."""
        if self.gpu_layers == 0:
            return LLMError(f"{self.name}: {what} failed: {error}")
        self._llama = None  # free the GPU copy before loading the CPU one
        self._llama = make_llama(self.path, n_gpu_layers=0, **self._load_args)
        self._use_template()
        self.gpu_layers = 0
        return LLMError(
            f"{self.name}: {what} failed on the GPU ({error}); this answer stopped, the next question runs on the CPU"
        )

    def _prefix_cache(self) -> PrefixCache:
        import llama_cpp

        stat = self.path.stat()
        identity = {
            "model": str(self.path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "llama_cpp": getattr(llama_cpp, "__version__", "?"), "n_ctx": self.n_ctx,
            "n_batch": self._llama.n_batch, "gpu_layers": self.gpu_layers,
            **{k: v for k, v in self._load_args.items() if k in ("use_extra_bufts", "flash_attn", "seed")},
        }  # fmt: skip
        return PrefixCache(identity)

    def _warm_start(self, messages: list[dict[str, str]], tokens: list[int] | None = None) -> None:
        """Before this model's first prompt: restore the saved state after the prompt's fixed beginning
        (template opening and system prompt), or evaluate that beginning and save it
        (localrag/generate/prefix_cache.py). Later prompts reuse it in memory, so they return at
        once, before the prompt (`tokens`, rendered here when not given) is rendered."""
        llama = self._llama
        if self._formatter is None or llama.n_tokens > 0 or not messages or messages[0]["role"] != "system":
            return
        if tokens is None:
            tokens = self._prompt_tokens(messages)
        opening = self._prompt_tokens([messages[0], {"role": "user", "content": ""}])
        prefix = shared_prefix(tokens, opening)[: len(tokens) - 1]  # generation evaluates at least one token
        if len(prefix) < MIN_PREFIX_TOKENS:
            return
        try:
            cache = self._prefix_cache()
            if cache.restore(llama, prefix):
                self.prefix_restored = True
                return
        except (AttributeError, OSError) as e:  # a llama-cpp-python without these internals
            log.info("no saved prompt state: %s", e)
            return
        llama.eval(prefix)
        try:
            cache.save(llama, prefix)
        except (AttributeError, OSError) as e:
            log.info("cannot save the prompt state: %s", e)

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
                self._warm_start(messages, tokens)
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
                raise self._failed("prompt evaluation", e) from None
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
        opening: str = "",
    ) -> Iterator[str]:
        with self._lock:
            self._cancel = cancel
            chunks: Any = None
            sampling: dict[str, Any] = {
                "max_tokens": max_tokens,
                "stop": stop or [],
                "temperature": self.temperature,
                "seed": self.seed,
                "stream": True,
            }
            try:
                if opening:
                    # the rendered chat prompt with the reply begun: the model continues it
                    if self._formatter is None:
                        raise ValueError("this model has no chat template to continue a reply in")
                    prompt = self._prompt_tokens(messages)
                    self._warm_start(messages, prompt)
                    prompt += self._llama.tokenize(opening.encode("utf-8"), add_bos=False, special=False)
                    chunks = self._llama.create_completion(prompt=prompt, **sampling)
                    yield opening
                    pieces = (chunk["choices"][0]["text"] for chunk in chunks)
                else:
                    self._warm_start(messages)
                    chunks = self._llama.create_chat_completion(messages=messages, **sampling)
                    pieces = (chunk["choices"][0]["delta"].get("content") for chunk in chunks)
                for piece in pieces:
                    if cancel is not None and cancel.is_set():
                        return
                    if piece:
                        yield piece
            except RuntimeError as e:
                if cancel is not None and cancel.is_set():
                    return  # llama_decode aborted by our callback
                raise self._failed("generation", e) from None
            finally:
                if chunks is not None:
                    chunks.close()
                self._cancel = None


_LOADED: dict[tuple[str, int, int, float, GpuRequest], LlamaCppLLM] = {}
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
    gpu: GpuRequest = GpuRequest(),
) -> LlamaCppLLM:
    """Load (once per process and parameter set) a GGUF model, probing it first.

    When fewer layers than `gpu` asks for could be offloaded, that is said once, as a warning."""
    path = find_gguf(path)
    key = (str(path.resolve()), n_ctx, n_threads, temperature, gpu)
    with _LOADED_LOCK:
        llm = _LOADED.get(key)
        if llm is None:
            if probe:
                variant = choose_variant(path, n_threads, gpu=gpu)
            else:  # unprobed: a build without a GPU backend offloads nothing, whatever is asked
                variant = {**PROBE_VARIANTS[0], "n_gpu_layers": gpu.layers if gpu_offload_supported() else 0}
            if variant.get("fallback"):
                log.warning("%s: %s", path.stem, variant["fallback"])
            llm = LlamaCppLLM(path, n_ctx=n_ctx, n_threads=n_threads, temperature=temperature, variant=variant, gpu=gpu)
            _LOADED[key] = llm
        return llm
