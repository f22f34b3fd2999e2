"""HTML loading with BeautifulSoup: h1-h6 give heading paths, page chrome is dropped."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

from ingest.loaders.textio import decode_text
from ingest.model import Block, LoadedFile, LoadError

# html.parser rather than lxml: always installed, so a page parses the same everywhere.
_PARSER = "html.parser"
_DROP = ("script", "style", "nav", "header", "footer", "aside", "noscript", "template",
         "svg", "iframe", "canvas", "select", "button")  # fmt: skip
# An <header> inside an article or main is the article's own header, which usually holds the h1.
_CONTENT_ROOTS = ("article", "main")
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Elements whose start and end break the text flow into separate blocks.
_BLOCK_TAGS = frozenset(
    "address article blockquote body dd details dialog div dl dt fieldset figcaption figure "
    "form hgroup hr li main ol p pre section summary table ul h1 h2 h3 h4 h5 h6".split()
)
_CHARSET_WINDOW = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _decode(data: bytes) -> str:
    """UTF-8 as for every text format; a declared charset only rescues what UTF-8 cannot read."""
    try:
        return decode_text(data)
    except LoadError as utf8_error:
        declared = _META_CHARSET.search(data[:_CHARSET_WINDOW])
        if not declared or b"\x00" in data[:8192] or not data.strip():
            raise
        try:
            codec = codecs.lookup(declared.group(1).decode("ascii"))
            return data.decode(codec.name)
        except (LookupError, UnicodeDecodeError):
            raise utf8_error from None


def _strip_chrome(soup: BeautifulSoup) -> None:
    for tag in soup.find_all(_DROP):
        if tag.decomposed:
            continue  # already gone with a dropped ancestor
        if tag.name == "header" and tag.find_parent(_CONTENT_ROOTS):
            continue
        tag.decompose()
    for tag in soup.find_all(hidden=True):
        if not tag.decomposed:
            tag.decompose()


def _in_table_or_form(tag: Tag) -> bool:
    return tag.find_parent(("table", "form")) is not None


def _title_h1(root: Tag) -> Tag | None:
    """The h1 that is the page title: the only h1, and the first heading of all."""
    headings = [h for h in root.find_all(list(_HEADINGS)) if not _in_table_or_form(h) and _collapse(h.get_text())]
    h1s = [h for h in headings if h.name == "h1"]
    if len(h1s) == 1 and headings[0] is h1s[0]:
        return h1s[0]
    return None


def _own_rows(table: Tag) -> list[Tag]:
    """The table's rows, not those of tables nested in its cells."""
    return [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]


def _cell_text(cell: Tag) -> str:
    # A literal pipe would read as a column break in the pipe-formatted rows.
    return _collapse(cell.get_text(" ")).replace("|", "\\|")


def _table_text(table: Tag) -> str:
    rows: list[str] = []
    for tr in _own_rows(table):
        cells = [_cell_text(cell) for cell in tr.find_all(("td", "th"), recursive=False)]
        if any(cells):
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


@dataclass
class _Walk:
    """Blocks collected so far, the heading stack and the text run being gathered."""

    title_h1: Tag | None
    stack: list[tuple[int, str]] = field(default_factory=list)  # (level, heading text)
    run: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    def headings(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.stack)

    def flush(self) -> None:
        text = _collapse("".join(self.run))
        self.run = []
        if text:
            self.blocks.append(Block(text=text, headings=self.headings()))

    def heading(self, tag: Tag) -> None:
        self.flush()
        text = _collapse(tag.get_text(" "))
        if not text or tag is self.title_h1:
            return
        level = _HEADINGS[tag.name]
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text))

    def table(self, tag: Tag) -> None:
        self.flush()
        caption = tag.find("caption")
        if caption is not None and caption.find_parent("table") is tag:
            self.run.append(caption.get_text(" "))
            self.flush()
        text = _table_text(tag)
        if text:
            self.blocks.append(Block(text=text, headings=self.headings(), kind="table"))


def _walk(root: Tag, walk: _Walk) -> None:
    """Visit the tree in document order without recursion (deeply nested pages exist)."""
    pending: list[tuple[bool, object]] = [(False, root)]
    while pending:
        leaving, node = pending.pop()
        if isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):  # comments, doctypes, CDATA
                walk.run.append(str(node))
            continue
        if not isinstance(node, Tag) or node.name in ("head", "title"):
            continue
        if leaving:
            walk.flush()
            continue
        if node.name in _HEADINGS and not _in_table_or_form(node):
            walk.heading(node)
        elif node.name == "table":
            walk.table(node)
        elif node.name == "br":
            walk.run.append(" ")
        else:
            if node.name in _BLOCK_TAGS:
                walk.flush()
                pending.append((True, node))
            pending.extend((False, child) for child in reversed(node.contents))


def load_html(path: Path) -> LoadedFile:
    """Load an HTML page's main text under its h1-h6 heading path."""
    soup = BeautifulSoup(_decode(path.read_bytes()), _PARSER)
    page_title = _collapse(soup.title.get_text()) if soup.title else ""
    _strip_chrome(soup)
    root = soup.body or soup
    walk = _Walk(title_h1=_title_h1(root))
    _walk(root, walk)
    walk.flush()
    if not walk.blocks:
        raise LoadError("page has no text to index")
    title = _collapse(walk.title_h1.get_text(" ")) if walk.title_h1 is not None else page_title
    return LoadedFile(blocks=walk.blocks, metadata={"title": title} if title else {})
