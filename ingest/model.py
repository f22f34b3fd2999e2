"""Plain data shared by the loaders, the chunker and the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Block:
    """A run of body text sitting under one heading path.

    Loaders emit blocks in reading order; the chunker groups consecutive blocks
    with the same ``headings`` into one section and never merges two sections.
    """

    text: str
    headings: tuple[str, ...] = ()  # outermost first, e.g. ("5. Record groups", "5.4 Group 3 – All other offences")
    page: int | None = None  # 1-based, PDFs only
    kind: str = "text"  # "text" or "table"; tables are kept whole where practical


@dataclass(frozen=True)
class LoadedFile:
    """What a loader returns: the blocks, plus any metadata the file carries itself."""

    blocks: list[Block]
    metadata: dict = field(default_factory=dict)  # e.g. Markdown front matter; empty for most formats


class LoadError(Exception):
    """A file could not be read. The message is one line, safe to show, without the path."""
