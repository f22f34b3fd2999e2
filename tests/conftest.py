"""Shared fixtures: one real embedding model per test session, temporary indexes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.index import make_embedder, open_store
from bot.settings import load_settings
from ingest.pipeline import run_ingest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
MOPI = str(Path(sys.executable).parent / "mopi")


@pytest.fixture(scope="session")
def embedder():
    """The real bundled model, loaded once for the whole session: the reference sentence-transformers
    embedder, whatever ONNX export ./.mopi may hold (tests/test_onnx_embedder.py compares the two)."""
    emb = make_embedder(load_settings({"MOPI_EMBEDDER": "sentence-transformers"}))
    emb.model  # noqa: B018 - load now so test timings are not skewed by the first test
    return emb


@pytest.fixture
def settings(tmp_path):
    # sentence-transformers: an embedder made from these settings never writes an ONNX export.
    return load_settings({"MOPI_EMBEDDER": "sentence-transformers"}, home=tmp_path / "home",
                         corpus_dir=tmp_path / "corpus")


@pytest.fixture
def ingest(settings, embedder):
    """Run an ingest into the test's own index; returns the report."""

    def _run(*paths, settings=settings, embedder=embedder):
        store = open_store(settings, embedder)
        return run_ingest(list(paths) or [settings.corpus_dir], settings, store=store, embedder=embedder)

    return _run


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory, embedder):
    """The real corpus, ingested once per session into an embedded Chroma."""
    home = tmp_path_factory.mktemp("corpus-index")
    settings = load_settings({}, home=home, corpus_dir=CORPUS)
    report = run_ingest([CORPUS], settings, store=open_store(settings, embedder), embedder=embedder)
    assert not report.failures, report.failures
    return settings


def write_doc(folder: Path, name: str, doc_id: str, body: str, status: str = "current", **extra) -> Path:
    """A Markdown document with front matter."""
    folder.mkdir(parents=True, exist_ok=True)
    fields = {"id": doc_id, "title": f"Title of {doc_id}", "status": status, "doc_type": "app",
              "source_url": f"https://example.org/{doc_id}", **extra}
    front = "\n".join(f"{k}: {v}" for k, v in fields.items())
    path = folder / name
    path.write_text(f"---\n{front}\n---\n\n{body}", encoding="utf-8")
    return path


MARKED_QUESTION = "how often are covert source records reviewed by the dedicated source unit?"


def marked_index(tmp_path: Path, embedder):
    """A two-document index, one document OFFICIAL-SENSITIVE, both answering MARKED_QUESTION."""
    corpus = tmp_path / "corpus"
    write_doc(corpus, "open.md", "open-doc", "## 1. Review\n\nRecords are reviewed every ten years by the unit.\n")
    write_doc(corpus, "sensitive.md", "sensitive-doc",
              "## 1. Covert review\n\nCovert source records are reviewed every ten years by the dedicated source unit.\n",
              protective_marking="OFFICIAL-SENSITIVE")
    settings = load_settings({}, home=tmp_path / "home", corpus_dir=corpus)
    run_ingest([corpus], settings, store=open_store(settings, embedder), embedder=embedder)
    return settings


def mopi_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOPI_", "SLACK_"))}
    env.update({"MOPI_HOME": str(home), **extra})
    return env


def run_mopi(*args: str, home: Path, cwd: Path = ROOT, timeout: float = 240, input: str = "", **env: str):
    return subprocess.run([MOPI, *args], cwd=cwd, env=mopi_env(home, **env), capture_output=True,
                          text=True, timeout=timeout, input=input)


def chroma_binary() -> str:
    path = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert path, "the chroma CLI ships with chromadb and should be in the venv"
    return path
