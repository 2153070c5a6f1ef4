"""`localrag doctor`: what this installation has, what llama.cpp will use, and what to fix.

Every check is guarded: the doctor must report a broken piece, never die of it. Anything that can
crash the interpreter (llama.cpp's native code) runs in a subprocess.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localrag import hardware
from localrag.config import Settings
from localrag.cpu import count_physical_cores
from localrag.doctor_sections import (
    Cpu,
    Disk,
    Gpu,
    GpuLlm,
    IndexCheck,
    LlamaCpp,
    Llm,
    ModelsDirs,
    PlanError,
    PythonInfo,
    Threads,
)
from localrag.errors import LocalragError

if TYPE_CHECKING:
    from localrag.models import ModelRow

# What `localrag` needs at runtime (read from the installed metadata when localrag is installed).
_FALLBACK_PACKAGES = (
    "numpy", "torch", "sentence-transformers", "transformers", "faiss-cpu", "bm25s", "PyStemmer",
    "rank-bm25", "llama-cpp-python", "textual", "rich", "typer", "pydantic", "platformdirs", "pypdf", "pathspec",
)  # fmt: skip
# CPU features that decide which llama.cpp / torch kernels run, as /proc/cpuinfo spells them.
CPU_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)
MIN_FREE_BYTES = 1 << 30  # below 1 GiB at the index location, indexing can fail half-way
LLAMA_INFO_TIMEOUT_S = 60


@dataclass(frozen=True)
class Problem:
    """Something that stops localrag from working here, and the one-line way to fix it."""

    problem: str
    fix: str

    def to_json(self) -> dict[str, str]:
        return {"problem": self.problem, "fix": self.fix}


@dataclass
class DoctorReport:
    """Everything `localrag doctor` prints. `problems` stop localrag from working (each with its fix);
    `notices` are things that work but could be better (no reranker, no AVX2, ...). The sections are
    typed records (localrag/doctor_sections.py); `packages` maps each package to its version (None:
    not installed). `to_json()` is `doctor --json` (keys in this order)."""

    python: PythonInfo
    packages: dict[str, str | None]
    models: list[ModelRow]
    models_dirs: ModelsDirs
    cpu: Cpu
    threads: Threads
    llm: Llm
    gpu: Gpu
    disk: Disk
    index: IndexCheck
    notices: list[str]
    problems: list[Problem]

    def to_json(self) -> dict[str, Any]:
        return {
            "python": self.python.to_json(),
            "packages": self.packages,
            "models": [r.to_json() for r in self.models],
            "models_dirs": self.models_dirs.to_json(),
            "cpu": self.cpu.to_json(),
            "threads": self.threads.to_json(),
            "llm": self.llm.to_json(),
            "gpu": self.gpu.to_json(),
            "disk": self.disk.to_json(),
            "index": self.index.to_json(),
            "notices": self.notices,
            "problems": [p.to_json() for p in self.problems],
        }


def _problem(problem: str, fix: str) -> Problem:
    return Problem(problem, fix)


# --------------------------------------------------------------------------- pure parsers


def parse_cpu_flags(cpuinfo: str) -> dict[str, bool]:
    """The flags of the first processor in /proc/cpuinfo text, restricted to CPU_FLAGS."""
    m = re.search(r"^(?:flags|Features)\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    have = set(m.group(1).split()) if m else set()
    return {f: f in have for f in CPU_FLAGS}


def parse_cpu_model(cpuinfo: str) -> str | None:
    m = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    return m.group(1).strip() if m else None


def parse_llama_system_info(text: str) -> dict[str, bool]:
    """'CPU : SSE3 = 1 | AVX2 = 1 | AMX_INT8 = 0 | ...' -> {"AVX2": True, ...} (features compiled in and detected)."""
    return {k: v == "1" for k, v in re.findall(r"([A-Z][A-Z0-9_]+)\s*=\s*([01])\b", text)}


# --------------------------------------------------------------------------- probes


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def package_versions() -> dict[str, str | None]:
    try:
        reqs = md.requires("localrag") or []
        names = [re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0] for r in reqs if "extra ==" not in r]
    except md.PackageNotFoundError:
        names = list(_FALLBACK_PACKAGES)
    out: dict[str, str | None] = {}
    for name in names or _FALLBACK_PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def llama_system_info(timeout: float = LLAMA_INFO_TIMEOUT_S) -> LlamaCpp:
    """llama.cpp's own report of the CPU features it will use and whether it can offload to a GPU,
    from a child interpreter."""
    code = (
        "import json, llama_cpp, sys; sys.stdout.write(json.dumps({"
        "'text': llama_cpp.llama_print_system_info().decode('utf-8', 'replace'), "
        "'gpu_offload': bool(llama_cpp.llama_supports_gpu_offload())}))"
    )
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return LlamaCpp(ok=False, error=f"timed out after {timeout:.0f} s")
    except OSError as e:
        return LlamaCpp(ok=False, error=str(e))
    if proc.returncode != 0:
        if "No module named 'llama_cpp'" in proc.stderr:
            return LlamaCpp(ok=False, error="llama-cpp-python is not installed", missing=True)
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return LlamaCpp(ok=False, error=f"exit code {proc.returncode}: {last}")
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return LlamaCpp(ok=False, error=f"unreadable output: {proc.stdout[:200]!r}")
    text = str(data.get("text", "")).strip()
    offload = bool(data.get("gpu_offload"))
    return LlamaCpp(
        ok=True,
        text=text,
        features=parse_llama_system_info(text),
        gpu_offload=offload,
        gpu_backend=hardware.gpu_backend(text, offload),
    )


def gpu_report(settings: Settings, llama: LlamaCpp, cores: int) -> tuple[Gpu, list[Problem], list[str]]:
    """The GPU side: llama.cpp's backend, the devices and memory seen, what runs where, what to install,
    and the model size this machine suits."""
    problems: list[Problem] = []
    notices: list[str] = []
    checked = bool(llama.ok)
    offload = llama.gpu_offload if checked else None
    try:
        torch_found = list(hardware.torch_devices())
    except ImportError:
        torch_found = []
    smi = hardware.nvidia_smi()
    seen = hardware.gpu_kind_seen(torch_found, smi)
    llm: GpuLlm | None = None
    if settings.llm.backend == "llama-cpp":
        if offload is None:
            llm = GpuLlm(setting=settings.llm.n_gpu_layers, layers=None, reason="llama.cpp not checked")
        else:
            layers, reason = hardware.resolve_gpu_layers(settings.llm.n_gpu_layers, offload)
            if layers and not offload:
                reason += ": this build has no GPU backend, so the probe falls back to the CPU"
                layers = 0
            llm = GpuLlm(
                setting=settings.llm.n_gpu_layers,
                layers=layers,  # -1: every layer
                device="GPU" if layers else "CPU",
                main_gpu=settings.llm.main_gpu,
                flash_attn=hardware.flash_attention(settings.llm.flash_attn, layers),
                reason=reason,
            )
    from localrag.embed import embedder_plan
    from localrag.retrieve.rerank import reranker_plan

    plans: dict[str, hardware.EncoderPlan | PlanError] = {}
    for name, plan in (("embedder", embedder_plan), ("reranker", reranker_plan)):
        try:
            plans[name] = plan(settings)
        except LocalragError as e:
            plans[name] = PlanError(str(e))
            field = "embedder.device" if name == "embedder" else "retrieval.reranker_device"
            problems.append(
                _problem(str(e), f"set {field} = 'auto' or 'cpu' (or install a torch build that sees the GPU)")
            )
        except ImportError as e:
            plans[name] = PlanError(f"torch is not importable: {e}")
    gpus = len(smi) or sum(d["device"].startswith("cuda") for d in torch_found)
    if offload and gpus and settings.llm.main_gpu >= gpus:
        problems.append(_problem(
            f"llm.main_gpu = {settings.llm.main_gpu}, but this machine has {gpus} GPU{'s' if gpus > 1 else ''} (numbered from 0)",
            f"set llm.main_gpu to 0-{gpus - 1}",
        ))  # fmt: skip
    install = None
    if checked and not offload:
        install = {kind: hardware.pip_install_line(kind) for kind in hardware.CMAKE_FLAGS}
        if seen:
            notices.append(
                f"this machine has a {'NVIDIA' if seen == 'CUDA' else 'Apple'} GPU but llama.cpp was built without a GPU "
                f"backend, so the LLM runs on the CPU; install a {seen} build: {hardware.pip_install_line(seen)}"
            )
    ram = hardware.ram_gb()
    vram = max([g["memory_gb"] for g in smi] + [d["memory_gb"] or 0 for d in torch_found] + [0]) or None
    if seen == "Metal" and not vram:  # Apple GPUs share the RAM: about 2/3 of it is theirs to use
        vram = round((ram["total"] or 0) * 2 / 3, 1) or None
    gpu = Gpu(
        llama_cpp_backend=llama.gpu_backend if checked else None,
        llama_cpp_gpu_offload=offload,
        torch_devices=torch_found,
        nvidia_smi=smi,
        gpu_seen=seen,
        ram_gb=ram,
        llm=llm,
        embedder=plans["embedder"],
        reranker=plans["reranker"],
        install=install,
        recommended_model=hardware.recommend_model(ram["total"], vram, bool(offload), cores),
    )
    return gpu, problems, notices


def cpu_report(cpuinfo: str | None = None) -> Cpu:
    """The CPU as /proc/cpuinfo and the OS describe it (`llama_cpp`: not checked; run_doctor fills it in)."""
    text = _read("/proc/cpuinfo") if cpuinfo is None else cpuinfo
    affinity: int | None
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count()
    return Cpu(
        model=parse_cpu_model(text) or platform.processor() or platform.machine(),
        machine=platform.machine(),
        flags=parse_cpu_flags(text),
        logical_cpus=os.cpu_count(),
        usable_cpus=affinity,
        physical_cores=count_physical_cores(text),
    )


def _existing_parent(p: Path) -> Path:
    p = p.expanduser().absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def disk_report(index_dir: Path) -> Disk:
    where = _existing_parent(index_dir)
    usage = shutil.disk_usage(where)
    return Disk(path=str(where), free_bytes=usage.free, free_gb=round(usage.free / 2**30, 1))


def index_report(settings: Settings) -> IndexCheck:
    """Open the index if there is one and ask the store for its health. Never raises."""
    path = Path(settings.index).expanduser()
    where, exists = str(path), (path / "catalog.sqlite3").is_file()
    if settings.store.engine == "milvus":  # the index lives in Milvus: opening it is the check
        where, exists = f"{settings.store.milvus.uri} (Milvus collection {settings.store.milvus.collection})", True
    if not exists:
        return IndexCheck(where, exists)
    try:
        from localrag.store import open_store

        store = open_store(settings)
        try:
            status = store.status()
        finally:
            close = getattr(store, "close", None)
            if close:
                close()
    except LocalragError as e:
        error, _, fix = str(e).partition(" Fix: ")
        return IndexCheck(where, exists, ok=False, error=error, fix=fix or None)
    except Exception as e:  # noqa: BLE001 - the doctor reports any failure instead of dying
        return IndexCheck(where, exists, ok=False, error=f"{type(e).__name__}: {e}")
    return IndexCheck(
        where, exists, ok=True, documents=status.documents, chunks=status.chunks, generation=status.generation,
        health=status.health, skipped=len(status.skipped),
    )  # fmt: skip


# --------------------------------------------------------------------------- models


def models_report(settings: Settings) -> tuple[list[ModelRow], list[Problem], list[str]]:
    """Registry rows with sha256 verification of what is present, plus problems for the models in use."""
    from localrag.models import fetch_hint, list_models, load_registry, model_dirs, models_dir, resolve_model_path

    problems: list[Problem] = []
    notices: list[str] = []
    try:
        rows = list_models(settings)  # verifies present models (hash cache makes repeats instant)
        specs = load_registry(model_dirs(settings))
    except LocalragError as e:
        return (
            [],
            [
                _problem(
                    str(e),
                    "fix or remove that file; the registry itself ships inside the package (reinstall localrag if it is damaged)",
                )
            ],
            [],
        )
    for row in rows:
        if row.present and row.verified is False:
            spec = specs[row.name]
            problems.append(
                _problem(
                    f"model {row.name!r} does not match its sha256 (damaged or wrong file)",
                    _fix_command(fetch_hint(spec, models_dir(settings))),
                )
            )
        elif row.role == "ocr" and row.selected and not row.present:  # optional: files without text are skipped
            spec = specs[row.name]
            notices.append(
                f"no OCR models ({row.path}): scanned PDF pages and images are skipped; {fetch_hint(spec, models_dir(settings))}"
            )

    needed = [("embedder", settings.embedder.model)]
    if settings.llm.backend == "llama-cpp":
        needed.append(("llm", settings.llm.model))
    for role, name in needed:
        try:
            resolve_model_path(settings, role, name)
        except LocalragError as e:
            problems.append(_problem(f"{role} {name!r} unusable: {_head(str(e))}", _fix_command(str(e))))
    if settings.retrieval.rerank:
        try:
            resolve_model_path(settings, "reranker", settings.retrieval.reranker)
        except LocalragError as e:  # optional: retrieval runs without it, with a notice
            notices.append(f"no reranker, search skips reranking: {e}")
    return rows, problems, notices


def models_dirs_report(settings: Settings) -> ModelsDirs:
    """Which models folders are searched (in order), which one holds the embedder, where fetch installs."""
    from localrag.models import model_dirs, models_dir, resolve_model_path

    try:
        used: str | None = str(resolve_model_path(settings, "embedder", settings.embedder.model).parent)
    except LocalragError:
        used = None
    return ModelsDirs(search=[str(d) for d in model_dirs(settings)], install=str(models_dir(settings)), used=used)


def llm_report(settings: Settings) -> tuple[Llm, list[str]]:
    """The selected LLM as its GGUF header describes it, and notices where settings don't fit it."""
    from localrag.models import gguf_summary, resolve_model_path

    llm = Llm(backend=settings.llm.backend, n_ctx=settings.llm.n_ctx)
    if settings.llm.backend != "llama-cpp":
        return llm, []
    try:
        path = resolve_model_path(settings, "llm", settings.llm.model)
    except LocalragError as e:  # missing or wrong size: already a problem from models_report
        return replace(llm, error=str(e)), []
    try:
        gguf = gguf_summary(path)
    except (LocalragError, OSError, ValueError) as e:  # a damaged header
        error = f"cannot read the GGUF header of {path}: {e}"
        return replace(llm, error=error), [error]
    notices: list[str] = []
    trained = gguf.get("context_length")
    if isinstance(trained, int) and settings.llm.n_ctx > trained:
        notices.append(
            f"llm.n_ctx={settings.llm.n_ctx} exceeds the {trained} tokens the model was trained on: answers may degrade; set llm.n_ctx <= {trained}"
        )
    if not gguf.get("chat_template"):
        notices.append(
            f"{gguf['path']} has no chat template: llama.cpp falls back to a generic one, answers may be worse"
        )
    return replace(llm, gguf=gguf), notices


def _head(msg: str) -> str:
    return msg.split(": run ", 1)[0].split(": copy ", 1)[0]


def _fix_command(msg: str) -> str:
    """The fix part of a one-line model error ('...: run `x` or copy ...' -> 'run `x` or copy ...')."""
    for marker in ("run `", "copy ", "give "):
        i = msg.find(marker)
        if i >= 0:
            return msg[i:]
    return msg


# --------------------------------------------------------------------------- the report


def run_doctor(settings: Settings, *, llama_info: bool = True) -> DoctorReport:
    """Everything `localrag doctor` prints: the probes, the problems (each with its fix) and the notices."""
    problems: list[Problem] = []
    notices: list[str] = []

    python = PythonInfo(version=platform.python_version(), executable=sys.executable, platform=platform.platform())
    if sys.version_info < (3, 11):
        problems.append(_problem(f"Python {python.version} is too old", "use Python 3.11 or newer"))

    packages = package_versions()
    for name, version in packages.items():
        if version is None and name != "llama-cpp-python":
            problems.append(_problem(f"package {name} is not installed", f"pip install -e . (or pip install {name})"))

    models, model_problems, model_notices = models_report(settings)
    folders = models_dirs_report(settings)
    problems += model_problems
    notices += model_notices

    cpu = cpu_report()
    if cpu.machine in ("x86_64", "AMD64") and not cpu.flags.get("avx2"):
        notices.append(
            "CPU lacks AVX2: llama.cpp and embeddings will be slow; a smaller GGUF or an OpenAI-compatible server helps"
        )
    if cpu.flags.get("amx_tile"):
        notices.append(
            "CPU has AMX: llama.cpp's AMX buffer type can crash, so localrag loads GGUFs with extra buffer types off"
        )
    llama = LlamaCpp()  # not checked
    if llama_info:
        llama = llama_system_info()
        if llama.missing:
            if settings.llm.backend == "llama-cpp":
                problems.append(
                    _problem(
                        "llama-cpp-python is not installed",
                        "pip install 'llama-cpp-python>=0.3.16,<0.4' (or use --llm none / an OpenAI-compatible server)",
                    )
                )
        elif not llama.ok:
            problems.append(
                _problem(
                    f"llama.cpp failed to report its system info ({llama.error})",
                    "reinstall it built for this CPU: pip install --force-reinstall --no-cache-dir 'llama-cpp-python>=0.3.16,<0.4'",
                )
            )
    cpu = replace(cpu, llama_cpp=llama)

    physical = cpu.physical_cores or cpu.usable_cpus or 1
    threads = Threads(
        logical=cpu.logical_cpus,
        usable=cpu.usable_cpus,
        physical_cores=cpu.physical_cores,
        llm_threads=settings.llm.n_threads or min(physical, cpu.usable_cpus or physical),
        torch_threads=_torch_threads(),
    )
    if settings.llm.n_threads and cpu.usable_cpus and settings.llm.n_threads > cpu.usable_cpus:
        notices.append(
            f"llm.n_threads={settings.llm.n_threads} exceeds the {cpu.usable_cpus} usable CPUs: generation will be slower"
        )

    llm, llm_notices = llm_report(settings)
    notices += llm_notices

    gpu, gpu_problems, gpu_notices = gpu_report(settings, llama, physical)
    problems += gpu_problems
    notices += gpu_notices

    disk = disk_report(Path(settings.index))
    if disk.free_bytes < MIN_FREE_BYTES:
        problems.append(
            _problem(
                f"only {disk.free_gb} GB free at {disk.path}",
                "free some space or put the index elsewhere with --index DIR",
            )
        )

    index = index_report(settings)
    if index.ok is False:
        fix = index.fix or f"localrag index FOLDER --index {index.path} --rebuild"
        problems.append(_problem(f"index at {index.path} cannot be opened: {index.error}", fix))

    return DoctorReport(
        python=python,
        packages=packages,
        models=models,
        models_dirs=folders,
        cpu=cpu,
        threads=threads,
        llm=llm,
        gpu=gpu,
        disk=disk,
        index=index,
        notices=notices,
        problems=problems,
    )


def _torch_threads() -> int | None:
    if "torch" not in sys.modules:  # importing torch costs ~1 s; report it only when already loaded
        return None
    return sys.modules["torch"].get_num_threads()


# --------------------------------------------------------------------------- human summary


def summarize(report: DoctorReport) -> list[tuple[str, str]]:
    """(label, one line) pairs for the human `localrag doctor` output; problems/notices excluded."""
    pk = report.packages
    missing = [n for n, v in pk.items() if v is None]
    key = ("torch", "sentence-transformers", "openvino", "faiss-cpu", "bm25s", "llama-cpp-python", "textual")
    pkgs = ", ".join(f"{n} {pk[n]}" for n in key if pk.get(n)) + (f"; missing: {', '.join(missing)}" if missing else "")

    def model_state(r: ModelRow) -> str:
        if not r.present:
            return "absent"
        return {True: "verified", False: "CHECKSUM MISMATCH", None: "present (no checksum)"}[r.verified]

    models = "; ".join(
        f"{r.name} ({r.role}{', selected' if r.selected else ''}): {model_state(r)}" for r in report.models
    )
    cpu = report.cpu
    flags = " ".join(f for f, on in cpu.flags.items() if on) or "no SIMD flags found"
    llama = cpu.llama_cpp
    llama_line = " ".join(f for f, on in llama.features.items() if on) if llama.ok else llama.error or "not checked"
    th = report.threads
    disk = report.disk
    idx = report.index
    if not idx.exists:
        index_line = f"{idx.path}: not created yet"
    elif idx.ok:
        skipped = f", {idx.skipped} skipped" if idx.skipped else ""
        index_line = (
            f"{idx.path}: {idx.documents} documents{skipped}, {idx.chunks} chunks, "
            f"generation {idx.generation}; {health_line(idx.health)}"
        )
    else:
        index_line = f"{idx.path}: {idx.error}"
    return [
        ("python", f"{report.python.version} ({report.python.executable})"),
        ("packages", pkgs),
        ("models", models),
        ("models folder", _folders_line(report.models_dirs)),
        ("cpu", f"{cpu.model}: {flags}"),
        ("llama.cpp", llama_line),
        ("llm", _llm_line(report.llm)),
        *gpu_lines(report.gpu),
        ("threads", f"{th.usable} usable CPUs, {th.physical_cores or '?'} physical cores; LLM uses {th.llm_threads}"),
        ("disk", f"{disk.free_gb} GB free at {disk.path}"),
        ("index", index_line),
    ]


_HEALTH_PARTS = {"catalog": "catalogue", "dense": "vector index", "keyword": "keyword index"}


def health_line(health: dict[str, Any]) -> str:
    """The store's health dict for people: 'catalogue ok, vector index ok, keyword index ok, up to date'."""
    parts = [f"{_HEALTH_PARTS.get(k, k)} {v}" for k, v in health.items() if k != "fresh"]
    if "fresh" in health:
        parts.append(
            "up to date"
            if health["fresh"]
            else "vector and keyword indexes behind the catalogue (rebuilt when next opened)"
        )
    return ", ".join(parts) or "unknown"


def _folders_line(folders: ModelsDirs) -> str:
    head = f"{folders.used} (the embedder's)" if folders.used else "no models found yet"
    return f"{head}; searched in order: {', '.join(folders.search)}; `localrag models fetch` installs into {folders.install}"


def _llm_line(llm: Llm) -> str:
    if llm.backend != "llama-cpp":
        return f"backend {llm.backend}"
    if llm.error is not None:
        return llm.error
    gguf = llm.gguf or {}
    template = "chat template" if gguf.get("chat_template") else "NO chat template"
    return f"{gguf.get('name') or gguf.get('path')} ({gguf.get('architecture')}, trained context {gguf.get('context_length')}, n_ctx {llm.n_ctx}, {template})"


def gpu_lines(gpu: Gpu) -> list[tuple[str, str]]:
    """The GPU side of the human summary: backend and devices, where each model runs, what to install, model size."""
    if gpu.llama_cpp_gpu_offload is None:
        build = "llama.cpp not checked"
    else:
        build = (
            f"llama.cpp GPU backend: {gpu.llama_cpp_backend}" if gpu.llama_cpp_backend else "llama.cpp: no GPU backend"
        )
    seen = [f"{d['name']} ({d['device']}{_gb(d.get('memory_gb'))})" for d in gpu.torch_devices]
    seen += [f"{g['name']} ({g['memory_gb']} GB, {g['free_gb']} GB free; nvidia-smi)" for g in gpu.nvidia_smi]
    lines = [
        ("gpu", f"{build}; devices seen: {', '.join(seen) or 'none (torch sees no CUDA or MPS device, no nvidia-smi)'}")
    ]
    llm = gpu.llm
    if llm:
        if llm.layers is None:
            where = llm.reason
        else:
            where = "GPU, " + hardware.describe_layers(llm.layers) if llm.layers else "CPU, 0 layers offloaded"
            where += f"; {llm.reason}"
        lines.append(("llm device", where))
    for name, plan in (("embedder", gpu.embedder), ("reranker", gpu.reranker)):
        if isinstance(plan, PlanError):
            lines.append((f"{name} device", plan.error))
        else:
            lines.append(
                (
                    f"{name} device",
                    f"{plan.device} ({plan.backend} {plan.precision}, batch {plan.batch_size}; {plan.reason})",
                )
            )
    if gpu.install:
        lines.append(
            (
                "gpu build",
                "to use a GPU, reinstall llama-cpp-python built for it: "
                + "; ".join(f"{k}: {v}" for k, v in gpu.install.items()),
            )
        )
    rec = gpu.recommended_model
    lines.append(("model size", f"{rec['size']} ({rec['example']}): {rec['reason']}"))
    return lines


def _gb(value: float | None) -> str:
    return f", {value} GB" if value else ""
