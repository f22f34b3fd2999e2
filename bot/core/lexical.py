"""The BM25 index, persisted beside the vector store: the index snapshot.

Besides BM25 it holds every chunk's text, metadata and vector, its sentence vectors
and the corpus gazetteer, so a question can be answered from it alone (see
bot.core.vectorstore.SnapshotVectors). Each build is written to its own folder named by a fingerprint of the chunk
ids it covers, then ``CURRENT`` is switched atomically; a reader therefore
sees either the old index or the new one, never a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.errors import IndexNotReadyError

# Bump when tokenize() changes: every BM25 index is then rebuilt on the next ingest.
TOKENIZER_VERSION = "6"  # 4: the index carries sentence vectors; 5: and the corpus gazetteer; 6: and chunk vectors

# \w+ rather than bm25s' default \w\w+: "Group 3" must keep its "3".
_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with what how do does we our i you your".split()
)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _bm25s():
    import bm25s

    # bm25s sets its own logger to DEBUG; its chatter is not ours to show.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def tokenize(text: str) -> list[str]:
    """Lower-case, stem, drop stop words. Numbers are kept: periods and groups are numbers.

    A word followed by a number also yields a joined token ("group 1" -> "group_1",
    "part 3" -> "part_3"), so "Group 1" is not matched by any "1" in the corpus.
    """
    words = _TOKEN.findall(text.lower())
    stems = _stemmer().stemWords(words)
    tokens = [stem for word, stem in zip(words, stems) if word not in _STOPWORDS]
    tokens += [f"{stem}_{nxt}" for word, stem, nxt in zip(words, stems, words[1:])
               if nxt.isdigit() and not word.isdigit() and word not in _STOPWORDS]
    return tokens


def fingerprint(ids: Iterable[str]) -> str:
    """Identity of a set of chunk ids and of the tokenizer: equal fingerprints mean the same index."""
    digest = hashlib.sha256(TOKENIZER_VERSION.encode())
    for chunk_id in sorted(ids):
        digest.update(chunk_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:24]


@dataclass(frozen=True)
class LexicalHit:
    id: str
    text: str
    metadata: dict
    score: float


class LexicalIndex:
    """BM25 over passages; holds each chunk's text and metadata so hits need no second lookup."""

    def __init__(self, retriever, ids: list[str], texts: list[str], metadatas: list[dict], fingerprint: str,
                 sentence_vectors=None, sentence_offsets: list[int] | None = None, gazetteer=None,
                 chunk_vectors=None):
        self._retriever = retriever
        self.ids = ids
        self.texts = texts
        self.metadatas = metadatas
        self.fingerprint = fingerprint
        # Unit vectors of every chunk's sentences (see bot.core.sentence_vectors); chunk i owns
        # rows sentence_offsets[i]:sentence_offsets[i + 1]. None for an index built without them.
        self.sentence_vectors = sentence_vectors
        self.sentence_offsets = sentence_offsets
        # Unit vectors of the chunks themselves, row i for ids[i]: the collection's vectors at build
        # time. None for an index built before they were kept (the vector store is searched then).
        self.chunk_vectors = chunk_vectors
        self.position = {chunk_id: i for i, chunk_id in enumerate(ids)}
        self._gazetteer = gazetteer  # the corpus's own names (bot.core.gazetteer), for the guards
        self._idf: dict[str, float] | None = None
        self._vocabulary: frozenset[str] | None = None
        self._acronyms: dict[str, str] | None = None
        self._idf_unseen = 0.0

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every lower-case word of the indexed text, for spelling correction of questions."""
        if self._vocabulary is None:
            self._vocabulary = frozenset(w for text in self.texts for w in _TOKEN.findall(text.lower()) if w.isalpha())
        return self._vocabulary

    @property
    def acronyms(self) -> dict[str, str]:
        """Acronyms the indexed text defines ("nrac" -> "national retention assessment criteria")."""
        if self._acronyms is None:
            from bot.core.query import mine_acronyms

            # Headings define terms too ("2.7 National retention assessment criteria (NRAC)").
            headings = {meta.get("heading_path", "") for meta in self.metadatas}
            self._acronyms = mine_acronyms([*self.texts, *sorted(headings)])
        return self._acronyms

    @property
    def gazetteer(self):
        """The documents' own names, built at ingest (or from the texts, for an index built before them)."""
        if self._gazetteer is None:
            from bot.core.gazetteer import Gazetteer

            self._gazetteer = Gazetteer.build(self.texts, self.metadatas)
        return self._gazetteer

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term; unseen terms count as rarest.

        An unseen term is the strongest sign a question is about something the
        corpus does not cover, so it must weigh, not vanish.
        """
        if self._idf is None:
            df: dict[str, int] = {}
            for meta, text in zip(self.metadatas, self.texts):
                for token in set(tokenize(f"{meta.get('heading_path', '')} {text}")):
                    df[token] = df.get(token, 0) + 1
            n = max(1, len(self.ids))
            self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
            self._idf_unseen = math.log(1 + (n + 0.5) / 0.5)
        return self._idf.get(term, self._idf_unseen)

    def sentence_rows(self, chunk_id: str):
        """The sentence vectors of one chunk (a matrix view), or None."""
        i = self.position.get(chunk_id)
        if i is None or self.sentence_vectors is None or self.sentence_offsets is None:
            return None
        return self.sentence_vectors[self.sentence_offsets[i]:self.sentence_offsets[i + 1]]

    @classmethod
    def build(cls, ids: list[str], texts: list[str], metadatas: list[dict], passages: list[str],
              sentence_vectors=None, sentence_offsets: list[int] | None = None,
              chunk_vectors=None) -> LexicalIndex:
        retriever = _bm25s().BM25()
        if ids:
            retriever.index([tokenize(p) or ["_empty_"] for p in passages], show_progress=False)
        from bot.core.gazetteer import Gazetteer

        if chunk_vectors is not None and ids:
            import numpy as np

            chunk_vectors = np.asarray(chunk_vectors, dtype=np.float32).reshape(len(ids), -1)
            norms = np.linalg.norm(chunk_vectors, axis=1, keepdims=True)
            chunk_vectors = chunk_vectors / np.where(norms > 0, norms, 1.0)
        else:
            chunk_vectors = None
        return cls(retriever, ids, texts, metadatas, fingerprint(ids), sentence_vectors, sentence_offsets,
                   Gazetteer.build(texts, metadatas), chunk_vectors)

    def search(self, query: str, k: int = 10, extra_terms: Iterable[str] = ()) -> list[LexicalHit]:
        """BM25 hits for ``query``; ``extra_terms`` (already stemmed) are added to its tokens."""
        tokens = tokenize(query) + list(extra_terms)
        if not self.ids or not tokens:
            return []
        k = min(k, len(self.ids))
        docs, scores = self._retriever.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        return [
            LexicalHit(self.ids[i], self.texts[i], self.metadatas[i], float(s))
            for i, s in zip(docs[0], scores[0])
            if s > 0
        ]

    def save(self, root: Path, on_staged: Callable[[], None] | None = None,
             on_switched: Callable[[], None] | None = None) -> None:
        """Write to root/<fingerprint>/ and switch root/CURRENT to it atomically.

        ``on_staged`` runs with the new index complete on disk but not yet current, ``on_switched``
        just after the switch, before old builds are removed (the crash tests kill the process there).
        """
        root.mkdir(parents=True, exist_ok=True)
        target = root / self.fingerprint
        staging = root / f".staging-{self.fingerprint}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        if self.ids:
            self._retriever.save(str(staging), show_progress=False)
        with open(staging / "chunks.json", "w", encoding="utf-8") as fh:
            json.dump({"ids": self.ids, "texts": self.texts, "metadatas": self.metadatas,
                       "sentence_offsets": self.sentence_offsets}, fh)
        if self.sentence_vectors is not None:
            import numpy as np

            np.save(staging / "sentences.npy", self.sentence_vectors)
        if self.chunk_vectors is not None:
            import numpy as np

            np.save(staging / "chunks.npy", self.chunk_vectors)
        with open(staging / "gazetteer.json", "w", encoding="utf-8") as fh:
            json.dump(self.gazetteer.to_json(), fh)
        _fsync_dir(staging)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
        if on_staged:
            on_staged()
        pointer = root / f".CURRENT-{os.getpid()}"
        pointer.write_text(self.fingerprint)
        os.replace(pointer, root / "CURRENT")
        if on_switched:
            on_switched()
        for old in root.iterdir():  # earlier builds and crashed stagings
            if old.is_dir() and old.name != self.fingerprint:
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, root: Path) -> LexicalIndex:
        folder = root / (current_fingerprint(root) or "")
        if not (folder / "chunks.json").is_file():
            raise IndexNotReadyError("no lexical index yet: run `mopi ingest` first")
        with open(folder / "chunks.json", encoding="utf-8") as fh:
            data = json.load(fh)
        bm25s = _bm25s()
        retriever = bm25s.BM25.load(str(folder), show_progress=False) if data["ids"] else bm25s.BM25()
        vectors = None
        if (folder / "sentences.npy").is_file():
            import numpy as np

            # Memory-mapped: a large index pages in only the rows its questions touch.
            vectors = np.load(folder / "sentences.npy", mmap_mode="r")
        chunk_vectors = None
        if (folder / "chunks.npy").is_file():
            import numpy as np

            chunk_vectors = np.load(folder / "chunks.npy", mmap_mode="r")
        gazetteer = None
        if (folder / "gazetteer.json").is_file():
            from bot.core.gazetteer import Gazetteer

            with open(folder / "gazetteer.json", encoding="utf-8") as fh:
                gazetteer = Gazetteer.from_json(json.load(fh))
        return cls(retriever, data["ids"], data["texts"], data["metadatas"], folder.name, vectors,
                   data.get("sentence_offsets"), gazetteer, chunk_vectors)


def current_fingerprint(root: Path) -> str | None:
    try:
        return (root / "CURRENT").read_text().strip() or None
    except FileNotFoundError:
        return None


def _fsync_dir(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
