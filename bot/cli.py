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
    from bot.console import IngestDisplay, print_ingest_summary
    from bot.core.index import make_embedder, open_store
    from ingest.pipeline import run_ingest

    embedder = make_embedder(settings)
    store = open_store(settings, embedder)
    display = IngestDisplay()
    with display:
        report = run_ingest(list(paths) or [settings.corpus_dir], settings, store=store, embedder=embedder,
                            on_plan=display.plan, on_file=display.file_done)
    print_ingest_summary(report)
    if strict and report.failures:
        sys.exit(1)


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


if __name__ == "__main__":  # pragma: no cover
    main()
