"""Records of the requests to the phone (issue 10): the messages the network has seen, its groups, and what each
account asked of it. Plain data; the rules live in the mixins (sim_contacts, sim_message_ops, sim_groups,
sim_group_members) and their views turn these into JSON for tests and the demo.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from zapgate_core.domain.jids import LID_SERVER, USER_SERVER

from .sim_state import sim_lid

Role = Literal["member", "admin", "superadmin"]
# The network keeps this much of each account's history; tests never come near it.
MAX_VIEWS_PER_INSTANCE = 10_000
MAX_READS_PER_INSTANCE = 1_000


def phone_jid(digits: str) -> str:
    return f"{digits}@{USER_SERVER}"


def lid_jid(digits: str) -> str:
    return f"{sim_lid(digits)}@{LID_SERVER}"


def sim_picture_id(digits: str, current: str | None = None) -> str:
    """A picture id like WhatsApp's (a decimal timestamp-ish number), stable for the number: registering the
    same account again keeps its picture."""
    if current is not None:
        return current
    return str(1_700_000_000 + int(hashlib.sha256(f"pic:{digits}".encode()).hexdigest(), 16) % 10**8)


def sim_picture_url(digits_or_group: str, picture_id: str, preview: bool) -> str:
    """A fake CDN URL, deterministic so tests can compare it; .invalid so nothing ever fetches it."""
    size = "s96x96" if preview else "s640x640"
    return f"https://pps.sim-whatsapp.invalid/v/t61/{digits_or_group}/{picture_id}_{size}.jpg?oe=sim"


@dataclass
class Msg:
    """One message on the network, shared by every account that has it (so a revoke or an edit by its sender is
    what the receivers see too)."""

    id: str
    sender: str  # phone JID of who sent it
    chat: str  # as the sender sees it: the recipient's JID or the group's
    type: str
    text: str | None  # body or caption; None for messages without text (location, poll, ...)
    sent_at: float  # network clock, epoch seconds
    edits: list[dict[str, Any]] = field(default_factory=list)
    revoked: dict[str, Any] | None = None  # {"by", "revoke_id", "at"} once deleted for everyone
    read_by: dict[str, float] = field(default_factory=dict)  # reader's phone JID -> when


@dataclass
class View:
    """A message as one account has it: the chat is from that account's side (a 1:1 chat is the other party)."""

    chat: str
    from_me: bool
    msg: Msg


@dataclass
class Group:
    jid: str
    name: str
    created_at: float
    owner: str | None = None  # the creator's phone JID; None for groups a test declared with set_group
    description: str = ""
    announce: bool = False  # only admins send
    locked: bool = False  # only admins edit the group's info
    invite_code: str = ""
    invite_counter: int = 0
    participants: dict[str, Role] = field(default_factory=dict)  # phone JID -> role, in joining order

    def is_admin(self, jid: str | None) -> bool:
        return jid is not None and self.participants.get(jid) in ("admin", "superadmin")


@dataclass
class Extras:
    """Per instance (gateway account slot): what its requests to the phone left behind."""

    views: dict[str, View] = field(default_factory=dict)  # message id -> the message as this account has it
    blocked: list[str] = field(default_factory=list)  # phone JIDs, in blocking order (WhatsApp lists it so)
    reads: list[dict[str, Any]] = field(default_factory=list)  # read receipts this account sent
    presence: str | None = None  # own presence: available / unavailable, None until set
    op_counter: int = 0  # ids of edits and revocations
