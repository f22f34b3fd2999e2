"""Guard benchmark: what the language model costs to load, and what the guard adds to each answer.

    python -m evals.benchmarks.bench_guards [--repeat N]

Needs an index in MOPI_HOME (the gazetteer comes with it). Loads the spaCy
pipeline in a fresh interpreter to time it cold, then guards every message of
evals/datasets/guards.yaml (both splits: speed is not tuned on) warm, as one
message and as a thread reply. Reports; never gates.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from bot.core.guards import Guard
from bot.core.lexical import LexicalIndex
from bot.core.nlp import load_pipeline
from bot.core.query import merge_follow_up, model_words
from bot.errors import IndexNotReadyError
from bot.settings import load_settings
from evals.benchmarks.common import add_row, print_table, quiet_logging
from evals.guards import load_items

TARGET_GUARD_P95_MS = 10.0
THREAD_CONTEXT = "how long do we keep a Group 3 record?"

_COLD_LOAD = """
import json, resource, time
started = time.perf_counter()
from bot.core.nlp import load_pipeline
nlp = load_pipeline()
loaded = time.perf_counter() - started
started = time.perf_counter()
nlp("how long is a Group 3 record kept?")
print(json.dumps({"load_s": loaded, "first_ms": (time.perf_counter() - started) * 1000,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
_BARE = """
import json, resource
import bot.core.guards
print(json.dumps({"rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _child(script: str) -> dict:
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the messages (medians are per message)")
    args = parser.parse_args(argv)
    quiet_logging()
    settings = load_settings()
    try:
        lexical = LexicalIndex.load(settings.bm25_dir)
    except IndexNotReadyError as exc:
        print(f"{exc}\n(run `mopi ingest` first)")
        return 2

    cold = _child(_COLD_LOAD)
    bare = _child(_BARE)
    nlp = load_pipeline()  # loaded once per process; the messages are timed warm
    words = model_words(settings.resolved_model_path())
    messages = [item.question for item in load_items()]
    single, thread = [], []
    for _ in range(args.repeat):
        # A fresh guard each pass: it remembers recent verdicts, and a repeat must not be a cache hit.
        guard = Guard(lambda: nlp, lexical.gazetteer, words)
        for message in messages:
            started = time.perf_counter()
            guard.check(message)
            single.append((time.perf_counter() - started) * 1000)
        guard = Guard(lambda: nlp, lexical.gazetteer, words)
        for message in messages:
            started = time.perf_counter()
            guard.check_follow_up(message, merge_follow_up(THREAD_CONTEXT, message), THREAD_CONTEXT)
            thread.append((time.perf_counter() - started) * 1000)

    rows: list[tuple] = []
    add_row(rows, "language model load, cold process (s)", f"{cold['load_s']:.2f}")
    add_row(rows, "first message after load (ms)", f"{cold['first_ms']:.1f}")
    add_row(rows, "peak RSS with the model loaded (MiB)", f"{cold['rss_mib']:.0f}")
    add_row(rows, "peak RSS without it (MiB)", f"{bare['rss_mib']:.0f}")
    add_row(rows, f"guard, one message: p50 (ms, {len(messages)} messages x {args.repeat})",
            f"{statistics.median(single):.1f}")
    p95 = _percentile(single, 0.95)
    add_row(rows, "guard, one message: p95 (ms)", f"{p95:.1f}", f"<= {TARGET_GUARD_P95_MS:.0f}",
            p95 <= TARGET_GUARD_P95_MS)
    add_row(rows, "guard, thread reply: p50 (ms, the thread's question remembered)", f"{statistics.median(thread):.1f}")
    add_row(rows, "guard, thread reply: p95 (ms)", f"{_percentile(thread, 0.95):.1f}")
    print_table(rows)
    print("\nThe guard runs before retrieval on every question; a thread reply is guarded as itself, "
          "merged with the question it follows and, when it points back, with that question too.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
