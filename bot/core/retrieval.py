"""Hybrid retrieval: BM25 and dense results fused by reciprocal rank fusion.

Filters (document type, status, protective marking) apply to both retrievers,
and a superseded document never outranks the document that supersedes it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from bot.core.entities import document_years
from bot.core.lexical import LexicalHit, LexicalIndex, tokenize
from bot.core.query import expand_terms
from bot.core.vectorstore import SnapshotVectors, VectorStore

# Weighted reciprocal rank fusion, tuned on the golden questions (evals/datasets/golden.yaml):
# BM25 alone beat plain RRF (k=60) there, because a chunk that only one retriever ranks first
# lost to chunks both rank fifth. A smaller k and half weight on the dense ranking gave
# recall@5 0.906 vs 0.881 for plain RRF on the same questions.
RRF_K = 10
DENSE_WEIGHT = 0.5

# Government Security Classifications, lowest first. Legacy or unknown markings
# rank above all of them, so they are shown only where explicitly allowed.
MARKINGS = ("OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP SECRET")


def marking_rank(marking: str) -> int:
    marking = marking.strip().upper()
    return MARKINGS.index(marking) if marking in MARKINGS else len(MARKINGS)


def allowed_markings(ceiling: str) -> tuple[str, ...]:
    return tuple(m for m in MARKINGS if marking_rank(m) <= marking_rank(ceiling))


@dataclass(frozen=True)
class SearchFilter:
    """Which chunks may be returned. The marking ceiling is a safety rule, not a preference."""

    max_marking: str = "OFFICIAL"
    doc_types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    def where(self) -> dict:
        clauses = [{"protective_marking": {"$in": list(allowed_markings(self.max_marking))}}]
        if self.doc_types:
            clauses.append({"doc_type": {"$in": list(self.doc_types)}})
        if self.statuses:
            clauses.append({"status": {"$in": list(self.statuses)}})
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def admits(self, meta: dict) -> bool:
        return (
            marking_rank(meta.get("protective_marking", "")) <= marking_rank(self.max_marking)
            and (not self.doc_types or meta.get("doc_type") in self.doc_types)
            and (not self.statuses or meta.get("status") in self.statuses)
        )


@dataclass(frozen=True)
class Hit:
    id: str
    text: str
    metadata: dict
    score: float
    dense_rank: int | None = None  # 1-based; None when that retriever did not return it
    lexical_rank: int | None = None
    dense_similarity: float = 0.0  # cosine similarity to the query, 0 when not retrieved densely


@dataclass(frozen=True)
class RetrievalStats:
    timings_ms: dict[str, float]
    top_similarity: float  # cosine similarity of the nearest chunk, before fusion; 0 without dense search
    query_vector: list[float] | None = None  # the embedded query, for the reranker; None without dense search


def rrf_fuse(rankings: list[list[str]], k: int = RRF_K, weights: list[float] | None = None) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion of id rankings, best first (pure; ties keep first-seen order)."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def current_first(hits: list[Hit], superseded_by: dict[str, str]) -> list[Hit]:
    """Move the best hit of a superseding document ahead of any hit of the document it replaces (pure)."""
    ordered = list(hits)
    for doc, newer in superseded_by.items():
        old_positions = [i for i, h in enumerate(ordered) if h.metadata.get("doc_id") == doc]
        new_positions = [i for i, h in enumerate(ordered) if h.metadata.get("doc_id") == newer]
        if old_positions and new_positions and new_positions[0] > old_positions[0]:
            ordered.insert(old_positions[0], ordered.pop(new_positions[0]))
    return ordered


log = logging.getLogger(__name__)


class Retriever:
    """BM25 + dense over one index. Holds no per-query state, so one instance serves concurrent askers."""

    def __init__(self, store: VectorStore | SnapshotVectors, lexical: LexicalIndex, embedder):
        self.store = store
        self.lexical = lexical
        self.embedder = embedder
        self._warming: threading.Thread | None = None
        self.documents = _documents(lexical)
        # A Chroma server is written while a re-ingest runs; its hits outside this snapshot are dropped, so
        # one answer reads one version of the index (SnapshotVectors never holds others).
        self._ids = frozenset(lexical.ids)
        # doc id -> the id of a current document that supersedes it
        self.superseded_by = {
            old: doc_id
            for doc_id, meta in self.documents.items()
            if meta.get("status") == "current"
            for old in filter(None, meta.get("supersedes", "").split(","))
        }
        self.document_years = document_years(self.documents.values())
        self.section_openers = _section_openers(lexical)
        # What names each document: the stems of its id and title ("code-of-practice-mopi-2005").
        self.titles = {doc_id: frozenset(tokenize(f"{doc_id.replace('-', ' ')} {meta.get('title', '')}"))
                       for doc_id, meta in self.documents.items()}

    @property
    def cold(self) -> bool:
        """Whether the embedding model is neither loaded nor loading (see warm_up)."""
        return self._warming is None and not getattr(self.embedder, "loaded", True)

    def warm_up(self) -> None:
        """Load the embedding model and open the vector index in the background, once.

        A cold process spends about a second on each of these and on the guard's language
        model; started before the guard runs, they overlap with it.
        """
        if self.cold:
            self._warming = threading.Thread(target=self._warm, name="retriever-warm-up", daemon=True)
            self._warming.start()

    def _warm(self) -> None:
        try:
            self.store.search(self.embedder.embed_query("police information"), k=1)
        except Exception as exc:  # the question itself will meet the same error and report it
            log.debug("warm-up failed: %s", type(exc).__name__)

    def search(self, query: str, k: int = 8, mode: str = "hybrid", depth: int = 30,
               filters: SearchFilter = SearchFilter()) -> list[Hit]:
        return self.search_with_stats(query, k, mode, depth, filters)[0]

    def search_with_stats(self, query: str, k: int = 8, mode: str = "hybrid", depth: int = 30,
                          filters: SearchFilter = SearchFilter(),
                          vector: list[float] | None = None) -> tuple[list[Hit], RetrievalStats]:
        """Hits, best first, with each stage's time and the nearest chunk's similarity.

        ``vector`` is ``query`` already embedded (the assistant's lookup check needs it first).
        """
        timings: dict[str, float] = {}
        started = time.perf_counter()
        dense: list[tuple[str, str, dict, float]] = []
        if mode not in ("hybrid", "dense"):
            vector = None
        else:
            if vector is None:
                vector = self.embedder.embed_query(query)
                timings["embed"] = _ms_since(started)
            started = time.perf_counter()
            dense = [h for h in self.store.search(vector, k=depth, filters=filters) if h[0] in self._ids]
            timings["vector"] = _ms_since(started)
        lexical: list[LexicalHit] = []
        if mode in ("hybrid", "bm25"):
            started = time.perf_counter()
            synonyms = expand_terms(set(tokenize(query)))
            lexical = [h for h in self.lexical.search(query, k=depth * 3, extra_terms=synonyms)
                       if filters.admits(h.metadata)][:depth]
            timings["bm25"] = _ms_since(started)

        started = time.perf_counter()
        found = {h[0]: (h[1], h[2]) for h in dense}
        found.update({h.id: (h.text, h.metadata) for h in lexical})
        similarity = {h[0]: h[3] for h in dense}
        dense_rank = {h[0]: i for i, h in enumerate(dense, start=1)}
        lexical_rank = {h.id: i for i, h in enumerate(lexical, start=1)}
        fused = rrf_fuse([[h[0] for h in dense], [h.id for h in lexical]], weights=[DENSE_WEIGHT, 1.0])
        hits = [
            Hit(i, found[i][0], {**found[i][1], OPENS_SECTION: i in self.section_openers}, score, dense_rank.get(i),
                lexical_rank.get(i), similarity.get(i, 0.0))
            for i, score in fused
        ]
        hits = current_first(hits, self.superseded_by)[:k]
        timings["fuse"] = _ms_since(started)
        return hits, RetrievalStats(timings, dense[0][3] if dense else 0.0, vector)

    def best_in_document(self, query: str, doc_id: str, filters: SearchFilter = SearchFilter()) -> Hit | None:
        """The chunk of one document that best matches ``query`` (BM25), e.g. the current Code's."""
        for hit in self.lexical.search(query, k=len(self.lexical)):
            if hit.metadata.get("doc_id") == doc_id and filters.admits(hit.metadata):
                return Hit(hit.id, hit.text, hit.metadata, 0.0, lexical_rank=1)
        return None


OPENS_SECTION = "opens_section"  # hit metadata: the chunk is the first of its section (not a continuation)


def _section_openers(lexical: LexicalIndex) -> frozenset[str]:
    """Ids of the first chunk of every section; the others continue a section split for length."""
    first: dict[tuple[str, str], tuple[int, str]] = {}
    for chunk_id, meta in zip(lexical.ids, lexical.metadatas):
        key = (meta.get("doc_id", ""), meta.get("heading_path", ""))
        ordinal = int(meta.get("ordinal", 0))
        if key not in first or ordinal < first[key][0]:
            first[key] = (ordinal, chunk_id)
    return frozenset(chunk_id for _, chunk_id in first.values())


def _documents(lexical: LexicalIndex) -> dict[str, dict]:
    docs: dict[str, dict] = {}
    for meta in lexical.metadatas:
        docs.setdefault(meta["doc_id"], meta)
    return docs


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
