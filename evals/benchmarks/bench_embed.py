"""Embedding benchmark: ONNX (onnxruntime) against sentence-transformers on the same passages.

    python -m evals.benchmarks.bench_embed [--corpus corpus] [--repeat N]

Embeds every passage a fresh ingest of the corpus embeds (and a sample of the
reranker's sentence units) with both embedders, at MOPI_EMBED_BATCH, and prints
chunks per second for each, their ratio, which one ingest embeds with, the
agreement between their vectors, the ONNX export time, and the cold start of
the ONNX question path as a whole process. Reports; never gates (exit code 0).
The export is written to a throwaway MOPI_HOME that is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.core.embedder import SentenceTransformerEmbedder
from bot.core.onnx_embedder import INGEST_PREFERS_ONNX, OnnxEmbedder, choose_embedder, export_onnx
from bot.core.sentence_vectors import unit_texts
from bot.settings import load_settings
from evals.benchmarks.common import add_row, passages_by_file, print_report, quiet_logging

ROOT = Path(__file__).resolve().parents[2]
TARGET_COSINE = 0.9999
SENTENCE_SAMPLE = 1500  # sentence units timed (ingest embeds every unit of every chunk once)

# Run in a fresh interpreter: the question path from settings to one query vector.
_COLD_SCRIPT = """
import json, sys, time
started = time.perf_counter()
from bot.core.index import make_embedder
from bot.settings import load_settings
embedder = make_embedder(load_settings())
chosen = time.perf_counter()
embedder.embed_query("how long is a group 3 record kept?")
done = time.perf_counter()
print(json.dumps({"embedder": type(embedder).__name__, "import_s": chosen - started, "query_s": done - chosen,
                  "heavy": [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]}))
"""


def _rate(embedder, texts: list[str], repeat: int) -> tuple[float, float, list[list[float]]]:
    """(best chunks/s, CPU seconds of that run, vectors) over ``repeat`` runs, after a warm-up batch."""
    embedder.embed_documents(texts[:embedder.batch_size])
    best_wall, best_cpu, vectors = float("inf"), 0.0, []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        vectors = embedder.embed_documents(texts)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if wall < best_wall:
            best_wall, best_cpu = wall, cpu
    return len(texts) / best_wall, best_cpu, vectors


def _min_cosine(a: list[list[float]], b: list[list[float]]) -> float:
    import numpy as np

    return float((np.asarray(a) * np.asarray(b)).sum(axis=1).min())


def _cold_query(home: Path, runs: int = 3) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOPI_")}
    env["MOPI_HOME"] = str(home)
    results = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _COLD_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "cold run failed")
        results.append({**json.loads(proc.stdout.strip().splitlines()[-1]), "wall_s": wall})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.benchmarks.bench_embed", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: MOPI_CORPUS or ./corpus)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per embedder (the best is reported)")
    args = parser.parse_args(argv)
    repeat = max(1, args.repeat)
    quiet_logging()

    home = Path(tempfile.mkdtemp(prefix="mopi-bench-embed-"))
    base = load_settings()
    settings = base.with_(home=home, corpus_dir=(args.corpus or base.corpus_dir).resolve())
    if not settings.corpus_dir.is_dir():
        print(f"error: no corpus folder at {settings.corpus_dir}", file=sys.stderr)
        return 2
    rows: list[tuple] = []
    notes: list[str] = []
    try:
        passages = [p for group in passages_by_file(settings) for p in group]
        units = [u for p in passages for u in unit_texts(p)][:SENTENCE_SAMPLE]
        model_path = settings.resolved_model_path()

        reference = SentenceTransformerEmbedder(model_path, settings.model_name, settings.embed_batch_size)
        started = time.perf_counter()
        reference.model  # noqa: B018 - the load is what is measured
        st_load = time.perf_counter() - started
        started = time.perf_counter()
        export_onnx(model_path, settings.onnx_dir, settings.model_name, st_model=reference.model)
        export_s = time.perf_counter() - started
        onnx = choose_embedder(settings)
        if not isinstance(onnx, OnnxEmbedder):
            raise RuntimeError("the export just written is not found fresh")
        started = time.perf_counter()
        onnx.model  # noqa: B018
        onnx_load = time.perf_counter() - started

        st_rate, st_cpu, st_vectors = _rate(reference, passages, repeat)
        onnx_rate, onnx_cpu, onnx_vectors = _rate(onnx, passages, repeat)
        st_units, _, st_unit_vectors = _rate(reference, units, repeat)
        onnx_units, _, onnx_unit_vectors = _rate(onnx, units, repeat)
        ratio = onnx_rate / st_rate
        faster = "onnx" if ratio >= 1 else "sentence-transformers"
        used = "onnx" if INGEST_PREFERS_ONNX else "sentence-transformers"
        cosine = min(_min_cosine(st_vectors, onnx_vectors), _min_cosine(st_unit_vectors, onnx_unit_vectors))

        add_row(rows, f"sentence-transformers, {len(passages)} chunks, batch {settings.embed_batch_size} (chunks/s)",
                f"{st_rate:.1f}")
        add_row(rows, "ONNX (onnxruntime), same chunks (chunks/s)", f"{onnx_rate:.1f}")
        add_row(rows, "ratio ONNX / sentence-transformers, chunks", f"{ratio:.2f}")
        add_row(rows, "CPU-time ratio sentence-transformers / ONNX, chunks (diagnostic)",
                f"{st_cpu / onnx_cpu:.2f}" if onnx_cpu else "n/a")
        add_row(rows, f"sentence units ({len(units)}), sentence-transformers / ONNX (units/s)",
                f"{st_units:.1f} / {onnx_units:.1f}")
        add_row(rows, "ratio ONNX / sentence-transformers, sentence units", f"{onnx_units / st_units:.2f}")
        add_row(rows, "ingest embeds with", used, f"the faster ({faster})", used == faster)
        add_row(rows, "min cosine ONNX vs sentence-transformers, all vectors", f"{cosine:.7f}",
                f">= {TARGET_COSINE:g}", cosine >= TARGET_COSINE)
        add_row(rows, "sentence-transformers model load, incl. torch import (s)", f"{st_load:.2f}")
        add_row(rows, "ONNX export, once per model (s)", f"{export_s:.2f}")
        add_row(rows, "ONNX session + tokenizer load, incl. onnxruntime import (s)", f"{onnx_load:.2f}")

        cold = _cold_query(home)
        wall = statistics.median(r["wall_s"] for r in cold)
        heavy = sorted({m for r in cold for m in r["heavy"]})
        add_row(rows, f"cold ONNX query path, whole process, median of {len(cold)} (s)",
                f"{wall:.2f} (spread {min(r['wall_s'] for r in cold):.2f}-{max(r['wall_s'] for r in cold):.2f})")
        add_row(rows, "  of which imports + choosing the embedder (s)",
                f"{statistics.median(r['import_s'] for r in cold):.2f}")
        add_row(rows, "  of which first query, incl. onnxruntime import and session (s)",
                f"{statistics.median(r['query_s'] for r in cold):.2f}")
        add_row(rows, "cold ONNX query path imports torch / transformers / sentence-transformers",
                ", ".join(heavy) or "none", "none", not heavy and all(r["embedder"] == "OnnxEmbedder" for r in cold))
        notes.append(f"rates: best of {repeat} runs of embed_documents over identical texts after a warm-up batch; "
                     f"{os.cpu_count()} CPUs, onnxruntime intra-op threads {onnx.threads}, load average "
                     f"{os.getloadavg()[0]:.2f} at the end.")
        notes.append("which embedder ingest uses is bot.core.onnx_embedder.INGEST_PREFERS_ONNX, set from this "
                     "measurement; ingest embeds with sentence-transformers only until the export is written.")
    finally:
        shutil.rmtree(home, ignore_errors=True)

    print_report(rows, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
