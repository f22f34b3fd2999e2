"""All benchmarks: ingest (throwaway homes), embedding (ONNX against sentence-transformers), answers (the real MOPI_HOME, brought up to date first), guards, Slack, then a fresh clone to first answer.

    python -m evals.benchmarks
"""

from __future__ import annotations

import sys

from evals.benchmarks import bench_answers, bench_clone, bench_embed, bench_guards, bench_ingest, bench_slack


def main() -> int:
    print("## Ingest\n")
    ingest_code = bench_ingest.main([])
    print("\n## Embedding\n")
    embed_code = bench_embed.main([])
    print("\n## Answers\n")
    answers_code = bench_answers.main(["--ensure-index"])
    print("\n## Guards\n")
    guards_code = bench_guards.main([])
    print("\n## Slack\n")
    slack_code = bench_slack.main([])
    print("\n## Fresh clone\n")
    clone_code = bench_clone.main([])
    return max(ingest_code, embed_code, answers_code, guards_code, slack_code, clone_code)


if __name__ == "__main__":
    sys.exit(main())
