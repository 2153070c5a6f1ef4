#!/usr/bin/env python
"""LLM and embedder speed on this machine, per device, as JSON.

For each device llama.cpp can use here (the CPU, and the GPU when the installed llama.cpp has a GPU
backend) the LLM is loaded as localrag loads it (the crash-safe probe, `llm.n_gpu_layers`) and given
one prompt of about --prompt-tokens tokens (this project's manual, docs/*.md), then asked to write
--gen-tokens tokens: prompt tokens/s and generation tokens/s come from llama.cpp's own performance
counters, time to first token from the wall clock (prompt processing + the first sampled token).
For each device torch sees (the CPU, CUDA, MPS) the embedder embeds --passages passages of ~200
tokens: passages/s. The llama.cpp build info (llama_print_system_info) is in "build".

    .venv/bin/python scripts/bench_llm.py [--model NAME_OR_GGUF] [--prompt-tokens 1000] [--gen-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from localrag import hardware  # noqa: E402
from localrag.config import Settings, load_settings  # noqa: E402
from localrag.cpu import physical_cores  # noqa: E402
from localrag.embed import load_embedder  # noqa: E402
from localrag.generate.llama import GpuRequest, choose_variant, gpu_offload_supported, make_llama  # noqa: E402
from localrag.models import resolve_model_path  # noqa: E402

DOCS = REPO / "docs"
PASSAGE_CHARS = 900  # ~200 MiniLM tokens of English prose


def manual_text() -> str:
    return "\n\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))


def build_info() -> dict[str, Any]:
    import importlib.metadata as md

    import llama_cpp

    text = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    offload = gpu_offload_supported()
    return {
        "llama_cpp_python": md.version("llama-cpp-python"),
        "system_info": text,
        "gpu_offload": offload,
        "gpu_backend": hardware.gpu_backend(text, offload),
        "torch": md.version("torch"),
    }


def llm_devices() -> list[tuple[str, GpuRequest]]:
    devices = [("CPU", GpuRequest(layers=0))]
    if gpu_offload_supported():
        devices.append(("GPU", GpuRequest(layers=hardware.ALL_LAYERS)))
    return devices


def bench_llm(
    path: Path,
    gpu: GpuRequest,
    prompt_tokens: int,
    gen_tokens: int,
    n_ctx: int,
    threads: int,
    variant: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One prompt of `prompt_tokens` tokens, then `gen_tokens` generated tokens, on a fresh context
    (with the probe's parameter set unless `variant` is given)."""
    import llama_cpp

    variant = variant if variant is not None else choose_variant(path, threads, gpu=gpu)
    layers = int(variant.get("n_gpu_layers", 0))  # CPU verdicts cached before GPU settings existed lack it
    llama = make_llama(
        path, n_ctx=n_ctx, n_threads=1 if variant.get("single_thread") else threads,
        use_extra_bufts=bool(variant.get("use_extra_bufts")), use_mmap=bool(variant.get("use_mmap", True)),
        n_gpu_layers=layers, main_gpu=gpu.main_gpu, flash_attn=gpu.flash_attn,
    )  # fmt: skip
    tokens = llama.tokenize(manual_text().encode("utf-8"), add_bos=True, special=False)[:prompt_tokens]
    llama.reset()
    llama_cpp.llama_perf_context_reset(llama._ctx.ctx)
    start = time.perf_counter()
    first = None
    for _ in llama.create_completion(tokens, max_tokens=gen_tokens, temperature=0.0, stream=True):
        if first is None:
            first = time.perf_counter() - start
    perf = llama_cpp.llama_perf_context(llama._ctx.ctx)
    row = {
        "device": "GPU" if layers else "CPU",
        "extra_buffer_types": bool(variant.get("use_extra_bufts")),
        "n_gpu_layers": layers,
        "flash_attn": hardware.flash_attention(gpu.flash_attn, layers),
        "threads": threads,
        "prompt_tokens": perf.n_p_eval,
        "prompt_tokens_per_s": round(perf.n_p_eval / (perf.t_p_eval_ms / 1000), 1) if perf.t_p_eval_ms else None,
        "generated_tokens": perf.n_eval,
        "generation_tokens_per_s": round(perf.n_eval / (perf.t_eval_ms / 1000), 1) if perf.t_eval_ms else None,
        "time_to_first_token_s": round(first, 3) if first is not None else None,
    }
    if variant.get("fallback"):
        row["fallback"] = variant["fallback"]
    return row


def bench_extra_bufts(path: Path, prompt_tokens: int, gen_tokens: int, n_ctx: int, threads: int) -> dict[str, Any]:
    """The CPU row again with llama.cpp's extra buffer types on (weight repacking; localrag keeps
    them off because of the AMX crash), in a child process: a crash is reported, not suffered."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    on = {"use_extra_bufts": True, "n_gpu_layers": 0}
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            return pool.submit(
                bench_llm, path, GpuRequest(layers=0), prompt_tokens, gen_tokens, n_ctx, threads, on
            ).result()
        except BrokenProcessPool:
            return {"device": "CPU", "extra_buffer_types": True, "crashed": True}


def passages(n: int) -> list[str]:
    text = " ".join(manual_text().split())
    out = [text[i : i + PASSAGE_CHARS] for i in range(0, len(text), PASSAGE_CHARS)]
    while len(out) < n:
        out += out
    return out[:n]


def bench_embedder(settings: Settings, device: str, n: int) -> dict[str, Any]:
    dev_settings = settings.model_copy(update={"embedder": settings.embedder.model_copy(update={"device": device})})
    embedder = load_embedder(dev_settings)
    texts = passages(n)
    embedder.encode(texts[: embedder.batch_size])  # warm-up: first-call compilation and allocation
    start = time.perf_counter()
    embedder.encode(texts)
    seconds = time.perf_counter() - start
    return {
        "device": device,
        "backend": embedder.backend,
        "precision": embedder.precision,
        "batch_size": embedder.batch_size,
        "passages": n,
        "passages_per_s": round(n / seconds, 1),
    }


def embed_devices() -> list[str]:
    kinds = {d["device"].split(":")[0] for d in hardware.torch_devices()}
    return ["cpu", *sorted(kinds)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="registry name or GGUF path (default: llm.model)")
    ap.add_argument("--prompt-tokens", type=int, default=1000)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=None, help="default: llm.n_threads, else physical cores")
    ap.add_argument("--passages", type=int, default=256, help="passages embedded per device (0: skip)")
    ap.add_argument(
        "--extra-bufts", action="store_true", help="add a CPU row with llama.cpp's extra buffer types (repacking) on"
    )
    args = ap.parse_args(argv)

    settings = load_settings(overrides={"llm.model": args.model})
    path = resolve_model_path(settings, "llm", settings.llm.model)
    threads = args.threads or settings.llm.n_threads or physical_cores()
    report: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "physical_cores": physical_cores(),
            "torch_devices": list(hardware.torch_devices()),
        },  # fmt: skip
        "build": build_info(),
        "model": path.name,
        "llm": [
            bench_llm(path, gpu, args.prompt_tokens, args.gen_tokens, args.n_ctx, threads) for _, gpu in llm_devices()
        ]
        + (
            [bench_extra_bufts(path, args.prompt_tokens, args.gen_tokens, args.n_ctx, threads)]
            if args.extra_bufts
            else []
        ),
        "embedder": settings.embedder.model,
        "embedding": [bench_embedder(settings, d, args.passages) for d in embed_devices()] if args.passages else [],
    }
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
