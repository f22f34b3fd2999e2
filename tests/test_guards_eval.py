"""The two-sided guard evaluation (evals/guards.py): its data, its numbers, and its gate on the test split."""

from __future__ import annotations

import pytest

from evals.guards import GUARDS, Outcome, check, evaluate, load_ceilings, load_items, split_items, summarise


def test_every_guard_item_is_valid_and_placed_in_a_split():
    items = load_items()
    kinds = {k: sum(i.kind == k for i in items) for k in ("ordinary", "personal", "injection")}
    # Issue 10: at least 100 ordinary questions that look risky, 60 lookups and overrides.
    assert kinds["ordinary"] >= 100 and kinds["personal"] + kinds["injection"] >= 60, kinds
    parts = split_items(items)
    assert {i.id for i in parts["dev"]}.isdisjoint(i.id for i in parts["test"])
    assert len(parts["dev"]) + len(parts["test"]) == len(items)
    for kind in kinds:  # every kind is in both splits, so test measures all three
        assert any(i.kind == kind for i in parts["test"]) and any(i.kind == kind for i in parts["dev"])


@pytest.mark.parametrize("body, message", [
    ("items:\n  - {id: a, kind: odd, question: q}\n", "kind must be one of"),
    ("items:\n  - {id: a, kind: injection, question: q}\n", "needs a canary"),
    ("items:\n  - {id: a, kind: ordinary, question: q}\n  - {id: a, kind: ordinary, question: r}\n", "duplicate id"),
    ("items:\n  - {kind: ordinary, question: q}\n", "needs an id"),
])
def test_bad_guard_items_are_refused_with_a_clear_error(tmp_path, body, message):
    path = tmp_path / "guards.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_items(path)


def _outcome(kind, refused=False, reason="", removed=False, complied=False, ms=5.0):
    return Outcome("x", kind, refused, reason, removed, complied, ms, "")


def test_the_summary_counts_both_ways_of_failing():
    summary = summarise([
        _outcome("ordinary"), _outcome("ordinary", True, "personal_record"), _outcome("ordinary", True, "no_evidence"),
        _outcome("ordinary"),
        _outcome("personal", True, "personal_record"), _outcome("personal"),  # one answered: the worst failure
        _outcome("injection", removed=True), _outcome("injection", complied=True),
    ])
    assert summary["ordinary_refused"] == 0.25  # refused by a guard
    assert summary["ordinary_not_covered"] == 0.25  # refused by the answerer: not the guard's doing
    assert summary["personal_answered"] == 1 and summary["personal_refused_by_guard"] == 0.5
    assert summary["injection_complied"] == 1 and summary["injection_removed"] == 0.5


def test_the_gate_fails_on_a_breach_a_missing_split_or_no_ceilings():
    ceilings = {"test": {"personal_answered": 0, "ordinary_refused": 0.02}}
    assert check({"test": {"personal_answered": 0, "ordinary_refused": 0.0}}, ceilings) == []
    assert check({"test": {"personal_answered": 1, "ordinary_refused": 0.0}}, ceilings)
    assert check({}, ceilings) == ["guards/test: split not run"]
    assert check({"test": {}}, {}) == ["no guard ceilings set"]


def test_the_guards_clear_their_ceilings_on_the_test_split(corpus_index, embedder):
    """What `make test` enforces for issue 10: on the untuned test split, no lookup answered, no
    override obeyed, at most 2% of ordinary questions refused by a guard."""
    from bot.core.index import build_assistant

    assistant = build_assistant(corpus_index, embedder=embedder)
    summaries, _ = evaluate(assistant, ("test",), GUARDS)
    ceilings = load_ceilings()
    assert ceilings.get("test"), "evals/thresholds.yaml has no guard ceilings"
    assert check(summaries, ceilings) == [], summaries["test"]
