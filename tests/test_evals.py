"""The evaluation suite: hand-checked metrics, the report, the gate, the judge, and the gate on real answers."""

from __future__ import annotations

import math

import pytest

from bot.core.models import Answer, Citation
from evals import metrics
from evals.dataset import load_dataset
from evals.gate import check, load_thresholds
from evals.judge import judge_faithfulness
from evals.report import compare, render_html
from evals.runner import EvalConfig, run_config


def test_ndcg_by_hand():
    # Relevant at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5); ideal = 1/log2(2) + 1/log2(3).
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert metrics.ndcg_at([0, 1, 0, 1, 0], 10) == pytest.approx(expected)
    assert metrics.ndcg_at([1, 1, 0], 10) == 1.0 and metrics.ndcg_at([0, 0], 10) == 0.0
    assert metrics.ndcg_at([0, 0, 1], 2) == 0.0  # outside the cut-off


def test_recall_mrr_and_relevance_by_hand():
    ranked = [{"doc_id": "a", "section_number": "5.4", "section": "5.4 Group 3"},
              {"doc_id": "b", "section_number": "2", "section": "2. Terms"},
              {"doc_id": "a", "section_number": "5.4.1", "section": "5.4.1 Detail"}]
    assert metrics.relevance(ranked, ["a"], []) == [1, 0, 1]
    assert metrics.relevance(ranked, ["b", "a"], ["2"]) == [0, 1, 0]  # sections are of the first expected doc
    assert metrics.relevance(ranked, ["a"], ["5.4"]) == [1, 0, 1]  # a subsection counts
    rels = metrics.relevance(ranked, ["b"], [])
    assert (metrics.recall_at(rels, 1), metrics.recall_at(rels, 3), metrics.reciprocal_rank(rels)) == (0.0, 1.0, 0.5)


def test_facts_citations_refusals_by_hand():
    assert metrics.facts_ok("A 6-year clear period applies.", [["6-year", "six year"], ["clear period"]], [])
    assert not metrics.facts_ok("A 6-year period.", [["6-year"], ["clear period"]], [])
    assert not metrics.facts_ok("Kept forever. 6-year", [["6-year"]], ["forever"])
    assert metrics.citation_precision(["a", "b", "a", "c"], ["a"]) == 0.5
    assert metrics.citation_precision([], ["a"]) is None
    # predicted refusals vs should-refuse: TP=2, FP=1, FN=1
    assert metrics.precision_recall([True, True, True, False], [True, True, False, True]) == (2 / 3, 2 / 3)
    assert metrics.percentile([5, 1, 4, 2, 3], 50) == 3 and metrics.percentile([5, 1, 4, 2, 3], 95) == 5


def test_the_gate_fails_below_a_floor():
    floors = {"fact_accuracy": 0.8, "refusal_recall": 0.9}
    assert check({"fact_accuracy": 0.85, "refusal_recall": 0.95}, floors) == []
    assert check({"fact_accuracy": 0.79, "refusal_recall": 0.95}, floors) == ["fact_accuracy 0.790 is below the floor 0.800"]
    assert check({"fact_accuracy": 0.9}, floors) == ["refusal_recall missing is below the floor 0.900"]


def run_with(summary: dict, items: list[dict] | None = None) -> dict:
    return {"created": "2026-11-24T00:00:00+00:00", "dataset": "golden.yaml", "gate": {"passed": True},
            "configs": [{"name": "hybrid+extractive", "judge": "skipped", "summary": {"questions": 2, **summary},
                         "by_category": {"retention": {"fact_accuracy": 0.5, "recall@5": 1.0}},
                         "items": items or []}]}


def test_comparison_flags_regressions_and_the_report_renders():
    before = run_with({"fact_accuracy": 0.80, "recall@5": 0.90, "latency_p50_ms": 20.0})
    after = run_with({"fact_accuracy": 0.70, "recall@5": 0.95, "latency_p50_ms": 21.0}, items=[
        {"id": "ret-1", "category": "retention", "question": "how long <grp 3>?", "should_refuse": False,
         "expected_docs": ["app-rrd"], "expected_sections": ["5.4"], "refused": False, "answer": "Wrong & short.",
         "cited": [{"doc_id": "glossary"}], "latency_ms": 12.0, "passed": False}])
    rows = {r["metric"]: r for r in compare(after, before)}
    assert rows["fact_accuracy"]["regressed"] and not rows["recall@5"]["regressed"]
    assert not rows["latency_p50_ms"]["regressed"]
    page = render_html(after, list(rows.values()), {"fact_accuracy": 0.85})
    assert page.startswith("<!doctype html>") and "<script" not in page and "http" not in page.split("<body>")[0]
    assert "how long &lt;grp 3&gt;?" in page and "Wrong &amp; short." in page and "<svg" in page
    assert 'class="bad"><td>fact_accuracy' in page


class FakeJudgeModel:
    def __init__(self, reply: str):
        self.reply = reply
        self.prompts = []

    def invoke(self, messages):
        self.prompts.append(messages[0][1])
        return type("Reply", (), {"content": self.reply})()


def test_llm_judge_scores_supported_sentences():
    answer = Answer("q", "A 6-year clear period applies. [1] Records are kept forever. [1]", False, "extractive",
                    (Citation(1, "d", "t", "s", None, "", "current", "A 6-year clear period applies."),))
    model = FakeJudgeModel("1: SUPPORTED\n2: UNSUPPORTED")
    assert judge_faithfulness(answer, model) == 0.5
    assert "[1] A 6-year clear period applies." in model.prompts[0] and "2. Records are kept forever. [1]" in model.prompts[0]
    assert judge_faithfulness(Answer("q", "no", True, "extractive"), model) is None


def test_production_config_clears_the_floors(corpus_index, embedder):
    """The gate `make test` enforces: the golden set through the core path, against evals/thresholds.yaml."""
    items = load_dataset("evals/datasets/golden.yaml")
    run = run_config(EvalConfig("hybrid"), items, corpus_index, embedder)
    failures = check(run["summary"], load_thresholds()["floors"])
    assert failures == [], failures
    assert run["judge"].startswith("skipped")
