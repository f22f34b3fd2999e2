"""The one core path: a question in, an ``Answer`` with ``Citation``s out.

The CLI, the Slack bot and the evals all call :meth:`Assistant.ask`; this
module imports none of them.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace

from bot.core.extractive import best_sentence, citation_for, compose
from bot.core.guards import is_personal_record_request, strip_injection
from bot.core.models import Answer, Citation
from bot.core.query import normalise_question
from bot.core.retrieval import Hit, Retriever, SearchFilter

log = logging.getLogger(__name__)

NOT_COVERED = (
    "The guidance I hold doesn't cover that, so I can't give you a reliable answer. "
    "Please ask your force's information management or records team."
)
PERSONAL_RECORD = (
    "I can't help with a particular person's record: I hold MoPI guidance, not police records. "
    "Check the record itself on your force's systems, or ask your information management or records team."
)
INSTRUCTIONS_ONLY = (
    "I only answer questions about the MoPI guidance I hold, and instructions inside a question don't change that. "
    "What would you like to know about the guidance?"
)


@dataclass(frozen=True)
class AnswerPolicy:
    """Knobs of the core path. ``min_evidence`` is calibrated on the eval set (see evals/calibrate.py)."""

    min_evidence: float = 0.35
    top_k: int = 8
    retriever_mode: str = "hybrid"


class Assistant:
    def __init__(self, retriever: Retriever, policy: AnswerPolicy = AnswerPolicy(), generator=None,
                 max_marking: str = "OFFICIAL"):
        self.retriever = retriever
        self.policy = policy
        self.generator = generator  # optional LLM answerer (bot.core.generative.Generator)
        self.max_marking = max_marking

    def ask(self, question: str, *, max_marking: str | None = None, context: str = "") -> Answer:
        """Answer ``question`` from the guidance, or refuse.

        ``max_marking`` is the highest protective marking the asker may see;
        ``context`` is earlier conversation (e.g. a Slack thread) used only to
        understand a follow-up, never quoted.
        """
        started = time.perf_counter()
        answer_id = uuid.uuid4().hex[:12]
        answer = self._answer(question, max_marking or self.max_marking, context)
        timings = {**self.retriever.timings_ms, **answer.timings_ms, "total": (time.perf_counter() - started) * 1000}
        # Ids and timings only: an officer's question may itself hold personal data.
        log.info("answer %s mode=%s refused=%s reason=%s citations=%s total_ms=%.1f", answer_id, answer.mode,
                 answer.refused, answer.refusal_reason or "-", [c.doc_id for c in answer.citations], timings["total"])
        return replace(answer, timings_ms=timings)

    def _answer(self, question: str, max_marking: str, context: str) -> Answer:
        if is_personal_record_request(question):
            return _refusal(question, PERSONAL_RECORD, "personal_record")
        cleaned, had_instructions = strip_injection(question)
        if had_instructions and len(cleaned.split()) < 3:
            return _refusal(question, INSTRUCTIONS_ONLY, "injection")

        cleaned = normalise_question(cleaned, self.retriever.lexical.vocabulary)
        query = f"{context} {cleaned}".strip() if context else cleaned
        filters = SearchFilter(max_marking=max_marking)
        hits = self.retriever.search(query, k=self.policy.top_k, mode=self.policy.retriever_mode, filters=filters)
        started = time.perf_counter()
        extract = compose(cleaned, hits, self.retriever.lexical.idf)
        select_ms = (time.perf_counter() - started) * 1000
        retrieved = tuple({"id": h.id, "doc_id": h.metadata.get("doc_id", ""), "section": h.metadata.get("section", ""),
                           "section_number": h.metadata.get("section_number", "")} for h in hits)
        if not extract.citations or extract.evidence < self.policy.min_evidence:
            return replace(_refusal(question, NOT_COVERED, "no_evidence"), retrieved=retrieved,
                           evidence=extract.evidence, timings_ms={"select": select_ms})

        text, citations = self._note_superseded(extract.text, list(extract.citations), cleaned, hits, filters)
        answer = Answer(question, text, False, "extractive", tuple(citations), timings_ms={"select": select_ms},
                        retrieved=retrieved, evidence=extract.evidence)
        if self.generator is not None:
            return self.generator.answer(question=cleaned, hits=hits, fallback=answer)
        return answer

    def _note_superseded(self, text: str, citations: list[Citation], question: str, hits: list[Hit],
                         filters: SearchFilter) -> tuple[str, list[Citation]]:
        """When an answer cites a superseded document, say which document is current, and cite it."""
        notes = []
        for citation in list(citations):
            if citation.status != "superseded":
                continue
            newer = self.retriever.superseded_by.get(citation.doc_id)
            if newer is None:
                notes.append(f"Note: {citation.title} is superseded; check which document replaced it.")
                continue
            current = next((h for h in hits if h.metadata.get("doc_id") == newer), None)
            current = current or self.retriever.best_in_document(question, newer, filters)
            if current is None:
                continue
            existing = next((c for c in citations if c.doc_id == newer), None)
            if existing is None:
                existing = citation_for(len(citations) + 1, current, best_sentence(question, current,
                                                                                    self.retriever.lexical.idf))
                citations.append(existing)
            notes.append(f"Note: {citation.title} [{citation.n}] is superseded; the current document is "
                         f"{existing.title} [{existing.n}].")
        return " ".join([text, *dict.fromkeys(notes)]), citations


def _refusal(question: str, message: str, reason: str) -> Answer:
    return Answer(question, message, True, "extractive", (), refusal_reason=reason)
