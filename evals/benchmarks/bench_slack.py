"""Slack benchmark: mention-to-reply latency over the real HTTP protocol, sequential and 10 concurrent.

    python -m evals.benchmarks.bench_slack [--questions N] [--concurrency N] [--timeout S]

Needs an index already built in MOPI_HOME (default .mopi); without one it
prints a hint and exits 2.

The app (create_app + serve_http, the real assistant) is served on 127.0.0.1
and talks to a FakeSlack (tests/fake_slack.py) on 127.0.0.1. Each question is
sent as a signed ``app_mention`` event to /slack/events; its latency is from
just before that POST to the moment the FakeSlack received the first
``chat.postMessage`` whose thread_ts is the event's ts. The audit DB (event
dedupe state) is a fresh temporary file.

Prints a Markdown table (metric | measured | target | ok) and a few notes.
It reports; it never gates: the exit code is 0 even when a target is MISSED.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from evals.benchmarks.common import add_row, print_table, quiet_logging
from evals.metrics import percentile

ROOT = Path(__file__).resolve().parents[2]  # the project folder (holds tests and evals)
DATASET = ROOT / "evals" / "datasets" / "golden.yaml"

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
CHANNEL = "C0BENCH"
RATE_LIMIT = 1000
WARMUP_ASKS = 2

TARGET_ACK_MS = 3000.0
TARGET_DROPPED = 0
TARGET_DUPLICATED = 0

_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


@dataclass
class Sent:
    """One event as sent: its ts, when the POST started, and each HTTP ack (status, ms)."""

    ts: str
    started: float = 0.0  # time.monotonic() just before the POST
    acks: list[tuple[int, float]] = field(default_factory=list)


@dataclass
class RunResult:
    sent: list[Sent]
    latencies_ms: list[float]  # per answered event: first reply "at" - started
    dropped: list[str]  # ts of events with no reply within the timeout
    duplicated: list[str]  # ts of events whose thread got the same message text twice
    first_repeated: list[str]  # ts of events whose first reply text was posted more than once
    handled_twice: list[str]  # ts of events the app started answering more than once (reactions.add)
    wall_s: float

    @property
    def acks(self) -> list[tuple[int, float]]:
        return [a for s in self.sent for a in s.acks]


# --------------------------------------------------------------------------- helpers


class _Harness:
    """The app served on 127.0.0.1 over a FakeSlack, with a fresh temporary audit DB."""

    def __init__(self, settings, assistant, workdir: Path):
        from bot.slack.app import SlackDeps, create_app
        from bot.slack.audit import AuditLog
        from bot.slack.policy import ChannelPolicy, RateLimiter
        from bot.slack.server import serve_http
        from tests.fake_slack import FakeSlack

        self.fake = FakeSlack().start()
        self.audit = None
        self.server = None
        try:
            policy = ChannelPolicy(rate_limit_per_minute=RATE_LIMIT)
            self.audit = AuditLog(workdir / "audit.sqlite")
            self.deps = SlackDeps(assistant, self.audit, policy, RateLimiter(policy.rate_limit_per_minute))
            self.settings = settings.with_(slack_bot_token=TOKEN, slack_signing_secret=SECRET,
                                           slack_api_url=self.fake.base_url)
            self.app = create_app(self.settings, self.deps)
            self.server = serve_http(self.app, "127.0.0.1", 0)
            self.thread = threading.Thread(target=self.server.serve_forever, name="bench-slack-app", daemon=True)
            self.thread.start()
            self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"
        except BaseException:
            self.close()
            raise
        self.bot_user_id = self.fake.BOT_USER_ID

    def payload(self, question: str, ts: str, user: str) -> dict:
        """An app_mention event_callback; the mention is also put in the fake's history, as in Slack."""
        from tests.fake_slack import event_callback

        text = f"<@{self.bot_user_id}> {question}"
        self.fake.add_message(CHANNEL, ts, text, user=user)
        return event_callback({"type": "app_mention", "user": user, "channel": CHANNEL, "ts": ts, "text": text})

    def post(self, payload: dict, sent: Sent, retry: int | None = None) -> None:
        """One signed POST to /slack/events; records the start (first attempt only) and the ack."""
        from tests.fake_slack import signed_headers

        body = json.dumps(payload)
        headers = signed_headers(SECRET, body)
        if retry:
            headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
        request = urllib.request.Request(self.url, data=body.encode(), method="POST", headers=headers)
        started = time.monotonic()
        if not retry:
            sent.started = started
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0  # no HTTP answer at all (timeout, refused)
        sent.acks.append((status, (time.monotonic() - started) * 1000))

    def replies(self, ts: str) -> list[dict]:
        """Recorded chat.postMessage calls in this event's thread, in arrival order."""
        with self.fake._lock:
            return [c for c in self.fake.calls
                    if c["method"] == "chat.postMessage" and str(c["params"].get("thread_ts") or "") == ts]

    def wait(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.fake._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.fake._cond.wait(left)
        return True

    def has_reply(self, ts: str) -> bool:
        return bool(self.replies(ts))

    def finished(self, ts: str) -> bool:
        """The handler removed its 👀 reaction: it is done posting for this event."""
        with self.fake._lock:
            return any(c["method"] == "reactions.remove" and str(c["params"].get("timestamp")) == ts
                       for c in self.fake.calls)

    def handled(self, ts: str) -> int:
        with self.fake._lock:
            return sum(1 for c in self.fake.calls
                       if c["method"] == "reactions.add" and str(c["params"].get("timestamp")) == ts)

    def result(self, sent: list[Sent], wall_s: float) -> RunResult:
        latencies, dropped, duplicated, first_repeated, handled_twice = [], [], [], [], []
        for s in sent:
            replies = self.replies(s.ts)
            if not replies:
                dropped.append(s.ts)
                continue
            latencies.append((replies[0]["at"] - s.started) * 1000)
            texts = Counter(c["params"].get("text") for c in replies if not c.get("failed"))
            if any(n > 1 for n in texts.values()):
                duplicated.append(s.ts)
            if texts.get(replies[0]["params"].get("text"), 0) > 1:
                first_repeated.append(s.ts)
            if self.handled(s.ts) > 1:
                handled_twice.append(s.ts)
        return RunResult(sent, latencies, dropped, duplicated, first_repeated, handled_twice, wall_s)

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.fake.close()
        if self.audit is not None:
            self.audit.close()


# --------------------------------------------------------------------------- runs


def _warm_event(harness: _Harness, question: str, timeout: float) -> None:
    """One event through the whole HTTP path (Bolt, slack_sdk, the fake): not measured."""
    sent = Sent("1710000000.000001")
    harness.post(harness.payload(question, sent.ts, "U0WARM"), sent)
    harness.wait(lambda: harness.finished(sent.ts), timeout)


def _sequential(harness: _Harness, questions: list[str], timeout: float) -> RunResult:
    sent: list[Sent] = []
    started = time.monotonic()
    for n, question in enumerate(questions, start=1):
        s = Sent(f"1710000100.{n:06d}")
        sent.append(s)
        harness.post(harness.payload(question, s.ts, f"U0SEQ{n:04d}"), s)
        if harness.wait(lambda: harness.has_reply(s.ts), timeout):
            harness.wait(lambda: harness.finished(s.ts), timeout)  # all parts posted before the next
    return harness.result(sent, time.monotonic() - started)


def _concurrent(harness: _Harness, questions: list[str], senders: int, timeout: float, grace: float) -> RunResult:
    """`senders` threads share the events; each sends one, then its retry, and waits for the reply."""
    work: queue.Queue = queue.Queue()
    sent: list[Sent] = []
    for n, question in enumerate(questions, start=1):
        s = Sent(f"1710000200.{n:06d}")
        sent.append(s)
        work.put((s, harness.payload(question, s.ts, f"U0CON{n:04d}")))

    def sender() -> None:
        while True:
            try:
                s, payload = work.get_nowait()
            except queue.Empty:
                return
            harness.post(payload, s)
            harness.post(payload, s, retry=1)  # Slack's retry of the very same event (same event_id)
            if harness.wait(lambda: harness.has_reply(s.ts), timeout):
                harness.wait(lambda: harness.finished(s.ts), timeout)

    threads = [threading.Thread(target=sender, name=f"bench-sender-{i}", daemon=True) for i in range(senders)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    time.sleep(grace)  # room for a late second answer to show up
    return harness.result(sent, wall)


# --------------------------------------------------------------------------- main


def _run_rows(rows, label: str, run: RunResult, n: int) -> None:
    if run.latencies_ms:
        add_row(rows, f"{label}: mention -> reply p50 (ms)", f"{percentile(run.latencies_ms, 50):.0f}")
        add_row(rows, f"{label}: mention -> reply p95 (ms)", f"{percentile(run.latencies_ms, 95):.0f}")
    else:
        add_row(rows, f"{label}: mention -> reply p50 (ms)", "n/a")
        add_row(rows, f"{label}: mention -> reply p95 (ms)", "n/a")
    acks = run.acks
    ack_max = max((ms for _, ms in acks), default=0.0)
    not_200 = sum(1 for status, _ in acks if status != 200)
    add_row(rows, f"{label}: HTTP ack max (ms), {len(acks)} acks", f"{ack_max:.0f}", f"<= {TARGET_ACK_MS:g}",
         ack_max <= TARGET_ACK_MS)
    add_row(rows, f"{label}: acks not 200", str(not_200), "0", not_200 == 0)
    add_row(rows, f"{label}: dropped (of {n})", str(len(run.dropped)), str(TARGET_DROPPED),
         len(run.dropped) == TARGET_DROPPED)
    add_row(rows, f"{label}: duplicated (of {n})", str(len(run.duplicated)), str(TARGET_DUPLICATED),
         len(run.duplicated) == TARGET_DUPLICATED)


def _rss_mib() -> float:
    """This process's resident set now (VmRSS), not its high-water mark."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.benchmarks.bench_slack",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=50, help="answerable golden questions to send (first N)")
    parser.add_argument("--concurrency", type=int, default=10, help="sender threads in the concurrent run")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each reply")
    parser.add_argument("--grace", type=float, default=2.0, help="seconds to wait for late duplicates")
    args = parser.parse_args(argv)

    for name in _PROXY_VARS:  # slack_sdk (and urllib) honour these even for 127.0.0.1
        os.environ.pop(name, None)
    quiet_logging()

    from bot.core.index import build_assistant
    from bot.core.lexical import current_fingerprint
    from bot.errors import IndexNotReadyError
    from bot.settings import load_settings
    from evals.dataset import load_dataset

    settings = load_settings()
    started = time.perf_counter()
    try:
        if current_fingerprint(settings.bm25_dir) is None:
            raise IndexNotReadyError("no lexical index")
        assistant = build_assistant(settings)
    except IndexNotReadyError:
        print(f"no index in {settings.home.resolve()}: run `mopi ingest` first", file=sys.stderr)
        return 2

    items = [i for i in load_dataset(DATASET) if not i.should_refuse][: max(1, args.questions)]
    questions = [i.question for i in items]
    n = len(questions)

    assistant.ask(questions[0])
    first_answer_s = time.perf_counter() - started  # as the bot meets its first question after a start
    rss_start = _rss_mib()
    for question in questions[:WARMUP_ASKS]:
        assistant.ask(question)

    rows: list[tuple] = []
    notes: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="mopi-bench-slack-"))
    load_before = os.getloadavg()[0]
    try:
        harness = _Harness(settings, assistant, workdir)
        try:
            _warm_event(harness, questions[0], args.timeout)
            seq = _sequential(harness, questions, args.timeout)
            con = _concurrent(harness, questions, max(1, args.concurrency), args.timeout, args.grace)
        finally:
            harness.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    load_after = os.getloadavg()[0]

    answers = len(seq.latencies_ms) + len(con.latencies_ms)
    add_row(rows, "first answer after start: build the assistant, answer one question (s)", f"{first_answer_s:.2f}")
    add_row(rows, "resident memory after the first answer (MiB)", f"{rss_start:.0f}")
    add_row(rows, f"resident memory after {answers} answers over HTTP (MiB)", f"{_rss_mib():.0f}")
    _run_rows(rows, "sequential", seq, n)
    _run_rows(rows, f"{args.concurrency} concurrent", con, n)
    add_row(rows, f"{args.concurrency} concurrent: wall time (s)", f"{con.wall_s:.2f}")
    add_row(rows, f"{args.concurrency} concurrent: throughput (answers/s)",
         f"{len(con.latencies_ms) / con.wall_s:.2f}" if con.wall_s else "n/a")
    retried_twice = sorted(set(con.first_repeated) | set(con.handled_twice))
    add_row(rows, "retries answered twice", str(len(retried_twice)), "0", not retried_twice)

    print_table(rows)
    print()
    notes += [
        f"{n} questions: the first {n} golden items with should_refuse false, each as `<@BOT> question` in an "
        f"app_mention with its own ts and user id (rate limit {RATE_LIMIT}/min); the real assistant from "
        f"{settings.home}, warmed with {WARMUP_ASKS} asks and one unmeasured event through the app.",
        "latency: time.monotonic() just before the signed POST to /slack/events, to the FakeSlack's receipt of "
        "the first chat.postMessage whose thread_ts is the event's ts (includes the ack, 👀 reactions.add, "
        "conversations.replies for thread context, the answer and rendering); percentiles are nearest-rank.",
        "sequential: one event at a time; the next is sent after the previous handler removed its 👀.",
        f"concurrent: {args.concurrency} sender threads share the {n} events; each sends an event, then at once "
        "its Slack retry (same body and event_id, X-Slack-Retry-Num: 1), then waits for the reply; wall time is "
        f"from the first POST until every sender is done; then {args.grace:g} s more for late duplicates.",
        f"dropped: no chat.postMessage in the event's thread within {args.timeout:g} s; duplicated: the same "
        "message text posted twice in one thread (blocks differ: they carry the answer id); retries answered "
        "twice: the first reply posted again or the event's 👀 added more than once (the handler ran twice). "
        "Ack rows count every POST, retries included.",
        f"load average (1 min) {load_before:.2f} at start, {load_after:.2f} at end on {os.cpu_count()} CPUs.",
    ]
    if con.dropped or seq.dropped:
        notes.append(f"dropped ts: sequential {seq.dropped}, concurrent {con.dropped}")
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
