"""Sentence-transformers embeddings, loaded offline from a local model folder.

torch and sentence-transformers are imported on first use, never at import time,
so commands that do not embed (``--help``, an unchanged re-ingest) stay fast.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from typing import Protocol

from bot.errors import ConfigError

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What the core embeds with: LangChain's ``Embeddings`` interface (the two methods), without
    importing LangChain, which costs a cold question 0.3 s (``langchain_core.embeddings`` pulls in
    its runnables); ``as_langchain`` makes one a LangChain object where LangChain itself needs it."""

    name: str

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


def as_langchain(embedder: Embedder):
    """``embedder`` as a LangChain ``Embeddings`` (for langchain_chroma in the LangChain baseline)."""
    from langchain_core.embeddings import Embeddings

    if isinstance(embedder, Embeddings):
        return embedder

    class _LangChainEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_documents(list(texts))

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text)

    return _LangChainEmbeddings()


class SentenceTransformerEmbedder:
    """An ``Embedder`` over a local sentence-transformers model (normalised vectors).

    ``onnx_export_dir``: where ingest should write the ONNX export of this model once it
    is loaded (set when this embedder stands in for a missing export; see
    bot.core.onnx_embedder.for_ingest).
    """

    def __init__(self, model_path: Path, name: str, batch_size: int = 32, onnx_export_dir: Path | None = None):
        self.model_path = Path(model_path)
        self.name = name
        self.batch_size = batch_size
        self.onnx_export_dir = Path(onnx_export_dir) if onnx_export_dir is not None else None
        self._model = None
        self._loading = threading.Lock()  # a warm-up thread and a question may both ask for it

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self):
        with self._loading:
            return self._load()

    def _load(self):
        if self._model is None:
            if not (self.model_path / "config.json").is_file() and not (self.model_path / "modules.json").is_file():
                raise ConfigError(f"no sentence-transformers model at {self.model_path} (check MOPI_MODEL_PATH)")
            # The machine reaches no model hub: make any accidental hub call fail fast.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            started = time.perf_counter()
            from bot.core.nlp import TORCH_IMPORT

            with TORCH_IMPORT:  # never while the guard's spaCy import hides torch (see bot.core.nlp)
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI and in logs
            self._model = SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
            log.info("embedding model %s loaded in %.2fs", self.name, time.perf_counter() - started)
        return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
