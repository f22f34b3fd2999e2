"""What every benchmark prints with: quiet libraries and plain Markdown tables."""

from __future__ import annotations

import logging

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
