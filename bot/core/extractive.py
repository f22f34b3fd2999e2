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
from bot.core.query import expand_terms
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

# Sections and sentences about the summary itself (its sources, what could be verified).
_META_SECTION = re.compile(r"^\d*\.?\s*(sources?\b|source notes|references|editorial)", re.I)
_META_SENTENCE = re.compile(r"^(verification note|editorial note|note on sources|this is a (?:lightly edited|paraphrased))",
                            re.I)

MAX_SENTENCES = 3
MAX_LIST_SPANS = 8  # a lead-in ending in ':' brings up to this many of the items that follow
SHORT_SENTENCE_WORDS = 20  # a chosen sentence shorter than this brings the next one
MAX_HITS_USED = 4  # sentences come only from the best few chunks
SAME_CHUNK_CUTOFF = 0.6  # a further sentence from the best chunk must score this close to the best one
OTHER_CHUNK_CUTOFF = 0.85  # ... and one from another chunk, this close


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
    coverage: float = 0.0  # see passage_coverage


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Verbatim (start, end) spans: lines first (list items, table rows), then sentences."""
    return [(start, end) for start, end, _ in _spans_with_lines(text)]


def _spans_with_lines(text: str) -> list[tuple[int, int, int]]:
    spans: list[tuple[int, int, int]] = []
    offset = 0
    for line_no, line in enumerate(text.split("\n")):
        stripped = line.strip()
        start = offset + (len(line) - len(line.lstrip()))
        offset += len(line) + 1
        if not stripped or _TABLE_RULE.match(stripped):
            continue
        if stripped.startswith("|"):  # a table row: drop the outer pipes, keep the cells
            inner = stripped.strip("|")
            lead = len(stripped) - len(stripped.lstrip("|")) + (len(inner) - len(inner.lstrip()))
            spans.append((start + lead, start + lead + len(inner.strip()), line_no))
            continue
        mark = _LIST_MARK.match(stripped)
        pos = start + (mark.end() if mark else 0)
        body = text[pos:start + len(stripped)]
        cursor = 0
        for piece in _SENTENCE_END.split(body):
            at = body.index(piece, cursor)
            spans.append((pos + at, pos + at + len(piece), line_no))
            cursor = at + len(piece)
    return spans


def score_spans(question: str, hits: Sequence[Hit], idf: Callable[[str], float],
                spelled_out: Sequence[str] = ()) -> list[Span]:
    """Score every sentence of the top hits against the question.

    ``spelled_out`` holds the expansions of acronyms the question asks about
    ("what does NRAC stand for?"): the sentence that spells one out answers it.
    """
    terms = set(tokenize(question))
    if not terms:
        return []
    synonyms = expand_terms(terms)
    total = sum(idf(t) for t in terms)
    wants_number = bool(_WANTS_NUMBER.search(question))
    asks_for_questions = "question" in terms
    spans: list[Span] = []
    outranked = _superseded_with_successor(hits[:MAX_HITS_USED])
    for i, hit in enumerate(hits[:MAX_HITS_USED]):
        heading = set(tokenize(hit.metadata.get("heading_path", "")))
        heading_cover = sum(idf(t) for t in terms & set(tokenize(hit.metadata.get("section", "")))) / total
        meta_section = bool(_META_SECTION.match(hit.metadata.get("section", "")))
        previous, table_header, question, line, meta_line = "", "", "", -1, False
        for order, (start, end, line_no) in enumerate(_spans_with_lines(hit.text)):
            sentence = hit.text[start:end]
            if line_no != line:
                question, line = "", line_no
                meta_line = bool(_META_SENTENCE.match(sentence))
            is_row = hit.text[max(0, start - 2):start].lstrip(" ").endswith("|")
            table_header = (table_header or sentence) if is_row else ""
            # A span is read with what introduces it: its headings, the question a quick answer
            # follows, the lead-in of a list, or the header row of a table.
            context = heading | set(tokenize(table_header if is_row else "")) | set(tokenize(question))
            if previous.endswith(":"):
                context |= set(tokenize(previous))
            words = set(tokenize(sentence))
            covered = sum(idf(t) for t in terms & words) / total
            from_context = sum(idf(t) for t in (terms & context) - words) / total
            from_synonyms = 0.5 * sum(idf(t) for t in synonyms & (words | context)) / total
            evidence = covered + 0.5 * from_context + min(from_synonyms, 0.3) + 0.3 * hit.dense_similarity
            # A section whose heading names what was asked ("Nominal", "5.4 Group 3") is about it.
            score = evidence + 0.3 * heading_cover + 0.1 / (i + 1)
            if wants_number:
                score += 0.15 if _HAS_NUMBER.search(sentence) else -0.1
            if len(sentence.split()) < 4 and not question:
                score -= 0.2  # a fragment, unless it answers the question just asked ("No.")
            if sentence.endswith("?") and not asks_for_questions:
                score -= 0.3  # the question half of a Q&A pair is not an answer
            if meta_section or meta_line:
                score -= 0.3  # notes about the summary itself, not guidance
            if is_row and set(tokenize(sentence.split("|")[0])) & terms:
                score += 0.3  # a table row keyed by what was asked ("E", "3"): a lookup answer
            if any(phrase in sentence.lower() or phrase in hit.metadata.get("section", "").lower()
                   for phrase in spelled_out):
                score += 0.5
            if hit.id in outranked:
                score -= 0.15  # the current document says it too: prefer it
            spans.append(Span(i, start, end, order, score, evidence))
            previous = sentence
            if sentence.endswith("?"):
                question = sentence
    return spans


def _superseded_with_successor(hits: Sequence[Hit]) -> set[str]:
    """Ids of superseded chunks whose document's successor is also among ``hits``."""
    present = {h.metadata.get("doc_id") for h in hits}
    return {
        h.id for h in hits
        if h.metadata.get("status") == "superseded"
        and any(h.metadata.get("doc_id") in (o.metadata.get("supersedes") or "").split(",")
                for o in hits if o.metadata.get("doc_id") in present)
    }


def select_spans(spans: list[Span], hits: Sequence[Hit]) -> list[Span]:
    """The best span, then the best others from its own chunk, and at most one from another chunk of its document.

    Reading from one section keeps an answer coherent and its citations few.
    """
    if not spans:
        return []
    ranked = sorted(spans, key=lambda s: -s.score)
    best = ranked[0]
    chosen = [best]
    for span in ranked[1:]:
        if len(chosen) == MAX_SENTENCES or span.score < SAME_CHUNK_CUTOFF * best.score:
            break
        if span.hit != best.hit and (span.score < OTHER_CHUNK_CUTOFF * best.score
                                     or any(c.hit != best.hit for c in chosen)
                                     or hits[span.hit].metadata.get("doc_id") != hits[best.hit].metadata.get("doc_id")):
            continue
        text = set(tokenize(hits[span.hit].text[span.start:span.end]))
        if any(_overlap(text, set(tokenize(hits[c.hit].text[c.start:c.end]))) > 0.6 for c in chosen):
            continue  # the same fact twice (e.g. the same report in two formats)
        chosen.append(span)
    return sorted(chosen, key=lambda s: (s.hit != best.hit, s.hit, s.start))


def compose(question: str, hits: Sequence[Hit], idf: Callable[[str], float],
            spelled_out: Sequence[str] = ()) -> Extract:
    """Answer text with [n] markers, and one citation per run of neighbouring sentences."""
    spans = score_spans(question, hits, idf, spelled_out)
    chosen = _with_list_items(_with_next_sentence(select_spans(spans, hits), spans, hits), spans, hits)
    coverage = passage_coverage(question, hits, idf)
    if not chosen:
        return Extract("", (), 0.0, coverage)
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
    return Extract(" ".join(parts), tuple(citations), max(s.evidence for s in spans), coverage)


def passage_coverage(question: str, hits: Sequence[Hit], idf: Callable[[str], float]) -> float:
    """The largest share of the question's (IDF-weighted) terms that one top passage holds.

    Out-of-scope questions ("how do I book annual leave?") tend to match one
    stray word of a passage; answerable ones find most of their words together.
    """
    terms = set(tokenize(question))
    total = sum(idf(t) for t in terms)
    if not total:
        return 0.0
    best = 0.0
    for hit in hits[:MAX_HITS_USED]:
        words = set(tokenize(f"{hit.metadata.get('heading_path', '')} {hit.text}"))
        best = max(best, sum(idf(t) for t in terms & words) / total)
    return best


def _with_next_sentence(chosen: list[Span], spans: list[Span], hits: Sequence[Hit]) -> list[Span]:
    """A chosen sentence shorter than SHORT_SENTENCE_WORDS also brings the sentence after it.

    Guidance often states a rule and qualifies it, or introduces a list, in the
    next sentence; that is part of a correct answer.
    """
    by_position = {(s.hit, s.order): s for s in spans}
    out = list(chosen)
    for span in chosen:
        if len(hits[span.hit].text[span.start:span.end].split()) >= SHORT_SENTENCE_WORDS:
            continue
        following = by_position.get((span.hit, span.order + 1))
        if following is None or following in out:
            continue
        text = hits[following.hit].text[following.start:following.end]
        if not (text.endswith("?") or _META_SENTENCE.match(text)):
            out.append(following)
    first = chosen[0].hit if chosen else 0
    return sorted(out, key=lambda s: (s.hit != first, s.hit, s.start))


def _with_list_items(chosen: list[Span], spans: list[Span], hits: Sequence[Hit]) -> list[Span]:
    """A chosen lead-in ("The reviewer asks:") is no answer without the list it introduces."""
    by_position = {(s.hit, s.order): s for s in spans}
    out: list[Span] = []
    for span in chosen:
        out.append(span)
        text = hits[span.hit].text
        following = by_position.get((span.hit, span.order + 1))
        opens_table = following is not None and "|" in text[span.end:following.start]
        if text[span.start:span.end].endswith(":") or opens_table:
            for step in range(1, MAX_LIST_SPANS + 1):
                item = by_position.get((span.hit, span.order + step))
                if item is None:
                    break
                out.append(item)
    unique = {(s.hit, s.order): s for s in out}
    first = chosen[0].hit if chosen else 0
    return sorted(unique.values(), key=lambda s: (s.hit != first, s.hit, s.start))


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
