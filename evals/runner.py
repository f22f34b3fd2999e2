"""Run the golden questions through the same path the bot uses, and score them."""

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
    return {
        "questions": len(results),
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
        "faithfulness": metrics.mean([r.faithfulness for r in results]),
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
    """One way of answering: a retriever mode and, optionally, an LLM."""

    retriever: str = "hybrid"
    llm: str | None = None

    @property
    def name(self) -> str:
        return f"{self.retriever}+{self.llm or 'extractive'}"


def run_config(config: EvalConfig, items: Sequence[GoldenItem], settings, embedder=None,
               on_item: Callable[[ItemResult], None] | None = None) -> dict:
    """Every question through the core path configured as ``config``; results and summaries."""
    from dataclasses import replace

    from bot.core.index import build_assistant

    assistant = build_assistant(settings, embedder, llm=config.llm)
    assistant.policy = replace(assistant.policy, retriever_mode=config.retriever)
    lexical = assistant.retriever.lexical
    texts = dict(zip(lexical.ids, lexical.texts))
    judge, judge_note = None, "skipped: no LLM configured (pass --llm to score faithfulness)"
    if config.llm:
        from evals.judge import judge_faithfulness

        chat_model = assistant.generator.chat_model
        judge, judge_note = (lambda answer: judge_faithfulness(answer, chat_model)), f"LLM judge: {config.llm}"
    assistant.ask("warm-up: load the model before timing")
    results = run_items(items, assistant.ask, texts.get, on_item, judge)
    return {"name": config.name, "retriever": config.retriever, "llm": config.llm, "judge": judge_note,
            "summary": summarise(results), "by_category": by_category(results),
            "items": [r.to_dict() for r in results]}
