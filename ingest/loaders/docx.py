"""DOCX loading with python-docx: heading styles give the heading path, tables stay whole."""

from __future__ import annotations

import re
import zipfile
from io import BytesIO
from pathlib import Path

import docx
from docx.document import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.model import Block, LoadedFile, LoadError

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Word .doc and other OLE files
_MAX_REASON_CHARS = 120


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _heading_level(paragraph: Paragraph) -> int | None:
    """1-9 for "Heading n", 0 for "Title", None for body paragraphs."""
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    if name.lower() == "title":
        return 0
    match = _HEADING_STYLE.match(name)
    return int(match.group(1)) if match else None


def _cell_text(text: str) -> str:
    # A literal pipe would read as a column break in the pipe-formatted rows.
    return _collapse(text).replace("|", "\\|")


def _table_text(table: Table) -> str:
    """Rows as `| a | b |` lines.

    A horizontally merged cell appears once per row (python-docx repeats it per
    grid column); a vertically merged one repeats its text on each row it spans
    so every row reads on its own.
    """
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if previous is not None and cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(_cell_text(cell.text))
        if any(cells):
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _open(path: Path) -> Document:
    data = path.read_bytes()
    if not data or data.isspace():
        raise LoadError("file is empty")
    if data.startswith(_OLE_MAGIC):
        raise LoadError("not a readable DOCX (looks like a legacy .doc file; save it as .docx)")
    if not zipfile.is_zipfile(BytesIO(data)):
        raise LoadError("not a readable DOCX (not a zip package; is it really a .docx?)")
    try:
        return docx.Document(BytesIO(data))
    except Exception as exc:  # python-docx and zipfile raise many types for damaged packages
        reason = _collapse(str(exc)) or type(exc).__name__
        raise LoadError(f"not a readable DOCX ({reason[:_MAX_REASON_CHARS]})") from None


def _blocks(document: Document) -> tuple[list[Block], str]:
    """Body blocks in document order, and the text of the first Title paragraph."""
    blocks: list[Block] = []
    path: list[str] = []  # path[i] is the current heading of level i + 1
    title = ""
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            text = _table_text(item)
            if text:
                blocks.append(Block(text=text, headings=tuple(h for h in path if h), kind="table"))
            continue
        text = _collapse(item.text)
        if not text:
            continue
        level = _heading_level(item)
        if level == 0:
            title = title or text
        elif level is not None:
            # Skipped levels (Heading 1 then Heading 3) leave a hole that is dropped from the path.
            path = path[: level - 1] + [""] * max(0, level - 1 - len(path)) + [text]
        else:
            blocks.append(Block(text=text, headings=tuple(h for h in path if h)))
    return blocks, title


def load_docx(path: Path) -> LoadedFile:
    """Load a .docx: paragraphs and tables in order, under their Heading n path."""
    document = _open(path)
    try:
        blocks, title = _blocks(document)
        core_title = _collapse(document.core_properties.title or "")
    except Exception as exc:  # malformed XML inside an otherwise valid package
        reason = _collapse(str(exc)) or type(exc).__name__
        raise LoadError(f"not a readable DOCX ({reason[:_MAX_REASON_CHARS]})") from None
    if not blocks:
        raise LoadError("document has no text to index")
    title = title or core_title
    return LoadedFile(blocks=blocks, metadata={"title": title} if title else {})
