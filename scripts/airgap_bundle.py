#!/usr/bin/env python3
"""Write an air-gap bundle: everything needed to install and run localrag on a machine with no network.

    python scripts/airgap_bundle.py OUT [--models NAMES] [--tar]

OUT/
  wheels/          one wheel per runtime dependency, at the versions installed in this environment
                   (pip download), the locally built llama-cpp-python wheel (pip's wheel cache, else
                   built with pip wheel) and localrag's own wheel
  models/          registry.toml (+ local.toml) and the chosen models (default: the present defaults)
  install.sh       python3 -m venv + pip install --no-index --find-links wheels localrag, copies the
                   models, prepares them for OpenVINO (`localrag models prepare`), then runs
                   `localrag doctor`; nothing else, no network
  bundle.json      Python version, platform, packages, models
  MANIFEST.sha256  sha256 of every other file (`sha256sum -c MANIFEST.sha256`; install.sh checks it)
--tar also writes OUT.tar (uncompressed: wheels and GGUF weights hardly compress).

Run it with the project's environment (.venv/bin/python): the bundle pins exactly what is
installed there, so it installs the set of versions the tests ran against, for this platform
and Python version only. Needs package-index access (or local wheels) to download the wheels.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as md
import json
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's localrag (the one bundled), not another installed one
LOCAL_WHEELS = {"llama-cpp-python"}  # compiled on this machine: reuse that wheel rather than rebuild it
ROLES = ("embedder", "reranker", "llm")

INSTALL_SH = r"""#!/bin/sh
# Install localrag from this bundle with no network: pip only reads ./wheels.
#   sh install.sh [PREFIX]      (default PREFIX: $HOME/.local/share/localrag)
set -eu
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
PREFIX=${1:-${LOCALRAG_HOME:-$HOME/.local/share/localrag}}
PYTHON=${PYTHON:-python3}

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (@PY_MAJOR@, @PY_MINOR@) else "this bundle is for Python @PY_MAJOR@.@PY_MINOR@; set PYTHON=/path/to/python@PY_MAJOR@.@PY_MINOR@")'
(cd "$HERE" && sha256sum --quiet -c MANIFEST.sha256)

"$PYTHON" -m venv "$PREFIX/venv"
# No configuration file, no index, no version check: only the bundle's wheels are used.
PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$PREFIX/venv/bin/python" -m pip install --isolated --no-index --find-links "$HERE/wheels" localrag

mkdir -p "$PREFIX/models"
cp -R "$HERE/models/." "$PREFIX/models/"
cat > "$PREFIX/localrag" <<EOF
#!/bin/sh
export LOCALRAG_MODELS="\${LOCALRAG_MODELS:-$PREFIX/models}"
exec "$PREFIX/venv/bin/localrag" "\$@"
EOF
chmod +x "$PREFIX/localrag"

"$PREFIX/localrag" models prepare  # OpenVINO conversion / int8 calibration, from the bundled weights
"$PREFIX/localrag" doctor || echo "(localrag doctor listed problems above; the installation itself is complete)"
echo "localrag installed: run $PREFIX/localrag (or add $PREFIX to PATH)"
"""


class BundleError(Exception):
    pass


# ------------------------------------------------------------------------- what to bundle
def project_requirements(pyproject: Path = REPO / "pyproject.toml") -> list[Requirement]:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return [Requirement(r) for r in data["project"]["dependencies"]]


def resolve_installed(requirements: list[Requirement]) -> dict[str, str]:
    """{canonical name: installed version} for the requirements and everything they pull in,
    with environment markers evaluated for this interpreter (extras only where requested)."""
    env = default_environment()
    found: dict[str, str] = {}
    todo: list[tuple[Requirement, str]] = [(r, "") for r in requirements]
    seen_extras: set[tuple[str, str]] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**env, "extra": extra}):
            continue
        name = canonicalize_name(req.name)
        try:
            version = md.version(req.name)
        except md.PackageNotFoundError:
            raise BundleError(f"{req.name} is required but not installed here; run: pip install -e {REPO}") from None
        found[name] = version
        for want in ("", *sorted(req.extras)):
            if (name, want) in seen_extras:
                continue
            seen_extras.add((name, want))
            for sub in md.requires(req.name) or []:
                todo.append((Requirement(sub), want))
    return dict(sorted(found.items()))


# ------------------------------------------------------------------------- wheels
def _pip(*args: str, log: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if log is not None:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}\n")
    return proc


def _wheel_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def find_local_wheel(name: str, version: str) -> Path | None:
    """A wheel pip built and cached earlier (pip cache dir)/wheels/**/NAME-VERSION-*.whl."""
    proc = _pip("cache", "dir")
    cache = Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else Path.home() / ".cache/pip"
    pattern = f"{_wheel_name(name)}-{version}-*.whl"
    matches = sorted((cache / "wheels").rglob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
    return matches[0] if matches else None


def collect_wheels(packages: dict[str, str], dest: Path, log: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    remote = {n: v for n, v in packages.items() if n not in LOCAL_WHEELS}
    pins = [f"{n}=={v}" for n, v in remote.items()]
    if _pip("download", "--no-deps", "--only-binary=:all:", "--dest", str(dest), *pins, log=log).returncode != 0:
        # one by one, building a wheel from source for any package that has none for this platform
        for pin in pins:
            if _pip("download", "--no-deps", "--only-binary=:all:", "--dest", str(dest), pin, log=log).returncode:
                if _pip("wheel", "--no-deps", "--wheel-dir", str(dest), pin, log=log).returncode:
                    raise BundleError(f"could not get a wheel for {pin} (see {log})")
    for name in LOCAL_WHEELS & packages.keys():
        version = packages[name]
        cached = find_local_wheel(name, version)
        if cached is not None:
            shutil.copy2(cached, dest / cached.name)
        elif _pip("wheel", "--no-deps", "--wheel-dir", str(dest), f"{name}=={version}", log=log).returncode:
            raise BundleError(f"no locally built wheel of {name}=={version} and building one failed (see {log})")
    build = ["wheel", "--no-deps", "--wheel-dir", str(dest), str(REPO)]
    if _pip(*build[:1], "--no-build-isolation", *build[1:], log=log).returncode and _pip(*build, log=log).returncode:
        raise BundleError(f"could not build the localrag wheel (see {log})")
    missing = [n for n in packages if not any(dest.glob(f"{_wheel_name(n)}-*.whl"))]
    if missing:
        raise BundleError(f"no wheel was written for: {', '.join(missing)} (see {log})")


# ------------------------------------------------------------------------- models
def choose_models(models_dir: Path, wanted: str | None) -> list:
    """Registry specs to bundle. Default: the present default models. NAMES: comma-separated
    model names, unique parts of names ('smollm2'), or roles (= that role's default model)."""
    from localrag.models import is_present, load_registry

    # Entries inside an installed package (the OCR models, in the rapidocr wheel) travel with that
    # package's wheel in wheels/, so they are never copied into models/ as well.
    registry = load_registry(models_dir)
    specs = {name: s for name, s in registry.items() if not s.package}
    in_packages = {name: s.package for name, s in registry.items() if s.package}
    if wanted is None:
        chosen = [s for s in specs.values() if s.default and is_present(s, models_dir)]
    else:
        chosen = []
        for item in (w.strip() for w in wanted.split(",") if w.strip()):
            if (
                item in in_packages
                or item == "ocr"
                or (
                    not any(item.lower() in n.lower() for n in specs)
                    and any(item.lower() in n.lower() for n in in_packages)
                )
            ):
                print(
                    f"--models {item}: ships inside an installed package whose wheel is bundled; not copied into models/",
                    file=sys.stderr,
                )
                continue
            if item in specs:
                matches = [specs[item]]
            elif item in ROLES:
                matches = [s for s in specs.values() if s.role == item and s.default]
            else:
                matches = [s for s in specs.values() if item.lower() in s.name.lower()]
            if len(matches) != 1:
                names = ", ".join(sorted(specs))
                raise BundleError(f"--models {item!r} matches {len(matches)} models; known: {names}")
            chosen.append(matches[0])
    missing = [s.name for s in chosen if not is_present(s, models_dir)]
    if missing:
        raise BundleError(f"not present in {models_dir}: {', '.join(missing)} (localrag models fetch NAME)")
    return list({s.name: s for s in chosen}.values())


def copy_models(specs: list, models_dir: Path, dest: Path) -> None:
    from localrag.models import LOCAL_FILE, registry_path

    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(registry_path(models_dir), dest / "registry.toml")
    if (models_dir / LOCAL_FILE).is_file():
        shutil.copy2(models_dir / LOCAL_FILE, dest / LOCAL_FILE)
    for spec in specs:
        src = models_dir / spec.path
        if src.is_dir():
            # openvino/: prepared IRs are rebuilt by install.sh (they are keyed to the weights' mtime)
            shutil.copytree(src, dest / spec.path, ignore=shutil.ignore_patterns(".*", "openvino"))
        else:
            (dest / spec.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / spec.path)


# ------------------------------------------------------------------------- manifest, tar
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def write_manifest(out: Path) -> int:
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "MANIFEST.sha256")
    lines = [f"{sha256_file(p)}  {p.relative_to(out).as_posix()}" for p in files]
    (out / "MANIFEST.sha256").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def write_tar(out: Path) -> Path:
    tar_path = out.with_name(out.name + ".tar")
    with tarfile.open(tar_path, "w") as tar:
        tar.add(out, arcname=out.name)
    return tar_path


# ------------------------------------------------------------------------- main
def _installed_models_dir() -> Path:
    """Where localrag finds the embedder (LOCALRAG_MODELS, ./models, the checkout's, the per-user folder)."""
    from localrag.config import load_settings
    from localrag.errors import LocalragError
    from localrag.models import model_dirs, resolve_model_path

    settings = load_settings()
    try:
        return resolve_model_path(settings, "embedder").parent
    except LocalragError:
        return model_dirs(settings)[0]


def build_bundle(out: Path, models: str | None = None, models_dir: Path | None = None, tar: bool = False) -> dict:
    t0 = time.monotonic()
    out = out.resolve()
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    models_dir = (models_dir or _installed_models_dir()).resolve()
    specs = choose_models(models_dir, models)  # fail early, before the downloads

    packages = resolve_installed(project_requirements())
    collect_wheels(packages, out / "wheels", out / "pip.log")
    copy_models(specs, models_dir, out / "models")
    install = INSTALL_SH.replace("@PY_MAJOR@", str(sys.version_info[0])).replace("@PY_MINOR@", str(sys.version_info[1]))
    (out / "install.sh").write_text(install, encoding="utf-8")
    (out / "install.sh").chmod(0o755)
    info = {
        "python": platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "packages": packages,
        "models": [s.name for s in specs],
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (out / "bundle.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    (out / "pip.log").unlink(missing_ok=True)
    n_files = write_manifest(out)
    summary = {
        "out": str(out),
        "files": n_files,
        "wheels": len(list((out / "wheels").glob("*.whl"))),
        "wheels_bytes": dir_size(out / "wheels"),
        "models": info["models"],
        "models_bytes": dir_size(out / "models"),
        "bytes": dir_size(out),
    }
    if tar:
        tar_path = write_tar(out)
        summary["tar"] = str(tar_path)
        summary["tar_bytes"] = tar_path.stat().st_size
    summary["seconds"] = round(time.monotonic() - t0, 1)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="bundle folder to write (must be new or empty)")
    parser.add_argument("--models", help="comma-separated models: names, parts of names or roles "
                        "(default: the default models present)")  # fmt: skip
    parser.add_argument(
        "--models-dir", type=Path, help="where the models are (default: the folder localrag finds the embedder in)"
    )
    parser.add_argument("--tar", action="store_true", help="also write OUT.tar")
    args = parser.parse_args(argv)
    try:
        summary = build_bundle(args.out, args.models, args.models_dir, args.tar)
    except BundleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
