"""The `mopi` command as a user runs it."""

from __future__ import annotations

import pytest

from tests.conftest import run_mopi, write_doc

pytestmark = pytest.mark.slow


def test_help_lists_the_commands(tmp_path):
    result = run_mopi("--help", home=tmp_path)
    assert result.returncode == 0
    for command in ("ingest", "index", "search"):
        assert command in result.stdout


def test_stats_before_any_ingest_is_a_clear_error(tmp_path):
    result = run_mopi("index", "stats", home=tmp_path / "empty")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no index") and "mopi ingest" in result.stderr
    assert "Traceback" not in result.stderr


def test_ingest_summary_and_strict_exit_code(tmp_path):
    corpus = tmp_path / "corpus"
    write_doc(corpus, "good.md", "good-doc", "## 1. A\n\nRecords are reviewed.\n")
    (corpus / "broken.pdf").write_bytes(b"not a pdf at all")
    (corpus / "manifest.yaml").write_text("documents:\n  broken.pdf: {id: broken, title: B, status: current}\n")

    strict = run_mopi("ingest", str(corpus), "--strict", home=tmp_path / "home")
    assert strict.returncode == 1
    assert "Ingest summary" in strict.stdout
    assert "│       1 │         0 │       0 │      1 │" in strict.stdout  # indexed, unchanged, removed, failed
    assert "broken.pdf: not a readable PDF" in strict.stderr

    lenient = run_mopi("ingest", str(corpus), home=tmp_path / "home")
    assert lenient.returncode == 0
    assert "│       0 │         1 │       0 │      1 │" in lenient.stdout
