"""The worker-proxy contract's request and response bodies.

Both sides import these: the control plane validates requests and builds responses with
them, the sidecar builds requests and parses responses with them. Inputs accept every alias
the existing Node worker sends or reads (camelCase `instanceId`/`messageId`, `chat_id` for
`chat_id_norm`, `lock_acquired`/`owner`/`token` in lock answers); outputs use primary names,
which `dump_wire` renders with the aliases the Node worker expects.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from zapgate_core.contract.base import ContractModel
from zapgate_core.contract.common import (
    MAX_BODY,
    MAX_ID,
    MAX_QR_CODE,
    MAX_QUOTED_TEXT,
    InboundMessageType,
    JidType,
    MediaType,
    Status,
)
from zapgate_core.contract.message_objects import Location, Poll, PollVote, Reaction, Selection, SharedContact
from zapgate_core.contract.outbound_content import OutboundContent, omit_absent_extensions
from zapgate_core.domain.message_kinds import MEDIA_KINDS, OBJECT_OF_KIND, FileKind

__all__ = ["MAX_BODY", "MAX_ID", "ContractModel", "JidType", "MediaType", "Status"]


def _alias(primary: str, *others: str) -> Any:
    return Field(validation_alias=AliasChoices(primary, *others), serialization_alias=primary)


InstanceId = Field(
    validation_alias=AliasChoices("instanceId", "instance_id"),
    serialization_alias="instanceId",
    min_length=1,
    max_length=MAX_ID,
)
MessageId = Field(
    validation_alias=AliasChoices("messageId", "message_id"),
    serialization_alias="messageId",
    min_length=1,
    max_length=MAX_ID,
)


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


# ---------------------------------------------------------------- discovery
class WorkerSettings(ContractModel):
    model_config = ConfigDict(extra="allow")
    max_active_instances: int = Field(default=0, ge=0)
    # zapgate extension: the wss:// URL of the sidecars' push channel (docs/sidecar.md#push-channel).
    # Absent from the answer when the server has none; the Node worker ignores it.
    push_url: str | None = Field(default=None, max_length=2_000)

    @model_serializer(mode="wrap")
    def _omit_absent_push_url(self, handler: Any) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("push_url") is None:
            data.pop("push_url", None)
        return data


class EligibleInstance(ContractModel):
    id: str
    priority: int = 0
    # zapgate extension: the live lock holder, judged by the server's clock (None = free), so a
    # sidecar skips instances another sidecar runs without spending an acquire on each.
    owner: str | None = None


class EligibleInstances(ContractModel):
    instances: list[EligibleInstance] = _alias("instances", "data")
    # zapgate extension: the live sidecars (their instance_owner), answered only to a sidecar that
    # announced itself (`?instance_owner=…&announce=true`), so one that holds no lock yet still
    # counts in everyone's fair share. Absent otherwise: the Node worker's answer is unchanged.
    sidecars: list[str] | None = None
    # zapgate extension: answered only to a caller that pages (`?paged=true`, or `cursor`), and only while
    # more eligible instances follow; pass it back as `cursor` for the next page. Absent for the Node worker.
    next_cursor: str | None = None

    @model_serializer(mode="wrap")
    def _omit_absent_extensions(self, handler: Any) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for extension in ("sidecars", "next_cursor"):
                if data.get(extension) is None:
                    data.pop(extension, None)
        return data


# ---------------------------------------------------------------- locks
class LockAcquireRequest(ContractModel):
    instance_id: str = InstanceId
    instance_owner: str = Field(min_length=1, max_length=MAX_ID)
    ttl_ms: int = Field(default=30_000, ge=1_000, le=3_600_000)


class LockRenewRequest(LockAcquireRequest):
    lock_token: str | None = Field(default=None, max_length=MAX_ID)


class LockReleaseRequest(ContractModel):
    instance_id: str = InstanceId
    instance_owner: str = Field(min_length=1, max_length=MAX_ID)
    lock_token: str | None = Field(default=None, max_length=MAX_ID)


class LockResponse(ContractModel):
    acquired: bool = _alias("acquired", "lock_acquired")
    instance_owner: str | None = _alias("instance_owner", "owner")
    lock_token: str | None = _alias("lock_token", "token")
    expires_at: str | None = None
    fence: int | None = None


class LockReleaseResponse(ContractModel):
    released: bool


# ---------------------------------------------------------------- status
class UpdateStatusRequest(ContractModel):
    instance_id: str = InstanceId
    status: Status
    qr_code: str | None = Field(default=None, max_length=MAX_QR_CODE)
    pairing_code: str | None = Field(default=None, max_length=32)
    jid: str | None = Field(default=None, max_length=MAX_ID)
    push_name: str | None = Field(default=None, max_length=MAX_ID)
    reason: str | None = Field(default=None, max_length=500)
    lock_token: str | None = Field(default=None, max_length=MAX_ID)

    @field_validator("status", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("qr_code")
    @classmethod
    def _data_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("data:image/"):
            raise ValueError("qr_code must be an image data URL (data:image/png;base64,...)")
        return value


class OkResponse(ContractModel):
    ok: bool = True


# ---------------------------------------------------------------- outbound queue
# The content of a queued message is the one outbound content model (contract/outbound_content.py); the
# objects it carries (location, contact, reaction, poll, quote) are the inbound ones (contract/message_objects.py).
class QueuedMessage(OutboundContent):
    # The sidecar's parse strips strings, as every contract model does (the stored content is kept as given).
    model_config = ConfigDict(str_strip_whitespace=True)

    id: str

    @model_serializer(mode="wrap")
    def _id_first(self, handler: Any) -> Any:
        # One serializer per model: this one replaces the content's, so it omits the absent extensions too.
        data = omit_absent_extensions(handler(self))
        return {"id": data.pop("id"), **data} if isinstance(data, dict) and "id" in data else data


class QueuedMessages(ContractModel):
    messages: list[QueuedMessage]


def _blank_is_none(value: str | None) -> str | None:
    # wa_message_id keys the messages' by_wa_message_id index, where DynamoDB refuses "" (a 500): blank = none.
    return value or None


class MarkSentRequest(ContractModel):
    message_id: str = MessageId
    wa_message_id: str | None = Field(default=None, max_length=MAX_ID)
    send_debug: dict[str, Any] | None = None

    _wa_message_id = field_validator("wa_message_id")(_blank_is_none)


class MarkFailedRequest(ContractModel):
    message_id: str = MessageId
    error: str = Field(default="unknown", max_length=2_000)
    send_debug: dict[str, Any] | None = None


class MarkResponse(ContractModel):
    id: str
    status: str


# ---------------------------------------------------------------- inbound
class ReceiptReport(ContractModel):
    wa_message_id: str = Field(min_length=1, max_length=MAX_ID)
    kind: str = Field(min_length=1, max_length=40, description='"delivered", "read", "played", ... (whatsmeow names)')
    timestamp: int | None = None


class ReceiptsRequest(ContractModel):
    """zapgate extension: delivery/read receipts for messages this instance sent."""

    instance_id: str = InstanceId
    receipts: list[ReceiptReport] = Field(min_length=1, max_length=500)


class ReceiptsResponse(ContractModel):
    updated: int


# message_type → the object a typed inbound message carries (text and media carry none).
INBOUND_OBJECTS = OBJECT_OF_KIND
_INBOUND_EXTENSIONS = (
    "message_type", "quoted_wa_message_id", "quoted_text", "location", "contact", "reaction", "poll", "poll_vote",
    "selection",
)  # fmt: skip


class InboundMessage(ContractModel):
    instance_id: str = InstanceId
    from_: str = Field(alias="from", min_length=1, max_length=MAX_ID)
    to: str | None = Field(default=None, max_length=MAX_ID)
    body: str = Field(default="", max_length=MAX_BODY)
    wa_message_id: str | None = Field(default=None, max_length=MAX_ID)
    from_me: bool = False
    chat_id_norm: str = Field(
        validation_alias=AliasChoices("chat_id_norm", "chat_id"), min_length=1, max_length=MAX_ID
    )
    chat_type: Literal["group", "direct"] | None = None
    sender_jid_raw: str | None = Field(default=None, max_length=MAX_ID)
    sender_pn: str | None = Field(default=None, max_length=MAX_ID)
    sender_contact_id: str | None = Field(default=None, max_length=MAX_ID)
    push_name: str | None = Field(default=None, max_length=MAX_ID)
    timestamp: int | float | str | None = None
    # Not "sticker": a received sticker is reported as an image (inbound mapping), as before issue 13.
    media_type: FileKind | None = None
    media_url: str | None = Field(default=None, max_length=4_096)
    mime_type: str | None = Field(default=None, max_length=MAX_ID)
    file_name: str | None = Field(default=None, max_length=500)
    # WhatsApp's FileLength is a uint64; an unbounded int would overflow DynamoDB's 38-digit numbers (a 500).
    file_size: int | None = Field(default=None, ge=0, le=2**64 - 1)
    # zapgate extensions (optional and additive: the Node worker sends none of them, and its bodies are
    # stored exactly as before). What kind of message this is, the message it quotes, and one small
    # object for the typed kinds (INBOUND_OBJECTS); `body` keeps a plain-text rendering.
    message_type: InboundMessageType | None = Field(
        default=None,
        description="text | image | ... | poll_choice | buttons_response | list_response; absent: from media_type",
    )
    quoted_wa_message_id: str | None = Field(default=None, max_length=MAX_ID)
    quoted_text: str | None = Field(default=None, max_length=MAX_QUOTED_TEXT)
    location: Location | None = None
    contact: SharedContact | None = None
    reaction: Reaction | None = Field(default=None, description="the reacted-to message; emoji \"\" = removed")
    poll: Poll | None = None
    poll_vote: PollVote | None = Field(default=None, description="poll_choice: a vote on a poll")
    selection: Selection | None = Field(default=None, description="buttons_response / list_response")

    _wa_message_id = field_validator("wa_message_id")(_blank_is_none)
    _quoted_wa_message_id = field_validator("quoted_wa_message_id")(_blank_is_none)
    _quoted_text = field_validator("quoted_text")(_blank_is_none)

    @field_validator("body", mode="before")
    @classmethod
    def _none_body(cls, value: Any) -> Any:
        return "" if value is None else value

    @model_validator(mode="after")
    def _typed_content(self) -> InboundMessage:
        kind = self.message_type
        carried = [name for name in ("location", "contact", "reaction", "poll", "poll_vote", "selection")
                   if getattr(self, name) is not None]
        expected = INBOUND_OBJECTS.get(kind or "")
        if expected is not None and carried != [expected]:
            raise ValueError(f"message_type {kind} needs {expected} (and no other typed object)")
        if expected is None and carried:
            kinds = " or ".join(k for k, v in INBOUND_OBJECTS.items() if v == carried[0])
            raise ValueError(f"{carried[0]} needs message_type {kinds}")
        if kind in MEDIA_KINDS and self.media_type != kind:
            raise ValueError(f"message_type {kind} needs media_type {kind}")
        if kind in ("text", *INBOUND_OBJECTS) and self.media_type is not None:
            raise ValueError(f"message_type {kind} takes no media_type")
        return self

    @model_serializer(mode="wrap")
    def _omit_absent_extensions(self, handler: Any) -> Any:
        # A plain message keeps the exact wire shape the contract has always had.
        data = handler(self)
        if isinstance(data, dict):
            for name in _INBOUND_EXTENSIONS:
                if data.get(name) is None:
                    data.pop(name, None)
        return data


class InboundResponse(ContractModel):
    id: str
    duplicate: bool
    # zapgate extension: true when dropped unstored (a group the instance does not monitor, with
    # ingest_monitored_groups_only set); absent otherwise.
    ignored: bool | None = None


# ---------------------------------------------------------------- contacts
class ContactResolveRequest(ContractModel):
    instance_id: str = InstanceId
    jid: str = Field(min_length=3, max_length=MAX_ID)
    jid_type: JidType | None = None
    push_name: str | None = Field(default=None, max_length=MAX_ID)


class ContactResolveResponse(ContractModel):
    contact_id: str
    operation: Literal["created", "updated", "already_exists"]


class PrimaryJidResponse(ContractModel):
    jid_pn: str | None
    jid: str | None


class SessionRefreshRequest(ContractModel):
    instance_id: str = InstanceId
    jid: str | None = Field(default=None, max_length=MAX_ID)
    trigger: str | None = Field(default=None, max_length=200)


# ---------------------------------------------------------------- media
class UploadMediaRequest(ContractModel):
    instance_id: str = InstanceId
    message_id: str | None = Field(
        default=None, validation_alias=AliasChoices("messageId", "message_id"), serialization_alias="messageId"
    )
    # Sent on as S3's Content-Type header, where control characters (CR/LF) cannot travel.
    mime_type: str | None = Field(default=None, max_length=MAX_ID, pattern=r"^[^\x00-\x1f\x7f]*$")
    file_name: str | None = Field(default=None, max_length=500)
    bytes_base64: str = Field(min_length=1)


class UploadMediaResponse(ContractModel):
    media_url: str
    sha256: str
    size: int


# ---------------------------------------------------------------- heartbeat (zapgate extension)
# One request per sidecar renews every lock it holds and waits (long-poll) until one of those
# instances has outbound work, so an idle fleet costs a few requests per hour and new
# messages are picked up within milliseconds. Servers without it answer 404; the sidecar
# then falls back to per-lock renew and queued-messages polling, as the Node worker does.
MAX_HEARTBEAT_WAIT_MS = 20_000
# One heartbeat renews every lock a sidecar holds and long-polls for all of them, so it lists them all:
# 2,000 covers a sidecar of 1,000 instances twice over (was 500). The server renews them one conditional
# write at a time within the wait (services/heartbeat.py), ~2,000 x a few ms on DynamoDB < 20 s.
MAX_HEARTBEAT_LOCKS = 2_000
COMMAND_TYPES = ("refresh_qr", "logout", "disconnect", "restart", "pairing_code", "fetch_groups")
MAX_GROUPS = 5_000


class HeldLock(ContractModel):
    instance_id: str = InstanceId
    lock_token: str | None = Field(default=None, max_length=MAX_ID)


class HeartbeatRequest(ContractModel):
    instance_owner: str = Field(min_length=1, max_length=MAX_ID)
    ttl_ms: int = Field(default=30_000, ge=1_000, le=3_600_000)
    locks: list[HeldLock] = Field(default_factory=list, max_length=MAX_HEARTBEAT_LOCKS)
    wait_ms: int = Field(default=0, ge=0, le=MAX_HEARTBEAT_WAIT_MS)
    # False on an early wake-up (work arrived soon after a renewal): skip the N renewal writes
    # and only wait; `locks` then just says which instances to watch.
    renew: bool = True


class LockStatus(LockResponse):
    instance_id: str = InstanceId
    # zapgate extension (issue 13): the instance's settings_version as the renewal left it; a holder whose
    # settings are older fetches them again (contract/instance_settings.py). None on a lost lock or other servers.
    settings_version: int | None = None


class PendingCommand(ContractModel):
    """zapgate extension: an instance command (public API) for the sidecar holding the lock.

    `type` stays a plain string so a sidecar parses commands newer than itself and acks them
    as failed instead of rejecting the whole heartbeat answer.
    """

    instance_id: str = InstanceId
    id: str = Field(min_length=1, max_length=MAX_ID)
    type: str = Field(min_length=1, max_length=40, description=" | ".join(COMMAND_TYPES))
    phone: str | None = Field(default=None, max_length=20, description="digits; pairing_code only")


class HeartbeatResponse(ContractModel):
    locks: list[LockStatus]
    ready: list[str] = Field(description="instances among `locks` with outbound messages waiting")
    # zapgate extension (optional both ways): pending commands of the instances renewed in this call, and of
    # those whose command doorbell rang while it waited (the caller's lock verified); an id may repeat in
    # later answers until its ack lands.
    commands: list[PendingCommand] = Field(default_factory=list)


# ---------------------------------------------------------------- commands and groups (zapgate extension)
class CommandAckRequest(ContractModel):
    instance_id: str = InstanceId
    id: str = Field(min_length=1, max_length=MAX_ID)
    result: Literal["done", "failed"]
    error: str | None = Field(default=None, max_length=500)


class CommandAckResponse(ContractModel):
    removed: bool = Field(description="false when the command was already acked or had expired")


class GroupReport(ContractModel):
    jid: str = Field(min_length=6, max_length=MAX_ID, pattern=r"^[^@\s]+@g\.us$")
    name: str = Field(default="", max_length=500)

    @field_validator("name", mode="before")
    @classmethod
    def _none_name(cls, value: Any) -> Any:
        return "" if value is None else value


class GroupsRequest(ContractModel):
    instance_id: str = InstanceId
    groups: list[GroupReport] = Field(max_length=MAX_GROUPS)


class GroupsResponse(ContractModel):
    count: int
    created: int
    renamed: int
