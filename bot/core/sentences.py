"""Sentences of a chunk and what each one leans on.

One segmentation serves ingest (which embeds every sentence once) and the
answerer (which quotes them), so a sentence's stored vector and its quote
always line up: both come from :func:`units`.

A sentence is not always quotable alone. Document structure says what it
needs with it:

* the answer half of a Q&A pair ("**When was it published?** 20 July 2023.")
  needs its question;
* a list item needs the lead-in that introduces the list ("The reviewer asks:");
* a table row needs the header row;
* a sentence whose first word points back ("It", "This", "They", "No;") needs
  the sentence before it.

:func:`units` records that as ``context``: the index of the unit that must be
quoted with it, or ``ORPHAN`` when the chunk does not hold it (the sentence
opens the chunk), in which case it must not be quoted as an answer at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(“‘A-Z0-9])")
_TABLE_RULE = re.compile(r"^\|?[\s:|-]+\|?$")
_LIST_MARK = re.compile(r"^(?:[-*•]\s+|\d+[.)]\s+|\([a-z0-9]+\)\s+)")
# English pronouns and determiners that refer back: a closed word class of the
# language, not a list fitted to questions. "No;" / "Yes," open an answer to
# something asked before.
_POINTS_BACK = re.compile(
    r"^(?:it|its|this|these|those|they|them|their|that|such|he|she|both|neither|either|the latter|the former)\b"
    r"|^(?:yes|no)\b[;,.]?", re.I)
_MARKUP = re.compile(r"[*_`]+")

NO_CONTEXT = -1
ORPHAN = -2


@dataclass(frozen=True)
class Unit:
    """One sentence, list item or table row of a chunk: ``text[start:end]``, verbatim."""

    start: int
    end: int
    line: int  # line number within the chunk
    kind: str  # "sentence", "item", "row", "header"
    context: int = NO_CONTEXT  # index of the unit it leans on, NO_CONTEXT, or ORPHAN

    @property
    def standalone(self) -> bool:
        return self.context == NO_CONTEXT


def units(text: str) -> list[Unit]:
    """The chunk's sentences, list items and table rows, in order, each with its context."""
    raw: list[tuple[int, int, int, str]] = []
    offset = 0
    for line_no, line in enumerate(text.split("\n")):
        stripped = line.strip()
        start = offset + (len(line) - len(line.lstrip()))
        offset += len(line) + 1
        if not stripped or _TABLE_RULE.match(stripped):
            continue
        if stripped.startswith("|"):  # a table row: drop the outer pipes, keep the cells
            inner = stripped.strip("|")
            lead = len(stripped) - len(stripped.lstrip("|")) + (len(inner) - len(inner.lstrip()))
            raw.append((start + lead, start + lead + len(inner.strip()), line_no, "row"))
            continue
        mark = _LIST_MARK.match(stripped)
        pos = start + (mark.end() if mark else 0)
        body = text[pos:start + len(stripped)]
        cursor = 0
        for n, piece in enumerate(_SENTENCE_END.split(body)):
            at = body.index(piece, cursor)
            raw.append((pos + at, pos + at + len(piece), line_no, "item" if mark and n == 0 else "sentence"))
            cursor = at + len(piece)
    return _with_context(text, raw)


def _with_context(text: str, raw: list[tuple[int, int, int, str]]) -> list[Unit]:
    out: list[Unit] = []
    lead_in = NO_CONTEXT  # the sentence ending in ':' that introduces the current list or table
    header = NO_CONTEXT  # the first row of the current table
    for i, (start, end, line, kind) in enumerate(raw):
        sentence = text[start:end]
        previous = out[-1] if out else None
        new_line = previous is None or previous.line != line
        if kind == "sentence" and new_line and i - 1 != lead_in:
            lead_in = NO_CONTEXT  # prose on a line of its own ends any list
        context = NO_CONTEXT
        if kind == "row":
            if previous is None or previous.kind not in ("row", "header"):
                kind, header, context = "header", i, lead_in
            else:
                context = header
        elif not new_line and text[previous.start:previous.end].endswith("?"):
            context = i - 1  # the answer of a Q&A pair, after its question on the same line
        elif _POINTS_BACK.match(_MARKUP.sub("", sentence)):
            context = i - 1 if previous is not None else ORPHAN
        elif kind == "item":
            context = lead_in
        if kind == "sentence" and sentence.endswith(":"):
            lead_in = i
        out.append(Unit(start, end, line, kind, context))
    return out


def spans(text: str) -> list[tuple[int, int]]:
    """Verbatim (start, end) of every unit."""
    return [(u.start, u.end) for u in units(text)]


def chain(all_units: list[Unit], index: int, limit: int = 3, opens_section: bool = False) -> list[int]:
    """``index`` preceded by what it leans on (at most ``limit`` units), oldest first.

    Returns [] when the unit is an orphan: it cannot be quoted without context the chunk lacks.
    In a chunk that ``opens_section``, a first sentence pointing back ("This grades how…") points at
    the section's heading, which every citation shows, so it is not an orphan there.
    """
    out = [index]
    current = all_units[index]
    while current.context >= 0:
        if len(out) == limit or current.context in out:
            return []  # leans on more than can be quoted with it
        out.insert(0, current.context)
        current = all_units[current.context]
    return [] if current.context == ORPHAN and not opens_section else out


def quotable_text(text: str, all_units: list[Unit], index: int) -> str:
    """The unit with its context, as a reader would need it (for embedding the unit at ingest)."""
    parts = chain(all_units, index) or [index]
    return " ".join(text[all_units[i].start:all_units[i].end] for i in parts)
