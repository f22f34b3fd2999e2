"""The domain errors. Their messages are safe to show to users as they are."""

from __future__ import annotations


class MopiError(Exception):
    """Base class: a problem the user can act on; ``str(err)`` is the message to show."""


class ConfigError(MopiError):
    """A setting is missing or malformed."""


class IndexNotReadyError(MopiError):
    """The index has not been built yet, or cannot be reached."""


class IngestError(MopiError):
    """One file could not be indexed. Other files carry on."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
