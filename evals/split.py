"""The golden set's dev/test split: drawn once, by a seeded random draw, and then kept.

    python -m evals.split [--dataset evals/datasets/golden.yaml]

writes ``golden.splits.yaml`` next to the dataset. Dev is for everything that
tunes the product (thresholds, calibration, prompt and ranking changes); test is
scored only to report, so its numbers say how the product does on questions it
was not tuned on.

The draw is stratified: within each category (and, inside a category, refusals
apart from answerable questions, because ``injection`` mixes both and the gate
needs refusals of every kind in test) ~60% go to dev and the rest to test, with
at least one item on each side. Re-running keeps every existing assignment and
draws only items that have none yet, so adding golden questions never moves an
old one between dev and test.
"""

from __future__ import annotations

import argparse
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from evals.dataset import GoldenItem, load_dataset

SEED = 20261201
DEV_SHARE = 0.6
SPLITS = ("dev", "test")
GOLDEN = Path(__file__).parent / "datasets" / "golden.yaml"

HEADER = """\
# The golden set's dev/test split, drawn by `python -m evals.split` (seeded, stratified by category).
# dev: for all tuning and calibration (thresholds, python -m evals.calibrate, ranking and prompt changes).
# test: scored only to report and gate; never tune on it. Do not edit by hand: re-running the draw
# keeps these assignments and places only golden items that are not listed yet.
"""


@dataclass(frozen=True)
class Split:
    seed: int
    dev_share: float
    dev: tuple[str, ...]
    test: tuple[str, ...]

    def assignment(self) -> dict[str, str]:
        return {**{i: "dev" for i in self.dev}, **{i: "test" for i in self.test}}


def splits_path(dataset_path: str | Path) -> Path:
    """golden.yaml -> golden.splits.yaml, in the same folder."""
    path = Path(dataset_path)
    return path.with_name(f"{path.stem}.splits.yaml")


def dev_count(n: int, share: float = DEV_SHARE) -> int:
    """How many of a stratum's ``n`` items go to dev: rounded half up, leaving at least one on each side."""
    if n < 2:
        return n  # a lone item can only be in one split; dev, so tuning sees the category
    return min(n - 1, max(1, math.floor(n * share + 0.5)))


def _stratum(item: GoldenItem) -> tuple[str, bool]:
    return item.category, item.should_refuse


def draw(items: Sequence[GoldenItem], existing: Split | None = None, seed: int = SEED,
         share: float = DEV_SHARE) -> Split:
    """Assign every item to dev or test, keeping ``existing`` assignments (pure, deterministic).

    Strata are visited in sorted order and their unassigned ids shuffled in sorted
    order by one ``random.Random(seed)``, so the draw depends only on the items, the
    seed and what was already assigned. New items fill each stratum towards its
    target dev count; ids no longer in ``items`` are dropped.
    """
    known = existing.assignment() if existing else {}
    strata: dict[tuple[str, bool], list[str]] = defaultdict(list)
    for item in items:
        strata[_stratum(item)].append(item.id)
    rng = random.Random(seed)
    assigned: dict[str, str] = {}
    for key in sorted(strata):
        ids = strata[key]
        old = {i: known[i] for i in ids if i in known}
        new = sorted(i for i in ids if i not in known)
        rng.shuffle(new)
        wanted_dev = max(0, dev_count(len(ids), share) - sum(s == "dev" for s in old.values()))
        # A stratum that so far has no test item gets one before dev is topped up.
        if new and "test" not in old.values() and len(ids) > 1:
            wanted_dev = min(wanted_dev, len(new) - 1)
        assigned.update(old)
        assigned.update({i: "dev" if n < wanted_dev else "test" for n, i in enumerate(new)})
    order = [item.id for item in items]
    return Split(seed, share, tuple(i for i in order if assigned[i] == "dev"),
                 tuple(i for i in order if assigned[i] == "test"))


def read_split(path: str | Path) -> Split | None:
    path = Path(path)
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with seed, dev_share, dev and test")
    lists = {name: data.get(name) or [] for name in SPLITS}
    if not all(isinstance(v, list) for v in lists.values()):
        raise ValueError(f"{path}: dev and test must be lists of item ids")
    both = set(lists["dev"]) & set(lists["test"])
    if both:
        raise ValueError(f"{path}: ids in both dev and test: {', '.join(sorted(both))}")
    return Split(int(data.get("seed", SEED)), float(data.get("dev_share", DEV_SHARE)),
                 tuple(map(str, lists["dev"])), tuple(map(str, lists["test"])))


def render(split: Split, header: str = HEADER) -> str:
    body = {"seed": split.seed, "dev_share": split.dev_share, "dev": list(split.dev), "test": list(split.test)}
    return header + yaml.safe_dump(body, sort_keys=False, default_flow_style=False)


def load_split(dataset_path: str | Path, split_name: str) -> list[GoldenItem]:
    """The dataset's items in ``split_name`` ("dev" or "test"), in dataset order.

    Raises ValueError when an item has no assignment: silently leaving new
    questions out of both splits would shrink the evaluation unnoticed.
    """
    if split_name not in SPLITS:
        raise ValueError(f"unknown split {split_name!r} (expected one of {', '.join(SPLITS)})")
    path = splits_path(dataset_path)
    split = read_split(path)
    if split is None:
        raise ValueError(f"{path} not found: run `python -m evals.split` once to draw the split")
    items = load_dataset(dataset_path)
    assignment = split.assignment()
    missing = [i.id for i in items if i.id not in assignment]
    if missing:
        raise ValueError(f"{len(missing)} item(s) not in {path.name} ({', '.join(missing[:5])}...): "
                         "run `python -m evals.split` to place them")
    return [i for i in items if assignment[i.id] == split_name]


def describe(split: Split, items: Iterable[GoldenItem]) -> str:
    """One line per category: dev and test counts (for the command's output)."""
    side = split.assignment()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item in items:
        counts[item.category][SPLITS.index(side[item.id])] += 1
    rows = [f"{'category':<14} {'dev':>4} {'test':>4}"]
    rows += [f"{c:<14} {d:>4} {t:>4}" for c, (d, t) in sorted(counts.items())]
    rows.append(f"{'total':<14} {len(split.dev):>4} {len(split.test):>4}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=GOLDEN)
    args = parser.parse_args(argv)

    items = load_dataset(args.dataset)
    path = splits_path(args.dataset)
    existing = read_split(path)
    split = draw(items, existing, seed=existing.seed if existing else SEED,
                 share=existing.dev_share if existing else DEV_SHARE)
    before = existing.assignment() if existing else {}
    placed = [i for i in split.assignment() if i not in before]
    dropped = sorted(set(before) - set(split.assignment()))
    path.write_text(render(split), encoding="utf-8")
    print(f"{path}: {len(placed)} item(s) newly placed, {len(before) - len(dropped)} kept"
          + (f", {len(dropped)} no longer in the dataset dropped ({', '.join(dropped)})" if dropped else ""))
    print(describe(split, items))


if __name__ == "__main__":
    main()
