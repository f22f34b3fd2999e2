"""Structure-following chunking: one section never shares a chunk with another.

Pure functions: blocks in, chunks out, so the result can be golden-tested.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from itertools import groupby

from ingest.metadata import DocMeta
from ingest.model import Block

_SECTION_NUMBER = re.compile(r"^(\d+(?:\.\d+)*(?:\([a-z]\)|[a-z])?)\.?(?:\s|$)")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[\"'(“‘A-Z0-9-])")
# A table up to this many times the chunk size is kept whole: splitting it
# would separate a retention period from the group it belongs to.
_TABLE_SLACK = 2.5


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    ordinal: int  # position in the document, from 0
    text: str  # verbatim body text: quotes are taken from here
    headings: tuple[str, ...]
    page: int | None
    kind: str

    @property
    def section(self) -> str:
        """The innermost heading, e.g. '5.4 Group 3 – All other offences'."""
        return self.headings[-1] if self.headings else ""

    @property
    def section_number(self) -> str:
        for heading in reversed(self.headings):
            match = _SECTION_NUMBER.match(heading)
            if match:
                return match.group(1)
        return ""

    @property
    def heading_path(self) -> str:
        return " > ".join(self.headings)


def passage_text(title: str, heading_path: str, text: str) -> str:
    """What gets embedded and BM25-indexed: the body with the context a reader would have.

    Short sections ("Rule. A 6-year clear period applies.") only make sense
    with their heading ("Group 3 – All other offences") in front of them.
    """
    context = " > ".join(part for part in (title, heading_path) if part)
    return f"{context}\n\n{text}" if context else text


def lexical_passage(title: str, heading_path: str, section: str, text: str) -> str:
    """What BM25 indexes: the embedded passage with the section heading once more.

    Repeating the heading weights it like a title field: "Group 1" in the heading
    says more about a chunk than "the Group 1 threshold" in another's body.
    """
    return f"{passage_text(title, heading_path, text)}\n{section}"


def chunk_blocks(meta: DocMeta, blocks: list[Block], max_words: int = 150, overlap_words: int = 30) -> list[Chunk]:
    """Group blocks into sections by heading path, then split long sections with overlap."""
    chunks: list[Chunk] = []
    seen: set[str] = set()
    meta_key = json.dumps(meta.as_dict(), sort_keys=True)
    for headings, section_blocks in groupby(blocks, key=lambda b: b.headings):
        for page, text, kind in _split_section(list(section_blocks), max_words, overlap_words):
            digest = hashlib.sha256("\x1f".join([meta_key, *headings, str(page), text]).encode()).hexdigest()[:32]
            chunk_id = digest
            n = 1
            while chunk_id in seen:  # identical text twice in one section: keep both, distinct ids
                n += 1
                chunk_id = f"{digest}-{n}"
            seen.add(chunk_id)
            chunks.append(Chunk(chunk_id, meta.id, len(chunks), text, headings, page, kind))
    return chunks


def _words(text: str) -> int:
    return len(text.split())


def _units(block: Block, max_words: int) -> list[tuple[str, str]]:
    """(separator before, piece) pairs, each piece at most max_words where the text allows.

    Long text splits at lines first (list items, quick answers), then at sentences;
    the separators let the pieces rejoin exactly as they were.
    """
    if _words(block.text) <= max_words:
        return [("\n\n", block.text)]
    if block.kind == "table":
        if _words(block.text) <= max_words * _TABLE_SLACK:
            return [("\n\n", block.text)]
        return [("\n\n", piece) for piece in _split_table(block.text, max_words)]
    pieces: list[tuple[str, str]] = []
    for line in block.text.split("\n"):
        for n, sentence in enumerate(_SENTENCE_END.split(line)):
            words = sentence.split()
            # A single run-on "sentence" longer than a chunk is cut by words.
            for start in range(0, len(words), max_words):
                sep = " " if n or start else "\n"
                pieces.append((sep, " ".join(words[start:start + max_words])))
    if pieces:
        pieces[0] = ("\n\n", pieces[0][1])
    return pieces


def _split_table(text: str, max_words: int) -> list[str]:
    """Split a large table by rows, repeating the header so each piece reads alone."""
    rows = text.split("\n")
    header = rows[:2] if len(rows) > 1 and set(rows[1].replace("|", "").strip()) <= set("-: ") else rows[:1]
    pieces, current = [], list(header)
    for row in rows[len(header):]:
        if _words("\n".join(current + [row])) > max_words and len(current) > len(header):
            pieces.append("\n".join(current))
            current = list(header)
        current.append(row)
    pieces.append("\n".join(current))
    return pieces


@dataclass(frozen=True)
class _Unit:
    page: int | None
    text: str
    kind: str
    sep: str  # what stood before it in the source: a paragraph break, a line break or a space


def _split_section(blocks: list[Block], max_words: int, overlap_words: int) -> list[tuple[int | None, str, str]]:
    """Pack a section's units into chunks of at most max_words, with overlap between pieces."""
    units = [_Unit(block.page, piece, block.kind, sep) for block in blocks for sep, piece in _units(block, max_words)]
    out: list[tuple[int | None, str, str]] = []
    current: list[_Unit] = []
    for unit in units:
        if current and _words(" ".join(u.text for u in current + [unit])) > max_words:
            out.append(_join(current))
            current = _overlap_tail(current, overlap_words)
            # Overlap must not push the next unit over the limit on its own.
            while current and _words(" ".join(u.text for u in current + [unit])) > max_words:
                current.pop(0)
        current.append(unit)
    if current:
        out.append(_join(current))
    return out


def _overlap_tail(units: list[_Unit], overlap_words: int) -> list[_Unit]:
    """The last sentences of a chunk, up to overlap_words, to open the next one."""
    last = units[-1]
    if overlap_words <= 0 or last.kind == "table":
        return []
    tail: list[str] = []
    for sentence in reversed(_SENTENCE_END.split(last.text)):
        if _words(" ".join([sentence, *tail])) > overlap_words:
            break
        tail.insert(0, sentence)
    return [_Unit(last.page, " ".join(tail), "text", "\n\n")] if tail else []


def _join(units: list[_Unit]) -> tuple[int | None, str, str]:
    page = next((u.page for u in units if u.page is not None), None)
    kind = "table" if all(u.kind == "table" for u in units) else "text"
    return page, units[0].text + "".join(u.sep + u.text for u in units[1:]), kind
