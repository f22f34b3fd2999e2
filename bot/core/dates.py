"""Dates as officers type them, found in free text: "1 May 2018", "May 2018", "2018-05-01", "01/05/2018", "2018".

Each found date keeps its precision, so "nothing since 2018" yields a year and a period
counted from it is a year too. Day-first numeric dates (the UK form) only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_MONTH = r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|" \
         r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_DATE = re.compile(
    r"\b(?P<iso>(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2}))\b"
    r"|\b(?P<num>(?P<nd>\d{1,2})[/.](?P<nm>\d{1,2})[/.](?P<ny>\d{4}|\d{2}))\b"
    rf"|\b(?:(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?)?{_MONTH},?\s+(?P<year>\d{{4}})\b"
    r"|\b(?P<bare>(?:19|20)\d{2})\b",
    re.I,
)


@dataclass(frozen=True)
class FoundDate:
    value: date  # the first day of the month or year when only those were given
    precision: str  # "day", "month" or "year"
    start: int  # where it stands in the text
    end: int

    def shown(self) -> str:
        """As an officer would write it back: "1 May 2018", "May 2018" or "2018"."""
        if self.precision == "year":
            return str(self.value.year)
        if self.precision == "month":
            return f"{_MONTHS[self.value.month - 1].title()} {self.value.year}"
        return f"{self.value.day} {_MONTHS[self.value.month - 1].title()} {self.value.year}"


def find_dates(text: str) -> list[FoundDate]:
    """Every valid date in ``text``, in order. Impossible dates (31/02/2018) are skipped."""
    found = []
    for match in _DATE.finditer(text):
        try:
            found.append(_parse(match))
        except ValueError:
            continue
    return found


def _parse(match: re.Match) -> FoundDate:
    g = match.groupdict()
    span = match.start(), match.end()
    if g["iso"]:
        return FoundDate(date(int(g["iy"]), int(g["im"]), int(g["id"])), "day", *span)
    if g["num"]:
        year = int(g["ny"]) + (2000 if len(g["ny"]) == 2 and int(g["ny"]) <= date.today().year % 100 else
                               1900 if len(g["ny"]) == 2 else 0)
        return FoundDate(date(year, int(g["nm"]), int(g["nd"])), "day", *span)
    if g["month"]:
        month = next(i for i, name in enumerate(_MONTHS, start=1) if name.startswith(g["month"].lower()[:3]))
        if g["day"]:
            return FoundDate(date(int(g["year"]), month, int(g["day"])), "day", *span)
        return FoundDate(date(int(g["year"]), month, 1), "month", *span)
    return FoundDate(date(int(g["bare"]), 1, 1), "year", *span)


def add_years(start: date, years: int) -> date:
    """``start`` plus whole years; 29 February lands on 28 February in a year without one."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def parse_iso(text: str) -> date:
    """A YYYY-MM-DD date, or a ValueError that says what was expected."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a date: {text!r} (expected YYYY-MM-DD)") from None
