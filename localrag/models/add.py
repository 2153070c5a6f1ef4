"""`localrag models add`: copy a model in and record its measured sha256s in the folder's local.toml."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from localrag.config import Settings
from localrag.errors import ConfigError
from localrag.models.gguf import check_gguf
from localrag.models.locations import models_dir
from localrag.models.registry import LOCAL_FILE, ROLES, ModelFile, ModelSpec, load_registry
from localrag.models.verify import sha256_file


def _toml_str(s: str) -> str:
    # JSON string syntax is TOML basic-string syntax as long as nothing outside the BMP is escaped
    # (JSON would write a surrogate pair, which TOML rejects), hence ensure_ascii=False.
    return json.dumps(s, ensure_ascii=False)


def _write_local(mdir: Path, specs: list[ModelSpec]) -> None:
    lines = ["# Models added with `localrag models add` (hashes measured when copied). Not tracked by git.", ""]
    for s in specs:
        lines += [
            "[[model]]",
            f"name = {_toml_str(s.name)}",
            f"role = {_toml_str(s.role)}",
            f"path = {_toml_str(s.path)}",
        ]
        lines += [f"license = {_toml_str(s.license)}", f"upstream = {_toml_str(s.upstream)}", ""]
        for f in s.files:
            lines += [
                "[[model.files]]",
                f"path = {_toml_str(f.path)}",
                f"size = {f.size}",
                f"sha256 = {_toml_str(f.sha256)}",
                "",
            ]
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
            raise ConfigError(
                f"a {role} must be a model folder with config.json (a sentence-transformers / cross-encoder folder); {src} is not"
            )


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
    spec = ModelSpec(
        name=base.name,
        role=base.role,
        path=rel,
        license=base.license,
        upstream=base.upstream,
        files=files,
        origin="local",
    )
    local_specs = [s for s in specs.values() if s.origin == "local" and s.name != spec.name] + [spec]
    _write_local(mdir, local_specs)
    return spec
