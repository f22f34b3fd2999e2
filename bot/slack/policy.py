"""Who may see what, and who may change the register: the per-channel settings file.

Example (``slack/channels.yaml``)::

    default_max_marking: OFFICIAL          # channels not listed, and DMs
    channels:
      C0123456789: {max_marking: OFFICIAL-SENSITIVE}   # e.g. the information management unit's channel
    register_editors: [U0123456789]        # Slack user ids allowed to run /mopi status update
    rate_limit_per_minute: 10
    escalation_channel: C0987654321        # "Ask the records team" posts here; no button without it
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.core.retrieval import MARKINGS
from bot.errors import ConfigError

_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")  # a public (C…) or private (G…) channel id


@dataclass(frozen=True)
class ChannelPolicy:
    default_max_marking: str = "OFFICIAL"
    channel_markings: dict[str, str] = field(default_factory=dict)
    register_editors: frozenset[str] = frozenset()
    rate_limit_per_minute: int = 10
    escalation_channel: str = ""  # the records team's channel id; "" = no "Ask the records team" button

    def max_marking(self, channel: str) -> str:
        return self.channel_markings.get(channel, self.default_max_marking)

    def can_update_register(self, user: str) -> bool:
        return user in self.register_editors


def load_policy(path: Path | None) -> ChannelPolicy:
    """The policy from ``path``; the safe default (OFFICIAL everywhere, no editors) when there is no file."""
    if path is None or not path.is_file():
        return ChannelPolicy()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the channel settings ({str(exc).splitlines()[0]})") from None
    default = str(data.get("default_max_marking", "OFFICIAL")).upper()
    channels = {str(cid): str((conf or {}).get("max_marking", default)).upper()
                for cid, conf in (data.get("channels") or {}).items()}
    for where, marking in [("default_max_marking", default), *channels.items()]:
        if marking not in MARKINGS:
            raise ConfigError(f"{path}: {where}: unknown protective marking {marking!r}; use one of {', '.join(MARKINGS)}")
    # Absent: no button. Present but empty or not an id (a channel name, a number): a mistake to report,
    # not a silent "no button".
    escalation = data.get("escalation_channel", "")
    if "escalation_channel" in data and not (isinstance(escalation, str) and _CHANNEL_ID.fullmatch(escalation)):
        raise ConfigError(f"{path}: escalation_channel: expected a channel id like C0123456789, got {escalation!r} "
                          "(leave the key out for no 'Ask the records team' button)")
    return ChannelPolicy(default, channels, frozenset(map(str, data.get("register_editors") or [])),
                         int(data.get("rate_limit_per_minute", 10)), escalation)


class RateLimiter:
    """At most ``per_minute`` questions per user in any sliding minute."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._asked: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, user: str) -> bool:
        now = self.clock()
        with self._lock:
            asked = self._asked[user]
            while asked and now - asked[0] >= 60:
                asked.popleft()
            if len(asked) >= self.per_minute:
                return False
            asked.append(now)
            return True
