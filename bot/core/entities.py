"""The entities that tell one answer from another: record groups, grading codes, document years.

"How long do we keep a Group 1 record?" and the same question about Group 3
share every word but one, and BM25 and a sentence embedder both see them as
near-identical. That one word decides the answer, so it is a hard rule here:
the section an answer quotes must *agree* with the question on it.

Agreement has two sides:

* **scope**: what a chunk is about, read from its document (id, title) and its
  heading path. A chunk under "5.4 Group 3" is about Group 3; a chunk of
  ``code-of-practice-mopi-2005`` is about the 2005 Code.
* **mentions**: what a single sentence names. "Group 3: 6 years" names Group 3.

A chunk *conflicts* with a question when its scope names values of a type the
question asks about, none of them the asked one. A sentence conflicts when it
names values of that type and not the asked one. Years count only when they
identify a document in the index (``document_years``), so "nothing since 2018"
in a question does not rule out every document dated otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_NUMBER_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5"}
_GROUP = re.compile(r"\b(?:group|grp)s?\s*(?:no\.?\s*)?([1-9]|one|two|three|four|five)\b"
                    r"((?:\s*(?:,|and|or|&|to|-|–)\s*(?:[1-9]|one|two|three|four|five)\b)*)", re.I)
_MORE_NUMBERS = re.compile(r"[1-9]|one|two|three|four|five", re.I)
_RANGE = re.compile(r"^\s*(?:to|-|–)\s*", re.I)
_GRADING = re.compile(r"\b([1-9])\s*[x×]\s*([1-9])\s*[x×]\s*([1-9])\b", re.I)
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")

GROUP, GRADING, YEAR = "group", "grading", "year"


@dataclass(frozen=True)
class Entities:
    """Values per entity type, e.g. {"group": {"1"}, "year": {"2005"}}."""

    values: Mapping[str, frozenset[str]]

    def __bool__(self) -> bool:
        return any(self.values.values())

    def get(self, kind: str) -> frozenset[str]:
        return self.values.get(kind, frozenset())


def extract(text: str, document_years: Iterable[str] | None = None) -> Entities:
    """Groups, grading codes and years named in ``text``; only ``document_years`` when given."""
    groups: set[str] = set()
    for first, rest in _GROUP.findall(text):
        numbers = [int(_NUMBER_WORDS.get(v.lower(), v)) for v in [first, *_MORE_NUMBERS.findall(rest)]]
        if len(numbers) == 2 and _RANGE.search(rest):  # "Groups 1–4" names all four
            numbers = list(range(min(numbers), max(numbers) + 1))
        groups.update(str(n) for n in numbers)
    gradings = {"x".join(m) for m in _GRADING.findall(text)}
    years = set(_YEAR.findall(text))
    if document_years is not None:
        years &= set(document_years)
    return Entities({GROUP: frozenset(groups), GRADING: frozenset(gradings), YEAR: frozenset(years)})


def scope_text(metadata: Mapping) -> str:
    """What a chunk is about, as text: its document's id and title and its heading path."""
    return f"{metadata.get('doc_id', '').replace('-', ' ')} {metadata.get('title', '')} {metadata.get('heading_path', '')}"


# Documents cite one another ("the 2023 Code replaced the 2005 Code"), so a chunk of one document that
# names the asked year in its text agrees on it; a section about Group 3 that mentions "Groups 1 or 2"
# in passing is still about Group 3.
_MENTION_AGREES = frozenset({YEAR})


def conflicts(asked: Entities, named: Entities, mentioned: Entities | None = None) -> bool:
    """``named`` (a scope or a sentence) names values of a type ``asked`` has, none of them asked for.

    ``mentioned`` (a chunk's text) settles the types in ``_MENTION_AGREES`` when it names an asked value.
    """
    for kind, values in asked.values.items():
        if not values or not named.get(kind) or values & named.get(kind):
            continue
        if mentioned is not None and kind in _MENTION_AGREES and values & mentioned.get(kind):
            continue
        return True
    return False


def agrees(asked: Entities, named: Entities) -> bool:
    """``named`` names every type ``asked`` has, with an asked value (a positive match)."""
    return all(named.get(kind) & values for kind, values in asked.values.items() if values)


def document_years(metadatas: Iterable[Mapping]) -> frozenset[str]:
    """Years that identify a document of the index: in its id or title ("the 2005 Code")."""
    years: set[str] = set()
    for meta in metadatas:
        years |= set(_YEAR.findall(f"{meta.get('doc_id', '')} {meta.get('title', '')}"))
    return frozenset(years)


# Words that ask for an earlier or the current edition of a document ("the old code").
_EARLIER = re.compile(r"\b(?:old|older|previous|former|original|earlier|superseded|legacy|replaced)\b", re.I)
_LATER = re.compile(r"\b(?:new|newer|current|latest|revised|replacement|present)\b", re.I)


def asked_status(question: str) -> str | None:
    """"superseded" for a question about an earlier edition, "current" for the current one, else None."""
    earlier, later = bool(_EARLIER.search(question)), bool(_LATER.search(question))
    if earlier == later:
        return None
    return "superseded" if earlier else "current"
