"""Answers over the real corpus agree with the question on the entity that decides them, and fit its type.

The matrix: every MoPI group in several spellings, each Code year, 3x5x2 against 5x5x5. A wrong-entity
answer is one whose main citation's scope (document and section) or any quoted unit names another
group, grading code or document year than asked, without the asked one.
"""

from __future__ import annotations

import re

import pytest

from bot.core import entities, question_type
from bot.core.extractive import SUPPORTING_QUOTES
from bot.core.index import build_assistant
from bot.core.sentences import chain, units


@pytest.fixture(scope="module")
def assistant(corpus_index, embedder):
    return build_assistant(corpus_index, embedder)


GROUP_PHRASINGS = (
    "how long do we keep a Group {n} record?",
    "grp {n} retention period",
    "what's the review period for group {word}",
    "GROUP {n} CLEAR PERIOD?",
    "i've got a nominal that sits in group {n}, when does it get reviewed under mopi?",
    "retention rules for grp{n} nominals",
)
WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}
CODE_QUESTIONS = (
    "when was the 2005 code published?", "who made the 2005 MoPI code", "is the 2005 code of practice still in force?",
    "what replaced the 2005 code?", "when was the 2023 code published?", "what does the 2023 code of practice cover?",
    "who issued the 2023 code",
)
GRADING_QUESTIONS = (
    "what's the handling code in 3x5x2", "how many source evaluation grades does 3x5x2 have", "is 5x5x5 still used?",
    "what did source evaluation B mean in 5x5x5", "3 x 5 x 2 intelligence assessment grades",
)


def wrong_entity(question: str, answer, document_years) -> list[str]:
    asked = entities.extract(question, document_years)
    assert asked, f"the matrix question {question!r} names no entity"
    main = answer.citations[0]
    problems = []
    scope = entities.extract(f"{main.doc_id.replace('-', ' ')} {main.title} {main.section}", document_years)
    if entities.conflicts(asked, scope, entities.extract(main.quote, document_years)):
        problems.append(f"main evidence {main.doc_id} {main.section!r} is about another {asked.values}")
    body = answer.answer.split("Note:")[0]  # a superseded note cites the other document on purpose
    for citation in (c for c in answer.citations if f"[{c.n}]" in body):
        quoted = citation.quote
        for i, u in enumerate(units(quoted)):
            # a unit is read with what it leans on inside the quote (its question, lead-in, antecedent)
            leans = chain(units(quoted), i) or [i]
            named = entities.extract(" ".join(quoted[units(quoted)[j].start:units(quoted)[j].end] for j in leans),
                                     document_years)
            if entities.conflicts(asked, named) and u.kind != "header":
                problems.append(f"quotes {quoted[u.start:u.end]!r}")
    return problems


def matrix():
    for n, word in WORDS.items():
        for phrasing in GROUP_PHRASINGS:
            yield phrasing.format(n=n, word=word)
    yield from CODE_QUESTIONS
    yield from GRADING_QUESTIONS


def test_no_wrong_entity_answers(assistant):
    years = assistant.retriever.document_years
    wrong, refused = {}, []
    for question in matrix():
        answer = assistant.ask(question)
        if answer.refused:
            refused.append(question)
            continue
        problems = wrong_entity(question, answer, years)
        if problems:
            wrong[question] = problems
    assert wrong == {}, wrong
    assert len(refused) <= 2, f"ordinary questions refused: {refused}"


@pytest.mark.parametrize("n, period", [(1, "100 years"), (2, "10-year"), (3, "6-year")])
def test_each_group_gets_its_own_period(assistant, n, period):
    for phrasing in GROUP_PHRASINGS[:2]:
        answer = assistant.ask(phrasing.format(n=n, word=WORDS[n]))
        assert period in answer.answer, (phrasing, answer.answer)
        others = {"100 years", "10-year", "6-year"} - {period}
        assert not any(o in answer.answer.split("Note:")[0] for o in others if o not in period), answer.answer


@pytest.mark.parametrize("acronym", ["NRAC", "SIRO", "IAO", "ISA"])
def test_what_an_acronym_stands_for_is_answered_with_its_expansion(assistant, acronym):
    expansion = assistant.retriever.lexical.acronyms[acronym.lower()]
    answer = assistant.ask(f"what does {acronym} stand for?")
    assert not answer.refused and expansion in answer.answer.lower(), (expansion, answer.answer)


@pytest.mark.parametrize("question", [
    "how long do we keep a group 2 record?", "how long is the clear period for group 3", "how long is a group 1 nominal kept?",
])
def test_a_how_long_question_is_answered_with_a_period(assistant, question):
    answer = assistant.ask(question)
    assert question_type.holds(question_type.DURATION, answer.answer), answer.answer


def test_answer_shape_direct_answer_then_at_most_two_supporting_quotes(assistant):
    for question in ("what are the NRAC questions?", "what is a nominal", "who is the SIRO?",
                     "can i share intel with the council?"):
        answer = assistant.ask(question)
        quoted = [c for c in answer.citations if f"[{c.n}]" in answer.answer.split("Note:")[0]]
        assert 1 <= len(quoted) <= 1 + SUPPORTING_QUOTES, answer.answer
        first = re.split(r" \[\d+\]", answer.answer)[0]
        assert len(first) <= 900, first  # a list is the longest direct answer (LIST_CHARS_ASKED plus its lead-in)
