"""The review-date calculator: when a record is due for review, computed from the schedule the guidance states.

The schedule is data (``review_rules.yaml``): each group's period, the section that states it
and that section's words. A date is only given when those words are still in the indexed
section, and it is cited to that section, so the answer can never say more than the
guidance does. Limits of the guidance are answers too: Group 1 runs to an age, so it needs a
date of birth or an age (never a name); the guidance held gives no Group 4 period; and the
events that restart a clear period are stated on every date.

``compute`` is pure; ``ReviewCalculator`` adds the index (for citations) and reads questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from bot.core.dates import FoundDate, add_years, find_dates
from bot.core.entities import GROUP, extract
from bot.core.models import Answer, Citation, Diagnostics

RULES_PATH = Path(__file__).with_name("review_rules.yaml")
MODE = "review_date"


class RuleError(ValueError):
    """The rules file is malformed; the message names the entry."""


@dataclass(frozen=True)
class GroupRule:
    group: int
    name: str
    section: str
    quote: str
    clear_period_years: int | None = None  # Groups 2 and 3: review after this clear period
    review_every_years: int | None = None  # Group 1: reviewed this often...
    retain_until_age: int | None = None  # ...and kept until the subject is deemed this old
    no_period: bool = False  # Group 4: the guidance held states no period


@dataclass(frozen=True)
class ResetRule:
    section: str
    quote: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class Rules:
    document: str
    groups: dict[int, GroupRule]
    resets: ResetRule


def load_rules(path: Path = RULES_PATH) -> Rules:
    import yaml

    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    try:
        groups = {}
        for entry in raw["groups"]:
            rule = GroupRule(**entry)
            if not (rule.no_period or rule.clear_period_years or (rule.review_every_years and rule.retain_until_age)):
                raise RuleError(f"{path}: group {rule.group} states no period and is not marked no_period")
            groups[int(rule.group)] = rule
        resets = ResetRule(raw["resets"]["section"], raw["resets"]["quote"], tuple(raw["resets"]["events"]))
        return Rules(raw["document"], groups, resets)
    except (KeyError, TypeError) as exc:
        raise RuleError(f"{path}: malformed review rules ({type(exc).__name__}: {exc})") from None


@lru_cache(maxsize=1)
def default_rules() -> Rules:
    return load_rules()


# --------------------------------------------------------------------------- the computation (pure)


@dataclass(frozen=True)
class ReviewDate:
    group: int
    rule: GroupRule
    since: FoundDate  # when the person last came to police attention, as given
    clock_from: FoundDate  # since, or the latest reset event given after it
    review_due: date | None  # None for Group 4
    precision: str  # of review_due: "day", "month" or "year" (as precise as the start date)
    retain_until: date | None = None  # Group 1 with a date of birth
    retain_until_precision: str = ""
    needs: str = ""  # what the asker must add for a full answer ("date of birth or age")
    retain_from_age: bool = False  # retain_until comes from an age, so it is a year and approximate
    next_review: date | None = None  # Group 1: the first periodic review on or after today


def compute(rules: Rules, group: int, since: FoundDate, *, born: FoundDate | None = None, age: int | None = None,
            resets: tuple[FoundDate, ...] = (), today: date | None = None) -> ReviewDate:
    """The review date for a record of ``group`` whose subject last came to attention on ``since``.

    A reset event on or after ``since`` restarts the clock from the latest one. Group 1's
    retention runs to the age the rule states: from ``born``, or from ``age`` (today's age,
    so a year). Raises KeyError for a group the rules do not hold.
    """
    rule = rules.groups[group]
    today = today or date.today()
    # Only a clear period restarts; Group 1's reviews run on a fixed cycle from the start.
    restarts = [r for r in resets if r.value >= since.value] if rule.clear_period_years else []
    clock = max([since, *restarts], key=lambda d: d.value)
    if rule.no_period:
        return ReviewDate(group, rule, since, clock, None, "")
    if rule.clear_period_years:
        return ReviewDate(group, rule, since, clock, add_years(clock.value, rule.clear_period_years), clock.precision)
    # Group 1: reviewed every N years from the start, kept until the subject is deemed M years old.
    step = rule.review_every_years
    periods = 1
    while add_years(clock.value, step * periods) < today:
        periods += 1
    first = add_years(clock.value, step)
    retain, retain_precision, needs = None, "", ""
    if born is not None:
        retain, retain_precision = add_years(born.value, rule.retain_until_age), born.precision
    elif age is not None:
        retain, retain_precision = date(today.year - age + rule.retain_until_age, 1, 1), "year"
    else:
        needs = "date of birth or age"
    return ReviewDate(group, rule, since, clock, first, clock.precision, retain, retain_precision, needs,
                      retain_from_age=born is None and age is not None,
                      next_review=add_years(clock.value, step * periods))


def given_date(text: str) -> FoundDate:
    """A date given on the command line: YYYY-MM-DD, YYYY-MM or YYYY (a ValueError says what was expected)."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}", text):
            return FoundDate(date(int(text), 1, 1), "year", 0, len(text))
        if re.fullmatch(r"\d{4}-\d{1,2}", text):
            year, month = text.split("-")
            return FoundDate(date(int(year), int(month), 1), "month", 0, len(text))
        return FoundDate(date.fromisoformat(text), "day", 0, len(text))
    except ValueError:
        raise ValueError(f"not a date: {text!r} (expected YYYY-MM-DD, YYYY-MM or YYYY)") from None


def shown(value: date, precision: str) -> str:
    return FoundDate(value, precision or "day", 0, 0).shown()


# --------------------------------------------------------------------------- reading a question

# The question asks *when* something happens to a record...
_WHEN = re.compile(r"\b(when|what date|which year|what year|how long until|how long till|due|by when)\b", re.I)
# ...and that something is one of the schedule's own outcomes: review or disposal (sections 4.6, 5.x).
_OUTCOME = re.compile(r"\b(review\w*|dispos\w*|delet\w*|remov\w*|weed\w*|destroy\w*|come off|drop off|"
                      r"fall off|be kept until|retain\w* until|kept until)\b", re.I)
_BORN = re.compile(r"\b(born|dob|d\.o\.b\.?|date of birth|birthday)\W*(on|in|:)?\W*$", re.I)
# Words before a date that make it a reset event rather than the start of the clear period.
_RESET_CUE = re.compile(r"\b(again|new|another|further|fresh|reset|restart\w*|since then|then)\b[^.;,]*$", re.I)
# Without a group, the question must still be about a person's record: the schedule's own words for
# a nominal and for coming to police attention (sections 1.3 and 2.5), or "nothing since <date>".
_RECORD = re.compile(r"\b(records?|nominals?|offen[cs]es?|offending|offender|convict\w*|cautions?|cautioned|"
                     r"arrest\w*|charged|disposals?|fixed penalty|came to (?:police )?(?:attention|notice)|"
                     r"clear period|nothing (?:since|after)|no (?:further )?(?:trouble|offences?|contact) since)\b",
                     re.I)
_AGE = re.compile(r"\b(?:aged?|age of)\s+(\d{1,3})\b|\b(\d{1,3})\s*(?:years?|yrs?)[\s-]*old\b|\b(\d{1,3})\s*y/?o\b",
                  re.I)


@dataclass(frozen=True)
class ReviewQuestion:
    group: int | None  # None: the question gives no group, so every group's date is given
    since: FoundDate
    born: FoundDate | None = None
    age: int | None = None
    resets: tuple[FoundDate, ...] = ()


def read_question(text: str) -> ReviewQuestion | None:
    """The calculation a question asks for, or None when it is not one (no date, not "when", or no record).

    A question that names no group ("shoplifting, nothing since 2018") gets group None: which
    group a record is in is on the record, not in the question, so the answer gives each.
    """
    if not (_WHEN.search(text) and _OUTCOME.search(text)):
        return None
    groups = extract(text).get(GROUP)
    if len(groups) > 1 or (not groups and not _RECORD.search(text)):
        return None
    born, starts, resets = None, [], []
    for found in find_dates(text):
        before = text[max(0, found.start - 40):found.start]
        if _BORN.search(before):
            born = found
        elif starts and _RESET_CUE.search(before):
            resets.append(found)
        else:
            starts.append(found)
    if not starts:
        return None
    ages = [int(next(g for g in m.groups() if g)) for m in _AGE.finditer(text)]
    age = ages[0] if ages and 0 < ages[0] < 120 else None
    return ReviewQuestion(int(next(iter(groups))) if groups else None, starts[0], born, age,
                          tuple(resets + starts[1:]))


# --------------------------------------------------------------------------- the answer


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[*_`]", "", text.replace("–", "-").replace("—", "-"))).strip().lower()


class ReviewCalculator:
    """Answers review-date questions from the rules, cited to the indexed sections that state them."""

    def __init__(self, lexical, rules: Rules | None = None):
        self.lexical = lexical  # bot.core.lexical.LexicalIndex: where the cited sections are found
        self.rules = rules or default_rules()

    def cite(self, section: str, quote: str, n: int) -> Citation | None:
        """The chunk of the rules' document under ``section`` that holds ``quote``, or None."""
        wanted = _normal(quote)
        for chunk_id, text, meta in zip(self.lexical.ids, self.lexical.texts, self.lexical.metadatas):
            if (meta.get("doc_id") == self.rules.document and meta.get("section_number") == section
                    and wanted in _normal(text)):
                return Citation(n, meta["doc_id"], meta.get("title", ""), meta.get("section", ""), meta.get("page"),
                                meta.get("source_url", ""), meta.get("status", "current"), " ".join(quote.split()),
                                chunk_id)
        return None

    def answer(self, question: str, today: date | None = None) -> Answer | None:
        asked = read_question(question)
        if asked is None:
            return None
        if asked.group is None:
            return self.explain_each_group(question, [
                compute(self.rules, group, asked.since, born=asked.born, age=asked.age, resets=asked.resets,
                        today=today) for group in sorted(self.rules.groups)])
        if asked.group not in self.rules.groups:
            return None
        result = compute(self.rules, asked.group, asked.since, born=asked.born, age=asked.age, resets=asked.resets,
                         today=today)
        return self.explain(question, result)

    def to_dict(self, result: ReviewDate, answer: Answer) -> dict:
        """The `mopi review-date --json` contract: {group, since, review_due, rule, citations} and the rest."""
        rule = result.rule

        def iso(value: date | None, precision: str) -> str | None:
            return None if value is None else value.isoformat()[:{"year": 4, "month": 7}.get(precision, 10)]

        return {
            "group": result.group,
            "since": iso(result.since.value, result.since.precision),
            "clock_from": iso(result.clock_from.value, result.clock_from.precision),
            "review_due": None if answer.refused else iso(result.review_due, result.precision),
            "next_review": None if answer.refused else iso(result.next_review, result.precision),
            "retain_until": None if answer.refused else iso(result.retain_until, result.retain_until_precision),
            "needs": result.needs or None,
            "rule": {"name": rule.name, "section": rule.section, "quote": " ".join(rule.quote.split()),
                     "clear_period_years": rule.clear_period_years, "review_every_years": rule.review_every_years,
                     "retain_until_age": rule.retain_until_age, "no_period": rule.no_period},
            "answer": answer.answer,
            "refused": answer.refused,
            "citations": [c.to_dict() for c in answer.citations],
        }

    def explain(self, question: str, result: ReviewDate) -> Answer:
        rule = result.rule
        citation = self.cite(rule.section, rule.quote, 1)
        if citation is None:  # the guidance indexed no longer says what the rules file quotes
            return Answer(question, f"I can't compute a Group {result.group} review date: the rule in section "
                          f"{rule.section} of the guidance I hold no longer reads as the schedule I apply, so a "
                          "date from it could be wrong. Please check the live APP table.", True, MODE,
                          refusal_reason="rule_unverified")
        citations = [citation]
        lines = [self._main_line(result)]
        if result.needs:
            lines.append(f"Group 1 records are kept until the subject is deemed to have reached "
                         f"{rule.retain_until_age}: for that date I need a {result.needs} (no name, please).")
        if rule.clear_period_years:
            restarted = (f" The clock here runs from {result.clock_from.shown()}, the latest such event given."
                         if result.clock_from != result.since else "")
            self._add_reset_caveat(lines, citations, "the clear period restarts if, before then", restarted)
        return _cited_answer(question, lines, citations)

    def explain_each_group(self, question: str, results: list[ReviewDate]) -> Answer:
        """No group given: each group's date, each cited to its rule. Guessing the group from a word
        like "shoplifting" would be guessing the law; the record shows it, so the officer picks."""
        citations: list[Citation] = []
        lines = [f"The date depends on the record's group, which the record shows. From "
                 f"{results[0].clock_from.shown()}:"]
        for r in results:
            citation = self.cite(r.rule.section, r.rule.quote, len(citations) + 1)
            if citation is None:  # as in explain(): a rule the indexed text no longer states gives no date
                lines.append(f"- Group {r.group}: not computed; section {r.rule.section} of the guidance I hold no "
                             "longer reads as the schedule I apply.")
                continue
            citations.append(citation)
            lines.append("- " + self._main_line(r, citation.n))
        if len(citations) == 0:
            return self.explain(question, results[0])  # says why nothing can be computed
        self._add_reset_caveat(lines, citations, "a clear period restarts if, before it ends")
        if any(r.needs for r in results):
            lines.append("For the Group 1 retention date I need a date of birth or age (no name, please).")
        return _cited_answer(question, lines, citations)

    def _add_reset_caveat(self, lines: list[str], citations: list[Citation], lead: str, tail: str = "") -> None:
        """The events that restart a clear period, cited to the section listing them (when it still does)."""
        reset = self.cite(self.rules.resets.section, self.rules.resets.quote, len(citations) + 1)
        if reset is not None:
            citations.append(reset)
            events = self.rules.resets.events
            lines.append(f"Caveat: {lead}, there is {'; '.join(events[:-1])}; or {events[-1]} [{reset.n}].{tail}")

    def _main_line(self, r: ReviewDate, n: int = 1) -> str:
        """The computed date with its rule, cited ``[n]``."""
        rule = r.rule
        if rule.no_period:
            return (f"The guidance I hold gives no review period for Group 4 ({rule.name}): it says the Group 4 "
                    f"periods are deliberately not stated [{n}]. Check the live APP table.")
        due = _on(r.review_due, r.precision)
        if rule.clear_period_years:
            text = (f"Group {r.group} ({rule.name}): the review is due {due}, at the end of the "
                    f"{rule.clear_period_years}-year clear period from {r.clock_from.shown()} [{n}].")
            if r.clock_from != r.since:
                text += f" (The clock restarted then; the first date given was {r.since.shown()}.)"
            return text
        text = (f"Group {r.group} ({rule.name}): the first review is due {due}, {rule.review_every_years} years "
                f"after {r.clock_from.shown()}, and then every {rule.review_every_years} years [{n}].")
        if r.next_review is not None and r.next_review != r.review_due:
            text += f" The next one from today is due {_on(r.next_review, r.precision)}."
        if r.retain_until is not None:
            about = " (about: worked out from an age, not a date of birth)" if r.retain_from_age else ""
            text += (f" The record is kept until the subject is deemed to have reached {rule.retain_until_age}: "
                     f"{_on(r.retain_until, r.retain_until_precision)}{about} [{n}].")
        return text


def _cited_answer(question: str, lines: list[str], citations: list[Citation]) -> Answer:
    """A computed answer; its "retrieval", for the evals, is the sections it cites."""
    sources = tuple({"id": c.chunk_id, "doc_id": c.doc_id, "section": c.section,
                     "section_number": c.section.split(" ")[0]} for c in citations)
    return Answer(question, "\n".join(lines), False, MODE, tuple(citations), diagnostics=Diagnostics(retrieved=sources))


def _on(value: date, precision: str) -> str:
    return f"{'on' if precision == 'day' else 'in'} {shown(value, precision)}"

