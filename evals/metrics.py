"""Evaluation metrics: pure functions over rankings and answers, hand-checkable."""

from __future__ import annotations

import math
from collections.abc import Sequence


def section_matches(expected: str, section_number: str, section: str) -> bool:
    """'5.4' matches section 5.4 and its subsections (5.4.1); heading text matches by prefix."""
    expected = expected.strip().lower()
    number = section_number.strip().lower()
    if number and (number == expected or number.startswith(expected + ".") or number.startswith(expected + "(")):
        return True
    return bool(section) and section.strip().lower().startswith(expected)


def relevance(ranked: Sequence[dict], expected_docs: Sequence[str], expected_sections: Sequence[str]) -> list[int]:
    """1/0 per ranked hit: right document and, where sections are given, a right section of the first document."""
    out = []
    for hit in ranked:
        if hit["doc_id"] not in expected_docs:
            out.append(0)
        elif expected_sections:
            right_doc = hit["doc_id"] == expected_docs[0]
            out.append(int(right_doc and any(section_matches(s, hit.get("section_number", ""), hit.get("section", ""))
                                             for s in expected_sections)))
        else:
            out.append(1)
    return out


def recall_at(rels: Sequence[int], k: int) -> float:
    """1 if any relevant hit is in the top k (one right passage is enough to answer)."""
    return float(any(rels[:k]))


def reciprocal_rank(rels: Sequence[int]) -> float:
    return next((1.0 / i for i, r in enumerate(rels, start=1) if r), 0.0)


def ndcg_at(rels: Sequence[int], k: int = 10) -> float:
    """Binary-gain nDCG@k; the ideal ranking puts the relevant hits found in the top k first."""
    dcg = sum(r / math.log2(i + 1) for i, r in enumerate(rels[:k], start=1))
    ideal = sum(1 / math.log2(i + 1) for i in range(1, sum(rels[:k]) + 1))
    return dcg / ideal if ideal else 0.0


def facts_ok(answer: str, must_include_any: Sequence[Sequence[str]], must_not_include: Sequence[str]) -> bool:
    """Every group has an alternative in the answer, and no forbidden string is there (case-insensitive)."""
    text = " ".join(answer.lower().split())
    return all(any(" ".join(alt.lower().split()) in text for alt in group) for group in must_include_any) and not any(
        bad.lower() in text for bad in must_not_include)


def citation_precision(cited_docs: Sequence[str], expected_docs: Sequence[str]) -> float | None:
    """Share of citations that point at an expected document; None when nothing was cited."""
    if not cited_docs:
        return None
    return sum(d in expected_docs for d in cited_docs) / len(cited_docs)


def precision_recall(predicted: Sequence[bool], actual: Sequence[bool]) -> tuple[float, float]:
    """Precision and recall of the positive class (e.g. 'refused'); 1.0 when there is nothing to get wrong."""
    tp = sum(p and a for p, a in zip(predicted, actual))
    fp = sum(p and not a for p, a in zip(predicted, actual))
    fn = sum(a and not p for p, a in zip(predicted, actual))
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None
