"""The documents report: per indexed document, how often answers cite it, its feedback, whether a
superseded document is still being cited, and whether its owner's review date has passed.

Pure: chunk metadata (from the index snapshot), the corpus files' review dates (bot.reports.corpus)
and the audit rows go in, a :class:`DocumentsReport` comes out. Counts are of answers (an answer
citing three sections of a document counts once).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date

from bot.reports.audit import Audit

NOT_INDEXED = "not indexed"  # cited by answers in the audit, but no longer in the index


@dataclass(frozen=True)
class DocumentRow:
    doc_id: str
    title: str
    status: str  # "current", "superseded", or NOT_INDEXED
    supersedes: tuple[str, ...]
    superseded_by: tuple[str, ...]
    effective_from: str  # ISO date or ""
    review_due: str  # ISO date or ""
    review_overdue: bool  # review_due is before the report's day
    cited: int  # answers citing it
    up: int
    down: int
    wrong_source: int

    @property
    def superseded_still_cited(self) -> bool:
        return self.status == "superseded" and self.cited > 0


@dataclass(frozen=True)
class DocumentsReport:
    created: str
    today: str
    answers: int  # answers given (not refused)
    superseded_citing_answers: int  # answers citing at least one superseded document
    documents: tuple[DocumentRow, ...]

    @property
    def superseded_still_cited(self) -> list[DocumentRow]:
        return [d for d in self.documents if d.superseded_still_cited]

    @property
    def overdue(self) -> list[DocumentRow]:
        return [d for d in self.documents if d.review_overdue]

    def to_dict(self) -> dict:
        data = asdict(self)
        for row, doc in zip(data["documents"], self.documents):
            row["superseded_still_cited"] = doc.superseded_still_cited
        data["superseded_still_cited"] = [d.doc_id for d in self.superseded_still_cited]
        data["review_overdue"] = [d.doc_id for d in self.overdue]
        return data


def documents_in(metadatas: Sequence[dict]) -> dict[str, dict]:
    """Each document's metadata (every chunk of a document carries the same), in index order."""
    docs: dict[str, dict] = {}
    for meta in metadatas:
        docs.setdefault(meta.get("doc_id", ""), meta)
    docs.pop("", None)
    return docs


def _overdue(review_due: str, today: date) -> bool:
    try:
        return bool(review_due) and date.fromisoformat(review_due) < today
    except ValueError:  # ingest validates the date; an index from elsewhere may not have
        return False


def build_documents(metadatas: Sequence[dict], audit: Audit, today: date, created: str,
                    review_due: Mapping[str, str] | None = None) -> DocumentsReport:
    """``review_due``: dates by doc_id from the corpus files, which win over the index's (as of its last ingest)."""
    docs = documents_in(metadatas)
    review_due = review_due or {}
    supersedes = {d: tuple(filter(None, (m.get("supersedes") or "").split(","))) for d, m in docs.items()}
    superseded_by: dict[str, list[str]] = {}
    for new, olds in supersedes.items():
        for old in olds:
            superseded_by.setdefault(old, []).append(new)
    answered = [a for a in audit.answers if not a.refused]
    cited = Counter(d for a in answered for d in set(a.cited_doc_ids))
    feedback = Counter((d, fb.kind) for fb in audit.feedback for d in set(fb.cited_doc_ids))
    superseded = {d for d, m in docs.items() if m.get("status") == "superseded"}
    titles = {c.doc_id: c.title for a in answered for c in a.citations}
    rows = []
    for doc_id in [*docs, *sorted(set(cited) - set(docs))]:
        meta = docs.get(doc_id, {})
        due = review_due.get(doc_id) or meta.get("review_due") or ""
        rows.append(DocumentRow(
            doc_id, meta.get("title") or titles.get(doc_id, ""), meta.get("status") or NOT_INDEXED,
            supersedes.get(doc_id, ()), tuple(superseded_by.get(doc_id, ())), meta.get("effective_from") or "",
            due, _overdue(due, today), cited[doc_id], feedback[doc_id, "up"], feedback[doc_id, "down"],
            feedback[doc_id, "wrong_source"]))
    return DocumentsReport(created, today.isoformat(), len(answered),
                           sum(bool(superseded & set(a.cited_doc_ids)) for a in answered), tuple(rows))
