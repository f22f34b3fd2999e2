"""The recommendation register's data: items, their dated updates, and validation of the seed YAML."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import date

from bot.errors import MopiError

STATUSES = ("not-started", "in-progress", "awaiting-review", "complete", "unknown")
THEMES = ("collection", "recording", "evaluation", "sharing", "retention", "governance", "training", "audit", "ict")
OPEN_STATUSES = frozenset(s for s in STATUSES if s != "complete")

_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
_ID = re.compile(r"^[A-Z][A-Z0-9]*-[A-Z]?\d+[A-Za-z]?$")


class RegisterError(MopiError, ValueError):
    """A register entry or update is invalid. The message names the id and field."""


def parse_date(text: str) -> date:
    """An ISO date; a month alone ("2015-11") stands for its last day.

    The register's month-only dates are positions reported in a month, so they
    count as known by the month's end, and sort after that month's dated updates.
    """
    match = _DATE.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not an ISO date (YYYY-MM-DD, or YYYY-MM for a month)")
    year, month, day = int(match.group(1)), int(match.group(2)), match.group(3)
    if not 1 <= month <= 12:
        raise ValueError(f"{text!r} has no month {month}")
    last = calendar.monthrange(year, month)[1]
    return date(year, month, int(day) if day else last)  # raises for 2015-02-30


@dataclass(frozen=True)
class Source:
    """Where a status comes from: a corpus document and section, or a URL."""

    doc: str = ""
    section: str = ""
    url: str = ""

    def __str__(self) -> str:
        return f"{self.doc}#{self.section}" if self.doc else self.url

    @classmethod
    def parse(cls, value) -> Source:
        """From the YAML mapping ({doc, section} or {url}) or the CLI's ``DOC#SECTION`` / URL form."""
        if isinstance(value, dict):
            return cls(str(value.get("doc") or ""), str(value.get("section") or ""), str(value.get("url") or ""))
        text = str(value or "").strip()
        if text.startswith(("http://", "https://")):
            return cls(url=text)
        doc, _, section = text.partition("#")
        return cls(doc.strip(), section.strip())


@dataclass(frozen=True)
class Update:
    date: str  # as written: "2015-11-23" or "2015-11"
    status: str
    note: str
    source: Source
    by: str = ""  # who recorded it (manual updates)
    recorded_at: str = ""  # when it was recorded (manual updates)
    origin: str = "seed"  # "seed" (from the YAML) or "manual" (mopi status update)

    @property
    def effective(self) -> date:
        return parse_date(self.date)


@dataclass(frozen=True)
class Recommendation:
    id: str
    report: str
    section: str
    addressee: str
    deadline: str | None
    text: str
    theme: str
    seed_status: str
    owner: str | None = None
    updates: tuple[Update, ...] = field(default=())  # oldest first

    @property
    def status(self) -> str:
        """The latest update's status; the seed's own status when there is no update."""
        return self.updates[-1].status if self.updates else self.seed_status

    def status_on(self, day: date) -> str:
        """The status the history gives on ``day``: the latest update dated on or before it."""
        known = [u for u in self.updates if u.effective <= day]
        return known[-1].status if known else "unknown"

    def overdue_on(self, day: date) -> bool:
        return bool(self.deadline) and parse_date(self.deadline) < day and self.status_on(day) != "complete"

    def as_at(self, day: date) -> Recommendation:
        """The item as the register stood on ``day``: later updates left out.

        With no update by then the status is "unknown": the seed's own status is today's,
        so it says nothing about the past.
        """
        known = tuple(u for u in self.updates if u.effective <= day)
        return replace(self, updates=known, seed_status="unknown")


def sort_updates(updates: list[Update]) -> tuple[Update, ...]:
    """Oldest first; same-day updates keep the order they were recorded in."""
    return tuple(sorted(updates, key=lambda u: u.effective))


def parse_register(data: dict, known_sections: dict[str, set[str]]) -> list[Recommendation]:
    """Validate the seed YAML into recommendations; raise RegisterError listing every problem.

    ``known_sections`` maps each corpus document id to the section numbers and
    headings it has, so every source can be checked against the corpus.
    """
    problems: list[str] = []
    items = data.get("recommendations") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise RegisterError("register: expected a 'recommendations:' list")
    out: list[Recommendation] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        label = str(raw.get("id")) if isinstance(raw, dict) and raw.get("id") else f"entry {index + 1}"
        before = len(problems)

        def bad(field_name: str, message: str) -> None:
            problems.append(f"{label}: {field_name}: {message}")

        if not isinstance(raw, dict):
            bad("entry", "must be a mapping")
            continue
        rec_id = str(raw.get("id") or "")
        if not _ID.match(rec_id):
            bad("id", f"{rec_id!r} is not an id like BTP-R01 or LAN-04")
        elif rec_id in seen:
            bad("id", "duplicate id")
        seen.add(rec_id)
        for name in ("report", "text", "addressee"):
            if not str(raw.get(name) or "").strip():
                bad(name, "is required")
        report = raw.get("report")
        if report and (not isinstance(report, str) or report not in known_sections):
            bad("report", f"unknown document {report!r}")
        if raw.get("status") not in STATUSES:
            bad("status", f"{raw.get('status')!r} is not one of {', '.join(STATUSES)}")
        if raw.get("theme") not in THEMES:
            bad("theme", f"{raw.get('theme')!r} is not one of {', '.join(THEMES)}")
        if raw.get("deadline") is not None:
            _check_date(raw["deadline"], bad, "deadline")
        updates = []
        raw_updates = raw.get("updates") or []
        if not isinstance(raw_updates, list):
            bad("updates", "must be a list")
            raw_updates = []
        for n, u in enumerate(raw_updates, start=1):
            where = f"updates[{n}]"
            if not isinstance(u, dict):
                bad(where, "must be a mapping")
                continue
            _check_date(u.get("date"), bad, f"{where}.date")
            if u.get("status") not in STATUSES:
                bad(f"{where}.status", f"{u.get('status')!r} is not one of {', '.join(STATUSES)}")
            source = Source.parse(u.get("source"))
            problem = source_problem(source, known_sections)
            if problem:
                bad(f"{where}.source", problem)
            updates.append(Update(str(u.get("date")), str(u.get("status")), " ".join(str(u.get("note") or "").split()),
                                  source, by=str(u.get("by") or ""), recorded_at=str(u.get("recorded_at") or "")))
        if len(problems) == before:
            out.append(Recommendation(
                id=rec_id, report=str(raw["report"]), section=str(raw.get("section") or ""),
                addressee=str(raw["addressee"]), deadline=str(raw["deadline"]) if raw.get("deadline") else None,
                text=" ".join(str(raw["text"]).split()), theme=str(raw["theme"]), seed_status=str(raw["status"]),
                owner=raw.get("owner"), updates=sort_updates(updates),
            ))
    if problems:
        raise RegisterError("; ".join(problems))
    return out


def source_problem(source: Source, known_sections: dict[str, set[str]]) -> str:
    """Why a source does not point at something that exists, or '' when it does."""
    if source.url:
        return "" if source.url.startswith(("http://", "https://")) else f"{source.url!r} is not an http(s) URL"
    if not source.doc:
        return "needs {doc, section} or {url}"
    if source.doc not in known_sections:
        return f"unknown document {source.doc!r}"
    if source.section and source.section.lower() not in known_sections[source.doc]:
        return f"document {source.doc!r} has no section {source.section!r}"
    return ""


def _check_date(value, bad, field_name: str) -> None:
    try:
        parse_date(str(value))
    except ValueError as exc:
        bad(field_name, str(exc))


def item_dict(r: Recommendation) -> dict:
    """An item as JSON-ready data: id, status and its updates (date, status, note, source)."""
    return {
        "id": r.id, "status": r.status, "report": r.report, "section": r.section, "addressee": r.addressee,
        "deadline": r.deadline, "theme": r.theme, "text": r.text,
        "updates": [{"date": u.date, "status": u.status, "note": u.note, "source": str(u.source),
                     "by": u.by, "recorded_at": u.recorded_at, "origin": u.origin} for u in r.updates],
    }
