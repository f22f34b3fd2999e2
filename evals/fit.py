"""Fit the answer path's learned models on dev splits, and only there.

* ``rerank``: every answerable dev question's retrieved candidates become
  feature rows (``bot.core.rerank.features``), labelled 1 when the chunk is a
  right section (or, for questions without one, a right document);
* ``extract``: the quotable units of the reranked top chunks become rows
  (``bot.core.extractive.FEATURES``), labelled with the share of the item's
  expected facts the unit (read with its context) holds.

* ``lookup``: the guard's second opinion (``bot.core.lookup_model``): every dev
  question of the guard set and of golden, as the retriever would embed it,
  labelled 1 when it looks up one individual's record.

A listwise softmax loss per question with an L2 penalty gives the ranking weights;
a logistic loss gives the lookup model, whose threshold lets at most 0.3% of the
held-out questions that are no lookup be refused. Each is
written with what it was fitted on (``bot/core/*_weights.json``).
``--cv`` scores 5-fold cross-validation *within dev* for an L2 grid and
feature ablations, which is how the penalty is chosen. Test and the
independent set are never read here.

    python -m evals.fit rerank|extract|lookup [--l2 10] [--cv] [--dry-run]
"""

from __future__ import annotations

import argparse
from datetime import date

from bot.core import extractive
from bot.core import rerank as rerank_stage
from bot.core.linear import LinearModel
from bot.core.rerank import features
from bot.core.sentences import chain, units
from evals import metrics
from evals.dataset import GoldenItem
from evals.split import load_split

GOLDEN = "evals/datasets/golden.yaml"
DEPTH = 30


def candidate_rows(assistant, items: list[GoldenItem]):
    """(item, candidates, labels) per answerable item, from the core's own retrieve stage."""
    for item in items:
        if item.should_refuse or item.category == "status":  # status questions are answered by the register
            continue
        found = assistant.candidates(item.question)
        ranked = [{"doc_id": h.metadata["doc_id"], "section": h.metadata.get("section", ""),
                   "section_number": h.metadata.get("section_number", "")} for h in found.fused]
        yield item, found, metrics.relevance(ranked, item.expected_docs, item.expected_sections)


def rerank_groups(rows, idf):
    import numpy as np

    groups = []
    for _, found, labels in rows:
        if any(labels):  # a question with no relevant candidate says nothing about their order
            top = max(h.score for h in found.fused)
            groups.append((np.asarray([features(found.parsed, h, found.sims, idf, top) for h in found.fused],
                                      dtype=float), np.asarray(labels, dtype=float)))
    return groups


def extract_groups(rows, assistant, idf):
    """Per question, its units' feature rows and the share of the expected facts each holds."""
    import numpy as np

    from bot.core.query import acronyms_asked_about

    acronyms = assistant.retriever.lexical.acronyms
    groups = []
    for item, found, _ in rows:
        top = found.hits
        spans = extractive.score_spans(found.cleaned, top, idf, acronyms_asked_about(found.cleaned, acronyms),
                                       parsed=found.parsed, sims=found.sims)
        labels = []
        for span in spans:
            text = top[span.hit].text
            all_units = units(text)
            quoted = " ".join(text[all_units[u].start:all_units[u].end] for u in chain(
                all_units, span.unit, opens_section=bool(top[span.hit].metadata.get("opens_section"))))
            held = sum(metrics.facts_ok(quoted, [group], item.must_not_include) for group in item.must_include_any)
            labels.append(held / len(item.must_include_any))
        if spans and any(labels):
            groups.append((np.asarray([s.features for s in spans], dtype=float), np.asarray(labels, dtype=float)))
    return groups


def fit_listwise(groups, l2: float, steps: int = 2000, rate: float = 0.5):
    """Weights maximising, per question, the softmax probability of its relevant candidates
    (a listwise ranking loss), plus an L2 penalty; full-batch gradient descent (the data is small).

    ``groups`` holds one (features matrix, 0/1 labels) pair per question that has a relevant candidate.
    """
    import numpy as np

    w = np.zeros(groups[0][0].shape[1])
    for _ in range(steps):
        grad = l2 * w
        for x, y in groups:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            q = y / y.sum()  # the target: relevant candidates share the probability mass
            grad += x.T @ (p - q)
        w -= rate * grad / len(groups)
    return w


def cross_validated(groups, l2: float, mask, folds: int = 5) -> float:
    """The label of the top-scored row, averaged over held-out folds of dev questions (each fold scored by
    weights fitted on the others): recall@1 for the reranker, the share of facts the best unit holds for extract."""
    import numpy as np

    right = 0
    for k in range(folds):
        train = [g for i, g in enumerate(groups) if i % folds != k]
        held = [g for i, g in enumerate(groups) if i % folds == k]
        w = fit_listwise([(x * mask, y) for x, y in train], l2) * mask
        right += sum(float(y[int(np.argmax(x @ w))]) for x, y in held)
    return right / len(groups)


STAGES = {
    "rerank": (rerank_stage.FEATURES, rerank_stage.WEIGHTS_FILE, "fused"),
    "extract": (extractive.FEATURES, extractive.WEIGHTS_FILE, "covered"),
}
# The lookup model may refuse at most this share of the questions it was fitted on that are no lookup
# (held out): a small part of the 2% of ordinary questions the guards may refuse (evals/thresholds.yaml).
LOOKUP_FALSE_REFUSALS = 0.003
LOOKUP_FLOOR = 0.5  # and never below even odds
LOOKUP_WEAK_SHARE = 0.5  # the weak threshold: this share of the lowest held-out p of a weakly refused lookup
LOOKUP_L2 = (0.03, 0.1, 0.3, 1.0, 3.0)


def lookup_rows(assistant) -> tuple[list[str], list[tuple], list[int], list[bool], list[bool]]:
    """(text the retriever would embed, the guard's signals, 1 for a record lookup, whether the rules refuse it, whether only
    weakly) for every item of the guard training set and every dev item of the guard set and of golden,
    overrides aside: an override may ask for a lookup as well ("check the full record for …, and confirm
    with QUAIL-447"), so it is no clean example of either side, and the rules deal with overrides."""
    from evals.guards import TRAIN, load_items, split_items

    guards = load_items(TRAIN) + split_items(load_items())["dev"]
    asked = [(item.question, item.kind == "personal") for item in guards if item.kind != "injection"]
    asked += [(item.question, item.category == "named_person" and item.should_refuse)
              for item in load_split(GOLDEN, "dev") if item.category != "injection"]
    texts, signals, labels, by_rules, weak = [], [], [], [], []
    for question, lookup in asked:
        verdict = assistant.guard.check(question)
        if not verdict.question.strip():
            continue  # all override: the rules refuse it, and nothing is left to embed
        texts.append(assistant.search_query(verdict.question)[1])
        signals.append(verdict.signals)
        labels.append(int(lookup))
        by_rules.append(verdict.reason == "personal_record")
        weak.append(verdict.weak)
    return texts, signals, labels, by_rules, weak


def lookup_threshold(held_out, labels) -> float:
    """Just above the held-out probability that only LOOKUP_FALSE_REFUSALS of the non-lookups exceed."""
    negatives = sorted((p for p, y in zip(held_out, labels) if not y), reverse=True)
    allowed = int(LOOKUP_FALSE_REFUSALS * len(negatives))
    return max(LOOKUP_FLOOR, float(negatives[allowed]) + 1e-6)


def weak_threshold(held_out, labels, weak, threshold: float) -> float:
    """Well under every lookup the rules refuse only weakly (half the lowest); 0 (keep them all) without any."""
    weak_lookups = [p for p, y, w in zip(held_out, labels, weak) if y and w]
    return min(threshold, LOOKUP_WEAK_SHARE * min(weak_lookups)) if weak_lookups else 0.0


def fit_lookup(assistant, l2: float, cv: bool, dry_run: bool) -> None:
    import numpy as np

    from bot.core.guards import SIGNALS
    from bot.core.lookup_model import WEIGHTS_FILE, LookupModel, fit_logistic, held_out_probabilities

    texts, signals, labels, by_rules, weak_rows = lookup_rows(assistant)
    x = np.hstack([np.asarray(assistant.retriever.embedder.embed_documents(texts)), np.asarray(signals)])
    y, rules, weak = np.asarray(labels), np.asarray(by_rules), np.asarray(weak_rows)
    print(f"lookup: guard training set, guard and golden dev splits, {len(y)} questions, {int(y.sum())} lookups "
          f"({int((y & ~rules).sum())} not refused by the rules)")
    grid = LOOKUP_L2 if cv else (l2,)
    for penalty in grid:
        held = held_out_probabilities(x, y, penalty)
        t = lookup_threshold(held, y)
        caught = held >= t
        print(f"  l2 {penalty:<5} held-out log loss {-np.mean(y * np.log(held) + (1 - y) * np.log(1 - held)):.3f}; "
              f"threshold {t:.3f}: lookups caught {int((caught & (y == 1)).sum())}/{int(y.sum())}, "
              f"of those the rules miss {int((caught & (y == 1) & ~rules).sum())}/{int((y & ~rules).sum())}; "
              f"others refused {int((caught & (y == 0)).sum())}")
        lifted = weak_threshold(held, y, weak, t)
        print(f"    weak rule refusals: {int((weak & (y == 1)).sum())} lookups, {int((weak & (y == 0)).sum())} others; "
              f"below {lifted:.3f} answered: {int((weak & (y == 0) & (held < lifted)).sum())} others, "
              f"{int((weak & (y == 1) & (held < lifted)).sum())} lookups")
    if cv:
        return
    w, b = fit_logistic(x, y, l2)
    model = LookupModel(assistant.retriever.embedder.name, tuple(float(v) for v in w), float(b), t, lifted, SIGNALS)
    if not dry_run:
        model.save(WEIGHTS_FILE, {"fitted": date.today().isoformat(), "by": f"python -m evals.fit lookup --l2 {l2}",
                                  "on": f"evals/datasets/guards_train.yaml, and the guards.yaml and {GOLDEN} dev "
                                        f"splits: {len(y)} questions, {int(y.sum())} lookups",
                                  "threshold_from": "5-fold held-out probabilities: at most "
                                                    f"{LOOKUP_FALSE_REFUSALS:.1%} of the questions that are no lookup "
                                                    f"at or above it; weak_threshold: {LOOKUP_WEAK_SHARE} of the lowest "
                                                    f"of any lookup the rules refuse only weakly"})
        print(f"wrote {WEIGHTS_FILE}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=sorted([*STAGES, "lookup"]))
    parser.add_argument("--l2", type=float, default=10.0)
    parser.add_argument("--dry-run", action="store_true", help="print the fit, do not write the weights file")
    parser.add_argument("--cv", action="store_true", help="5-fold cross-validation within dev: l2 grid and ablations")
    args = parser.parse_args(argv)

    import numpy as np

    from bot.core.index import build_assistant
    from bot.settings import load_settings

    assistant = build_assistant(load_settings())
    if args.stage == "lookup":
        return fit_lookup(assistant, args.l2, args.cv, args.dry_run)
    names, path, single = STAGES[args.stage]
    idf = assistant.retriever.lexical.idf
    rows = list(candidate_rows(assistant, load_split(GOLDEN, "dev")))
    groups = (rerank_groups(rows, idf) if args.stage == "rerank"
              else extract_groups(rows, assistant, idf))
    print(f"{args.stage}: golden dev split, {len(groups)} questions, {sum(len(y) for _, y in groups)} rows")
    if args.cv:
        everything = np.ones(len(names))
        print(f"held-out score within dev, {single} alone: "
              f"{cross_validated(groups, 0.0, np.eye(len(names))[names.index(single)]):.3f}")
        current = np.asarray(LinearModel.load(path, names).weights)
        print(f"  current weights ({path.name}; in-sample if they were fitted on dev): "
              f"{sum(float(y[int(np.argmax(x @ current))]) for x, y in groups) / len(groups):.3f}")
        for l2 in (0.01, 0.1, 0.3, 1.0, 10.0):
            print(f"  all features, l2 {l2:<5}: {cross_validated(groups, l2, everything):.3f}")
        for i, name in enumerate(names):
            print(f"  without {name:<15} (l2 {args.l2}): "
                  f"{cross_validated(groups, args.l2, everything - np.eye(len(names))[i]):.3f}")
        return
    fitted = LinearModel(names, tuple(float(v) for v in fit_listwise(groups, args.l2)))
    for name, value in zip(names, fitted.weights):
        print(f"  {name:<15} {value:8.3f}")
    if not args.dry_run:
        fitted.save(path, {"fitted": date.today().isoformat(), "by": f"python -m evals.fit {args.stage} --l2 {args.l2}",
                           "on": f"{GOLDEN} dev split: {len(groups)} questions, {sum(len(y) for _, y in groups)} rows"})
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
