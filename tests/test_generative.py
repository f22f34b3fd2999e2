"""Generative mode end to end: `mopi ask --json` against a local OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_mopi
from tests.fake_llm import FakeLLM

pytestmark = pytest.mark.slow

QUESTION = "how long is the clear period for group 3 records?"


def ask_with(fake: FakeLLM, home, timeout: str = "20") -> dict:
    result = run_mopi("ask", "--json", QUESTION, home=home, MOPI_LLM="openai:force-llm",
                      MOPI_LLM_BASE_URL=fake.base_url, MOPI_LLM_API_KEY="test-key", MOPI_LLM_TIMEOUT=timeout)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0]) | {"_stderr": result.stderr}


def test_good_reply_keeps_valid_citations_and_drops_invented_ones(corpus_index):
    with FakeLLM("good") as fake:
        answer = ask_with(fake, corpus_index.home)
    assert answer["mode"] == "openai:force-llm" and not answer["refused"]
    assert answer["answer"] == "Group 3 records have a 6-year clear period [1], and a source I was not given says more."
    (citation,) = answer["citations"]
    assert citation["n"] == 1 and "6-year clear period" in citation["quote"]
    prompt = fake.requests[0]["messages"]
    assert prompt[0]["role"] == "system" and "[1]" in prompt[0]["content"]
    assert QUESTION in prompt[-1]["content"] and "\n[1] " in "\n" + prompt[-1]["content"].split("Sources:\n\n")[1]


def test_reply_citing_only_a_missing_source_falls_back_to_extractive(corpus_index):
    with FakeLLM("bad_citation") as fake:
        answer = ask_with(fake, corpus_index.home)
    assert answer["mode"] == "extractive" and not answer["refused"]
    assert "for ever" not in answer["answer"] and "6-year clear period" in answer["answer"]
    assert "no valid citation" in answer["_stderr"]


def test_timeout_falls_back_to_extractive(corpus_index):
    with FakeLLM("slow", delay=4) as fake:
        answer = ask_with(fake, corpus_index.home, timeout="1")
    assert answer["mode"] == "extractive" and "6-year clear period" in answer["answer"]
    assert "fell back to extractive: llm error" in answer["_stderr"]
