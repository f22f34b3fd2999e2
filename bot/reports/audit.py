"""The audit database, read read-only for the reports (bot.slack.audit writes it).

The question text of a refusal about a person's records, or of a refused injection attempt, is
never read: the SQL blanks it, so no report can show it by mistake.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import MopiError

# Refusals whose question text is about people (or an attack): counted, never read.
WITHHELD_REASONS = ("personal_record", "injection")
NOT_COVERED = "no_evidence"
NEGATIVE_KINDS = ("down", "wrong_source")
_SCHEMA_VERSION = 2  # bot.slack.audit's migration that added refusal_reason and answer_json

_WITHHELD = "refusal_reason IN ({})".format(", ".join(f"'{r}'" for r in WITHHELD_REASONS))
_ANSWERS = f"""
    SELECT answer_id, at, CASE WHEN {_WITHHELD} THEN '' ELSE question END, refused, refusal_reason,
           cited_doc_ids, CASE WHEN {_WITHHELD} THEN '{{}}' ELSE answer_json END
    FROM answers ORDER BY at, answer_id
"""
_FEEDBACK = "SELECT at, answer_id, kind, cited_doc_ids FROM feedback ORDER BY at, rowid"


@dataclass(frozen=True)
class Cited:
    """One citation of an answer, as the reports group by it."""

    doc_id: str
    title: str
    section: str


@dataclass(frozen=True)
class AnswerRow:
    answer_id: str
    at: str  # ISO timestamp (UTC)
    question: str  # "" for a withheld refusal (see WITHHELD_REASONS)
    refused: bool
    refusal_reason: str  # "" for an answer
    cited_doc_ids: tuple[str, ...]
    citations: tuple[Cited, ...] = ()  # from answer_json; () for rows recorded before it was kept

    @property
    def withheld(self) -> bool:
        return self.refusal_reason in WITHHELD_REASONS


@dataclass(frozen=True)
class FeedbackRow:
    at: str
    answer_id: str
    kind: str  # "up", "down" or "wrong_source"
    cited_doc_ids: tuple[str, ...]  # what the answer cited, as recorded with the feedback


@dataclass(frozen=True)
class Audit:
    answers: tuple[AnswerRow, ...]
    feedback: tuple[FeedbackRow, ...]
    by_id: dict[str, AnswerRow] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {a.answer_id: a for a in self.answers})


def _ids(raw: str) -> tuple[str, ...]:
    try:
        return tuple(str(i) for i in json.loads(raw or "[]") if i)
    except (ValueError, TypeError):
        return ()


def _citations(raw: str) -> tuple[Cited, ...]:
    try:
        citations = json.loads(raw or "{}").get("citations") or []
    except (ValueError, AttributeError):
        return ()
    found = (Cited(c.get("doc_id") or "", c.get("title") or "", c.get("section") or "") for c in citations)
    return tuple(dict.fromkeys(c for c in found if c.doc_id))  # one per section, in citation order


def read_audit(path: Path) -> Audit:
    """Every answer and feedback row, read-only; a clear error when there is no usable database."""
    if not path.is_file():
        raise MopiError(f"no audit database at {path}: the Slack bot writes it as it answers "
                        "(`mopi slack`); there is nothing to report yet")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise MopiError(f"cannot open the audit database at {path} ({exc})") from None
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] < _SCHEMA_VERSION:
            raise MopiError(f"the audit database at {path} is from an older version: start the Slack bot "
                            "once to upgrade it, then run the report again")
        answers = tuple(AnswerRow(answer_id, at, question, bool(refused), reason or "", _ids(cited), _citations(js))
                        for answer_id, at, question, refused, reason, cited, js in db.execute(_ANSWERS))
        feedback = tuple(FeedbackRow(at, answer_id, kind, _ids(cited))
                         for at, answer_id, kind, cited in db.execute(_FEEDBACK))
    except sqlite3.Error as exc:
        raise MopiError(f"cannot read the audit database at {path} ({exc})") from None
    finally:
        db.close()
    return Audit(answers, feedback)
