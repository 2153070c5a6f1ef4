"""The air-gap bundle installs and runs with no network and no package index.

Builds the bundle with scripts/airgap_bundle.py (the small test models only: the 1.1 GB default
LLM is left out to keep it quick), installs it with its install.sh into a fresh prefix inside
an empty network namespace (`unshare -n`) with a scrubbed environment (no pip configuration,
so pip sees nothing but the bundle's wheels), then runs `localrag doctor --json`, `index`,
`search` and `ask` (SmolLM2) there, still with no network. Takes a few minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.robustness.robustness_support import GEN1, REPO, write_folder

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

UNSHARE = shutil.which("unshare")
BASE_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"


def _offline(
    cmd: list[str], env: dict[str, str], timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run([UNSHARE, "-n", *cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    if UNSHARE is None or subprocess.run([UNSHARE, "-n", "true"]).returncode != 0:
        pytest.fail("this test needs `unshare -n` (util-linux, run as root or with user namespaces)")
    base = tmp_path_factory.mktemp("airgap")
    out, prefix = base / "bundle", base / "prefix"

    t0 = time.monotonic()
    build = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "airgap_bundle.py"), str(out), "--models", "embedder,smollm2"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    summary = json.loads(build.stdout)
    build_s = time.monotonic() - t0

    home = base / "home"
    home.mkdir()
    # nothing from this machine's pip setup (PIP_FIND_LINKS, /etc/xdg/pip extra indexes) leaks in
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "PYTHON": str(BASE_PYTHON)}
    t0 = time.monotonic()
    install = _offline(["sh", str(out / "install.sh"), str(prefix)], env, timeout=1500, cwd=base)
    install_s = time.monotonic() - t0
    assert install.returncode == 0, (install.stdout + install.stderr)[-4000:]
    print(f"\nbundle: {summary['bytes'] / 1e6:.0f} MB ({summary['wheels']} wheels {summary['wheels_bytes'] / 1e6:.0f} MB, "
          f"models {summary['models_bytes'] / 1e6:.0f} MB) built in {build_s:.0f} s; installed offline in {install_s:.0f} s")  # fmt: skip
    return {"base": base, "out": out, "prefix": prefix, "env": env, "summary": summary, "install": install}


def test_bundle_contents(installed):
    out, summary = installed["out"], installed["summary"]
    info = json.loads((out / "bundle.json").read_text())
    wheels = {p.name for p in (out / "wheels").glob("*.whl")}
    for name in ("torch-", "llama_cpp_python-", "localrag-", "faiss_cpu-", "sentence_transformers-", "bm25s-",
                 "rapidocr-3.10.0-", "onnxruntime-", "pypdfium2-"):  # fmt: skip
        assert any(w.startswith(name) for w in wheels), f"no {name}* wheel"
    assert len(wheels) == len(info["packages"]) + 1  # + localrag itself
    assert info["models"] == ["all-MiniLM-L6-v2", "smollm2-135m-instruct"]
    assert (out / "models" / "registry.toml").is_file()
    # the manifest covers every file and checks out
    listed = {line.split("  ", 1)[1] for line in (out / "MANIFEST.sha256").read_text().splitlines()}
    present = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"MANIFEST.sha256"}
    assert listed == present
    check = subprocess.run(["sha256sum", "--quiet", "-c", "MANIFEST.sha256"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert summary["files"] == len(listed)
    # install.sh only makes a venv, pip-installs from ./wheels, copies models, runs doctor
    script = (out / "install.sh").read_text()
    assert "--no-index" in script and "--find-links" in script and "http" not in script


def test_install_used_only_the_bundle(installed):
    log = installed["install"].stdout + installed["install"].stderr
    assert f"Looking in links: {installed['out'] / 'wheels'}" in log
    assert "/opt/" not in log and "Downloading" not in log
    venv_python = installed["prefix"] / "venv" / "bin" / "python"
    where = subprocess.run([str(venv_python), "-c", "import localrag; print(localrag.__file__)"],
                           capture_output=True, text=True, cwd=installed["base"])  # fmt: skip
    assert where.stdout.strip().startswith(str(installed["prefix"])), where.stdout


def test_doctor_index_search_and_ask_offline(installed):
    prefix, base, env = installed["prefix"], installed["base"], installed["env"]
    localrag = str(prefix / "localrag")
    doctor = _offline([localrag, "doctor", "--json"], env, timeout=300, cwd=base)
    report = json.loads(doctor.stdout)
    print("\ndoctor (installed bundle):", json.dumps(report, indent=1)[:3000])
    assert doctor.returncode in (0, 1), doctor.stderr  # 1: problems listed, e.g. the default LLM left out
    problems = " ".join(p.get("problem", "") for p in report.get("problems", []))
    assert "all-MiniLM-L6-v2" not in problems and "smollm2" not in problems.lower(), problems
    # the OCR models: present and verified inside the installed rapidocr (else a notice or a problem)
    assert "ocr" not in problems.lower() and not any("OCR" in n for n in report.get("notices", [])), report

    folder = base / "docs"
    write_folder(folder, GEN1)
    index = base / "index"
    run = _offline([localrag, "index", str(folder), "--index", str(index), "--json"], env, timeout=600, cwd=base)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout)["added"] == len(GEN1)
    run = _offline([localrag, "search", "canoe paddles", "--index", str(index), "--json"], env, timeout=300, cwd=base)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout)["hits"][0]["path"] == "c.md"
    run = _offline([localrag, "ask", "where are the canoe paddles stored?", "--index", str(index),
                    "--model", "smollm2-135m-instruct", "--json"], env, timeout=600, cwd=base)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    answer = json.loads(run.stdout)
    assert answer["sources"] and answer["sources"][0]["path"] == "c.md"
    assert os.path.isdir(prefix / "models" / "all-MiniLM-L6-v2")


def test_ocr_runs_from_the_installed_bundle_offline(installed):
    """A photo of a note, indexed from the offline install: the OCR engine, its models (from the
    rapidocr wheel) and onnxruntime all came from the bundle."""
    from tests.fixtures import format_files as ff

    prefix, base, env = installed["prefix"], installed["base"], installed["env"]
    folder = base / "scans"
    folder.mkdir()
    (folder / "note.png").write_bytes(ff.png_bytes(["The shed key hangs behind the water butt."]))
    index = base / "scan-index"
    run = _offline([str(prefix / "localrag"), "index", str(folder), "--index", str(index), "--json"], env, 600, base)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary["ocr_pages"] == 1 and summary["skipped"] == [] and summary["added"] == 1
    run = _offline([str(prefix / "localrag"), "search", "shed key", "--index", str(index), "--json"], env, 300, base)
    [hit, *_] = json.loads(run.stdout)["hits"]
    assert hit["path"] == "note.png" and hit["locator"] == "image (OCR)"
