"""`doctor --json`'s schema: the keys of every section, in order, written by the typed section records
(localrag/doctor_sections.py) exactly as the dicts they replaced wrote them."""

from __future__ import annotations

import dataclasses
import json

import pytest

from localrag import doctor
from localrag.doctor_sections import Cpu, GpuLlm, IndexCheck, LlamaCpp, Llm, PlanError
from localrag.hardware import EncoderPlan
from tests.helpers import make_settings

SECTION_KEYS = {
    "python": ["version", "executable", "platform"],
    "models_dirs": ["search", "install", "used"],
    "cpu": ["model", "machine", "flags", "logical_cpus", "usable_cpus", "physical_cores", "llama_cpp"],
    "threads": ["logical", "usable", "physical_cores", "llm_threads", "torch_threads"],
    "llm": ["backend", "n_ctx", "error"],  # the default LLM is not in an empty models folder
    "gpu": [
        "llama_cpp_backend",
        "llama_cpp_gpu_offload",
        "torch_devices",
        "nvidia_smi",
        "gpu_seen",
        "ram_gb",
        "llm",
        "embedder",
        "reranker",
        "recommended_model",
    ],  # fmt: skip
    "disk": ["path", "free_bytes", "free_gb"],
    "index": ["path", "exists"],
}
PLAN_KEYS = ["device", "backend", "precision", "batch_size", "reason"]


def test_doctor_json_keeps_every_sections_keys_in_order(tmp_path):
    report = doctor.run_doctor(make_settings(tmp_path / "index", tmp_path / "no-models"), llama_info=False)
    data = json.loads(json.dumps(report.to_json()))  # what `doctor --json` prints
    for name, keys in SECTION_KEYS.items():
        assert list(data[name]) == keys, name
    assert data["cpu"]["llama_cpp"] == {"ok": None}  # not checked
    assert data["gpu"]["llm"] == {"setting": "auto", "layers": None, "reason": "llama.cpp not checked"}
    for encoder in ("embedder", "reranker"):
        assert list(data["gpu"][encoder]) in (PLAN_KEYS, ["error"]), encoder
    assert list(data["gpu"]["recommended_model"]) == ["size", "example", "reason"]


def test_the_sections_are_frozen_records(tmp_path):
    report = doctor.run_doctor(
        make_settings(tmp_path / "index", tmp_path / "no-models", **{"llm.backend": "none"}), llama_info=False
    )
    for section in (
        report.python,
        report.models_dirs,
        report.cpu,
        report.threads,
        report.llm,
        report.gpu,
        report.disk,
        report.index,
    ):
        assert dataclasses.is_dataclass(section) and not hasattr(section, "__dict__"), section  # slots
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(section, dataclasses.fields(section)[0].name, None)
    assert report.gpu.llm is None and "llm" not in report.gpu.to_json()  # no llama.cpp LLM to place
    assert report.llm.to_json() == {"backend": "none", "n_ctx": report.llm.n_ctx}


def test_llama_cpp_json_by_outcome():
    assert LlamaCpp().to_json() == {"ok": None}
    assert LlamaCpp(ok=False, error="boom").to_json() == {"ok": False, "error": "boom"}
    missing = LlamaCpp(ok=False, error="llama-cpp-python is not installed", missing=True)
    assert missing.to_json() == {"ok": False, "error": "llama-cpp-python is not installed", "missing": True}
    ok = LlamaCpp(ok=True, text="AVX2 = 1", features={"AVX2": True}, gpu_offload=False)
    assert ok.to_json() == {
        "ok": True,
        "text": "AVX2 = 1",
        "features": {"AVX2": True},
        "gpu_offload": False,
        "gpu_backend": None,
    }
    cpu = Cpu(model="m", machine="x86_64", flags={}, logical_cpus=2, usable_cpus=2, physical_cores=1, llama_cpp=ok)
    assert cpu.to_json()["llama_cpp"] == ok.to_json()


def test_index_check_json_by_outcome():
    assert IndexCheck("idx", False).to_json() == {"path": "idx", "exists": False}
    bad = IndexCheck("idx", True, ok=False, error="not a database", fix="localrag index --rebuild")
    assert bad.to_json() == {
        "path": "idx",
        "exists": True,
        "ok": False,
        "error": "not a database",
        "fix": "localrag index --rebuild",
    }
    assert "fix" not in IndexCheck("idx", True, ok=False, error="boom").to_json()
    good = IndexCheck("idx", True, ok=True, documents=2, chunks=5, generation=3, health={"fresh": True}, skipped=1)
    assert list(good.to_json()) == ["path", "exists", "documents", "chunks", "generation", "health", "skipped", "ok"]


def test_llm_and_gpu_llm_json():
    gguf = {"path": "m.gguf", "name": "m", "architecture": "llama", "context_length": 8192, "chat_template": True}
    assert Llm("llama-cpp", 4096, gguf=gguf).to_json() == {"backend": "llama-cpp", "n_ctx": 4096, **gguf}
    assert Llm("llama-cpp", 4096, error="missing").to_json() == {
        "backend": "llama-cpp",
        "n_ctx": 4096,
        "error": "missing",
    }
    placed = GpuLlm(setting="auto", layers=0, device="CPU", main_gpu=0, flash_attn="off", reason="no GPU backend")
    assert list(placed.to_json()) == ["setting", "layers", "device", "main_gpu", "flash_attn", "reason"]
    assert PlanError("no cuda").to_json() == {"error": "no cuda"}
    assert dataclasses.asdict(EncoderPlan("cpu", "torch", "fp32", 32, "r")) == dict(
        zip(PLAN_KEYS, ["cpu", "torch", "fp32", 32, "r"], strict=True)
    )
