"""The audit database: every question and answer, feedback, and the events already handled.

Question text lives here (access-controlled, for governance review), never in
the application log.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

from bot.core.migrations import migrate

# Append only (see bot.core.migrations): never edit a released entry, add the next one.
# Version 1 is the original schema (IF NOT EXISTS: databases made before versioning already have it).
MIGRATIONS: list[tuple[int, str]] = [
    (1, """
        CREATE TABLE IF NOT EXISTS answers (
            answer_id TEXT PRIMARY KEY, at TEXT NOT NULL, user TEXT NOT NULL, channel TEXT NOT NULL,
            question TEXT NOT NULL, answer TEXT NOT NULL, refused INTEGER NOT NULL, mode TEXT NOT NULL,
            cited_doc_ids TEXT NOT NULL, latency_ms REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS feedback (
            at TEXT NOT NULL, answer_id TEXT NOT NULL, user TEXT NOT NULL, kind TEXT NOT NULL,
            cited_doc_ids TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS seen_events (event_id TEXT PRIMARY KEY, at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS threads (
            channel TEXT NOT NULL, thread_ts TEXT NOT NULL, PRIMARY KEY (channel, thread_ts)
        );
    """),
    # Why an answer was refused ("no_evidence", "personal_record", "injection"), for the gaps report;
    # the answer as `mopi ask --json` prints it, so a button can re-post it or quote it later.
    (2, """
        ALTER TABLE answers ADD COLUMN refusal_reason TEXT NOT NULL DEFAULT '';
        ALTER TABLE answers ADD COLUMN answer_json TEXT NOT NULL DEFAULT '{}';
    """),
]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class AuditLog:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the listener threads, serialised by a lock.
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        migrate(self._db, MIGRATIONS)

    def close(self) -> None:
        self._db.close()

    def first_time(self, event_id: str) -> bool:
        """True the first time an event id is seen: Slack retries and duplicates get False."""
        with self._lock, self._db:
            cursor = self._db.execute("INSERT OR IGNORE INTO seen_events VALUES (?, ?)", (event_id, _now()))
            return cursor.rowcount == 1

    def record_answer(self, answer_id: str, user: str, channel: str, answer, latency_ms: float) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO answers (answer_id, at, user, channel, question, answer, refused, mode, "
                "cited_doc_ids, latency_ms, refusal_reason, answer_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                    answer_id, _now(), user, channel, answer.question, answer.answer, int(answer.refused),
                    answer.mode, json.dumps(sorted({c.doc_id for c in answer.citations if c.doc_id})), latency_ms,
                    answer.refusal_reason, json.dumps(answer.to_dict(), ensure_ascii=False)))

    def record_feedback(self, answer_id: str, user: str, kind: str) -> None:
        with self._lock, self._db:
            row = self._db.execute("SELECT cited_doc_ids FROM answers WHERE answer_id = ?", (answer_id,)).fetchone()
            self._db.execute("INSERT INTO feedback VALUES (?, ?, ?, ?, ?)",
                             (_now(), answer_id, user, kind, row[0] if row else "[]"))

    def remember_thread(self, channel: str, thread_ts: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR IGNORE INTO threads VALUES (?, ?)", (channel, thread_ts))

    def in_thread(self, channel: str, thread_ts: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM threads WHERE channel = ? AND thread_ts = ?",
                                    (channel, thread_ts)).fetchone() is not None

    def answer(self, answer_id: str) -> dict | None:
        """One answer's row (question, channel, answer JSON ...), or None for an id never recorded."""
        with self._lock:
            cursor = self._db.execute("SELECT * FROM answers WHERE answer_id = ?", (answer_id,))
            row = cursor.fetchone()
            return dict(zip([d[0] for d in cursor.description], row)) if row else None

    def answers(self) -> list[dict]:
        with self._lock:
            cursor = self._db.execute("SELECT * FROM answers ORDER BY at")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor]

    def feedback_csv(self) -> str:
        with self._lock:
            rows = self._db.execute(
                "SELECT f.at, f.answer_id, f.user, f.kind, f.cited_doc_ids, COALESCE(a.channel, ''), "
                "COALESCE(a.question, '') FROM feedback f LEFT JOIN answers a USING (answer_id) ORDER BY f.rowid").fetchall()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["at", "answer_id", "user", "kind", "cited_doc_ids", "channel", "question"])
        writer.writerows(rows)
        return out.getvalue()
