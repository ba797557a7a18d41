"""A chat handed to a person: the built-in escalate_to_human tool pauses every automation of that chat.

The pause ends at the first of: a person replying in the chat through the API (a send that is not an
automation's, at or after the escalation), or its TTL. An automation's own replies never end it, and a
reply older than the escalation does not either (it was no answer to it). The state is a value: the
store keeps it, these functions decide.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

MIN_ESCALATION_TTL_S = 60
MAX_ESCALATION_TTL_S = 7 * 24 * 3600
DEFAULT_ESCALATION_TTL_S = 24 * 3600  # a working day and a night: a person has time to pick it up


@dataclass(frozen=True)
class ChatPause:
    chat_jid: str
    automation_id: str  # the agent that escalated
    paused_at: datetime
    until: datetime
    reason: str = ""  # what the model gave as the reason, for the person who picks it up
    released_at: datetime | None = None  # when a person replied

    def active_at(self, now: datetime) -> bool:
        if self.released_at is not None and now >= self.released_at:
            return False
        return self.paused_at <= now < self.until


def escalate(chat_jid: str, automation_id: str, now: datetime, ttl_s: int, reason: str = "") -> ChatPause:
    if not MIN_ESCALATION_TTL_S <= ttl_s <= MAX_ESCALATION_TTL_S:
        raise ValueError(f"escalation TTL must be {MIN_ESCALATION_TTL_S} to {MAX_ESCALATION_TTL_S} seconds")
    return ChatPause(chat_jid, automation_id, now, now + timedelta(seconds=ttl_s), reason)


def after_human_reply(pause: ChatPause, replied_at: datetime, *, by_automation: bool) -> ChatPause:
    """The pause once someone replied in the chat: released by a person's reply at or after the escalation."""
    if by_automation or replied_at < pause.paused_at or pause.released_at is not None:
        return pause
    return replace(pause, released_at=replied_at)


def is_paused(pause: ChatPause | None, now: datetime) -> bool:
    return pause is not None and pause.active_at(now)
