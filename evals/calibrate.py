"""Calibrate the refusal rule (``AnswerPolicy``) on the golden dev split, and only there.

Thresholds chosen by looking at the test split or the independent set would
make their scores a measure of the tuning rather than of the product, so
neither is ever an option here.

Every question is answered once with refusal-by-evidence switched off, keeping
each answer's diagnostics; every candidate rule is then applied to those, so
the whole grid costs one pass. The chosen rule maximises fact accuracy plus
refusal recall, subject to refusal recall >= --floor, preferring the rule that
refuses least when scores tie.

    python -m evals.calibrate [--dataset evals/datasets/golden.yaml] [--split dev] [--floor 0.9]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from itertools import product

from bot.core.assistant import AnswerPolicy
from evals import metrics
from evals.split import GOLDEN, load_split

EVIDENCE = [round(0.20 + 0.01 * i, 2) for i in range(41)]  # 0.20 .. 0.60
COVERAGE = [round(0.20 + 0.02 * i, 2) for i in range(21)]  # 0.20 .. 0.60
SIMILARITY = [round(0.20 + 0.02 * i, 2) for i in range(21)]


def score(items, answers, policy: AnswerPolicy) -> dict:
    """Fact accuracy and refusal precision/recall if ``policy`` had decided the refusals (pure)."""
    correct = answerable = 0
    refused_flags, should = [], []
    for item, answer in zip(items, answers):
        refused = answer.refused or policy.refuses(answer.diagnostics)
        refused_flags.append(refused)
        should.append(item.should_refuse)
        if not item.should_refuse:
            answerable += 1
            correct += (not refused) and metrics.facts_ok(answer.answer, item.must_include_any, item.must_not_include)
    precision, recall = metrics.precision_recall(refused_flags, should)
    return {"fact_accuracy": correct / max(1, answerable), "refusal_recall": recall, "refusal_precision": precision}


def calibrate(items, answers, floor: float) -> tuple[AnswerPolicy, dict]:
    best = None
    for evidence, coverage, similarity in product(EVIDENCE, COVERAGE, SIMILARITY):
        policy = AnswerPolicy(min_evidence=evidence, min_coverage=coverage, min_similarity=similarity)
        result = score(items, answers, policy)
        ok = result["refusal_recall"] >= floor
        key = (ok, result["fact_accuracy"] + result["refusal_recall"], -evidence, -coverage, -similarity)
        if best is None or key > best[0]:
            best = (key, policy, result)
    return best[1], best[2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(GOLDEN), help="a golden file with a drawn split (python -m evals.split)")
    # One choice on purpose: the option documents that calibration sees dev and nothing else.
    parser.add_argument("--split", default="dev", choices=["dev"], help="the split to calibrate on (dev only)")
    parser.add_argument("--floor", type=float, default=0.9, help="lowest acceptable refusal recall")
    args = parser.parse_args(argv)

    from bot.core.index import build_assistant
    from bot.settings import load_settings

    items = load_split(args.dataset, args.split)
    print(f"Calibrating on {args.dataset} ({args.split} split, {len(items)} questions); "
          "the test split and the independent set are not used.")
    assistant = build_assistant(load_settings())
    current = assistant.policy
    assistant.policy = replace(current, min_evidence=0.0, min_coverage=0.0, min_similarity=0.0)
    answers = [assistant.ask(item.question) for item in items]
    chosen, result = calibrate(items, answers, args.floor)
    print(f"{'rule':<10} {'min_evidence':>12} {'min_coverage':>12} {'min_similarity':>14} {'fact acc':>9} "
          f"{'refusal R':>9} {'refusal P':>9}")
    for name, policy in (("current", current), ("calibrated", chosen)):
        r = score(items, answers, policy)
        print(f"{name:<10} {policy.min_evidence:12.2f} {policy.min_coverage:12.2f} {policy.min_similarity:14.2f} "
              f"{r['fact_accuracy']:9.3f} {r['refusal_recall']:9.3f} {r['refusal_precision']:9.3f}")


if __name__ == "__main__":
    main()
