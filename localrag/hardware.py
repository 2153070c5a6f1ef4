"""The person's hardware: which accelerators are there, which builds can use them, and how localrag uses them.

One home for every GPU decision:

* the LLM: how many layers llama.cpp offloads (`llm.n_gpu_layers`, "auto" = all when the installed
  llama.cpp has a GPU backend, as `llama_supports_gpu_offload()` says, else 0) and whether flash
  attention is on (`llm.flash_attn`);
* the embedder and the cross-encoder: which torch device they run on (`embedder.device`,
  `retrieval.reranker_device`), with which backend, precision and batch size (`EncoderPlan`);
* what `doctor` reports: the llama.cpp GPU backend, the devices and memory seen, the pip line that
  installs a GPU build, and the model size the machine suits.

Nothing here imports llama_cpp: its native code is read in a subprocess (doctor) or by the caller.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localrag.errors import ConfigError

ALL_LAYERS = -1  # llama.cpp's n_gpu_layers for "every layer"
TORCH_DEVICES = ("cpu", "cuda", "mps")
# Batch sizes when the setting is left at its default: the CPU defaults (64 embedder, 32 reranker)
# keep two OpenVINO streams busy on 2 cores; a GPU wants larger batches to fill it (not measured
# here: no GPU was available to this project).
GPU_EMBED_BATCH = 256
GPU_RERANK_BATCH = 64
LLAMA_CPP_REQUIREMENT = "llama-cpp-python>=0.3.16,<0.4"
# llama.cpp's CMake switch per GPU backend (as its build docs name them)
CMAKE_FLAGS = {"CUDA": "-DGGML_CUDA=on", "Metal": "-DGGML_METAL=on", "Vulkan": "-DGGML_VULKAN=on"}
# backend registry names in llama_print_system_info() -> the name people know
_GPU_BACKEND_NAMES = {"CUDA": "CUDA", "METAL": "Metal", "MTL": "Metal", "VULKAN": "Vulkan", "ROCM": "ROCm",
                      "HIP": "ROCm", "SYCL": "SYCL", "OPENCL": "OpenCL", "CANN": "CANN", "MUSA": "MUSA"}  # fmt: skip
NVIDIA_SMI_TIMEOUT_S = 10


# --------------------------------------------------------------------------- llama.cpp


def pip_install_line(backend: str) -> str:
    """The exact command that rebuilds llama-cpp-python with `backend` (CUDA, Metal, Vulkan)."""
    return f'CMAKE_ARGS="{CMAKE_FLAGS[backend]}" pip install --force-reinstall --no-cache-dir "{LLAMA_CPP_REQUIREMENT}"'


def gpu_backend(system_info: str, supports_offload: bool) -> str | None:
    """The GPU backend compiled into llama.cpp ("CUDA", "Metal", "Vulkan", ...), or None.

    `system_info` is llama_print_system_info(): one "NAME : feature = 1 | ..." group per backend.
    """
    for name in re.findall(r"(?:^|\|)\s*([A-Za-z][A-Za-z0-9_]*)\s*:", system_info):
        known = _GPU_BACKEND_NAMES.get(name.upper())
        if known:
            return known
    return "GPU" if supports_offload else None


def resolve_gpu_layers(setting: int | str, supports_offload: bool) -> tuple[int, str]:
    """(n_gpu_layers for llama.cpp, why). "auto" is every layer with a GPU build, else 0."""
    if setting == "auto":
        if supports_offload:
            return ALL_LAYERS, "auto: the installed llama.cpp has a GPU backend, so every layer is offloaded"
        return (
            0,
            "auto: the installed llama.cpp has no GPU backend (llama_supports_gpu_offload() is false), so every layer runs on the CPU",
        )
    layers = int(setting)
    if layers == 0:
        return 0, "llm.n_gpu_layers = 0: every layer runs on the CPU"
    return layers, f"llm.n_gpu_layers = {layers}"


def describe_layers(layers: int) -> str:
    return "all layers" if layers == ALL_LAYERS else f"{layers} layer{'s' if layers != 1 else ''}"


def fallback_layers(requested: int, n_layers: int | None) -> list[int]:
    """Layer counts to try, in order, when offloading `requested` layers may fail: fewer, then none."""
    if requested == 0:
        return [0]
    tries = [requested]
    whole = n_layers if requested == ALL_LAYERS or (n_layers and requested > n_layers) else requested
    if whole and whole // 2 > 0:
        tries.append(whole // 2)
    return [*tries, 0]


def flash_attention(setting: str, gpu_layers: int) -> str:
    """'on', 'off' or 'auto' (llama.cpp decides per device) for llama.cpp's flash_attn_type.

    "auto" leaves it to llama.cpp only when layers are offloaded: on the CPU it stays off, so CPU
    answers are the same as before this setting existed.
    """
    if setting == "auto":
        return "auto" if gpu_layers != 0 else "off"
    return setting


# --------------------------------------------------------------------------- torch devices


# Device nodes a CUDA or ROCm GPU gives a Linux machine (WSL 2 exposes its GPUs as /dev/dxg)
_LINUX_GPU_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def torch_cannot_see_a_gpu(
    system: str | None = None, torch_version: str | None = None, nodes: tuple[str, ...] = _LINUX_GPU_NODES
) -> bool:
    """True when torch certainly sees no accelerator, decided without importing it (an import costs
    ~1.5 s of every `ask`): a Linux machine with a CPU-only torch build ("+cpu") or with no GPU device
    node. Elsewhere (macOS has MPS, Windows no such nodes) only torch can say."""
    from importlib import metadata

    system = system or platform.system()
    if system != "Linux":
        return False
    if torch_version is None:
        try:
            torch_version = metadata.version("torch")
        except metadata.PackageNotFoundError:
            return True
    return torch_version.endswith("+cpu") or not any(os.path.exists(node) for node in nodes)


@functools.cache
def torch_devices() -> tuple[dict[str, Any], ...]:
    """Accelerators torch sees: ({"device": "cuda:0", "name": ..., "memory_gb": ...}, ...) or ()."""
    if torch_cannot_see_a_gpu():
        return ()
    import torch

    found: list[dict[str, Any]] = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            found.append({"device": f"cuda:{i}", "name": props.name, "memory_gb": round(props.total_memory / 2**30, 1)})
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append({"device": "mps", "name": "Apple GPU (Metal)", "memory_gb": None})  # shares the RAM
    return tuple(found)


def _torch_build() -> str:
    try:
        import torch
    except ImportError:
        return "torch (not installed)"

    cuda = getattr(torch.version, "cuda", None)
    if cuda:
        return f"torch {torch.__version__} (CUDA {cuda})"
    if platform.system() == "Darwin":
        return f"torch {torch.__version__}"
    return f"torch {torch.__version__} (CPU-only build)"


def resolve_device(requested: str, field: str) -> str:
    """'cpu', 'cuda' or 'mps' for a device setting; a device torch does not see is a ConfigError naming `field`."""
    if requested not in ("auto", *TORCH_DEVICES):
        raise ConfigError(
            f"bad config value for {field!r}: expected one of 'auto', 'cpu', 'cuda', 'mps', got {requested!r}"
        )
    if requested == "cpu":
        return "cpu"
    kinds = {d["device"].split(":")[0] for d in torch_devices()}
    if requested == "auto":
        return "cuda" if "cuda" in kinds else "mps" if "mps" in kinds else "cpu"
    if requested not in kinds:
        raise ConfigError(
            f"bad config value for {field!r}: {requested!r} is not available here ({_torch_build()} sees "
            f"{', '.join(sorted(kinds)) or 'no GPU'}); set {field} = 'auto' or 'cpu'"
        )
    return requested


@dataclass(frozen=True)
class EncoderPlan:
    """Where and how a sentence encoder (embedder or cross-encoder) runs."""

    device: str  # cpu | cuda | mps
    backend: str  # torch | openvino
    precision: str  # fp32 | bf16 | int8
    batch_size: int
    reason: str


def chosen_fields(settings: Any, section_name: str) -> set[str]:
    """The fields of a settings section the person set (file, environment or flag), not defaults."""
    return {key.split(".", 1)[1] for key in settings.sources if key.startswith(section_name + ".")}


def plan_encoder(
    section: Any, *, section_name: str, prefix: str, device_field: str, batch: int, chosen: set[str], gpu_batch: int
) -> EncoderPlan:
    """The plan for the encoder a settings section describes (`prefix`: "" for embedder.backend,
    "rerank_" for retrieval.rerank_backend; `batch`: the CPU batch size; `chosen`: the section's
    fields the person set, from chosen_fields).

    A GPU means torch (OpenVINO int8 is the CPU path): "auto" moves to a GPU only when the backend
    was left at its default; naming a GPU with an OpenVINO backend chosen is a config error.
    """
    requested = getattr(section, device_field)
    field = f"{section_name}.{device_field}"
    backend, precision = getattr(section, f"{prefix}backend"), getattr(section, f"{prefix}precision")
    device = resolve_device(requested, field)
    if device == "cpu":
        why = "set to the CPU" if requested == "cpu" else "no CUDA or MPS device seen by torch"
        return EncoderPlan("cpu", backend, precision, batch, why)
    if backend == "openvino" and f"{prefix}backend" in chosen:
        if requested != "auto":
            raise ConfigError(
                f"bad config value for {field!r}: {requested!r} needs {section_name}.{prefix}backend = 'torch' "
                "(OpenVINO runs on the CPU here)"
            )
        return EncoderPlan(
            "cpu", backend, precision, batch, f"{section_name}.{prefix}backend = 'openvino' runs on the CPU"
        )
    if f"{prefix}precision" not in chosen or precision == "int8":
        precision = "bf16" if device == "cuda" and _cuda_bf16() else "fp32"
    if "batch_size" not in chosen:
        batch = gpu_batch
    return EncoderPlan(
        device, "torch", precision, batch, f"torch sees {device}" if requested == "auto" else f"set to {device}"
    )


def _cuda_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_bf16_supported())


# --------------------------------------------------------------------------- what the machine has


def nvidia_smi() -> list[dict[str, Any]]:
    """NVIDIA GPUs as nvidia-smi lists them ([] without the tool or a driver)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    query = [exe, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(query, capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out.returncode != 0:
        return []
    return parse_nvidia_smi(out.stdout)


def parse_nvidia_smi(text: str) -> list[dict[str, Any]]:
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[1].isdigit():
            gpus.append({"name": parts[0], "memory_gb": round(int(parts[1]) / 1024, 1),
                         "free_gb": round(int(parts[2]) / 1024, 1) if parts[2].isdigit() else None})  # fmt: skip
    return gpus


def apple_silicon() -> bool:
    return platform.system() == "Darwin" and platform.machine() == "arm64"


def ram_gb(meminfo: str | None = None) -> dict[str, float | None]:
    """Total and available RAM in GiB (/proc/meminfo; total only elsewhere)."""
    text = meminfo
    if text is None:
        try:
            text = Path("/proc/meminfo").read_text()
        except OSError:
            text = ""
    fields = {k: int(v) for k, v in re.findall(r"^(\w+):\s+(\d+) kB", text, re.MULTILINE)}
    total = fields.get("MemTotal")
    if total is None and meminfo is None:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024
        except (ValueError, OSError, AttributeError):
            total = None
    avail = fields.get("MemAvailable")
    return {
        "total": round(total / 2**20, 1) if total else None,
        "available": round(avail / 2**20, 1) if avail else None,
    }


def gpu_kind_seen(torch_found: list[dict[str, Any]], smi: list[dict[str, Any]]) -> str | None:
    """The llama.cpp backend the GPU this machine has would need: CUDA, Metal, or None (none seen)."""
    if smi or any(d["device"].startswith("cuda") for d in torch_found):
        return "CUDA"
    if apple_silicon() or any(d["device"] == "mps" for d in torch_found):
        return "Metal"
    return None


# --------------------------------------------------------------------------- model size


@dataclass(frozen=True)
class ModelSize:
    """A GGUF size class at Q4_K_M: file size and the memory it needs with llm.n_ctx tokens of context."""

    params: str
    file_gb: float
    memory_gb: float  # weights + KV cache at n_ctx 4096 + runtime buffers, rounded up
    memory_gb_32k: float  # the same at n_ctx 32768
    example: str


# File sizes: the Qwen2.5-Instruct Q4_K_M GGUFs (the 1.5B is the default, measured here: 1.04 GiB);
# KV cache from each model's layers x KV heads x head size at fp16.
MODEL_SIZES = (
    ModelSize("1.5B", 1.1, 2.0, 3.0, "qwen2.5-coder-1.5b-instruct-q4_k_m, the default"),
    ModelSize("3B", 2.0, 3.0, 4.5, "Qwen2.5-3B-Instruct Q4_K_M"),
    ModelSize("7B", 4.7, 6.0, 8.5, "Qwen2.5-7B-Instruct Q4_K_M"),
    ModelSize("14B", 9.0, 11.0, 17.0, "Qwen2.5-14B-Instruct Q4_K_M"),
    ModelSize("32B", 20.0, 23.0, 31.0, "Qwen2.5-32B-Instruct Q4_K_M"),
)
# On the CPU every generated token reads all weights: past these core counts a bigger model answers too slowly.
_CPU_CORES_FOR = {"1.5B": 0, "3B": 6, "7B": 12, "14B": 24, "32B": 10_000}


def recommend_model(ram_total_gb: float | None, vram_gb: float | None, gpu_offload: bool, cores: int) -> dict[str, str]:
    """The largest size class that fits the memory the model would run in, and why."""
    if gpu_offload and vram_gb:
        fits = [s for s in MODEL_SIZES if s.memory_gb <= vram_gb * 0.9]
        size = fits[-1] if fits else MODEL_SIZES[0]
        why = f"{vram_gb:g} GB of GPU memory and a GPU build of llama.cpp: a {size.params} model at Q4_K_M needs about {size.memory_gb:g} GB with n_ctx 4096"
        return {"size": size.params, "example": size.example, "reason": why}
    ram = ram_total_gb or 0.0
    fits = [s for s in MODEL_SIZES if s.memory_gb <= ram * 0.5]  # leave half the RAM to the rest
    by_ram = fits[-1] if fits else MODEL_SIZES[0]
    by_cores = [s for s in MODEL_SIZES if _CPU_CORES_FOR[s.params] <= cores][-1]
    size = min(by_ram, by_cores, key=MODEL_SIZES.index)
    where = "no GPU offload" if not gpu_offload else "a GPU build but no GPU memory seen"
    if size is by_cores and by_cores is not by_ram:
        why = f"{where}; {cores} CPU cores: on the CPU every token reads all the weights, so a model larger than {size.params} answers slowly (RAM {ram:g} GB would hold {by_ram.params})"
    else:
        why = f"{where}; {ram:g} GB RAM: a {size.params} model at Q4_K_M needs about {size.memory_gb:g} GB with n_ctx 4096, leaving the rest to the embedder, the index and the system"
    return {"size": size.params, "example": size.example, "reason": why}
