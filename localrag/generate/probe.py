"""Subprocess check that a GGUF model loads and decodes on this CPU: `python -m localrag.generate.probe MODEL`.

Run by `localrag.generate.llama.choose_variant`; a native crash here kills only this process.
Exit status 0 means the model produced tokens; 5 (NO_GPU_BACKEND_EXIT) that layers were to be
offloaded but this llama.cpp build has no GPU backend, so nothing was.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localrag.generate.probe")
    parser.add_argument("model", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--extra-bufts", type=int, default=0)
    parser.add_argument("--mmap", type=int, default=1)
    parser.add_argument("--gpu-layers", type=int, default=0)
    parser.add_argument("--main-gpu", type=int, default=0)
    parser.add_argument("--flash-attn", choices=("auto", "on", "off"), default="auto")
    args = parser.parse_args(argv)

    from localrag.errors import LLMError
    from localrag.generate.llama import NO_GPU_BACKEND_EXIT, gpu_offload_supported, make_llama

    if args.gpu_layers != 0 and not gpu_offload_supported():
        # llama.cpp would load every layer on the CPU without a word: that is an offload failure
        print("the installed llama.cpp has no GPU backend", file=sys.stderr)
        return NO_GPU_BACKEND_EXIT
    try:
        llama = make_llama(
            args.model,
            n_ctx=256,
            n_threads=args.threads,
            use_extra_bufts=bool(args.extra_bufts),
            use_mmap=bool(args.mmap),
            n_gpu_layers=args.gpu_layers,
            main_gpu=args.main_gpu,
            flash_attn=args.flash_attn,
        )
        out = llama.create_completion("The capital of France is", max_tokens=4, temperature=0.0)
    except LLMError as e:
        print(str(e), file=sys.stderr)
        return 3
    if not out["choices"][0]["text"] and out["usage"]["completion_tokens"] == 0:
        print("the model produced no tokens", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
