"""Second-stage reranking: the fused candidates rescored before any sentence is chosen.

Fusion ranks chunks by how well the whole passage matches. The answer,
though, is one sentence under one heading, so three finer signals decide:

* **sentence similarity**: the best cosine between the question and one of
  the chunk's sentences (vectors embedded at ingest, see
  :mod:`bot.core.sentence_vectors`);
* **heading match**: the IDF-weighted share of the question's terms that the
  chunk's heading path holds ("5.4 Group 3 – All other offences");
* **entity agreement** (:mod:`bot.core.entities`): a chunk whose scope names
  another group, grading code or document year than the question asks about
  is never the main evidence; it drops below every agreeing chunk. One whose
  scope or text names the asked value gains.

Pure over hits and vectors; the weights are fitted on the golden dev split (``python -m evals.fit``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from bot.core import entities, question_type
from bot.core.lexical import tokenize
from bot.core.linear import LinearModel, vector
from bot.core.retrieval import Hit


# The features the reranker combines, in a fixed order (see ``features``).
FEATURES = ("fused", "lexical_rank", "dense_rank", "chunk", "sentence", "sentence_2", "heading", "section",
            "document", "subject", "agreement", "status", "secondary")
# Document types that describe other documents rather than state the guidance themselves: a glossary
# entry on the PIRM Code is a second-hand source for what the Code says.
SECONDARY_DOC_TYPES = frozenset({"glossary"})
WEIGHTS_FILE = Path(__file__).with_name("rerank_weights.json")


@dataclass(frozen=True)
class Question:
    """What the later stages need to know about a question, worked out once."""

    text: str
    terms: frozenset[str]
    entities: entities.Entities
    status: str | None  # see entities.asked_status
    kind: str = question_type.OTHER
    subject: frozenset[str] = frozenset()  # stems of the term a "what is / who is X" question is about
    documents: dict[str, float] = field(default_factory=dict)  # doc id -> how well the question names it
    # The terms left when the words naming a document are taken out: in "when was the PIRM code
    # consulted on?" the code is the topic, "consulted" the focus. All terms when no document is named.
    focus: frozenset[str] = frozenset()
    named_document: str | None = None  # the document the question names, if it names one


NAMES_DOCUMENT = 0.3  # a document-match share from which the question counts as naming the document


def parse(question: str, document_years=None, titles: dict[str, frozenset[str]] | None = None,
          spelled_out: str = "", acronyms: Collection[str] = ()) -> Question:
    """``titles`` maps doc ids to the stems of their id and title; ``spelled_out`` is the question with
    its acronyms (``acronyms``: the corpus-defined ones, lower case) expanded, so "PIRM code" can name
    the Police Information and Records Management Code."""
    terms = frozenset(tokenize(question))
    documents = document_match(set(tokenize(spelled_out or question)), titles or {})
    focus = terms
    named = max(documents, key=documents.get, default=None)
    if named is not None and documents[named] >= NAMES_DOCUMENT:
        focus = frozenset(t for t in terms - titles[named] if t not in acronyms) or terms
    else:
        named = None
    return Question(question, terms, entities.extract(question, document_years),
                    entities.asked_status(question), question_type.detect(question),
                    frozenset(tokenize(question_type.subject(question))), documents, focus, named)


def document_match(terms: set[str], titles: dict[str, frozenset[str]]) -> dict[str, float]:
    """Per document, the share of its title's distinctive weight the question holds (0..1).

    A title word found in every title ("police") weighs nothing; one found in a
    single title ("mopi", "2005", "records") weighs most.
    """
    if not titles:
        return {}
    df: dict[str, int] = {}
    for stems in titles.values():
        for t in stems:
            df[t] = df.get(t, 0) + 1
    n = len(titles)
    weight = {t: math.log((n + 1) / d) for t, d in df.items()}
    out = {}
    for doc_id, stems in titles.items():
        total = sum(weight[t] for t in stems)
        if total:
            out[doc_id] = sum(weight[t] for t in stems & terms) / total
    return out


def sentence_similarities(hits: Sequence[Hit], query_vector, rows: Callable[[str], object]) -> dict[str, tuple[float, ...]]:
    """Cosine of the question to every sentence of every hit (vectors are normalised: a dot product)."""
    import numpy as np

    if query_vector is None:
        return {}
    q = np.asarray(query_vector, dtype=np.float32)
    out: dict[str, tuple[float, ...]] = {}
    for hit in hits:
        matrix = rows(hit.id)
        if matrix is not None and len(matrix):
            out[hit.id] = tuple(float(x) for x in np.asarray(matrix) @ q)
    return out


def conflicts(question: Question, hit: Hit) -> bool:
    """The chunk's scope (document and headings) names another value of an asked entity type."""
    return entities.conflicts(question.entities, entities.extract(entities.scope_text(hit.metadata)),
                              entities.extract(hit.text))


def names_subject(question: Question, section: str) -> bool:
    """The section's own heading is what a definition / who question asks about ("2.4 Nominal")."""
    if question.kind not in (question_type.DEFINITION, question_type.EXPANSION, question_type.WHO):
        return False
    # Most of the term's words: "sanitisation of intelligence" is defined under "7. Sanitisation".
    return bool(question.subject) and 2 * len(question.subject & set(tokenize(section))) >= len(question.subject)


def features(question: Question, hit: Hit, sims: dict[str, tuple[float, ...]], idf: Callable[[str], float],
             top_fused: float) -> tuple[float, ...]:
    """One candidate's values for ``FEATURES`` (pure)."""
    total = sum(idf(t) for t in question.terms) or 1.0
    heading = set(tokenize(hit.metadata.get("heading_path", "")))
    section = set(tokenize(hit.metadata.get("section", "")))
    ranked = sorted(sims.get(hit.id, (0.0,)), reverse=True)
    named = entities.extract(f"{entities.scope_text(hit.metadata)} {hit.text}")
    return vector({
        "fused": hit.score / (top_fused or 1.0),
        "lexical_rank": 1.0 / hit.lexical_rank if hit.lexical_rank else 0.0,
        "dense_rank": 1.0 / hit.dense_rank if hit.dense_rank else 0.0,
        "chunk": hit.dense_similarity,
        "sentence": ranked[0],
        "sentence_2": ranked[1] if len(ranked) > 1 else ranked[0],
        "heading": sum(idf(t) for t in question.terms & heading) / total,
        "section": sum(idf(t) for t in question.terms & section) / total,
        "document": question.documents.get(hit.metadata.get("doc_id", ""), 0.0),
        "subject": names_subject(question, hit.metadata.get("section", "")),
        "agreement": bool(question.entities) and entities.agrees(question.entities, named),
        "status": bool(question.status) and hit.metadata.get("status") == question.status,
        "secondary": hit.metadata.get("doc_type") in SECONDARY_DOC_TYPES,
    }, FEATURES)


def focus_cover(question: Question, text: str, idf: Callable[[str], float]) -> float:
    """IDF share of the question's focus terms that ``text`` holds."""
    total = sum(idf(t) for t in question.focus)
    return sum(idf(t) for t in question.focus & set(tokenize(text))) / total if total else 0.0


@lru_cache(maxsize=1)
def default_weights() -> LinearModel:
    return LinearModel.load(WEIGHTS_FILE, FEATURES)


def rerank(question: Question, hits: Sequence[Hit], sims: dict[str, tuple[float, ...]], idf: Callable[[str], float],
           weights: LinearModel | None = None) -> list[Hit]:
    """``hits`` reordered by the model's score (kept in ``Hit.score``); conflicting chunks last."""
    if not hits:
        return []
    weights = weights or default_weights()
    top_fused = max(h.score for h in hits)
    scored = [(conflicts(question, hit), -weights.score(features(question, hit, sims, idf, top_fused)), i)
              for i, hit in enumerate(hits)]
    scored.sort()
    return [replace(hits[i], score=-negative) for _, negative, i in scored]
