"""The evaluation sets `mopi eval` runs side by side.

- ``dev``: the golden set's dev split (evals/datasets/golden.splits.yaml), the one to tune on;
- ``test``: the golden set's test split, scored only to report and gate;
- ``independent``: evals/datasets/independent.yaml, questions written apart from the product's
  development; optional (skipped, with a note, when the file is absent).

An ad-hoc file (``mopi eval --dataset PATH``) is one more set, named after the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.dataset import GoldenItem, load_dataset
from evals.split import GOLDEN, load_split

DATASETS = Path(__file__).parent / "datasets"
INDEPENDENT = DATASETS / "independent.yaml"
SET_NAMES: tuple[str, ...] = ("dev", "test", "independent")


@dataclass(frozen=True)
class EvalSet:
    name: str
    source: str  # where the items came from, for the report
    items: tuple[GoldenItem, ...]


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_set(name: str, golden: Path = GOLDEN, independent: Path = INDEPENDENT) -> EvalSet | None:
    """One named set; None for the independent set when its file does not exist (yet)."""
    if name in ("dev", "test"):
        return EvalSet(name, f"{_shown(golden)} ({name} split)", tuple(load_split(golden, name)))
    if name == "independent":
        if not independent.is_file():
            return None
        return EvalSet(name, _shown(independent), tuple(load_dataset(independent)))
    raise ValueError(f"unknown evaluation set {name!r} (expected one of {', '.join(SET_NAMES)})")


def load_sets(names: Sequence[str] = SET_NAMES, golden: Path = GOLDEN,
              independent: Path = INDEPENDENT) -> tuple[list[EvalSet], list[str]]:
    """The named sets that exist, in order, and a note for each one skipped."""
    sets, notes = [], []
    for name in dict.fromkeys(names):
        loaded = load_set(name, golden, independent)
        if loaded is None:
            notes.append(f"{name} set skipped: {_shown(independent)} not found")
        else:
            sets.append(loaded)
    return sets, notes


def adhoc_set(path: Path) -> EvalSet:
    """A file given with --dataset, as one set named after it."""
    return EvalSet(Path(path).stem, _shown(Path(path)), tuple(load_dataset(path)))
