"""What every benchmark prints with: quiet libraries and plain Markdown tables."""

from __future__ import annotations

import logging
from pathlib import Path

NO_TARGET = "—"
_NOISY = ("chromadb", "sentence_transformers", "transformers", "httpx", "posthog", "bot", "ingest",
          "slack_bolt", "slack_sdk", "urllib3")


def quiet_logging() -> None:
    """Warnings and errors only, from every library and the bot itself."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)


def ok_mark(passed: bool) -> str:
    return "yes" if passed else "MISSED"


def add_row(rows: list[tuple], metric: str, value, target=NO_TARGET, ok: bool | None = None) -> None:
    rows.append((metric, value, target, "" if ok is None else ok_mark(ok)))


def print_table(rows: list[tuple], header: tuple[str, ...] = ("metric", "measured", "target", "ok")) -> None:
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]

    def line(cells) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def print_report(rows: list[tuple], notes: list[str]) -> None:
    """The table, then one "note:" line each."""
    print_table(rows)
    print()
    for note in notes:
        print(f"note: {note}")


def passages_by_file(settings) -> list[list[str]]:
    """Exactly what the ingest pipeline embeds on a fresh index, grouped per file in pipeline order."""
    from ingest.chunking import chunk_blocks, passage_text
    from ingest.loaders import load_file
    from ingest.metadata import build_meta, load_manifest
    from ingest.pipeline import discover

    files, _ = discover([settings.corpus_dir])
    manifests: dict[Path, dict] = {}
    out: list[list[str]] = []
    for path in files:
        if path.parent not in manifests:
            manifests[path.parent] = load_manifest(path.parent)
        entry = manifests[path.parent].get(path.name, {})
        loaded = load_file(path)
        is_markdown = path.suffix.lower() in (".md", ".markdown")
        hints, front_matter = ({}, loaded.metadata) if is_markdown else (loaded.metadata, {})
        meta = build_meta({**hints, **entry, **front_matter})
        chunks = chunk_blocks(meta, loaded.blocks, settings.chunk_words, settings.chunk_overlap_words)
        out.append([passage_text(meta.title, c.heading_path, c.text) for c in chunks])
    return out
