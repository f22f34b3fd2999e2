"""Answer benchmark: warm latency and stage shares, a plain LangChain baseline, cold `mopi ask`, peak RSS.

    python -m evals.benchmarks.bench_answers [--repeat N] [--ensure-index]

Needs an index already built in MOPI_HOME (default .mopi); without one it
prints a hint and exits 2. With --ensure-index it first brings that index in
step with the corpus folder (a no-op when nothing changed).

Prints Markdown tables (pipeline | metric | measured | target | ok, and so on)
and a few notes. It reports; it never gates: the exit code is 0 even when a
target is MISSED.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.index import build_assistant, make_embedder, open_store
from bot.core.lexical import current_fingerprint
from bot.core.models import Answer
from bot.errors import IndexNotReadyError
from bot.settings import Settings, load_settings
from evals import metrics
from evals.benchmarks.common import ok_mark, print_table, quiet_logging
from evals.dataset import GoldenItem, load_dataset

ROOT = Path(__file__).resolve().parents[2]  # the project folder (holds .venv, corpus and evals)
DATASET = ROOT / "evals" / "datasets" / "golden.yaml"
GNU_TIME = Path("/usr/bin/time")

TARGET_P50_MS = 60.0
TARGET_P95_MS = 150.0
TARGET_COLD_S = 2.0  # issue 11: a newcomer's `mopi ask` on an indexed corpus, whole process
TARGET_COLD_RSS_MIB = 300.0
TARGET_HELP_S = 0.2

WARMUP_QUESTIONS = 3
COLD_RUNS = 5
IMPORT_TOP = 5
BASELINE_K = 8
RECALL_K = 5
CLI_QUESTION = "how long is the clear period for Group 3?"
STAGES = ("guard", "route", "embed", "vector", "bm25", "fuse", "rerank", "extract")
MOPI = "hybrid + extractive (mopi)"
BASELINE = "LangChain Chroma.similarity_search (dense only, no answer)"

# Run in a fresh interpreter: the phases of a cold `mopi ask`, one JSON line of seconds.
_BREAKDOWN_SCRIPT = """
import json, logging, sys, time
logging.basicConfig(level=logging.WARNING)
started = time.perf_counter()
import bot.cli, bot.console, bot.core.index
from bot.settings import load_settings
seconds = {"imports": time.perf_counter() - started}
started = time.perf_counter()
assistant = bot.core.index.build_assistant(load_settings())
seconds["build"] = time.perf_counter() - started
started = time.perf_counter()
first = assistant.ask(sys.argv[1])
seconds["first_ask"] = time.perf_counter() - started
seconds["first_embed"] = first.timings_ms.get("embed", 0.0) / 1000
started = time.perf_counter()
assistant.ask(sys.argv[1])
seconds["second_ask"] = time.perf_counter() - started
print(json.dumps(seconds))
"""

# Run in a fresh, small interpreter when GNU time is missing: wall and peak RSS of one child.
_RUSAGE_SCRIPT = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"seconds": time.perf_counter() - started, "code": proc.returncode,
                  "output": (proc.stderr or proc.stdout).strip()[-300:],
                  "rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


@dataclass
class WarmResults:
    """Every timed ask of both pipelines, plus each question's ranking from the first pass."""

    answers: list[Answer] = field(default_factory=list)
    mopi_ms: list[float] = field(default_factory=list)  # wall time around Assistant.ask
    baseline_ms: list[float] = field(default_factory=list)  # wall time around similarity_search
    mopi_ranked: dict[str, list[dict]] = field(default_factory=dict)  # item id -> retrieved hits
    baseline_ranked: dict[str, list[dict]] = field(default_factory=dict)


@dataclass(frozen=True)
class Measured:
    """One measured subprocess."""

    seconds: float
    code: int
    output: str
    rss_mib: float | None
    rss_source: str


# --------------------------------------------------------------------------- helpers


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _ensure_index(settings: Settings, embedder) -> str:
    """Bring the real index in step with the corpus folder; a one-line summary."""
    from ingest.pipeline import INDEXED, run_ingest

    report = run_ingest([settings.corpus_dir], settings, store=open_store(settings, embedder), embedder=embedder)
    return (f"--ensure-index: run_ingest over {settings.corpus_dir} took {report.seconds:.2f} s, "
            f"{report.count(INDEXED)} of {len(report.outcomes)} files (re)indexed, {len(report.failures)} failed.")


# --------------------------------------------------------------------------- warm runs


def _baseline_ranked(store, question: str) -> list[dict]:
    """Plain LangChain dense search, as the same dicts as ``Answer.diagnostics.retrieved``."""
    docs = store.langchain.similarity_search(question, k=BASELINE_K)
    return [{"id": d.id, "doc_id": d.metadata.get("doc_id", ""), "section": d.metadata.get("section", ""),
             "section_number": d.metadata.get("section_number", "")} for d in docs]


def _warm_runs(assistant, store, items: list[GoldenItem], repeat: int) -> WarmResults:
    """Warm both pipelines, then ask every question ``repeat`` times, the two pipelines interleaved."""
    for item in items[:WARMUP_QUESTIONS]:
        assistant.ask(item.question)
        _baseline_ranked(store, item.question)
    results = WarmResults()
    for _ in range(repeat):
        for item in items:
            started = time.perf_counter()
            answer = assistant.ask(item.question)
            results.mopi_ms.append(_ms_since(started))
            results.answers.append(answer)
            started = time.perf_counter()
            ranked = _baseline_ranked(store, item.question)
            results.baseline_ms.append(_ms_since(started))
            results.mopi_ranked.setdefault(item.id, list(answer.diagnostics.retrieved))
            results.baseline_ranked.setdefault(item.id, ranked)
    return results


def _recall(items: list[GoldenItem], ranked: dict[str, list[dict]]) -> float:
    """Mean recall@RECALL_K over the items that name expected documents."""
    answerable = [i for i in items if i.expected_docs]
    return metrics.mean([
        metrics.recall_at(metrics.relevance(ranked[i.id], i.expected_docs, i.expected_sections), RECALL_K)
        for i in answerable]) or 0.0


def _latency_rows(items: list[GoldenItem], warm: WarmResults) -> list[tuple]:
    rows = []
    for pipeline, samples, ranked, targeted in ((MOPI, warm.mopi_ms, warm.mopi_ranked, True),
                                                (BASELINE, warm.baseline_ms, warm.baseline_ranked, False)):
        p50, p95 = metrics.percentile(samples, 50), metrics.percentile(samples, 95)
        rows.append((pipeline, "warm latency p50, wall (ms)", f"{p50:.1f}",
                     f"<= {TARGET_P50_MS:g}" if targeted else "", ok_mark(p50 <= TARGET_P50_MS) if targeted else ""))
        rows.append((pipeline, "warm latency p95, wall (ms)", f"{p95:.1f}",
                     f"<= {TARGET_P95_MS:g}" if targeted else "", ok_mark(p95 <= TARGET_P95_MS) if targeted else ""))
        rows.append((pipeline, f"retrieval recall@{RECALL_K}", f"{_recall(items, ranked):.3f}", "", ""))
    return rows


def _stage_rows(answers: list[Answer]) -> list[tuple]:
    """Mean ms and share of the mean total per stage, over answers that ran retrieval."""
    retrieved = [a.timings_ms for a in answers if "embed" in a.timings_ms]
    if not retrieved:
        return [("(no answer ran retrieval)", "", "")]
    total = statistics.fmean(t["total"] for t in retrieved)
    means = {s: statistics.fmean(t.get(s, 0.0) for t in retrieved) for s in STAGES}
    means["other"] = statistics.fmean(t["total"] - sum(t.get(s, 0.0) for s in STAGES) for t in retrieved)
    rows = [(stage, f"{ms:.2f}", f"{ms / total:.1%}") for stage, ms in means.items()]
    rows.append(("total (Answer.timings_ms)", f"{total:.2f}", "100.0%"))
    return rows


def _no_retrieval_note(answers: list[Answer]) -> str:
    """Which asks ran no document retrieval, and why."""
    skipped = [a for a in answers if "embed" not in a.timings_ms]
    guards = sum(a.refusal_reason in ("personal_record", "injection") for a in skipped)
    register = sum(a.mode == "register" for a in skipped)
    rest = len(skipped) - guards - register
    return (f"stages: {len(skipped)} of {len(answers)} asks report no retrieval stages ({guards} refused by the "
            f"guards, {register} answered by the recommendation-register path" + (f", {rest} other" if rest else "")
            + ") and are left out of the shares but not the latencies; 'other' = total - the five stages "
            "(guards, question normalisation, register routing, refusal policy, superseded notes).")


def _timing_check(warm: WarmResults) -> str:
    """How far wall time around ask is from the answer's own total."""
    gaps = [wall - a.timings_ms["total"] for wall, a in zip(warm.mopi_ms, warm.answers)]
    own_p50 = metrics.percentile([a.timings_ms["total"] for a in warm.answers], 50)
    return (f"wall vs Answer.timings_ms['total']: wall is longer by {statistics.fmean(gaps):.3f} ms on average "
            f"(max {max(gaps):.3f} ms); p50 by the answer's own total {own_p50:.1f} ms.")


# --------------------------------------------------------------------------- cold processes


def _with_gnu_time(cmd: list[str], env: dict) -> Measured:
    """Wall time around the process, peak RSS from GNU time's %M (KiB)."""
    fd, rss_file = tempfile.mkstemp(prefix="mopi-bench-rss-")
    os.close(fd)
    try:
        started = time.perf_counter()
        proc = subprocess.run([str(GNU_TIME), "-f", "%M", "-o", rss_file, *cmd], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - started
        try:
            rss = int(Path(rss_file).read_text().split()[-1]) / 1024
        except (OSError, ValueError, IndexError):
            rss = None
    finally:
        os.unlink(rss_file)
    return Measured(seconds, proc.returncode, (proc.stderr or proc.stdout).strip(), rss, "GNU time %M")


def _with_rusage_helper(cmd: list[str], env: dict) -> Measured:
    """Wall time and getrusage(RUSAGE_CHILDREN) peak RSS, taken in a fresh small helper process.

    Not from this process: a child forked from it would inherit its large RSS high-water mark.
    """
    proc = subprocess.run([sys.executable, "-c", _RUSAGE_SCRIPT, *cmd], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return Measured(data["seconds"], data["code"], data["output"], data["rss_kib"] / 1024,
                    "getrusage(RUSAGE_CHILDREN) in a fresh helper")


def _measure(cmd: list[str], env: dict) -> Measured:
    return _with_gnu_time(cmd, env) if GNU_TIME.is_file() else _with_rusage_helper(cmd, env)


def _cold_breakdown(env: dict) -> tuple[dict[str, float], float]:
    """(seconds per phase, process wall) of the breakdown script in a fresh interpreter.

    The phases include "startup": the wall time of a bare `python -c pass`.
    """
    python = str(ROOT / ".venv" / "bin" / "python")
    started = time.perf_counter()
    subprocess.run([python, "-c", "pass"], cwd=ROOT, env=env, check=True)
    startup = time.perf_counter() - started
    started = time.perf_counter()
    proc = subprocess.run([python, "-c", _BREAKDOWN_SCRIPT, CLI_QUESTION], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "startup": startup}, wall


def _import_top(env: dict) -> list[tuple[str, float]]:
    """The top-level packages a cold `mopi ask` spends most import time on (``python -X importtime``)."""
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-X", "importtime", "-m", "bot.cli", "ask",
                           CLI_QUESTION], cwd=ROOT, env=env, capture_output=True, text=True)
    totals: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2]
        if name.startswith(" ") and not name.startswith("  "):  # depth 1: imported by the CLI itself or its modules
            top = name.strip().split(".")[0]
            totals[top] = totals.get(top, 0.0) + int(parts[1]) / 1e6
    return sorted(totals.items(), key=lambda kv: -kv[1])[:IMPORT_TOP]


def _cold_rows(settings: Settings, warm_rss_mib: float) -> tuple[list[tuple], list[str]]:
    """Cold `mopi ask` wall, its breakdown, and peak RSS: (rows, notes)."""
    env = {**os.environ, "MOPI_HOME": str(settings.home.resolve())}
    mopi = str(ROOT / ".venv" / "bin" / "mopi")
    runs = [_measure([mopi, "ask", CLI_QUESTION], env) for _ in range(COLD_RUNS)]
    failed = next((r for r in runs if r.code != 0), None)
    seconds = sorted(r.seconds for r in runs)
    median = statistics.median(seconds)
    helps = sorted(_measure([mopi, "--help"], env).seconds for _ in range(COLD_RUNS))
    rows = [(f"`mopi ask` cold process wall, median of {COLD_RUNS} (min-max) (s)",
             f"{median:.2f} ({seconds[0]:.2f}-{seconds[-1]:.2f})" + (f" (exit {failed.code})" if failed else ""),
             f"<= {TARGET_COLD_S:g}", ok_mark(median <= TARGET_COLD_S and not failed)),
            (f"`mopi --help` wall, median of {COLD_RUNS} (s)", f"{statistics.median(helps):.2f}",
             f"<= {TARGET_HELP_S:g}", ok_mark(statistics.median(helps) <= TARGET_HELP_S))]

    phases, wall = _cold_breakdown(env)
    accounted = sum(phases[p] for p in ("startup", "imports", "build", "first_ask", "second_ask"))
    rows += [
        ("cold start breakdown, one fresh `python -c` process (s)", f"{wall:.2f}", "", ""),
        ("  (a) import bot.cli, bot.console, bot.core.index", f"{phases['imports']:.2f}", "", ""),
        ("  (b) build_assistant: load the index snapshot (BM25, vectors; Chroma only with a server)", f"{phases['build']:.2f}", "", ""),
        ("  (c) first ask: guard model and embedder load (overlapped), answer", f"{phases['first_ask']:.2f}",
         "", ""),
        ("      of which its embed stage (what the warm-up had not finished)", f"{phases['first_embed']:.2f}", "", ""),
        ("  (d) second ask, same question", f"{phases['second_ask']:.3f}", "", ""),
        ("  (e) interpreter start-up, a bare `python -c pass`", f"{phases['startup']:.2f}", "", ""),
        ("  (f) interpreter exit, the rest (process wall - a..e)", f"{wall - accounted:.2f}", "", ""),
    ]

    rss = [r.rss_mib for r in runs if r.rss_mib is not None]
    rows += [
        (f"peak RSS, cold `mopi ask` process, max of {COLD_RUNS} (MiB)", f"{max(rss):.0f}" if rss else "n/a",
         f"<= {TARGET_COLD_RSS_MIB:g}", ok_mark(bool(rss) and max(rss) <= TARGET_COLD_RSS_MIB)),
        ("peak RSS, this benchmark process after the warm runs (MiB)", f"{warm_rss_mib:.0f}", "", ""),
    ]
    rows += [(f"  import time, #{n} {name} (s)", f"{sec:.2f}", "", "")
             for n, (name, sec) in enumerate(_import_top(env), start=1)]
    notes = [f"cold `mopi ask` peak RSS measured with {runs[0].rss_source}; wall is the whole process "
             "(start-up, imports, index snapshot load, model load, one answer printed), OS file cache warm.",
             "this process's peak RSS is its lifetime high-water mark (`python -m evals.benchmarks` runs each "
             "benchmark in a process of its own)."]
    if failed:
        last_line = failed.output.splitlines()[-1] if failed.output else ""
        notes.append(f"WARNING: `mopi ask` exited {failed.code}: {last_line}")
    return rows, notes


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.benchmarks.bench_answers",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="times each golden question is asked (default 2)")
    parser.add_argument("--ensure-index", action="store_true",
                        help="first bring the index in MOPI_HOME in step with the corpus folder")
    args = parser.parse_args(argv)
    repeat = max(1, args.repeat)
    quiet_logging()

    settings = load_settings()
    embedder = make_embedder(settings)
    notes: list[str] = []
    if args.ensure_index:
        if not settings.corpus_dir.is_dir():
            print(f"error: no corpus folder at {settings.corpus_dir.resolve()}", file=sys.stderr)
            return 2
        notes.append(_ensure_index(settings, embedder))
    try:
        if current_fingerprint(settings.bm25_dir) is None:
            raise IndexNotReadyError("no lexical index")
        assistant = build_assistant(settings, embedder)
        store = open_store(settings, embedder, create=False)
    except IndexNotReadyError:
        print(f"no index in {settings.home.resolve()}: run `mopi ingest` first", file=sys.stderr)
        return 2

    items = load_dataset(DATASET)
    load_before = os.getloadavg()[0]
    warm = _warm_runs(assistant, store, items, repeat)
    warm_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    cold_rows, cold_notes = _cold_rows(settings, warm_rss)
    load_after = os.getloadavg()[0]

    retrieved = sum("embed" in a.timings_ms for a in warm.answers)
    above_official = sum(m.get("protective_marking") != "OFFICIAL" for m in assistant.retriever.lexical.metadatas)
    answerable = sum(1 for i in items if i.expected_docs)

    print(f"### Warm questions: {len(items)} golden questions x {repeat}, both pipelines in this process\n")
    print_table(_latency_rows(items, warm), ("pipeline", "metric", "measured", "target", "ok"))
    print(f"\n### Each stage's share (mopi, {retrieved} answers that ran retrieval)\n")
    print_table(_stage_rows(warm.answers), ("stage", "mean (ms)", "share of total"))
    print("\n### Cold start and memory\n")
    print_table(cold_rows)
    print()
    notes += [
        f"warm: one assistant and one store built once, warmed with {WARMUP_QUESTIONS} questions; then each question "
        f"went through mopi and then the baseline, {len(warm.mopi_ms)} timed asks per pipeline; percentiles are "
        "nearest-rank over wall time.",
        _timing_check(warm),
        _no_retrieval_note(warm.answers),
        f"baseline: the raw question, embedded by the same {type(embedder).__name__}, k={BASELINE_K}, no "
        f"protective-marking filter ({above_official} of {len(assistant.retriever.lexical.metadatas)} chunks are "
        "above OFFICIAL" + (", so the candidates are the same" if not above_official else "")
        + "); it composes no answer.",
        f"recall@{RECALL_K}: {answerable} golden questions with expected documents; evals.metrics.relevance over "
        "mopi's Answer.diagnostics.retrieved (for register answers, the sources they cite) and over the baseline "
        "Documents' metadata.",
        *cold_notes,
        f"load average (1 min) {load_before:.2f} at start, {load_after:.2f} at end on {os.cpu_count()} CPUs.",
    ]
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
