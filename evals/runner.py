"""Run evaluation sets through the same path the bot uses (or the LangChain baseline), and score them."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from evals import metrics
from evals.dataset import GoldenItem


@dataclass
class ItemResult:
    id: str
    category: str
    question: str
    should_refuse: bool
    refused: bool
    answer: str
    mode: str
    evidence: float
    latency_ms: float
    expected_docs: list[str]
    expected_sections: list[str]
    cited: list[dict] = field(default_factory=list)  # {n, doc_id, section, status, quote, supported (None: a URL)}
    retrieved: list[dict] = field(default_factory=list)
    relevance: list[int] = field(default_factory=list)
    fact_ok: bool | None = None  # None for questions that should be refused
    citation_precision: float | None = None
    citation_support: float | None = None
    faithfulness: float | None = None  # LLM judge, when one is configured

    @property
    def passed(self) -> bool:
        if self.should_refuse:
            return self.refused
        return bool(self.fact_ok) and (self.citation_precision or 0) >= 1.0 and self.citation_support != 0.0

    def to_dict(self) -> dict:
        return asdict(self) | {"passed": self.passed}


def run_items(items: Sequence[GoldenItem], ask: Callable[[str], object], chunk_text: Callable[[str], str | None],
              on_item: Callable[[ItemResult], None] | None = None, judge=None) -> list[ItemResult]:
    """Ask each question; ``chunk_text(id)`` returns a stored chunk's text, to check quotes against.

    ``judge(answer)``, when given, scores faithfulness (see evals.judge).
    """
    results = []
    for item in items:
        started = time.perf_counter()
        answer = ask(item.question)
        latency = (time.perf_counter() - started) * 1000
        # A citation of a web page (a register source) has no stored chunk to check its quote against.
        cited = [
            {"n": c.n, "doc_id": c.doc_id, "section": c.section, "status": c.status, "quote": c.quote,
             "supported": bool(c.quote) and c.quote in (chunk_text(c.chunk_id) or "") if c.chunk_id else None}
            for c in answer.citations
        ]
        retrieved = list(answer.diagnostics.retrieved)
        result = ItemResult(
            id=item.id, category=item.category, question=item.question, should_refuse=item.should_refuse,
            refused=answer.refused, answer=answer.answer, mode=answer.mode, evidence=answer.diagnostics.evidence,
            latency_ms=latency, expected_docs=list(item.expected_docs),
            expected_sections=list(item.expected_sections), cited=cited, retrieved=retrieved,
            relevance=metrics.relevance(retrieved, item.expected_docs, item.expected_sections),
        )
        if not item.should_refuse:
            result.fact_ok = not answer.refused and metrics.facts_ok(answer.answer, item.must_include_any,
                                                                     item.must_not_include)
            # Precision is about documents: a web page cited by the register (no doc id) is not one.
            result.citation_precision = metrics.citation_precision([c["doc_id"] for c in cited if c["doc_id"]],
                                                                   item.expected_docs)
        if judge is not None:
            result.faithfulness = judge(answer)
        checkable = [c["supported"] for c in cited if c["supported"] is not None]
        if checkable:
            result.citation_support = sum(checkable) / len(checkable)
        results.append(result)
        if on_item:
            on_item(result)
    return results


def summarise(results: Sequence[ItemResult]) -> dict[str, float | None]:
    """The headline metrics for a set of results."""
    answerable = [r for r in results if r.expected_docs]
    refused, should = [r.refused for r in results], [r.should_refuse for r in results]
    refusal_precision, refusal_recall = metrics.precision_recall(refused, should)
    latencies = [r.latency_ms for r in results]
    answered_chars = [len(r.answer) for r in results if not r.refused]
    return {
        "questions": len(results),
        "pass": metrics.mean([float(r.passed) for r in results]),
        "recall@1": metrics.mean([metrics.recall_at(r.relevance, 1) for r in answerable]),
        "recall@3": metrics.mean([metrics.recall_at(r.relevance, 3) for r in answerable]),
        "recall@5": metrics.mean([metrics.recall_at(r.relevance, 5) for r in answerable]),
        "mrr": metrics.mean([metrics.reciprocal_rank(r.relevance) for r in answerable]),
        "ndcg@10": metrics.mean([metrics.ndcg_at(r.relevance, 10) for r in answerable]),
        "fact_accuracy": metrics.mean([float(r.fact_ok) for r in results if r.fact_ok is not None]),
        "citation_precision": metrics.mean([r.citation_precision for r in results]),
        "citation_support": metrics.mean([r.citation_support for r in results]),
        "refusal_precision": refusal_precision,
        "refusal_recall": refusal_recall,
        # Refusing an answerable question is the product's safe failure, but still a failure: count it.
        "false_refusals": metrics.mean([float(r.refused) for r in results if not r.should_refuse]),
        "faithfulness": metrics.mean([r.faithfulness for r in results]),
        # Nearest-rank, like the latency percentiles: the length of an actual answer. A longer answer
        # passes a phrase check more easily, so fact accuracy is read next to it.
        "answer_chars_p50": metrics.percentile(answered_chars, 50) if answered_chars else None,
        "latency_p50_ms": metrics.percentile(latencies, 50),
        "latency_p95_ms": metrics.percentile(latencies, 95),
    }


def by_category(results: Sequence[ItemResult]) -> dict[str, dict[str, float | None]]:
    groups: dict[str, list[ItemResult]] = defaultdict(list)
    for r in results:
        groups[r.category].append(r)
    return {category: summarise(group) for category, group in sorted(groups.items())}


@dataclass(frozen=True)
class EvalConfig:
    """One way of answering: a retriever mode and, optionally, an LLM; or the plain LangChain baseline."""

    retriever: str = "hybrid"
    llm: str | None = None
    baseline: bool = False  # evals.baseline instead of the product (retriever and llm then unused)
    rerank: bool = True  # off only to measure what the second-stage reranker adds

    @property
    def name(self) -> str:
        if self.baseline:
            from evals.baseline import NAME

            return NAME
        return f"{self.retriever}+{self.llm or 'extractive'}{'' if self.rerank else '-no-rerank'}"


PRODUCTION = EvalConfig()  # what the bot runs: hybrid retrieval, extractive answers
BASELINE = EvalConfig(baseline=True)


@dataclass
class _Answerer:
    """What run_config needs from a configuration: ask, look up a chunk's text, and maybe judge."""

    ask: Callable[[str], object]
    chunk_text: Callable[[str], str | None]
    judge: Callable[[object], float | None] | None
    judge_note: str


def _answerer(config: EvalConfig, settings, embedder) -> _Answerer:
    from dataclasses import replace

    from bot.core.index import build_assistant, make_embedder

    skipped = "skipped: no LLM configured (pass --llm to score faithfulness)"
    if config.baseline:
        from evals.baseline import LangChainBaseline

        # The same embedder object as the product's: the comparison is about what is done with the vectors.
        baseline = LangChainBaseline.from_corpus(settings.corpus_dir, embedder or make_embedder(settings),
                                                 settings.max_marking)
        return _Answerer(baseline.ask, baseline.chunk_text, None, skipped)
    assistant = build_assistant(settings, embedder, llm=config.llm)
    assistant.policy = replace(assistant.policy, retriever_mode=config.retriever, rerank=config.rerank)
    lexical = assistant.retriever.lexical
    texts = dict(zip(lexical.ids, lexical.texts))
    if not config.llm:
        return _Answerer(assistant.ask, texts.get, None, skipped)
    from evals.judge import judge_faithfulness

    chat_model = assistant.generator.chat_model
    return _Answerer(assistant.ask, texts.get, lambda answer: judge_faithfulness(answer, chat_model),
                     f"LLM judge: {config.llm}")


def run_config(config: EvalConfig, sets: Sequence, settings, embedder=None,
               on_item: Callable[[ItemResult], None] | None = None) -> dict:
    """Every question of every set (evals.sets.EvalSet) answered as ``config``; results and summaries per set."""
    answerer = _answerer(config, settings, embedder)
    answerer.ask("warm-up: load the model before timing")
    results = {}
    for eval_set in sets:
        items = run_items(eval_set.items, answerer.ask, answerer.chunk_text, on_item, answerer.judge)
        results[eval_set.name] = {"summary": summarise(items), "by_category": by_category(items),
                                  "items": [r.to_dict() for r in items]}
    return {"name": config.name, "retriever": None if config.baseline else config.retriever, "llm": config.llm,
            "baseline": config.baseline, "judge": answerer.judge_note, "sets": results}


GAP_METRICS = ("fact_accuracy", "pass")


def dev_test_gap(config_run: dict) -> dict[str, float] | None:
    """dev minus test for the gap metrics (pure); None unless both splits ran.

    A large positive gap means what was tuned on dev does not carry over to unseen questions.
    """
    sets = config_run["sets"]
    if "dev" not in sets or "test" not in sets:
        return None
    gap = {}
    for metric in GAP_METRICS:
        dev, test = sets["dev"]["summary"].get(metric), sets["test"]["summary"].get(metric)
        if dev is not None and test is not None:
            gap[metric] = dev - test
    return gap


def evaluate(configs: Sequence[EvalConfig], sets: Sequence, settings, thresholds, embedder=None,
             notes: Sequence[str] = (), created: str = "") -> dict:
    """The whole run: every configuration over every set, the dev − test gap and the gate.

    The first configuration is the one gated and whose gap is reported: callers put the
    production configuration first.
    """
    from evals.gate import check

    runs = [run_config(config, sets, settings, embedder) for config in configs]
    first = runs[0]
    failures = check(first["sets"], thresholds)
    gap = dev_test_gap(first)
    return {"created": created, "sets": [{"name": s.name, "source": s.source, "questions": len(s.items)} for s in sets],
            "notes": list(notes), "configs": runs,
            "gap": {"config": first["name"], "values": gap} if gap is not None else None,
            "gate": {"config": first["name"], "passed": not failures, "failures": failures}}
