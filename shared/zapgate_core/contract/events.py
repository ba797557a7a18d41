"""The event envelope applications receive on their webhooks, as pydantic models.

The control plane builds events as plain dicts (zapgate_core.domain.events) to keep pydantic
off its request path; these models state the same shape for documentation, for tests that
validate what the builders produce, and for Python consumers that want typed events:

    event = parse_event(request_body)   # -> MessageInboundEvent | MessageStatusEvent | InstanceStatusEvent

Live connections (the WebSocket API, docs/api.md) receive the same envelopes plus the live-only
INSTANCE_QR (a new QR / pairing code: never sent to webhooks): parse_live_event.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from zapgate_core.contract.common import InboundMessageType

MessageType = InboundMessageType
MessageStatus = Literal["sent", "delivered", "read", "failed"]
InstanceStatus = Literal["CONNECTING", "CONNECTED", "DISCONNECTED"]


class EventModel(BaseModel):
    # Consumers should accept fields added later; the builders never emit unknown ones.
    model_config = ConfigDict(extra="allow")


class Contact(EventModel):
    phone: str | None = Field(description="Digits of the phone number, when known (not for @lid senders)")
    name: str | None = Field(description="Display name; falls back to pushName")
    pushName: str | None = None
    jid: str | None = Field(description="WhatsApp JID of the sender (inbound) or recipient (status)")


class Media(EventModel):
    url: str | None = Field(description="Presigned URL of the stored media (expires)")
    mimeType: str | None = None
    fileName: str | None = None
    fileSize: int | None = None


class Location(EventModel):
    latitude: float | None
    longitude: float | None
    name: str | None = None
    address: str | None = None


class SharedContact(EventModel):
    displayName: str | None
    vcard: str | None
    count: int | None = Field(default=None, description="How many cards were shared at once (this is the first)")


class Reaction(EventModel):
    waMessageId: str | None = Field(description="WhatsApp id of the message reacted to")
    emoji: str = Field(description='The emoji; "" when the reaction was removed')
    fromMe: bool | None = Field(default=None, description="The reacted-to message was sent by this instance")


class Poll(EventModel):
    name: str | None
    options: list[str]
    selectableCount: int | None = Field(default=None, description="How many options a voter may pick; 0 = any")


class PollVote(EventModel):
    pollMessageId: str | None = Field(description="WhatsApp id of the poll voted on (its message.waMessageId)")
    optionHashes: list[str] = Field(
        description="SHA-256 (lowercase hex) of each chosen option's name; [] when the voter removed their vote"
    )
    options: list[str] = Field(
        description="The chosen options' names zapgate could resolve (it saw the poll); match the rest by hashing "
        "your poll's options"
    )


class Selection(EventModel):
    id: str | None = Field(description="The chosen button's or list row's id")
    text: str | None = Field(description="The text the user saw on it")


class RawKey(EventModel):
    remoteJid: str | None = Field(description="The chat")
    participant: str | None = Field(default=None, description="The sender, in groups")


class Metadata(EventModel):
    rawKey: RawKey
    truncated: bool | None = Field(default=None, description="true when message.text was cut to fit")


class InboundMessage(EventModel):
    id: str = Field(description="zapgate message id (as in /v1/instances/{id}/messages)")
    waMessageId: str | None
    type: MessageType
    text: str | None = Field(description="Text, or the media caption")
    media: Media | None
    chatId: str | None
    chatType: Literal["direct", "group"]
    timestamp: str = Field(description="WhatsApp's time for the message (ISO-8601 UTC)")
    parentId: str | None = Field(
        default=None,
        description="The message this one belongs with: text and media from the same sender in the same "
        "chat within 90 s (set on the later one)",
    )
    quotedMessageId: str | None = Field(default=None, description="WhatsApp id of the message this one replies to")
    quotedText: str | None = Field(default=None, description="The quoted message's text (cut to 1000 characters)")
    # One of these, for its type only (absent otherwise):
    location: Location | None = Field(default=None, description="type=location")
    contact: SharedContact | None = Field(default=None, description="type=contact")
    reaction: Reaction | None = Field(default=None, description="type=reaction")
    poll: Poll | None = Field(default=None, description="type=poll (a new poll; its votes are type=poll_choice)")
    pollVote: PollVote | None = Field(default=None, description="type=poll_choice (a vote; replaces the voter's last)")
    selection: Selection | None = Field(default=None, description="type=buttons_response or list_response")


class StatusMessage(EventModel):
    id: str
    waMessageId: str | None
    status: MessageStatus
    error: str | None = None
    chatId: str | None
    timestamp: str


class MessageInboundPayload(EventModel):
    contact: Contact
    message: InboundMessage
    metadata: Metadata


class MessageStatusPayload(EventModel):
    contact: Contact
    message: StatusMessage
    metadata: Metadata


class InstanceStatusPayload(EventModel):
    status: InstanceStatus
    previousStatus: InstanceStatus | None
    reason: str | None = None
    jid: str | None = Field(default=None, description="The connected account's JID (CONNECTED only)")
    phone: str | None = None
    pushName: str | None = None


class InstanceQrPayload(EventModel):
    status: InstanceStatus | None = Field(description="The instance's status (CONNECTING while pairing)")
    qr: str | None = Field(description="The QR to scan, as a PNG data URL (the same as GET /v1/instances/{id})")
    pairingCode: str | None = Field(default=None, description="Phone-number pairing code, when one was requested")
    expiresAt: str | None = Field(default=None, description="When the QR stops working, when the sidecar says")


# ---------------------------------------------------------------- issue 10 (domain/change_events.py)
class ChangedMessage(EventModel):
    id: str = Field(description="zapgate message id (as in /v1/instances/{id}/messages)")
    waMessageId: str | None
    direction: Literal["inbound", "outbound"]
    chatId: str | None
    chatType: Literal["direct", "group"]


class EditedMessage(ChangedMessage):
    text: str | None = Field(description="The text now")
    previousText: str | None = Field(description="The text this edit replaced")
    originalText: str | None = Field(description="The text the message was first stored with")
    editedAt: str
    editCount: int


class RevokedMessage(ChangedMessage):
    revokedAt: str
    revokedBy: str | None = Field(description="JID that deleted it for everyone")
    byAdmin: bool = Field(description="A group admin deleted someone else's message")


class MessageEditedPayload(EventModel):
    contact: Contact
    message: EditedMessage
    metadata: Metadata


class MessageRevokedPayload(EventModel):
    contact: Contact
    message: RevokedMessage
    metadata: Metadata


class GroupRef(EventModel):
    jid: str
    name: str | None = Field(description="The group's name as zapgate knows it, when it does")


class GroupParticipantsPayload(EventModel):
    group: GroupRef
    action: Literal["add", "remove", "promote", "demote"]
    participants: list[str]
    by: str | None = Field(description="Who did it; null when WhatsApp did not say (e.g. joined by link)")
    timestamp: str


class GroupInfoChanges(EventModel):
    name: str | None = None
    description: str | None = None
    announce: bool | None = Field(default=None, description="Only admins may send messages")
    locked: bool | None = Field(default=None, description="Only admins may edit the group's info")


class GroupUpdatedPayload(EventModel):
    group: GroupRef
    changes: GroupInfoChanges = Field(description="Only the keys that changed are present")
    previousName: str | None = None
    by: str | None
    timestamp: str


class Call(EventModel):
    id: str
    from_: str = Field(alias="from")
    video: bool
    isGroup: bool
    groupJid: str | None = None
    timestamp: str


class CallReceivedPayload(EventModel):
    contact: Contact
    call: Call
    rejected: bool = Field(description="zapgate rejected it (the instance's reject_calls setting)")
    replyMessageId: str | None = Field(description="The text queued back to the caller (reject_call_message)")


class _Envelope(EventModel):
    id: str = Field(description="Unique per event; also X-Zapgate-Event-Id. De-duplicate on it.")
    instanceId: str
    timestamp: str = Field(description="When the event happened in zapgate (ISO-8601 UTC, ms)")


class MessageInboundEvent(_Envelope):
    type: Literal["MESSAGE_INBOUND"]
    payload: MessageInboundPayload


class MessageStatusEvent(_Envelope):
    type: Literal["MESSAGE_STATUS"]
    payload: MessageStatusPayload


class InstanceStatusEvent(_Envelope):
    type: Literal["INSTANCE_STATUS"]
    payload: InstanceStatusPayload


class InstanceQrEvent(_Envelope):
    """Live connections only: QR codes are short-lived secrets and never reach webhooks."""

    type: Literal["INSTANCE_QR"]
    payload: InstanceQrPayload


class MessageEditedEvent(_Envelope):
    type: Literal["MESSAGE_EDITED"]
    payload: MessageEditedPayload


class MessageRevokedEvent(_Envelope):
    type: Literal["MESSAGE_REVOKED"]
    payload: MessageRevokedPayload


class GroupParticipantsChangedEvent(_Envelope):
    type: Literal["GROUP_PARTICIPANTS_CHANGED"]
    payload: GroupParticipantsPayload


class GroupUpdatedEvent(_Envelope):
    type: Literal["GROUP_UPDATED"]
    payload: GroupUpdatedPayload


class CallReceivedEvent(_Envelope):
    type: Literal["CALL_RECEIVED"]
    payload: CallReceivedPayload


WebhookEvent = (
    MessageInboundEvent | MessageStatusEvent | InstanceStatusEvent | MessageEditedEvent | MessageRevokedEvent
    | GroupParticipantsChangedEvent | GroupUpdatedEvent | CallReceivedEvent
)
Event = Annotated[WebhookEvent, Field(discriminator="type")]
_event_adapter: TypeAdapter[Event] = TypeAdapter(Event)
LiveEvent = Annotated[WebhookEvent | InstanceQrEvent, Field(discriminator="type")]
_live_event_adapter: TypeAdapter[LiveEvent] = TypeAdapter(LiveEvent)


def parse_event(body: str | bytes) -> WebhookEvent:
    return _event_adapter.validate_json(body)


def parse_live_event(body: str | bytes) -> WebhookEvent | InstanceQrEvent:
    return _live_event_adapter.validate_json(body)
