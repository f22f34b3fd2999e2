"""Calibrate the refusal threshold (``AnswerPolicy.min_evidence``) on the golden questions.

Every question is answered once with refusal-by-evidence switched off; each
candidate threshold is then applied to the recorded evidence, so the sweep
costs one pass. The chosen threshold maximises the balanced score
(answerable questions answered correctly + should-refuse questions refused),
subject to refusal recall ≥ the floor.

    python -m evals.calibrate [--dataset evals/datasets/golden.yaml] [--floor 0.9]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from evals import metrics
from evals.dataset import load_dataset

CANDIDATES = [round(0.20 + 0.01 * i, 2) for i in range(51)]  # 0.20 .. 0.70


def sweep(items, answers, candidates=CANDIDATES) -> list[dict]:
    """For each threshold: answerable accuracy, refusal recall and precision (pure)."""
    rows = []
    for threshold in candidates:
        correct, refused_flags, should = 0, [], []
        answerable = 0
        for item, answer in zip(items, answers):
            refused = answer.refused or answer.evidence < threshold
            refused_flags.append(refused)
            should.append(item.should_refuse)
            if not item.should_refuse:
                answerable += 1
                correct += (not refused) and metrics.facts_ok(answer.answer, item.must_include_any,
                                                              item.must_not_include)
        precision, recall = metrics.precision_recall(refused_flags, should)
        rows.append({"threshold": threshold, "fact_accuracy": correct / max(1, answerable),
                     "refusal_recall": recall, "refusal_precision": precision})
    return rows


def choose(rows: list[dict], floor: float) -> dict:
    allowed = [r for r in rows if r["refusal_recall"] >= floor] or rows
    return max(allowed, key=lambda r: (r["fact_accuracy"] + r["refusal_recall"], -r["threshold"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="evals/datasets/golden.yaml")
    parser.add_argument("--floor", type=float, default=0.9, help="lowest acceptable refusal recall")
    args = parser.parse_args(argv)

    from bot.core.index import build_assistant
    from bot.settings import load_settings

    assistant = build_assistant(load_settings())
    assistant.policy = replace(assistant.policy, min_evidence=0.0)
    items = load_dataset(args.dataset)
    answers = [assistant.ask(item.question) for item in items]
    rows = sweep(items, answers)
    best = choose(rows, args.floor)
    print(f"{'threshold':>9} {'fact acc':>9} {'refusal R':>9} {'refusal P':>9}")
    for row in rows:
        mark = "  <- chosen" if row is best else ""
        print(f"{row['threshold']:9.2f} {row['fact_accuracy']:9.3f} {row['refusal_recall']:9.3f} "
              f"{row['refusal_precision']:9.3f}{mark}")


if __name__ == "__main__":
    main()
