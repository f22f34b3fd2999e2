"""Terminal rendering for the CLI (rich), kept out of the library."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

out = Console()
err = Console(stderr=True)


class IngestDisplay:
    """A progress bar on a terminal, and one line per file that changed either way.

    The per-file lines go to stderr even without a terminal, so a log (or a
    test) can follow how far an ingest got.
    """

    def __init__(self) -> None:
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal)
        self._task = None

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    def plan(self, total: int) -> None:
        self._task = self._progress.add_task("indexing", total=total)

    def file_done(self, outcome) -> None:
        if outcome.status == "unchanged":
            return
        if outcome.status == "failed":
            err.print(f"[red]failed[/red]   {outcome.path}: {outcome.reason}", highlight=False, soft_wrap=True)
        else:
            detail = f"({outcome.chunks} chunks, {outcome.embedded} embedded)" if outcome.status == "indexed" else ""
            err.print(f"{outcome.status:<9}{outcome.path} {detail}", highlight=False, soft_wrap=True)
        if self._task is not None:
            self._progress.advance(self._task)
        sys.stderr.flush()


def print_ingest_summary(report) -> None:
    table = Table(title="Ingest summary")
    for column in ("indexed", "unchanged", "removed", "failed", "chunks embedded", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(*(str(report.count(s)) for s in ("indexed", "unchanged", "removed", "failed")),
                  str(report.embedded), f"{report.seconds:.1f}")
    out.print(table)
    for failure in report.failures:
        out.print(f"[red]failed[/red] {failure.path}: {failure.reason}", highlight=False, soft_wrap=True)
    if report.register:
        r = report.register
        out.print(f"register: {r['recommendations']} recommendations, {r['seed_updates']} seed updates, "
                  f"{r['manual_updates_kept']} recorded updates kept", highlight=False)
    if report.register_error:
        out.print(f"[red]register not loaded[/red] (previous register kept): {report.register_error}",
                  highlight=False, soft_wrap=True)


def print_rows(title: str, rows: list[tuple[str, str]]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)


def print_hits(hits) -> None:
    for n, hit in enumerate(hits, start=1):
        meta = hit.metadata
        where = " · ".join(x for x in (meta.get("section", ""), f"p. {meta['page']}" if "page" in meta else "") if x)
        mark = " [SUPERSEDED]" if meta.get("status") == "superseded" else ""
        out.print(f"[bold][{n}] {meta.get('title', '')}{mark}[/bold] — {where}  (score {hit.score:.4f})", highlight=False)
        out.print(f"    {hit.text[:300]}", highlight=False)


def print_answer(answer) -> None:
    """The answer, then a readable list of its sources."""
    out.print(answer.answer, highlight=False, soft_wrap=True)
    if answer.citations:
        out.print("\nSources:", style="bold")
    for c in answer.citations:
        where = ", ".join(x for x in (f"section {c.section}" if c.section else "", f"page {c.page}" if c.page else "") if x)
        mark = " [SUPERSEDED]" if c.status == "superseded" else ""
        out.print(f"  [{c.n}] {c.title}{mark}" + (f" — {where}" if where else ""), highlight=False, soft_wrap=True)
        if c.url:
            out.print(f"      {c.url}", highlight=False, soft_wrap=True)
    if answer.fallback_reason:
        err.print(f"(answered extractively: {answer.fallback_reason})", style="dim")
    out.print()


def print_register_summary(items, as_at=None) -> None:
    from collections import Counter

    counts = Counter(r.status for r in items)
    table = Table(title=f"Recommendation register ({len(items)} items)" + _as_at_title(as_at))
    table.add_column("status")
    table.add_column("items", justify="right")
    table.add_column("ids")
    for status in sorted(counts, key=lambda s: (s == "complete", s)):
        table.add_row(status, str(counts[status]), ", ".join(r.id for r in items if r.status == status))
    out.print(table)


def print_register_list(items, as_at=None) -> None:
    """Items as given: the caller passes them as they stood on ``as_at`` (RegisterStore.all(as_at))."""
    if not items:
        out.print("No recommendations match.")
        return
    table = Table(title="Recommendations" + _as_at_title(as_at))
    for column in ("id", "status", "deadline", "theme", "text"):
        table.add_column(column)
    for r in items:
        table.add_row(r.id, r.status, r.deadline or "", r.theme, r.text[:90])
    out.print(table)


def print_register_item(r, as_at=None, later_updates: int = 0) -> None:
    out.print(f"[bold]{r.id}[/bold] — {r.status}{_as_at_title(as_at)}", highlight=False)
    out.print(f"Addressed to: {r.addressee}" + (f"; deadline {r.deadline}" if r.deadline else ""), highlight=False)
    out.print(f"Source: {r.report} § {r.section}", highlight=False)
    out.print(r.text, highlight=False, soft_wrap=True)
    table = Table(title="History (oldest first)")
    for column in ("date", "status", "note", "source", "recorded by"):
        table.add_column(column)
    for u in r.updates:
        table.add_row(u.date, u.status, u.note, str(u.source), u.by)
    out.print(table)
    if later_updates:
        out.print(f"{later_updates} later update{'s' * (later_updates > 1)} left out.", highlight=False)


def _as_at_title(as_at) -> str:
    return f" as at {as_at.isoformat()}" if as_at else ""


def _limits(thresholds, metric: str) -> str:
    """The gate on ``metric``: '≥0.500' when every gated set shares it, else '≥0.500 test · ≥0.600 independent'."""
    from evals.report import fmt

    shown = [(f"{sign}{fmt(bounds.overall[metric])}", set_name)
             for sign, limits in (("≥", thresholds.floors), ("≤", thresholds.ceilings))
             for set_name, bounds in limits.items() if metric in bounds.overall]
    if len({limit for limit, _ in shown}) == 1:
        return shown[0][0]
    return " · ".join(f"{limit} {set_name}" for limit, set_name in shown)


def print_eval(run, comparison, thresholds, json_path, html_path) -> None:
    from evals.report import HEADLINE, columns, fmt, gap_line

    # Several sets side by side make a wide table: off a terminal (a log, CI) rich would squeeze it
    # into 80 columns, so print it at a width that fits instead.
    wide = out if out.is_terminal else Console(width=240)
    pairs = columns(run)
    sizes = ", ".join(f"{s['name']} {s['questions']}" for s in run["sets"])
    table = Table(title=f"Evaluation: questions per set: {sizes}")
    table.add_column("metric")
    for set_name, config in pairs:
        table.add_column(f"{set_name}\n{config['name']}", justify="right")
    gated = ", ".join(dict.fromkeys([*thresholds.floors, *thresholds.ceilings]))
    table.add_column(f"gate ({gated})" if gated else "gate", justify="right")
    table.add_column("aim", justify="right")
    for metric in HEADLINE:
        table.add_row(metric, *(fmt(c["sets"][s]["summary"].get(metric)) for s, c in pairs),
                      _limits(thresholds, metric), fmt(thresholds.aims.get(metric)))
    wide.print(table)
    for note in run.get("notes", []):
        out.print(f"Note: {note}", highlight=False)
    if gap_line(run):
        out.print(gap_line(run), highlight=False)
    first = run["configs"][0]
    for set_name, result in first["sets"].items():
        categories = Table(title=f"By category ({set_name}, {first['name']})")
        for column in ("category", "n", "pass", "recall@5", "fact acc", "citation P", "refusal R", "false ref."):
            categories.add_column(column, justify="right" if column != "category" else "left")
        for name, m in result["by_category"].items():
            categories.add_row(name, str(m["questions"]), fmt(m["pass"]), fmt(m["recall@5"]), fmt(m["fact_accuracy"]),
                               fmt(m["citation_precision"]), fmt(m["refusal_recall"]), fmt(m["false_refusals"]))
        wide.print(categories)
    out.print(f"Judge: {first['judge']}", highlight=False)
    regressions = [r for r in comparison if r["regressed"]]
    if comparison:
        out.print("Regressions since the previous run: " + (", ".join(
            f"{r['set']} {r['config']} {r['metric']} {fmt(r['previous'])} -> {fmt(r['now'])}" for r in regressions)
            or "none"), highlight=False)
    gate = run["gate"]
    out.print((f"[green]Gate passed[/green] ({gate['config']})" if gate["passed"] else
               f"[red]Gate failed[/red] ({gate['config']}): " + "; ".join(gate["failures"])), highlight=False)
    out.print(f"Reports: {json_path} and {html_path}", highlight=False)
