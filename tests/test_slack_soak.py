"""A short soak (bench_soak's, 100 events over HTTP and 30 over Socket Mode): the bot against a fake Slack
that answers 429s, 503s, drops connections and stalls at set rates, with duplicate and out-of-order
deliveries. Every event is answered exactly once, and every ack is in time."""

from __future__ import annotations

import pytest

from bot.core.index import build_assistant
from evals.benchmarks.bench_soak import questions_from_golden, soak_http, soak_socket

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("soak, events", [(soak_http, 100), (soak_socket, 30)])
def test_a_misbehaving_slack_loses_and_repeats_nothing(corpus_index, embedder, tmp_path, soak, events):
    result = soak(corpus_index, build_assistant(corpus_index, embedder), questions_from_golden(), events, seed=7,
                  workdir=tmp_path, timeout=120)
    assert result.chaos, "the fake injected faults"  # else this would test a well-behaved Slack
    assert result.deliveries > events, "some events were delivered twice or retried early"
    assert (result.lost, result.duplicated) == ([], [])
    assert result.answered == events and result.not_acked == 0
    assert max(result.acks_s) < 3.0
