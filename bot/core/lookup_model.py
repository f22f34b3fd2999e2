"""The guard's second opinion on record lookups: a logistic model over the question's embedding.

The rules in :mod:`bot.core.guards` read the parse: a person, a reference number or
"my neighbour" tied to a record. They miss lookups worded in ways no rule foresaw.
This model reads the whole question instead: the very vector the retriever embeds (so
it costs one dot product and no second embedding), beside the guard's own parse signals
(``bot.core.guards.SIGNALS``: a person entity, a record word, "my" relation...), which
the rules use one at a time and the model weighs together. It is fitted on the guard
training set and the dev splits of the guard and golden sets only
(``python -m evals.fit lookup``).

It adds refusals, and its threshold is set from held-out folds so that at most 0.3% of
the ordinary questions it was fitted on would have been refused by it. It overrules the rules only
where they are weak by their own account (a name seen only in an opening aside, such
as "Dzień dobry – …"), and only below a second threshold set well under every such lookup.
The weights belong to one embedding model: under any other model it stays off.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

WEIGHTS_FILE = Path(__file__).with_name("lookup_weights.json")


@dataclass(frozen=True)
class LookupModel:
    model: str  # the embedding model the weights were fitted for
    weights: tuple[float, ...]  # the embedding's dimensions, then one per signal
    bias: float
    threshold: float  # refuse at or above this probability
    # A weak rule refusal (a name only in an opening aside) stands at or above this; below it, the
    # question is answered. 0 keeps every weak refusal.
    weak_threshold: float = 0.0
    signals: tuple[str, ...] = ()  # the names of the signals it weighs, in order

    def probability(self, vector: Sequence[float], signals: Sequence[float] = ()) -> float:
        score = self.bias + sum(w * v for w, v in zip(self.weights, (*vector, *signals)))
        return 1.0 / (1.0 + math.exp(-score))

    def _reads(self, vector: Sequence[float], signals: Sequence[float]) -> bool:
        return len(vector) + len(signals) == len(self.weights) and len(signals) == len(self.signals)

    def refuses(self, vector: Sequence[float], signals: Sequence[float] = ()) -> bool:
        return self._reads(vector, signals) and self.probability(vector, signals) >= self.threshold

    def clears(self, vector: Sequence[float], signals: Sequence[float] = ()) -> bool:
        """Whether a weak rule refusal of this question may be lifted."""
        return self._reads(vector, signals) and self.probability(vector, signals) < self.weak_threshold

    @classmethod
    def load(cls, model_name: str, path: Path = WEIGHTS_FILE, signals: Sequence[str] | None = None) -> LookupModel | None:
        """The fitted model, or None (with one logged line) when there is none for this embedding model."""
        if not path.is_file():
            log.warning("lookup model off: %s is missing (fit it: python -m evals.fit lookup)", path.name)
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["model"] != model_name:
            log.warning("lookup model off: %s was fitted for %s, not %s (refit: python -m evals.fit lookup)",
                        path.name, data["model"], model_name)
            return None
        fitted_for = tuple(data.get("signals", ()))
        if signals is not None and fitted_for != tuple(signals):
            log.warning("lookup model off: %s was fitted for the signals %s, not %s (refit: python -m evals.fit lookup)",
                        path.name, list(fitted_for), list(signals))
            return None
        return cls(data["model"], tuple(float(w) for w in data["weights"]), float(data["bias"]),
                   float(data["threshold"]), float(data.get("weak_threshold", 0.0)), fitted_for)

    def save(self, path: Path, provenance: dict) -> None:
        path.write_text(json.dumps({**provenance, "model": self.model, "threshold": round(self.threshold, 4),
                                    "weak_threshold": round(self.weak_threshold, 4), "signals": list(self.signals),
                                    "bias": round(self.bias, 6), "weights": [round(w, 6) for w in self.weights]},
                                   indent=1) + "\n", encoding="utf-8")


def fit_logistic(x, y, l2: float, steps: int = 3000, rate: float = 5.0):
    """(weights, bias) minimising the mean log loss plus ``l2``/n times the squared weights (full-batch descent;
    the data is a few hundred rows). ``x`` is an (n, d) array, ``y`` 0/1 labels."""
    import numpy as np

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        w -= rate * (x.T @ (p - y) + l2 * w) / len(y)
        b -= rate * float((p - y).mean())
    return w, b


def held_out_probabilities(x, y, l2: float, folds: int = 5, seed: int = 0):
    """Each row's probability from a model fitted on the other folds (rows dealt to folds at random, seeded)."""
    import numpy as np

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    fold = np.random.default_rng(seed).permutation(len(y)) % folds
    out = np.zeros(len(y))
    for k in range(folds):
        w, b = fit_logistic(x[fold != k], y[fold != k], l2)
        out[fold == k] = 1.0 / (1.0 + np.exp(-(x[fold == k] @ w + b)))
    return out
