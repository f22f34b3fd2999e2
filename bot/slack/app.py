"""The Slack front end: listeners over the one core path, and the app that holds them.

Listeners are plain functions registered in :func:`register`; they reach their
dependencies through ``context["deps"]``, put there by one middleware. Bolt
acknowledges events before the listener runs; slash commands and buttons call
``ack()`` first. Logs carry ids and timings, never question text or tokens.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, ServerErrorRetryHandler,
)

from bot.core.assistant import Assistant
from bot.core.models import Answer
from bot.core.register.model import Source, parse_date
from bot.errors import MopiError
from bot.settings import Settings
from bot.slack.audit import AuditLog
from bot.slack.blocks import ESCALATE, SHARE, SlackMessage, render_answer, render_escalation, render_notice
from bot.slack.policy import ChannelPolicy, RateLimiter

log = logging.getLogger(__name__)

THINKING = "eyes"
RATE_LIMITED = "You've asked several questions in the last minute. Please wait a moment and ask again."
FAILED = ("Sorry, I couldn't answer that just now. Please try again in a minute; if it keeps happening, "
          "tell your information management team.")
HELP = """*MoPI Assistant* answers from the MoPI guidance it holds, with sources, and reports HMIC recommendation status.
• Mention me or DM me a question, e.g. _how long do we keep a Group 3 record?_ Reply in the thread to follow up.
• `/mopi ask QUESTION` answers just to you; `/mopi ask --share QUESTION` posts the answer in the channel.
• `/mopi status` (summary), `/mopi status ID`, `/mopi status outstanding`, `/mopi status overdue`; add
  `--as-at 2015-12-01` for the register as it stood that day.
• `/mopi status update ID STATUS DOC#SECTION NOTE` records progress (register editors only).
I hold guidance, not police records: I won't answer questions about a particular person's record."""
_MENTION = re.compile(r"<@[A-Z0-9]+>")


def _nothing(listener: str) -> None:
    pass


@dataclass
class SlackDeps:
    assistant: Assistant
    audit: AuditLog
    policy: ChannelPolicy
    limiter: RateLimiter
    # Called with the listener's name when it has finished with a request, whatever it did (answered,
    # ignored a bot, dropped a retry, failed): "nothing more will happen" is then a fact to wait for,
    # not a guess after a sleep. Tests and the soak count these; the bot needs none.
    on_handled: Callable[[str], None] = _nothing


def make_client(settings: Settings) -> WebClient:
    """A Web API client for SLACK_API_URL that retries rate limits (429), 5xx and dropped connections."""
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=15)
    # slack_sdk counts attempts across all three handlers, so a 503, then a dropped connection, then a 429
    # uses one budget: with two retries, the soak (bench_soak: 2% of each per call) lost about 1 answer
    # in 1,000 to such runs; with four, none.
    client.retry_handlers.extend([
        RateLimitErrorRetryHandler(max_retry_count=5),
        ServerErrorRetryHandler(max_retry_count=4),
        ConnectionErrorRetryHandler(max_retry_count=4),
    ])
    return client


def create_app(settings: Settings, deps: SlackDeps) -> App:
    """The Bolt app: verifies signatures with SLACK_SIGNING_SECRET, talks to SLACK_API_URL."""
    app = App(client=make_client(settings), signing_secret=settings.slack_signing_secret or "socket-mode",
              request_verification_enabled=bool(settings.slack_signing_secret), logger=log)
    register(app, deps)
    return app


def register(app: App, deps: SlackDeps) -> None:
    """Every listener, in one place."""

    @app.middleware
    def inject_deps(context, next):  # noqa: A002 - Bolt's name for the continuation
        context["deps"] = deps
        next()

    app.event("app_mention")(_reporting(on_mention))
    app.event("message")(_reporting(on_message))
    app.command("/mopi")(_reporting(on_command))
    app.action(re.compile(r"^feedback_"))(_reporting(on_feedback))
    app.action(ESCALATE)(_reporting(on_escalate))
    app.action(SHARE)(_reporting(on_share))


def _reporting(listener: Callable) -> Callable:
    """``listener``, telling ``deps.on_handled`` when it is done. Bolt passes arguments by the names in the
    listener's signature, which it reads through functools.wraps (inspect.unwrap)."""
    @functools.wraps(listener)
    def run(**kwargs):
        try:
            return listener(**kwargs)
        finally:
            kwargs["context"]["deps"].on_handled(listener.__name__)
    return run


# -- events --------------------------------------------------------------------------------


def on_mention(body, event, client, context) -> None:
    """@MoPI in a channel: answer in a thread under the question."""
    if _from_a_bot(event, context) or not _well_formed(body, event):
        return
    answer_message(context["deps"], client, body.get("event_id", ""), event, thread_ts=event.get("thread_ts") or event["ts"])


def on_message(body, event, client, context) -> None:
    """A DM, or a reply in a thread the bot has answered in (mentions arrive as app_mention)."""
    if _from_a_bot(event, context) or event.get("subtype") or not _well_formed(body, event):
        return
    deps: SlackDeps = context["deps"]
    if event.get("channel_type") == "im":
        answer_message(deps, client, body.get("event_id", ""), event, thread_ts=event.get("thread_ts"))
    elif (event.get("thread_ts") and f"<@{context.get('bot_user_id')}>" not in event.get("text", "")
          and deps.audit.in_thread(event["channel"], event["thread_ts"])):
        answer_message(deps, client, body.get("event_id", ""), event, thread_ts=event["thread_ts"])


def answer_message(deps: SlackDeps, client: WebClient, event_id: str, event: dict, thread_ts: str | None) -> None:
    """Answer one message: once per event, 👀 while working, the answer (or an apology) in the thread."""
    if event_id and not deps.audit.first_time(event_id):
        log.info("event %s already handled; ignoring the retry", event_id)
        return
    channel, user = event["channel"], event.get("user", "")
    question = _MENTION.sub("", event.get("text", "")).strip()
    if not question:
        _post(client, channel, thread_ts, render_notice(HELP))
        return
    if not deps.limiter.allow(user):
        _post(client, channel, thread_ts, render_notice(RATE_LIMITED))
        return
    _react(client.reactions_add, channel, event["ts"])
    started = time.perf_counter()
    try:
        context = _thread_context(client, channel, thread_ts, event["ts"]) if thread_ts else ""
        answer = deps.assistant.ask(question, max_marking=deps.policy.max_marking(channel), context=context)
        latency = (time.perf_counter() - started) * 1000
        # Recorded before posting: a feedback click can arrive as soon as the message does.
        deps.audit.record_answer(answer.id, user, channel, answer, latency)
        deps.audit.remember_thread(channel, thread_ts or event["ts"])
        for n, message in enumerate(render_answer(answer, answer.id, escalate=bool(deps.policy.escalation_channel))):
            _post(client, channel, thread_ts or (event["ts"] if n else None), message)
        log.info("answered %s in %s (%.0f ms)", answer.id, channel, latency)
    except Exception:  # the officer must hear back whatever went wrong
        log.exception("answering event %s failed", event_id or "-")
        try:
            _post(client, channel, thread_ts or event["ts"], render_notice(FAILED))
        except SlackApiError:
            log.exception("could not tell the user about the failure for event %s", event_id or "-")
    finally:
        _react(client.reactions_remove, channel, event["ts"])


# -- slash command -------------------------------------------------------------------------


def on_command(ack, command, respond, context) -> None:
    """/mopi ask|status|help: answers only the asker sees unless they add --share."""
    ack()
    deps: SlackDeps = context["deps"]
    text = command.get("text", "").strip()
    verb, _, rest = text.partition(" ")
    user, channel = command.get("user_id", ""), command.get("channel_id", "")
    if verb == "status" and rest.startswith("update"):
        respond(response_type="ephemeral", text=_register_update(deps, user, rest[len("update"):].strip()))
        return
    if verb == "ask" and rest.strip():
        share = rest.startswith("--share")
        question = rest[len("--share"):].strip() if share else rest.strip()
    elif verb == "status":
        try:
            share, question = False, _status_question(rest.strip())
        except ValueError as exc:
            respond(response_type="ephemeral", text=str(exc))
            return
    else:
        respond(response_type="ephemeral", text=HELP)
        return
    if not deps.limiter.allow(user):
        respond(response_type="ephemeral", text=RATE_LIMITED)
        return
    started = time.perf_counter()
    try:
        answer = deps.assistant.ask(question, max_marking=deps.policy.max_marking(channel))
    except Exception:
        log.exception("slash command failed")
        respond(response_type="ephemeral", text=FAILED)
        return
    deps.audit.record_answer(answer.id, user, channel, answer, (time.perf_counter() - started) * 1000)
    # A private answer to /mopi ask can be shared with the channel; a status summary is asked again instead.
    for message in render_answer(answer, answer.id, escalate=bool(deps.policy.escalation_channel),
                                 share=verb == "ask" and not share):
        respond(response_type="in_channel" if share else "ephemeral", text=message.text, blocks=message.blocks,
                replace_original=False)


_AS_AT = re.compile(r"\s*--as-(?:at|of)(?:=|\s+)(\S+)")


def _status_question(arg: str) -> str:
    """The register question a /mopi status argument stands for (answered by the core like any other).

    ``--as-at DATE`` (or the old ``--as-of``) becomes "... as at DATE", which the core reads like a
    typed question. A date that is not one raises ValueError, with a message to show.
    """
    match = _AS_AT.search(arg)
    when = ""
    if match:
        try:
            when = f" as at {parse_date(match.group(1)).isoformat()}"
        except ValueError as exc:
            raise ValueError(f"--as-at: {exc}") from None
        arg = (arg[:match.start()] + arg[match.end():]).strip()
    if not arg or arg.lower() in ("outstanding", "open"):
        return f"what was outstanding{when}?" if when else "what is outstanding?"
    if arg.lower() == "overdue":
        return f"what was overdue{when}?" if when else "what is overdue?"
    return f"status of {arg}{when}"


def _register_update(deps: SlackDeps, user: str, args: str) -> str:
    """`update ID STATUS DOC#SECTION NOTE...`, for the register editors listed in the channel settings."""
    if not deps.policy.can_update_register(user):
        return "Only the register editors named in the bot's channel settings can update the register."
    parts = args.split(maxsplit=3)
    if len(parts) < 4:
        return "Usage: `/mopi status update ID STATUS DOC#SECTION NOTE`"
    rec_id, status, source, note = parts
    register = deps.assistant.register
    if register is None:
        return "The recommendation register is not loaded."
    try:
        from bot.core.register.answers import known_sections

        update = register.add_update(rec_id.upper(), status, note, Source.parse(source), f"slack:{user}",
                                     known_sections(deps.assistant.retriever.lexical))
    except MopiError as exc:
        return f"Not recorded: {exc}"
    log.info("register %s updated to %s by %s", rec_id.upper(), update.status, user)
    return f"Recorded: {rec_id.upper()} is now {update.status} ({update.date})."


# -- feedback ------------------------------------------------------------------------------


def on_feedback(ack, body, action, client, context) -> None:
    """👍 / 👎 / wrong source, stored with the answer's id, its cited documents and the user."""
    ack()
    deps: SlackDeps = context["deps"]
    kind = action["action_id"].removeprefix("feedback_")
    user = body.get("user", {}).get("id", "")
    deps.audit.record_feedback(action.get("value", ""), user, kind)
    log.info("feedback %s on %s", kind, action.get("value", ""))
    channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id")
    if channel and user:
        try:
            client.chat_postEphemeral(channel=channel, user=user, text="Thanks, your feedback has been recorded.")
        except SlackApiError:
            log.warning("could not confirm feedback to %s", user)


# -- escalation and sharing ----------------------------------------------------------------

GONE = "I can't find that answer any more. Please ask the question again."


def on_escalate(ack, body, action, client, context) -> None:
    """*Ask the records team*: the question, with a link to its answer, in the records team's channel."""
    ack()
    deps: SlackDeps = context["deps"]
    user, channel, container = _clicked_by(body)
    row = deps.audit.answer(action.get("value", ""))
    if row is None or not deps.policy.escalation_channel:
        _tell(client, channel, user, GONE if row is None else "No records team channel is set up for this bot.")
        return
    link, private = None, bool(container.get("is_ephemeral"))  # a private answer has no permalink
    if container.get("message_ts") and not private:
        try:
            link = client.chat_getPermalink(channel=channel, message_ts=container["message_ts"])["permalink"]
        except SlackApiError:
            log.warning("no permalink for answer %s", row["answer_id"])
    message = render_escalation(row["question"], row["user"] or user, row["channel"] or channel,
                                bool(row["refused"]), link, private=private, sent_by=user)
    try:
        _post(client, deps.policy.escalation_channel, None, message)
    except SlackApiError:
        log.exception("could not escalate answer %s", row["answer_id"])
        _tell(client, channel, user, "Sorry, I couldn't reach the records team's channel. Please try again later.")
        return
    log.info("answer %s escalated by %s", row["answer_id"], user)
    _tell(client, channel, user, "Sent to the records team, with a link to the answer. They'll reply there.")


def on_share(ack, body, action, respond, client, context) -> None:
    """*Share with channel*: the private answer to /mopi ask, posted for everyone in the channel it was
    asked in (it was answered under that channel's marking ceiling, so only there)."""
    ack()
    deps: SlackDeps = context["deps"]
    user, channel, _ = _clicked_by(body)
    row = deps.audit.answer(action.get("value", ""))
    if row is None or row["answer_json"] in ("", "{}"):
        respond(response_type="ephemeral", text=GONE, replace_original=False)
        return
    if row["channel"] != channel:
        respond(response_type="ephemeral", replace_original=False,
                text="That answer can only be shared in the channel it was asked in.")
        return
    answer = Answer.from_dict(json.loads(row["answer_json"]), row["answer_id"])
    # Through the click's response_url rather than chat.postMessage: like the /mopi command it came from, it
    # works in any channel, even one the bot was never invited to (chat.postMessage fails there with
    # not_in_channel), and needs no scope beyond commands. replace_original=False keeps the private copy.
    for message in render_answer(answer, answer.id, escalate=bool(deps.policy.escalation_channel), shared_by=user):
        respond(response_type="in_channel", text=message.text, blocks=message.blocks, replace_original=False)
    log.info("answer %s shared by %s in %s", answer.id, user, channel)


def _clicked_by(body: dict) -> tuple[str, str, dict]:
    """Who clicked, in which channel, and the message the button is on."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
    return body.get("user", {}).get("id", ""), channel, container


def _tell(client: WebClient, channel: str, user: str, text: str) -> None:
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError:
        log.warning("could not reply to %s", user)


# -- helpers -------------------------------------------------------------------------------


def _well_formed(body: dict, event: dict) -> bool:
    """Whether a message event has the fields answering needs, as strings. Slack always sends them; a
    payload without them is logged (by id, never by content) and ignored rather than failing mid-answer."""
    needed = (event.get("channel"), event.get("ts"))
    optional = (event.get("text", ""), event.get("user", ""), event.get("thread_ts") or "", body.get("event_id", ""))
    if all(isinstance(v, str) and v for v in needed) and all(isinstance(v, str) for v in optional):
        return True
    log.warning("ignored a %s event without a channel, ts or text as strings (event %s)", event.get("type"),
                body.get("event_id") if isinstance(body.get("event_id"), str) else "-")
    return False


def _from_a_bot(event: dict, context) -> bool:
    return bool(event.get("bot_id")) or event.get("user") == context.get("bot_user_id")


def _post(client: WebClient, channel: str, thread_ts: str | None, message: SlackMessage) -> None:
    client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=message.text, blocks=message.blocks,
                            unfurl_links=False, unfurl_media=False)


def _react(call, channel: str, ts: str) -> None:
    """Reactions are a courtesy: failing to add or remove one must not stop the answer."""
    try:
        call(channel=channel, timestamp=ts, name=THINKING)
    except SlackApiError as exc:
        log.info("reaction %s failed: %s", call.__name__, exc.response.get("error"))


def _thread_context(client: WebClient, channel: str, thread_ts: str, current_ts: str) -> str:
    """The previous question asked in this thread, to make sense of a follow-up."""
    try:
        replies = client.conversations_replies(channel=channel, ts=thread_ts, limit=50)["messages"]
    except SlackApiError:
        return ""
    asked = [m for m in replies if not m.get("bot_id") and m.get("ts") != current_ts and m.get("text")]
    return _MENTION.sub("", asked[-1]["text"]).strip() if asked else ""
