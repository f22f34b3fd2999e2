"""Block Kit rendering and Slack-side policy: pure, golden-style."""

from __future__ import annotations

import pytest

from bot.core.models import Answer, Citation
from bot.errors import ConfigError
from bot.slack.blocks import (
    BLOCKS_PER_MESSAGE, FOOTER, SECTION_LIMIT, citation_line, render_answer, render_escalation, split_text,
)
from bot.slack.policy import ChannelPolicy, RateLimiter, load_policy


def citation(n: int, **kw) -> Citation:
    base = dict(n=n, doc_id="app-rrd", title="Review, retention & disposal", section="5.4 Group 3", page=None,
                url="https://example.org/rrd", status="current", quote="A 6-year clear period applies.")
    return Citation(**(base | kw))


def test_answer_layout_golden():
    answer = Answer("q", "A 6-year clear period applies. [1]", False, "extractive",
                    (citation(1), citation(2, title="Old <Code>", url="", section="", page=3, status="superseded")))
    (message,) = render_answer(answer, "abc123")
    assert message.blocks == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "A 6-year clear period applies. [1]"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "*Sources*"}]},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": "*[1]* <https://example.org/rrd|Review, retention &amp; disposal> — section 5.4 Group 3"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*[2]* Old &lt;Code&gt; — page 3  :warning: *superseded*"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": FOOTER}]},
        {"type": "actions", "block_id": "feedback-abc123", "elements": [
            {"type": "button", "action_id": "feedback_up", "value": "abc123",
             "text": {"type": "plain_text", "text": ":+1: Helpful", "emoji": True}},
            {"type": "button", "action_id": "feedback_down", "value": "abc123",
             "text": {"type": "plain_text", "text": ":-1: Not helpful", "emoji": True}},
            {"type": "button", "action_id": "feedback_wrong_source", "value": "abc123",
             "text": {"type": "plain_text", "text": "Wrong source", "emoji": True}},
        ]},
    ]
    assert message.text == ("A 6-year clear period applies. [1] Sources: [1] Review, retention & disposal, 5.4 Group 3; "
                            "[2] Old <Code>")


def test_the_escalate_and_share_buttons_golden():
    answer = Answer("what's the <clear> period?", "Six years. [1]", False, "extractive", (citation(1),))
    (message,) = render_answer(answer, "abc123", escalate=True, share=True)
    assert message.blocks[-1]["elements"][3:] == [
        {"type": "button", "action_id": "escalate", "value": "abc123",
         "text": {"type": "plain_text", "text": ":raising_hand: Ask the records team", "emoji": True}},
        {"type": "button", "action_id": "share_answer", "value": "abc123",
         "text": {"type": "plain_text", "text": ":mega: Share with channel", "emoji": True}},
    ]
    assert [e["action_id"] for e in render_answer(answer, "abc123", escalate=True)[0].blocks[-1]["elements"]] == [
        "feedback_up", "feedback_down", "feedback_wrong_source", "escalate"]
    (shared,) = render_answer(answer, "abc123", shared_by="U0OFFICER")
    assert shared.blocks[0] == {"type": "context", "elements": [
        {"type": "mrkdwn", "text": "<@U0OFFICER> shared an answer to: _what's the &lt;clear&gt; period?_"}]}
    assert shared.blocks[1:] == render_answer(answer, "abc123")[0].blocks


def test_escalation_post_golden():
    def text(**kw) -> str:
        args = dict(question="is <b> & c kept?", asker="U1", channel="C1", refused=False, link=None) | kw
        return render_escalation(**args).blocks[0]["text"]["text"]

    assert text(link="https://x/p1") == ("<@U1> asked in <#C1> and would like the records team's view. "
                                         "I answered it: <https://x/p1|the answer>.\n>is &lt;b&gt; &amp; c kept?")
    assert "I could not answer it: a private answer, only the asker can see it." in text(refused=True, private=True)
    assert "Slack gave me no link to the answer" in text()
    assert text(channel="D1", sent_by="U1").startswith("<@U1> asked in a direct message and would like")
    assert text(sent_by="U2").startswith("<@U1> asked in <#C1>; <@U2> would like the records team's view.")


def test_a_very_long_answer_stays_within_slack_limits():
    sentence = "Records must be reviewed against the national retention assessment criteria before disposal. "
    answer = Answer("q", sentence * 2000 + "[1]", False, "extractive", tuple(citation(n) for n in range(1, 40)))
    messages = render_answer(answer, "id")
    assert len(messages) > 1
    for message in messages:
        assert len(message.blocks) <= BLOCKS_PER_MESSAGE and len(message.text) <= 3000
        for block in message.blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
    text = "".join(b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section")
    assert text.count("Records must be reviewed") == 2000, "nothing is lost in the split"
    assert messages[-1].blocks[-1]["type"] == "actions"


def test_split_text_prefers_sentence_boundaries_and_cuts_unbroken_runs():
    assert split_text("One. Two.", 100) == ["One. Two."]
    pieces = split_text("A" * 50 + ". " + "B" * 50 + ".", 60)
    assert pieces == ["A" * 50 + ".", "B" * 50 + "."]
    assert [len(p) for p in split_text("x" * 250, 100)] == [100, 100, 50]
    assert all(len(p) <= SECTION_LIMIT for p in split_text("word " * 3000))


def test_citation_line_handles_pipes_and_missing_parts():
    assert citation_line(citation(3, title="A | B", section="", page=12)) == "*[3]* <https://example.org/rrd|A / B> — page 12"


def test_channel_policy_file(tmp_path):
    path = tmp_path / "channels.yaml"
    path.write_text("default_max_marking: official\nchannels:\n  C1: {max_marking: OFFICIAL-SENSITIVE}\n"
                    "register_editors: [U1]\nrate_limit_per_minute: 3\n")
    policy = load_policy(path)
    assert policy.max_marking("C1") == "OFFICIAL-SENSITIVE" and policy.max_marking("C2") == "OFFICIAL"
    assert policy.can_update_register("U1") and not policy.can_update_register("U2")
    assert load_policy(tmp_path / "missing.yaml") == ChannelPolicy()
    path.write_text("channels:\n  C1: {max_marking: RESTRICTED-ISH}\n")
    with pytest.raises(ConfigError, match="C1: unknown protective marking"):
        load_policy(path)
    assert load_policy(tmp_path / "missing.yaml").escalation_channel == ""
    path.write_text("escalation_channel: C0RECORDS\n")
    assert load_policy(path).escalation_channel == "C0RECORDS"
    for bad in ("'#records team'", "12345", "''", "", "false", "C0RECORDS extra"):
        path.write_text(f"escalation_channel: {bad}\n")
        with pytest.raises(ConfigError, match="escalation_channel: expected a channel id like C0123456789"):
            load_policy(path)


def test_an_answer_survives_the_audit_round_trip():
    answer = Answer("q", "a [1]", False, "extractive", (citation(1), citation(2, page=3, status="superseded")))
    assert Answer.from_dict(answer.to_dict(), "abc") == answer and Answer.from_dict(answer.to_dict(), "abc").id == "abc"


def test_rate_limiter_slides():
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.allow("U1") and limiter.allow("U1") and not limiter.allow("U1")
    assert limiter.allow("U2")
    now[0] = 60.0
    assert limiter.allow("U1")
