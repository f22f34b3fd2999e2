"""Versioned SQLite schemas: the register and the Slack audit database upgrade the same way."""

from __future__ import annotations

import sqlite3


def migrate(db: sqlite3.Connection, migrations: list[tuple[int, str]]) -> None:
    """Run every migration newer than the database's ``user_version``, in order, one transaction each.

    Append only: a database at version n runs migrations n+1.. and is then at the last one's number.
    """
    for version, script in migrations:
        if version > db.execute("PRAGMA user_version").fetchone()[0]:
            with db:
                for statement in _statements(script):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {version}")


def _statements(script: str) -> list[str]:
    """A migration's statements, one by one (a trigger's body holds semicolons of its own)."""
    out, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    return [statement for statement in out if statement.strip(" ;\n")]
