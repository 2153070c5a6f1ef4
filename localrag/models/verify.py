"""sha256 verification of installed models (cached by (path, size, mtime) in a models folder's
.verified.json) and the `models list` / `models verify` rows."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from localrag.config import Settings
from localrag.errors import ConfigError
from localrag.models import locations
from localrag.models.locations import (
    _file_path,
    _locate,
    _missing,
    default_name,
    fetch_hint,
    is_present,
    model_dirs,
    models_dir,
)
from localrag.models.registry import ROLES, ModelSpec, load_registry

VERIFIED_CACHE = ".verified.json"
_CHUNK = 1 << 20


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

    def to_row(self) -> VerifyRow:
        """The flat row for tables and --json; `message` names the first bad file and the fix."""
        return VerifyRow(
            name=self.name,
            role=self.role,
            status=self.status,
            ok=self.ok,
            files=len(self.files),
            cached=bool(self.files) and all(f.cached for f in self.files),
            path=self.path,
            message=self.message,
        )


@dataclass(frozen=True)
class VerifyRow:
    """One `localrag models verify` row. `to_json()` is the --json row (keys in this order)."""

    name: str
    role: str
    status: Literal["ok", "missing", "mismatch", "unrecorded"]
    ok: bool
    files: int  # how many files were checked
    cached: bool  # every digest came from .verified.json
    path: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelRow:
    """One `localrag models list` row (also `doctor`'s "models"). `to_json()` is the --json row (keys in this order).

    verified: None when not checked (absent, or no hashes recorded); size: bytes on disk, else the
    registered size; source: how `fetch` gets it ("copy": it does not); package: the installed
    Python package that holds the files, None for models in a models folder.
    """

    name: str
    role: str
    default: bool
    selected: bool
    present: bool
    verified: bool | None
    path: str
    size: int
    license: str
    source: str
    origin: str
    package: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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
        pkg = locations.package_dir(spec)
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


def verify(
    settings: Settings, name: str | Iterable[str] | None = None, *, present_only: bool = False
) -> list[VerifyRow]:
    """sha256-check models (all registered ones by default); one `VerifyRow` each.

    status: ok | missing | mismatch | unrecorded (present, but no hashes to check against).
    Hashes are cached by (path, size, mtime) in models/.verified.json.
    """
    dirs, home = model_dirs(settings), models_dir(settings)
    specs = load_registry(dirs)
    names = [name] if isinstance(name, str) else name
    caches = _Caches()
    results: list[VerifyRow] = []
    try:
        for s in _select(specs, names):
            mdir = _locate(s, dirs)
            if mdir is None and present_only:
                continue
            mdir = mdir or home
            results.append(_verify_spec(s, mdir, caches[_cache_dir(s, mdir, home)], dirs).to_row())
    finally:
        caches.save()
    return results


def list_models(settings: Settings) -> list[ModelRow]:
    """One `ModelRow` per known model: whether it is selected, present and verified, where, how big."""
    dirs, home = model_dirs(settings), models_dir(settings)
    specs = load_registry(dirs)
    caches = _Caches()
    rows: list[ModelRow] = []
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
                pkg = locations.package_dir(s)
                path, size = (str(pkg / s.path) if pkg is not None else f"({s.package} package not installed)"), s.size
            else:
                path, size = str(mdir / s.path), _disk_size(mdir / s.path) if present else s.size
            rows.append(
                ModelRow(
                    name=s.name,
                    role=s.role,
                    default=s.default,
                    selected=selected.get(s.name) == s.role or (s.role == "ocr" and s.default and ocr_on),
                    present=present,
                    verified=verified,
                    path=path,
                    size=size,
                    license=s.license,
                    source=s.source.get("type", "copy"),
                    origin=s.origin,
                    package=s.package or None,
                )
            )
    finally:
        caches.save()
    return rows


def _disk_size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
