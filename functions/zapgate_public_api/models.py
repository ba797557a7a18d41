"""Request and response bodies of the public API (/v1).

Requests forbid unknown fields: a misspelt `enabeld` or `queueIfOffline` must fail loudly
rather than be silently ignored. Booleans and integers are strict, so `"false"` or `1` are
refused instead of being guessed at. Responses are built from the stored items with
`from_item`, which picks only the fields the API promises (internal keys such as
`created_sk`, lock fields or `send_debug` never leave the control plane).
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

from zapgate_control.adapters.dynamodb.instances import PRIORITY_LIMIT
from zapgate_core.contract.common import MAX_BODY, MAX_ID, MediaType, Status

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
class SendMessage(RequestModel):
    to: str = Field(min_length=1, max_length=MAX_ID, description="Phone number, group id or full JID")
    body: str | None = Field(default=None, max_length=MAX_BODY)
    media_url: str | None = Field(default=None, max_length=MEDIA_URL_MAX)
    media_type: MediaType | None = None
    mime_type: str | None = Field(default=None, max_length=MAX_ID)
    file_name: str | None = Field(default=None, max_length=FILE_NAME_MAX)
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

    @model_validator(mode="after")
    def _content(self) -> SendMessage:
        if self.body is None and self.media_url is None:
            raise ValueError("give a body or a media_url")
        if (self.media_url is None) != (self.media_type is None):
            raise ValueError("media_url and media_type go together")
        return self

    def content(self) -> dict[str, Any]:
        return self.model_dump(include={"to", "body", "media_url", "media_type", "mime_type", "file_name"})


class MessageAccepted(BaseModel):
    id: str
    status: str = Field(default="queued", description='"queued"; a replayed Idempotency-Key answers the current status')


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

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Message:
        return cls.model_validate(
            {
                **{name: item.get(name) for name in cls.model_fields if name != "from_"},
                "from": item.get("from"),
                "status": item.get("state"),
                "chat_id": item.get("chat_id_norm"),
            }
        )


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
