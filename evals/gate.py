"""The gate: floors and ceilings per evaluation set and category (evals/thresholds.yaml).

Pure: per-set results and thresholds in, one failure line per breach out. Only
the sets that were not tuned on (test, independent) carry floors; dev numbers
are flattered by tuning, so clearing a floor there would prove little.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

THRESHOLDS = Path(__file__).with_name("thresholds.yaml")


@dataclass(frozen=True)
class Bounds:
    """Limits for one set: on its overall summary, and on named categories."""

    overall: dict[str, float] = field(default_factory=dict)
    categories: dict[str, dict[str, float]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.overall) or any(self.categories.values())


@dataclass(frozen=True)
class Thresholds:
    floors: dict[str, Bounds] = field(default_factory=dict)  # set name -> lowest acceptable values
    ceilings: dict[str, Bounds] = field(default_factory=dict)  # set name -> highest acceptable (lower is better)
    aims: dict[str, float] = field(default_factory=dict)  # where the product wants to be; reported, not gated


def _numbers(raw, where: str) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, (int, float)) for v in raw.values()):
        raise ValueError(f"thresholds: {where} must map metric names to numbers")
    return {str(k): float(v) for k, v in raw.items()}


def _bounds_by_set(raw, section: str) -> dict[str, Bounds]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"thresholds: {section} must map set names to {{overall, categories}}")
    out = {}
    for set_name, body in raw.items():
        body = body or {}
        unknown = set(body) - {"overall", "categories"}
        if unknown:
            raise ValueError(f"thresholds: {section}.{set_name}: unknown key {sorted(unknown)[0]!r}")
        categories = body.get("categories") or {}
        out[str(set_name)] = Bounds(
            _numbers(body.get("overall"), f"{section}.{set_name}.overall"),
            {str(c): _numbers(m, f"{section}.{set_name}.categories.{c}") for c, m in categories.items()})
    return out


def parse_thresholds(data: Mapping) -> Thresholds:
    data = data or {}
    return Thresholds(_bounds_by_set(data.get("floors"), "floors"), _bounds_by_set(data.get("ceilings"), "ceilings"),
                      _numbers(data.get("aims"), "aims"))


def load_thresholds(path: Path = THRESHOLDS) -> Thresholds:
    return parse_thresholds(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def _breaches(where: str, values: Mapping | None, limits: Mapping[str, float], ceiling: bool) -> list[str]:
    if values is None:
        return [f"{where}: category missing"]
    failures = []
    for metric, limit in limits.items():
        value = values.get(metric)
        if value is None:
            failures.append(f"{where}: {metric} missing (limit {limit:.3f})")
        elif (value > limit) if ceiling else (value < limit):
            failures.append(f"{where}: {metric} {value:.3f} is {'above the ceiling' if ceiling else 'below the floor'} "
                            f"{limit:.3f}")
    return failures


def check(results: Mapping[str, Mapping], thresholds: Thresholds) -> list[str]:
    """One line per breach, naming set, category (or "overall") and metric; [] means the gate passed.

    ``results`` is {set name: {"summary": {...}, "by_category": {category: {...}}}} for one
    configuration. A metric, category or set that is missing counts as failing, so the gate
    cannot pass by not measuring; thresholds with no floors at all fail too.
    """
    failures = [] if any(thresholds.floors.values()) else ["no floors set"]
    for limits, ceiling in ((thresholds.floors, False), (thresholds.ceilings, True)):
        for set_name, bounds in limits.items():
            if not bounds:
                continue
            result = results.get(set_name)
            if result is None:
                failures.append(f"{set_name}: set not run")
                continue
            failures += _breaches(f"{set_name}/overall", result.get("summary") or {}, bounds.overall, ceiling)
            by_category = result.get("by_category") or {}
            for category, metric_limits in bounds.categories.items():
                failures += _breaches(f"{set_name}/{category}", by_category.get(category), metric_limits, ceiling)
    return list(dict.fromkeys(failures))  # a set missing under floors and ceilings is reported once
