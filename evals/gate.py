"""Floors the evaluation must clear (evals/thresholds.yaml). Pure: metrics in, failures out."""

from __future__ import annotations

from pathlib import Path

import yaml

THRESHOLDS = Path(__file__).with_name("thresholds.yaml")


def load_thresholds(path: Path = THRESHOLDS) -> dict[str, dict[str, float]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {"floors": dict(data.get("floors") or {}), "aims": dict(data.get("aims") or {})}


def check(summary: dict[str, float | None], floors: dict[str, float]) -> list[str]:
    """One line per metric below its floor (a missing metric counts as failing)."""
    failures = []
    for metric, floor in floors.items():
        value = summary.get(metric)
        if value is None or value < floor:
            shown = "missing" if value is None else f"{value:.3f}"
            failures.append(f"{metric} {shown} is below the floor {floor:.3f}")
    return failures
