"""The plain LangChain recipe, as a row in every evaluation: what the product has to beat.

Each corpus document is loaded as text (the project's own loaders and metadata,
so both read the same words), split with ``RecursiveCharacterTextSplitter(1000,
200)``, embedded with the product's own embedder into an in-memory Chroma, and
searched with ``similarity_search(k=4)``. The answer is the top chunk's text,
cited once; it never refuses and knows no sections. Only retrieval is shared
with the product (the same embedding model and the same protective-marking
rule), so the gap between the two rows is what the product's own retrieval,
answering and refusing add.

    baseline = LangChainBaseline.from_corpus(Path("corpus"), make_embedder(settings))
    answer = baseline.ask("how long do we keep a Group 3 record?")   # a bot.core.models.Answer
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core.models import Answer, Citation, Diagnostics

log = logging.getLogger(__name__)

NAME = "langchain-baseline"
CHUNK_SIZE = 1000  # characters: RecursiveCharacterTextSplitter's usual tutorial settings
CHUNK_OVERLAP = 200
TOP_K = 4  # similarity_search's default k


@dataclass(frozen=True)
class BaselineDoc:
    """One document as the baseline sees it: its whole text and the metadata a citation needs."""

    doc_id: str
    title: str
    url: str
    status: str
    protective_marking: str
    text: str


def load_documents(corpus_dir: Path) -> tuple[list[BaselineDoc], list[str]]:
    """Every indexable file under ``corpus_dir`` as one text, and a line per file that could not be read.

    Same files, loaders and metadata precedence as ingest.pipeline (front matter
    beats the manifest, which beats a loader's guesses), so both rows answer
    from the same documents.
    """
    from ingest.loaders import load_file
    from ingest.metadata import build_meta, load_manifest
    from ingest.model import LoadError
    from ingest.pipeline import discover

    paths, problems = discover([corpus_dir])
    skipped = [f"{p.path}: {p.reason}" for p in problems]
    manifests: dict[Path, dict[str, dict]] = {}
    docs = []
    for path in paths:
        try:
            if path.parent not in manifests:
                manifests[path.parent] = load_manifest(path.parent)
            loaded = load_file(path)
            is_markdown = path.suffix.lower() in (".md", ".markdown")
            hints, front_matter = ({}, loaded.metadata) if is_markdown else (loaded.metadata, {})
            meta = build_meta({**hints, **manifests[path.parent].get(path.name, {}), **front_matter})
        except LoadError as exc:
            skipped.append(f"{path}: {exc}")
            continue
        text = "\n\n".join(block.text for block in loaded.blocks if block.text.strip())
        docs.append(BaselineDoc(meta.id, meta.title, meta.source_url, meta.status, meta.protective_marking, text))
    return docs, skipped


class LangChainBaseline:
    """Top-4 similarity search over recursive character chunks; the top chunk is the answer."""

    def __init__(self, docs: Sequence[BaselineDoc], embedder, max_marking: str = "OFFICIAL"):
        import chromadb
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from bot.core.embedder import as_langchain
        from bot.core.retrieval import allowed_markings

        self.max_marking = max_marking
        # The product's marking rule, applied the product's way: in the search, before ranking,
        # so a document above the ceiling is never even a candidate.
        self._where = {"protective_marking": {"$in": list(allowed_markings(max_marking))}}
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
        ids, texts, metadatas = [], [], []
        for doc in docs:
            for n, chunk in enumerate(splitter.split_text(doc.text)):
                ids.append(f"baseline:{doc.doc_id}#{n}")
                texts.append(chunk)
                metadatas.append({"doc_id": doc.doc_id, "title": doc.title, "url": doc.url, "status": doc.status,
                                  "protective_marking": doc.protective_marking})
        self._texts = dict(zip(ids, texts))
        # EphemeralClients in one process share one in-memory system, hence a collection of its own.
        # Chroma gets no embedding function of its own: LangChain embeds with ours and passes vectors.
        self.store = Chroma(collection_name=f"baseline-{uuid.uuid4().hex}", embedding_function=as_langchain(embedder),
                            client=chromadb.EphemeralClient())
        if texts:
            self.store.add_texts(texts, metadatas=metadatas, ids=ids)
        log.info("baseline: %d documents, %d chunks", len(docs), len(texts))

    @classmethod
    def from_corpus(cls, corpus_dir: Path, embedder, max_marking: str = "OFFICIAL") -> LangChainBaseline:
        docs, skipped = load_documents(Path(corpus_dir))
        for line in skipped:
            log.warning("baseline skipped %s", line)
        return cls(docs, embedder, max_marking)

    def chunk_text(self, chunk_id: str) -> str | None:
        return self._texts.get(chunk_id)

    def ask(self, question: str) -> Answer:
        hits = self.store.similarity_search(question, k=TOP_K, filter=self._where) if self._texts else []
        retrieved = tuple({"id": h.id, "doc_id": h.metadata["doc_id"], "section": "", "section_number": ""}
                          for h in hits)
        citations: tuple[Citation, ...] = ()
        if hits:
            top = hits[0]
            meta = top.metadata
            citations = (Citation(1, meta["doc_id"], meta["title"], "", None, meta["url"], meta["status"],
                                  top.page_content, chunk_id=top.id or ""),)
        return Answer(question, hits[0].page_content if hits else "", False, NAME, citations,
                      diagnostics=Diagnostics(retrieved=retrieved))
