"""Hybrid retrieval: BM25 and dense results fused by reciprocal rank fusion."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.lexical import LexicalIndex
from bot.core.vectorstore import VectorStore

RRF_K = 60  # the usual constant from Cormack et al.; flattens the head of each ranking


@dataclass(frozen=True)
class Hit:
    id: str
    text: str
    metadata: dict
    score: float
    dense_rank: int | None = None  # 1-based; None when that retriever did not return it
    lexical_rank: int | None = None


def rrf_fuse(rankings: list[list[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of several id rankings, best first (pure; ties keep first-seen order)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


class Retriever:
    def __init__(self, store: VectorStore, lexical: LexicalIndex, embedder):
        self.store = store
        self.lexical = lexical
        self.embedder = embedder

    def search(self, query: str, k: int = 8, mode: str = "hybrid", depth: int = 30) -> list[Hit]:
        dense = self.store.search(self.embedder.embed_query(query), k=depth) if mode in ("hybrid", "dense") else []
        lexical = self.lexical.search(query, k=depth) if mode in ("hybrid", "bm25") else []
        found = {h[0]: (h[1], h[2]) for h in dense}
        found.update({h.id: (h.text, h.metadata) for h in lexical})
        dense_rank = {h[0]: i for i, h in enumerate(dense, start=1)}
        lexical_rank = {h.id: i for i, h in enumerate(lexical, start=1)}
        fused = rrf_fuse([[h[0] for h in dense], [h.id for h in lexical]])
        return [
            Hit(i, found[i][0], found[i][1], score, dense_rank.get(i), lexical_rank.get(i))
            for i, score in fused[:k]
        ]
