"""The Slack fake, exercised with the real slack_sdk clients over real sockets."""

from __future__ import annotations

import json
import threading
import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.webhook import WebhookClient

from tests.fake_slack import FakeSlack, signed_headers, slash_command_payload

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # slack_sdk reads HTTP(S)_PROXY itself and ignores NO_PROXY, even for 127.0.0.1
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def fake():
    with FakeSlack() as f:
        yield f


@pytest.fixture
def client(fake):
    return WebClient(token="xoxb-test", base_url=fake.base_url)


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_auth_test_and_auth_header(fake, client):
    resp = client.auth_test()
    assert resp["user_id"] == FakeSlack.BOT_USER_ID == "U0MOPIBOT"
    assert resp["team_id"] == "T0FORCE" and resp["bot_id"] == "B0MOPI"
    call = fake.calls[0]
    assert call["method"] == "auth.test"
    assert call["headers"]["authorization"] == "Bearer xoxb-test"
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=fake.base_url).auth_test()
    assert err.value.response["error"] == "not_authed"


def test_post_message_records_blocks_and_threads(fake, client):
    blocks = [section("*Answer*"), {"type": "context", "elements": [{"type": "mrkdwn", "text": "src"}]}]
    resp = client.chat_postMessage(channel="C1", text="fallback", blocks=blocks, thread_ts="1699999999.000001")
    assert resp["channel"] == "C1" and resp["message"]["thread_ts"] == "1699999999.000001"
    assert resp["message"]["user"] == "U0MOPIBOT" and resp["message"]["blocks"] == blocks
    params = fake.calls_to("chat.postMessage")[0]
    assert params["blocks"] == blocks  # slack_sdk sends JSON, so a real list
    assert fake.calls[0]["headers"]["content-type"].startswith("application/json")
    ts2 = client.chat_postMessage(channel="C1", text="again")["ts"]
    assert ts2 > resp["ts"]  # strictly increasing


def test_form_encoded_blocks_are_decoded(fake, client):
    # api_call(params=...) is form-encoded: blocks arrive as a JSON string and are decoded
    client.api_call("chat.postEphemeral", params={"channel": "C1", "user": "U1",
                                                  "blocks": json.dumps([section("x")])})
    assert fake.calls_to("chat.postEphemeral")[0]["blocks"] == [section("x")]


@pytest.mark.parametrize("blocks", [
    [section("x")] * 51,
    [section("y" * 3001)],
    [{"type": "context", "elements": [{"type": "mrkdwn", "text": "e"}] * 11}],
    [{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b"},
                                       "value": "v" * 2001}]}],
], ids=["51-blocks", "3001-char-section", "11-context-elements", "long-button-value"])
def test_invalid_blocks(client, blocks):
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="t", blocks=blocks)
    assert err.value.response["error"] == "invalid_blocks"
    assert err.value.response["response_metadata"]["messages"]


def test_message_errors(client):
    for kwargs, error in [({"text": "t"}, "channel_not_found"),
                          ({"channel": "C1", "text": ""}, "no_text"),
                          ({"channel": "C1", "text": "x" * 40001}, "msg_too_long")]:
        with pytest.raises(SlackApiError) as err:
            client.api_call("chat.postMessage", json=kwargs)
        assert err.value.response["error"] == error
    with pytest.raises(SlackApiError) as err:
        client.api_call("chat.delete", json={"channel": "C1", "ts": "1"})
    assert err.value.response["error"] == "unknown_method"


def test_rate_limit_retry(fake):
    fake.fail_next("chat.postMessage", status=429, retry_after=0)
    client = WebClient(token="xoxb-test", base_url=fake.base_url,
                       retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]
    attempts = [c for c in fake.calls if c["method"] == "chat.postMessage"]
    assert len(attempts) == 2 and attempts[0]["failed"] and "failed" not in attempts[1]
    fake.fail_next("chat.postMessage", status=500)
    with pytest.raises(SlackApiError) as err:  # no retry handler for 500 by default
        WebClient(token="xoxb-test", base_url=fake.base_url).chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 500


def test_conversations_replies_reactions_users(fake, client):
    fake.add_message("C1", "1700000000.000001", "What is MoPI?")
    client.chat_postMessage(channel="C1", text="An answer", thread_ts="1700000000.000001")
    msgs = client.conversations_replies(channel="C1", ts="1700000000.000001")["messages"]
    assert [m["text"] for m in msgs] == ["What is MoPI?", "An answer"]
    assert msgs[0]["user"] == "U0OFFICER" and msgs[1]["bot_id"] == "B0MOPI"
    client.reactions_add(channel="C1", timestamp="1700000000.000001", name="eyes")
    client.reactions_remove(channel="C1", timestamp="1700000000.000001", name="eyes")
    assert fake.reactions("C1", "1700000000.000001") == []
    assert client.users_info(user="U0OFFICER")["user"]["real_name"] == "User U0OFFICER"


def test_wait_for_and_response_url(fake):
    threading.Timer(0.1, lambda: WebhookClient(fake.response_url("r9")).send(text="done")).start()
    params = fake.wait_for("response_url", timeout=5)
    assert params[0] == {"text": "done", "key": "r9"}
    with pytest.raises(AssertionError, match="response_url"):
        fake.wait_for("chat.postMessage", timeout=0.1)


def test_signed_headers_verify():
    from slack_sdk.signature import SignatureVerifier

    body = "command=%2Fmopi&text=hi"
    headers = signed_headers("s3cret", body)
    assert SignatureVerifier("s3cret").is_valid_request(body, headers)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_socket_mode_round_trip(fake):
    fake.enable_socket_mode()
    web = WebClient(base_url=fake.base_url)
    client = SocketModeClient(app_token="xapp-test", web_client=web)

    def ack(c, req):
        c.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    client.socket_mode_request_listeners.append(ack)
    try:
        client.connect()
        fake.wait_for_connection(timeout=5)
        assert fake.calls_to("apps.connections.open")
        assert fake.calls[0]["headers"]["authorization"] == "Bearer xapp-test"
        envelope_id = fake.send_event({"type": "app_mention", "user": "U0OFFICER", "text": "<@U0MOPIBOT> hi",
                                       "channel": "C1", "ts": "1700000000.000009"})
        assert fake.wait_for_ack(envelope_id, timeout=5)["envelope_id"] == envelope_id
        envelope_id = fake.send_envelope(slash_command_payload("/mopi", "hi", response_url=fake.response_url()),
                                         envelope_type="slash_commands")
        fake.wait_for_ack(envelope_id, timeout=5)
    finally:
        started = time.monotonic()
        client.close()
        assert time.monotonic() - started < 5


def test_bolt_socket_mode_handler(fake):
    """The way the bot's own tests will drive it: a Bolt app over SocketModeHandler."""
    from slack_bolt import App
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    app = App(client=WebClient(token="xoxb-test", base_url=fake.base_url))  # calls auth.test now

    @app.event("app_mention")
    def on_mention(event, say):
        say(text="hello", thread_ts=event["ts"])

    @app.command("/mopi")
    def on_command(ack, respond, command):
        ack("working on it")
        respond(text=f"answer to {command['text']}")

    handler = SocketModeHandler(app, "xapp-test")
    try:
        handler.connect()
        fake.send_event({"type": "app_mention", "user": "U0OFFICER", "text": "<@U0MOPIBOT> hi",
                         "channel": "C1", "ts": "1700000000.000009"})
        posted = fake.wait_for("chat.postMessage", timeout=5)[0]
        assert posted["text"] == "hello" and posted["thread_ts"] == "1700000000.000009"
        assert [m["text"] for m in fake.messages("C1", "1700000000.000009")] == ["<@U0MOPIBOT> hi", "hello"]
        envelope_id = fake.send_envelope(slash_command_payload("/mopi", "q1", response_url=fake.response_url("r2")),
                                         envelope_type="slash_commands")
        assert fake.wait_for_ack(envelope_id, timeout=5)["payload"] == {"text": "working on it"}
        assert fake.wait_for("response_url", timeout=5)[0] == {"text": "answer to q1", "key": "r2"}
    finally:
        handler.close()
