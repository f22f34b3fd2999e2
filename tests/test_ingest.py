"""Ingestion end to end on real files, a real model and an embedded Chroma."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.index import index_stats, make_embedder, open_store
from bot.core.lexical import LexicalIndex
from bot.core.retrieval import Retriever
from ingest.chunking import Chunk
from ingest.metadata import build_meta
from ingest.pipeline import FAILED, INDEXED, REMOVED, UNCHANGED, chunk_metadata
from tests.conftest import write_doc

GROUP3 = """# Retention

## 5. Record groups

### 5.4 Group 3 – All other offences
**Rule.** A 6-year clear period applies to Group 3 records.

## 6. Disposal

6.1 **Deletion.** Check every system before deleting a record.
"""

SHARING = """# Sharing

## 2. Agreements

2.1 **ISAs.** An information sharing agreement records the lawful basis for sharing.
"""


def outcomes(report) -> dict[str, str]:
    return {Path(o.path).name: o.status for o in report.outcomes}


def stored(settings, embedder) -> dict[str, dict]:
    store = open_store(settings, embedder)
    return {i: meta for i, _, meta, _ in store.all_records()}


def test_chunks_carry_citation_metadata(settings, ingest, embedder):
    write_doc(settings.corpus_dir, "retention.md", "retention-app", GROUP3, supersedes="[old-app]",
              protective_marking="OFFICIAL-SENSITIVE")
    report = ingest()
    assert outcomes(report) == {"retention.md": INDEXED}
    metas = list(stored(settings, embedder).values())
    group3 = next(m for m in metas if m["section_number"] == "5.4")
    assert group3 == group3 | {
        "doc_id": "retention-app", "title": "Title of retention-app", "doc_type": "app", "status": "current",
        "supersedes": "old-app", "protective_marking": "OFFICIAL-SENSITIVE",
        "source_url": "https://example.org/retention-app",
        "section": "5.4 Group 3 – All other offences",
        "heading_path": "5. Record groups > 5.4 Group 3 – All other offences",
    }
    assert "page" not in group3  # only PDFs have pages


def test_reingest_is_idempotent_and_does_not_load_the_model(settings, ingest, embedder):
    write_doc(settings.corpus_dir, "retention.md", "retention-app", GROUP3)
    write_doc(settings.corpus_dir, "sharing.md", "sharing-app", SHARING)
    first = ingest()
    before = stored(settings, embedder)

    fresh = make_embedder(settings)  # not loaded yet
    again = ingest(embedder=fresh)
    assert outcomes(again) == {"retention.md": UNCHANGED, "sharing.md": UNCHANGED}
    assert again.embedded == 0 and not fresh.loaded and not again.lexical_rebuilt
    assert stored(settings, embedder) == before
    assert first.embedded == len(before)


def test_changed_file_reembeds_only_its_changed_chunks(settings, ingest, embedder):
    path = write_doc(settings.corpus_dir, "retention.md", "retention-app", GROUP3)
    write_doc(settings.corpus_dir, "sharing.md", "sharing-app", SHARING)
    ingest()
    before = set(stored(settings, embedder))

    path.write_text(path.read_text().replace("Check every system", "Check each system"), encoding="utf-8")
    report = ingest()
    assert outcomes(report) == {"retention.md": INDEXED, "sharing.md": UNCHANGED}
    assert report.embedded == 1, "only the edited section is embedded again"
    after = stored(settings, embedder)
    assert len(after) == len(before) and len(set(after) - before) == 1
    lexical = LexicalIndex.load(settings.bm25_dir)
    assert set(lexical.ids) == set(after)
    assert any("Check each system" in t for t in lexical.texts)
    assert not any("Check every system" in t for t in lexical.texts)


def test_removed_file_leaves_both_indexes(settings, ingest, embedder):
    write_doc(settings.corpus_dir, "retention.md", "retention-app", GROUP3)
    gone = write_doc(settings.corpus_dir, "sharing.md", "sharing-app", SHARING)
    ingest()
    gone.unlink()
    report = ingest()
    assert outcomes(report) == {"retention.md": UNCHANGED, "sharing.md": REMOVED}
    assert {m["doc_id"] for m in stored(settings, embedder).values()} == {"retention-app"}
    lexical = LexicalIndex.load(settings.bm25_dir)
    assert {m["doc_id"] for m in lexical.metadatas} == {"retention-app"}
    assert lexical.search("information sharing agreement") == [] or all(
        h.metadata["doc_id"] == "retention-app" for h in lexical.search("information sharing agreement"))
    stats = index_stats(settings, open_store(settings, embedder))
    assert (stats.documents, stats.lexical_chunks_in_step) == (1, True)


def test_manifest_supplies_metadata_for_text_files(settings, ingest, embedder):
    folder = settings.corpus_dir
    folder.mkdir(parents=True)
    (folder / "report.txt").write_text("3 Information\n\n3.1 The force agreed a strategy.\n", encoding="utf-8")
    (folder / "manifest.yaml").write_text(
        "documents:\n  report.txt:\n    id: force-report\n    title: Force report\n    status: superseded\n"
        "    source_url: https://example.org/report\n", encoding="utf-8")
    report = ingest()
    assert outcomes(report) == {"report.txt": INDEXED}
    (meta,) = stored(settings, embedder).values()
    assert (meta["doc_id"], meta["status"], meta["section_number"]) == ("force-report", "superseded", "3.1")

    # Editing only the manifest entry re-indexes the file (the status is in every chunk).
    manifest = folder / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("superseded", "current"), encoding="utf-8")
    assert outcomes(ingest()) == {"report.txt": INDEXED}
    assert [m["status"] for m in stored(settings, embedder).values()] == ["current"]


def test_optional_dates_reach_every_chunk_and_bad_ones_fail_the_file(settings, ingest, embedder):
    folder = settings.corpus_dir
    folder.mkdir(parents=True)
    # effective_from unquoted (YAML reads a date), review_due from the manifest, which adds to front matter.
    (folder / "code.md").write_text("---\nid: code-2023\ntitle: Code\nstatus: current\neffective_from: 2023-07-20\n"
                                    "---\n\n# Code\n\n## 1. Scope\n\nThe code applies to all records.\n",
                                    encoding="utf-8")
    (folder / "manifest.yaml").write_text("documents:\n  code.md: {review_due: '2026-07-20'}\n"
                                          "  old.md: {id: old, title: Old, status: current, review_due: soon}\n",
                                          encoding="utf-8")
    (folder / "old.md").write_text("# Old\n\nText.\n", encoding="utf-8")
    report = ingest()
    assert outcomes(report) == {"code.md": INDEXED, "old.md": FAILED}
    assert "review_due must be a date as YYYY-MM-DD, got 'soon'" in next(
        o.reason for o in report.outcomes if o.path.endswith("old.md"))
    metas = list(stored(settings, embedder).values())
    assert metas and {(m["effective_from"], m["review_due"]) for m in metas} == {("2023-07-20", "2026-07-20")}
    assert "effective_from" not in chunk_metadata(build_meta({"id": "d", "title": "D", "status": "current"}),
                                                  Chunk("c", "d", 0, "text", ("1 Scope",), None, "paragraph"), "d.md")


@pytest.mark.parametrize("missing", ["id", "title", "status"])
def test_missing_required_metadata_names_the_file_and_field(settings, ingest, missing):
    folder = settings.corpus_dir
    folder.mkdir(parents=True)
    fields = {"id": "x-doc", "title": "X", "status": "current"}
    del fields[missing]
    front = "\n".join(f"{k}: {v}" for k, v in fields.items())
    (folder / "bad.md").write_text(f"---\n{front}\n---\n\n## 1. A\n\nText.\n", encoding="utf-8")
    (failure,) = ingest().failures
    assert failure.path.endswith("bad.md")
    assert f"missing required metadata: {missing}" in failure.reason


def test_bad_inputs_fail_one_by_one_and_the_rest_is_indexed(settings, ingest, embedder):
    folder = settings.corpus_dir
    write_doc(folder, "good.md", "good-doc", GROUP3)
    write_doc(folder, "zz-dupe.md", "good-doc", SHARING)  # same id; the first in path order keeps it
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(2000))
    (folder / "latin1.txt").write_bytes("Caf\xe9 policy: retention is six years.".encode("latin-1"))
    with open(folder / "huge.txt", "wb") as fh:  # 50 MB, over the 25 MB default limit
        fh.write(b"retention " * 5_000_000)
    (folder / "manifest.yaml").write_text(
        "documents:\n" + "".join(
            f"  {name}:\n    id: {name.replace('.', '-')}\n    title: {name}\n    status: current\n"
            for name in ("corrupt.pdf", "empty.txt", "binary.txt", "latin1.txt", "huge.txt")),
        encoding="utf-8")

    report = ingest()
    got = {Path(o.path).name: (o.status, o.reason) for o in report.outcomes}
    assert got["good.md"][0] == INDEXED
    expected_reasons = {
        "zz-dupe.md": "duplicate document id 'good-doc'",
        "corrupt.pdf": "not a readable PDF",
        "empty.txt": "empty",
        "binary.txt": "binary",
        "latin1.txt": "not valid UTF-8",
        "huge.txt": "over the 25 MB limit",
    }
    for name, phrase in expected_reasons.items():
        status, reason = got[name]
        assert status == FAILED, name
        assert phrase in reason, (name, reason)
        assert "\n" not in reason
    assert {m["doc_id"] for m in stored(settings, embedder).values()} == {"good-doc"}


def test_a_file_that_turns_bad_keeps_its_previous_version(settings, ingest, embedder):
    path = write_doc(settings.corpus_dir, "retention.md", "retention-app", GROUP3)
    ingest()
    before = stored(settings, embedder)
    path.write_bytes(b"")
    (failure,) = ingest().failures
    assert "previous version kept" in failure.reason
    assert stored(settings, embedder) == before


def test_hybrid_search_finds_the_section(settings, ingest, embedder):
    write_doc(settings.corpus_dir, "retention.md", "retention-app", GROUP3)
    write_doc(settings.corpus_dir, "sharing.md", "sharing-app", SHARING)
    ingest()
    retriever = Retriever(open_store(settings, embedder), LexicalIndex.load(settings.bm25_dir), embedder)
    top = retriever.search("how long is the clear period for group 3", k=1)[0]
    assert top.metadata["section_number"] == "5.4"
    assert top.dense_rank is not None and top.lexical_rank is not None


def test_wiped_vector_store_is_rebuilt_from_state(settings, ingest, embedder):
    write_doc(settings.corpus_dir, "retention.md", "retention-app", GROUP3)
    ingest()
    store = open_store(settings, embedder)
    store.delete(store.all_ids())
    report = ingest()
    assert outcomes(report) == {"retention.md": INDEXED}
    assert report.embedded == len(stored(settings, embedder)) > 0


def test_pdf_docx_and_html_are_ingested_with_pages_and_heading_paths(settings, ingest, embedder):
    from tests.test_loaders_formats import _PAGE, _write_docx, _write_report_pdf

    folder = settings.corpus_dir
    folder.mkdir(parents=True)
    _write_report_pdf(folder / "report.pdf")
    _write_docx(folder / "policy.docx")
    (folder / "page.html").write_text(_PAGE, encoding="utf-8")
    (folder / "manifest.yaml").write_text(
        "documents:\n"
        "  report.pdf: {id: force-pdf, title: Force PDF, status: current, doc_type: force_report}\n"
        "  policy.docx: {id: force-docx, status: superseded, supersedes: [older-policy]}\n"  # title from the DOCX
        "  page.html: {id: force-html, title: Force page, status: current, protective_marking: official-sensitive}\n",
        encoding="utf-8")
    report = ingest()
    assert outcomes(report) == {"report.pdf": INDEXED, "policy.docx": INDEXED, "page.html": INDEXED}
    metas = list(stored(settings, embedder).values())

    pdf = sorted((m["page"], m["section_number"]) for m in metas if m["doc_id"] == "force-pdf")
    assert (1, "2.1") in pdf and (2, "2.2") in pdf and all(page in (1, 2, 3) for page, _ in pdf)

    docx = [m for m in metas if m["doc_id"] == "force-docx"]
    assert {m["title"] for m in docx} == {"Records Retention Policy"}
    assert {m["status"] for m in docx} == {"superseded"} and {m["supersedes"] for m in docx} == {"older-policy"}
    texts = {t: m for _, t, m, _ in open_store(settings, embedder).all_records() if m["doc_id"] == "force-docx"}
    table = next(m for t, m in texts.items() if "| Group 1 | Retain until 100 |" in t)
    assert table["heading_path"] == "Retention > Record groups > Group 1"

    html = [m for m in metas if m["doc_id"] == "force-html"]
    assert {m["protective_marking"] for m in html} == {"OFFICIAL-SENSITIVE"}
    assert "Retention guidance" not in {m["heading_path"].split(" > ")[0] for m in html}  # the h1 is the title
    assert any(m["heading_path"] == "Record groups > Group 1" for m in html)


def test_sentence_vectors_are_embedded_once_and_always_match_the_chunks(settings, ingest, embedder):
    """Every unit of every chunk has a vector equal to a fresh embedding of it; a re-ingest after one
    sentence changed embeds that sentence only."""
    import numpy as np

    from bot.core.sentence_vectors import unit_texts

    body = ("## 1. Review\n\nRecords are reviewed every ten years. It is done by the unit.\n\n"
            "## 2. Disposal\n\nDisposal follows the review:\n\n- delete the record;\n- record the decision.\n")
    write_doc(settings.corpus_dir, "a.md", "doc-a", body)
    first = ingest()
    lexical = LexicalIndex.load(settings.bm25_dir)
    units = [u for text in lexical.texts for u in unit_texts(text)]
    assert first.sentences_embedded == len(set(units)) and lexical.sentence_vectors.shape[0] == len(units)
    fresh = np.asarray(embedder.embed_documents(units), dtype=np.float32)
    assert np.allclose(np.asarray(lexical.sentence_vectors), fresh, atol=1e-5)
    for i, chunk_id in enumerate(lexical.ids):  # each chunk's rows are its own units, in order
        assert lexical.sentence_rows(chunk_id).shape[0] == len(unit_texts(lexical.texts[i]))

    write_doc(settings.corpus_dir, "a.md", "doc-a", body.replace("every ten years", "every five years"))
    second = ingest()
    assert second.sentences_embedded == 2  # the changed sentence, and the one leaning on it ("It is done…")
    assert ingest().sentences_embedded == 0 and not ingest().lexical_rebuilt
