"""The extractive answerer: verbatim sentences from the retrieved chunks, each with a citation.

No LLM, so nothing can be invented: every sentence of an answer is a span of
a stored chunk, and every span carries the [n] of the chunk it came from.
Pure functions over hits, so answers can be golden-tested.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.core import entities, question_type, sentences
from bot.core.lexical import tokenize
from bot.core.linear import LinearModel, vector
from bot.core.models import Citation
from bot.core.query import expand_terms
from bot.core.rerank import SECONDARY_DOC_TYPES, Question, conflicts, focus_cover, names_subject, parse
from bot.core.retrieval import Hit

# Sections and sentences about the summary itself (its sources, what could be verified).
_META_SECTION = re.compile(r"^\d*\.?\s*(sources?\b|source notes|references|editorial)", re.I)
_META_SENTENCE = re.compile(r"^(verification note|editorial note|note on sources|this is a (?:lightly edited|paraphrased))",
                            re.I)
# "Rule." / "What it covers." / "Examples (illustrative)." on their own: a label, not a claim.
_LABEL = re.compile(r"^[A-Z][A-Za-z()/-]*(?: [A-Za-z()/-]+){0,2}\.$")
# A labelled field whose value is section numbers ("Where it matters: APP summary 1.3, 2.4."): a cross-reference.
_CROSS_REFERENCE = re.compile(r"^[A-Z][\w ]{0,30}:\s(?=.*\b\d+\.\d+\b).{0,80}$")
_SECTION_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?\s*")
SHORT_SENTENCE_WORDS = 20  # a direct answer this short brings the sentence after it

MAX_HITS_USED = 4  # sentences come only from the best few (reranked) chunks
SUPPORTING_QUOTES = 2  # after the direct answer
DIRECT_CHARS = 300  # the direct answer: a short sentence brings the next one while it fits
LIST_CHARS = 420  # a list lead-in brings items while they fit
LIST_CHARS_ASKED = 900  # ... more of them when the question asks for a list
# Scores are log-linear (a softmax over units was fitted), so "close to the best" is a difference:
# a margin m admits units at least exp(-m) times as likely as the best. Chosen on the dev split.
SAME_CHUNK_MARGIN = 2.0  # a supporting quote from the best chunk
OTHER_CHUNK_MARGIN = 1.0  # ... from another chunk of the same document
PRIMARY_MARGIN = 1.0  # a primary source's best unit this close to a secondary source's leads instead
# The signals a unit's score combines, in order (see _unit_features); their weights are fitted on
# the golden dev split (python -m evals.fit) and kept in extract_weights.json.
FEATURES = (
    "covered",  # IDF share of the question's terms in the unit itself
    "from_context",  # ... found only in its headings and the units it leans on
    "synonyms",  # guidance words for the question's everyday words (capped)
    "chunk_dense",  # the chunk's cosine to the question
    "unit_dense",  # the unit's cosine (embedded at ingest with its context)
    "section_cover",  # IDF share of the question's terms in the section heading
    "chunk_rank",  # 1 / the chunk's rank after reranking
    "type_fit",  # +1 holds what the question's type asks for (a period, a date, a role...), -1 not, 0 unknown
    "defines",  # the first sentence under the heading a "what is X" question names
    "fragment",  # under four words and standing alone
    "meta",  # a note about the summary itself, not guidance
    "keyed_row",  # a table row keyed by what was asked ("E", "3")
    "spells_out",  # holds the expansion of an acronym the question asks about
    "outranked",  # a superseded document whose successor is also retrieved
    "first_in_chunk",  # 1 / the unit's position in its chunk
    "focus",  # IDF share of the question's focus terms (see rerank.Question.focus) in the unit with its context
    "typed_focus",  # holds the asked type *and* the focus: the date of the consultation, not any date
)
WEIGHTS_FILE = Path(__file__).with_name("extract_weights.json")


@lru_cache(maxsize=1)
def default_weights() -> LinearModel:
    return LinearModel.load(WEIGHTS_FILE, FEATURES)


@dataclass(frozen=True)
class Span:
    hit: int  # index into the hits
    unit: int  # index into that hit's units
    start: int  # offsets into the hit's text: the span is text[start:end], verbatim
    end: int
    score: float = 0.0
    evidence: float = 0.0  # how well the span (with its heading and context) covers the question
    features: tuple[float, ...] = ()  # the values of FEATURES (kept for fitting the weights)
    outranked: bool = False  # from a superseded document whose successor is also among the hits
    secondary: bool = False  # from a document that describes others (a glossary: rerank.SECONDARY_DOC_TYPES)
    second_hand: bool = False  # ... while the document the question names is among the hits
    fits: bool | None = None  # holds the answer type the question asks for (None: the form says nothing)


@dataclass(frozen=True)
class Extract:
    text: str  # the answer, with [n] markers
    citations: tuple[Citation, ...]
    evidence: float  # best span's evidence; the refusal threshold applies to it
    coverage: float = 0.0  # see passage_coverage
    question_type: str = question_type.OTHER


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Verbatim (start, end) spans: lines first (list items, table rows), then sentences."""
    return sentences.spans(text)


def score_spans(question: str, hits: Sequence[Hit], idf: Callable[[str], float],
                spelled_out: Sequence[str] = (), *, parsed: Question | None = None,
                sims: dict[str, tuple[float, ...]] | None = None, weights: LinearModel | None = None) -> list[Span]:
    """Score every quotable unit of the top hits against the question.

    ``spelled_out`` holds the expansions of acronyms the question asks about
    ("what does NRAC stand for?"); ``sims`` the question's cosine to each
    unit, by chunk id (from the reranker). A unit that cannot stand as an
    answer is not scored at all: one that leans on context its chunk lacks,
    one naming another group or code than asked, a heading-like label, the
    question half of a Q&A pair.
    """
    parsed = parsed or parse(question, None)
    terms = set(parsed.terms)
    if not terms:
        return []
    sims = sims or {}
    weights = weights or default_weights()
    synonyms = expand_terms(terms)
    total = sum(idf(t) for t in terms)
    kind = question_type.detect(question)
    # The words of the term a "what is X?" question asks about (question_type.subject).
    defined = {w for w in re.findall(r"[a-z0-9]+", question_type.subject(question).lower()) if len(w) > 2}
    asks_for_questions = "question" in terms
    spans: list[Span] = []
    outranked = _superseded_with_successor(hits[:MAX_HITS_USED])
    named = parsed.named_document
    named_present = named is not None and any(h.metadata.get("doc_id") == named for h in hits[:MAX_HITS_USED])
    for i, hit in enumerate(hits[:MAX_HITS_USED]):
        section = hit.metadata.get("section", "")
        heading = set(tokenize(hit.metadata.get("heading_path", "")))
        heading_cover = sum(idf(t) for t in terms & set(tokenize(section))) / total
        meta_section = bool(_META_SECTION.match(section))
        scope_conflict = parsed.entities and conflicts(parsed, hit)
        all_units = sentences.units(hit.text)
        opens = bool(hit.metadata.get("opens_section"))
        unit_sims = sims.get(hit.id, ())
        for u, unit in enumerate(all_units):
            sentence = hit.text[unit.start:unit.end]
            chain = sentences.chain(all_units, u, opens_section=opens)
            if not chain or scope_conflict or _LABEL.match(sentence) or _CROSS_REFERENCE.match(sentence):
                continue
            if sentence.endswith("?") and not asks_for_questions:
                continue  # the question half of a Q&A pair is not an answer
            with_context = " ".join(hit.text[all_units[c].start:all_units[c].end] for c in chain)
            if parsed.entities and _names_other(parsed, hit.text, all_units, u, chain):
                continue  # "Group 3: 6 years" answers nothing about Group 1
            words = set(tokenize(sentence))
            context = heading | set(tokenize(with_context))
            covered = sum(idf(t) for t in terms & words) / total
            from_context = sum(idf(t) for t in (terms & context) - words) / total
            from_synonyms = 0.5 * sum(idf(t) for t in synonyms & (words | context)) / total
            evidence = covered + 0.5 * from_context + min(from_synonyms, 0.3) + 0.3 * hit.dense_similarity
            # An acronym is often spelled out by the heading ("7. Information sharing agreements (ISAs)").
            fit = question_type.holds(kind, f"{hit.metadata.get('heading_path', '')} {with_context}"
                                      if kind == question_type.EXPANSION else with_context,
                                      expansions=spelled_out, term_words=defined, leads_list=sentence.endswith(":"))
            focus = focus_cover(parsed, f"{section} {with_context}", idf)
            # The first sentence under a heading that is the asked term defines it.
            defines = u == _first_claim(hit.text, all_units) and names_subject(parsed, section)
            values = vector({
                "covered": covered, "from_context": from_context, "synonyms": min(from_synonyms, 0.3),
                "chunk_dense": hit.dense_similarity, "unit_dense": unit_sims[u] if u < len(unit_sims) else 0.0,
                "section_cover": heading_cover, "chunk_rank": 1 / (i + 1),
                "type_fit": 1.0 if fit or defines else (-1.0 if fit is False else 0.0), "defines": defines,
                "fragment": len(sentence.split()) < 4 and unit.standalone,
                "meta": meta_section or bool(_META_SENTENCE.match(sentence)),
                "keyed_row": unit.kind == "row" and bool(set(tokenize(sentence.split("|")[0])) & terms),
                "spells_out": any(phrase in with_context.lower() or phrase in section.lower() for phrase in spelled_out),
                "outranked": hit.id in outranked, "first_in_chunk": 1 / (u + 1), "focus": focus,
                "typed_focus": focus if fit else 0.0,
            }, FEATURES)
            score = weights.score(values)
            secondary = hit.metadata.get("doc_type") in SECONDARY_DOC_TYPES
            spans.append(Span(i, u, unit.start, unit.end, score, evidence, values, hit.id in outranked,
                              secondary, secondary and named_present, True if defines else fit))
    return spans


def _names_other(parsed: Question, text: str, all_units: list, u: int, chain: Sequence[int] = ()) -> bool:
    """The unit names another group / code / year than asked, read as a reader would: each unit of its
    chain with the ones before it. "It has been replaced by 3x5x2" after "5x5x5 was…" names both and
    agrees; a chain that opens on the 2023 Code's date does not answer a question about the 2005 Code.
    A table row is read with its header ("Group | …" over "3 | …" names Group 3)."""
    read = ""
    for member in chain or [u]:
        unit = all_units[member]
        piece = text[unit.start:unit.end]
        if unit.kind == "row" and unit.context >= 0:
            header = text[all_units[unit.context].start:all_units[unit.context].end]
            piece = " ".join(f"{h.strip()} {c.strip()}" for h, c in zip(header.split("|"), piece.split("|")))
        read = f"{read} {piece}"
        if entities.conflicts(parsed.entities, entities.extract(read)):
            return True
    return False


def _first_claim(text: str, all_units: list) -> int:
    """Index of the first unit that is not a label ("Rule."), or -1."""
    return next((i for i, u in enumerate(all_units) if not _LABEL.match(text[u.start:u.end])), -1)


def _superseded_with_successor(hits: Sequence[Hit]) -> set[str]:
    """Ids of superseded chunks whose document's successor is also among ``hits``."""
    present = {h.metadata.get("doc_id") for h in hits}
    return {
        h.id for h in hits
        if h.metadata.get("status") == "superseded"
        and any(h.metadata.get("doc_id") in (o.metadata.get("supersedes") or "").split(",")
                for o in hits if o.metadata.get("doc_id") in present)
    }


# Answer types that are unambiguous in a sentence's form: when some unit holds one, the answer must.
# (A period or a date is not: "how long are custody images kept?" has no period in the guidance, and
# forcing one would quote a period about something else.)
REQUIRED_TYPES = frozenset({question_type.EXPANSION})


def select_spans(spans: list[Span], hits: Sequence[Hit], required_type: bool = False) -> list[Span]:
    """The best span, then at most SUPPORTING_QUOTES others: from its own chunk, or one from another chunk
    of its document.

    Reading from one section keeps an answer coherent and its citations few.
    """
    if not spans:
        return []
    # A superseded document is never the main evidence when the document replacing it has a quotable
    # answer too (the superseded note still cites it); nor is a glossary when the document the question
    # names has one. Then they cannot support either.
    for second_best in (lambda s: s.outranked, lambda s: s.second_hand):
        if not all(second_best(s) for s in spans):
            spans = [s for s in spans if not second_best(s)]
    if required_type and any(s.fits for s in spans):
        spans = [s for s in spans if s.fits]
    ranked = sorted(spans, key=lambda s: -s.score)
    best = ranked[0]
    if best.secondary:  # a primary source saying nearly as much is the better citation
        primary = next((s for s in ranked if not s.secondary), None)
        if primary is not None and primary.score >= best.score - PRIMARY_MARGIN:
            ranked = [primary, *(s for s in ranked if s is not primary)]
            best = primary
    chosen = [best]
    for span in ranked[1:]:
        if len(chosen) > SUPPORTING_QUOTES or span.score < best.score - SAME_CHUNK_MARGIN:
            break
        if span.hit != best.hit and (span.score < best.score - OTHER_CHUNK_MARGIN
                                     or any(c.hit != best.hit for c in chosen)
                                     or hits[span.hit].metadata.get("doc_id") != hits[best.hit].metadata.get("doc_id")):
            continue
        text = set(tokenize(hits[span.hit].text[span.start:span.end]))
        if any(_overlap(text, set(tokenize(hits[c.hit].text[c.start:c.end]))) > 0.6 for c in chosen):
            continue  # the same fact twice (e.g. the same report in two formats)
        chosen.append(span)
    return chosen


def compose(question: str, hits: Sequence[Hit], idf: Callable[[str], float],
            spelled_out: Sequence[str] = (), *, parsed: Question | None = None,
            sims: dict[str, tuple[float, ...]] | None = None, weights: LinearModel | None = None) -> Extract:
    """A direct answer first, then at most two supporting quotes; one [n] per chunk quoted.

    Every unit is quoted with the units it leans on (its question, lead-in,
    table header or antecedent), so no quote depends on context the reader
    cannot see.
    """
    parsed = parsed or parse(question, None)
    spans = score_spans(question, hits, idf, spelled_out, parsed=parsed, sims=sims, weights=weights)
    coverage = passage_coverage(question, hits, idf)
    kind = question_type.detect(question)
    chosen = select_spans(spans, hits, required_type=kind in REQUIRED_TYPES)
    if not chosen:
        return Extract("", (), 0.0, coverage, kind)
    per_hit: dict[int, list[int]] = {}  # hit index -> unit indices to quote, in document order
    for rank, span in enumerate(chosen):
        all_units = sentences.units(hits[span.hit].text)
        picked = sentences.chain(all_units, span.unit, opens_section=bool(hits[span.hit].metadata.get("opens_section")))
        if rank == 0:
            picked = _direct_answer(all_units, picked, hits[span.hit].text, parsed)
        per_hit.setdefault(span.hit, [])
        per_hit[span.hit] = sorted(set(per_hit[span.hit]) | set(picked))
    parts, citations = [], []
    best = chosen[0]
    for n, (h, unit_ids) in enumerate(per_hit.items(), start=1):
        hit = hits[h]
        all_units = sentences.units(hit.text)
        pieces, previous = [], None
        label = _label(parsed, hit, all_units, unit_ids, spelled_out) if h == best.hit else ""
        if label:
            pieces.append(f"{label}:")
        for u in unit_ids:
            if previous is not None and u != previous + 1:
                pieces.append("…")
            pieces.append(hit.text[all_units[u].start:all_units[u].end])
            previous = u
        parts.append(f"{' '.join(pieces)} [{n}]")
        first, last = all_units[unit_ids[0]], all_units[unit_ids[-1]]
        citations.append(citation_for(n, hit, hit.text[first.start:last.end]))
    return Extract(" ".join(parts), tuple(citations), max(s.evidence for s in spans), coverage, kind)


def _direct_answer(all_units: list, picked: list[int], text: str, parsed: Question | None) -> list[int]:
    """The best unit with what a reader needs: the items of a list it introduces (those about what was
    asked), the rule after a short sentence, while they fit."""
    out = list(picked)
    last = out[-1]
    size = sum(all_units[u].end - all_units[u].start for u in out)
    if text[all_units[last].start:all_units[last].end].endswith(":"):
        budget = LIST_CHARS_ASKED if parsed is not None and parsed.kind == question_type.LIST else LIST_CHARS
        item_lines = set()
        for u in range(last + 1, len(all_units)):
            unit = all_units[u]
            if unit.kind == "sentence":
                if unit.line in item_lines:
                    continue  # the rest of an item: its first sentence names it
                break  # prose on a line of its own: the list is over
            if parsed is not None and parsed.entities and _names_other(parsed, text, all_units, u):
                continue
            item_lines.add(unit.line)
            size += unit.end - unit.start
            if size > budget and u > last + 1:
                break
            out.append(u)
        return out
    following = last + 1
    if following < len(all_units) and all_units[following].line == all_units[last].line:
        extra = all_units[following].end - all_units[following].start
        sentence = text[all_units[following].start:all_units[following].end]
        short = len(text[all_units[last].start:all_units[last].end].split()) < SHORT_SENTENCE_WORDS
        if (short and size + extra <= DIRECT_CHARS and not sentence.endswith("?") and not _META_SENTENCE.match(sentence)
                and not _CROSS_REFERENCE.match(sentence)):
            out.append(following)
    return out


def _label(parsed: Question, hit: Hit, all_units: list, unit_ids: list[int], spelled_out: Sequence[str]) -> str:
    """The heading the direct answer is read under, when the heading is part of the answer: the term a
    definition defines ("Nominal: An individual on whom…"), or the words an acronym stands for when
    only the heading spells them out ("Information sharing agreements (ISAs): …")."""
    quoted = " ".join(hit.text[all_units[u].start:all_units[u].end] for u in unit_ids).lower()
    for heading in hit.metadata.get("heading_path", "").split(" > "):
        if any(full in heading.lower() and full not in quoted for full in spelled_out):
            return _SECTION_NUMBER.sub("", heading).strip()
    section = hit.metadata.get("section", "")
    if unit_ids[0] == _first_claim(hit.text, all_units) and names_subject(parsed, section):
        return _SECTION_NUMBER.sub("", section).strip()
    return ""


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


def citation_for(n: int, hit: Hit, quote: str) -> Citation:
    meta = hit.metadata
    return Citation(
        n=n, doc_id=meta.get("doc_id", ""), title=meta.get("title", ""), section=meta.get("section", ""),
        page=meta.get("page"), url=meta.get("source_url", ""), status=meta.get("status", "current"),
        quote=quote, chunk_id=hit.id,
    )


def best_sentence(question: str, hit: Hit, idf: Callable[[str], float],
                  sims: dict[str, tuple[float, ...]] | None = None) -> str:
    """The sentence of a chunk that best matches ``question``, with what it leans on (for notes and LLM
    citations).

    With the question's sentence similarities (``sims``) the fitted score ranks the units, as in
    :func:`compose`; without them, lexical evidence does, since the fitted score leans on them.
    """
    spans = score_spans(question, [hit], idf, sims=sims)
    if not spans:
        start, end = (sentence_spans(hit.text) or [(0, len(hit.text))])[0]
        return hit.text[start:end]
    best = max(spans, key=(lambda s: s.score) if sims and hit.id in sims else (lambda s: s.evidence))
    all_units = sentences.units(hit.text)
    first = sentences.chain(all_units, best.unit, opens_section=bool(hit.metadata.get("opens_section")))[0]
    return hit.text[all_units[first].start:best.end]  # with what it leans on: no context-free quotes


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, min(len(a), len(b)))
