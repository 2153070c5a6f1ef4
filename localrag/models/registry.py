"""The model registry: what models localrag knows (localrag/data/registry.toml, shipped inside the
package) plus the ones a user added (a models folder's local.toml), as `ModelSpec`s by name."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from localrag.errors import ConfigError

REGISTRY_FILE = "registry.toml"
LOCAL_FILE = "local.toml"
ROLES: tuple[str, ...] = ("embedder", "reranker", "llm")  # the ones settings select and `add` copies in
REGISTRY_ROLES: tuple[str, ...] = (*ROLES, "ocr")  # "ocr": the OCR engine's models, inside its package
Role = Literal["embedder", "reranker", "llm"]


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


def bundled_registry() -> Path:
    """The registry shipped inside the package (a wheel has it too)."""
    return Path(str(resources.files("localrag") / "data" / REGISTRY_FILE))


def _dir_list(mdirs: Path | str | Sequence[Path]) -> list[Path]:
    return [Path(mdirs)] if isinstance(mdirs, (str, Path)) else [Path(d) for d in mdirs]


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
                ModelFile(str(f["path"]), int(f["size"]), str(f["sha256"]).lower(), str(f.get("use", "")))
                for f in raw.get("files", [])
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
