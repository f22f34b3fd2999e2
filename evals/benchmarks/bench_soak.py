"""Soak: the Slack bot against a misbehaving Slack, over HTTP and Socket Mode, 20 events at a time.

    python -m evals.benchmarks.bench_soak [--http N] [--socket N] [--concurrency N] [--seed N]

The fake Slack (tests/fake_slack.py, ``FakeSlack.chaos``) answers Web API calls with 429 + Retry-After,
503, a dropped connection or a 2 s delay at set rates; the sender delivers some events twice and sends
some retries (X-Slack-Retry-Num) before the original. Each event must be answered exactly once.
Counted once every delivery is finished (the app's own SlackDeps.on_handled signal), so nothing is
still in flight when "lost" and "duplicated" are counted. tests/test_slack_soak.py runs a short one.

Needs an index in MOPI_HOME (default .mopi). Reports; never gates (exit 0 even when a target is missed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from evals.benchmarks.common import add_row, print_report, quiet_logging
from evals.metrics import percentile

SECRET = "soak-signing-secret"
TOKEN = "xoxb-soak-token"
CHANNEL = "C0SOAK"
# Per Web API call. Slack's own guidance assumes each of these can happen at any time.
RATES = {"rate_limited": 0.02, "server_error": 0.02, "dropped": 0.02, "slow": 0.01}
DUPLICATE_RATE = 0.05  # events delivered twice, as Slack may
EARLY_RETRY_RATE = 0.05  # events whose retry arrives before the original
TARGET_ACK_S = 3.0
TARGET_GROWTH = 0.10


@dataclass
class SoakResult:
    events: int
    deliveries: int
    answered: int  # events with exactly one answer posted
    lost: list[str]  # ts of events with no answer posted (an apology counts as lost)
    duplicated: list[str]  # ts of events answered more than once
    acks_s: list[float] = field(default_factory=list)
    not_acked: int = 0  # deliveries with no 200 ack (HTTP) or no ack envelope (Socket Mode)
    chaos: dict[str, int] = field(default_factory=dict)  # faults the fake injected, by kind
    wall_s: float = 0.0


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    return kb / 1024


class _Done:
    """Counts SlackDeps.on_handled signals: every delivery ends in one, whatever it did."""

    def __init__(self):
        self.count = 0
        self._cond = threading.Condition()

    def __call__(self, listener: str) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def wait(self, count: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.count >= count, timeout)


def _deliveries(n: int, rng: random.Random) -> list[tuple[int, int | None]]:
    """(event index, retry number) in sending order: some events twice, some retries before the original."""
    out: list[tuple[int, int | None]] = []
    for i in range(n):
        roll = rng.random()
        if roll < EARLY_RETRY_RATE:
            out += [(i, 1), (i, None)]
        elif roll < EARLY_RETRY_RATE + DUPLICATE_RATE:
            out += [(i, None), (i, None)]
        else:
            out.append((i, None))
    return out


def _count(fake, tss: list[str], deliveries: int, acks: list[float], not_acked: int, wall: float) -> SoakResult:
    from bot.slack.app import FAILED

    answers: dict[str, int] = {ts: 0 for ts in tss}
    chaos: dict[str, int] = {}
    with fake._lock:
        for call in fake.calls:
            if call.get("chaos"):
                chaos[call["chaos"]] = chaos.get(call["chaos"], 0) + 1
            params = call["params"]
            if (call["method"] == "chat.postMessage" and not call.get("failed") and call.get("status") == 200
                    and params.get("thread_ts") in answers and params.get("text") != FAILED
                    and not str(params.get("text", "")).startswith("(continued")):
                answers[params["thread_ts"]] += 1
    return SoakResult(len(tss), deliveries, sum(n == 1 for n in answers.values()),
                      [ts for ts, n in answers.items() if n == 0], [ts for ts, n in answers.items() if n > 1],
                      acks, not_acked, chaos, wall)


def _drive(fake, done: _Done, tss: list[str], plan: list[tuple[int, int | None]], deliver, rates: dict[str, float],
           seed: int, concurrency: int, timeout: float, unacked_handled: bool) -> SoakResult:
    """Send ``plan`` through ``deliver`` (True when acknowledged), ``concurrency`` at a time, with the fake
    misbehaving; wait until every delivery's listener has finished, then count."""
    acks: list[float] = []
    unacked = [0]

    def timed(item: tuple[int, int | None]) -> None:
        started = time.monotonic()
        ok = deliver(item)
        acks.append(time.monotonic() - started)
        unacked[0] += not ok

    fake.chaos(rates, seed)
    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(timed, plan))
    finished = done.wait(len(plan) - (0 if unacked_handled else unacked[0]), timeout)
    wall = time.monotonic() - started
    fake.chaos({})
    result = _count(fake, tss, len(plan), acks, unacked[0], wall)
    if not finished:
        result.lost.append(f"(only {done.count} of {len(plan)} deliveries finished within {timeout:.0f} s)")
    return result


def _mention(fake, question: str, ts: str, user: str) -> dict:
    text = f"<@{fake.BOT_USER_ID}> {question}"
    return {"type": "app_mention", "user": user, "channel": CHANNEL, "ts": ts, "text": text}


def _deps(assistant, workdir: Path, done: _Done):
    from bot.slack.app import SlackDeps
    from bot.slack.audit import AuditLog
    from bot.slack.policy import ChannelPolicy, RateLimiter

    policy = ChannelPolicy(rate_limit_per_minute=100_000)
    return SlackDeps(assistant, AuditLog(workdir / "audit.sqlite"), policy, RateLimiter(100_000), on_handled=done)


def soak_http(settings, assistant, questions: list[str], n: int, *, concurrency: int = 20, seed: int = 0,
              rates: dict[str, float] = RATES, workdir: Path, timeout: float = 600) -> SoakResult:
    """``n`` events over signed HTTP to the real app, against a chaotic fake Slack."""
    from bot.slack.app import create_app
    from bot.slack.server import serve_http
    from tests.fake_slack import FakeSlack, event_callback, signed_headers

    rng = random.Random(seed)
    done = _Done()
    with FakeSlack() as fake:
        app = create_app(settings.with_(slack_bot_token=TOKEN, slack_signing_secret=SECRET,
                                        slack_api_url=fake.base_url), _deps(assistant, workdir, done))
        server = serve_http(app, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
        try:
            tss = [f"{1800000000 + seed * 100000 + i}.000100" for i in range(n)]
            payloads = []
            for i, ts in enumerate(tss):
                event = _mention(fake, questions[i % len(questions)], ts, f"U{i % 50:04d}")
                fake.add_message(CHANNEL, ts, event["text"], user=event["user"])
                payloads.append(json.dumps(event_callback(event)))

            def deliver(item: tuple[int, int | None]) -> bool:
                index, retry = item
                headers = signed_headers(SECRET, payloads[index])
                if retry:
                    headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
                request = urllib.request.Request(url, data=payloads[index].encode(), method="POST", headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        return response.status == 200
                except (urllib.error.URLError, OSError):
                    return False

            # A delivery never acknowledged over HTTP reaches no listener: it is not waited for.
            return _drive(fake, done, tss, _deliveries(n, rng), deliver, rates, seed, concurrency, timeout,
                          unacked_handled=False)
        finally:
            server.shutdown()
            server.server_close()


def soak_socket(settings, assistant, questions: list[str], n: int, *, concurrency: int = 20, seed: int = 0,
                rates: dict[str, float] = RATES, workdir: Path, timeout: float = 600) -> SoakResult:
    """``n`` events over Socket Mode (a real websocket) to the real app, against a chaotic fake Slack."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.slack.app import create_app, make_client
    from tests.fake_slack import FakeSlack, event_callback

    rng = random.Random(seed)
    done = _Done()
    with FakeSlack(socket_mode=True) as fake:
        app_settings = settings.with_(slack_bot_token=TOKEN, slack_api_url=fake.base_url)
        app = create_app(app_settings, _deps(assistant, workdir, done))
        handler = SocketModeHandler(app, "xapp-soak", web_client=make_client(app_settings))
        handler.connect()
        try:
            tss = [f"{1900000000 + seed * 100000 + i}.000100" for i in range(n)]
            payloads = [event_callback(_mention(fake, questions[i % len(questions)], ts, f"U{i % 50:04d}"),
                                       team_id=fake.TEAM_ID, api_app_id=fake.APP_ID, bot_user_id=fake.BOT_USER_ID)
                        for i, ts in enumerate(tss)]

            def deliver(item: tuple[int, int | None]) -> bool:
                envelope = fake.send_envelope(payloads[item[0]])  # a "retry" is the same payload sent again
                try:
                    fake.wait_for_ack(envelope, timeout=10)
                    return True
                except AssertionError:
                    return False

            return _drive(fake, done, tss, _deliveries(n, rng), deliver, rates, seed, concurrency, timeout,
                          unacked_handled=True)
        finally:
            handler.close()


def questions_from_golden(limit: int = 50) -> list[str]:
    from evals.dataset import load_dataset

    root = Path(__file__).resolve().parents[2]
    items = load_dataset(root / "evals" / "datasets" / "golden.yaml")
    return [item.question for item in items if not item.should_refuse][:limit]


def _rows(rows: list, name: str, r: SoakResult) -> None:
    p99 = percentile(r.acks_s, 99) if r.acks_s else 0.0
    add_row(rows, f"{name}: events (deliveries, duplicates and early retries included)", f"{r.events} ({r.deliveries})")
    add_row(rows, f"{name}: answered exactly once", r.answered, r.events, r.answered == r.events)
    add_row(rows, f"{name}: lost", len(r.lost), 0, not r.lost)
    add_row(rows, f"{name}: duplicated", len(r.duplicated), 0, not r.duplicated)
    add_row(rows, f"{name}: ack p99 / max (s)", f"{p99:.3f} / {max(r.acks_s, default=0):.3f}", f"< {TARGET_ACK_S:g}",
            max(r.acks_s, default=0) < TARGET_ACK_S)
    add_row(rows, f"{name}: deliveries not acknowledged", r.not_acked, 0, r.not_acked == 0)
    add_row(rows, f"{name}: faults injected", ", ".join(f"{k} {v}" for k, v in sorted(r.chaos.items())) or "none")
    add_row(rows, f"{name}: wall time (s)", f"{r.wall_s:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.benchmarks.bench_soak", description=__doc__.splitlines()[0])
    parser.add_argument("--http", type=int, default=1000)
    parser.add_argument("--socket", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    quiet_logging()
    logging.getLogger("slack_sdk").setLevel(logging.CRITICAL)  # each injected fault is expected, and counted
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)  # slack_sdk honours a proxy even for 127.0.0.1

    from bot.core.index import build_assistant
    from bot.errors import MopiError
    from bot.settings import load_settings

    settings = load_settings()
    try:
        assistant = build_assistant(settings)
    except MopiError as exc:
        print(f"no index to soak against ({exc}); run `mopi ingest` first", file=sys.stderr)
        return 2
    questions = questions_from_golden()
    with tempfile.TemporaryDirectory(prefix="mopi-soak-") as tmp:
        workdir = Path(tmp)
        soak_http(settings, assistant, questions, 20, seed=0, rates={}, workdir=workdir / "warm")  # warm
        before = _rss_mib()
        http = soak_http(settings, assistant, questions, args.http, concurrency=args.concurrency, seed=args.seed,
                         workdir=workdir)
        socket = soak_socket(settings, assistant, questions, args.socket, concurrency=args.concurrency,
                             seed=args.seed, workdir=workdir / "socket")
        after = _rss_mib()
    rows: list = []
    _rows(rows, "HTTP", http)
    _rows(rows, "Socket Mode", socket)
    growth = after / before - 1
    add_row(rows, "resident memory before / after (MiB)", f"{before:.0f} / {after:.0f}")
    add_row(rows, "memory growth", f"{growth:+.1%}", f"< {TARGET_GROWTH:.0%}", growth < TARGET_GROWTH)
    print_report(rows, [
        f"faults per Web API call: {', '.join(f'{k} {v:.0%}' for k, v in RATES.items())} (429 carries Retry-After: 1; "
        f"slow = {2:g} s); {DUPLICATE_RATE:.0%} of events delivered twice, {EARLY_RETRY_RATE:.0%} retried before "
        "the original; seed " + str(args.seed),
        "counted after every delivery's listener finished (SlackDeps.on_handled); an apology (\"couldn't answer\") "
        "counts as lost",
        f"memory: this process's VmRSS after a 20-event warm-up, then after both soaks; {args.concurrency} at a time",
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
