"""Reports for content owners and maintainers, from the Slack bot's audit database.

    mopi report gaps        questions the guidance did not cover, clustered, and 👎 by section
    mopi report documents   per document: citations, feedback, superseded still cited, review due
    mopi feedback export --as-golden   👎 and wrong-source cases as draft eval items

The audit database is read read-only (bot.reports.audit); aggregation and rendering are pure
(gaps, documents, render, golden); the two functions here are the I/O edges the CLI calls.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from pathlib import Path

from bot.settings import Settings

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def gaps_report(settings: Settings, out_dir: Path, since: date | None = None, embedder=None) -> list[Path]:
    """Write gaps.csv, gaps.json and gaps.html under ``out_dir``; the paths written."""
    from bot.core.lexical import LexicalIndex
    from bot.reports.audit import read_audit
    from bot.reports.gaps import build_gaps
    from bot.reports.render import gaps_csv, gaps_html, write_outputs

    audit = read_audit(settings.audit_db)
    lexical = LexicalIndex.load(settings.bm25_dir)
    if embedder is None:
        from bot.core.index import make_embedder

        embedder = make_embedder(settings)
    report = build_gaps(audit, embedder.embed_documents, lexical.chunk_vectors, lexical.metadatas,
                        settings.report_readers, since, _now())
    log.info("gaps report: %d refusals as not covered in %d clusters, %d left out, %d sections with feedback",
             report.not_covered, len(report.clusters), report.left_out, len(report.feedback))
    # Private files: the gaps report holds officers' question text.
    return write_outputs(out_dir, "gaps", report.to_dict(), gaps_csv(report), gaps_html(report), private=True)


def documents_report(settings: Settings, out_dir: Path, today: date | None = None) -> list[Path]:
    """Write documents.csv, documents.json and documents.html under ``out_dir``; the paths written."""
    from bot.core.lexical import LexicalIndex
    from bot.reports.audit import read_audit
    from bot.reports.corpus import review_dates
    from bot.reports.documents import build_documents
    from bot.reports.render import documents_csv, documents_html, write_outputs

    audit = read_audit(settings.audit_db)
    lexical = LexicalIndex.load(settings.bm25_dir)
    report = build_documents(lexical.metadatas, audit, today or date.today(), _now(), review_dates(settings.corpus_dir))
    log.info("documents report: %d documents, %d answers citing a superseded one, %d reviews overdue",
             len(report.documents), report.superseded_citing_answers, len(report.overdue))
    return write_outputs(out_dir, "documents", report.to_dict(), documents_csv(report), documents_html(report))
