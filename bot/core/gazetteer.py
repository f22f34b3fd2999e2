"""The documents' own names, built from the corpus at ingest.

A guard that sees a name must know whether it is *document content*
("Chief Constable Mike Barton" in the HMIC report, the "Force Records Manager"
post) or a record subject. Nobody keeps a list of those: they are read off the
corpus by its structure.

* **Names** are the capitalised runs of words the documents use ("Mike Barton",
  "Information Asset Owner", "Building the Picture"), plus titles, publishers and
  headings from the front matter and document structure.
* **Ordinary words** are the words the documents write in lower case somewhere
  ("records", "manager", "chief"). A person's name is capitalised wherever it appears,
  so a word the corpus uses in lower case is not, by itself, a name.
* **Acronyms** are all-capital tokens ("HMIC", "SIRO"): bodies and posts, not people.

Saved beside the BM25 index (``gazetteer.json``) and swapped in with it, so the
guard always sees the names of the documents the answers come from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# A run of capitalised words, allowing the small words titles use inside ("Building the Picture").
_CAPITALISED_RUN = re.compile(
    r"(?:[A-Z][\w'’-]*|[A-Z]\.)(?:\s+(?:(?:of|the|and|for|on|in|to|de|van|von)\s+)*(?:[A-Z][\w'’-]*|[A-Z]\.))*")
_LOWER_WORD = re.compile(r"(?<![\w'’-])[a-z][a-z'’-]*")
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9&]{1,9}s?\b")
_POSSESSIVE = re.compile(r"['’]s?$")
MAX_NAME_WORDS = 6  # sub-runs longer than this are never asked for as one name


def name_words(text: str) -> tuple[str, ...]:
    """Lower-case words of a name, possessives dropped: "Mike Barton's" -> ("mike", "barton")."""
    return tuple(_POSSESSIVE.sub("", w).lower() for w in re.findall(r"[\w'’.-]+", text) if w.strip(".-"))


@dataclass(frozen=True)
class Gazetteer:
    names: frozenset[tuple[str, ...]] = frozenset()  # every contiguous part of every capitalised run
    ordinary_words: frozenset[str] = frozenset()  # words the corpus writes in lower case
    acronyms: frozenset[str] = frozenset()  # lower-cased all-capital tokens
    runs: tuple[str, ...] = field(default=(), compare=False)  # the runs themselves, as saved

    @classmethod
    def build(cls, texts: Sequence[str], metadatas: Sequence[Mapping]) -> Gazetteer:
        structure = [f"{m.get(key, '')}" for m in metadatas
                     for key in ("title", "publisher", "heading_path", "section")]
        sources = [*texts, *dict.fromkeys(structure)]
        runs = dict.fromkeys(run.strip() for text in sources for run in _CAPITALISED_RUN.findall(text))
        words = {w.rstrip("'’-") for text in sources for w in _LOWER_WORD.findall(text)}
        acronyms = {a.lower().removesuffix("s") if a.endswith("s") and a[:-1].isupper() else a.lower()
                    for text in sources for a in _ACRONYM.findall(text)}
        return cls.from_parts(tuple(r for r in runs if r), frozenset(words), frozenset(acronyms))

    @classmethod
    def from_parts(cls, runs: Iterable[str], ordinary_words: frozenset[str], acronyms: frozenset[str]) -> Gazetteer:
        runs = tuple(runs)
        names = set()
        for run in runs:
            words = name_words(run)
            for start in range(len(words)):
                for end in range(start + 1, min(len(words), start + MAX_NAME_WORDS) + 1):
                    names.add(words[start:end])
        return cls(frozenset(names), ordinary_words, acronyms, runs)

    def to_json(self) -> dict:
        return {"runs": list(self.runs), "ordinary_words": sorted(self.ordinary_words),
                "acronyms": sorted(self.acronyms)}

    @classmethod
    def from_json(cls, data: Mapping) -> Gazetteer:
        return cls.from_parts(data.get("runs", ()), frozenset(data.get("ordinary_words", ())),
                              frozenset(data.get("acronyms", ())))

    def is_ordinary(self, word: str) -> bool:
        word = word.lower()
        # a plural counts as its singular: "auditors" where the corpus writes "auditor"
        return any(w in self.ordinary_words or w in self.acronyms
                   for w in (word, word[:-1] if word.endswith("s") and len(word) > 3 else word))

    def is_document_name(self, text: str) -> bool:
        """Whether a name found in a question is the documents' own: a post, a body, an official, a title.

        Its ordinary words (ranks, post titles) are set aside; what is left must be a
        run the documents themselves capitalise. A name made only of ordinary words
        ("Records Manager") is document vocabulary too.
        """
        words = name_words(text)
        if not words:
            return False
        if words in self.names:
            return True
        rest = tuple(w for w in words if not self.is_ordinary(w))
        return not rest or rest in self.names
