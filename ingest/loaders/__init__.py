"""Pick a loader by file suffix. Loader modules import their parsers lazily."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from ingest.model import LoadedFile, LoadError

# suffix -> (module, function); imported on first use so `mopi --help` stays instant.
_LOADERS: dict[str, tuple[str, str]] = {
    ".md": ("ingest.loaders.markdown", "load_markdown"),
    ".markdown": ("ingest.loaders.markdown", "load_markdown"),
    ".txt": ("ingest.loaders.plaintext", "load_txt"),
    ".html": ("ingest.loaders.html", "load_html"),
    ".htm": ("ingest.loaders.html", "load_html"),
    ".pdf": ("ingest.loaders.pdf", "load_pdf"),
    ".docx": ("ingest.loaders.docx", "load_docx"),
}

SUPPORTED_SUFFIXES = frozenset(_LOADERS)


def loader_for(path: Path) -> Callable[[Path], LoadedFile]:
    try:
        module, func = _LOADERS[path.suffix.lower()]
    except KeyError:
        raise LoadError(
            f"unsupported file type {path.suffix or '(none)'!r}; supported: {', '.join(sorted(_LOADERS))}"
        ) from None
    return getattr(import_module(module), func)


def load_file(path: Path) -> LoadedFile:
    """Load any supported file; every failure surfaces as a one-line LoadError."""
    loader = loader_for(path)
    try:
        return loader(path)
    except LoadError:
        raise
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        # A parser tripping over a malformed file must not take the batch down.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LoadError(f"could not read file ({reason})") from None
