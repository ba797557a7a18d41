"""Messages and conversations as history shows them, mapped from the store's message records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from zapgate_control.clock import iso
from zapgate_control.ports.messages import MessageRecord, OutboundMessage
from zapgate_core.contract.common import (
    InboundMessageType,
)
from zapgate_core.domain.message_kinds import MEDIA_KINDS
from zapgate_core.domain.outbound import MessageState
from zapgate_public_api.models.base import Direction

if TYPE_CHECKING:
    from zapgate_control.services.history import Conversation as ConversationSummary


class MessageLocation(BaseModel):
    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None


class MessageContact(BaseModel):
    display_name: str | None = None
    vcard: str | None = None
    count: int | None = Field(default=None, description="Inbound: how many cards were shared (this is the first)")


class MessageReaction(BaseModel):
    emoji: str = Field(default="", description='"" removes the reaction')
    message_id: str | None = Field(default=None, description="Outbound: our id of the message reacted to")
    wa_message_id: str | None = Field(default=None, description="WhatsApp id of the message reacted to")
    from_me: bool | None = Field(default=None, description="The reacted-to message was sent by this instance")


class MessagePoll(BaseModel):
    """A poll: one received, or one this instance sent (type=poll both ways)."""

    name: str | None = None
    options: list[str] = Field(default_factory=list)
    selectable_count: int | None = Field(default=None, description="How many options a voter may pick; 0 = any")


class MessagePollVote(BaseModel):
    poll_message_id: str | None = Field(default=None, description="WhatsApp id of the poll voted on")
    option_hashes: list[str] = Field(
        default_factory=list, description="SHA-256 (lowercase hex) of each chosen option's name; [] = vote removed"
    )
    options: list[str] = Field(
        default_factory=list, description="The chosen options' names, when zapgate saw the poll (else match hashes)"
    )


class MessageSelection(BaseModel):
    id: str | None = Field(default=None, description="The chosen button's or list row's id")
    text: str | None = Field(default=None, description="The text the user saw on it")


class MessageEdited(BaseModel):
    """The message's text was changed after it was sent (by its sender, or through zapgate); `body` is the
    latest text."""

    at: str | None = Field(default=None, description="When the latest edit was made (WhatsApp's time)")
    count: int = Field(default=0, description="How many edits zapgate applied")
    original_body: str | None = Field(default=None, description="The text the message was first stored with")


class MessageRevoked(BaseModel):
    """Deleted for everyone on WhatsApp. zapgate keeps the message (and its text) and marks it."""

    at: str | None = None
    by: str | None = Field(default=None, description="JID that deleted it (its sender, or a group admin)")


def _changes(record: MessageRecord) -> dict[str, Any]:
    marks = record.changes
    if marks is None:
        return {}
    shown: dict[str, Any] = {}
    if marks.edit_count:
        shown["edited"] = MessageEdited(at=marks.edited_at, count=marks.edit_count, original_body=marks.original_body)
    if marks.revoked_at:
        shown["revoked"] = MessageRevoked(at=marks.revoked_at, by=marks.revoked_by)
    return shown


def _kind(explicit: str | None, media_type: str | None) -> str:
    """inbound: message_type; outbound: type (set for typed kinds and quotes); else what the media says."""
    if explicit in get_args(InboundMessageType):
        return str(explicit)
    return str(media_type) if media_type in MEDIA_KINDS else "text"


def _typed(model: type[BaseModel], value: BaseModel | None, **extra: Any) -> Any:
    if value is None:
        return None
    fields = {**value.model_dump(exclude_none=True), **{k: v for k, v in extra.items() if v is not None}}
    return model.model_validate({name: fields[name] for name in model.model_fields if name in fields})


class Message(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    direction: Direction
    status: str = Field(description="queued | claimed | held (pacing) | sent | failed (outbound), received (inbound)")
    to: str | None = None
    from_: str | None = Field(default=None, alias="from")
    body: str | None = None
    media_type: str | None = None
    media_url: str | None = None
    mime_type: str | None = None
    file_name: str | None = None
    wa_message_id: str | None = None
    error: str | None = None
    chat_id: str | None = None
    push_name: str | None = None
    created_at: str
    finished_at: str | None = None
    type: InboundMessageType = Field(
        default="text", description="The message's kind: text, a media kind, or location, contact, reaction, "
        "poll, poll_choice, buttons_response, list_response (inbound; outbound sends location, contact, reaction, "
        "poll)"
    )
    quoted_wa_message_id: str | None = Field(default=None, description="Inbound: WhatsApp id of the quoted message")
    quoted_text: str | None = Field(default=None, description="Inbound: the quoted message's text (≤ 1000 chars)")
    location: MessageLocation | None = None
    contact: MessageContact | None = None
    reaction: MessageReaction | None = None
    poll: MessagePoll | None = Field(default=None, description="A poll, received or sent (its votes are poll_choice)")
    poll_vote: MessagePollVote | None = Field(default=None, description="Inbound: a vote on a poll (poll_choice)")
    selection: MessageSelection | None = Field(default=None, description="Inbound: a button or list reply")
    # Absent (not null) on a message never changed: history answers every other message exactly as before.
    edited: MessageEdited | None = Field(default=None, exclude_if=lambda v: v is None,
                                        description="Present once the text was edited")
    revoked: MessageRevoked | None = Field(default=None, exclude_if=lambda v: v is None,
                                           description="Present once it was deleted for everyone")
    # Issue 11: present only on an automation's reply (absent on every other message, as before).
    automation_id: str | None = Field(default=None, exclude_if=lambda v: v is None,
                                      description="Outbound: queued by this automation (a rule's or an agent's reply)")
    sent_by_ai: bool | None = Field(default=None, exclude_if=lambda v: v is None,
                                    description="Outbound: true for an AI agent's reply or its fallback text")
    # Issue 13: present only on a message sent from the phone or another linked device ("phone"; absent = sent
    # through zapgate, "api") and on one a history sync brought, so every other message answers as before.
    source: Literal["phone"] | None = Field(default=None, exclude_if=lambda v: v is None,
                                            description='Outbound: "phone" = sent from the phone or another '
                                            'linked device, not through zapgate (absent: "api")')
    history: bool | None = Field(default=None, exclude_if=lambda v: v is None,
                                 description="true: stored by a history sync after linking")
    # Issue 13: present only while status is "held" (pacing: over the first-contact daily cap).
    held_until: str | None = Field(default=None, exclude_if=lambda v: v is None,
                                   description="Outbound, status held: when pacing lets it go (ISO-8601 UTC)")

    @classmethod
    def from_record(cls, record: MessageRecord, media_url: str | None = None) -> Message:
        """`media_url`: the link to answer (history signs a fresh one for media it stored)."""
        common = {"id": record.id, "direction": record.direction, "status": record.state.value,
                  "created_at": record.created_at, "media_url": media_url, **_changes(record)}
        if isinstance(record, OutboundMessage):
            content = record.content
            return cls.model_validate({
                **common, "to": content.to, "body": content.body, "media_type": content.media_type,
                "mime_type": content.mime_type, "file_name": content.file_name,
                "wa_message_id": record.wa_message_id, "error": record.error, "finished_at": record.finished_at,
                "type": _kind(content.type, content.media_type),
                "location": _typed(MessageLocation, content.location),
                "contact": _typed(MessageContact, content.contact),
                "reaction": _typed(MessageReaction, content.reaction,
                                   message_id=content.reaction.message_id if content.reaction else None),
                "poll": _typed(MessagePoll, content.poll),
                **({"automation_id": record.automation_id, "sent_by_ai": record.sent_by_ai}
                   if record.automation_id else {}),
                **({"source": "phone"} if record.source == "phone" else {}),
                **({"history": True} if record.history else {}),
                **({"held_until": iso(record.lease_expires_ms)}
                   if record.state is MessageState.HELD and record.lease_expires_ms is not None else {}),
            })
        received = record.content
        return cls.model_validate({
            **common, "to": received.to, "from": received.from_, "body": received.body,
            "media_type": received.media_type, "mime_type": received.mime_type, "file_name": received.file_name,
            "wa_message_id": received.wa_message_id, "chat_id": received.chat_id or None,
            "push_name": received.push_name, "type": _kind(received.message_type, received.media_type),
            "quoted_wa_message_id": received.quoted_wa_message_id, "quoted_text": received.quoted_text,
            "location": _typed(MessageLocation, received.location),
            "contact": _typed(MessageContact, received.contact),
            "reaction": _typed(MessageReaction, received.reaction),
            "poll": _typed(MessagePoll, received.poll),
            "poll_vote": _typed(MessagePollVote, received.poll_vote),
            "selection": _typed(MessageSelection, received.selection),
            **({"history": True} if record.history else {}),
        })


class MessagePage(BaseModel):
    messages: list[Message]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


# ---------------------------------------------------------------- conversations
class LastMessage(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    direction: Direction
    body: str | None = None
    media_type: str | None = None
    created_at: str
    from_: str | None = Field(default=None, alias="from")
    # As on a history message: absent unless it changed, so a list preview can show "message deleted".
    edited: MessageEdited | None = Field(default=None, exclude_if=lambda v: v is None,
                                        description="Present once the text was edited")
    revoked: MessageRevoked | None = Field(default=None, exclude_if=lambda v: v is None,
                                           description="Present once it was deleted for everyone")

    @classmethod
    def from_record(cls, record: MessageRecord) -> LastMessage:
        return cls.model_validate({
            "id": record.id, "direction": record.direction, "body": record.content.body,
            "media_type": record.content.media_type, "created_at": record.created_at,
            "from": None if isinstance(record, OutboundMessage) else record.content.from_,
            **_changes(record),
        })


class Conversation(BaseModel):
    chat_id: str
    chat_type: str = Field(description="direct | group")
    last_message: LastMessage
    unread_count: int = Field(
        description="Inbound messages newer than the newest message sent to this chat (a reply marks it read) "
                    "and than the newest one marked read (POST …/chats/read)"
    )
    # Absent (not null) when unknown, so every answer without a name reads exactly as before.
    push_name: str | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="Direct chats: the name the contact set on WhatsApp, from their newest message carrying one "
        "among those the listing reads; absent when none did (groups: absent)",
    )

    @classmethod
    def from_summary(cls, summary: ConversationSummary) -> Conversation:
        return cls(
            chat_id=summary.chat_id,
            chat_type=summary.chat_type or "direct",
            last_message=LastMessage.from_record(summary.last_message),
            unread_count=summary.unread_count,
            push_name=summary.push_name,
        )


class ConversationPage(BaseModel):
    conversations: list[Conversation]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
