"""Ingest killed part-way, and the same code against a real Chroma server."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from bot.core.index import index_stats, open_store
from bot.core.lexical import LexicalIndex
from bot.core.retrieval import Retriever
from bot.core.vectorstore import forget_open_clients
from bot.settings import load_settings
from ingest.chunking import chunk_blocks
from ingest.loaders import load_file
from ingest.metadata import build_meta
from ingest.pipeline import INDEXED, UNCHANGED
from tests.conftest import CORPUS, MOPI, chroma_binary, mopi_env, run_mopi

pytestmark = pytest.mark.slow

DOCS = ["app-retention-review-disposal.md", "app-sharing-police-information.md",
        "code-of-practice-mopi-2005.md", "code-of-practice-information-records-2023.md", "mopi-glossary.md"]


def expected_ids(folder: Path) -> set[str]:
    """What a clean ingest of ``folder`` must hold, computed independently of the pipeline."""
    settings = load_settings({})
    ids = set()
    for path in sorted(folder.glob("*.md")):
        loaded = load_file(path)
        chunks = chunk_blocks(build_meta(loaded.metadata), loaded.blocks, settings.chunk_words,
                              settings.chunk_overlap_words)
        ids |= {c.id for c in chunks}
    return ids


def test_ingest_killed_midway_keeps_answering_and_next_run_completes(tmp_path, ingest, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in DOCS:
        shutil.copy(CORPUS / name, corpus / name)
    settings = load_settings({}, home=tmp_path / "home", corpus_dir=corpus)
    ingest(corpus, settings=settings)
    old_ids = expected_ids(corpus)

    # Change every document's metadata, so every chunk must be embedded again.
    for path in corpus.glob("*.md"):
        path.write_text(path.read_text().replace("protective_marking: OFFICIAL", "protective_marking: OFFICIAL\npublished: 2026"))
    new_ids = expected_ids(corpus)
    assert not new_ids & old_ids

    proc = subprocess.Popen([MOPI, "ingest", str(corpus)], env=mopi_env(settings.home), stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    committed = []
    for line in proc.stderr:
        if line.startswith("indexed"):
            committed.append(line.split()[1])
            proc.send_signal(signal.SIGKILL)  # mid-ingest: later files not started, no clean-up
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL and len(committed) == 1

    # This process still holds its own view of the store from before; read afresh, as a new process would.
    forget_open_clients()

    # The index still answers, from both retrievers, in a new process and in this one.
    answered = run_mopi("search", "how long is the clear period for group 3", home=settings.home)
    assert answered.returncode == 0 and "Group 3" in answered.stdout, answered.stderr
    store = open_store(settings, embedder)
    retriever = Retriever(store, LexicalIndex.load(settings.bm25_dir), embedder)
    hits = retriever.search("how long is the clear period for group 3", k=5)
    assert hits and all(h.id in old_ids | new_ids for h in hits)
    assert any(h.dense_rank for h in hits) and any(h.lexical_rank for h in hits)

    report = ingest(corpus, settings=settings)
    statuses = {Path(o.path).name: o.status for o in report.outcomes}
    assert statuses[Path(committed[0]).name] == UNCHANGED
    # The kill lands within milliseconds of the first commit, so a second file may have committed too;
    # what matters is that the run was cut short and this run finished it.
    assert set(statuses.values()) <= {INDEXED, UNCHANGED} and INDEXED in statuses.values()
    assert store.all_ids() == new_ids, "no chunk of the old version survives, none of the new is missing"
    assert set(LexicalIndex.load(settings.bm25_dir).ids) == new_ids
    assert index_stats(settings, store).lexical_chunks_in_step


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([chroma_binary(), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("chroma server did not start")
            time.sleep(0.2)
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def test_same_code_against_a_chroma_server(tmp_path, chroma_server, ingest, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "app-retention-review-disposal.md", corpus)
    env = {"MOPI_CHROMA_HOST": "127.0.0.1", "MOPI_CHROMA_PORT": str(chroma_server)}
    settings = load_settings(env, home=tmp_path / "home", corpus_dir=corpus)
    assert settings.store_location == f"chroma server http://127.0.0.1:{chroma_server}"

    report = ingest(corpus, settings=settings)
    assert [o.status for o in report.outcomes] == [INDEXED]
    assert not (settings.home / "chroma").exists(), "nothing written to the embedded store"
    store = open_store(settings, embedder)
    assert store.all_ids() == expected_ids(corpus)

    hits = Retriever(store, LexicalIndex.load(settings.bm25_dir), embedder).search("Group 3 clear period", k=3)
    assert any(h.metadata["section_number"] == "5.4" for h in hits)

    again = run_mopi("ingest", str(corpus), home=settings.home, **env)
    assert again.returncode == 0, again.stderr
    assert "│       0 │         1 │       0 │      0 │" in again.stdout  # indexed 0, unchanged 1
    stats = run_mopi("index", "stats", home=settings.home, **env)
    assert f"http://127.0.0.1:{chroma_server}" in stats.stdout and str(len(store.all_ids())) in stats.stdout
