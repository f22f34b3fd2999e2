"""The register in SQLite, with versioned migrations and an append-only history.

Reconciling the seed with later updates: ``corpus/recommendations.yaml`` is the
seed. Loading it replaces every item and every *seed* update; updates recorded
with ``mopi status update`` (origin "manual") are never touched, so
re-ingesting the YAML cannot erase them. An item that has manual updates
cannot disappear from the YAML: the load is refused, naming it, until the
YAML is restored (or the register exported and reviewed).
"""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

import yaml

from bot.core.migrations import migrate
from bot.core.register.model import (
    STATUSES, Recommendation, RegisterError, Source, Update, sort_updates, source_problem,
)

# Append only (see bot.core.migrations): never edit a released entry, add the next one.
MIGRATIONS: list[tuple[int, str]] = [
    (1, """
        CREATE TABLE recommendations (
            id TEXT PRIMARY KEY, report TEXT NOT NULL, section TEXT NOT NULL, addressee TEXT NOT NULL,
            deadline TEXT, text TEXT NOT NULL, theme TEXT NOT NULL, seed_status TEXT NOT NULL, owner TEXT
        );
        CREATE TABLE updates (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, rec_id TEXT NOT NULL, date TEXT NOT NULL,
            status TEXT NOT NULL, note TEXT NOT NULL, source TEXT NOT NULL, origin TEXT NOT NULL
        );
    """),
    (2, """
        ALTER TABLE updates ADD COLUMN recorded_by TEXT NOT NULL DEFAULT '';
        ALTER TABLE updates ADD COLUMN recorded_at TEXT NOT NULL DEFAULT '';
        CREATE INDEX updates_by_item ON updates (rec_id, seq);
    """),
    # Recorded updates are append-only in the database itself, not just in this code: an UPDATE of one
    # fails, and so does a DELETE, except of a row the seed now holds word for word (the seed-dedupe
    # rule in _load_seed, after `mopi status export` was committed as the seed).
    (3, """
        CREATE TRIGGER manual_updates_are_final BEFORE UPDATE ON updates WHEN OLD.origin = 'manual'
        BEGIN SELECT RAISE(ABORT, 'recorded register updates are append-only'); END;
        CREATE TRIGGER manual_updates_stay BEFORE DELETE ON updates WHEN OLD.origin = 'manual' AND NOT EXISTS (
            SELECT 1 FROM updates s WHERE s.origin = 'seed' AND s.rec_id = OLD.rec_id AND s.date = OLD.date
            AND s.status = OLD.status AND s.note = OLD.note AND s.source = OLD.source)
        BEGIN SELECT RAISE(ABORT, 'recorded register updates are append-only'); END
    """),
]


class RegisterStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # The Slack bot answers on several threads: one connection, serialised by a lock.
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.RLock()
        self._cache: tuple[tuple[int, int], list[Recommendation]] | None = None
        self.migrate()

    def close(self) -> None:
        self._db.close()

    @property
    def version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        migrate(self._db, MIGRATIONS)

    # -- writing ---------------------------------------------------------------------------

    def load_seed(self, recommendations: list[Recommendation], during=None) -> dict[str, int]:
        """Replace the seed (items and seed updates) in one transaction, keeping manual updates.

        ``during()``, when given, runs inside the transaction, after the writes (a crash test's hook)."""
        with self._lock:
            return self._load_seed(recommendations, during)

    def _load_seed(self, recommendations: list[Recommendation], during=None) -> dict[str, int]:
        ids = {r.id for r in recommendations}
        orphans = sorted({row[0] for row in self._db.execute(
            "SELECT DISTINCT rec_id FROM updates WHERE origin = 'manual'")} - ids)
        if orphans:
            raise RegisterError(f"{', '.join(orphans)}: has updates recorded with `mopi status update` but is "
                                "missing from the seed YAML; restore it there (or export the register first)")
        with self._db:
            self._db.execute("DELETE FROM updates WHERE origin = 'seed'")
            self._db.execute("DELETE FROM recommendations")
            for r in recommendations:
                self._db.execute("INSERT INTO recommendations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 (r.id, r.report, r.section, r.addressee, r.deadline, r.text, r.theme,
                                  r.seed_status, r.owner))
                for u in r.updates:
                    self._insert(r.id, u)
            # An exported register committed as the seed carries the manual updates itself.
            self._db.execute("""
                DELETE FROM updates WHERE origin = 'manual' AND EXISTS (
                    SELECT 1 FROM updates s WHERE s.origin = 'seed' AND s.rec_id = updates.rec_id
                    AND s.date = updates.date AND s.status = updates.status AND s.note = updates.note
                    AND s.source = updates.source)""")
            if during:
                during()
        manual = self._db.execute("SELECT COUNT(*) FROM updates WHERE origin = 'manual'").fetchone()[0]
        return {"recommendations": len(recommendations),
                "seed_updates": sum(len(r.updates) for r in recommendations), "manual_updates_kept": manual}

    def add_update(self, rec_id: str, status: str, note: str, source: Source, by: str,
                   known_sections: dict[str, set[str]], today: date | None = None) -> Update:
        """Append a dated update to an item's history; nothing is ever overwritten."""
        if self.get(rec_id) is None:
            raise RegisterError(f"{rec_id}: no such recommendation")
        if status not in STATUSES:
            raise RegisterError(f"{rec_id}: status: {status!r} is not one of {', '.join(STATUSES)}")
        if not note.strip():
            raise RegisterError(f"{rec_id}: note: say what changed and why")
        if not by.strip():
            raise RegisterError(f"{rec_id}: by: say who is recording the update")
        problem = source_problem(source, known_sections)
        if problem:
            raise RegisterError(f"{rec_id}: source: {problem}")
        update = Update(date=(today or date.today()).isoformat(), status=status, note=" ".join(note.split()),
                        source=source, by=by.strip(), origin="manual",
                        recorded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        with self._lock, self._db:
            self._insert(rec_id, update)
        return update

    def _insert(self, rec_id: str, u: Update) -> None:
        self._db.execute(
            "INSERT INTO updates (rec_id, date, status, note, source, origin, recorded_by, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (rec_id, u.date, u.status, u.note, str(u.source), u.origin, u.by, u.recorded_at))

    # -- reading ---------------------------------------------------------------------------

    def all(self, as_at: date | None = None) -> list[Recommendation]:
        """Every item with its history (as it stood on ``as_at``, when given).

        Cached until the database changes, here or in another process.
        """
        with self._lock:
            version = (self._db.execute("PRAGMA data_version").fetchone()[0], self._db.total_changes)
            if self._cache is None or self._cache[0] != version:
                self._cache = (version, self._read_all())
            items = self._cache[1]
        return items if as_at is None else [r.as_at(as_at) for r in items]

    def _read_all(self) -> list[Recommendation]:
        updates: dict[str, list[Update]] = {}
        for rec_id, d, status, note, source, origin, by, at in self._db.execute(
                "SELECT rec_id, date, status, note, source, origin, recorded_by, recorded_at FROM updates ORDER BY seq"):
            updates.setdefault(rec_id, []).append(Update(d, status, note, Source.parse(source), by, at, origin))
        return [
            Recommendation(id=row[0], report=row[1], section=row[2], addressee=row[3], deadline=row[4], text=row[5],
                           theme=row[6], seed_status=row[7], owner=row[8],
                           updates=sort_updates(updates.get(row[0], [])))
            for row in self._db.execute("SELECT * FROM recommendations ORDER BY id")
        ]

    def get(self, rec_id: str, as_at: date | None = None) -> Recommendation | None:
        return next((r for r in self.all(as_at) if r.id.lower() == rec_id.strip().lower()), None)

    def find(self, *, status: str | None = None, theme: str | None = None, addressee: str | None = None,
             text: str | None = None, as_at: date | None = None) -> list[Recommendation]:
        """Items matching every filter given; ``text`` matches all its words in the item's text or notes.

        With ``as_at``, the items as they stood that day: status and notes from the updates known by then.
        """
        words = (text or "").lower().split()
        out = []
        for r in self.all(as_at):
            haystack = " ".join([r.id, r.text, r.addressee, *(u.note for u in r.updates)]).lower()
            if ((status is None or r.status == status) and (theme is None or r.theme == theme)
                    and (addressee is None or addressee.lower() in r.addressee.lower())
                    and all(w in haystack for w in words)):
                out.append(r)
        return out

    def overdue(self, as_of: date) -> list[Recommendation]:
        """Deadline passed and not complete, judged by the status the history gives on ``as_of``."""
        return [r for r in self.all() if r.overdue_on(as_of)]

    def summary(self, as_at: date | None = None) -> Counter:
        return Counter(r.status for r in self.all(as_at))

    # -- export ----------------------------------------------------------------------------

    def export_yaml(self) -> str:
        """The register in the seed's own shape, manual updates included, for review in git."""
        items = []
        for r in self.all():
            items.append({
                "id": r.id, "report": r.report, "section": r.section, "addressee": r.addressee,
                "deadline": r.deadline, "text": r.text, "theme": r.theme, "status": r.status, "owner": r.owner,
                "updates": [_update_dict(u) for u in r.updates],
            })
        return yaml.safe_dump({"recommendations": items}, sort_keys=False, allow_unicode=True, width=100)

    def export_csv(self) -> str:
        """One row per update, oldest first within each item."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "date", "status", "note", "source", "origin", "by", "recorded_at"])
        for r in self.all():
            for u in r.updates:
                writer.writerow([r.id, u.date, u.status, u.note, str(u.source), u.origin, u.by, u.recorded_at])
        return out.getvalue()


def _update_dict(u: Update) -> dict:
    data = {"date": u.date, "status": u.status, "note": u.note,
            "source": {"url": u.source.url} if u.source.url else {"doc": u.source.doc, "section": u.source.section}}
    if u.origin == "manual":
        data |= {"by": u.by, "recorded_at": u.recorded_at}
    return data
