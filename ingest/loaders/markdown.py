"""Markdown with YAML front matter: headings, numbered paragraphs and tables kept."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders.textio import decode_text
from ingest.metadata import split_front_matter
from ingest.model import Block, LoadedFile, LoadError

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# "2.1 **Police information.** APP uses..." is a citable sub-section in the corpus
# documents even though it is not a Markdown heading.
_NUMBERED_PARA = re.compile(r"^(\d+(?:\.\d+)+[a-z]?|\d+\.\d+\([a-z]\))\s+\*\*(.+?)\*\*\s*(.*)$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])|`)")


def clean_inline(text: str) -> str:
    """Drop Markdown inline markup so stored text reads (and quotes) as plain prose."""
    return _EMPHASIS.sub("", _LINK.sub(r"\1", text)).strip()


def load_markdown(path: Path) -> LoadedFile:
    text = decode_text(path.read_bytes())
    metadata, body = split_front_matter(text)
    blocks = parse_markdown(body)
    if not blocks:
        raise LoadError("document has no text to index")
    return LoadedFile(blocks=blocks, metadata=metadata)


def parse_markdown(body: str) -> list[Block]:
    """Split Markdown into blocks, each under its heading path (pure; golden-tested)."""
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []  # (level, heading text)
    seen_heading = False
    para: list[str] = []
    para_kind = "text"
    in_fence = False

    def flush() -> None:
        nonlocal para, para_kind
        if para:
            joiner = " " if para_kind == "text" else "\n"
            text = joiner.join(line.strip() if para_kind == "text" else line.rstrip() for line in para)
            text = text.strip()
            if text:
                if para_kind != "code":
                    text = "\n".join(clean_inline(line) for line in text.split("\n"))
                blocks.append(Block(text=text, headings=tuple(h for _, h in stack),
                                    kind="table" if para_kind == "table" else "text"))
        para, para_kind = [], "text"

    def start(kind: str) -> None:
        nonlocal para_kind
        if para and para_kind != kind:
            flush()
        para_kind = kind

    for raw in body.splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith("```"):
            if in_fence:
                para.append(line)
                flush()
                in_fence = False
            else:
                flush()
                para_kind, in_fence = "code", True
                para.append(line)
            continue
        if in_fence:
            para.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            level, title = len(heading.group(1)), clean_inline(heading.group(2))
            if level == 1 and not seen_heading:
                seen_heading = True  # the document's title: already in the metadata
                continue
            seen_heading = True
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            continue
        numbered = _NUMBERED_PARA.match(line)
        if numbered:
            flush()
            number, lead, rest = numbered.groups()
            level = 7  # deeper than any Markdown heading; popped by the next heading or numbered paragraph
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, f"{number} {clean_inline(lead).rstrip('.:')}"))
            if rest.strip():
                para.append(rest)
            continue
        if not line.strip() or _RULE.match(line):
            flush()
            continue
        stripped = line.lstrip()
        if stripped.startswith("|"):
            start("table")
        elif stripped.startswith(">"):
            start("text")
            line = stripped.lstrip(">").strip()
            if not line:
                flush()
                continue
        elif _LIST_ITEM.match(line):
            start("list")
        elif para_kind == "table":
            flush()
        para.append(line)
    flush()
    return blocks
