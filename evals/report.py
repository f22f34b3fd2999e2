"""Evaluation reports: JSON for machines, one self-contained HTML page for people.

Pure rendering (run dict in, text out) plus one function that writes both files
and finds the previous run to compare with.
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path

# Metrics where lower is better; every other metric is better higher.
LOWER_IS_BETTER = {"latency_p50_ms", "latency_p95_ms"}
HEADLINE = ["recall@1", "recall@3", "recall@5", "mrr", "ndcg@10", "fact_accuracy", "citation_precision",
            "citation_support", "refusal_precision", "refusal_recall", "faithfulness", "latency_p50_ms",
            "latency_p95_ms"]


def compare(current: dict, previous: dict | None, tolerance: float = 0.01) -> list[dict]:
    """Metric-by-metric change from the previous run's first config; ``regressed`` marks worse ones."""
    if not previous:
        return []
    now, before = current["configs"][0]["summary"], previous["configs"][0]["summary"]
    rows = []
    for metric in HEADLINE:
        a, b = before.get(metric), now.get(metric)
        if a is None or b is None:
            continue
        if metric in LOWER_IS_BETTER:
            regressed = b > a * 1.2 + 1.0  # latency is noisy: flag only a fifth slower (and over 1 ms)
        else:
            regressed = b < a - tolerance
        rows.append({"metric": metric, "previous": a, "now": b, "delta": b - a, "regressed": regressed})
    return rows


def fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if isinstance(value, float) and value > 2 else f"{value:.3f}" if isinstance(value, float) else str(value)


def _bars(title: str, rows: list[tuple[str, float]], width: int = 640, bar_h: int = 18) -> str:
    """A horizontal bar chart (values 0..1) as inline SVG."""
    label_w, height = 150, bar_h * len(rows) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{html.escape(title)}"><text x="0" y="14" font-weight="bold">{html.escape(title)}</text>']
    for i, (label, value) in enumerate(rows):
        y = 24 + i * bar_h
        w = max(0.0, min(1.0, value or 0.0)) * (width - label_w - 60)
        colour = "#2a9d8f" if (value or 0) >= 0.85 else "#e9c46a" if (value or 0) >= 0.6 else "#e76f51"
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{html.escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 5}" fill="{colour}"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" font-size="12">{fmt(value)}</text>')
    return "".join(parts) + "</svg>"


def _histogram(title: str, values: list[float], bins: int = 20, width: int = 640, height: int = 160) -> str:
    if not values:
        return ""
    top = max(values) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(v / top * bins))] += 1
    peak = max(counts)
    bar_w = (width - 40) / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}" role="img" '
             f'aria-label="{html.escape(title)}"><text x="0" y="14" font-weight="bold">{html.escape(title)}</text>']
    for i, count in enumerate(counts):
        h = count / peak * height
        parts.append(f'<rect x="{20 + i * bar_w:.1f}" y="{20 + height - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                     f'fill="#457b9d"><title>{i * top / bins:.0f}–{(i + 1) * top / bins:.0f} ms: {count}</title></rect>')
    parts.append(f'<text x="20" y="{height + 36}" font-size="12">0 ms</text>'
                 f'<text x="{width - 80}" y="{height + 36}" font-size="12">{top:.0f} ms</text>')
    return "".join(parts) + "</svg>"


def render_html(run: dict, comparison: list[dict], aims: dict | None = None) -> str:
    """The whole report as one HTML page with inline CSS and SVG (no network, no scripts)."""
    aims = aims or {}
    e = html.escape
    configs = run["configs"]
    first = configs[0]
    side = "".join(
        f"<tr><th>{e(m)}</th>" + "".join(f"<td>{fmt(c['summary'].get(m))}</td>" for c in configs)
        + f"<td>{fmt(aims.get(m))}</td></tr>" for m in HEADLINE)
    header = "".join(f"<th>{e(c['name'])}</th>" for c in configs)
    categories = first["by_category"]
    charts = "".join(
        _bars(f"{metric} by category ({first['name']})", [(k, v.get(metric)) for k, v in categories.items()])
        for metric in ("fact_accuracy", "recall@5", "citation_precision") if any(v.get(metric) is not None for v in categories.values()))
    latency = _histogram(f"Latency per question ({first['name']})", [i["latency_ms"] for i in first["items"]])
    regressions = "".join(
        f"<tr class=\"{'bad' if r['regressed'] else ''}\"><td>{e(r['metric'])}</td><td>{fmt(r['previous'])}</td>"
        f"<td>{fmt(r['now'])}</td><td>{r['delta']:+.3f}</td></tr>" for r in comparison) or \
        "<tr><td colspan=4>No previous run to compare with.</td></tr>"
    failing = "".join(
        f"<tr><td>{e(i['id'])}</td><td>{e(i['category'])}</td><td>{e(i['question'])}</td>"
        f"<td>{'refuse' if i['should_refuse'] else e(', '.join(i['expected_docs']))}"
        f"{(' § ' + e(', '.join(i['expected_sections']))) if i['expected_sections'] else ''}</td>"
        f"<td>{'REFUSED: ' if i['refused'] else ''}{e(i['answer'][:400])}</td>"
        f"<td>{e(', '.join(dict.fromkeys(c['doc_id'] or 'url' for c in i['cited'])))}</td></tr>"
        for i in first["items"] if not i["passed"])
    gate = run.get("gate") or {}
    gate_line = ("<p class=ok>Gate passed.</p>" if gate.get("passed") else
                 "<p class=bad>Gate failed: " + e("; ".join(gate.get("failures", []))) + "</p>") if gate else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>MoPI Assistant evaluation {e(run['created'])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:13px}}
.bad{{background:#fde2e1}}.ok{{color:#2a7d2a}}p.bad{{padding:.5em}}</style></head><body>
<h1>MoPI Assistant evaluation</h1>
<p>Run {e(run['created'])} · dataset {e(run['dataset'])} · {first['summary']['questions']} questions ·
judge: {e(first['judge'])}</p>{gate_line}
<h2>Configurations side by side</h2><table><tr><th>metric</th>{header}<th>aim</th></tr>{side}</table>
<h2>Compared with the previous run</h2><table><tr><th>metric</th><th>previous</th><th>now</th><th>change</th></tr>{regressions}</table>
<h2>By category</h2>{charts}
<h2>Latency</h2>{latency}
<h2>Failing questions ({first['name']})</h2>
<table><tr><th>id</th><th>category</th><th>question</th><th>expected</th><th>answer</th><th>cited</th></tr>{failing}</table>
</body></html>"""


def write_reports(run: dict, out_dir: Path, aims: dict | None = None) -> tuple[Path, Path, list[dict]]:
    """Write run-<time>.json and .html (and latest.*) under ``out_dir``; compare with the previous latest.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    latest = out_dir / "latest.json"
    previous = json.loads(latest.read_text(encoding="utf-8")) if latest.is_file() else None
    comparison = compare(run, previous)
    run = {**run, "comparison": comparison}
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    json_path, html_path = out_dir / f"run-{stamp}.json", out_dir / f"run-{stamp}.html"
    json_path.write_text(json.dumps(run, indent=1), encoding="utf-8")
    html_path.write_text(render_html(run, comparison, aims), encoding="utf-8")
    latest.write_text(json_path.read_text(encoding="utf-8"), encoding="utf-8")
    (out_dir / "latest.html").write_text(html_path.read_text(encoding="utf-8"), encoding="utf-8")
    return json_path, html_path, comparison
