"""What has been indexed, file by file: the record that makes re-ingest incremental.

One row per source file and collection, committed only after that file's
chunks are in the vector store. A run killed part-way therefore leaves the
old row, and the next run sees the file as changed and finishes it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    collection  TEXT NOT NULL,
    path        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    chunk_ids   TEXT NOT NULL,
    indexed_at  TEXT NOT NULL,
    PRIMARY KEY (collection, path)
)
"""


@dataclass(frozen=True)
class FileRecord:
    path: str
    fingerprint: str
    doc_id: str
    chunk_ids: tuple[str, ...]
    indexed_at: str


class IndexState:
    def __init__(self, db_path: Path, collection: str):
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(db_path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._db.commit()
        self.collection = collection

    def close(self) -> None:
        self._db.close()

    def records(self) -> dict[str, FileRecord]:
        rows = self._db.execute(
            "SELECT path, fingerprint, doc_id, chunk_ids, indexed_at FROM files WHERE collection = ?",
            (self.collection,),
        )
        return {r[0]: FileRecord(r[0], r[1], r[2], tuple(json.loads(r[3])), r[4]) for r in rows}

    def put(self, path: str, fingerprint: str, doc_id: str, chunk_ids: list[str]) -> None:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                (self.collection, path, fingerprint, doc_id, json.dumps(chunk_ids), now),
            )

    def remove(self, path: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM files WHERE collection = ? AND path = ?", (self.collection, path))
