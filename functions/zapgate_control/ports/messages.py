"""Messages, both directions: the outbound queue, inbound storage and history (MessagesTable).

The store answers typed records (OutboundMessage, ReceivedMessage) and owns every item<->record
conversion: key encodings, the `state` field, numbers DynamoDB cannot hold (adapters/dynamodb/messages.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol

from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.outbound import ClaimPolicy, MessageState

if TYPE_CHECKING:  # annotations only: the contract's pydantic models cost every function ~30 ms at import
    from zapgate_core.contract.message_objects import Location, Poll, PollVote, Reaction, Selection, SharedContact
    from zapgate_core.contract.outbound_content import OutboundContent

Direction = Literal["inbound", "outbound"]


@dataclass(frozen=True)
class OutboundMessage:
    """A message on (or past) the send queue."""

    direction: ClassVar[Literal["outbound"]] = "outbound"

    id: str
    instance_id: str
    tenant_id: str
    content: OutboundContent
    state: MessageState
    created_at: str
    stored_ms: int  # when it was queued (the store's clock): the timeline's and the queue's order
    claim_count: int = 0
    lease_expires_ms: int | None = None  # while claimed
    wa_message_id: str | None = None  # once sent
    error: str | None = None  # once failed
    finished_at: str | None = None  # sent or failed
    request_hash: str | None = None  # the Idempotency-Key's request fingerprint
    changes: ChangeMarks | None = None  # edited / revoked after it was sent (from the phone or the API)
    # Issue 11: queued by an automation (its id) rather than through the API; sent_by_ai: an AI agent's reply
    # or its fallback text (seed 003's messages.sent_by_ai). A person's API send has neither.
    automation_id: str | None = None
    sent_by_ai: bool = False
    # Issue 13: "phone" = sent from the phone or another linked device (stored already sent, nobody queued it);
    # "api" = queued through zapgate. history: it came with a history sync after linking.
    source: str = "api"
    history: bool = False


@dataclass(frozen=True)
class ChangeMarks:
    """What happened to a stored message after it was stored: edits and a delete-for-everyone (revoke).

    Nothing is erased: an edit replaces the message's text (`body`) and keeps the text it was first
    stored with in `original_body` (one copy, however many edits); a revoke only marks the message.
    """

    edited_at: str | None = None  # WhatsApp's time of the latest edit applied
    edit_count: int = 0
    original_body: str | None = None  # the text before the first edit
    revoked_at: str | None = None
    revoked_by: str | None = None  # the JID that deleted it for everyone (its sender, or a group admin)
    # Received messages: when this account sent read receipts for it (mark read through the API). A chat reads
    # as read up to its newest message with this mark, as WhatsApp reads a chat up to a message.
    read_at: str | None = None


@dataclass(frozen=True)
class MessageEdit:
    """A new text for a stored message. `edit_key` orders edits: "<WhatsApp ms, 13 digits>#<the edit's
    WhatsApp id>"; an edit whose key is not above the stored one (a repeat, an older edit arriving late)
    changes nothing."""

    text: str
    edited_at: str  # ISO-8601 UTC
    edit_key: str


@dataclass(frozen=True)
class MessageRevoke:
    revoked_at: str  # ISO-8601 UTC
    revoked_by: str | None = None


@dataclass(frozen=True)
class InboundContent:
    """What a sidecar reported, as stored. At most one typed object, named by `message_type`."""

    from_: str
    chat_id: str  # normalised chat JID
    chat_type: str  # direct | group
    body: str = ""
    to: str | None = None
    wa_message_id: str | None = None
    from_me: bool = False
    sender_jid_raw: str | None = None
    sender_pn: str | None = None
    sender_contact_id: str | None = None
    push_name: str | None = None
    wa_timestamp: str | None = None
    media_type: str | None = None
    media_url: str | None = None
    media_sha256: str | None = None  # one of our media URLs: reads sign a fresh URL (the stored one expires)
    mime_type: str | None = None
    file_name: str | None = None
    file_size: int | None = None
    message_type: str | None = None  # only with its typed object
    quoted_wa_message_id: str | None = None
    quoted_text: str | None = None
    location: Location | None = None
    contact: SharedContact | None = None
    reaction: Reaction | None = None
    poll: Poll | None = None
    poll_vote: PollVote | None = None
    selection: Selection | None = None


@dataclass(frozen=True)
class ReceivedMessage:
    """An inbound message, stored once per (instance, WhatsApp id)."""

    direction: ClassVar[Literal["inbound"]] = "inbound"
    state: ClassVar[MessageState] = MessageState.RECEIVED

    id: str
    instance_id: str
    tenant_id: str | None
    content: InboundContent
    created_at: str
    stored_ms: int  # when it arrived (the store's clock): the timeline's order
    parent_id: str | None = None
    changes: ChangeMarks | None = None  # edited / revoked by its sender after it arrived
    history: bool = False  # issue 13: it came with a history sync after linking

    @property
    def wa_message_id(self) -> str | None:
        return self.content.wa_message_id


MessageRecord = OutboundMessage | ReceivedMessage


@dataclass(frozen=True)
class MarkFields:
    """What a mark-sent / mark-failed records beside the new state."""

    wa_message_id: str | None = None
    error: str | None = None
    send_debug: JsonObject | None = None  # the sidecar's free-form diagnostics, kept bounded


class MessageNotFound(Exception):
    """No message with that id."""


class DuplicateMessage(Exception):
    """An enqueue reused a message id (an Idempotency-Key) already taken; `existing` is that message."""

    def __init__(self, existing: OutboundMessage) -> None:
        super().__init__(existing.id)
        self.existing = existing


class MarkConflict(Exception):
    """A state change the message's current `state` does not allow (e.g. sent after failed)."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


class MessageRevokedAlready(Exception):
    """An edit of a message deleted for everyone: WhatsApp shows no edit of a deleted message."""


class MessageStore(Protocol):
    def enqueue(
        self,
        tenant_id: str,
        instance_id: str,
        content: OutboundContent,
        queue_owner: str | None = None,
        message_id: str | None = None,
        request_hash: str | None = None,
        automation_id: str | None = None,
        sent_by_ai: bool = False,
    ) -> OutboundMessage: ...
    def owner_work(self, owner: str) -> tuple[set[str], dict[str, int]]: ...
    def ring_doorbell(self, instance_id: str, owner: str, ttl_ms: int) -> None: ...
    def clear_doorbell(self, instance_id: str) -> bool: ...
    def apply_receipt(self, instance_id: str, wa_message_id: str, target: MessageState) -> list[OutboundMessage]: ...
    def claim(
        self, instance_id: str, limit: int, policy: ClaimPolicy, exhausted: list[OutboundMessage] | None = None
    ) -> list[OutboundMessage]: ...
    def mark(self, message_id: str, state: MessageState, fields: MarkFields) -> tuple[OutboundMessage, bool]: ...
    def hold(self, message_id: str, until_ms: int, reason: str) -> tuple[OutboundMessage, bool]:
        """claimed -> held until `until_ms` (issue 13, pacing), the claim given back; (message, moved), moved False
        for a repeat. Raises MessageNotFound, MarkConflict(state) when it is not claimed."""
        ...
    def put_inbound(
        self, message_id: str, instance_id: str, tenant_id: str | None, content: InboundContent,
        automate: bool = False,
    ) -> ReceivedMessage | None:
        """`automate`: the instance has automations; stored as the item's flag the outbox reads (issue 11)."""
        ...
    # Parent linking (services/delivery/parents.py) runs seed 001's heuristic (domain/events.pick_parent) on the
    # stored images, the same shape the outbox's stream delivers: these stay JSON objects on purpose.
    def recent_inbound(self, instance_id: str, until_sk: str, window_ms: int, limit: int = 50) -> list[JsonObject]: ...
    def recent_inbound_windows(
        self, instance_id: str, until_sks: Sequence[str], window_ms: int, limit: int = 50
    ) -> dict[str, list[JsonObject]]:
        """recent_inbound of each `until_sk`, the same answers, from one read of their union (a batch's records)."""
        ...
    def set_parent(self, message_id: str, parent_id: str) -> bool: ...
    def get(self, message_id: str) -> MessageRecord | None: ...
    def get_many(self, message_ids: Sequence[str]) -> dict[str, MessageRecord]:
        """The messages found among `message_ids`, by id (one BatchGetItem per 100; missing ids are absent)."""
        ...
    def timeline(
        self, instance_id: str, direction: Direction, limit: int, cursor: str | None
    ) -> tuple[list[MessageRecord], str | None]: ...
    def chat_messages(
        self, instance_id: str, chat: str, limit: int, cursor: str | None
    ) -> tuple[list[MessageRecord], str | None]: ...
    def recent(self, instance_id: str, direction: Direction, limit: int) -> list[MessageRecord]: ...
    # Edits and revokes of stored messages (adapters/dynamodb/message_changes.py): each is one conditional
    # UpdateItem answering (the message as it is now, changed). changed is False for a repeat or an edit older
    # than the one applied; MessageNotFound when no such message, MessageRevokedAlready for an edit after a revoke.
    def mark_edited(self, message_id: str, edit: MessageEdit) -> tuple[MessageRecord, bool]: ...
    def mark_revoked(self, message_id: str, revoke: MessageRevoke) -> tuple[MessageRecord, bool]: ...
    def mark_read(self, message_id: str, read_at: str) -> bool: ...
    def find_by_wa_message_id(self, instance_id: str, wa_message_id: str) -> MessageRecord | None: ...
