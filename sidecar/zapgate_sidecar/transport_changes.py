"""The transport port's events for what WhatsApp reports besides new messages (issue 10), and the optional
call-rejecting capability. Kept apart from transport.py (which names them in TransportEvent) so that module
stays short; plain frozen dataclasses like the port's other events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

ParticipantAction = Literal["add", "remove", "promote", "demote"]


@dataclass(frozen=True)
class MessageEdited:
    """The sender changed the text of `wa_message_id`. `edit_wa_message_id` is the edit's own id."""

    wa_message_id: str
    edit_wa_message_id: str
    chat_jid: str
    sender_jid: str
    text: str
    timestamp_ms: int  # when the edit was made
    from_me: bool = False  # edited from this account (its phone, or another linked device)
    sender_pn: str | None = None


@dataclass(frozen=True)
class MessageRevoked:
    """`wa_message_id` was deleted for everyone, by `revoked_by` (its sender or a group admin)."""

    wa_message_id: str
    chat_jid: str
    revoked_by: str | None
    timestamp_ms: int
    from_me: bool = False


@dataclass(frozen=True)
class GroupParticipantsChanged:
    group_jid: str
    action: ParticipantAction
    participants: tuple[str, ...]
    by: str | None
    timestamp_ms: int


@dataclass(frozen=True)
class GroupInfoChanged:
    """What changed in a group's info; None = unchanged."""

    group_jid: str
    by: str | None
    timestamp_ms: int
    name: str | None = None
    description: str | None = None
    announce: bool | None = None
    locked: bool | None = None


@dataclass(frozen=True)
class CallReceived:
    """An incoming call offer. `caller` is the JID exactly as WhatsApp gave it (rejecting needs that one)."""

    call_id: str
    caller: str
    timestamp_ms: int
    video: bool = False
    group_jid: str | None = None


ChangeEvent = MessageEdited | MessageRevoked | GroupParticipantsChanged | GroupInfoChanged | CallReceived


@runtime_checkable
class CallRejecter(Protocol):
    """A session that can decline an incoming call (the neonize session; the simulator's). A transport without
    it reports calls and leaves them ringing."""

    def reject_call(self, caller: str, call_id: str) -> None:
        """Decline the call; raises TransportError."""
