"""Status questions answered from the register, cited like document answers.

Routing is plain pattern matching over the question, so it is predictable and
unit-tested: recommendation ids, "outstanding", "overdue / due by", and status
words with a matching item. A question that also asks something else gets a
document answer for that part too (see Assistant).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from bot.core.dates import FoundDate, find_dates
from bot.core.extractive import best_sentence
from bot.core.lexical import LexicalIndex, tokenize
from bot.core.models import Citation
from bot.core.register.model import OPEN_STATUSES, Recommendation, Source, Update, parse_date
from bot.core.register.store import RegisterStore
from bot.core.retrieval import Hit

_ID = re.compile(r"\b([A-Za-z]{2,5}-[Rr]?\d{1,3})\b")
_OUTSTANDING = re.compile(
    r"\b(outstanding|still open|open (?:items?|recommendations?|actions?)|not (?:yet )?(?:complete|completed|done)"
    r"|left to do|remaining|incomplete)\b", re.I)
_OVERDUE = re.compile(r"\b(overdue|past (?:the |its )?deadline|missed (?:the |its )?deadline)\b", re.I)
_DUE_BY = re.compile(r"\bdue (?:by|before|on)\b", re.I)
_STATUS_WORDS = re.compile(
    r"\b(status|progress|where (?:are|were) we|complete|completed|done|filled|recruited|implemented|agreed|advertised|"
    r"started|instigated|happen|happened|delivered|being met|up to date|update|deadline)\b", re.I)
# The words that make a date the point in time a question is asked about ("as at 1 December 2015",
# "at the end of 2015"). A full date needs none; a month or a year does, so "the 2015 report" and
# "did the March 2016 report happen?" stay questions about today.
_POINT_IN_TIME = re.compile(
    r"\b(?:(?P<edge>end|close|start|beginning)\s+of|as\s+(?:at|of)|in|during|at|by|on)\s+(?:the\s+)?$", re.I)
_CLAUSES = re.compile(r"\?\s+|;\s+|\s+and also\s+|\s+and (?=what|how|when|who|does|do|is|are|can)", re.I)
# Words that say what kind of question it is, not which item it is about.
_ROUTING_WORDS = set(tokenize(
    "status progress where are were we complete completed done filled recruited implemented agreed advertised started "
    "instigated happen happened delivered being met up to date update deadline yet actually ever still has have did "
    "was "
    "what which whats how many temp"))
MIN_MATCH = 0.5  # share of the question's item words an item must hold to be "the item asked about"
CLOSE_MATCH = 0.9  # other items must match this nearly as well as the best to be shown too


@dataclass(frozen=True)
class RegisterQuery:
    kind: str  # "items", "outstanding", "overdue", "due_by", "unknown_id"
    ids: tuple[str, ...] = ()
    as_at: date | None = None  # the register as it stood that day; None = today


def route(question: str, store: RegisterStore, idf) -> RegisterQuery | None:
    """What, if anything, the register should answer in ``question``."""
    known = {r.id for r in store.all()}
    # Only an id in the register's own form (its prefixes) is an id; "MANGO-77" is just text.
    prefixes = {k.split("-")[0] for k in known}
    ids = [m.upper() for m in _ID.findall(question) if m.split("-")[0].upper() in prefixes]
    day = as_at_in(question)
    if ids:
        found = tuple(dict.fromkeys(i for i in ids if i in known))
        return RegisterQuery("items", found, day) if found else RegisterQuery("unknown_id", tuple(ids))
    if _DUE_BY.search(question) and day:
        return RegisterQuery("due_by", as_at=day)
    if _OVERDUE.search(question):
        return RegisterQuery("overdue", as_at=day)
    if _OUTSTANDING.search(question):
        return RegisterQuery("outstanding", as_at=day)
    if _STATUS_WORDS.search(question):
        matches = match_items(question, store.all(), idf)
        if matches:
            return RegisterQuery("items", tuple(r.id for r in matches), day)
    return None


def as_at_in(question: str) -> date | None:
    """The day a question asks the register about: "as at 1 December 2015", "at the end of 2015".

    A month or a year stands for its last day (the register's own convention for month-only
    dates: a position reported in a month is known by its end), or its first after "start of".
    """
    for found in find_dates(question):
        lead = _POINT_IN_TIME.search(question[:found.start])
        if found.precision != "day" and not lead:
            continue
        return found.value if lead and lead.group("edge") in ("start", "beginning") else _last_day(found)
    return None


def _last_day(found: FoundDate) -> date:
    day = found.value
    if found.precision == "year":
        return date(day.year, 12, 31)
    if found.precision == "month":
        return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
    return day


def split_clauses(question: str) -> list[str]:
    """'status of X and what does the APP say about Y?' -> two questions."""
    return [c.strip(" ,.?") + "?" for c in _CLAUSES.split(question) if c and len(c.split()) >= 2]


def match_items(question: str, items: list[Recommendation], idf) -> list[Recommendation]:
    """Items whose text holds most of the question's (IDF-weighted) item words.

    Words found only in an item's update notes count half: notes often mention
    neighbouring items ("see LAN-02").
    """
    terms = set(tokenize(question)) - _ROUTING_WORDS
    total = sum(idf(t) for t in terms)
    if not total:
        return []
    scored = []
    for r in items:
        own = set(tokenize(f"{r.id} {r.text} {r.addressee}"))
        notes = set(tokenize(" ".join(u.note for u in r.updates))) - own
        scored.append(((sum(idf(t) for t in terms & own) + 0.5 * sum(idf(t) for t in terms & notes)) / total, r))
    best = max((s for s, _ in scored), default=0.0)
    close = [(s, r) for s, r in scored if s >= MIN_MATCH and s >= CLOSE_MATCH * best]
    return [r for _, r in sorted(close, key=lambda sr: -sr[0])]


def answer_register(query: RegisterQuery, store: RegisterStore, lexical: LexicalIndex,
                    first_n: int = 1) -> tuple[str, list[Citation]]:
    """Answer text with [n] markers, and its citations numbered from ``first_n``."""
    cites = _Citations(lexical, first_n)
    if query.kind == "unknown_id":
        held = ", ".join(r.id for r in store.all())
        return (f"The register holds no recommendation {', '.join(query.ids)}. It holds: {held}.", [])
    if query.kind == "outstanding":
        held = store.all(query.as_at)
        items = [r for r in held if r.status in OPEN_STATUSES]
        lines = [f"{r.id} ({_short(r.text)}): {_status_phrase(r.status)}{_latest(r, cites)}" for r in items]
        head = (f"As at {_long_date(query.as_at.isoformat())}, {len(items)} of {len(held)} register items were not "
                f"complete (later updates left out):" if query.as_at else
                f"{len(items)} of {len(held)} register items are not complete:")
        return "\n".join([head, *(f"- {line}" for line in lines)]), cites.list
    if query.kind == "due_by":
        day = query.as_at
        due = [r for r in store.all() if r.deadline and parse_date(r.deadline) <= day]
        if not due:
            return f"Nothing in the register was due by {_long_date(day.isoformat())}.", []
        lines = [f"{r.id} was due {_long_date(r.deadline)}{cites.for_item(r)}; on {day.isoformat()} its status was "
                 f"{_status_phrase(r.status_on(day))}, and it is now {_status_phrase(r.status)}{_latest(r, cites)}. "
                 f"{_short(r.text, 30)}" for r in due]
        return "\n".join([f"Due by {_long_date(day.isoformat())}:", *(f"- {line}" for line in lines)]), cites.list
    if query.kind == "overdue":
        day = query.as_at or date.today()
        items = store.overdue(day)
        if not items:
            due = [r for r in store.all() if r.deadline]
            detail = "; ".join(f"{r.id} was due {_long_date(r.deadline)} and was {r.status_on(day)} on "
                               f"{day.isoformat()}{cites.for_item(r)}" for r in due)
            return f"Nothing in the register is overdue as of {day.isoformat()}. {detail}".strip(), cites.list
        lines = [f"{r.id} was due {_long_date(r.deadline)} and was {r.status_on(day)} on {day.isoformat()}"
                 f"{cites.for_item(r)}: {_short(r.text)}" for r in items]
        return "\n".join([f"Overdue as of {day.isoformat()}:", *(f"- {line}" for line in lines)]), cites.list
    parts = [_item_detail(store.get(i, query.as_at), cites, query.as_at, len(store.get(i).updates))
             for i in query.ids]
    return "\n\n".join(parts), cites.list


def _item_detail(r: Recommendation, cites: _Citations, as_at: date | None = None, updates_today: int = 0) -> str:
    deadline = f"; deadline {r.deadline} ({_long_date(r.deadline)})" if r.deadline else ""
    latest = f" as of {_long_date(r.updates[-1].date)}" if r.updates else ""
    if as_at:
        later = updates_today - len(r.updates)
        latest = (f" as at {_long_date(as_at.isoformat())}"
                  + (f" (latest update {_long_date(r.updates[-1].date)})" if r.updates else " (no update by then)")
                  + (f"; {later} later update{'s' * (later > 1)} left out" if later else ""))
    lines = [f"{r.id}: {_status_phrase(r.status)}{latest}{cites.for_item(r)}. "
             f"Addressed to {r.addressee}{deadline}.", f"Recommendation: {r.text}"]
    if r.updates:
        lines.append("History (oldest first):")
        lines += [f"- {_long_date(u.date)}: {u.status}{' (recorded by ' + u.by + ')' if u.by else ''} – {u.note}"
                  f"{cites.for_update(u)}" for u in r.updates]
    return "\n".join(lines)


def _status_phrase(status: str) -> str:
    return "status unknown (the sources do not give one)" if status == "unknown" else status


def _latest(r: Recommendation, cites: _Citations) -> str:
    if not r.updates:
        return ""
    u = r.updates[-1]
    return f" ({_long_date(u.date)}){cites.for_update(u)}"


def _short(text: str, words: int = 14) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def _long_date(text: str) -> str:
    day = parse_date(text)
    return f"{day.day} {day:%B %Y}" if len(text) == 10 else f"{day:%B %Y}"


class _Citations:
    """Numbers sources in order of first use; each document section is cited once."""

    def __init__(self, lexical: LexicalIndex, first_n: int):
        self.lexical = lexical
        self.next_n = first_n
        self.list: list[Citation] = []
        self._by_key: dict[str, int] = {}

    def for_item(self, r: Recommendation) -> str:
        return self._marker(Source(doc=r.report, section=r.section), r.text)

    def for_update(self, u: Update) -> str:
        return self._marker(u.source, u.note)

    def _marker(self, source: Source, about: str) -> str:
        key = str(source)
        if key not in self._by_key:
            citation = self._cite(source, about)
            if citation is None:
                return ""
            self._by_key[key] = citation.n
            self.list.append(citation)
            self.next_n += 1
        return f" [{self._by_key[key]}]"

    def _cite(self, source: Source, about: str) -> Citation | None:
        if source.url:
            return Citation(self.next_n, "", source.url.split("/")[2] if "//" in source.url else source.url, "", None,
                            source.url, "current", "")
        hits = [Hit(i, t, m, 0.0) for i, t, m in zip(self.lexical.ids, self.lexical.texts, self.lexical.metadatas)
                if m.get("doc_id") == source.doc and section_matches(source.section, m)]
        if not hits:
            return None
        best = max(hits, key=lambda h: len(set(tokenize(about)) & set(tokenize(h.text))))
        meta = best.metadata
        return Citation(self.next_n, source.doc, meta.get("title", ""), meta.get("section", ""), meta.get("page"),
                        meta.get("source_url", ""), meta.get("status", "current"),
                        best_sentence(about, best, self.lexical.idf), best.id)


def section_matches(section: str, meta: dict) -> bool:
    """A register section ("3.5(a)", "Recommendation 1") against a chunk's section number or heading."""
    if not section:
        return True
    wanted = section.strip().lower()
    number = str(meta.get("section_number", "")).lower()
    heading = str(meta.get("section", "")).lower()
    return number == wanted or heading == wanted or heading.startswith(wanted + " ")


def known_sections(lexical: LexicalIndex) -> dict[str, set[str]]:
    """Each indexed document's section numbers and headings (lower case), to validate sources against."""
    out: dict[str, set[str]] = {}
    for meta in lexical.metadatas:
        sections = out.setdefault(meta["doc_id"], set())
        for key in ("section_number", "section"):
            if meta.get(key):
                sections.add(str(meta[key]).lower())
    return out
