"""localrag.doctor: parsers on fixed text, and the full report on real (temporary) installs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from localrag import doctor
from tests.helpers import make_settings

REPO = Path(__file__).resolve().parents[1]

# Two sockets, one core each with two hyperthreads: 4 logical CPUs, 2 physical cores.
CPUINFO = "".join(
    f"processor\t: {i}\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\nphysical id\t: {i // 2}\ncore id\t\t: 0\n"
    "flags\t\t: fpu sse4_2 avx avx2 fma f16c avx512f avx512_bf16 amx_tile amx_int8\n\n"
    for i in range(4)
)


def test_parse_cpu_flags_and_model():
    flags = doctor.parse_cpu_flags(CPUINFO)
    assert flags["avx2"] and flags["avx512f"] and flags["avx512_bf16"] and flags["amx_tile"] and flags["amx_int8"]
    assert not flags["amx_bf16"] and not flags["avx512_vnni"]
    assert doctor.parse_cpu_model(CPUINFO) == "Intel(R) Xeon(R) Platinum 8480+"
    assert doctor.parse_cpu_flags("") == {f: False for f in doctor.CPU_FLAGS}


def test_count_physical_cores_ignores_hyperthreads():
    assert doctor.count_physical_cores(CPUINFO) == 2
    assert doctor.count_physical_cores("processor : 0\nflags : neon\n") is None


def test_parse_llama_system_info():
    text = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512_BF16 = 0 | AMX_INT8 = 1 | LLAMAFILE = 1 |"
    assert doctor.parse_llama_system_info(text) == {
        "SSE3": True,
        "AVX2": True,
        "AVX512_BF16": False,
        "AMX_INT8": True,
        "LLAMAFILE": True,
    }


def test_report_keys_and_missing_models_with_fixes(tmp_path):
    report = doctor.run_doctor(make_settings(tmp_path / "index", tmp_path / "no-models"), llama_info=False)
    assert list(report.to_json()) == [
        "python",
        "packages",
        "models",
        "models_dirs",
        "cpu",
        "threads",
        "llm",
        "gpu",
        "disk",
        "index",
        "notices",
        "problems",
    ]  # `doctor --json`'s keys, in this order
    assert report.packages["numpy"]  # a version string from importlib.metadata
    assert report.threads.llm_threads >= 1
    assert report.disk.free_bytes > 0 and Path(report.disk.path).exists()
    assert report.index.to_json() == {"path": str(tmp_path / "index"), "exists": False}
    fixes = {p.fix for p in report.problems}
    assert any("localrag models fetch all-MiniLM-L6-v2" in f for f in fixes)
    assert any("localrag models fetch qwen2.5-coder-1.5b-instruct-q4_k_m" in f for f in fixes)
    assert all(p.to_json() == {"problem": p.problem, "fix": p.fix} and "\n" not in p.fix for p in report.problems)
    assert any("reranker" in n for n in report.notices)  # optional model: a notice, not a problem
    lines = dict(doctor.summarize(report))
    assert "all-MiniLM-L6-v2 (embedder, selected): absent" in lines["models"]
    assert lines["index"].endswith("not created yet") and "GB free" in lines["disk"]
    # which models folder: the configured one alone, where fetch installs too
    assert report.models_dirs.to_json() == {
        "search": [str(tmp_path / "no-models")],
        "install": str(tmp_path / "no-models"),
        "used": None,
    }
    assert (
        lines["models folder"].startswith("no models found yet")
        and f"installs into {tmp_path / 'no-models'}" in lines["models folder"]
    )
    assert all("\n" not in v for v in lines.values())


def test_llm_backend_none_needs_no_gguf(tmp_path):
    report = doctor.run_doctor(
        make_settings(tmp_path / "index", tmp_path / "no-models", **{"llm.backend": "none"}), llama_info=False
    )
    assert not any("qwen" in p.problem for p in report.problems)


def test_damaged_model_is_a_problem_with_refetch_fix(tmp_path):
    data = b"GGUF" + os.urandom(256)
    mdir = tmp_path / "models"
    mdir.mkdir()
    (mdir / "registry.toml").write_text(
        f'[[model]]\nname = "tiny"\nrole = "llm"\npath = "tiny.gguf"\n[model.source]\ntype = "pypi"\npackage = "x==1"\nmember = "x"\n'
        f'[[model.files]]\npath = ""\nsize = {len(data)}\nsha256 = "{hashlib.sha256(data).hexdigest()}"\n'
    )
    (mdir / "tiny.gguf").write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    report = doctor.run_doctor(make_settings(tmp_path / "index", mdir, **{"llm.model": "tiny"}), llama_info=False)
    [bad] = [p for p in report.problems if "'tiny'" in p.problem]
    assert "sha256" in bad.problem and "localrag models fetch tiny" in bad.fix
    assert "tiny (llm, selected): CHECKSUM MISMATCH" in dict(doctor.summarize(report))["models"]
    assert "GGUF header" in report.llm.error  # random bytes after the magic: reported, not raised


def test_corrupt_index_is_reported_not_raised(tmp_path):
    if not hasattr(pytest.importorskip("localrag.store"), "Store"):
        pytest.skip("localrag.store.Store not built yet")
    index = tmp_path / "index"
    index.mkdir()
    (index / "catalog.sqlite3").write_bytes(b"this is not a database" * 100)
    report = doctor.run_doctor(
        make_settings(tmp_path / "index", tmp_path / "no-models", **{"llm.backend": "none"}), llama_info=False
    )
    assert report.index.exists and report.index.ok is False
    assert "ImportError" not in (report.index.error or "")  # the store ran and rejected the file
    assert "Fix:" not in (report.index.error or "")  # the fix is split out of the message
    assert any("--rebuild" in p.fix for p in report.problems if "index" in p.problem)


def test_real_install_llama_cpp_features():
    """On this machine's venv: llama.cpp (if installed) reports features consistent with /proc/cpuinfo."""
    info = doctor.llama_system_info()
    if info.missing:
        pytest.skip("llama-cpp-python not installed")
    assert info.ok, info
    flags = doctor.cpu_report().flags
    if flags["avx2"] and "AVX2" in info.features:
        assert info.features["AVX2"] is True


def test_repo_models_pass_doctor(tmp_path, models_dir):
    mdir = models_dir
    if (
        not (mdir / "all-MiniLM-L6-v2" / "model.safetensors").is_file()
        or not (mdir / "SmolLM2-135M-Instruct.Q4_1.gguf").is_file()
    ):
        pytest.skip("models not fetched: python scripts/fetch_models.py --test")
    report = doctor.run_doctor(
        make_settings(tmp_path / "index", mdir, **{"llm.model": "smollm2-135m-instruct"}), llama_info=False
    )
    assert not [p for p in report.problems if "model" in p.problem]
    rows = {r.name: r for r in report.models}
    assert rows["all-MiniLM-L6-v2"].verified is True and rows["smollm2-135m-instruct"].verified is True
    assert report.models_dirs.used == str(mdir)
    llm = report.llm.gguf or {}  # read from the GGUF header
    assert llm["architecture"] == "llama" and llm["context_length"] == 8192 and llm["chat_template"] is True


def test_n_ctx_beyond_trained_context_is_a_notice(tmp_path, smollm2_path):
    s = make_settings(
        tmp_path / "index", smollm2_path.parent, **{"llm.model": "smollm2-135m-instruct", "llm.n_ctx": 16384}
    )
    report = doctor.run_doctor(s, llama_info=False)
    assert any("exceeds the 8192 tokens" in n for n in report.notices)


def test_index_health_reads_as_words_not_a_dict(tmp_path, models_dir, notes, embedder):
    from localrag.indexer import index_folder
    from localrag.store import Store

    settings = make_settings(tmp_path / "index", models_dir, **{"llm.backend": "none", "embedder.backend": "torch"})
    store = Store.open(settings.index, settings, create=True)
    index_folder(store, notes, embedder, settings)
    store.close()
    report = doctor.run_doctor(settings, llama_info=False)
    assert report.index.ok and report.index.health["fresh"] is True  # --json keeps the dict
    line = dict(doctor.summarize(report))["index"]
    assert "{" not in line and "'" not in line, line
    assert "catalogue ok" in line and line.endswith("up to date"), line
    assert doctor.health_line({"catalog": "ok", "dense": "rebuilt", "fresh": False}) == (
        "catalogue ok, vector index rebuilt, vector and keyword indexes behind the catalogue (rebuilt when next opened)"
    )


def test_doctor_json_reports_the_gpu_side_on_this_cpu_build(tmp_path, smollm2_path, capsys, monkeypatch):
    """`localrag doctor --json` through the CLI, with the real llama.cpp child process and torch."""
    import json

    from localrag import cli, hardware

    info = doctor.llama_system_info()
    if not info.ok or info.gpu_offload or hardware.torch_devices():
        pytest.skip("needs this machine's CPU-only llama.cpp and torch")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOCALRAG_MODELS", str(smollm2_path.parent))
    monkeypatch.setenv("LOCALRAG_INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("LOCALRAG_LLM__MODEL", "smollm2-135m-instruct")
    cli.main(["doctor", "--json"])
    gpu = json.loads(capsys.readouterr().out)["gpu"]
    assert gpu["llama_cpp_backend"] is None and gpu["llama_cpp_gpu_offload"] is False
    assert gpu["torch_devices"] == [] and gpu["gpu_seen"] is None
    assert gpu["llm"]["layers"] == 0 and gpu["llm"]["device"] == "CPU" and gpu["llm"]["setting"] == "auto"
    assert "no GPU backend" in gpu["llm"]["reason"]
    assert gpu["embedder"]["device"] == "cpu" and gpu["embedder"]["backend"] == "openvino"
    assert gpu["reranker"]["device"] == "cpu"
    assert gpu["install"] == {kind: hardware.pip_install_line(kind) for kind in ("CUDA", "Metal", "Vulkan")}
    assert gpu["recommended_model"]["size"] in {"1.5B", "3B", "7B", "14B", "32B"} and gpu["recommended_model"]["reason"]
    assert gpu["ram_gb"]["total"] > 0

    cli.main(["doctor"])
    text = capsys.readouterr().out
    assert "gpu: llama.cpp: no GPU backend" in text
    assert 'CMAKE_ARGS="-DGGML_CUDA=on"' in text and 'CMAKE_ARGS="-DGGML_METAL=on"' in text
    assert "llm device: CPU, 0 layers offloaded" in text and "embedder device: cpu" in text


def test_doctor_names_a_device_torch_does_not_see(tmp_path):
    from localrag import hardware

    if hardware.torch_devices():
        pytest.skip("torch sees a GPU here")
    report = doctor.run_doctor(
        make_settings(tmp_path / "index", tmp_path / "no-models", **{"embedder.device": "cuda"}), llama_info=False
    )
    [bad] = [p for p in report.problems if "embedder.device" in p.problem]
    assert "'cuda' is not available here" in bad.problem and "embedder.device = 'auto' or 'cpu'" in bad.fix
    assert report.gpu.llm is not None and report.gpu.llm.to_json() == {
        "setting": "auto",
        "layers": None,
        "reason": "llama.cpp not checked",
    }


def test_ocr_models_are_reported(tmp_path, monkeypatch):
    from localrag.models import locations

    report = doctor.run_doctor(
        make_settings(tmp_path / "index", tmp_path / "no-models", **{"llm.backend": "none"}), llama_info=False
    )
    [row] = [r for r in report.models if r.role == "ocr"]
    assert row.name == "rapidocr-ppocr" and row.present and row.verified is True  # inside the installed rapidocr
    assert not any("OCR" in n for n in report.notices)
    monkeypatch.setattr(locations, "package_dir", lambda spec: None)  # where it is looked up
    report = doctor.run_doctor(
        make_settings(tmp_path / "index", tmp_path / "no-models", **{"llm.backend": "none"}), llama_info=False
    )
    [note] = [n for n in report.notices if "OCR" in n]  # optional: a notice, not a problem
    assert "scanned PDF pages and images are skipped" in note and "pip install 'rapidocr==3.10.0'" in note
    assert not any("rapidocr" in p.problem for p in report.problems)
    assert "rapidocr-ppocr (ocr, selected): absent" in dict(doctor.summarize(report))["models"]
