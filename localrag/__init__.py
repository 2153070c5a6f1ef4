"""localrag: local-first, offline retrieval-augmented chat over your own documents."""

from localrag import offline as _offline

_offline.enforce_offline_env()

__version__ = "0.1.0"
