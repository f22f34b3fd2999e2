"""Ingestion: files in, chunks with vectors in Chroma, a BM25 index beside it.

Incremental and crash-safe:

* a file whose fingerprint (bytes + manifest entry + chunking settings) is
  unchanged is skipped without loading the embedding model;
* a changed file embeds only chunks whose content-hash id is not already stored,
  then drops its stale chunks, then commits its state row;
* a removed file's chunks are deleted;
* the BM25 index is rebuilt from the vector store whenever the set of chunk ids
  differs from the one it was built over, and swapped in atomically.

A run killed at any point leaves the previous chunks answering queries; the
next run redoes whatever was not committed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.lexical import LexicalIndex, current_fingerprint, fingerprint
from bot.core.onnx_embedder import finish_ingest, for_ingest
from bot.core.sentence_vectors import SentenceVectorCache, build_matrix
from bot.core.register import SEED_NAME, RegisterError, sync_seed
from bot.errors import MopiError
from bot.settings import Settings
from ingest.chunking import Chunk, chunk_blocks, lexical_passage, passage_text
from ingest.loaders import SUPPORTED_SUFFIXES, load_file
from ingest.metadata import DocMeta, build_meta, load_manifest
from ingest.model import LoadError
from bot.core.state import FileRecord, IndexState

log = logging.getLogger(__name__)

# Bump when loaders or chunking change what a file turns into: every file is then re-chunked.
PIPELINE_VERSION = "4"  # 4: documents carry effective_from and review_due (part of every chunk id)

INDEXED, UNCHANGED, REMOVED, FAILED = "indexed", "unchanged", "removed", "failed"

# New chunks gathered from several files before one embedding call (see _embed_and_commit).
EMBED_GROUP_CHUNKS = 256


@dataclass
class FileOutcome:
    path: str
    status: str
    doc_id: str = ""
    chunks: int = 0
    embedded: int = 0
    reason: str = ""


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    embedded: int = 0
    sentences_embedded: int = 0  # sentence vectors computed (the others came from the cache)
    sentence_embed_seconds: float = 0.0  # their time; embed_seconds is the chunks' alone
    model_loaded: bool = False
    lexical_rebuilt: bool = False
    register: dict[str, int] | None = None  # what loading the recommendation register did
    register_error: str = ""

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failures(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == FAILED]


@dataclass
class _Candidate:
    path: Path
    key: str  # state key: the resolved path
    fingerprint: str = ""
    manifest_entry: dict = field(default_factory=dict)


@dataclass
class _Prepared:
    candidate: _Candidate
    meta: DocMeta
    chunks: list[Chunk]
    missing: list[Chunk]  # chunks whose ids are not in the store yet


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[FileOutcome]]:
    """Supported files under ``paths`` (sorted), plus failures for paths that cannot be used."""
    found: set[Path] = set()
    problems: list[FileOutcome] = []
    for root in paths:
        if root.is_dir():
            for path in root.rglob("*"):
                rel = path.relative_to(root).parts
                if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES and not any(p.startswith(".") for p in rel):
                    found.add(path)
        elif root.is_file():
            found.add(root)  # named explicitly: an unsupported type is reported, not skipped
        else:
            problems.append(FileOutcome(str(root), FAILED, reason="no such file or directory"))
    return sorted(found), problems


def run_ingest(
    paths: Sequence[Path],
    settings: Settings,
    *,
    store,
    embedder,
    on_plan: Callable[[int], None] | None = None,
    on_file: Callable[[FileOutcome], None] | None = None,
) -> IngestReport:
    """Bring the index in step with the files under ``paths``.

    ``store`` is a VectorStore and ``embedder`` a LangChain Embeddings; both are
    passed in so tests and benchmarks can share one loaded model.

    When ``embedder`` is sentence-transformers standing in for a missing ONNX export
    (see bot.core.onnx_embedder.choose_embedder), the export is written as soon as the
    model loads, and the rest of the run embeds with the faster of the two; a run that
    embeds nothing writes a missing export at the end. A failed export is logged and
    changes nothing else; a killed one leaves no partial export.
    """
    started = time.perf_counter()
    report = IngestReport()
    settings.home.mkdir(parents=True, exist_ok=True)
    work = for_ingest(embedder)
    with _exclusive(settings.home / "ingest.lock"):
        state = IndexState(settings.state_db, store.collection_name)
        try:
            _Run(settings, store, work, state, report, on_file).execute(paths, on_plan)
        finally:
            state.close()
        finish_ingest(work)
    report.seconds = time.perf_counter() - started
    report.model_loaded = bool(getattr(embedder, "loaded", True))
    return report


class _Run:
    def __init__(self, settings: Settings, store, embedder, state: IndexState, report: IngestReport, on_file):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.state = state
        self.report = report
        self.on_file = on_file or (lambda outcome: None)
        self.records: dict[str, FileRecord] = state.records()
        self._manifests: dict[Path, dict[str, dict]] = {}
        self._pending_doc_ids: dict[str, str] = {}  # prepared, not yet committed: doc id -> state key

    def execute(self, paths: Sequence[Path], on_plan) -> None:
        files, problems = discover(paths)
        for outcome in problems:
            self._emit(outcome)
        roots = [p.resolve() for p in paths]
        candidates = [self._candidate(path) for path in files]
        candidates = [c for c in candidates if c is not None]
        present_keys = {c.key for c in candidates}

        stale_store = self._store_out_of_step()
        if stale_store:
            log.warning("vector store out of step with the ingest state; reconciling")
        todo: list[_Candidate] = []
        for cand in candidates:
            record = self.records.get(cand.key)
            if record and record.fingerprint == cand.fingerprint and cand.key not in stale_store:
                self._emit(FileOutcome(str(cand.path), UNCHANGED, record.doc_id, len(record.chunk_ids)))
            else:
                todo.append(cand)
        removed = [
            key for key in self.records
            if key not in present_keys and any(Path(key).is_relative_to(root) for root in roots)
        ]
        if on_plan:
            on_plan(len(todo) + len(removed))

        # Removals first, so a document renamed in this run does not clash with itself.
        for key in removed:
            record = self.records.pop(key)
            self.store.delete(record.chunk_ids)
            self.state.remove(key)
            self._emit(FileOutcome(key, REMOVED, record.doc_id, len(record.chunk_ids)))
        # Files are prepared one by one but embedded in groups: one encode call over many
        # files sorts all their passages by length, which pads far less than per-file calls.
        group: list[_Prepared] = []
        for cand in todo:
            prepared = self._prepare(cand)
            if isinstance(prepared, FileOutcome):
                self._emit(prepared)
                continue
            group.append(prepared)
            if sum(len(p.missing) for p in group) >= EMBED_GROUP_CHUNKS:
                self._embed_and_commit(group)
                group = []
        self._embed_and_commit(group)

        expected = self._expected_ids()
        if todo or removed or stale_store or self.store.count() != len(expected):
            extra = self.store.all_ids() - expected
            if extra:  # chunks left by a run killed before it committed, or by a file since removed
                self.store.delete(extra)
        if current_fingerprint(self.settings.bm25_dir) != fingerprint(expected):
            self._rebuild_lexical(expected)
        self._sync_register(paths)

    def _sync_register(self, paths: Sequence[Path]) -> None:
        """Load the recommendation register's seed, checked against the documents just indexed."""
        seeds = [p / SEED_NAME for p in paths if (p / SEED_NAME).is_file()]
        if not seeds:
            return
        try:
            self.report.register = sync_seed(seeds[0], self.settings.register_db, LexicalIndex.load(self.settings.bm25_dir),
                                             during=lambda: self._fault("register-load"))
        except (RegisterError, MopiError) as exc:
            self.report.register_error = str(exc)

    # -- one file -------------------------------------------------------------------------

    def _candidate(self, path: Path) -> _Candidate | None:
        cand = _Candidate(path=path, key=str(path.resolve()))
        try:
            size_mb = path.stat().st_size / 1_000_000
            if size_mb > self.settings.max_file_mb:
                raise LoadError(f"file is {size_mb:.1f} MB, over the {self.settings.max_file_mb:g} MB limit (MOPI_MAX_FILE_MB)")
            cand.manifest_entry = self._manifest_for(path.parent).get(path.name, {})
            digest = hashlib.sha256(path.read_bytes())
        except (LoadError, OSError) as exc:
            self._emit(FileOutcome(str(path), FAILED, reason=_reason(exc)))
            return None
        digest.update(json.dumps(
            [cand.manifest_entry, self.settings.chunk_words, self.settings.chunk_overlap_words, PIPELINE_VERSION],
            sort_keys=True, default=str,
        ).encode())
        cand.fingerprint = digest.hexdigest()
        return cand

    def _manifest_for(self, folder: Path) -> dict[str, dict]:
        # Read once per folder per run; a broken manifest fails each file it would describe.
        if folder not in self._manifests:
            self._manifests[folder] = load_manifest(folder)
        return self._manifests[folder]

    def _prepare(self, cand: _Candidate) -> _Prepared | FileOutcome:
        """Load, describe and chunk one file, and find which chunks need embedding."""
        try:
            loaded = load_file(cand.path)
            # Front matter beats the manifest, which beats what other loaders guess (e.g. an HTML <title>).
            is_markdown = cand.path.suffix.lower() in (".md", ".markdown")
            hints, front_matter = ({}, loaded.metadata) if is_markdown else (loaded.metadata, {})
            meta = build_meta({**hints, **cand.manifest_entry, **front_matter})
            self._check_unique(meta.id, cand.key)
            chunks = chunk_blocks(meta, loaded.blocks, self.settings.chunk_words, self.settings.chunk_overlap_words)
            if not chunks:
                raise LoadError("no text to index")
        except LoadError as exc:
            kept = " (previous version kept in the index)" if cand.key in self.records else ""
            return FileOutcome(str(cand.path), FAILED, reason=_reason(exc) + kept)
        present = self.store.present([c.id for c in chunks])
        self._pending_doc_ids[meta.id] = cand.key
        return _Prepared(cand, meta, chunks, [c for c in chunks if c.id not in present])

    def _embed_and_commit(self, group: list[_Prepared]) -> None:
        """Embed a group's new chunks in one call, then store and commit each file in turn.

        A file's state row is written only after its chunks are stored and its
        stale chunks deleted: that order is what makes a killed run recoverable.
        """
        passages = [passage_text(p.meta.title, c.heading_path, c.text) for p in group for c in p.missing]
        vectors: list[list[float]] = []
        if passages:
            started = time.perf_counter()
            vectors = self.embedder.embed_documents(passages)
            self.report.embed_seconds += time.perf_counter() - started
            self.report.embedded += len(passages)
        offset = 0
        for prepared in group:
            cand, meta, missing = prepared.candidate, prepared.meta, prepared.missing
            path = str(cand.path)
            self._fault("before-chunks")
            self.store.upsert([c.id for c in missing], vectors[offset:offset + len(missing)],
                              [c.text for c in missing], [chunk_metadata(meta, c, path) for c in missing])
            offset += len(missing)
            ids = [c.id for c in prepared.chunks]
            old = self.records.get(cand.key)
            if old:
                self.store.delete(set(old.chunk_ids) - set(ids))
            self._fault("after-vectors")
            self.state.put(cand.key, cand.fingerprint, meta.id, ids)
            self.records[cand.key] = FileRecord(cand.key, cand.fingerprint, meta.id, tuple(ids), "")
            self._pending_doc_ids.pop(meta.id, None)
            self._emit(FileOutcome(path, INDEXED, meta.id, len(ids), len(missing)))

    def _check_unique(self, doc_id: str, key: str) -> None:
        owners = [k for k, r in self.records.items() if r.doc_id == doc_id]
        owners.append(self._pending_doc_ids.get(doc_id, key))
        for other_key in owners:
            if other_key != key:
                raise LoadError(f"duplicate document id {doc_id!r}: already used by {other_key}")

    # -- whole index --------------------------------------------------------------------

    def _expected_ids(self) -> set[str]:
        """Every chunk id the committed state says the store should hold."""
        return {i for r in self.records.values() for i in r.chunk_ids}

    def _store_out_of_step(self) -> set[str]:
        """State keys whose chunks are missing from the store (e.g. the store was wiped)."""
        if self.store.count() == len(self._expected_ids()):
            return set()
        stored = self.store.all_ids()
        return {key for key, r in self.records.items() if not set(r.chunk_ids) <= stored}

    def _rebuild_lexical(self, expected: set[str]) -> None:
        rows = [row for row in self.store.all_records() if row[0] in expected]
        rows.sort(key=lambda r: (r[2].get("doc_id", ""), r[2].get("ordinal", 0)))
        texts = [r[1] for r in rows]
        # Sentence vectors for the reranker: embedded by the model this ingest already holds,
        # only for sentences the cache has not seen (an unchanged sentence is never re-embedded).
        cache = SentenceVectorCache(self.settings.sentence_cache_db)
        try:
            started = time.perf_counter()
            matrix, offsets, embedded = build_matrix(texts, self.embedder, cache)
            self.report.sentence_embed_seconds += time.perf_counter() - started
            self.report.sentences_embedded += embedded
        finally:
            cache.close()
        index = LexicalIndex.build(
            ids=[r[0] for r in rows], texts=texts, metadatas=[r[2] for r in rows],
            passages=[lexical_passage(r[2].get("title", ""), r[2].get("heading_path", ""), r[2].get("section", ""), r[1])
                      for r in rows],
            sentence_vectors=matrix, sentence_offsets=offsets, chunk_vectors=[r[3] for r in rows],
        )
        index.save(self.settings.bm25_dir, on_staged=lambda: self._fault("bm25-before-swap"),
                   on_switched=lambda: self._fault("bm25-after-swap"))
        self.report.lexical_rebuilt = True

    def _fault(self, point: str) -> None:
        """Die here, as a crash would (no clean-up, no flush), when MOPI_FAULT names this point."""
        if self.settings.fault == point:
            log.warning("MOPI_FAULT=%s: killing the ingest", point)
            os.kill(os.getpid(), signal.SIGKILL)

    def _emit(self, outcome: FileOutcome) -> None:
        self.report.outcomes.append(outcome)
        # The front end shows failures to the user; the log keeps the trail.
        log.info("%s %s %s", outcome.status, outcome.path, outcome.reason)
        self.on_file(outcome)


def chunk_metadata(meta: DocMeta, chunk: Chunk, source_path: str) -> dict:
    """Everything a citation needs, flat (Chroma metadata holds scalars only)."""
    data = {
        "doc_id": meta.id,
        "title": meta.title,
        "doc_type": meta.doc_type,
        "status": meta.status,
        "supersedes": ",".join(meta.supersedes),
        "protective_marking": meta.protective_marking,
        "source_url": meta.source_url,
        "publisher": meta.publisher,
        "section": chunk.section,
        "section_number": chunk.section_number,
        "heading_path": chunk.heading_path,
        "kind": chunk.kind,
        "ordinal": chunk.ordinal,
        "source_path": source_path,
    }
    if chunk.page is not None:
        data["page"] = chunk.page
    data |= {name: value for name in ("effective_from", "review_due") if (value := getattr(meta, name))}
    return data


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MopiError("another ingest is already running on this index; try again when it finishes") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
