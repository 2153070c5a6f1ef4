"""The sections of `localrag doctor`'s report (localrag/doctor.py): typed records, not dicts.

Each has `to_json()`, its part of `doctor --json` (keys in the order they have always had). A field
made with `optional()` is left out of the JSON while it is None, as the dicts these records
replaced left the key out; the few sections whose keys depend on the outcome (`LlamaCpp`, `Llm`,
`IndexCheck`) spell their JSON out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any

from localrag.hardware import EncoderPlan


def optional() -> Any:
    """A field absent from the JSON while it is None."""
    return field(default=None, metadata={"optional": True})


class _Section:
    """`to_json()`: the dataclass fields in order, nested sections and plans as their JSON."""

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]  # every subclass is a dataclass
            value = getattr(self, f.name)
            if value is None and f.metadata.get("optional"):
                continue
            out[f.name] = _json(value)
        return out


def _json(value: Any) -> Any:
    if isinstance(value, _Section):
        return value.to_json()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


@dataclass(frozen=True, slots=True)
class PythonInfo(_Section):
    version: str
    executable: str
    platform: str


@dataclass(frozen=True, slots=True)
class ModelsDirs(_Section):
    """The models folders searched (in order), the one that holds the embedder, where fetch installs."""

    search: list[str]
    install: str
    used: str | None


@dataclass(frozen=True, slots=True)
class LlamaCpp(_Section):
    """llama.cpp's own report, from a child interpreter. `ok`: None when not checked, False when the
    check failed (`error`; `missing`: llama-cpp-python is not installed)."""

    ok: bool | None = None
    error: str | None = None
    missing: bool = False
    text: str = ""
    features: dict[str, bool] = field(default_factory=dict)
    gpu_offload: bool = False
    gpu_backend: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.ok:
            return {
                "ok": True,
                "text": self.text,
                "features": self.features,
                "gpu_offload": self.gpu_offload,
                "gpu_backend": self.gpu_backend,
            }
        out: dict[str, Any] = {"ok": self.ok}
        if self.error is not None:
            out["error"] = self.error
        if self.missing:
            out["missing"] = True
        return out


@dataclass(frozen=True, slots=True)
class Cpu(_Section):
    model: str
    machine: str
    flags: dict[str, bool]  # CPU_FLAGS -> present
    logical_cpus: int | None
    usable_cpus: int | None
    physical_cores: int | None
    llama_cpp: LlamaCpp = LlamaCpp()


@dataclass(frozen=True, slots=True)
class Threads(_Section):
    logical: int | None
    usable: int | None
    physical_cores: int | None
    llm_threads: int
    torch_threads: int | None


@dataclass(frozen=True, slots=True)
class Llm(_Section):
    """The selected LLM: `gguf` is what its GGUF header says (localrag.models.gguf_summary), None when
    it was not read; `error`: why not (missing model, damaged header)."""

    backend: str
    n_ctx: int
    gguf: dict[str, Any] | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": self.backend, "n_ctx": self.n_ctx, **(self.gguf or {})}
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuLlm(_Section):
    """Where llama.cpp would put the LLM's layers. `layers` None: llama.cpp was not checked (and
    only `setting` and `reason` are known); -1: every layer."""

    setting: int | str
    layers: int | None
    device: str | None = optional()
    main_gpu: int | None = optional()
    flash_attn: str | None = optional()
    reason: str


@dataclass(frozen=True, slots=True)
class PlanError(_Section):
    """Why an encoder (embedder, reranker) has no device plan."""

    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Gpu(_Section):
    """The GPU side: llama.cpp's backend, the devices seen (torch's and nvidia-smi's own rows), where
    each model runs (`llm`: only with the llama-cpp backend), what to install (`install`: only when
    llama.cpp has no GPU backend), and the model size this machine suits."""

    llama_cpp_backend: str | None
    llama_cpp_gpu_offload: bool | None
    torch_devices: list[dict[str, Any]]
    nvidia_smi: list[dict[str, Any]]
    gpu_seen: str | None
    ram_gb: dict[str, float | None]
    llm: GpuLlm | None = optional()
    embedder: EncoderPlan | PlanError
    reranker: EncoderPlan | PlanError
    install: dict[str, str] | None = optional()
    recommended_model: dict[str, str]


@dataclass(frozen=True, slots=True)
class Disk(_Section):
    path: str  # the index's folder, or its nearest existing parent
    free_bytes: int
    free_gb: float


@dataclass(frozen=True, slots=True)
class IndexCheck(_Section):
    """The index, opened if it exists. `ok`: None when there is none yet; False with `error` (and the
    `fix` the error named, if any) when it cannot be opened; True with the counts and `health`."""

    path: str
    exists: bool
    ok: bool | None = None
    documents: int = 0
    chunks: int = 0
    generation: int = 0
    health: dict[str, Any] = field(default_factory=dict)
    skipped: int = 0
    error: str | None = None
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "exists": self.exists}
        if self.ok:
            out.update(
                documents=self.documents,
                chunks=self.chunks,
                generation=self.generation,
                health=self.health,
                skipped=self.skipped,
                ok=True,
            )
        elif self.ok is False:
            out.update(ok=False, error=self.error)
            if self.fix:
                out["fix"] = self.fix
        return out
