"""Messages and conversations as history shows them."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from zapgate_core.contract.common import (
    InboundMessageType,
)
from zapgate_core.domain.message_kinds import MEDIA_KINDS
from zapgate_public_api.models.base import Direction


class MessageLocation(BaseModel):
    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None

    @field_validator("latitude", "longitude", mode="before")
    @classmethod
    def _decimal_text(cls, value: Any) -> Any:
        # Stored as decimal text (DynamoDB takes no floats); anything unreadable is no coordinate.
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return number if number == number and abs(number) != float("inf") else None


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


def _kind(item: dict[str, Any]) -> str:
    explicit = item.get("message_type") or item.get("type")  # inbound: message_type; outbound: type
    if explicit in get_args(InboundMessageType):
        return str(explicit)
    return str(item["media_type"]) if item.get("media_type") in MEDIA_KINDS else "text"


def _typed(model: type[BaseModel], value: Any) -> BaseModel | None:
    if not isinstance(value, dict):
        return None
    return model.model_validate({name: value.get(name) for name in model.model_fields if value.get(name) is not None})


class Message(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    direction: Direction
    status: str = Field(description="queued | claimed | sent | failed (outbound), received (inbound)")
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

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Message:
        return cls.model_validate(
            {
                **{name: item.get(name) for name in cls.model_fields if name != "from_" and name not in _TYPED},
                "from": item.get("from"),
                "status": item.get("state"),
                "chat_id": item.get("chat_id_norm"),
                "type": _kind(item),
                **{name: _typed(model, item.get(name)) for name, model in _TYPED.items()},
            }
        )


_TYPED: dict[str, type[BaseModel]] = {
    "location": MessageLocation, "contact": MessageContact, "reaction": MessageReaction, "poll": MessagePoll,
    "poll_vote": MessagePollVote, "selection": MessageSelection,
}  # fmt: skip


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

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> LastMessage:
        return cls.model_validate(
            {**{name: item.get(name) for name in cls.model_fields if name != "from_"}, "from": item.get("from")}
        )


class Conversation(BaseModel):
    chat_id: str
    chat_type: str = Field(description="direct | group")
    last_message: LastMessage
    unread_count: int = Field(
        description="Inbound messages newer than the newest message sent to this chat (a reply marks it read)"
    )

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Conversation:
        return cls(
            chat_id=entry["chat_id"],
            chat_type=entry["chat_type"],
            last_message=LastMessage.from_item(entry["last_message"]),
            unread_count=entry["unread_count"],
        )


class ConversationPage(BaseModel):
    conversations: list[Conversation]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
