"""The domain errors. Their messages are safe to show to users as they are."""

from __future__ import annotations


class MopiError(Exception):
    """Base class: a problem the user can act on; ``str(err)`` is the message to show."""


class ConfigError(MopiError):
    """A setting is missing or malformed."""


class IndexNotReadyError(MopiError):
    """The index has not been built yet, or cannot be reached."""
