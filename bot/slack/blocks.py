"""Block Kit rendering of answers: pure functions, golden-tested, within Slack's limits.

Slack rejects a message with more than 50 blocks or a section over 3000
characters (``invalid_blocks``), so a long answer is split across sections and,
past the block budget, across messages that continue in the thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.models import Answer

SECTION_LIMIT = 2900  # Slack allows 3000 characters per section text; leave room for escaping
BLOCKS_PER_MESSAGE = 45  # Slack allows 50
FALLBACK_LIMIT = 2900  # plain-text fallback (notifications, screen readers) per message
FOOTER = "Summaries of official guidance: the official source prevails. Check the cited document before acting on it."


@dataclass(frozen=True)
class SlackMessage:
    text: str  # plain-text fallback
    blocks: list[dict]


def escape(text: str) -> str:
    """Slack mrkdwn escaping: only &, < and > are special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at paragraph, line, sentence, then word boundaries."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 2:
            cut = max(window.rfind(". "), window.rfind("; "))
            cut = cut + 1 if cut >= limit // 2 else window.rfind(" ")
        if cut <= 0:
            cut = limit  # one unbroken run of characters: cut it anyway
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def citation_line(c) -> str:
    title = escape(c.title or c.doc_id or c.url).replace("|", "/")
    title = title if len(title) <= 300 else title[:297] + "…"
    link = f"<{c.url}|{title}>" if c.url.startswith(("http://", "https://")) else title
    where = ", ".join(x for x in (f"section {escape(c.section)}" if c.section else "", f"page {c.page}" if c.page else "") if x)
    mark = "  :warning: *superseded*" if c.status == "superseded" else ""
    return f"*[{c.n}]* {link}" + (f" — {where}" if where else "") + mark


ESCALATE = "escalate"  # action id: "Ask the records team"
SHARE = "share_answer"  # action id: "Share with channel"


def feedback_actions(answer_id: str, escalate: bool = False, share: bool = False) -> dict:
    """The buttons under an answer. Each carries only the answer's id: the question stays in the audit
    database (a button value is echoed back by Slack and may reach logs)."""
    buttons = [("feedback_up", ":+1: Helpful"), ("feedback_down", ":-1: Not helpful"),
               ("feedback_wrong_source", "Wrong source")]
    buttons += [(ESCALATE, ":raising_hand: Ask the records team")] * escalate
    buttons += [(SHARE, ":mega: Share with channel")] * share
    return {"type": "actions", "block_id": f"feedback-{answer_id}", "elements": [
        {"type": "button", "action_id": action, "value": answer_id, "text": {"type": "plain_text", "text": label,
                                                                              "emoji": True}}
        for action, label in buttons]}


def render_answer(answer: Answer, answer_id: str, *, escalate: bool = False, share: bool = False,
                  shared_by: str = "") -> list[SlackMessage]:
    """The answer, its numbered sources, the footer and the buttons, as one or more messages.

    ``escalate`` adds *Ask the records team* (when a records team channel is set up), ``share`` adds
    *Share with channel* (private answers), ``shared_by`` heads a shared answer with who shared it.
    """
    blocks: list[dict] = [_section(piece) for piece in split_text(escape(answer.answer))]
    if shared_by:
        blocks.insert(0, {"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<@{shared_by}> shared an answer to: _{escape(_clip(answer.question))}_"}]})
    if answer.citations:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "*Sources*"}]})
        blocks += [_section(line) for c in answer.citations for line in split_text(citation_line(c))]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": FOOTER}]})
    blocks.append(feedback_actions(answer_id, escalate, share))

    chunks = [blocks[i:i + BLOCKS_PER_MESSAGE] for i in range(0, len(blocks), BLOCKS_PER_MESSAGE)]
    fallback = _plain(answer)
    messages = []
    for n, chunk in enumerate(chunks):
        if n == 0:
            text = fallback if len(fallback) <= FALLBACK_LIMIT else fallback[:FALLBACK_LIMIT - 30].rstrip() + " … (continued)"
        else:
            text = f"(continued, part {n + 1} of {len(chunks)})"
        messages.append(SlackMessage(text, chunk))
    return messages


def render_escalation(question: str, asker: str, channel: str, refused: bool, link: str | None, *,
                      private: bool = False, sent_by: str = "") -> SlackMessage:
    """The post in the records team's channel: who asked where, the question, and the answer it got.

    ``private``: the answer was ephemeral, so there is no link to give. ``sent_by``: who clicked, when not
    the asker (anyone in a channel can see the button on an answer).
    """
    got = "I could not answer it" if refused else "I answered it"
    where = (f"<{link}|the answer>" if link else "a private answer, only the asker can see it" if private
             else "Slack gave me no link to the answer")
    place = "a direct message" if channel.startswith("D") else f"<#{channel}>"
    wants = f"; <@{sent_by}> would like" if sent_by and sent_by != asker else " and would like"
    text = (f"<@{asker}> asked in {place}{wants} the records team's view. {got}: {where}.\n"
            f">{escape(_clip(question, SECTION_LIMIT - 400))}")
    fallback = f"A question for the records team from <@{asker}>: {_clip(question, FALLBACK_LIMIT - 200)}"
    return SlackMessage(fallback, [_section(text)])


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def render_notice(text: str) -> SlackMessage:
    """A short message from the bot itself (rate limit, failure, help)."""
    return SlackMessage(text, [_section(piece) for piece in split_text(escape(text))])


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _plain(answer: Answer) -> str:
    sources = "; ".join(f"[{c.n}] {c.title}" + (f", {c.section}" if c.section else "") for c in answer.citations)
    return re.sub(r"\s+", " ", answer.answer + (f" Sources: {sources}" if sources else "")).strip()
