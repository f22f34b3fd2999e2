"""The review-date calculator: its rules checked against the corpus, and every computed date in a matrix.

The expected dates below are worked by hand from the schedule the corpus states
(app-retention-review-disposal 5.2–5.5 and 2.5), not from the code.
"""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from bot.core.dates import FoundDate, add_years, find_dates
from bot.core.lexical import LexicalIndex
from bot.core.review_dates import RULES_PATH, ReviewCalculator, compute, default_rules, load_rules, read_question
from tests.conftest import CORPUS, run_mopi

TODAY = date(2026, 12, 2)


def _day(text: str) -> FoundDate:
    return FoundDate(date.fromisoformat(text), "day", 0, 0)


def _sections(markdown: str) -> dict[str, str]:
    """Section number -> its text, from the corpus file's own headings."""
    parts = re.split(r"^#{2,4} (\d+(?:\.\d+)*)\b.*$", markdown, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[*_`]", "", text).split()).lower()


# --------------------------------------------------------------------------- the rules file against the corpus


def test_every_rule_is_quoted_from_its_section_and_its_numbers_are_the_quotes():
    rules = default_rules()
    sections = _sections((CORPUS / f"{rules.document}.md").read_text(encoding="utf-8"))
    for rule in rules.groups.values():
        quote = _plain(rule.quote)
        assert quote in _plain(sections[rule.section]), f"group {rule.group}: quote not in section {rule.section}"
        assert f"| {rule.group} | {rule.name.lower()} |" in _plain(sections["5.1"]), f"group {rule.group}: not 5.1's name"
        numbers = {int(n) for n in re.findall(r"\d+", quote)}
        stated = {rule.clear_period_years, rule.review_every_years, rule.retain_until_age} - {None}
        assert stated == (numbers - {4} if rule.no_period else numbers), f"group {rule.group}: {stated} vs {numbers}"
    assert rules.groups[4].no_period and set(rules.groups) == {1, 2, 3, 4}
    assert _plain(rules.resets.quote) in _plain(sections[rules.resets.section])
    for event in rules.resets.events:
        assert _plain(event) in _plain(rules.resets.quote)


def test_a_changed_summary_is_not_applied(tmp_path, corpus_index):
    """A rule whose words are no longer in the indexed section gives no date (it would be a guess)."""
    lexical = LexicalIndex.load(corpus_index.bm25_dir)
    changed = tmp_path / "rules.yaml"
    changed.write_text(RULES_PATH.read_text().replace(
        "A 6-year clear period applies.", "A 7-year clear period applies."))
    calculator = ReviewCalculator(lexical, load_rules(changed))
    answer = calculator.explain("q", compute(calculator.rules, 3, _day("2018-05-01")))
    assert answer.refused and answer.refusal_reason == "rule_unverified" and not answer.citations


# --------------------------------------------------------------------------- the matrix

STARTS = ("2012-03-15", "2018-05-01", "2020-02-29")
TRIGGER = "2021-07-10"  # a new offence after every start date
# (group, start, trigger or None) -> the review date worked by hand
EXPECTED = {
    (2, "2012-03-15", None): "2022-03-15", (2, "2018-05-01", None): "2028-05-01",
    (2, "2020-02-29", None): "2030-02-28",  # no 29 February in 2030
    (2, "2012-03-15", TRIGGER): "2031-07-10", (2, "2018-05-01", TRIGGER): "2031-07-10",
    (2, "2020-02-29", TRIGGER): "2031-07-10",
    (3, "2012-03-15", None): "2018-03-15", (3, "2018-05-01", None): "2024-05-01",
    (3, "2020-02-29", None): "2026-02-28",
    (3, "2012-03-15", TRIGGER): "2027-07-10", (3, "2018-05-01", TRIGGER): "2027-07-10",
    (3, "2020-02-29", TRIGGER): "2027-07-10",
    # Group 1 reviews every 10 years from the start; a new offence does not move a fixed cycle.
    (1, "2012-03-15", None): "2022-03-15", (1, "2018-05-01", None): "2028-05-01",
    (1, "2020-02-29", None): "2030-02-28",
    (1, "2012-03-15", TRIGGER): "2022-03-15", (1, "2018-05-01", TRIGGER): "2028-05-01",
    (1, "2020-02-29", TRIGGER): "2030-02-28",
}
SECTIONS = {1: "5.2", 2: "5.3", 3: "5.4", 4: "5.5"}


@pytest.fixture(scope="module")
def calculator(corpus_index):
    return ReviewCalculator(LexicalIndex.load(corpus_index.bm25_dir))


@pytest.mark.parametrize("group", [1, 2, 3, 4])
@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("trigger", [None, TRIGGER])
def test_each_group_start_and_trigger(calculator, group, start, trigger):
    result = compute(calculator.rules, group, _day(start), resets=(_day(trigger),) if trigger else (), today=TODAY)
    answer = calculator.explain("q", result)
    assert not answer.refused
    assert answer.citations[0].section.startswith(SECTIONS[group])
    if group == 4:
        assert result.review_due is None and "no review period" in answer.answer
        return
    due = date.fromisoformat(EXPECTED[(group, start, trigger)])
    assert result.review_due == due
    assert f"{due.day} {due.strftime('%B')} {due.year}" in answer.answer
    if group in (2, 3):  # the reset caveat, cited to 2.5
        assert "restarts" in answer.answer and answer.citations[1].section.startswith("2.5")
        assert ("restarted" in answer.answer) == (trigger is not None)


def test_group_1_with_a_date_of_birth_an_age_or_neither(calculator):
    born = _day("1961-07-12")
    with_dob = compute(calculator.rules, 1, _day("2009-02-28"), born=born, today=TODAY)
    assert with_dob.retain_until == date(2061, 7, 12)  # deemed to have reached 100
    assert with_dob.review_due == date(2019, 2, 28) and with_dob.next_review == date(2029, 2, 28)
    text = calculator.explain("q", with_dob).answer
    assert "12 July 2061" in text and "28 February 2029" in text

    with_age = compute(calculator.rules, 1, _day("2009-02-28"), age=40, today=TODAY)
    assert with_age.retain_until == date(2086, 1, 1) and with_age.retain_until_precision == "year"
    assert "in 2086 (about" in calculator.explain("q", with_age).answer

    neither = calculator.explain("q", compute(calculator.rules, 1, _day("2009-02-28"), today=TODAY))
    assert "date of birth or age" in neither.answer and "no name" in neither.answer


def test_a_year_only_start_gives_a_year():
    rules = default_rules()
    result = compute(rules, 3, find_dates("nothing since 2018")[0])
    assert result.review_due == date(2024, 1, 1) and result.precision == "year"


# --------------------------------------------------------------------------- questions


@pytest.mark.parametrize("question, group, since, born, resets", [
    ("Group 3 nominal, last came to police attention 1 May 2018: when is the review due?", 3, "2018-05-01", None, ()),
    ("grp 2 record, last police action March 2012, arrested again 4/6/2015 - when's it reviewed?", 2, "2012-03-01",
     None, ("2015-06-04",)),
    ("Group 1 nominal, DOB 3 March 1970, last came to notice 2015 - when is it reviewed and when deleted?", 1,
     "2015-01-01", "1970-03-03", ()),
    ("when will a group four record from 2019 be reviewed?", 4, "2019-01-01", None, ()),
    # No group: the record shows it, so the calculation is for every group.
    ("shoplifting, nothing since 2018, when can it be reviewed?", None, "2018-01-01", None, ()),
    ("cautioned for criminal damage in March 2019 - when will it come off?", None, "2019-03-01", None, ()),
])
def test_questions_are_read_into_a_calculation(question, group, since, born, resets):
    asked = read_question(question)
    assert asked is not None and asked.group == group and asked.since.value.isoformat() == since
    assert (asked.born.value.isoformat() if asked.born else None) == born
    assert tuple(r.value.isoformat() for r in asked.resets) == resets


@pytest.mark.parametrize("question", [
    "how long do we keep a Group 3 record?",  # no date: the guidance answers it
    "what happened in 2018 to the Group 3 rules?",  # not when a review falls
    "when is a record reviewed?",  # no date
    "when is the strategy's next review due? It was last reviewed in October 2015.",  # no record: a document
    "when did HMIC review forces' information management in 2015?",
])
def test_other_questions_are_not_calculations(question):
    assert read_question(question) is None


def test_the_assistant_answers_with_the_calculator_and_the_guards_still_hold(corpus_index, embedder):
    from bot.core.index import build_assistant

    assistant = build_assistant(corpus_index, embedder)
    answer = assistant.ask("Group 3 nominal, last came to police attention 1 May 2018: when is the review due?")
    assert answer.mode == "review_date" and "1 May 2024" in answer.answer and answer.citations[0].section.startswith("5.4")
    # A date of birth with nothing identifying is an input...
    dob = assistant.ask("Group 1 nominal, DOB 3 March 1970, last came to notice 2015 - when is it reviewed?")
    assert dob.mode == "review_date" and "3 March 2070" in dob.answer
    # No group given: each group's date, each cited to the section stating its rule; no group guessed.
    each = assistant.ask("shoplifting, nothing since 2018, when can it be reviewed?")
    assert each.mode == "review_date" and not each.refused
    cited = {c.n: c.section.split(" ")[0] for c in each.citations}
    for group, section, due in ((1, "5.2", "in 2028"), (2, "5.3", "in 2028"), (3, "5.4", "in 2024")):
        line = next(x for x in each.answer.splitlines() if x.startswith(f"- Group {group} "))
        assert due in line and cited[int(re.search(r"\[(\d+)\]", line).group(1))] == section, line
    assert "no review period for Group 4" in each.answer and "Caveat: a clear period restarts" in each.answer
    # ...a name is still a record lookup.
    named = assistant.ask("John Smith, Group 3, last arrested 2018, when is his review due?")
    assert named.refused and named.refusal_reason == "personal_record"


def test_the_review_date_command(corpus_index):
    proc = run_mopi("review-date", "--group", "3", "--since", "2018-05-01", "--json", home=corpus_index.home)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"group", "since", "review_due", "rule", "citations"} <= set(data)
    assert data["review_due"] == "2024-05-01" and data["rule"]["section"] == "5.4"
    assert data["citations"][0]["doc_id"] == "app-retention-review-disposal"

    proc = run_mopi("review-date", "--group", "1", "--since", "2009-02-28", "--born", "1961-07-12", "--json",
                    home=corpus_index.home)
    assert json.loads(proc.stdout)["retain_until"] == "2061-07-12"

    bad = run_mopi("review-date", "--group", "3", "--since", "1 May", home=corpus_index.home)
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_add_years_keeps_the_day_or_falls_back_to_28_february():
    assert add_years(date(2020, 2, 29), 4) == date(2024, 2, 29)
    assert add_years(date(2020, 2, 29), 6) == date(2026, 2, 28)
