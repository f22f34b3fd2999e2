"""Evaluation reports: JSON for machines, one self-contained HTML page for people.

Pure rendering (run dict in, text out) plus one function that writes both files
and finds the previous run to compare with.
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path

# Metrics where lower is better; every other metric is better higher, except NEUTRAL ones.
LOWER_IS_BETTER = {"latency_p50_ms", "latency_p95_ms", "false_refusals"}
# Answer length is context for fact accuracy (longer answers pass phrase checks more easily),
# neither better nor worse: compared, never flagged.
NEUTRAL = {"answer_chars_p50"}
LATENCY = {"latency_p50_ms", "latency_p95_ms"}
HEADLINE = ["pass", "recall@1", "recall@3", "recall@5", "mrr", "ndcg@10", "fact_accuracy", "citation_precision",
            "citation_support", "refusal_precision", "refusal_recall", "false_refusals", "faithfulness",
            "answer_chars_p50", "latency_p50_ms", "latency_p95_ms"]


def set_summaries(run: dict) -> dict[tuple[str, str], dict]:
    """{(set, config): summary} for a run; {} for a run from before sets (nothing to match it with)."""
    return {(set_name, config["name"]): result["summary"]
            for config in run.get("configs", []) for set_name, result in (config.get("sets") or {}).items()}


def compare(current: dict, previous: dict | None, tolerance: float = 0.01) -> list[dict]:
    """Metric-by-metric change per (set, config) present in both runs; ``regressed`` marks worse ones."""
    if not previous:
        return []
    before_all = set_summaries(previous)
    rows = []
    for (set_name, config), now in set_summaries(current).items():
        before = before_all.get((set_name, config))
        if before is None:
            continue
        for metric in HEADLINE:
            a, b = before.get(metric), now.get(metric)
            if a is None or b is None:
                continue
            if metric in NEUTRAL:
                regressed = False
            elif metric in LATENCY:
                regressed = b > a * 1.2 + 1.0  # latency is noisy: flag only a fifth slower (and over 1 ms)
            elif metric in LOWER_IS_BETTER:
                regressed = b > a + tolerance
            else:
                regressed = b < a - tolerance
            rows.append({"set": set_name, "config": config, "metric": metric, "previous": a, "now": b,
                         "delta": b - a, "regressed": regressed})
    return rows


def columns(run: dict) -> list[tuple[str, dict]]:
    """(set name, config run) pairs, grouped by set so each set's configurations sit side by side."""
    names = list(dict.fromkeys(s["name"] for s in run.get("sets", [])))
    return [(name, config) for name in names for config in run["configs"] if name in config["sets"]]


def gap_line(run: dict) -> str:
    """'dev − test gap (config): fact accuracy +0.041, pass +0.050', or '' when dev or test did not run."""
    gap = run.get("gap") or {}
    values = gap.get("values")
    if not values:
        return ""
    shown = ", ".join(f"{metric.replace('_', ' ')} {value:+.3f}" for metric, value in values.items())
    return f"dev − test gap ({gap['config']}): {shown}"


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
    pairs = columns(run)
    first = run["configs"][0]
    header = "".join(f"<th>{e(set_name)}<br>{e(c['name'])}</th>" for set_name, c in pairs)
    side = "".join(
        f"<tr><th>{e(m)}</th>" + "".join(f"<td>{fmt(c['sets'][s]['summary'].get(m))}</td>" for s, c in pairs)
        + f"<td>{fmt(aims.get(m))}</td></tr>" for m in HEADLINE)
    questions = " · ".join(f"{e(s['name'])}: {s['questions']} questions ({e(s['source'])})" for s in run["sets"])
    notes = "".join(f"<p>{e(n)}</p>" for n in run.get("notes", []))
    gap = f"<p>{e(gap_line(run))}</p>" if gap_line(run) else ""
    charts = ""
    for set_name, result in first["sets"].items():
        categories = result["by_category"]
        charts += "".join(
            _bars(f"{metric} by category ({set_name}, {first['name']})", [(k, v.get(metric)) for k, v in categories.items()])
            for metric in ("fact_accuracy", "recall@5", "citation_precision")
            if any(v.get(metric) is not None for v in categories.values()))
    all_items = [(set_name, i) for set_name, result in first["sets"].items() for i in result["items"]]
    latency = _histogram(f"Latency per question ({first['name']}, all sets)", [i["latency_ms"] for _, i in all_items])
    regressions = "".join(
        f"<tr class=\"{'bad' if r['regressed'] else ''}\"><td>{e(r['set'])}</td><td>{e(r['config'])}</td>"
        f"<td>{e(r['metric'])}</td><td>{fmt(r['previous'])}</td><td>{fmt(r['now'])}</td><td>{r['delta']:+.3f}</td></tr>"
        for r in comparison) or "<tr><td colspan=6>No previous run with the same sets to compare with.</td></tr>"
    failing = "".join(
        f"<tr><td>{e(set_name)}</td><td>{e(i['id'])}</td><td>{e(i['category'])}</td><td>{e(i['question'])}</td>"
        f"<td>{'refuse' if i['should_refuse'] else e(', '.join(i['expected_docs']))}"
        f"{(' § ' + e(', '.join(i['expected_sections']))) if i['expected_sections'] else ''}</td>"
        f"<td>{'REFUSED: ' if i['refused'] else ''}{e(i['answer'][:400])}</td>"
        f"<td>{e(', '.join(dict.fromkeys(c['doc_id'] or 'url' for c in i['cited'])))}</td></tr>"
        for set_name, i in all_items if not i["passed"])
    gate = run.get("gate") or {}
    gate_line = ("<p class=ok>Gate passed.</p>" if gate.get("passed") else
                 "<p class=bad>Gate failed: " + e("; ".join(gate.get("failures", []))) + "</p>") if gate else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>MoPI Assistant evaluation {e(run['created'])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:13px}}
.bad{{background:#fde2e1}}.ok{{color:#2a7d2a}}p.bad{{padding:.5em}}</style></head><body>
<h1>MoPI Assistant evaluation</h1>
<p>Run {e(run['created'])} · {questions} · judge: {e(first['judge'])}</p>{notes}{gate_line}
<h2>Sets and configurations side by side</h2><table><tr><th>metric</th>{header}<th>aim</th></tr>{side}</table>{gap}
<h2>Compared with the previous run</h2><table><tr><th>set</th><th>config</th><th>metric</th><th>previous</th><th>now</th>
<th>change</th></tr>{regressions}</table>
<h2>By category</h2>{charts}
<h2>Latency</h2>{latency}
<h2>Failing questions ({e(first['name'])})</h2>
<table><tr><th>set</th><th>id</th><th>category</th><th>question</th><th>expected</th><th>answer</th><th>cited</th></tr>{failing}</table>
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
