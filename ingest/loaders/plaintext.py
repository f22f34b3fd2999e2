"""Plain text (and text extracted from PDFs) turned into blocks under recovered headings.

Extracted report text has no markup, only conventions: "4 Implications" opens a
section, "3.5 " opens a numbered paragraph, bullets start items, and line
breaks fall wherever the page ran out. The heuristics here recover those
conventions and lean towards body text whenever a line is ambiguous, because a
false heading mislabels every paragraph after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.loaders.textio import decode_text
from ingest.model import Block, LoadedFile, LoadError

_MAX_HEADING_CHARS = 80
_MAX_HEADING_WORDS = 12
# A level-2 line this short, not ending in punctuation and followed by body text,
# is a titled subsection ("5.4 Group 3 – All other offences"), not a paragraph opener.
_MAX_TITLE_CHARS = 60
_MAX_TITLE_WORDS = 10
# A next line no longer than this multiple of the numbered line looks like the same wrapped column.
_SAME_WIDTH_RATIO = 1.25
# A section number may skip a few (an undetected heading) but not jump far.
_MAX_SECTION_STEP = 3
# A line at least this long was wrapped by the page, so a blank after it is an artefact.
_WRAPPED_LINE_CHARS = 60

_LEVEL1 = re.compile(r"^(\d{1,2})\.?\s+(\S.*)$")
_LEVEL2 = re.compile(r"^(\d{1,2})((?:\.\d{1,3})+)\.?\s+(.*)$|^(\d{1,2})((?:\.\d{1,3})+)\.?$")
# Word's Symbol-font bullets arrive as private-use characters (\uf0b7 and friends).
_BULLET = re.compile(r"^(?:[•\uf0b7\uf0a7\uf076\u25cf\u25aa\u25e6\u2023\u2043]\s*|[-*]\s+)(.*)$")
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)
_TERMINAL = ".!?:;"
_CLOSERS = "\"'”’)]"
# A title ending in one of these words is a sentence cut off by the line break.
_FUNCTION_WORDS = frozenset(
    "a an and as at by for from in into of on or the to with that which than is are be".split()
)


@dataclass
class _State:
    """Where the scan is: the heading path and the paragraph being collected."""

    top_num: int | None = None
    top: str | None = None
    sub: str | None = None
    lines: list[str] = field(default_factory=list)
    page: int | None = None
    headings: tuple[str, ...] = ()
    gap: bool = False  # a blank line since the last text line
    blocks: list[Block] = field(default_factory=list)

    def path(self) -> tuple[str, ...]:
        return tuple(h for h in (self.top, self.sub) if h)

    def flush(self) -> None:
        text = _collapse(" ".join(self.lines))
        if text:
            self.blocks.append(Block(text=text, headings=self.headings, page=self.page))
        self.lines = []

    def start(self, text: str, page: int | None) -> None:
        self.flush()
        self.lines = [text]
        self.page = page
        self.headings = self.path()


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _ends_sentence(line: str) -> bool:
    stripped = line.rstrip().rstrip(_CLOSERS)
    if stripped.endswith(":-"):  # old-style list introducer ("are:-")
        return True
    return bool(stripped) and stripped[-1] in _TERMINAL


def _at_boundary(state: _State) -> bool:
    """Headings only open where a paragraph could have ended, not mid-sentence."""
    return not state.lines or state.gap or _ends_sentence(state.lines[-1])


def _continues(previous: str, line: str) -> bool:
    """Whether a line after a blank still belongs to the previous paragraph.

    PDF extraction drops blank lines mid-sentence ("make comments as" / "" /
    "appropriate."); a lowercase start or a cut-off long line gives it away.
    """
    if _ends_sentence(previous):
        return False
    return line[0].islower() or len(previous) >= _WRAPPED_LINE_CHARS


def _is_title(text: str) -> bool:
    """Short, capitalised, and not ending like a sentence or a cut-off sentence."""
    words = text.split()
    if not words or not text[0].isupper() or len(words) > _MAX_HEADING_WORDS:
        return False
    if len(text) > _MAX_HEADING_CHARS or text.rstrip(_CLOSERS)[-1] in ".,;:!?-–—":
        return False
    return words[-1].lower() not in _FUNCTION_WORDS


def _level1(line: str, state: _State) -> str | None:
    """The normalised heading ("4. Implications") if the line opens a top-level section."""
    match = _LEVEL1.match(line)
    if not match or not _at_boundary(state):
        return None
    number, title = int(match.group(1)), _collapse(match.group(2))
    if not _is_title(title):
        return None
    if state.top_num is not None and not 0 < number - state.top_num <= _MAX_SECTION_STEP:
        return None
    return f"{number}. {title}"


def _level2(line: str, state: _State) -> tuple[int, str, str] | None:
    """(section number, paragraph number, rest of line) if the line opens a numbered paragraph."""
    match = _LEVEL2.match(line)
    if not match or not _at_boundary(state):
        return None
    major = match.group(1) or match.group(4)
    minor = match.group(2) or match.group(5)
    rest = (match.group(3) or "").strip()
    number = int(major)
    if state.top_num is not None and not 0 <= number - state.top_num <= _MAX_SECTION_STEP:
        return None
    return number, f"{major}{minor}", rest


def _next_text(lines: list[tuple[str, int | None]], index: int) -> str | None:
    for text, _ in lines[index + 1 :]:
        if text:
            return text
    return None


def _title_subsection(line: str, rest: str, following: str | None) -> bool:
    """A numbered line that is a title with its body below, not a paragraph's first line.

    A short first line is also what a narrow column produces, so the next line
    must read as a fresh start: capitalised, and not a same-width continuation.
    """
    if following is None or _LEVEL2.match(following) or _LEVEL1.match(following):
        return False
    if len(rest) > _MAX_TITLE_CHARS or len(rest.split()) > _MAX_TITLE_WORDS or not _is_title(rest):
        return False
    if following[0].islower():
        return False
    wrapped_width = len(following) <= len(line) * _SAME_WIDTH_RATIO and not _ends_sentence(following)
    return not wrapped_width


def _drop_page_furniture(lines: list[tuple[str, int | None]]) -> list[tuple[str, int | None]]:
    """Remove bare page numbers at the top or bottom of a page, which would split sentences."""
    by_page: dict[int, list[int]] = {}
    for i, (text, page) in enumerate(lines):
        if page is not None and text:
            by_page.setdefault(page, []).append(i)
    drop = {
        i
        for indices in by_page.values()
        for i in (indices[0], indices[-1])
        if _PAGE_NUMBER.match(lines[i][0])
    }
    return [line for i, line in enumerate(lines) if i not in drop]


def structure_lines(lines: Iterable[tuple[str, int | None]]) -> list[Block]:
    """Turn (line, page) pairs into text blocks carrying their recovered heading paths.

    Section headings are normalised to "4. Implications"; numbered paragraphs put
    their number ("3.5") under it, or the whole line when it is a short title.
    """
    cleaned = [(_collapse(text.replace("\f", " ")), page) for text, page in lines]
    cleaned = _drop_page_furniture(cleaned)
    state = _State()
    for index, (line, page) in enumerate(cleaned):
        if not line:
            state.gap = True
            continue
        heading = _level1(line, state)
        if heading is not None:
            state.flush()
            state.top_num, state.top, state.sub = int(heading.split(".")[0]), heading, None
        elif (numbered := _level2(line, state)) is not None:
            _open_paragraph(state, line, numbered, page, _next_text(cleaned, index))
        elif (bullet := _BULLET.match(line)) is not None:
            state.start(f"• {bullet.group(1)}".rstrip(), page)
        elif state.lines and (not state.gap or _continues(state.lines[-1], line)):
            state.lines.append(line)
        else:
            state.start(line, page)
        state.gap = False
    state.flush()
    return state.blocks


def _open_paragraph(
    state: _State, line: str, numbered: tuple[int, str, str], page: int | None, following: str | None
) -> None:
    major, number, rest = numbered
    state.flush()
    if state.top_num != major:
        # A paragraph from a section whose heading was never seen: don't file it under the old one.
        state.top_num, state.top = major, None
    if rest and _title_subsection(line, rest, following):
        state.sub = f"{number} {rest}"
        return
    state.sub = number
    if rest:
        state.start(rest, page)


def load_txt(path: Path) -> LoadedFile:
    """Load a UTF-8 text file, recovering report-style numbered headings."""
    text = decode_text(path.read_bytes())
    blocks = structure_lines((line, None) for line in text.splitlines())
    if not blocks:
        raise LoadError("file has no text to index")
    return LoadedFile(blocks=blocks)
