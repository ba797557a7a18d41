"""Per-chat cooldown of a rule: after it answers a chat, it stays quiet in that chat for cooldown_s.

The key is per (instance, automation, chat): two chats never share a cooldown, nor two rules of one
chat, nor one rule's chats across instances. The store keeps the last time each key fired; the
decision below is pure. The chat is normalised (jids.chat_jid) so '5511...' and '5511...@s.whatsapp.net'
are one chat.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from zapgate_core.domain.jids import chat_jid

MAX_COOLDOWN_S = 7 * 24 * 3600  # a week: longer is "answer once", which first_message already is


def cooldown_key(instance_id: str, automation_id: str, chat: str) -> str:
    return f"{instance_id}#{automation_id}#{chat_jid(chat) or chat}"


def cooldown_allows(last_fired_at: datetime | None, now: datetime, cooldown_s: int) -> bool:
    """True when the rule may fire: never fired here, no cooldown, or cooldown_s have passed since.

    Exactly cooldown_s after the last firing it may fire again. A last firing in the future (another
    host's clock ahead of ours) keeps the rule quiet until cooldown_s after that time: no double answer.
    """
    if last_fired_at is None or cooldown_s <= 0:
        return True
    return now >= last_fired_at + timedelta(seconds=cooldown_s)
