"""The one core path: a question in, an ``Answer`` with ``Citation``s out.

The CLI, the Slack bot and the evals all call :meth:`Assistant.ask`; this
module imports none of them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import date

from bot.core.extractive import best_sentence, citation_for, compose
from bot.core.guards import Guard
from bot.core.lexical import tokenize
from bot.core.models import Answer, Citation, Diagnostics
from bot.core.query import acronyms_asked_about, merge_follow_up, normalise_question, spell_out_acronyms
from bot.core.register.answers import answer_register, route, split_clauses
from bot.core.linear import LinearModel
from bot.core.lookup_model import LookupModel
from bot.core.rerank import Question, parse, rerank, sentence_similarities
from bot.core.retrieval import Hit, RetrievalStats, Retriever, SearchFilter, current_first

log = logging.getLogger(__name__)

SUPERSEDED_CHECK_DEPTH = 5  # a superseded document this high in the results, and named in the question, gets a note

NOT_COVERED = (
    "The guidance I hold doesn't cover that, so I can't give you a reliable answer. "
    "Please ask your force's information management or records team."
)
PERSONAL_RECORD = (
    "I can't help with a particular person's record: I hold MoPI guidance, not police records. "
    "Check the record itself on your force's systems, or ask your information management or records team."
)
NOT_READABLE = (
    "I can only read questions in English, so I can't check this one is safe to answer. "
    "Please ask it in English."
)
INSTRUCTIONS_ONLY = (
    "I only answer questions about the MoPI guidance I hold, and instructions inside a question don't change that. "
    "What would you like to know about the guidance?"
)


@dataclass(frozen=True)
class Candidates:
    """What the retrieve and rerank stages hand to extraction (see ``Assistant.candidates``)."""

    cleaned: str  # the question as searched: abbreviations expanded, typos fixed, a follow-up merged
    parsed: Question
    fused: list[Hit]  # every fused candidate, before reranking
    hits: list[Hit]  # the reranked top_k
    sims: dict[str, tuple[float, ...]]  # the question's cosine to each candidate's sentences
    stats: RetrievalStats
    filters: SearchFilter
    timings_ms: dict[str, float]


@dataclass(frozen=True)
class AnswerPolicy:
    """Knobs of the core path. The refusal thresholds are calibrated on the golden dev split only
    (``python -m evals.calibrate``), not set by feel.

    Refuse when the best sentence's evidence is below ``min_evidence``, or when the
    question is weak on both other signals: no top passage covers ``min_coverage`` of it
    and no chunk is within ``min_similarity`` of it.
    """

    min_evidence: float = 0.20
    min_coverage: float = 0.36
    min_similarity: float = 0.42
    top_k: int = 8  # hits kept after reranking (the answer reads the best few of them)
    rerank_depth: int = 30  # fused candidates the reranker rescores
    rerank: bool = True  # off only to measure what the reranker adds
    rerank_weights: LinearModel | None = None  # None: the fitted weights (bot/core/rerank_weights.json)
    extract_weights: LinearModel | None = None  # None: the fitted weights (bot/core/extract_weights.json)
    retriever_mode: str = "hybrid"

    def refuses(self, diagnostics: Diagnostics) -> bool:
        return diagnostics.evidence < self.min_evidence or (
            diagnostics.coverage < self.min_coverage and diagnostics.top_similarity < self.min_similarity)


class Assistant:
    def __init__(self, retriever: Retriever, policy: AnswerPolicy = AnswerPolicy(), generator=None,
                 max_marking: str = "OFFICIAL", register=None, known_words: frozenset[str] = frozenset(), *,
                 guard: Guard, lookup: LookupModel | None = None, calculator=None, follow=None):
        self.retriever = retriever
        self.policy = policy
        self.generator = generator  # optional LLM answerer (bot.core.generative.Generator)
        self.max_marking = max_marking
        self.register = register  # optional RegisterStore: status questions are answered from it
        self.known_words = known_words  # real words, never typo-corrected (see query.normalise_question)
        self.guard = guard
        self.lookup = lookup  # the guard's learned second opinion on record lookups; None: rules only
        # bot.core.review_dates.ReviewCalculator: "when is a Group 3 record from 2018 reviewed?" is computed
        self.calculator = calculator
        self._last_vector: tuple[str, list[float] | None] = ("", None)
        # bot.core.index.follow_index: the retriever over a newer index snapshot, or None. It is taken up
        # only when no question is being answered, so each answer reads one index from start to end.
        self.follow = follow
        self._asking = 0
        self._swap = threading.Lock()

    def ask(self, question: str, *, max_marking: str | None = None, context: str = "") -> Answer:
        """Answer ``question`` from the guidance, or refuse.

        ``max_marking`` is the highest protective marking the asker may see;
        ``context`` is earlier conversation (e.g. a Slack thread) used only to
        understand a follow-up, never quoted.
        """
        started = time.perf_counter()
        answer_id = uuid.uuid4().hex[:12]
        with self._swap:
            if self.follow is not None and not self._asking:
                self._use(self.follow(self.retriever))
            self._asking += 1
        try:
            answer = self._answer(question, max_marking or self.max_marking, context)
        finally:
            with self._swap:
                self._asking -= 1
        timings = {**answer.timings_ms, "total": (time.perf_counter() - started) * 1000}
        # Ids and timings only: an officer's question may itself hold personal data.
        log.info("answer %s mode=%s refused=%s reason=%s citations=%s total_ms=%.1f", answer_id, answer.mode,
                 answer.refused, answer.refusal_reason or "-", [c.doc_id for c in answer.citations], timings["total"])
        return replace(answer, timings_ms=timings, id=answer_id)

    def _use(self, retriever: Retriever | None) -> None:
        """Answer from ``retriever`` (a newer index snapshot) from now on, with its names and sections."""
        if retriever is None:
            return
        self.retriever = retriever
        self.guard.use_gazetteer(retriever.lexical.gazetteer)
        if self.calculator is not None:
            self.calculator = type(self.calculator)(retriever.lexical)
        self._last_vector = ("", None)

    def _answer(self, question: str, max_marking: str, context: str) -> Answer:
        if self.retriever.cold and not self._register_only(question):
            self.retriever.warm_up()  # overlaps loading the embedder with the guard's first parse
        started = time.perf_counter()
        # A thread reply is guarded as itself, as the question it merges into, and as part of its thread.
        verdict = (self.guard.check_follow_up(question, merge_follow_up(context, question), context) if context
                   else self.guard.check(question))
        timings = {"guard": _ms_since(started)}
        if verdict.refused and verdict.weak and self.lookup is not None:
            started = time.perf_counter()
            vector = self._query_vector(verdict.question, context)
            if vector is not None and self.lookup.clears(vector, verdict.signals):
                verdict = replace(verdict, refused=False, reason="", identifiers=(), weak=False)
            timings["lookup"] = _ms_since(started)
        if verdict.refused:
            message = {"personal_record": PERSONAL_RECORD, "language": NOT_READABLE}.get(verdict.reason,
                                                                                       INSTRUCTIONS_ONLY)
            return replace(_refusal(question, message, verdict.reason), timings_ms=timings)
        cleaned = verdict.question

        started = time.perf_counter()
        answer = self.calculator.answer(cleaned) if self.calculator is not None else None
        if answer is not None and self.looks_like_lookup(cleaned, context, verdict.signals)[0]:
            # A calculation is about a record too: "when will tony h's record be weeded, last thing 2017"
            # gets the lookup model's check that document answers get (the register's ids need none).
            answer = replace(_refusal(question, PERSONAL_RECORD, "personal_record"),
                             diagnostics=Diagnostics(lookup_refused=True))
        if answer is None and self.register is not None:
            answer = self._answer_with_register(question, cleaned, max_marking, context, verdict.signals)
        timings["route"] = _ms_since(started)
        if answer is None:
            answer = self._answer_from_documents(question, cleaned, max_marking, context, verdict.signals)
        diagnostics = replace(answer.diagnostics, instructions_removed=verdict.injection)
        return replace(answer, timings_ms={**timings, **answer.timings_ms}, diagnostics=diagnostics)

    def _register_only(self, question: str) -> bool:
        """Whether every part of ``question`` goes to the register (no document search to prepare for)."""
        if self.register is None:
            return False
        idf = self.retriever.lexical.idf
        return all(route(clause, self.register, idf) for clause in split_clauses(question) or [question])

    def _answer_with_register(self, question: str, cleaned: str, max_marking: str, context: str,
                              signals: tuple[float, ...] = ()) -> Answer | None:
        """Register answers for the status parts of a question, a document answer for the rest."""
        idf = self.retriever.lexical.idf
        routed = [(clause, route(clause, self.register, idf)) for clause in split_clauses(cleaned) or [cleaned]]
        if not any(query for _, query in routed):
            return None
        texts, citations = [], []
        for _, query in routed:
            if query is not None:
                text, cited = answer_register(query, self.register, self.retriever.lexical, len(citations) + 1)
                texts.append(text)
                citations += cited
        rest = " ".join(clause for clause, query in routed if query is None)
        if rest:
            documents = self._answer_from_documents(rest, rest, max_marking, context, signals)
            if not documents.refused:
                texts.append(_renumber(documents.answer, len(citations)))
                citations += [replace(c, n=c.n + len(citations)) for c in documents.citations]
        refused = not citations and all(q is None or q.kind == "unknown_id" for _, q in routed)
        # The register's "retrieval" is the sources it cites; evals score them like retrieved passages.
        sources = tuple({"id": c.chunk_id, "doc_id": c.doc_id, "section": c.section,
                         "section_number": c.section.split(" ")[0]} for c in citations if c.doc_id)
        return Answer(question, "\n\n".join(texts), refused, "register", tuple(citations),
                      refusal_reason="not_in_register" if refused else "", diagnostics=Diagnostics(retrieved=sources))

    def search_query(self, question: str, context: str = "") -> tuple[str, str]:
        """(the question as searched, the text embedded and matched): typos fixed, a follow-up merged,
        abbreviations spelled out. Document search only: register routing matches ids and status words as typed."""
        lexical = self.retriever.lexical
        cleaned = normalise_question(question, lexical.vocabulary, self.known_words)
        if context:
            cleaned = merge_follow_up(context, cleaned)
        return cleaned, spell_out_acronyms(cleaned, lexical.acronyms)

    def looks_like_lookup(self, question: str, context: str = "",
                          signals: tuple[float, ...] = ()) -> tuple[bool, list[float] | None]:
        """The lookup model's verdict on a question the rules let through (``signals``: the guard's, see
        GuardResult), and the query vector it read (handed on to retrieval: the question is embedded once)."""
        if self.lookup is None:
            return False, None
        vector = self._query_vector(question, context)
        return vector is not None and self.lookup.refuses(vector, signals), vector

    def _query_vector(self, question: str, context: str) -> list[float] | None:
        """The search query's embedding (None where retrieval embeds nothing); the last one is kept, since
        the lookup check and retrieval both want it."""
        if self.policy.retriever_mode not in ("hybrid", "dense"):
            return None
        query = self.search_query(question, context)[1]
        last = self._last_vector  # read once: the Slack bot answers on several threads
        if last[0] == query:
            return last[1]
        vector = self.retriever.embedder.embed_query(query)
        self._last_vector = (query, vector)
        return vector

    def candidates(self, question: str, max_marking: str | None = None, context: str = "",
                   vector: list[float] | None = None) -> Candidates:
        """The retrieve and rerank stages for a (guard-checked) question: what the answer is chosen from.

        Also what ``python -m evals.fit`` fits the weights on, so they are fitted to this very path.
        """
        lexical = self.retriever.lexical
        cleaned, query = self.search_query(question, context)
        filters = SearchFilter(max_marking=max_marking or self.max_marking)
        depth = self.policy.rerank_depth if self.policy.rerank else self.policy.top_k
        fused, stats = self.retriever.search_with_stats(query, k=depth, mode=self.policy.retriever_mode, filters=filters,
                                                        vector=vector)
        timings = dict(stats.timings_ms)

        started = time.perf_counter()
        parsed = parse(cleaned, self.retriever.document_years, self.retriever.titles, query, lexical.acronyms)
        sims = sentence_similarities(fused, stats.query_vector, lexical.sentence_rows)
        hits = fused
        if self.policy.rerank:
            # The invariant retrieval keeps holds after reranking too: a current document never
            # ranks below the one it supersedes.
            hits = current_first(rerank(parsed, fused, sims, lexical.idf, self.policy.rerank_weights),
                                 self.retriever.superseded_by)
        timings["rerank"] = _ms_since(started)
        return Candidates(cleaned, parsed, fused, hits[:self.policy.top_k], sims, stats, filters, timings)

    def _answer_from_documents(self, question: str, cleaned: str, max_marking: str, context: str,
                               signals: tuple[float, ...] = ()) -> Answer:
        started = time.perf_counter()
        lookup, vector = self.looks_like_lookup(cleaned, context, signals)
        checked = {"embed": _ms_since(started)} if vector is not None else {}
        if lookup:
            return replace(_refusal(question, PERSONAL_RECORD, "personal_record"), timings_ms=checked,
                           diagnostics=Diagnostics(lookup_refused=True))
        found = self.candidates(cleaned, max_marking, context, vector)
        lexical, timings = self.retriever.lexical, {**checked, **found.timings_ms}
        started = time.perf_counter()
        extract = compose(found.cleaned, found.hits, lexical.idf, acronyms_asked_about(found.cleaned, lexical.acronyms),
                          parsed=found.parsed, sims=found.sims, weights=self.policy.extract_weights)
        timings["extract"] = _ms_since(started)
        diagnostics = Diagnostics(
            retrieved=tuple({"id": h.id, "doc_id": h.metadata.get("doc_id", ""), "section": h.metadata.get("section", ""),
                             "section_number": h.metadata.get("section_number", "")} for h in found.hits),
            evidence=extract.evidence, coverage=extract.coverage, top_similarity=found.stats.top_similarity)
        if not extract.citations or self.policy.refuses(diagnostics):
            return replace(_refusal(question, NOT_COVERED, "no_evidence"), diagnostics=diagnostics, timings_ms=timings)

        text, citations = self._note_superseded(extract.text, list(extract.citations), found.cleaned, found.hits,
                                                found.filters)
        answer = Answer(question, text, False, "extractive", tuple(citations), timings_ms=timings,
                        diagnostics=diagnostics)
        if self.generator is not None:
            return self.generator.answer(question=found.cleaned, hits=found.hits, fallback=answer, sims=found.sims)
        return answer

    def _note_superseded(self, text: str, citations: list[Citation], question: str, hits: list[Hit],
                         filters: SearchFilter) -> tuple[str, list[Citation]]:
        """Say which document is current whenever a superseded one is cited or among the top matches.

        Both documents are cited in the note, so an officer can see the old text and
        the document that now applies.
        """
        idf = self.retriever.lexical.idf
        asked = set(tokenize(question))
        superseded = dict.fromkeys(
            [c.doc_id for c in citations if c.status == "superseded"]
            + [h.metadata["doc_id"] for h in hits[:SUPERSEDED_CHECK_DEPTH]
               if h.metadata.get("status") == "superseded" and _names_document(asked, h.metadata["doc_id"], h.metadata.get("title", ""))])
        notes = []
        for old_id in superseded:
            newer = self.retriever.superseded_by.get(old_id)
            old = next((c for c in citations if c.doc_id == old_id), None)
            if newer is None:
                if old is not None:
                    notes.append(f"Note: {old.title} [{old.n}] is superseded; check which document replaced it.")
                continue
            current = next((c for c in citations if c.doc_id == newer), None)
            for doc_id, found in ((old_id, old), (newer, current)):
                if found is None:
                    hit = next((h for h in hits if h.metadata.get("doc_id") == doc_id), None)
                    hit = hit or self.retriever.best_in_document(question, doc_id, filters)
                    if hit is None:
                        break
                    citations.append(citation_for(len(citations) + 1, hit, best_sentence(question, hit, idf)))
            else:
                old = next(c for c in citations if c.doc_id == old_id)
                current = next(c for c in citations if c.doc_id == newer)
                notes.append(f"Note: {old.title} [{old.n}] is superseded; the current document is "
                             f"{current.title} [{current.n}]{self._in_force(old_id, newer)}.")
        return " ".join([text, *notes]), citations

    def _in_force(self, old_id: str, new_id: str) -> str:
        """", which has applied since 20 July 2023" (and since when the superseded one applied until then),
        from the documents' effective_from metadata; "" when the current document's is not recorded."""
        docs = self.retriever.documents
        since = docs.get(new_id, {}).get("effective_from")
        if not since:
            return ""
        began = docs.get(old_id, {}).get("effective_from")
        until = f" (the superseded one from {_long_day(began)} until then)" if began else ""
        return f", which has applied since {_long_day(since)}{until}"


def _names_document(question_terms: set[str], doc_id: str, title: str) -> bool:
    """Whether a question seems to be about the document with this title.

    It shares the id's or title's year or number ("the 2005 code"), or at least three of its words.
    """
    title_terms = set(tokenize(f"{doc_id.replace('-', ' ')} {title}"))
    shared = question_terms & title_terms
    return any(t.isdigit() for t in shared) or len(shared) >= 3


def _long_day(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.day} {day:%B %Y}"


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _renumber(text: str, offset: int) -> str:
    """Shift every [n] marker by ``offset`` (when an answer follows another's citations)."""
    return re.sub(r"\[(\d+)\]", lambda m: f"[{int(m.group(1)) + offset}]", text)


def _refusal(question: str, message: str, reason: str) -> Answer:
    return Answer(question, message, True, "extractive", (), refusal_reason=reason)
