"""Ingest killed at every boundary (MOPI_FAULT): the old index still answers, `mopi index stats` tells the
truth, and the next ingest ends exactly where a clean one would."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from bot.core.index import open_store
from bot.core.lexical import LexicalIndex, current_fingerprint, fingerprint
from bot.core.onnx_embedder import export_onnx
from bot.core.register import RegisterStore
from bot.core.vectorstore import forget_open_clients
from bot.settings import FAULT_POINTS, load_settings
from ingest.pipeline import run_ingest
from tests.conftest import CORPUS, run_mopi
from tests.test_ingest_crash_and_server import expected_ids

pytestmark = pytest.mark.slow

# Enough for the register's sources to validate; small enough to re-ingest in seconds.
DOCS = ["app-retention-review-disposal.md", "app-sharing-police-information.md", "mopi-glossary.md",
        "hmic-building-the-picture-2015.md", "lancashire-progress-report-2015.md", "recommendations.yaml"]
CHANGED = "app-sharing-police-information.md"  # not cited by QUESTION, so its answer must not move
QUESTION = "how long is the clear period for Group 3?"
# What `mopi index stats` must say after each crash: a store or BM25 index half-way is named, not hidden.
IN_STEP_AFTER_CRASH = {"before-chunks": True, "after-vectors": False, "bm25-before-swap": False,
                       "bm25-after-swap": True, "register-load": True}


@pytest.fixture(scope="module")
def base(tmp_path_factory, embedder):
    """A corpus folder and its index, built once; each test crashes a copy of the index."""
    root = tmp_path_factory.mktemp("faults")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in DOCS:
        shutil.copy(CORPUS / name, corpus / name)
    home = root / "home"
    settings = load_settings({}, home=home, corpus_dir=corpus)
    # As after any first `mopi ingest`: the ONNX export is there, so the crashed runs embed with it.
    export_onnx(settings.resolved_model_path(), settings.onnx_dir, settings.model_name)
    report = run_ingest([corpus], settings, store=open_store(settings, embedder), embedder=embedder)
    assert not report.failures and report.register
    forget_open_clients()
    return corpus, home


def ask(home: Path) -> list[tuple[str, str]]:
    result = run_mopi("ask", "--json", QUESTION, home=home)
    assert result.returncode == 0, result.stderr
    return [(c["doc_id"], c["section"]) for c in json.loads(result.stdout)["citations"]]


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_crash_at_each_boundary_loses_nothing(base, tmp_path, point):
    corpus, base_home = base
    home = tmp_path / "home"
    shutil.copytree(base_home, home)
    before = ask(home)
    changed = corpus / CHANGED
    original = changed.read_text(encoding="utf-8")
    changed.write_text(original + "\n\nForces should review their sharing agreements every year.\n", encoding="utf-8")
    try:
        crashed = run_mopi("ingest", str(corpus), home=home, MOPI_FAULT=point)
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr
        assert f"MOPI_FAULT={point}" in crashed.stderr

        assert ask(home) == before, "the index left behind answers as before, with the same citations"
        stats = run_mopi("index", "stats", home=home)
        assert stats.returncode == 0, stats.stderr
        assert ("OUT OF STEP" in stats.stdout) == (not IN_STEP_AFTER_CRASH[point]), stats.stdout
        assert "FAILED" not in stats.stdout, "every SQLite file passes its integrity check"
        assert len(RegisterStore(home / "register.sqlite").all()) == 8, "the register is whole"

        recovered = run_mopi("ingest", str(corpus), home=home)
        assert recovered.returncode == 0, recovered.stderr
        # Exactly what a clean ingest of the changed corpus holds (computed apart from the pipeline).
        wanted = expected_ids(corpus)
        settings = load_settings({}, home=home, corpus_dir=corpus)
        forget_open_clients()
        assert open_store(settings, create=False).all_ids() == wanted
        assert set(LexicalIndex.load(settings.bm25_dir).ids) == wanted
        assert current_fingerprint(settings.bm25_dir) == fingerprint(wanted)
        assert "OUT OF STEP" not in run_mopi("index", "stats", home=home).stdout
        assert ask(home) == before
    finally:
        changed.write_text(original, encoding="utf-8")
        forget_open_clients()
