"""Request and response bodies of the public API (/v1).

Requests forbid unknown fields: a misspelt `enabeld` or `queueIfOffline` must fail loudly
rather than be silently ignored. Booleans and integers are strict, so `"false"` or `1` are
refused instead of being guessed at. Responses are built from the stored items with
`from_item`, which picks only the fields the API promises (internal keys such as
`created_sk`, lock fields or `send_debug` never leave the control plane).
"""

from __future__ import annotations

from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

from zapgate_control.adapters.dynamodb.instances import PRIORITY_LIMIT
from zapgate_core.contract.common import (
    MAX_BODY,
    MAX_ID,
    SEND_POLL_OPTIONS,
    InboundMessageType,
    MediaType,
    Status,
)

NAME_MAX = 100
MEDIA_URL_MAX = 4_096
FILE_NAME_MAX = 500

Direction = Literal["inbound", "outbound"]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- errors (documentation only)
class ErrorBody(BaseModel):
    code: str
    message: str
    status: Status | None = Field(
        default=None, description="Current instance status (INSTANCE_DISCONNECTED only)"
    )


class ErrorResponse(BaseModel):
    error: ErrorBody


# ---------------------------------------------------------------- instances
def _name(value: str) -> str:
    # Strip before the length check so "   " is refused instead of stored as a blank name.
    stripped = value.strip()
    if not stripped:
        raise ValueError("name must not be blank")
    return stripped


class InstanceCreate(RequestModel):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    priority: StrictInt = Field(default=0, ge=-PRIORITY_LIMIT, le=PRIORITY_LIMIT)
    enabled: StrictBool = True

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        return _name(value)


class InstancePatch(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    priority: StrictInt | None = Field(default=None, ge=-PRIORITY_LIMIT, le=PRIORITY_LIMIT)
    enabled: StrictBool | None = None
    ingest_monitored_groups_only: StrictBool | None = Field(
        default=None, description="Store group messages only from groups with monitor=true"
    )

    @model_validator(mode="before")
    @classmethod
    def _something_to_change(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if not data:
                raise ValueError("give at least one of name, priority, enabled, ingest_monitored_groups_only")
            nulls = sorted(key for key, value in data.items() if value is None)
            if nulls:
                # null would erase a field the instance cannot do without.
                raise ValueError(f"{', '.join(nulls)} cannot be null")
        return data

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str | None) -> str | None:
        return None if value is None else _name(value)

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class Instance(BaseModel):
    id: str
    name: str
    priority: int
    enabled: bool
    status: str = Field(description="CONNECTING | CONNECTED | DISCONNECTED")
    qr_code: str | None = Field(
        default=None, description="PNG data URL while the instance waits to be paired"
    )
    pairing_code: str | None = None
    wa_jid: str | None = None
    push_name: str | None = None
    ingest_monitored_groups_only: bool = False
    created_at: str
    updated_at: str

    @field_validator("ingest_monitored_groups_only", mode="before")
    @classmethod
    def _unset_is_false(cls, value: Any) -> Any:
        return False if value is None else value

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Instance:
        return cls.model_validate({name: item.get(name) for name in cls.model_fields})


class InstancePage(BaseModel):
    instances: list[Instance]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


# ---------------------------------------------------------------- messages
MessageType = Literal["text", "image", "video", "audio", "document", "location", "contact", "reaction", "poll"]
TYPED_KINDS = ("location", "contact", "reaction", "poll")  # each carries its one object, and no body or media
MEDIA_TYPES = ("image", "video", "audio", "document")
LABEL_MAX = 1_000
VCARD_MAX = 10_000
EMOJI_MAX = 16  # code points: one emoji with skin tone / ZWJ sequence
POLL_NAME_MAX = 255  # WhatsApp's limits on a poll's question and on each option
POLL_OPTION_MAX = 100


class Location(RequestModel):
    latitude: float = Field(ge=-90, le=90, description="Degrees, -90..90")
    longitude: float = Field(ge=-180, le=180, description="Degrees, -180..180")
    name: str | None = Field(default=None, max_length=LABEL_MAX)
    address: str | None = Field(default=None, max_length=LABEL_MAX)


class Contact(RequestModel):
    display_name: str = Field(min_length=1, max_length=NAME_MAX)
    vcard: str | None = Field(default=None, max_length=VCARD_MAX, description="A full vCard; or give phone")
    phone: str | None = Field(default=None, max_length=40, description="Digits (with optional +): builds a vCard")

    @field_validator("display_name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        return _name(value)

    @model_validator(mode="after")
    def _vcard_or_phone(self) -> Contact:
        if (self.vcard is None) == (self.phone is None):
            raise ValueError("contact needs exactly one of vcard or phone")
        if self.vcard is not None and "BEGIN:VCARD" not in self.vcard.upper():
            raise ValueError("contact.vcard must be a vCard (BEGIN:VCARD ... END:VCARD)")
        if self.phone is not None:
            digits = self.phone.strip().removeprefix("+")
            if not digits.isdigit() or not 5 <= len(digits) <= 20:
                raise ValueError("contact.phone must be 5 to 20 digits, optionally after +")
        return self

    def built_vcard(self) -> str:
        if self.vcard is not None:
            return self.vcard
        digits = (self.phone or "").strip().removeprefix("+")
        name = self.display_name.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        return (
            "BEGIN:VCARD\nVERSION:3.0\n"
            f"FN:{name}\n"
            f"TEL;type=CELL;type=VOICE;waid={digits}:+{digits}\n"
            "END:VCARD"
        )


class Reaction(RequestModel):
    message_id: str = Field(
        min_length=1, max_length=MAX_ID, description="Our message id, or a received message's WhatsApp id",
    )
    emoji: str = Field(max_length=EMOJI_MAX, description='One emoji; "" removes the reaction')

    @field_validator("emoji")
    @classmethod
    def _one_emoji(cls, value: str) -> str:
        if value and (value.strip() != value or any(ch.isalnum() for ch in value)):
            raise ValueError('emoji must be a single emoji, or "" to remove the reaction')
        return value


class Poll(RequestModel):
    name: str = Field(min_length=1, max_length=POLL_NAME_MAX, description="The question")
    options: list[str] = Field(
        min_length=2, max_length=SEND_POLL_OPTIONS, description=f"2 to {SEND_POLL_OPTIONS} distinct options"
    )
    selectable_count: StrictInt = Field(
        default=1, ge=0, description="How many options a voter may pick, up to all of them; 0 = any number"
    )

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        return _name(value)

    @field_validator("options")
    @classmethod
    def _options(cls, value: list[str]) -> list[str]:
        # Stripped as the worker-proxy contract strips them, so what is stored is what voters see; votes name
        # options by the hash of their text, so two options with the same text could never be told apart.
        options = [option.strip() for option in value]
        if any(not option or len(option) > POLL_OPTION_MAX for option in options):
            raise ValueError(f"each poll option must be 1 to {POLL_OPTION_MAX} characters")
        if len(set(options)) != len(options):
            raise ValueError("poll options must be distinct")
        return options

    @model_validator(mode="after")
    def _selectable(self) -> Poll:
        if self.selectable_count > len(self.options):
            raise ValueError("poll.selectable_count cannot exceed the number of options (0 = any number)")
        return self


class SendMessage(RequestModel):
    type: MessageType = Field(
        default="text", description="text (default), image/video/audio/document, location, contact, reaction, poll"
    )
    to: str = Field(min_length=1, max_length=MAX_ID, description="Phone number, group id or full JID")
    body: str | None = Field(default=None, max_length=MAX_BODY)
    media_url: str | None = Field(default=None, max_length=MEDIA_URL_MAX)
    media_type: MediaType | None = None
    mime_type: str | None = Field(default=None, max_length=MAX_ID)
    file_name: str | None = Field(default=None, max_length=FILE_NAME_MAX)
    location: Location | None = None
    contact: Contact | None = None
    reaction: Reaction | None = None
    poll: Poll | None = None
    reply_to: str | None = Field(
        default=None, min_length=1, max_length=MAX_ID, description="Our id of the message to quote (text and media)"
    )
    voice_note: StrictBool = Field(
        default=False,
        description="type=audio only: send as a voice note (push-to-talk) instead of an audio file; Ogg/Opus",
    )
    queue_if_offline: StrictBool = Field(
        default=False, description="Queue even when the instance is not CONNECTED (otherwise 409)"
    )

    @field_validator("body")
    @classmethod
    def _blank_body_is_none(cls, value: str | None) -> str | None:
        # A blank caption is no body: it must not satisfy "body or media_url".
        return value if value and value.strip() else None

    @field_validator("media_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError("media_url must be an http(s) URL")
        return value

    @model_validator(mode="before")
    @classmethod
    def _media_type_implies_type(cls, data: Any) -> Any:
        # Older clients send media without `type`: the media_type says what it is.
        if isinstance(data, dict) and "type" not in data and data.get("media_type") in MEDIA_TYPES:
            return {**data, "type": data["media_type"]}
        return data

    @model_validator(mode="after")
    def _content(self) -> SendMessage:
        kind = self.type
        if self.voice_note and kind != "audio":
            raise ValueError("voice_note is only for type=audio")
        if self.voice_note and self.mime_type is not None and self.mime_type.split(";")[0].strip() != "audio/ogg":
            raise ValueError("a voice note is Opus in Ogg: mime_type must be audio/ogg")
        for name in TYPED_KINDS:
            if getattr(self, name) is not None and kind != name:
                raise ValueError(f"{name} is only for type={name}")
        if kind in TYPED_KINDS:
            if getattr(self, kind) is None:
                raise ValueError(f"type={kind} needs a {kind} object")
            extra = [n for n in ("body", "media_url", "media_type", "mime_type", "file_name", "reply_to")
                     if getattr(self, n) is not None]
            if extra:
                raise ValueError(f"type={kind} takes no {', '.join(extra)}")
            return self
        if kind == "text":
            if self.media_url is not None or self.media_type is not None:
                raise ValueError("media_url needs type (or media_type) image, video, audio or document")
            if self.body is None:
                raise ValueError("type=text needs a body")
            return self
        if self.media_url is None:
            raise ValueError(f"type={kind} needs a media_url")
        if self.media_type is None:
            self.media_type = kind
        elif self.media_type != kind:
            raise ValueError("media_type and type disagree")
        return self

    def content(self) -> dict[str, Any]:
        content = self.model_dump(include={"to", "body", "media_url", "media_type", "mime_type", "file_name"})
        if self.type in TYPED_KINDS or self.reply_to is not None:
            content["type"] = self.type
        if self.location is not None:
            # DynamoDB takes no floats: the coordinates are stored as their decimal text.
            content["location"] = {
                "latitude": repr(self.location.latitude),
                "longitude": repr(self.location.longitude),
                "name": self.location.name,
                "address": self.location.address,
            }
        if self.contact is not None:
            content["contact"] = {"display_name": self.contact.display_name, "vcard": self.contact.built_vcard()}
        if self.reaction is not None:
            content["reaction"] = {"message_id": self.reaction.message_id, "emoji": self.reaction.emoji}
        if self.poll is not None:
            content["poll"] = self.poll.model_dump()
        if self.reply_to is not None:
            content["reply_to"] = {"message_id": self.reply_to}
        if self.voice_note:
            content["voice_note"] = True
        return content


class MessageAccepted(BaseModel):
    id: str
    status: str = Field(default="queued", description='"queued"; a replayed Idempotency-Key answers the current status')


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
    return str(item["media_type"]) if item.get("media_type") in MEDIA_TYPES else "text"


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
