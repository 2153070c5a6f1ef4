"""localrag: local-first, offline retrieval-augmented chat over your own documents."""

from localrag import offline as _offline

_offline.enforce_offline_env()

from localrag.config import Settings, load_settings  # noqa: E402
from localrag.index import Index  # noqa: E402
from localrag.reports import IndexReport, IndexStatus  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Index", "IndexReport", "IndexStatus", "Settings", "load_settings", "__version__"]
