"""Errors a user can cause. The CLI/TUI edge turns them into one-line messages."""


class LocalragError(Exception):
    """Base for expected failures: shown as one line, exit code `exit_code`."""

    exit_code = 1


class ConfigError(LocalragError):
    """Bad configuration or usage (names the field)."""

    exit_code = 2


class ModelMissingError(LocalragError):
    """A model file is not in the models directory; the message says how to get it."""


class ModelChecksumError(LocalragError):
    """A model file exists but its sha256 does not match the registry."""


class IndexLockedError(LocalragError):
    """Another process is writing to this index."""


class IndexNotFoundError(LocalragError):
    """No index at the given location."""


class IndexCorruptError(LocalragError):
    """The SQLite catalogue cannot be read; the message names the file and the fix."""


class LLMError(LocalragError):
    """The language model could not be loaded or failed while generating."""


class BusyError(LocalragError):
    """The server's answer or search queue is full: the client should retry later (HTTP 503)."""


class SourceAccessError(LocalragError):
    """A requested file is not an indexed document inside the indexed folder."""


class StoreUnavailableError(LocalragError):
    """The store engine (e.g. a Milvus server) cannot be reached or used; the message says what to do."""
