"""The reports as CSV, JSON and one self-contained HTML page each (inline CSS and SVG, no scripts,
no external assets), in the look of the evaluation report (evals/report.py).

Pure rendering (report in, text out) plus :func:`write_outputs`, which writes the three files.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
from pathlib import Path

from bot.reports.documents import DocumentsReport
from bot.reports.gaps import GapsReport

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:13px}
.bad{background:#fde2e1}p.bad{padding:.5em}ul{margin:0;padding-left:1.2em}
.notice{border:2px solid #e76f51;background:#fff4f0;padding:.5em 1em}"""
_LABEL_CHARS = 48
e = html.escape


def _short(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def bars(title: str, rows: list[tuple[str, int]], width: int = 760, bar_h: int = 18) -> str:
    """A horizontal bar chart of counts as inline SVG; "" when there is nothing to draw.

    evals.report._bars draws the same bars but for scores: it clamps values to 0..1 and colours them
    against pass marks, and its labels are narrower than a section name. Counts need their own scale.
    """
    if not rows:
        return ""
    label_w, height = 330, bar_h * len(rows) + 40
    top = max(value for _, value in rows) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{e(title)}"><text x="0" y="14" font-weight="bold">{e(title)}</text>']
    for i, (label, value) in enumerate(rows):
        y = 24 + i * bar_h
        w = value / top * (width - label_w - 50)
        parts.append(f'<text x="0" y="{y + 13}" font-size="12"><title>{e(label)}</title>{e(_short(label))}</text>'
                     f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 5}" fill="#457b9d"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" font-size="12">{value}</text>')
    return "".join(parts) + "</svg>"


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{_STYLE}</style></head><body>\n<h1>{e(title)}</h1>\n{body}\n</body></html>\n")


def _csv(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _section(doc_id: str, title: str, section: str, url: str = "") -> str:
    name = e(title or doc_id) + (f" § {e(section)}" if section else "")
    link = f'<a href="{e(url)}">{name}</a>' if url.startswith(("http://", "https://")) else name
    return f"{link}<br><small>{e(doc_id)}</small>"


# --------------------------------------------------------------------------- gaps


def readers_line(readers: tuple[str, ...]) -> str:
    return ("Shown to: " + ", ".join(readers) if readers
            else "Shown to: not set — keep this file within the information management team")


def gaps_csv(report: GapsReport) -> str:
    """One row per gap cluster ("gap") and per section with negative feedback ("feedback")."""
    header = ["row", "cluster", "questions", "down", "wrong_source", "doc_id", "title", "section", "similarity",
              *(f"example_{n}" for n in (1, 2, 3))]
    rows = [["gap", n, c.size, "", "", c.nearest.doc_id, c.nearest.title, c.nearest.section, c.nearest.similarity,
             *c.examples, *[""] * (3 - len(c.examples))] for n, c in enumerate(report.clusters, 1)]
    rows += [["feedback", "", "", f.down, f.wrong_source, f.doc_id, f.title, f.section, "", "", "", ""]
             for f in report.feedback]
    return _csv(header, rows)


def gaps_html(report: GapsReport) -> str:
    period = f"asked since {e(report.since)}" if report.since else "all questions in the audit database"
    clusters = "".join(
        f"<tr><td>{n}</td><td>{c.size}</td><td>{_section(c.nearest.doc_id, c.nearest.title, c.nearest.section, c.nearest.url)}"
        f"</td><td>{c.nearest.similarity:.2f}</td><td><ul>{''.join(f'<li>{e(q)}</li>' for q in c.examples)}</ul></td></tr>"
        for n, c in enumerate(report.clusters, 1)) or "<tr><td colspan=5>No question was refused as not covered.</td></tr>"
    feedback = "".join(
        f"<tr><td>{_section(f.doc_id, f.title, f.section)}</td><td>{f.down}</td><td>{f.wrong_source}</td></tr>"
        for f in report.feedback) or "<tr><td colspan=3>No thumbs-down or wrong-source feedback.</td></tr>"
    uncited = (f"<p>{report.feedback_uncited} more were on answers that cited nothing (refusals).</p>"
               if report.feedback_uncited else "")
    body = f"""<p class=notice><strong>This page holds officers' question text</strong>: questions asked in Slack that
the guidance did not cover, from the audit database. {e(readers_line(report.readers))}. Do not pass it on.</p>
<p>Refusals about a person's records and refused injection attempts are left out entirely: their text is
about people ({report.left_out} left out, counted only).</p>
<p>Created {e(report.created)} · {period} · {report.not_covered} questions refused as not covered, in
{len(report.clusters)} clusters (average-link, cosine ≥ {report.threshold:.2f}).</p>
<h2>Gaps: clusters of questions the guidance did not cover</h2>
{bars("Questions per cluster (top 20)", [(f"#{n} {c.examples[0]}", c.size) for n, c in enumerate(report.clusters[:20], 1)])}
<table><tr><th>#</th><th>questions</th><th>nearest section in the corpus</th><th>similarity</th><th>examples</th></tr>
{clusters}</table>
<h2>Thumbs-down and wrong-source feedback by cited section</h2>
{bars("Negative feedback per section (top 20)",
      [(f"{f.doc_id} § {f.section}" if f.section else f.doc_id, f.down + f.wrong_source) for f in report.feedback[:20]])}
<table><tr><th>cited section</th><th>thumbs-down</th><th>wrong source</th></tr>{feedback}</table>{uncited}"""
    return _page("MoPI Assistant: guidance gaps", body)


# --------------------------------------------------------------------------- documents


def documents_csv(report: DocumentsReport) -> str:
    header = ["doc_id", "title", "status", "supersedes", "superseded_by", "effective_from", "review_due",
              "review_overdue", "cited", "superseded_still_cited", "up", "down", "wrong_source"]
    rows = [[d.doc_id, d.title, d.status, ",".join(d.supersedes), ",".join(d.superseded_by), d.effective_from,
             d.review_due, d.review_overdue, d.cited, d.superseded_still_cited, d.up, d.down, d.wrong_source]
            for d in report.documents]
    return _csv(header, rows)


def documents_html(report: DocumentsReport) -> str:
    overdue = ", ".join(f"{d.doc_id} (due {d.review_due})" for d in report.overdue)
    still = "; ".join(f"{d.doc_id}: {d.cited} answers" + (f", superseded by {', '.join(d.superseded_by)}"
                                                          if d.superseded_by else "")
                      for d in report.superseded_still_cited)
    flags = (f"<p class=bad>Review date passed: {e(overdue)}.</p>" if overdue else "") + (
        f"<p class=bad>Superseded but still cited: {e(still)}.</p>" if still else "")
    rows = "".join(
        f"<tr class=\"{'bad' if d.review_overdue or d.superseded_still_cited else ''}\"><td>{e(d.doc_id)}</td>"
        f"<td>{e(d.title)}</td><td>{e(d.status)}</td><td>{e(', '.join(d.supersedes))}</td>"
        f"<td>{e(', '.join(d.superseded_by))}</td><td>{e(d.effective_from)}</td>"
        f"<td>{e(d.review_due)}{' (passed)' if d.review_overdue else ''}</td><td>{d.cited}</td>"
        f"<td>{d.up}</td><td>{d.down}</td><td>{d.wrong_source}</td></tr>" for d in report.documents)
    body = f"""<p>Created {e(report.created)} · as at {e(report.today)} · {report.answers} answers, of which
{report.superseded_citing_answers} cite a superseded document.</p>{flags}
{bars("Answers citing each document", [(d.doc_id, d.cited) for d in report.documents])}
{bars("Thumbs-down and wrong-source feedback per document",
      [(d.doc_id, d.down + d.wrong_source) for d in report.documents if d.down + d.wrong_source])}
<table><tr><th>doc_id</th><th>title</th><th>status</th><th>supersedes</th><th>superseded by</th><th>effective from</th>
<th>review due</th><th>cited</th><th>thumbs-up</th><th>thumbs-down</th><th>wrong source</th></tr>{rows}</table>"""
    return _page("MoPI Assistant: documents", body)


# --------------------------------------------------------------------------- files


def write_file(path: Path, text: str, private: bool) -> None:
    # Created private (0600) rather than tightened after: never readable by others, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    if private:
        os.chmod(path, 0o600)  # a file from an earlier run keeps its old mode otherwise


def write_outputs(out_dir: Path, stem: str, data: dict, csv_text: str, html_text: str,
                  private: bool = False) -> list[Path]:
    """Write ``stem``.csv, .json and .html under ``out_dir`` (replacing the last run's); the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.{suffix}" for suffix in ("csv", "json", "html")]
    for path, text in zip(paths, (csv_text, json.dumps(data, indent=1, ensure_ascii=False), html_text)):
        write_file(path, text, private)
    return paths
