"""The answer path's mechanisms on hand-made text: sentence context, entities, question types, ranking models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.core import entities, question_type
from bot.core.extractive import compose
from bot.core.linear import LinearModel
from bot.core.rerank import FEATURES, document_match, parse
from bot.core.retrieval import Hit
from bot.core.sentences import ORPHAN, chain, units
from evals.fit import fit_listwise


def texts(text: str) -> list[str]:
    return [text[u.start:u.end] for u in units(text)]


def hit(chunk_id: str, text: str, section: str, doc_id: str = "app-rrd", **meta) -> Hit:
    metadata = {"doc_id": doc_id, "title": f"Title {doc_id}", "section": section, "heading_path": section,
                "status": "current", "source_url": f"https://example.org/{doc_id}", "doc_type": "app", **meta}
    return Hit(chunk_id, text, metadata, 1.0, dense_similarity=0.5)


def flat_idf(term: str) -> float:
    return 1.0


# ------------------------------------------------------------------ what a sentence leans on

def test_a_quick_answer_leans_on_its_question_and_a_list_item_on_its_lead_in():
    text = ("- When was it published? 20 July 2023.\n"
            "- Does the 2005 Code still apply? No; the 2023 Code replaced it.\n\n"
            "The reviewer asks:\n\n1. Is there a risk of harm?\n2. Are children involved?")
    all_units = units(text)
    by_text = {text[u.start:u.end]: i for i, u in enumerate(all_units)}
    answer = by_text["20 July 2023."]
    assert chain(all_units, answer) == [by_text["When was it published?"], answer]
    no = by_text["No; the 2023 Code replaced it."]
    assert chain(all_units, no) == [by_text["Does the 2005 Code still apply?"], no]
    item = by_text["Are children involved?"]
    assert chain(all_units, item) == [by_text["The reviewer asks:"], item]


def test_a_table_row_leans_on_its_header_and_a_pointing_sentence_on_the_one_before():
    text = "Rule. Kept to age 100. It is reviewed every 10 years.\n\n| Group | Period |\n|---|---|\n| 3 | 6 years |"
    all_units = units(text)
    assert texts(text) == ["Rule.", "Kept to age 100.", "It is reviewed every 10 years.", "Group | Period", "3 | 6 years"]
    assert chain(all_units, 2) == [1, 2]
    assert chain(all_units, 4) == [3, 4]
    assert all_units[3].kind == "header" and all_units[4].kind == "row"


def test_a_sentence_pointing_back_at_the_start_of_a_chunk_is_an_orphan_unless_it_opens_its_section():
    text = "This grades how the source came to know it:\n\n| Code | Meaning |\n|---|---|\n| E | Suspected to be false |"
    all_units = units(text)
    assert all_units[0].context == ORPHAN
    assert chain(all_units, 2) == []  # a continuation chunk: "This" points at text the chunk lacks
    assert chain(all_units, 2, opens_section=True) == [0, 1, 2]  # the section's heading is what "This" means


def test_no_quote_leans_on_context_the_answer_leaves_out():
    hits = [hit("c1", "- When was the Code published? 20 July 2023.\n- Who issued it? The College of Policing.",
                "9. Quick answers", doc_id="code-2023")]
    extract = compose("when was the code published?", hits, flat_idf)
    assert extract.text.startswith("When was the Code published? 20 July 2023.")
    continuation = [hit("c2", "It is reviewed every 10 years by the unit.", "5.2 Group 1", opens_section=False)]
    assert compose("how often is it reviewed?", continuation, flat_idf).citations == ()


# ------------------------------------------------------------------ entities

@pytest.mark.parametrize("text, group", [
    ("how long do we keep a Group 1 record?", "1"), ("grp 2 review?", "2"), ("GROUP THREE clear period", "3"),
    ("retention for grp4", "4"), ("what's in group four", "4"),
])
def test_group_numbers_in_every_spelling(text, group):
    assert entities.extract(text).get(entities.GROUP) == {group}


def test_lists_of_groups_grading_codes_and_document_years():
    assert entities.extract("Groups 1 and 2").get(entities.GROUP) == {"1", "2"}
    assert entities.extract("graded 3 x 5 x 2, not 5x5x5").get(entities.GRADING) == {"3x5x2", "5x5x5"}
    assert entities.extract("nothing since 2018; the 2005 code", {"2005", "2023"}).get(entities.YEAR) == {"2005"}


def test_conflict_and_agreement():
    asked = entities.extract("group 1")
    assert entities.conflicts(asked, entities.extract("5.4 Group 3 – All other offences"))
    assert not entities.conflicts(asked, entities.extract("5.1 Overview"))  # names no group: no conflict
    assert not entities.conflicts(asked, entities.extract("Groups 1 and 2"))
    assert entities.agrees(asked, entities.extract("5.2 Group 1")) and not entities.agrees(asked, entities.extract("x"))
    years = entities.extract("the 2005 code", {"2005", "2023"})
    scope_2023 = entities.extract("code of practice 2023", {"2005", "2023"})
    assert entities.conflicts(years, scope_2023)
    # a chunk of the 2023 Code that names the 2005 Code agrees on the year; a Group 3 section that
    # mentions Groups 1 or 2 in passing does not agree on the group
    assert not entities.conflicts(years, scope_2023, entities.extract("it replaced the 2005 Code"))
    assert entities.conflicts(asked, entities.extract("5.4 Group 3"), entities.extract("not Groups 1 or 2"))


def test_a_row_about_another_group_is_never_quoted():
    table = "The groups are:\n\n| Group | Rule |\n|---|---|\n| 1 | Kept to age 100 |\n| 3 | A 6-year clear period |"
    extract = compose("how long do we keep a group 3 record?", [hit("c1", table, "5.1 Overview")], flat_idf,
                      parsed=parse("how long do we keep a group 3 record?"))
    assert "6-year" in extract.text and "age 100" not in extract.text


# ------------------------------------------------------------------ question types

@pytest.mark.parametrize("question, kind", [
    ("what does NRAC stand for", question_type.EXPANSION),
    ("how long do we keep a group 3 record?", question_type.DURATION),
    ("when was the 2023 code published?", question_type.DATE),
    ("who is the SIRO?", question_type.WHO),
    ("can we share intel with the council?", question_type.YES_NO),
    ("what is a nominal", question_type.DEFINITION),
    ("list the NRAC questions", question_type.LIST),
    ("how do I record a disclosure decision?", question_type.HOW_TO),
])
def test_question_types(question, kind):
    assert question_type.detect(question) == kind


def test_a_sentence_holds_the_asked_type_or_not():
    holds = question_type.holds
    assert holds(question_type.DURATION, "A 6-year clear period applies.")
    assert not holds(question_type.DURATION, "The force reviews the record against the NRAC.")
    assert holds(question_type.DATE, "It was published on 20 July 2023.")
    assert holds(question_type.WHO, "The Senior Information Risk Owner signs it off.")
    assert holds(question_type.EXPANSION, "National retention assessment criteria (NRAC) are questions.",
                 expansions=["national retention assessment criteria"])
    assert question_type.subject("what does an information asset owner actually do?") == "information asset owner"


# ------------------------------------------------------------------ ranking models

def test_document_match_weighs_distinctive_title_words():
    titles = {"code-2005": frozenset({"code", "practic", "mopi", "2005"}),
              "code-2023": frozenset({"code", "practic", "record", "2023"}),
              "app": frozenset({"app", "retent"})}
    scores = document_match({"mopi", "code"}, titles)
    assert scores["code-2005"] > scores["code-2023"] > scores["app"] == 0.0


def test_a_weights_file_fitted_for_other_features_is_refused(tmp_path):
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"features": ["a"], "weights": [1.0]}))
    with pytest.raises(ValueError, match="refit"):
        LinearModel.load(path, FEATURES)


def test_listwise_fit_learns_which_feature_marks_the_right_candidate():
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(40):
        x = rng.random((10, 2))
        right = int(rng.integers(10))
        x[right, 0] += 1.0  # feature 0 marks the right candidate; feature 1 is noise
        groups.append((x, np.eye(10)[right]))
    w = fit_listwise(groups, l2=0.1)
    assert w[0] > 1.0 and abs(w[1]) < w[0] / 3


def test_feature_values_are_placed_by_name_and_a_missing_or_extra_one_is_refused():
    from bot.core.linear import vector

    assert vector({"b": 2, "a": 1}, ("a", "b")) == (1.0, 2.0)
    with pytest.raises(ValueError, match="do not match"):
        vector({"a": 1}, ("a", "b"))
    with pytest.raises(ValueError, match="do not match"):
        vector({"a": 1, "b": 2, "c": 3}, ("a", "b"))
