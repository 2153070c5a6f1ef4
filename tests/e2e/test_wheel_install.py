"""localrag installed as a wheel (not editable), run from a folder outside the checkout.

The wheel is built from a copy of the source tree and installed with --no-deps into a fresh venv;
its dependencies come from this environment's site-packages through a .pth line (a path line only:
the .pth files there, such as this checkout's editable hook, are not run), so the test needs no
network and the localrag that runs is the wheel's own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# the checkout's own folders (top level only: localrag/models/ is the models package and ships)
_NOT_SHIPPED = (".git", ".venv", "models", "indexes", "tests", "build", "dist")
_CACHES = shutil.ignore_patterns("*.egg-info", "__pycache__", ".pytest_cache")


def _not_shipped(folder: str, names: list[str]) -> set[str]:
    top = {n for n in names if n in _NOT_SHIPPED} if Path(folder) == REPO else set()
    return top | _CACHES(folder, names)


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    assert proc.returncode == 0, f"{cmd}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_wheel_installed_outside_the_checkout_runs_doctor_index_and_search(tmp_path, models_dir):
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=_not_shipped)
    wheels = tmp_path / "wheels"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(wheels),
            str(src),
        ]
    )
    [wheel] = wheels.glob("localrag-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "localrag/data/registry.toml" in names and "localrag/tui/app.tcss" in names
    assert "localrag/models/__init__.py" in names and "localrag/models/fetch.py" in names  # the models package
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in meta  # an SPDX string, not the deprecated table

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    py = venv / "bin" / "python"
    purelib = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (purelib / "_localrag_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "--quiet", str(wheel)]
    )

    models = tmp_path / "models"  # the embedder only: no registry.toml beside it, the wheel must bring its own
    models.mkdir()
    (models / "all-MiniLM-L6-v2").symlink_to(models_dir / "all-MiniLM-L6-v2")
    work = tmp_path / "elsewhere"  # no models/, no localrag.toml, no checkout around
    (work / "notes").mkdir(parents=True)
    (work / "notes" / "boiler.md").write_text(
        "# Boiler\n\nThe boiler pressure should sit between 1.0 and 1.5 bar when the system is cold.\n"
    )
    (work / "notes" / "garden.md").write_text("# Garden\n\nThe tomatoes get a seaweed fertiliser every two weeks.\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LOCALRAG_", "VIRTUAL_ENV"))}
    env.update({"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "xdg"), "LOCALRAG_MODELS": str(models),
                "LOCALRAG_LLM__BACKEND": "none", "PATH": f"{venv / 'bin'}:{env.get('PATH', '')}"})  # fmt: skip
    where = _run([str(py), "-c", "import localrag; print(localrag.__file__)"], cwd=work, env=env).stdout.strip()
    assert where.startswith(str(venv)), where

    cli = str(venv / "bin" / "localrag")
    report = json.loads(_run([cli, "doctor", "--json"], cwd=work, env=env).stdout)
    assert report["problems"] == []
    assert report["python"]["executable"].startswith(str(venv))
    assert report["models_dirs"]["used"] == str(models)
    rows = {r["name"]: r for r in report["models"]}
    assert rows["all-MiniLM-L6-v2"]["verified"] is True  # the registry came from the wheel

    summary = json.loads(_run([cli, "index", "notes", "--index", "idx", "--json"], cwd=work, env=env).stdout)
    assert summary["added"] == 2 and summary["chunks"] >= 2
    hits = json.loads(_run([cli, "search", "boiler pressure", "--index", "idx", "--json"], cwd=work, env=env).stdout)[
        "hits"
    ]
    assert hits[0]["path"] == "boiler.md"
