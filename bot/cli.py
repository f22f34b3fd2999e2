"""mopi: the MoPI Assistant command line.

Thin: each command builds settings and dependencies, calls the library, and
prints. Heavy libraries load inside commands, so `mopi --help` is instant.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

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
    if strict and report.failures:
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
@click.pass_obj
def search(settings: Settings, query: str, k: int, mode: str) -> None:
    """Show the passages retrieval finds for QUERY (a maintainer's view, no answer)."""
    from bot.console import print_hits
    from bot.core.index import make_embedder, open_store
    from bot.core.lexical import LexicalIndex
    from bot.core.retrieval import Retriever

    embedder = make_embedder(settings)
    retriever = Retriever(open_store(settings, embedder, create=False), LexicalIndex.load(settings.bm25_dir), embedder)
    print_hits(retriever.search(query, k=k, mode=mode))


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

    Starts a terminal chat that ends at end of input.
    """
    from bot.core.index import build_assistant, make_embedder

    embedder = make_embedder(settings)
    _ingest(settings, [settings.corpus_dir], embedder)
    _chat(build_assistant(settings, embedder))


if __name__ == "__main__":  # pragma: no cover
    main()
