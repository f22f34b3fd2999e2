"""PDF loading with pypdf: text page by page, structure recovered as for plain text."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

from ingest.loaders.plaintext import structure_lines
from ingest.model import LoadedFile, LoadError

_MAX_REASON_CHARS = 120
_HEADER = b"%PDF-"
_HEADER_WINDOW = 1024  # readers accept a little junk before the header
_EOF_MARKER = b"%%EOF"
_EOF_WINDOW = 2048


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """Mute pypdf's warnings about malformed files for the duration of one load.

    The LoadError (or nothing, if pypdf recovered) is the message the user needs;
    the logger's level is restored afterwards so nobody else's logging changes.
    """
    logger = logging.getLogger("pypdf")
    previous = logger.level
    logger.setLevel(logging.ERROR + 10)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(previous)


def _reason(exc: BaseException) -> str:
    """A short one-line reason from an exception, for messages users see."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > _MAX_REASON_CHARS:
        text = text[: _MAX_REASON_CHARS - 1].rstrip() + "…"
    return text


def _damage(data: bytes, exc: BaseException) -> LoadError:
    """Name the likely cause: pypdf's own words ("Stream has ended unexpectedly") rarely help."""
    if _HEADER not in data[:_HEADER_WINDOW]:
        return LoadError("not a readable PDF (no PDF header; the file is not a PDF)")
    if _EOF_MARKER not in data[-_EOF_WINDOW:]:
        return LoadError("not a readable PDF (file is truncated; no end-of-file marker)")
    return LoadError(f"not a readable PDF ({_reason(exc)})")


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(BytesIO(data), strict=False)
    except (FileNotDecryptedError, DependencyError):
        raise LoadError("PDF is encrypted") from None
    except Exception as exc:  # pypdf raises many types for damaged files
        raise _damage(data, exc) from None
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except DependencyError:
            raise LoadError("PDF is encrypted (opening it needs the 'cryptography' package)") from None
        except Exception:  # damaged or unsupported encryption dictionary
            raise LoadError("PDF is encrypted") from None
        if not opened:
            raise LoadError("PDF is encrypted")
    return reader


def _page_lines(reader: PdfReader, data: bytes) -> list[tuple[str, int | None]]:
    lines: list[tuple[str, int | None]] = []
    try:
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            lines.extend((line, number) for line in text.splitlines())
            # A page end is a paragraph gap: only a cut-off sentence runs on across it.
            lines.append(("", number))
    except FileNotDecryptedError:
        raise LoadError("PDF is encrypted") from None
    except Exception as exc:  # damaged content streams fail only when read
        raise _damage(data, exc) from None
    return lines


def load_pdf(path: Path) -> LoadedFile:
    """Load a PDF's text with page numbers; headings carry across page breaks."""
    data = path.read_bytes()
    if not data or data.isspace():
        raise LoadError("file is empty")
    with _quiet_pypdf():
        lines = _page_lines(_open(data), data)
    if not any(text.strip() for text, _ in lines):
        raise LoadError("PDF has no extractable text (scanned? it needs OCR first)")
    blocks = structure_lines(lines)
    if not blocks:
        raise LoadError("PDF has no extractable text (scanned? it needs OCR first)")
    return LoadedFile(blocks=blocks)
