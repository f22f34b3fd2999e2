"""A linear scoring model over named features, kept as data (JSON) beside the code that computes them.

The reranker and the sentence scorer each combine a handful of signals. Their
weights are not set by feel: ``python -m evals.fit`` fits them on the golden
dev split only, and the JSON file records what they were fitted on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LinearModel:
    features: tuple[str, ...]
    weights: tuple[float, ...]

    @classmethod
    def load(cls, path: Path, features: Sequence[str]) -> LinearModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != tuple(features):
            raise ValueError(f"{path} was fitted for features {data['features']}, not {list(features)}: "
                             "refit it with python -m evals.fit")
        return cls(tuple(features), tuple(float(w) for w in data["weights"]))

    def score(self, values: Sequence[float]) -> float:
        return sum(w * v for w, v in zip(self.weights, values))

    def save(self, path: Path, provenance: dict) -> None:
        path.write_text(json.dumps({**provenance, "features": list(self.features),
                                    "weights": [round(w, 4) for w in self.weights]}, indent=2) + "\n",
                        encoding="utf-8")


def vector(values: Mapping[str, float], features: Sequence[str]) -> tuple[float, ...]:
    """``values`` in the order of ``features``; built by name, so a feature can never be misplaced."""
    if set(values) != set(features):
        raise ValueError(f"feature values {sorted(values)} do not match the features {list(features)}")
    return tuple(float(values[name]) for name in features)
