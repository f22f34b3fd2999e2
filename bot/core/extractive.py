"""The extractive answerer: verbatim sentences from the retrieved chunks, each with a citation.

No LLM, so nothing can be invented: every sentence of an answer is a span of
a stored chunk, and every span carries the [n] of the chunk it came from.
Pure functions over hits, so answers can be golden-tested.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.lexical import tokenize
from bot.core.models import Citation
from bot.core.retrieval import Hit

# Questions that want a number back: a period, an age, a count, a date.
_WANTS_NUMBER = re.compile(
    r"\b(how long|how many|how often|how old|when|what age|age|period|periods|years?|months?|days?|deadline|"
    r"by when|until|date|dates)\b", re.I)
_HAS_NUMBER = re.compile(
    r"\b\d+(?:[.,]\d+)?(?:-(?:year|month|day|week))?\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|twenty|fifty|hundred)\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(“‘A-Z0-9])")
_TABLE_RULE = re.compile(r"^\|?[\s:|-]+\|?$")
_LIST_MARK = re.compile(r"^(?:[-*•]\s+|\d+[.)]\s+)")

MAX_SENTENCES = 3
MAX_HITS_USED = 4  # sentences come only from the best few chunks
RELATIVE_CUTOFF = 0.75  # a further sentence must score this close to the best one


@dataclass(frozen=True)
class Span:
    hit: int  # index into the hits
    start: int  # offsets into the hit's text: the span is text[start:end], verbatim
    end: int
    order: int  # position among the hit's sentences, to spot neighbours
    score: float = 0.0
    evidence: float = 0.0  # how well the span (with its heading) covers the question


@dataclass(frozen=True)
class Extract:
    text: str  # the answer, with [n] markers
    citations: tuple[Citation, ...]
    evidence: float  # best span's evidence; the refusal threshold applies to it


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Verbatim (start, end) spans: lines first (list items, table rows), then sentences."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        stripped = line.strip()
        start = offset + (len(line) - len(line.lstrip()))
        offset += len(line) + 1
        if not stripped or _TABLE_RULE.match(stripped):
            continue
        if stripped.startswith("|"):  # a table row: drop the outer pipes, keep the cells
            inner = stripped.strip("|")
            lead = len(stripped) - len(stripped.lstrip("|")) + (len(inner) - len(inner.lstrip()))
            spans.append((start + lead, start + lead + len(inner.strip())))
            continue
        mark = _LIST_MARK.match(stripped)
        pos = start + (mark.end() if mark else 0)
        body = text[pos:start + len(stripped)]
        cursor = 0
        for piece in _SENTENCE_END.split(body):
            at = body.index(piece, cursor)
            spans.append((pos + at, pos + at + len(piece)))
            cursor = at + len(piece)
    return spans


def score_spans(question: str, hits: Sequence[Hit], idf: Callable[[str], float]) -> list[Span]:
    """Score every sentence of the top hits against the question."""
    terms = set(tokenize(question))
    if not terms:
        return []
    total = sum(idf(t) for t in terms)
    wants_number = bool(_WANTS_NUMBER.search(question))
    spans: list[Span] = []
    for i, hit in enumerate(hits[:MAX_HITS_USED]):
        heading = set(tokenize(hit.metadata.get("heading_path", "")))
        for order, (start, end) in enumerate(sentence_spans(hit.text)):
            sentence = hit.text[start:end]
            words = set(tokenize(sentence))
            covered = sum(idf(t) for t in terms & words) / total
            from_heading = sum(idf(t) for t in (terms & heading) - words) / total
            evidence = covered + 0.5 * from_heading + 0.3 * hit.dense_similarity
            score = evidence + 0.1 / (i + 1)
            if wants_number:
                score += 0.15 if _HAS_NUMBER.search(sentence) else -0.1
            if len(sentence.split()) < 4:
                score -= 0.2
            spans.append(Span(i, start, end, order, score, evidence))
    return spans


def select_spans(spans: list[Span], hits: Sequence[Hit]) -> list[Span]:
    """The best span, plus up to two more that score nearly as well and say something new."""
    if not spans:
        return []
    ranked = sorted(spans, key=lambda s: -s.score)
    chosen = [ranked[0]]
    for span in ranked[1:]:
        if len(chosen) == MAX_SENTENCES or span.score < RELATIVE_CUTOFF * ranked[0].score:
            break
        text = set(tokenize(hits[span.hit].text[span.start:span.end]))
        if any(_overlap(text, set(tokenize(hits[c.hit].text[c.start:c.end]))) > 0.6 for c in chosen):
            continue  # the same fact twice (e.g. the same report in two formats)
        chosen.append(span)
    return sorted(chosen, key=lambda s: (s.hit, s.start))


def compose(question: str, hits: Sequence[Hit], idf: Callable[[str], float]) -> Extract:
    """Answer text with [n] markers, and one citation per run of neighbouring sentences."""
    spans = score_spans(question, hits, idf)
    chosen = select_spans(spans, hits)
    if not chosen:
        return Extract("", (), 0.0)
    groups: list[list[Span]] = []
    for span in chosen:
        if groups and groups[-1][-1].hit == span.hit and groups[-1][-1].order + 1 == span.order:
            groups[-1].append(span)
        else:
            groups.append([span])
    parts, citations = [], []
    for n, group in enumerate(groups, start=1):
        hit = hits[group[0].hit]
        quote = hit.text[group[0].start:group[-1].end]
        parts.append(f"{quote} [{n}]")
        citations.append(citation_for(n, hit, quote))
    return Extract(" ".join(parts), tuple(citations), max(s.evidence for s in spans))


def citation_for(n: int, hit: Hit, quote: str) -> Citation:
    meta = hit.metadata
    return Citation(
        n=n, doc_id=meta.get("doc_id", ""), title=meta.get("title", ""), section=meta.get("section", ""),
        page=meta.get("page"), url=meta.get("source_url", ""), status=meta.get("status", "current"),
        quote=quote, chunk_id=hit.id,
    )


def best_sentence(question: str, hit: Hit, idf: Callable[[str], float]) -> str:
    """The one sentence of a chunk that best matches ``question`` (for notes and LLM citations)."""
    spans = score_spans(question, [hit], idf)
    if not spans:
        start, end = (sentence_spans(hit.text) or [(0, len(hit.text))])[0]
        return hit.text[start:end]
    best = max(spans, key=lambda s: s.score)
    return hit.text[best.start:best.end]


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, min(len(a), len(b)))
