"""Sentence vectors for the reranker, embedded once at ingest.

Every quotable unit of every chunk (see :mod:`bot.core.sentences`), read with
the context it leans on, is embedded by the model the ingest already loaded.
The vectors are kept two ways:

* a cache keyed by a hash of the unit's text (SQLite under ``MOPI_HOME``), so a
  re-ingest embeds only sentences it has never seen: incremental, and safe to
  kill at any point (a lost write is just a cache miss next time);
* a matrix saved with the BM25 index (``sentences.npy``), built from the cache
  whenever the chunk set changes and swapped in atomically with it, so the
  vectors a question sees always belong to the chunks it sees.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from bot.core.sentences import quotable_text, units


def unit_texts(text: str) -> list[str]:
    """What is embedded for each unit of a chunk, in :func:`units` order."""
    all_units = units(text)
    return [quotable_text(text, all_units, i) for i in range(len(all_units))]


class SentenceVectorCache:
    """Vectors by text hash for one embedding model (the file name carries the model's collection name)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path))
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def close(self) -> None:
        self._db.close()

    def get(self, hashes: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(hashes), 500):  # SQLite's bound-parameter limit
            batch = list(hashes[start:start + 500])
            marks = ",".join("?" * len(batch))
            found.update(self._db.execute(f"SELECT hash, vector FROM vectors WHERE hash IN ({marks})", batch))
        return found

    def put(self, rows: Sequence[tuple[str, bytes]]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors (hash, vector) VALUES (?, ?)", rows)

    def keep_only(self, hashes: set[str]) -> None:
        """Forget vectors of sentences no longer in the index."""
        with self._db:
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS live (hash TEXT PRIMARY KEY)")
            self._db.execute("DELETE FROM live")
            self._db.executemany("INSERT OR IGNORE INTO live VALUES (?)", [(h,) for h in hashes])
            self._db.execute("DELETE FROM vectors WHERE hash NOT IN (SELECT hash FROM live)")


def build_matrix(texts: Sequence[str], embedder, cache: SentenceVectorCache):
    """(matrix, offsets, embedded): unit vectors of all chunks stacked, chunk i's rows at offsets[i]:offsets[i+1].

    Only units missing from ``cache`` are embedded (one call, so batching sorts them by length).
    """
    import numpy as np

    per_chunk = [unit_texts(t) for t in texts]
    flat = [u for chunk in per_chunk for u in chunk]
    keys = [hashlib.sha256(u.encode()).hexdigest()[:32] for u in flat]
    cached = cache.get(list(dict.fromkeys(keys)))
    missing = [k for k in dict.fromkeys(keys) if k not in cached]
    if missing:
        text_of = dict(zip(keys, flat))
        vectors = np.asarray(embedder.embed_documents([text_of[k] for k in missing]), dtype=np.float32)
        rows = [(k, v.tobytes()) for k, v in zip(missing, vectors)]
        cache.put(rows)
        cached.update(rows)
    cache.keep_only(set(keys))
    offsets = [0]
    for chunk in per_chunk:
        offsets.append(offsets[-1] + len(chunk))
    matrix = (np.stack([np.frombuffer(cached[k], dtype=np.float32) for k in keys]) if keys
              else np.zeros((0, 0), dtype=np.float32))
    return matrix, offsets, len(missing)
