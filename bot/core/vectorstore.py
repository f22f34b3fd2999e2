"""The Chroma vector store, embedded or server, always written with our own vectors.

Writes go through chromadb's collection with vectors we computed (Chroma must
never embed text itself: it would try to download its own model). Reads go
through LangChain's ``Chroma`` wrapper on the same client and collection.

With the embedded store, questions are answered from the index snapshot instead
(:class:`SnapshotVectors`): the chunk vectors saved with the BM25 index at ingest,
searched exactly. It holds the same vectors as the collection, is swapped
atomically with the BM25 index, and spares a cold question chromadb's import
(0.6 s and 80 MiB here). A Chroma server stays the store that is searched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from bot.errors import IndexNotReadyError
from bot.settings import Settings

log = logging.getLogger(__name__)

_PAGE = 5000  # rows per get(): keeps memory flat on large collections


def open_client(settings: Settings):
    """A chromadb client: a server when MOPI_CHROMA_HOST is set, else a PersistentClient under MOPI_HOME."""
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        except Exception as exc:  # chromadb raises several types for "cannot connect"
            raise IndexNotReadyError(
                f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} ({type(exc).__name__})"
            ) from None
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


def forget_open_clients() -> None:
    """Drop chromadb's per-process cache of embedded clients.

    chromadb keeps one in-memory system per path for the life of a process, so
    a long-running process would not see what another process (``mopi ingest``)
    wrote. Call this before reopening the store to read the new index.
    """
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


class VectorStore:
    """One collection named after the embedding model."""

    def __init__(self, client, collection_name: str, embeddings=None, create: bool = True):
        self.client = client
        self.collection_name = collection_name
        if create:
            self.collection = client.get_or_create_collection(
                collection_name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None,
            )
        else:
            try:
                self.collection = client.get_collection(collection_name, embedding_function=None)
            except Exception:
                raise IndexNotReadyError(
                    f"no index for collection {collection_name!r} yet: run `mopi ingest` first"
                ) from None
        self._embeddings = embeddings
        self._langchain = None

    @property
    def langchain(self):
        """LangChain's view of the same collection (the LangChain baseline searches through it)."""
        if self._langchain is None:
            from langchain_chroma import Chroma

            from bot.core.embedder import as_langchain

            self._langchain = Chroma(client=self.client, collection_name=self.collection_name,
                                     embedding_function=as_langchain(self._embeddings))
        return self._langchain

    def count(self) -> int:
        return self.collection.count()

    def present(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        return set(self.collection.get(ids=list(ids), include=[])["ids"])

    def upsert(self, ids: list[str], vectors: list[list[float]], texts: list[str], metadatas: list[dict]) -> None:
        if ids:
            self.collection.upsert(ids=ids, embeddings=vectors, documents=texts, metadatas=metadatas)

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for start in range(0, len(ids), _PAGE):
            self.collection.delete(ids=ids[start:start + _PAGE])

    def all_ids(self) -> set[str]:
        return {i for batch in self._pages(include=[]) for i in batch["ids"]}

    def all_records(self) -> list[tuple[str, str, dict, list[float]]]:
        """(id, text, metadata, vector) for every chunk; used to rebuild the index snapshot."""
        rows: list[tuple[str, str, dict, list[float]]] = []
        for batch in self._pages(include=["documents", "metadatas", "embeddings"]):
            rows.extend(zip(batch["ids"], batch["documents"], batch["metadatas"], batch["embeddings"]))
        return rows

    def search(self, vector: list[float], k: int, filters=None) -> list[tuple[str, str, dict, float]]:
        """(id, text, metadata, cosine similarity) for the k nearest chunks that ``filters``
        (a :class:`bot.core.retrieval.SearchFilter`, or None) admits.

        The collection is queried directly, as LangChain's similarity_search_by_vector does
        (same call, same results): importing langchain_chroma costs a cold question 0.6 s.
        """
        found = self.collection.query(query_embeddings=[vector], n_results=k,
                                      where=filters.where() if filters is not None else None,
                                      include=["documents", "metadatas", "distances"])
        rows = zip(found["ids"][0], found["documents"][0], found["metadatas"][0], found["distances"][0], strict=True)
        # Chroma gives cosine *distance*; similarity reads better downstream.
        return [(i, text, meta or {}, 1.0 - distance) for i, text, meta, distance in rows if text is not None]

    def _pages(self, include: list[str]):
        offset = 0
        while True:
            batch = self.collection.get(include=include, limit=_PAGE, offset=offset)
            if not batch["ids"]:
                return
            yield batch
            offset += len(batch["ids"])


class SnapshotVectors:
    """Exact cosine search over the chunk vectors saved in the index snapshot (see the module doc).

    Same ``search`` as :class:`VectorStore`. Exact rather than HNSW: at tens of thousands of
    chunks one matrix product is still a few milliseconds, and it returns the true neighbours.
    """

    def __init__(self, lexical):
        self.lexical = lexical  # a bot.core.lexical.LexicalIndex with chunk_vectors

    def search(self, vector: list[float], k: int, filters=None) -> list[tuple[str, str, dict, float]]:
        import numpy as np

        lexical = self.lexical
        query = np.asarray(vector, dtype=np.float32)
        query /= float(np.linalg.norm(query)) or 1.0
        scores = np.asarray(lexical.chunk_vectors @ query)
        if filters is not None:
            admitted = np.fromiter((filters.admits(meta) for meta in lexical.metadatas), bool, len(lexical.ids))
            scores = np.where(admitted, scores, -np.inf)
        k = min(k, int(np.isfinite(scores).sum()))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(lexical.ids[i], lexical.texts[i], lexical.metadatas[i], float(scores[i])) for i in best]
