"""Opening the index (vector store + BM25) and describing it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bot.core.embedder import Embedder
from bot.core.lexical import LexicalIndex, current_fingerprint, fingerprint
from bot.core.state import IndexState
from bot.core.vectorstore import SnapshotVectors, VectorStore, open_client
from bot.errors import IndexNotReadyError
from bot.settings import Settings

log = logging.getLogger(__name__)


def make_embedder(settings: Settings) -> Embedder:
    """The configured embedder (ONNX when exported, else sentence-transformers; see
    bot.core.onnx_embedder.choose_embedder); the model itself loads on first use."""
    from bot.core.onnx_embedder import choose_embedder

    return choose_embedder(settings)


def open_store(settings: Settings, embedder=None, create: bool = True) -> VectorStore:
    return VectorStore(open_client(settings), settings.collection_name, embedder, create=create)


def open_dense(settings: Settings, lexical: LexicalIndex, embedder=None) -> VectorStore | SnapshotVectors:
    """What questions search densely: the snapshot's chunk vectors when the store is the embedded one
    (no chromadb import), else the Chroma collection. One log line when a snapshot lacks vectors."""
    if settings.dense_search == "auto" and not settings.chroma_host:
        if lexical.chunk_vectors is not None:
            return SnapshotVectors(lexical)
        if len(lexical):
            log.info("the index snapshot holds no chunk vectors (built before they were kept): "
                     "searching the Chroma collection; `mopi ingest` adds them")
    return open_store(settings, embedder, create=False)


def open_retriever(settings: Settings, embedder=None):
    """The retriever over the built index, with the configured (or given) embedder."""
    from bot.core.retrieval import Retriever

    embedder = embedder or make_embedder(settings)
    lexical = LexicalIndex.load(settings.bm25_dir)
    return Retriever(open_dense(settings, lexical, embedder), lexical, embedder)


def follow_index(settings: Settings):
    """For a long-running front end: a function from the retriever in use to one over the index snapshot
    that is current now, or None while it is the same one.

    A re-ingest switches the snapshot (BM25, texts, vectors, gazetteer) in one rename
    (bot.core.lexical.LexicalIndex.save), so a bot that moves to the new snapshot between
    questions answers each one from the old index or the new one, never from a mix.
    Reading the pointer costs one small file per question.
    """
    from bot.core.retrieval import Retriever

    def newer(retriever) -> Retriever | None:
        current = current_fingerprint(settings.bm25_dir)
        if not current or current == retriever.lexical.fingerprint:
            return None
        try:
            lexical = LexicalIndex.load(settings.bm25_dir)
        except (IndexNotReadyError, OSError, ValueError) as exc:  # switched again, or the build removed, mid-load
            log.warning("could not load the new index snapshot yet (%s); still answering from the old one",
                        type(exc).__name__)
            return None
        # A Chroma server stays the same collection (its hits are held to the snapshot's ids: Retriever).
        dense = retriever.store if isinstance(retriever.store, VectorStore) else open_dense(settings, lexical,
                                                                                          retriever.embedder)
        log.info("moved to index snapshot %s", lexical.fingerprint[:12])
        return Retriever(dense, lexical, retriever.embedder)

    return newer


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
    databases: tuple[tuple[str, str], ...] = ()  # (file name, PRAGMA integrity_check result) per SQLite file

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
            *((f"integrity of {name}", result) for name, result in self.databases),
        ]


def index_stats(settings: Settings, store: VectorStore) -> IndexStats:
    state = IndexState(settings.state_db, settings.collection_name)
    try:
        records = state.records()
    finally:
        state.close()
    ids = {i for r in records.values() for i in r.chunk_ids}
    chunks = store.count()
    # In step: the store holds exactly the chunks the state committed (a count alone misses a crash
    # between storing a file's new chunks and committing its row), and BM25 was built from them.
    in_step = (chunks == len(ids) and store.all_ids() == ids
               and current_fingerprint(settings.bm25_dir) == fingerprint(ids))
    return IndexStats(
        documents=len({r.doc_id for r in records.values()}),
        files=len(records),
        chunks=chunks,
        lexical_chunks_in_step=in_step,
        model=f"{settings.model_name} ({settings.resolved_model_path()})",
        collection=settings.collection_name,
        store=settings.store_location,
        last_indexed=max((r.indexed_at for r in records.values()), default=""),
        databases=tuple((path.name, integrity(path)) for path in (settings.state_db, settings.register_db,
                                                                  settings.audit_db) if path.is_file()),
    )


def integrity(path: Path) -> str:
    """SQLite's own check of one database file: "ok", or what it found (first lines)."""
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = [row[0] for row in db.execute("PRAGMA integrity_check")]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return f"FAILED: {exc}"
    return "ok" if found == ["ok"] else "FAILED: " + "; ".join(found[:3])


def build_assistant(settings: Settings, embedder=None, llm: str | None = None):
    """The assistant over the built index: what every front end calls once at start-up.

    ``llm`` overrides ``settings.llm`` (e.g. the evals comparing modes).
    """
    from bot.core.assistant import AnswerPolicy, Assistant

    retriever = open_retriever(settings, embedder)
    policy = AnswerPolicy() if settings.min_evidence is None else AnswerPolicy(min_evidence=settings.min_evidence)
    generator = None
    spec = llm if llm is not None else settings.llm
    if spec:
        from bot.core.generative import make_generator

        generator = make_generator(spec, base_url=settings.llm_base_url, api_key=settings.llm_api_key,
                                   timeout=settings.llm_timeout, idf=retriever.lexical.idf)
    register = None
    if settings.register_db.is_file():
        from bot.core.register import RegisterStore

        register = RegisterStore(settings.register_db)
    from bot.core.guards import Guard
    from bot.core.nlp import load_pipeline
    from bot.core.query import model_words

    known_words = model_words(settings.resolved_model_path())
    # The guard's language model loads on the first question, not here (see Guard).
    guard = Guard(load_pipeline, retriever.lexical.gazetteer, known_words)
    from bot.core.guards import SIGNALS
    from bot.core.lookup_model import LookupModel

    from bot.core.review_dates import ReviewCalculator

    return Assistant(retriever, policy, generator=generator, max_marking=settings.max_marking, register=register,
                     known_words=known_words, guard=guard, lookup=LookupModel.load(settings.model_name, signals=SIGNALS),
                     calculator=ReviewCalculator(retriever.lexical), follow=follow_index(settings))
