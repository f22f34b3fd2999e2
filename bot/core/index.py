"""Opening the index (vector store + BM25) and describing it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.embedder import SentenceTransformerEmbedder
from bot.core.lexical import current_fingerprint, fingerprint
from bot.core.state import IndexState
from bot.core.vectorstore import VectorStore, open_client
from bot.settings import Settings


def make_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """The configured embedder; the model itself loads on first use."""
    return SentenceTransformerEmbedder(settings.resolved_model_path(), settings.model_name, settings.embed_batch_size)


def open_store(settings: Settings, embedder=None, create: bool = True) -> VectorStore:
    return VectorStore(open_client(settings), settings.collection_name, embedder, create=create)


@dataclass(frozen=True)
class IndexStats:
    documents: int
    files: int
    chunks: int
    lexical_chunks_in_step: bool
    model: str
    collection: str
    store: str
    last_indexed: str

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("documents", str(self.documents)),
            ("files", str(self.files)),
            ("chunks", str(self.chunks)),
            ("BM25 index", "in step" if self.lexical_chunks_in_step else "OUT OF STEP: run `mopi ingest`"),
            ("embedding model", self.model),
            ("collection", self.collection),
            ("store", self.store),
            ("last indexed", self.last_indexed or "never"),
        ]


def index_stats(settings: Settings, store: VectorStore) -> IndexStats:
    state = IndexState(settings.state_db, settings.collection_name)
    try:
        records = state.records()
    finally:
        state.close()
    ids = {i for r in records.values() for i in r.chunk_ids}
    chunks = store.count()
    return IndexStats(
        documents=len({r.doc_id for r in records.values()}),
        files=len(records),
        chunks=chunks,
        lexical_chunks_in_step=chunks == len(ids) and current_fingerprint(settings.bm25_dir) == fingerprint(ids),
        model=f"{settings.model_name} ({settings.resolved_model_path()})",
        collection=settings.collection_name,
        store=settings.store_location,
        last_indexed=max((r.indexed_at for r in records.values()), default=""),
    )
