"""The ONNX query path against the reference sentence-transformers embedder, on the real model.

One export per module (in a temporary MOPI_HOME), made from the session's loaded model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.core.embedder import SentenceTransformerEmbedder
from bot.core.index import open_store
from bot.errors import ConfigError
from bot.core.onnx_embedder import (DATA_FILE, MANIFEST, MODEL_FILE, ExportError, OnnxEmbedder, choose_embedder, export_onnx,
                                    find_export)
from bot.settings import load_settings
from evals.benchmarks.common import passages_by_file
from ingest.pipeline import INDEXED, UNCHANGED, run_ingest
from tests.conftest import CORPUS, ROOT, mopi_env, write_doc

DATASETS = ROOT / "evals" / "datasets"
HEAVY = ("torch", "transformers", "sentence_transformers")
LOGGER = "bot.core.onnx_embedder"


@pytest.fixture(scope="module")
def onnx_home(tmp_path_factory, embedder) -> Path:
    """A MOPI_HOME holding a fresh export of the bundled model."""
    home = tmp_path_factory.mktemp("onnx-home")
    settings = load_settings({}, home=home)
    export_onnx(settings.resolved_model_path(), settings.onnx_dir, settings.model_name, st_model=embedder.model)
    return home


@pytest.fixture(scope="module")
def onnx(onnx_home) -> OnnxEmbedder:
    chosen = choose_embedder(load_settings({}, home=onnx_home))
    assert isinstance(chosen, OnnxEmbedder)
    return chosen


@pytest.fixture(scope="module")
def chunks() -> list[str]:
    """200 corpus passages as the pipeline embeds them, spread over every length (longest included)."""
    passages = sorted({p for group in passages_by_file(load_settings({}, corpus_dir=CORPUS)) for p in group}, key=len)
    assert len(passages) >= 200
    picks = np.linspace(0, len(passages) - 1, 200).round().astype(int)
    return [passages[i] for i in picks]


@pytest.fixture(scope="module")
def questions() -> list[str]:
    """Every golden question, topped up to at least 200 from the independent set."""
    golden = [item["question"] for item in yaml.safe_load((DATASETS / "golden.yaml").read_text())]
    independent = [item["question"] for item in yaml.safe_load((DATASETS / "independent.yaml").read_text())]
    return (golden + independent)[:max(200, len(golden))]


@pytest.fixture(scope="module")
def vectors(embedder, onnx, chunks, questions) -> dict[str, np.ndarray]:
    return {
        "st_chunks": np.asarray(embedder.embed_documents(chunks)),
        "onnx_chunks": np.asarray(onnx.embed_documents(chunks)),
        "st_questions": np.asarray([embedder.embed_query(q) for q in questions[:20]]
                                   + embedder.embed_documents(questions[20:])),
        "onnx_questions": np.asarray([onnx.embed_query(q) for q in questions[:20]]
                                     + onnx.embed_documents(questions[20:])),
    }


def test_every_chunk_and_question_embeds_the_same_both_ways(vectors, chunks, questions):
    for kind, count in (("chunks", len(chunks)), ("questions", len(questions))):
        st, ox = vectors[f"st_{kind}"], vectors[f"onnx_{kind}"]
        assert st.shape == ox.shape == (count, 384)
        assert np.allclose(np.linalg.norm(ox, axis=1), 1.0, atol=1e-5)
        cosine = (st * ox).sum(axis=1)
        assert cosine.min() >= 0.9999, (kind, int(cosine.argmin()), float(cosine.min()))


def test_top5_retrieval_is_identical_on_the_golden_questions(vectors, questions):
    golden = len(yaml.safe_load((DATASETS / "golden.yaml").read_text()))
    st_rank = np.argsort(-(vectors["st_questions"][:golden] @ vectors["st_chunks"].T), axis=1, kind="stable")[:, :5]
    ox_rank = np.argsort(-(vectors["onnx_questions"][:golden] @ vectors["onnx_chunks"].T), axis=1, kind="stable")[:, :5]
    differ = [questions[i] for i in range(golden) if list(st_rank[i]) != list(ox_rank[i])]
    assert not differ


def test_texts_past_the_sequence_limit_are_truncated_alike(embedder, onnx):
    long = " ".join(["Records are reviewed by the force every ten years under MoPI."] * 80)  # > 256 tokens
    texts = [long, "Group 3", long + " and then something else entirely"]
    cosine = (np.asarray(embedder.embed_documents(texts)) * np.asarray(onnx.embed_documents(texts))).sum(axis=1)
    assert cosine.min() >= 0.9999
    assert onnx.max_length == 256


def test_export_is_recorded_and_a_second_call_is_a_no_op(onnx_home, embedder):
    settings = load_settings({}, home=onnx_home)
    lookup = find_export(settings.resolved_model_path(), settings.onnx_dir, settings.model_name)
    assert lookup.fresh and lookup.folder.name.startswith("all-minilm-l6-v2-")
    manifest = json.loads((lookup.folder / MANIFEST).read_text())
    assert manifest["opset"] and manifest["max_seq_length"] == 256 and len(manifest["tokenizer_sha256"]) == 64
    assert lookup.folder.name.endswith(manifest["weights_sha256"][:12])
    # The weights sit beside the graph, so onnxruntime maps them rather than copying them.
    assert (lookup.folder / MODEL_FILE).stat().st_size < 1_000_000
    assert manifest["data_bytes"] == (lookup.folder / DATA_FILE).stat().st_size > 80_000_000
    before = (lookup.folder / MODEL_FILE).stat().st_mtime_ns
    again = export_onnx(settings.resolved_model_path(), settings.onnx_dir, settings.model_name, st_model=embedder.model)
    assert again == lookup.folder / MODEL_FILE and again.stat().st_mtime_ns == before
    assert [p.name for p in settings.onnx_dir.iterdir()] == [lookup.folder.name], "no temporary folders left"


def _model_copy(tmp_path: Path, change_weights: bool = False, pooling: dict | None = None) -> Path:
    """The bundled model's folder, linked file by file, with the weights or pooling changed."""
    source = load_settings({}).resolved_model_path()
    copy = tmp_path / "model"
    shutil.copytree(source, copy, copy_function=os.symlink)
    if change_weights:
        weights = copy / "model.safetensors"
        weights.unlink()
        shutil.copyfile(source / "model.safetensors", weights)
        with open(weights, "ab") as fh:
            fh.write(b"\0")
    if pooling is not None:
        target = copy / "1_Pooling" / "config.json"
        config = json.loads(target.read_text()) | pooling
        target.unlink()
        target.write_text(json.dumps(config))
    return copy


def _fallback_records(caplog, settings):
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        chosen = choose_embedder(settings)
    return chosen, [r for r in caplog.records if r.name == LOGGER]


def test_stale_or_missing_export_falls_back_with_one_log_line(tmp_path, onnx_home, caplog):
    changed = _model_copy(tmp_path, change_weights=True)
    env = {"MOPI_MODEL_PATH": str(changed), "MOPI_MODEL_NAME": "all-MiniLM-L6-v2"}
    chosen, records = _fallback_records(caplog, load_settings(env, home=onnx_home))
    assert isinstance(chosen, SentenceTransformerEmbedder) and not chosen.loaded
    assert chosen.onnx_export_dir == onnx_home / "onnx", "ingest will write the export"
    assert len(records) == 1 and records[0].levelno == logging.INFO and "stale" in records[0].getMessage()

    # A manifest whose weights hash is not the file's: stale too, however it came about.
    home = tmp_path / "tampered"
    shutil.copytree(onnx_home / "onnx", home / "onnx")
    manifest_path = next((home / "onnx").glob(f"*/{MANIFEST}"))
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps(manifest | {"weights_sha256": "0" * 64}))
    chosen, records = _fallback_records(caplog, load_settings({"MOPI_EMBEDDER": "onnx"}, home=home))
    assert isinstance(chosen, SentenceTransformerEmbedder)
    assert len(records) == 1 and records[0].levelno == logging.WARNING and "stale" in records[0].getMessage()

    # Weights cut short (a copy that stopped part-way): stale, not a session that fails to load.
    home = tmp_path / "truncated"
    shutil.copytree(onnx_home / "onnx", home / "onnx")
    data_path = next((home / "onnx").glob(f"*/{DATA_FILE}"))
    with open(data_path, "r+b") as fh:
        fh.truncate(data_path.stat().st_size // 2)
    chosen, records = _fallback_records(caplog, load_settings({}, home=home))
    assert isinstance(chosen, SentenceTransformerEmbedder)
    assert len(records) == 1 and "stale" in records[0].getMessage()

    chosen, records = _fallback_records(caplog, load_settings({}, home=tmp_path / "empty"))
    assert isinstance(chosen, SentenceTransformerEmbedder)
    assert len(records) == 1 and "missing" in records[0].getMessage()

    chosen, records = _fallback_records(caplog, load_settings({"MOPI_EMBEDDER": "sentence-transformers"}, home=onnx_home))
    assert isinstance(chosen, SentenceTransformerEmbedder) and chosen.onnx_export_dir is None and not records
    with pytest.raises(ConfigError, match="MOPI_EMBEDDER"):
        load_settings({"MOPI_EMBEDDER": "tensorflow"})


def test_a_model_the_onnx_path_cannot_reproduce_is_not_exported(tmp_path, caplog):
    cls_pooled = _model_copy(tmp_path, pooling={"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True})
    with pytest.raises(ExportError, match="not mean pooling"):
        export_onnx(cls_pooled, tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()
    chosen, records = _fallback_records(caplog, load_settings({"MOPI_MODEL_PATH": str(cls_pooled)}, home=tmp_path))
    assert isinstance(chosen, SentenceTransformerEmbedder) and chosen.onnx_export_dir is None, "ingest will not try"
    assert len(records) == 1 and "not mean pooling" in records[0].getMessage()


def test_ingest_writes_the_export_when_the_model_loads_and_embeds_with_it(tmp_path, embedder, monkeypatch):
    # The session's loaded model standing in for a missing export, as choose_embedder makes it.
    monkeypatch.setattr(embedder, "onnx_export_dir", tmp_path / "home" / "onnx")
    corpus = tmp_path / "corpus"
    write_doc(corpus, "retention.md", "retention-app",
              "## 5. Groups\n\n### 5.4 Group 3\nA 6-year clear period applies to Group 3 records.\n")
    settings = load_settings({}, home=tmp_path / "home", corpus_dir=corpus)
    report = run_ingest([corpus], settings, store=open_store(settings, embedder), embedder=embedder)
    assert [o.status for o in report.outcomes] == [INDEXED] and report.embedded
    chosen = choose_embedder(settings)
    assert isinstance(chosen, OnnxEmbedder)
    hits = open_store(settings, chosen).search(chosen.embed_query("how long is a group 3 record kept?"), k=1)
    assert hits and "6-year" in hits[0][1]


def test_an_unchanged_ingest_writes_a_missing_export(tmp_path, embedder, monkeypatch):
    corpus = tmp_path / "corpus"
    write_doc(corpus, "sharing.md", "sharing-app", "## 2. Agreements\n\n2.1 An ISA records the lawful basis.\n")
    settings = load_settings({"MOPI_EMBEDDER": "sentence-transformers"}, home=tmp_path / "home", corpus_dir=corpus)
    run_ingest([corpus], settings, store=open_store(settings, embedder), embedder=embedder)
    assert not settings.onnx_dir.exists(), "sentence-transformers mode writes no export"

    monkeypatch.setattr(embedder, "onnx_export_dir", settings.onnx_dir)
    report = run_ingest([corpus], settings, store=open_store(settings, embedder), embedder=embedder)
    assert [o.status for o in report.outcomes] == [UNCHANGED] and not report.embedded
    assert isinstance(choose_embedder(settings.with_(embedder="auto")), OnnxEmbedder)


_QUERY = """
import json, sys
from bot.core.index import make_embedder
from bot.settings import load_settings
embedder = make_embedder(load_settings())
vector = embedder.embed_query("how long do we keep a grp 3 record?")
print(json.dumps({"embedder": type(embedder).__name__, "dims": len(vector),
                  "loaded": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


@pytest.mark.slow
def test_a_query_through_onnx_imports_neither_torch_nor_sentence_transformers(onnx_home):
    proc = subprocess.run([sys.executable, "-c", _QUERY], cwd=ROOT, env=mopi_env(onnx_home),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"embedder": "OnnxEmbedder", "dims": 384, "loaded": []}
