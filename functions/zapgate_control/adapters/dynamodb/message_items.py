"""MessagesTable items <-> the message records of ports/messages.py.

What only storage knows lives here: the field names (`state`, `chat_id_norm`, `from`), the key encodings
("<ms>#<id>" sort keys), coordinates kept as decimal text (DynamoDB takes no floats, and a Decimal of a
float is not exact), and the shapes earlier versions wrote, which stay readable and are written the same.
"""

from __future__ import annotations

import json
from typing import Any

from zapgate_control.ports.messages import (
    ChangeMarks,
    InboundContent,
    MessageRecord,
    OutboundMessage,
    ReceivedMessage,
)
from zapgate_core.contract.message_objects import (
    ContactCard,
    Location,
    Poll,
    PollVote,
    Reaction,
    Selection,
    SharedContact,
)
from zapgate_core.contract.outbound_content import OutboundContent
from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.outbound import MessageState

SEND_DEBUG_LIMIT = 4_000  # characters of JSON kept from send_debug

_PLAIN_OUTBOUND = ("to", "body", "media_url", "media_type", "mime_type", "file_name")
_INBOUND_FIELDS = (
    "to", "body", "wa_message_id", "from_me", "sender_jid_raw", "sender_pn", "sender_contact_id", "push_name",
    "wa_timestamp", "media_type", "media_url", "media_sha256", "mime_type", "file_name", "file_size", "message_type",
    "quoted_wa_message_id", "quoted_text",
)  # fmt: skip


def sort_key(ms: int, message_id: str) -> str:
    """timeline_sk / queue_sk: arrival order, ties broken by id."""
    return f"{ms:013d}#{message_id}"


def ms_of(sort_key_value: Any) -> int:
    return int(str(sort_key_value).split("#", 1)[0])


def bounded_debug(send_debug: JsonObject | None) -> str | None:
    if send_debug is None:
        return None
    return json.dumps(send_debug, default=str, separators=(",", ":"))[:SEND_DEBUG_LIMIT]


# ---------------------------------------------------------------- outbound
def outbound_fields(content: OutboundContent) -> dict[str, Any]:
    """The item's content attributes, in the shape the queue has always stored (nested None kept)."""
    fields: dict[str, Any] = {name: getattr(content, name) for name in _PLAIN_OUTBOUND}
    if content.type is not None:
        fields["type"] = content.type
    if content.location is not None:
        fields["location"] = _location_item(content.location, keep_none=True)
    if content.contact is not None:
        fields["contact"] = {"display_name": content.contact.display_name, "vcard": content.contact.vcard}
    if content.reaction is not None:
        fields["reaction"] = {**content.reaction.model_dump(), "message_id": content.reaction.message_id}
    if content.poll is not None:
        fields["poll"] = content.poll.model_dump()
    if content.reply_to is not None:
        fields["reply_to"] = {**content.reply_to.model_dump(), "message_id": content.reply_to.message_id}
    if content.voice_note:
        fields["voice_note"] = True
    if content.link_preview is not None:
        fields["link_preview"] = content.link_preview.model_dump()
    if content.mentions:
        fields["mentions"] = list(content.mentions)
    return fields


def typed_outbound_fields(content: InboundContent) -> dict[str, Any]:
    """A message this account sent from the phone (reported in the inbound shape), stored like an API send of the
    same kind: its location, contact card, reaction or poll in the outbound item's attributes, so history and the
    events show it typed, as they show ours. Nothing for text and media (their fields are the plain ones)."""
    kind = content.message_type
    typed = {"location": content.location, "reaction": content.reaction, "poll": content.poll,
             "contact": ContactCard(display_name=content.contact.display_name, vcard=content.contact.vcard)
             if content.contact is not None else None}
    if kind not in typed or typed[kind] is None:
        return {}
    fields = outbound_fields(OutboundContent.model_validate({"to": content.chat_id, "type": kind, kind: typed[kind]}))
    return {name: value for name, value in fields.items() if name not in _PLAIN_OUTBOUND}


def outbound_record(item: dict[str, Any]) -> OutboundMessage:
    content = OutboundContent.model_validate(
        {
            **{name: item.get(name) for name in (*_PLAIN_OUTBOUND, "type", "contact", "reaction", "poll", "reply_to")},
            "to": item.get("to") or "",
            "location": _location(item.get("location")),
            "voice_note": item.get("voice_note") or None,
            "link_preview": item.get("link_preview") or None,
            "mentions": item.get("mentions") or None,
        }
    )
    lease = item.get("lease_expires_at")
    return OutboundMessage(
        id=str(item["id"]),
        instance_id=str(item["instance_id"]),
        tenant_id=str(item.get("tenant_id") or ""),
        content=content,
        state=MessageState(item["state"]),
        created_at=str(item.get("created_at") or ""),
        stored_ms=ms_of(item.get("timeline_sk") or 0),
        claim_count=int(item.get("claim_count") or 0),
        lease_expires_ms=int(lease) if lease is not None else None,
        wa_message_id=item.get("wa_message_id"),
        error=item.get("error"),
        finished_at=item.get("finished_at"),
        request_hash=item.get("request_hash"),
        changes=change_marks(item),
        automation_id=item.get("automation_id"),
        sent_by_ai=bool(item.get("sent_by_ai") or False),
        source=str(item.get("source") or "api"),
        history=bool(item.get("history") or False),
    )


# ---------------------------------------------------------------- inbound
def inbound_fields(content: InboundContent) -> dict[str, Any]:
    fields: dict[str, Any] = {name: getattr(content, name) for name in _INBOUND_FIELDS}
    fields.update({"from": content.from_, "chat_id_norm": content.chat_id, "chat_type": content.chat_type})
    if content.location is not None:
        fields["location"] = _location_item(content.location, keep_none=False)
    for name in ("contact", "reaction", "poll", "poll_vote", "selection"):
        value = getattr(content, name)
        if value is not None:
            fields[name] = value.model_dump(mode="json", exclude_none=True)
    return fields


def inbound_record(item: dict[str, Any]) -> ReceivedMessage:
    stored: dict[str, Any] = {name: item[name] for name in _INBOUND_FIELDS if item.get(name) is not None}
    content = InboundContent(
        from_=str(item.get("from") or ""),
        chat_id=str(item.get("chat_id_norm") or ""),
        chat_type=str(item.get("chat_type") or ""),
        **stored,
        location=_location(item.get("location")),
        contact=_object(SharedContact, item.get("contact")),
        reaction=_object(Reaction, item.get("reaction")),
        poll=_object(Poll, item.get("poll")),
        poll_vote=_object(PollVote, item.get("poll_vote")),
        selection=_object(Selection, item.get("selection")),
    )
    return ReceivedMessage(
        id=str(item["id"]),
        instance_id=str(item["instance_id"]),
        tenant_id=item.get("tenant_id"),
        content=content,
        created_at=str(item.get("created_at") or ""),
        stored_ms=ms_of(item.get("timeline_sk") or 0),
        parent_id=item.get("parent_id"),
        changes=change_marks(item),
        history=bool(item.get("history") or False),
    )


def change_marks(item: dict[str, Any]) -> ChangeMarks | None:
    """Edits, a revoke and a read mark written by message_changes.py; None for a message never changed."""
    if not item.get("edit_key") and not item.get("revoked_at") and not item.get("read_at"):
        return None
    return ChangeMarks(
        edited_at=item.get("edited_at"),
        edit_count=int(item.get("edit_count") or 0),
        original_body=item.get("original_body"),
        revoked_at=item.get("revoked_at"),
        revoked_by=item.get("revoked_by"),
        read_at=item.get("read_at"),
    )


def record_of(item: dict[str, Any] | None) -> MessageRecord | None:
    """A stored message as its record; None for what is no message (no item, a command doorbell)."""
    if not item:
        return None
    if item.get("direction") == "outbound":
        return outbound_record(item)
    if item.get("direction") == "inbound":
        return inbound_record(item)
    return None


# ---------------------------------------------------------------- objects
def _location_item(location: Location, keep_none: bool) -> dict[str, Any]:
    item = {"latitude": repr(location.latitude), "longitude": repr(location.longitude),
            "name": location.name, "address": location.address}
    return item if keep_none else {k: v for k, v in item.items() if v is not None}


def _location(value: Any) -> Location | None:
    """Coordinates back from their decimal text; anything unreadable is no location."""
    if not isinstance(value, dict):
        return None
    try:
        return Location.model_validate(
            {**{k: v for k, v in value.items() if v is not None},
             "latitude": float(value.get("latitude")), "longitude": float(value.get("longitude"))}  # type: ignore[arg-type]
        )
    except (TypeError, ValueError):  # pydantic's ValidationError is a ValueError
        return None


def _object(model: Any, value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    try:
        return model.model_validate({k: v for k, v in value.items() if v is not None})
    except ValueError:
        return None
