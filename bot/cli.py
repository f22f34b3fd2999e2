"""mopi: the MoPI Assistant command line.

Thin: each command builds settings and dependencies, calls the library, and
prints. Heavy libraries load inside commands, so `mopi --help` is instant.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from datetime import date, datetime, timezone
from pathlib import Path

import click

from bot.core.register.model import STATUSES
from bot.errors import MopiError
from bot.settings import Settings, load_settings


class _Group(click.Group):
    """Turns domain errors into one clean line and exit code 2, at the edge."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MopiError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option("-v", "--verbose", is_flag=True, help="Log progress and timings (never question text).")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """MoPI Assistant: cited answers from police information-management guidance."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = load_settings()


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Exit non-zero if any file failed.")
@click.pass_obj
def ingest(settings: Settings, paths: tuple[Path, ...], strict: bool) -> None:
    """Index documents (default: the corpus folder) into the vector and BM25 indexes.

    Unchanged files are skipped without loading the model; changed files
    re-embed only their changed chunks; removed files leave the index. A file
    that cannot be read is reported and the rest carry on.
    """
    report = _ingest(settings, list(paths) or [settings.corpus_dir])
    if strict and (report.failures or report.register_error):
        sys.exit(1)


def _ingest(settings: Settings, paths: list[Path], embedder=None):
    from bot.console import IngestDisplay, print_ingest_summary
    from bot.core.index import make_embedder, open_store
    from ingest.pipeline import run_ingest

    embedder = embedder or make_embedder(settings)
    display = IngestDisplay()
    with display:
        report = run_ingest(paths, settings, store=open_store(settings, embedder), embedder=embedder,
                            on_plan=display.plan, on_file=display.file_done)
    print_ingest_summary(report)
    return report


@main.group()
def index() -> None:
    """Inspect the index."""


@index.command("stats")
@click.pass_obj
def index_stats_cmd(settings: Settings) -> None:
    """Documents, chunks, model and store location."""
    from bot.console import print_rows
    from bot.core.index import index_stats, open_store

    print_rows("Index", index_stats(settings, open_store(settings, create=False)).rows())


@main.command()
@click.argument("query")
@click.option("-k", default=5, show_default=True, help="How many passages.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "bm25"]), default="hybrid", show_default=True)
@click.option("--doc-type", "doc_types", multiple=True, help="Only these document types (repeatable), e.g. app.")
@click.option("--status", "statuses", multiple=True, type=click.Choice(["current", "superseded"]))
@click.option("--max-marking", help="Highest protective marking to show (default MOPI_MAX_MARKING).")
@click.pass_obj
def search(settings: Settings, query: str, k: int, mode: str, doc_types, statuses, max_marking) -> None:
    """Show the passages retrieval finds for QUERY (a maintainer's view, no answer)."""
    from bot.console import print_hits
    from bot.core.index import open_retriever
    from bot.core.retrieval import SearchFilter

    retriever = open_retriever(settings)
    filters = SearchFilter(max_marking or settings.max_marking, tuple(doc_types), tuple(statuses))
    print_hits(retriever.search(query, k=k, mode=mode, filters=filters))
    _ONE_SHOT.set()


@main.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per question (the stable contract).")
@click.option("--llm", metavar="PROVIDER:MODEL", help="Answer with an LLM (overrides MOPI_LLM), e.g. ollama:llama3.1.")
@click.pass_obj
def ask(settings: Settings, question: str | None, as_json: bool, llm: str | None) -> None:
    """Answer QUESTION from the guidance, with numbered sources.

    Without QUESTION, reads one question per line from standard input (the
    model loads once). With --json, each answer is one JSON object on one line:
    question, answer, refused, mode, citations [{n, doc_id, title, section,
    page, url, status, quote}].
    """
    import json

    from bot.console import print_answer
    from bot.core.index import build_assistant

    assistant = build_assistant(settings, llm=llm)
    questions = [question] if question is not None else (line.strip() for line in sys.stdin)
    for q in questions:
        if not q:
            continue
        answer = assistant.ask(q)
        if as_json:
            click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
            sys.stdout.flush()
        else:
            print_answer(answer)
    _ONE_SHOT.set()


@main.command()
@click.option("--llm", metavar="PROVIDER:MODEL", help="Answer with an LLM (overrides MOPI_LLM).")
@click.pass_obj
def chat(settings: Settings, llm: str | None) -> None:
    """Interactive questions and answers in the terminal; ends at end of input (Ctrl-D) or 'quit'."""
    from bot.core.index import build_assistant

    _chat(build_assistant(settings, llm=llm))


def _chat(assistant) -> None:
    from bot.console import err, print_answer

    interactive = sys.stdin.isatty()
    if interactive:
        err.print("MoPI Assistant. Ask about MoPI guidance; Ctrl-D or 'quit' to leave.")
    while True:
        try:
            line = input("you> ") if interactive else sys.stdin.readline()
        except (EOFError, KeyboardInterrupt):
            break
        if not interactive and line == "":
            break  # end of input
        question = line.strip()
        if question.lower() in ("quit", "exit", "/quit"):
            break
        if question:
            print_answer(assistant.ask(question))


@main.command()
@click.pass_obj
def run(settings: Settings) -> None:
    """Index the corpus (only what changed), then start the assistant.

    With SLACK_BOT_TOKEN set, the Slack bot (Socket Mode if SLACK_APP_TOKEN is set,
    else HTTP mode); otherwise a terminal chat that ends at end of input.
    """
    from bot.core.index import build_assistant, make_embedder

    embedder = make_embedder(settings)
    _ingest(settings, [settings.corpus_dir], embedder)
    if settings.slack_bot_token:
        from bot.slack.server import run_slack

        run_slack(settings)
    else:
        _chat(build_assistant(settings, embedder))


@main.command()
@click.option("--http", is_flag=True, help="Serve Slack's HTTP requests at /slack/events instead of Socket Mode.")
@click.option("--port", type=int, help="HTTP mode port (default MOPI_SLACK_PORT, 3000).")
@click.option("--host", default="0.0.0.0", show_default=True, help="HTTP mode address to listen on.")
@click.pass_obj
def slack(settings: Settings, http: bool, port: int | None, host: str) -> None:
    """Run the Slack bot (needs SLACK_BOT_TOKEN, and SLACK_APP_TOKEN or SLACK_SIGNING_SECRET)."""
    from bot.slack.server import run_slack

    run_slack(settings, http=http, port=port, host=host)


@main.group()
def feedback() -> None:
    """Feedback staff gave on answers in Slack."""


@feedback.command("export")
@click.option("--csv", "as_csv", is_flag=True, help="CSV: time, answer id, user, kind, cited docs.")
@click.option("--as-golden", "as_golden", is_flag=True,
              help="Thumbs-down and wrong-source cases as draft eval items (golden YAML), each to be reviewed.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to a file instead of standard output.")
@click.pass_obj
def feedback_export(settings: Settings, as_csv: bool, as_golden: bool, output: Path | None) -> None:
    """Write all feedback as CSV, or (--as-golden) the negative cases as draft evaluation items.

    Draft items carry status: draft and a review note; the eval loader refuses them until a
    person has reviewed them and deleted the draft fields.
    """
    if as_csv == as_golden:
        raise click.UsageError("give exactly one of --csv or --as-golden")
    if as_golden:
        from bot.reports.audit import read_audit
        from bot.reports.golden import golden_drafts

        text = golden_drafts(read_audit(settings.audit_db), datetime.now(timezone.utc).isoformat(timespec="seconds"))
    else:
        from bot.slack.audit import AuditLog

        audit = AuditLog(settings.audit_db)
        try:
            text = audit.feedback_csv()
        finally:
            audit.close()
    if output:
        from bot.reports.render import write_file

        write_file(output, text, private=True)  # both hold officers' question text, as the gaps report does
    else:
        click.echo(text, nl=False)


@main.group()
def report() -> None:
    """Reports for content owners and maintainers, from the Slack bot's audit database.

    Each writes CSV, JSON and a self-contained HTML page (default folder MOPI_HOME/reports).
    """


@report.command("gaps")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write to (default MOPI_HOME/reports).")
@click.option("--since", metavar="DATE", help="Only questions and feedback from DATE on (YYYY-MM-DD).")
@click.pass_obj
def report_gaps(settings: Settings, out: Path | None, since: str | None) -> None:
    """Questions refused as not covered by the guidance, clustered, with the nearest section; and
    thumbs-down and wrong-source feedback by cited section.

    The files hold officers' question text (written readable by you only); MOPI_REPORT_READERS
    names who may see them. Refusals about people or injection attempts are left out.
    """
    from bot.reports import gaps_report

    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        raise click.BadParameter(f"expected a date as YYYY-MM-DD, got {since!r}", param_hint="--since") from None
    for path in gaps_report(settings, out or settings.home / "reports", start):
        click.echo(str(path))


@report.command("documents")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write to (default MOPI_HOME/reports).")
@click.pass_obj
def report_documents(settings: Settings, out: Path | None) -> None:
    """Per indexed document: answers citing it, feedback, superseded documents still cited, and
    review dates that have passed."""
    from bot.reports import documents_report

    for path in documents_report(settings, out or settings.home / "reports"):
        click.echo(str(path))


@main.command("review-date")
@click.option("--group", "group", type=click.IntRange(1, 4), required=True, help="The record's MoPI group (1-4).")
@click.option("--since", required=True, metavar="DATE",
              help="When the person last came to police attention (YYYY-MM-DD, or YYYY for a year).")
@click.option("--born", metavar="DATE", help="Date of birth (Group 1 is kept to an age). Never a name.")
@click.option("--age", type=click.IntRange(0, 120), help="Age today, when the date of birth is not known (Group 1).")
@click.option("--reset", "resets", multiple=True, metavar="DATE",
              help="Date of an event that restarts the clear period (a new offence, new intelligence); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print {group, since, review_due, rule, citations}.")
@click.pass_obj
def review_date(settings: Settings, group: int, since: str, born: str | None, age: int | None,
                resets: tuple[str, ...], as_json: bool) -> None:
    """When a record of GROUP is due for review, from the schedule the guidance states, cited."""
    import json

    from bot.console import print_answer
    from bot.core.lexical import LexicalIndex
    from bot.core.review_dates import ReviewCalculator, compute, given_date

    try:
        start, birth = given_date(since), given_date(born) if born else None
        restarts = tuple(given_date(r) for r in resets)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    calculator = ReviewCalculator(LexicalIndex.load(settings.bm25_dir))
    result = compute(calculator.rules, group, start, born=birth, age=age, resets=restarts)
    answer = calculator.explain(f"review date: group {group} since {since}", result)
    if as_json:
        click.echo(json.dumps(calculator.to_dict(result, answer), ensure_ascii=False))
    else:
        print_answer(answer)
    _ONE_SHOT.set()
    if answer.refused:
        sys.exit(1)


@main.command("eval")
@click.option("--set", "set_names", multiple=True, type=click.Choice(["dev", "test", "independent"]),
              help="Evaluation set(s) to run (repeatable; default all three: the golden dev and test splits "
                   "and evals/datasets/independent.yaml when present).")
@click.option("--dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Run this file instead, as one set named after it (add --set to run named sets too).")
@click.option("--retriever", "retrievers", multiple=True, type=click.Choice(["hybrid", "bm25", "dense"]),
              help="Also compare these retrievers (repeatable); hybrid, the production one, always runs first.")
@click.option("--llm", "llms", multiple=True, metavar="PROVIDER:MODEL",
              help="Also answer with this LLM (repeatable); it also judges faithfulness.")
@click.option("--baseline", is_flag=True, help="Add the plain LangChain recipe as a configuration (langchain-baseline).")
@click.option("--no-rerank", "without_rerank", is_flag=True,
              help="Add the production configuration without the second-stage reranker, to show what it adds.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("evals/reports"), show_default=True)
@click.option("--gate", is_flag=True,
              help="Exit 1 if the production configuration breaches evals/thresholds.yaml (test and independent sets).")
@click.pass_obj
def eval_cmd(settings: Settings, set_names, dataset: Path | None, retrievers, llms, baseline: bool,
             without_rerank: bool, out: Path, gate: bool) -> None:
    """Score answers on the evaluation sets: retrieval, facts, citations, refusals, latency.

    Every question goes through the same core path as the bot. Each
    configuration runs over each set, side by side. Writes JSON and HTML
    reports under --out and compares with the previous run.
    """
    from bot.console import print_eval
    from bot.core.index import make_embedder
    from evals.gate import load_thresholds
    from evals.report import write_reports
    from evals.runner import BASELINE, PRODUCTION, EvalConfig, evaluate
    from evals.sets import SET_NAMES, adhoc_set, load_sets

    try:
        sets, notes = load_sets(set_names or (() if dataset else SET_NAMES))
        if dataset:
            sets.insert(0, adhoc_set(dataset))
    except ValueError as exc:  # a malformed dataset, or a split that was never drawn
        raise click.ClickException(str(exc)) from None
    if not sets:
        raise click.ClickException("no evaluation set to run: " + "; ".join(notes))
    llm_retriever = retrievers[0] if retrievers else PRODUCTION.retriever
    configs = list(dict.fromkeys([PRODUCTION, *(EvalConfig(r) for r in retrievers),
                                  *(EvalConfig(llm_retriever, llm) for llm in llms)]))
    if without_rerank:
        configs.append(EvalConfig(rerank=False))
    if baseline:
        configs.append(BASELINE)
    thresholds = load_thresholds()
    run = evaluate(configs, sets, settings, thresholds, make_embedder(settings), notes,
                   created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    json_path, html_path, comparison = write_reports(run, out, thresholds.aims)
    print_eval(run, comparison, thresholds, json_path, html_path)
    if gate and not run["gate"]["passed"]:
        sys.exit(1)


class _StatusGroup(click.Group):
    """`mopi status [ID]` shows items; `mopi status update|export ...` changes or writes the register."""

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands:
            return None, None, args  # an item id: handled by the group itself
        return super().resolve_command(ctx, args)

    def parse_args(self, ctx, args):
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            ctx.meta["status_id"] = args[0]
            args = args[1:]
        return super().parse_args(ctx, args)


@main.group(cls=_StatusGroup, invoke_without_command=True)
@click.option("--status", "status_filter", type=click.Choice(STATUSES), help="Only items with this status.")
@click.option("--theme", help="Only items with this theme.")
@click.option("--addressee", help="Only items addressed to someone matching this text.")
@click.option("--search", "text", metavar="TEXT", help="Only items whose text or notes hold all these words.")
@click.option("--overdue", is_flag=True, help="Only items past their deadline and not complete.")
@click.option("--as-at", "--as-of", "as_at", metavar="DATE",
              help="The register as it stood on DATE: statuses from the history known by then, later updates "
                   "left out (--as-of is the old name).")
@click.option("--json", "as_json", is_flag=True, help="JSON: an item carries id, status and updates.")
@click.pass_context
def status(ctx: click.Context, status_filter, theme, addressee, text, overdue, as_at, as_json) -> None:
    """The HMIC recommendation register: `mopi status` (summary), `mopi status ID` (item, history,
    sources), or filtered lists, each today or --as-at a past date. `mopi status update ID ...`
    records progress; `mopi status export` writes the register as YAML or CSV."""
    if ctx.invoked_subcommand is not None:
        return
    from bot.console import print_register_item, print_register_list, print_register_summary
    from bot.core.register.model import parse_date

    store = _register(ctx.obj)
    try:
        day = parse_date(as_at) if as_at else None
    except ValueError as exc:
        raise MopiError(f"--as-at: {exc}") from None
    rec_id = ctx.meta.get("status_id")
    if rec_id:
        item = store.get(rec_id, as_at=day)
        if item is None:
            raise MopiError(f"no recommendation {rec_id!r}; known: {', '.join(r.id for r in store.all())}")
        later = len(store.get(rec_id).updates) - len(item.updates)
        _emit([item], as_json, lambda items: print_register_item(items[0], day, later), single=True, as_at=day)
        return
    filtered = any([status_filter, theme, addressee, text, overdue])
    items = store.find(status=status_filter, theme=theme, addressee=addressee, text=text, as_at=day)
    if overdue:
        items = [r for r in items if r.overdue_on(day or date.today())]
    if filtered or as_json:
        _emit(items, as_json, lambda xs: print_register_list(xs, day), as_at=day)
    else:
        print_register_summary(items, day)


@status.command("update")
@click.argument("rec_id", metavar="ID")
@click.option("--status", "new_status", required=True, type=click.Choice(STATUSES))
@click.option("--note", required=True, help="What changed, in a sentence.")
@click.option("--source", required=True, metavar="DOC#SECTION|URL", help="The document and section (or URL) that says so.")
@click.option("--by", "by", required=True, metavar="NAME", help="Who is recording the update.")
@click.pass_obj
def status_update(settings: Settings, rec_id, new_status, note, source, by) -> None:
    """Append an update to an item's history (never overwrites); records who and when."""
    from bot.core.lexical import LexicalIndex
    from bot.core.register.answers import known_sections
    from bot.core.register.model import Source

    store = _register(settings)
    update = store.add_update(rec_id.upper(), new_status, note, Source.parse(source), by,
                              known_sections(LexicalIndex.load(settings.bm25_dir)))
    click.echo(f"{rec_id.upper()}: {update.status} on {update.date}, recorded by {update.by} at {update.recorded_at}")


@status.command("export")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per update, instead of YAML.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to a file instead of standard output.")
@click.pass_obj
def status_export(settings: Settings, as_csv: bool, output: Path | None) -> None:
    """Write the register, recorded updates included, for review in git."""
    store = _register(settings)
    text = store.export_csv() if as_csv else store.export_yaml()
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


def _register(settings: Settings):
    from bot.core.register import RegisterStore
    from bot.errors import IndexNotReadyError

    if not settings.register_db.is_file():
        raise IndexNotReadyError("no recommendation register yet: run `mopi ingest` (it loads corpus/recommendations.yaml)")
    return RegisterStore(settings.register_db)


def _emit(items, as_json: bool, show, single: bool = False, as_at: date | None = None) -> None:
    import json

    from bot.core.register.model import item_dict

    if as_json:
        data = [item_dict(r) | ({"as_at": as_at.isoformat()} if as_at else {}) for r in items]
        click.echo(json.dumps(data[0] if single else data, indent=2, ensure_ascii=False))
    else:
        show(items)


# Set by one-shot commands (ask, search) once their output is printed: see entry().
_ONE_SHOT = threading.Event()


def entry() -> None:
    """The `mopi` console script: main(), and after a one-shot command, leave without the teardown.

    Finalising chromadb, onnxruntime and spaCy objects takes about a second here and does nothing
    a finished `ask` or `search` needs: they write nothing, and their output is flushed first.
    Every other command (ingest, the bot, the register) ends the ordinary way.
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not _ONE_SHOT.is_set():
            raise
    if _ONE_SHOT.is_set():
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
