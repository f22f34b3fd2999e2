"""All benchmarks: ingest (throwaway homes), embedding (ONNX against sentence-transformers), answers (the real MOPI_HOME, brought up to date first), reports, guards, Slack, a Slack soak against injected faults, then a fresh clone to first answer.

    python -m evals.benchmarks

Each runs in a process of its own, so its memory figures are its own: run in one process, the
Slack bot's resident memory would include the models every earlier benchmark loaded.
"""

from __future__ import annotations

import subprocess
import sys

BENCHES = [
    ("Ingest", "bench_ingest", []),
    ("Embedding", "bench_embed", []),
    ("Answers", "bench_answers", ["--ensure-index"]),
    ("Reports", "bench_reports", []),  # after Answers, which brought the index up to date
    ("Guards", "bench_guards", []),
    ("Slack", "bench_slack", []),
    ("Slack soak", "bench_soak", []),
    ("Fresh clone", "bench_clone", []),
]


def main() -> int:
    codes = []
    for n, (title, module, args) in enumerate(BENCHES):
        print(f"{chr(10) * bool(n)}## {title}\n", flush=True)
        codes.append(subprocess.run([sys.executable, "-m", f"evals.benchmarks.{module}", *args]).returncode)
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
