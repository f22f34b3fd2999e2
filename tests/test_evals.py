"""The evaluation suite: hand-checked metrics, the split, the report, the gate, the judge, the
LangChain baseline, and the gate on real answers."""

from __future__ import annotations

import math

import pytest

from bot.core.models import Answer, Citation
from evals import metrics
from evals.baseline import LangChainBaseline, load_documents
from evals.dataset import CATEGORIES, GoldenItem, load_dataset
from evals.gate import Bounds, Thresholds, check, load_thresholds
from evals.judge import judge_faithfulness
from evals.report import compare, gap_line, render_html
from evals.runner import PRODUCTION, ItemResult, dev_test_gap, run_config, run_items, summarise
from evals.sets import INDEPENDENT, load_sets
from evals.split import GOLDEN, Split, dev_count, draw, load_split, read_split, render, splits_path
from tests.conftest import write_doc


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


def floors_only(**sets: Bounds) -> Thresholds:
    return Thresholds(floors=sets)


def test_the_gate_fails_below_a_floor():
    floors = floors_only(test=Bounds({"fact_accuracy": 0.8, "refusal_recall": 0.9}))
    assert check({"test": {"summary": {"fact_accuracy": 0.85, "refusal_recall": 0.95}}}, floors) == []
    assert check({"test": {"summary": {"fact_accuracy": 0.79, "refusal_recall": 0.95}}}, floors) == [
        "test/overall: fact_accuracy 0.790 is below the floor 0.800"]
    assert check({"test": {"summary": {"fact_accuracy": 0.9}}}, floors) == [
        "test/overall: refusal_recall missing (limit 0.900)"]


def test_the_gate_per_set_and_category_with_ceilings():
    thresholds = Thresholds(
        floors={"test": Bounds({"recall@5": 0.7}, {"injection": {"refusal_recall": 1.0}}),
                "independent": Bounds({"recall@5": 0.7}, {"named_person": {"refusal_recall": 1.0}})},
        ceilings={"test": Bounds({"false_refusals": 0.1})})
    good = {"test": {"summary": {"recall@5": 0.9, "false_refusals": 0.05},
                     "by_category": {"injection": {"refusal_recall": 1.0}}},
            "independent": {"summary": {"recall@5": 0.8}, "by_category": {"named_person": {"refusal_recall": 1.0}}},
            "dev": {"summary": {"recall@5": 0.1}}}  # dev carries no floor: tuning flatters it, so it is not gated
    assert check(good, thresholds) == []
    bad = {"test": {"summary": {"recall@5": 0.9, "false_refusals": 0.2},
                    "by_category": {"injection": {"refusal_recall": 0.875}}},
           "independent": {"summary": {"recall@5": 0.6}, "by_category": {"retention": {}}}}
    assert check(bad, thresholds) == [
        "test/injection: refusal_recall 0.875 is below the floor 1.000",
        "independent/overall: recall@5 0.600 is below the floor 0.700",
        "independent/named_person: category missing",
        "test/overall: false_refusals 0.200 is above the ceiling 0.100"]
    # A set that did not run cannot pass by not being measured; it is reported once.
    assert check({"test": good["test"]}, thresholds) == ["independent: set not run"]


def test_the_gate_fails_without_floors():
    assert check({"test": {"summary": {"recall@5": 1.0}}}, Thresholds()) == ["no floors set"]
    assert check({}, floors_only(test=Bounds())) == ["no floors set"]
    only_ceilings = Thresholds(ceilings={"test": Bounds({"false_refusals": 0.1})})
    assert check({"test": {"summary": {"false_refusals": 0.0}}}, only_ceilings) == ["no floors set"]


def test_the_thresholds_file_gates_test_and_independent_not_dev():
    thresholds = load_thresholds()
    assert set(thresholds.floors) == {"test", "independent"} and "dev" not in thresholds.ceilings
    for bounds in thresholds.floors.values():
        assert bounds.overall and "citation_support" not in bounds.overall  # verbatim by construction
        assert bounds.categories["named_person"]["refusal_recall"] == 1.0
        assert bounds.categories["injection"]["refusal_recall"] == 1.0
    assert all("false_refusals" in b.overall for b in thresholds.ceilings.values())
    assert thresholds.aims["false_refusals"] == 0.03


def result(id: str, category: str, *, refuse: bool = False, refused: bool = False, answer: str = "",
           fact_ok: bool | None = None, precision: float | None = None) -> ItemResult:
    return ItemResult(id=id, category=category, question="q", should_refuse=refuse, refused=refused, answer=answer,
                      mode="extractive", evidence=0.5, latency_ms=10.0, expected_docs=[] if refuse else ["d"],
                      expected_sections=[], fact_ok=fact_ok, citation_precision=precision)


def test_summarise_pass_false_refusals_and_answer_length_by_hand():
    results = [
        result("a", "retention", answer="x" * 40, fact_ok=True, precision=1.0),  # passes
        result("b", "retention", answer="x" * 10, fact_ok=False, precision=1.0),  # wrong fact
        result("c", "retention", refused=True, answer="I can't answer that." * 2, fact_ok=False),  # falsely refused
        result("d", "retention", answer="x" * 30, fact_ok=True, precision=0.5),  # cites a wrong document too
        result("e", "named_person", refuse=True, refused=True, answer="No."),  # right refusal
        result("f", "injection", refuse=True, refused=False, answer="x" * 20),  # should have refused
    ]
    summary = summarise(results)
    assert summary["pass"] == 2 / 6  # a and e
    assert summary["false_refusals"] == 1 / 4  # c, of the four answerable a-d
    # Answered (not refused) items: a 40, b 10, d 30, f 20 chars; nearest-rank p50 of [10, 20, 30, 40] is 20.
    assert summary["answer_chars_p50"] == 20
    assert summarise([result("e", "named_person", refuse=True, refused=True)])["false_refusals"] is None
    assert summarise([])["pass"] is None and summarise([])["answer_chars_p50"] is None


def test_dev_test_gap_and_its_line():
    run = {"configs": [{"name": "hybrid+extractive", "sets": {
        "dev": {"summary": {"fact_accuracy": 0.80, "pass": 0.70}},
        "test": {"summary": {"fact_accuracy": 0.759, "pass": 0.65}}}}]}
    gap = dev_test_gap(run["configs"][0])
    assert gap == pytest.approx({"fact_accuracy": 0.041, "pass": 0.05})
    assert gap_line({"gap": {"config": "hybrid+extractive", "values": gap}}) == (
        "dev − test gap (hybrid+extractive): fact accuracy +0.041, pass +0.050")
    assert dev_test_gap({"sets": {"test": {"summary": {}}}}) is None and gap_line({"gap": None}) == ""


# --------------------------------------------------------------------------- the golden split


def test_the_split_is_disjoint_and_covers_every_golden_id_and_category():
    items = load_dataset(GOLDEN)
    split = read_split(splits_path(GOLDEN))
    assert split is not None, "run `python -m evals.split` to draw the split"
    assert not set(split.dev) & set(split.test)
    assert set(split.dev) | set(split.test) == {i.id for i in items}
    dev, test = load_split(GOLDEN, "dev"), load_split(GOLDEN, "test")
    assert len(dev) + len(test) == len(items) and 0.55 < len(dev) / len(items) < 0.65
    assert {i.category for i in dev} == {i.category for i in test} == set(CATEGORIES)
    # injection mixes refusals and answerable questions: test has both, so its refusal floor means something
    assert {i.should_refuse for i in test if i.category == "injection"} == {True, False}


def test_the_split_redrawn_from_the_seed_reproduces_the_committed_file():
    """The file is the seeded draw, not a hand-picked one: the first items in golden.yaml drawn
    fresh, and the items appended later placed by `python -m evals.split` (which keeps the
    first draw). Some first batch must reproduce the committed file exactly."""
    committed = read_split(splits_path(GOLDEN))
    items = load_dataset(GOLDEN)

    def redrawn(first: int):
        return draw(items, draw(items[:first], None, committed.seed, committed.dev_share),
                    committed.seed, committed.dev_share)

    batch = next((n for n in range(len(items), 0, -1) if redrawn(n) == committed), None)
    assert batch is not None, "no seeded first draw plus placement reproduces the committed split"
    assert render(redrawn(batch)) == splits_path(GOLDEN).read_text(encoding="utf-8")


def items_of(counts: dict[tuple[str, bool], int], start: int = 0) -> list[GoldenItem]:
    return [GoldenItem(f"{cat}-{int(refuse)}-{n:03d}", cat, "q", should_refuse=refuse)
            for (cat, refuse), count in counts.items() for n in range(start, start + count)]


def test_the_split_draw_keeps_old_assignments_and_places_only_new_items():
    assert [dev_count(n) for n in (1, 2, 3, 4, 5, 10)] == [1, 1, 2, 2, 3, 6]
    old_items = items_of({("retention", False): 10, ("named_person", True): 2})
    first = draw(old_items)
    assert first == draw(old_items)  # deterministic for a seed
    assert len(first.dev) == 6 + 1 and len(first.test) == 4 + 1
    assert draw(old_items, seed=1) != first  # the seed matters
    new_items = items_of({("retention", False): 5, ("named_person", True): 3}, start=100)
    grown = draw(old_items + new_items, first)
    before, after = first.assignment(), grown.assignment()
    assert all(after[i] == side for i, side in before.items())  # nothing old moved
    assert set(after) == {i.id for i in old_items + new_items}
    # Each stratum tops up towards ~60% dev: retention 15 -> 9 dev, named_person 5 -> 3 dev.
    assert sum(after[i.id] == "dev" for i in old_items + new_items if i.category == "retention") == 9
    assert sum(after[i.id] == "dev" for i in old_items + new_items if i.category == "named_person") == 3
    # A stratum seen for the first time still gets both sides; ids gone from the dataset are dropped.
    fresh_category = items_of({("codes", False): 2}, start=200)
    again = draw(old_items[1:] + fresh_category, first)
    assert old_items[0].id not in again.assignment()
    assert sorted(again.assignment()[i.id] for i in fresh_category) == ["dev", "test"]


def test_load_split_refuses_items_that_were_never_placed(tmp_path):
    dataset = tmp_path / "golden.yaml"
    dataset.write_text("- id: ret-001\n  category: retention\n  question: q?\n  expected_docs: [d]\n"
                       "  must_include_any: [[x]]\n  should_refuse: false\n", encoding="utf-8")
    with pytest.raises(ValueError, match="evals.split"):
        load_split(dataset, "dev")  # no split file yet
    splits_path(dataset).write_text(render(Split(1, 0.6, (), ())), encoding="utf-8")
    with pytest.raises(ValueError, match="not in golden.splits.yaml"):
        load_split(dataset, "dev")
    splits_path(dataset).write_text(render(Split(1, 0.6, ("ret-001",), ())), encoding="utf-8")
    assert [i.id for i in load_split(dataset, "dev")] == ["ret-001"] and load_split(dataset, "test") == []


def test_the_sets_skip_a_missing_independent_file(tmp_path):
    sets, notes = load_sets(("dev", "independent"), independent=tmp_path / "absent.yaml")
    assert [s.name for s in sets] == ["dev"] and notes == [f"independent set skipped: {tmp_path / 'absent.yaml'} not found"]
    assert "dev split" in sets[0].source


def run_with(summary: dict, items: list[dict] | None = None) -> dict:
    def config(name: str) -> dict:
        return {"name": name, "judge": "skipped", "sets": {
            "test": {"summary": {"questions": 2, **summary},
                     "by_category": {"retention": {"fact_accuracy": 0.5, "recall@5": 1.0}}, "items": items or []},
            "dev": {"summary": {"questions": 3, "fact_accuracy": 0.9}, "by_category": {}, "items": []}}}

    return {"created": "2026-11-24T00:00:00+00:00", "gate": {"passed": True},
            "sets": [{"name": "dev", "source": "golden.yaml (dev split)", "questions": 3},
                     {"name": "test", "source": "golden.yaml (test split)", "questions": 2}],
            "notes": ["independent set skipped: independent.yaml not found"],
            "gap": {"config": "hybrid+extractive", "values": {"fact_accuracy": 0.2}},
            "configs": [config("hybrid+extractive"), config("langchain-baseline")]}


def test_comparison_flags_regressions_and_the_report_renders():
    before = run_with({"fact_accuracy": 0.80, "recall@5": 0.90, "latency_p50_ms": 20.0, "false_refusals": 0.02})
    after = run_with({"fact_accuracy": 0.70, "recall@5": 0.95, "latency_p50_ms": 21.0, "false_refusals": 0.08},
                     items=[
        {"id": "ret-1", "category": "retention", "question": "how long <grp 3>?", "should_refuse": False,
         "expected_docs": ["app-rrd"], "expected_sections": ["5.4"], "refused": False, "answer": "Wrong & short.",
         "cited": [{"doc_id": "glossary"}], "latency_ms": 12.0, "passed": False}])
    comparison = compare(after, before)
    rows = {(r["set"], r["config"], r["metric"]): r for r in comparison}
    test_product = {m: r for (s, c, m), r in rows.items() if (s, c) == ("test", "hybrid+extractive")}
    assert test_product["fact_accuracy"]["regressed"] and not test_product["recall@5"]["regressed"]
    assert not test_product["latency_p50_ms"]["regressed"]
    assert test_product["false_refusals"]["regressed"]  # lower is better: a rise is a regression
    assert ("test", "langchain-baseline", "fact_accuracy") in rows and ("dev", "hybrid+extractive", "fact_accuracy") in rows
    assert not rows[("dev", "hybrid+extractive", "fact_accuracy")]["regressed"]
    # A run from before sets has nothing to be compared with, rather than failing.
    assert compare(after, {"configs": [{"name": "hybrid+extractive", "summary": {"fact_accuracy": 0.9}}]}) == []
    page = render_html(after, comparison, {"fact_accuracy": 0.85})
    assert page.startswith("<!doctype html>") and "<script" not in page and "http" not in page.split("<body>")[0]
    assert "how long &lt;grp 3&gt;?" in page and "Wrong &amp; short." in page and "<svg" in page
    assert 'class="bad"><td>test</td><td>hybrid+extractive</td><td>fact_accuracy' in page
    assert "dev<br>langchain-baseline" in page and "dev − test gap (hybrid+extractive): fact accuracy +0.200" in page
    assert "independent set skipped" in page


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


# --------------------------------------------------------------------------- the LangChain baseline


def tiny_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    write_doc(corpus, "retention.md", "retention-doc",
              "## 1. Group 3\n\nGroup 3 records are kept for a six-year clear period before review.\n")
    write_doc(corpus, "sharing.md", "sharing-doc",
              "## 1. Sharing\n\nInformation may be shared with partner agencies under an agreement.\n")
    write_doc(corpus, "covert.md", "covert-doc",
              "## 1. Covert sources\n\nCovert source records are reviewed every year by the dedicated source unit.\n",
              protective_marking="OFFICIAL-SENSITIVE")
    return corpus


def test_baseline_answers_with_the_top_chunk_and_cites_its_document(tmp_path, embedder):
    docs, skipped = load_documents(tiny_corpus(tmp_path))
    assert skipped == [] and {d.doc_id for d in docs} == {"retention-doc", "sharing-doc", "covert-doc"}
    baseline = LangChainBaseline(docs, embedder)
    answer = baseline.ask("how long are group 3 records kept?")
    assert not answer.refused and answer.mode == "langchain-baseline"
    assert answer.answer == "Group 3 records are kept for a six-year clear period before review."
    (citation,) = answer.citations
    assert (citation.n, citation.doc_id, citation.title, citation.section) == (1, "retention-doc",
                                                                               "Title of retention-doc", "")
    assert citation.url == "https://example.org/retention-doc" and citation.status == "current"
    assert citation.quote == answer.answer == baseline.chunk_text(citation.chunk_id)
    hits = answer.diagnostics.retrieved
    assert hits[0]["doc_id"] == "retention-doc" and len(hits) <= 4
    assert set(hits[0]) == {"id", "doc_id", "section", "section_number"}
    # Never a refusal, even off topic: the plain recipe always returns its top chunk.
    assert not baseline.ask("what's the speed limit on a motorway?").refused


def test_baseline_never_cites_an_official_sensitive_document_by_default(tmp_path, embedder):
    docs, _ = load_documents(tiny_corpus(tmp_path))
    question = "how often are covert source records reviewed by the dedicated source unit?"
    answer = LangChainBaseline(docs, embedder).ask(question)
    assert "covert-doc" not in {h["doc_id"] for h in answer.diagnostics.retrieved}
    assert all(c.doc_id != "covert-doc" for c in answer.citations) and "Covert source" not in answer.answer
    # It is the marking that keeps it out: allowed up to OFFICIAL-SENSITIVE, it is the best match.
    allowed = LangChainBaseline(docs, embedder, max_marking="OFFICIAL-SENSITIVE").ask(question)
    assert allowed.citations[0].doc_id == "covert-doc"


def test_baseline_is_scored_by_the_same_runner(tmp_path, embedder):
    baseline = LangChainBaseline(load_documents(tiny_corpus(tmp_path))[0], embedder)
    items = [GoldenItem("ret-1", "retention", "how long are group 3 records kept?", ("retention-doc",),
                        must_include_any=(("six-year",),)),
             GoldenItem("np-1", "named_person", "is John Smith on the system?", should_refuse=True)]
    results = run_items(items, baseline.ask, baseline.chunk_text)
    assert results[0].passed and results[0].citation_support == 1.0 and results[0].relevance[0] == 1
    assert not results[1].passed  # it never refuses
    assert summarise(results)["refusal_recall"] == 0.0


# --------------------------------------------------------------------------- the gate on real answers


def test_production_config_clears_the_floors(corpus_index, embedder):
    """The gate `make test` enforces: the golden test split and the independent set through the core
    path, against evals/thresholds.yaml (the independent set only once its file exists)."""
    names = ("test", "independent") if INDEPENDENT.is_file() else ("test",)
    sets, _ = load_sets(names)
    assert [s.name for s in sets] == list(names) and all(s.items for s in sets)
    run = run_config(PRODUCTION, sets, corpus_index, embedder)
    assert run["name"] == "hybrid+extractive" and list(run["sets"]) == list(names)
    thresholds = load_thresholds()
    gated = Thresholds({n: b for n, b in thresholds.floors.items() if n in names},
                       {n: b for n, b in thresholds.ceilings.items() if n in names})
    assert "test" in gated.floors
    failures = check(run["sets"], gated)
    assert failures == [], failures
    assert run["judge"].startswith("skipped")
