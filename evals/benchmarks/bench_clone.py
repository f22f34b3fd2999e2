"""Fresh clone to first answer: what a newcomer waits for, measured as they would meet it.

    python -m evals.benchmarks.bench_clone

Clones this repository into a temporary folder and runs `make run` with one question on
stdin (no Slack tokens: the terminal chat answers it and ends at end of input). The
clock covers the virtualenv, the install from the lock, indexing corpus/ and the
answer. pip's download cache and the local wheel folder stay as they are on this machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evals.benchmarks.common import add_row, print_table

ROOT = Path(__file__).resolve().parents[2]
TARGET_S = 90.0
QUESTION = "how long is the clear period for Group 3?\n"
EXPECTED = "6-year"  # the answer's own words (app-retention-review-disposal 5.4)


def main(argv: list[str] | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="mopi-clone-") as tmp:
        clone = Path(tmp) / "mopi"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOPI_", "SLACK_", "VIRTUAL_ENV"))}
        started = time.perf_counter()
        proc = subprocess.run(["make", "run"], cwd=clone, env=env, input=QUESTION, capture_output=True, text=True)
        seconds = time.perf_counter() - started
    answered = proc.returncode == 0 and EXPECTED in proc.stdout
    rows: list[tuple] = []
    add_row(rows, "fresh clone to first answer, `make run` with one question on stdin (s)", f"{seconds:.0f}",
            f"<= {TARGET_S:g}", answered and seconds <= TARGET_S)
    add_row(rows, "the answer arrived and cites the rule", "yes" if answered else f"no (exit {proc.returncode})")
    print_table(rows)
    if not answered:
        print("\n" + (proc.stderr or proc.stdout)[-1500:], file=sys.stderr)
    return 0 if answered else 1


if __name__ == "__main__":
    sys.exit(main())
