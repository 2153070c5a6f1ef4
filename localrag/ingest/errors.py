"""Why a file or folder could not be ingested."""

from __future__ import annotations

from localrag.errors import LocalragError


class SkipFile(Exception):
    """This file is left out of the index; `reason` is a short human phrase.

    Not a LocalragError: skipping one file is an expected outcome of indexing a
    folder, recorded with the reason, never an error that stops the run.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FolderError(LocalragError):
    """The folder given to index does not exist or is not a folder."""
