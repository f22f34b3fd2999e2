"""The Slack bot over the real protocol: signed HTTP requests to the app on 127.0.0.1, and a
fake Slack Web API (and Socket Mode server) on 127.0.0.1 that records what the bot calls."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from bot.core.index import build_assistant
from bot.core.models import Answer, Citation
from bot.settings import load_settings
from bot.slack.app import FAILED, RATE_LIMITED, SlackDeps, create_app, make_client
from bot.slack.audit import AuditLog
from bot.slack.policy import ChannelPolicy, RateLimiter
from bot.slack.server import serve_http
from tests.conftest import MARKED_QUESTION, marked_index, run_mopi
from tests.fake_slack import FakeSlack, event_callback, signed_headers, slash_command_payload

pytestmark = pytest.mark.slow
SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"
EDITOR = "U0EDITOR"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    # slack_sdk honours HTTP(S)_PROXY even for 127.0.0.1.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory, corpus_index):
    """A copy of the session index: these tests update the register."""
    path = tmp_path_factory.mktemp("slack-home")
    shutil.copytree(corpus_index.home, path, dirs_exist_ok=True)
    return path


@pytest.fixture(scope="module")
def assistant(home, embedder):
    return build_assistant(load_settings({}, home=home), embedder)


class Bot:
    """The app served on 127.0.0.1, talking to a FakeSlack."""

    def __init__(self, fake: FakeSlack, deps: SlackDeps, home):
        self.fake = fake
        self.settings = load_settings({}, home=home, slack_bot_token=TOKEN, slack_signing_secret=SECRET,
                                      slack_api_url=fake.base_url)
        self.deps = deps
        self.app = create_app(self.settings, deps)
        self.server = serve_http(self.app, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"

    def post(self, body: str, headers: dict | None = None, secret: str = SECRET, timestamp: int | None = None):
        headers = headers or {}
        request = urllib.request.Request(self.url, data=body.encode(), method="POST",
                                         headers={**signed_headers(secret, body, timestamp), **headers})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode(), time.perf_counter() - started
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), time.perf_counter() - started

    def event(self, event: dict, retry: int | None = None, payload: dict | None = None):
        payload = payload or event_callback(event)
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return self.post(json.dumps(payload), headers), payload

    def command(self, text: str, user: str = "U0OFFICER", key: str = "r1", channel: str = "C0GENERAL"):
        payload = slash_command_payload("/mopi", text, response_url=self.fake.response_url(key), user_id=user,
                                        channel_id=channel)
        return self.post(urllib.parse.urlencode(payload))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Handled:
    """The app's own signal that a listener has finished with a request (SlackDeps.on_handled): a test that
    checks something did *not* happen waits for it instead of sleeping."""

    def __init__(self):
        self.names: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, listener: str) -> None:
        with self._cond:
            self.names.append(listener)
            self._cond.notify_all()

    def wait(self, count: int, timeout: float = 15.0) -> list[str]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.names) >= count, timeout), \
                f"expected {count} handled requests within {timeout}s, got {self.names}"
            return list(self.names)


def make_deps(assistant, tmp_path, **policy) -> SlackDeps:
    policy = ChannelPolicy(**{"register_editors": frozenset({EDITOR}), **policy})
    return SlackDeps(assistant, AuditLog(tmp_path / "audit.sqlite"), policy, RateLimiter(policy.rate_limit_per_minute),
                     on_handled=Handled())


@pytest.fixture
def bot(assistant, home, tmp_path):
    with FakeSlack() as fake:
        served = Bot(fake, make_deps(assistant, tmp_path), home)
        yield served
        served.close()


def mention(text: str, ts: str = "1700000100.000100", channel: str = "C0GENERAL", **extra) -> dict:
    return {"type": "app_mention", "user": "U0OFFICER", "channel": channel, "ts": ts,
            "text": f"<@{FakeSlack.BOT_USER_ID}> {text}", **extra}


def section_texts(blocks: list[dict]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")


def test_mention_gets_a_threaded_cited_reply_with_eyes_while_working(bot):
    status, _, seconds = bot.event(mention("how long is the clear period for Group 3?"))[0]
    assert status == 200 and seconds < 3, "acknowledged within Slack's 3 seconds"
    (posted,) = bot.fake.wait_for("chat.postMessage")
    assert posted["channel"] == "C0GENERAL" and posted["thread_ts"] == "1700000100.000100"
    text = section_texts(posted["blocks"])
    assert "6-year clear period" in text and "*[1]* <https://" in text
    assert any(b["type"] == "actions" for b in posted["blocks"]) and posted["text"]
    bot.fake.wait_for("reactions.remove")
    methods = [c["method"] for c in bot.fake.calls]
    assert methods.index("reactions.add") < methods.index("chat.postMessage") < methods.index("reactions.remove")
    (row,) = bot.deps.audit.answers()
    assert row["user"] == "U0OFFICER" and row["channel"] == "C0GENERAL" and row["latency_ms"] > 0
    assert "mopi-glossary" in row["cited_doc_ids"] or "app-retention-review-disposal" in row["cited_doc_ids"]


def test_direct_message_gets_a_reply(bot):
    bot.event({"type": "message", "channel_type": "im", "channel": "D0OFFICER", "user": "U0OFFICER",
               "ts": "1700000200.000100", "text": "what is an information sharing agreement?"})
    (posted,) = bot.fake.wait_for("chat.postMessage")
    assert posted["channel"] == "D0OFFICER" and not posted.get("thread_ts")
    assert "Sources" in json.dumps(posted["blocks"])


def test_follow_up_in_the_thread_uses_the_earlier_question(bot):
    parent_ts = "1700000300.000100"
    bot.fake.add_message("C0GENERAL", parent_ts, f"<@{FakeSlack.BOT_USER_ID}> how long is the clear period for Group 3?")
    bot.event(mention("how long is the clear period for Group 3?", ts=parent_ts))
    bot.fake.wait_for("chat.postMessage")
    follow_ts = "1700000301.000100"
    bot.fake.add_message("C0GENERAL", follow_ts, "and for Group 2?", thread_ts=parent_ts)
    bot.event({"type": "message", "channel_type": "channel", "channel": "C0GENERAL", "user": "U0OFFICER",
               "ts": follow_ts, "thread_ts": parent_ts, "text": "and for Group 2?"})
    replies = bot.fake.wait_for("chat.postMessage", count=2)
    assert replies[1]["thread_ts"] == parent_ts
    assert "10-year clear period" in section_texts(replies[1]["blocks"])


def test_a_thread_refused_for_a_person_stays_refused_for_its_follow_ups(bot):
    """The guards run on the merged follow-up too: "and for Group 2?" after a lookup is still a lookup."""
    parent_ts = "1700000310.000100"
    lookup = "has dave jones got a caution on pnc?"
    bot.fake.add_message("C0GENERAL", parent_ts, f"<@{FakeSlack.BOT_USER_ID}> {lookup}")
    bot.event(mention(lookup, ts=parent_ts))
    (first,) = bot.fake.wait_for("chat.postMessage")
    assert "particular person's record" in first["text"]
    follow_ts = "1700000311.000100"
    bot.fake.add_message("C0GENERAL", follow_ts, "and for Group 2?", thread_ts=parent_ts)
    bot.event({"type": "message", "channel_type": "channel", "channel": "C0GENERAL", "user": "U0OFFICER",
               "ts": follow_ts, "thread_ts": parent_ts, "text": "and for Group 2?"})
    replies = bot.fake.wait_for("chat.postMessage", count=2)
    assert replies[1]["thread_ts"] == parent_ts
    assert "particular person's record" in replies[1]["text"] and "Sources" not in json.dumps(replies[1]["blocks"])


def test_bots_own_and_other_bots_messages_are_ignored(bot):
    bot.event({"type": "message", "channel_type": "im", "channel": "D0X", "user": FakeSlack.BOT_USER_ID,
               "bot_id": FakeSlack.BOT_ID, "ts": "1.1", "text": "how long is group 3 kept?"})
    bot.event({"type": "message", "channel_type": "im", "channel": "D0X", "user": "U0OTHER", "bot_id": "B0OTHER",
               "ts": "1.2", "text": "how long is group 3 kept?"})
    # Bolt drops the bot's own message in its middleware, which runs before the HTTP response: that one
    # is final once posted. The other bot's message reaches the listener, which ignores it.
    assert bot.deps.on_handled.wait(1) == ["on_message"]
    assert bot.fake.calls_to("chat.postMessage") == [] and bot.fake.calls_to("reactions.add") == []


def test_slash_commands_are_ephemeral_unless_shared(bot):
    status, _, seconds = bot.command("ask how long is the clear period for group 3?", key="ask")
    assert status == 200 and seconds < 3
    (private,) = bot.fake.wait_for("response_url")
    assert private["response_type"] == "ephemeral" and "6-year clear period" in section_texts(private["blocks"])

    bot.command("ask --share how long is the clear period for group 3?", key="share")
    shared = bot.fake.wait_for("response_url", count=2)[1]
    assert shared["key"] == "share" and shared["response_type"] == "in_channel"

    bot.command("status LAN-02", key="status")
    status_reply = bot.fake.wait_for("response_url", count=3)[2]
    assert "LAN-02: in-progress" in section_texts(status_reply["blocks"])

    bot.command("status outstanding", key="outstanding")
    assert "5 of 8 register items are not complete" in section_texts(bot.fake.wait_for("response_url", count=4)[3]["blocks"])

    bot.command("help", key="help")
    assert "/mopi ask" in bot.fake.wait_for("response_url", count=5)[4]["text"]


@pytest.mark.parametrize("secret, age", [("forged-secret", 0), (SECRET, 600)])
def test_forged_or_stale_requests_are_rejected_and_nothing_is_posted(bot, secret, age):
    payload = event_callback(mention("how long is group 3 kept?"))
    status, _, _ = bot.post(json.dumps(payload), secret=secret, timestamp=int(time.time()) - age)
    assert status == 401
    # Bolt checks the signature before it dispatches anything, so the 401 is final. A genuine request
    # afterwards shows the app is live, and its listener is the only one that ever ran.
    bot.event(mention("what is an ISA?", ts="1700000450.000100"))
    assert bot.deps.on_handled.wait(1) == ["on_mention"]
    assert len(bot.fake.calls_to("chat.postMessage")) == 1 and len(bot.fake.calls_to("reactions.add")) == 1


def test_a_retried_event_is_answered_once(bot):
    _, payload = bot.event(mention("what is an ISA?", ts="1700000400.000100"))
    (status, _, _), _ = bot.event({}, retry=1, payload=payload)
    assert status == 200
    bot.event({}, retry=2, payload=payload)
    assert bot.deps.on_handled.wait(3) == ["on_mention"] * 3  # the event and both retries, each finished
    assert len(bot.fake.calls_to("chat.postMessage")) == 1


def test_rate_limited_slack_api_is_retried(bot):
    bot.fake.fail_next("chat.postMessage", times=1, status=429, retry_after=0)
    bot.event(mention("what is an ISA?", ts="1700000500.000100"))
    bot.fake.wait_for("chat.postMessage", count=2, timeout=15)
    attempts = [c for c in bot.fake.calls if c["method"] == "chat.postMessage"]
    assert attempts[0].get("failed") and not attempts[1].get("failed")


class LongAnswers:
    """A stand-in core that returns a very long answer: the Slack layer's size handling is under test."""

    register = None

    def ask(self, question, **kwargs):
        citations = tuple(Citation(n, "doc", f"Document {n}", f"{n}.1 Section", None, "https://example.org", "current",
                                   "quote") for n in range(1, 30))
        return Answer(question, "Records must be reviewed before disposal. [1] " * 1500, False, "extractive",
                      citations, id="long1")


class Broken:
    register = None

    def ask(self, question, **kwargs):
        raise RuntimeError("index unavailable")


def test_a_very_long_answer_is_split_into_valid_messages(assistant, home, tmp_path):
    with FakeSlack() as fake:
        served = Bot(fake, make_deps(LongAnswers(), tmp_path), home)
        try:
            served.event(mention("tell me everything", ts="1700000600.000100"))
            fake.wait_for("reactions.remove")
            posts = fake.calls_to("chat.postMessage")
            assert len(posts) > 1 and all(c["thread_ts"] == "1700000600.000100" for c in posts)
            assert not [c for c in fake.calls if c["method"] == "chat.postMessage" and c["response"].get("ok") is False]
            text = "".join(section_texts(c["blocks"]) for c in posts)
            assert text.count("Records must be reviewed before disposal.") == 1500
        finally:
            served.close()


def test_a_failure_is_told_to_the_user_in_the_thread(home, tmp_path):
    with FakeSlack() as fake:
        served = Bot(fake, make_deps(Broken(), tmp_path), home)
        try:
            served.event(mention("how long is group 3 kept?", ts="1700000700.000100"))
            (posted,) = fake.wait_for("chat.postMessage")
            assert posted["thread_ts"] == "1700000700.000100" and posted["text"] == FAILED
        finally:
            served.close()


def test_per_user_rate_limit_is_friendly(assistant, home, tmp_path):
    with FakeSlack() as fake:
        served = Bot(fake, make_deps(assistant, tmp_path, rate_limit_per_minute=1), home)
        try:
            served.event(mention("what is an ISA?", ts="1700000800.000100"))
            served.event(mention("what is a SIRO?", ts="1700000801.000100"))
            posts = fake.wait_for("chat.postMessage", count=2)
            assert sorted(p["text"] == RATE_LIMITED for p in posts) == [False, True]
        finally:
            served.close()


def test_protective_marking_ceiling_per_channel(tmp_path, embedder):
    settings = marked_index(tmp_path, embedder)
    question = MARKED_QUESTION
    with FakeSlack() as fake:
        deps = make_deps(build_assistant(settings, embedder), tmp_path,
                         channel_markings={"C0SECURE": "OFFICIAL-SENSITIVE"})
        served = Bot(fake, deps, settings.home)
        try:
            served.event(mention(question, ts="1700000900.000100", channel="C0GENERAL"))
            general = fake.wait_for("chat.postMessage")[0]
            assert "sensitive-doc" not in json.dumps(general) and "Title of sensitive-doc" not in json.dumps(general)
            served.event(mention(question, ts="1700000901.000100", channel="C0SECURE"))
            secure = fake.wait_for("chat.postMessage", count=2)[1]
            assert "Title of sensitive-doc" in section_texts(secure["blocks"])
        finally:
            served.close()


def test_register_updates_only_for_listed_editors(bot):
    command = "status update LAN-05 complete lancashire-progress-report-2015#4.3 Risk register entries confirmed."
    bot.command(command, user="U0OFFICER", key="denied")
    denied = bot.fake.wait_for("response_url")[0]
    assert "Only the register editors" in denied["text"]
    assert bot.deps.assistant.register.get("LAN-05").updates[-1].origin == "seed"

    bot.command(command, user=EDITOR, key="allowed")
    allowed = bot.fake.wait_for("response_url", count=2)[1]
    assert allowed["text"].startswith("Recorded: LAN-05 is now complete")
    latest = bot.deps.assistant.register.get("LAN-05").updates[-1]
    assert (latest.origin, latest.by) == ("manual", f"slack:{EDITOR}")


def test_feedback_buttons_are_stored_with_the_answer(bot, tmp_path):
    bot.event(mention("what is an ISA?", ts="1700001000.000100"))
    posted = bot.fake.wait_for("chat.postMessage")[0]
    answer_id = next(b for b in posted["blocks"] if b["type"] == "actions")["elements"][0]["value"]
    for action in ("feedback_down", "feedback_wrong_source"):
        payload = {"type": "block_actions", "user": {"id": "U0OFFICER"}, "team": {"id": FakeSlack.TEAM_ID},
                   "api_app_id": FakeSlack.APP_ID, "channel": {"id": "C0GENERAL"}, "container": {"type": "message"},
                   "trigger_id": "1.2.3", "response_url": bot.fake.response_url("fb"),
                   "actions": [{"action_id": action, "block_id": f"feedback-{answer_id}", "value": answer_id,
                                "type": "button", "action_ts": "1"}]}
        status, _, _ = bot.post(urllib.parse.urlencode({"payload": json.dumps(payload)}))
        assert status == 200
    bot.fake.wait_for("chat.postEphemeral", count=2)
    rows = bot.deps.audit.feedback_csv().splitlines()
    # Bolt handles the two clicks on separate threads: either may be stored first.
    assert len(rows) == 3 and sorted(r.split(",")[3] for r in rows[1:]) == ["down", "wrong_source"]
    assert all(answer_id in r and "app-sharing-police-information" in r for r in rows[1:])
    exported = run_mopi("feedback", "export", "--csv", home=tmp_path)  # the bot's audit database is in tmp_path
    assert exported.returncode == 0 and exported.stdout.count(answer_id) == 2


def test_socket_mode_round_trip(assistant, home, tmp_path):
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    with FakeSlack(socket_mode=True) as fake:
        settings = load_settings({}, home=home, slack_bot_token=TOKEN, slack_api_url=fake.base_url)
        app = create_app(settings, make_deps(assistant, tmp_path))
        handler = SocketModeHandler(app, "xapp-test", web_client=make_client(settings))
        handler.connect()
        try:
            envelope = fake.send_event(mention("what is an information sharing agreement?", ts="1700001100.000100"))
            assert fake.wait_for_ack(envelope)["envelope_id"] == envelope
            (posted,) = fake.wait_for("chat.postMessage")
            assert posted["thread_ts"] == "1700001100.000100" and "Sources" in json.dumps(posted["blocks"])
            assert fake.calls_to("apps.connections.open")
        finally:
            handler.close()


def test_logs_carry_no_question_text_or_tokens(bot, caplog):
    question = "how long is the clear period for Group 3 zebra-marker?"
    with caplog.at_level(logging.INFO):
        bot.event(mention(question, ts="1700001200.000100"))
        bot.fake.wait_for("reactions.remove")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "answered" in logged
    assert "zebra" not in logged and TOKEN not in logged and SECRET not in logged


# -- Ask the records team, Share with channel -----------------------------------------------

RECORDS = "C0RECORDS"


@pytest.fixture
def escalating_bot(assistant, home, tmp_path):
    with FakeSlack() as fake:
        served = Bot(fake, make_deps(assistant, tmp_path, escalation_channel=RECORDS), home)
        yield served
        served.close()


def buttons(blocks: list[dict]) -> dict[str, str]:
    """action_id -> value of the buttons under a message."""
    return {e["action_id"]: e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]}


def click(bot: Bot, action_id: str, value: str, *, channel: str = "C0GENERAL", message_ts: str = "",
          ephemeral: bool = False, key: str = "click", user: str = "U0OFFICER"):
    container = {"type": "message", "channel_id": channel, "message_ts": message_ts, "is_ephemeral": ephemeral}
    payload = {"type": "block_actions", "user": {"id": user}, "team": {"id": FakeSlack.TEAM_ID},
               "api_app_id": FakeSlack.APP_ID, "channel": {"id": channel}, "container": container,
               "trigger_id": "1.2.3", "response_url": bot.fake.response_url(key),
               "actions": [{"action_id": action_id, "block_id": f"feedback-{value}", "value": value,
                            "type": "button", "action_ts": "1"}]}
    status, _, _ = bot.post(urllib.parse.urlencode({"payload": json.dumps(payload)}))
    assert status == 200


def test_ask_the_records_team_posts_the_question_and_a_link(escalating_bot, caplog):
    bot = escalating_bot
    question = "what is an ISA for quokka-marker sharing?"
    with caplog.at_level(logging.INFO):
        bot.event(mention(question, ts="1700002000.000100"))
        answered = bot.fake.wait_for("chat.postMessage")[0]
        bot.event(mention("what's on Darren Quokka's record?", ts="1700002001.000100"))
        refused = bot.fake.wait_for("chat.postMessage", count=2)[1]
        # Both the answer and the refusal carry the button; its value is the answer id, never the question.
        for message in (answered, refused):
            values = buttons(message["blocks"])
            assert set(values) >= {"escalate", "feedback_up"} and "share_answer" not in values
            assert "quokka" not in json.dumps(values).lower()
        ts = next(c["response"]["ts"] for c in bot.fake.calls if c["method"] == "chat.postMessage")
        click(bot, "escalate", buttons(answered["blocks"])["escalate"], message_ts=ts)
        told = bot.fake.wait_for("chat.postEphemeral")[0]
    assert told["user"] == "U0OFFICER" and told["text"].startswith("Sent to the records team")
    posted = [p for p in bot.fake.calls_to("chat.postMessage") if p["channel"] == RECORDS]
    assert len(posted) == 1
    text = posted[0]["blocks"][0]["text"]["text"]
    assert question in text and f"https://force.slack.com/archives/C0GENERAL/p{ts.replace('.', '')}" in text
    assert "<@U0OFFICER> asked in <#C0GENERAL>" in text and "I answered it" in text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "escalated by U0OFFICER" in logged and "quokka" not in logged.lower()


def test_without_a_records_team_channel_there_is_no_button(bot):
    bot.event(mention("what is an ISA?", ts="1700002100.000100"))
    bot.event(mention("what's on Darren Quokka's record?", ts="1700002101.000100"))
    posts = bot.fake.wait_for("chat.postMessage", count=2)
    assert any("particular person's record" in p["text"] for p in posts), "one answer, one refusal"
    assert all("escalate" not in buttons(p["blocks"]) and "feedback_up" in buttons(p["blocks"]) for p in posts)


def test_escalating_a_private_refusal_says_there_is_no_link(escalating_bot, caplog):
    bot = escalating_bot
    with caplog.at_level(logging.INFO):
        bot.command("ask what's on Darren Quokka's record?", key="ask")
        refused = bot.fake.wait_for("response_url")[0]
        assert refused["response_type"] == "ephemeral" and "particular person's record" in refused["text"]
        click(bot, "escalate", buttons(refused["blocks"])["escalate"], message_ts="1700002150.000100",
              ephemeral=True, user="U0COLLEAGUE")
        told = bot.fake.wait_for("chat.postEphemeral")[0]
    assert told["user"] == "U0COLLEAGUE" and told["text"].startswith("Sent to the records team")
    (posted,) = [p for p in bot.fake.calls_to("chat.postMessage") if p["channel"] == RECORDS]
    text = posted["blocks"][0]["text"]["text"]
    assert "Darren Quokka" in text and "https://" not in text and bot.fake.calls_to("chat.getPermalink") == []
    assert text.startswith("<@U0OFFICER> asked in <#C0GENERAL>; <@U0COLLEAGUE> would like the records team's view.")
    assert "I could not answer it: a private answer, only the asker can see it." in text
    assert "quokka" not in "\n".join(r.getMessage() for r in caplog.records).lower()


def test_share_with_channel_posts_the_private_answer_for_everyone(escalating_bot, caplog):
    bot = escalating_bot
    caplog.set_level(logging.INFO)
    bot.command("ask how long is the clear period for group 3?", key="ask")
    private = bot.fake.wait_for("response_url")[0]
    assert private["response_type"] == "ephemeral" and "share_answer" in buttons(private["blocks"])
    bot.command("ask --share how long is the clear period for group 3?", key="public")
    assert "share_answer" not in buttons(bot.fake.wait_for("response_url", count=2)[1]["blocks"])

    click(bot, "share_answer", buttons(private["blocks"])["share_answer"], ephemeral=True, key="shared")
    shared = bot.fake.wait_for("response_url", count=3)[2]
    assert shared["key"] == "shared" and shared["response_type"] == "in_channel"
    assert shared["blocks"][0]["type"] == "context" and "<@U0OFFICER> shared an answer" in str(shared["blocks"][0])
    body = [b for b in shared["blocks"][1:] if b["type"] != "actions"]
    assert body == [b for b in private["blocks"] if b["type"] != "actions"], "the same answer, sources and footer"
    assert "share_answer" not in buttons(shared["blocks"]) and "escalate" in buttons(shared["blocks"])

    # Answered under one channel's marking ceiling, it is shared only there.
    click(bot, "share_answer", buttons(private["blocks"])["share_answer"], channel="C0ELSEWHERE", ephemeral=True,
          key="elsewhere")
    elsewhere = bot.fake.wait_for("response_url", count=4)[3]
    assert elsewhere["response_type"] == "ephemeral" and "only be shared in the channel it was asked in" in elsewhere["text"]
    assert [c["response"]["ok"] for c in bot.fake.calls if c["method"] == "response_url"] == [True] * 4, "valid blocks"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "shared by U0OFFICER in C0GENERAL" in logged and "clear period" not in logged


def test_a_button_on_an_unknown_answer_says_so_and_posts_nothing(escalating_bot):
    bot = escalating_bot
    click(bot, "share_answer", "no-such-answer", ephemeral=True, key="gone")
    reply = bot.fake.wait_for("response_url")[0]
    assert reply["response_type"] == "ephemeral" and "can't find that answer" in reply["text"]
    click(bot, "escalate", "no-such-answer", message_ts="1.2")
    # The ephemeral reply is the handler's last call: once it is in, nothing else is coming.
    assert "can't find that answer" in bot.fake.wait_for("chat.postEphemeral")[0]["text"]
    assert bot.fake.calls_to("chat.postMessage") == [] and len(bot.fake.calls_to("response_url")) == 1


def test_status_as_at_in_slack(bot):
    bot.command("status BTP-R01 --as-at 2015-12-01", key="then")
    then = section_texts(bot.fake.wait_for("response_url")[0]["blocks"])
    assert "BTP-R01: in-progress as at 1 December 2015" in then and "13 September 2016" not in then
    bot.command("status outstanding --as-of 2015-12", key="month")
    assert "As at 31 December 2015" in section_texts(bot.fake.wait_for("response_url", count=2)[1]["blocks"])
    bot.command("status --as-at soon", key="bad")
    assert bot.fake.wait_for("response_url", count=3)[2]["text"].startswith("--as-at: 'soon' is not an ISO date")
