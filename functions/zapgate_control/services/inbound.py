"""Inbound messages from sidecars: validated, stored once per (instance, WhatsApp id).

The MESSAGE_INBOUND event is not published here: the stored item's INSERT on MessagesTable's stream
is the outbox (EventsPublisherFunction, docs/events.md#publishing-guarantees), so a crash after the
write cannot lose it and a sidecar's retry (a duplicate, no write) reports nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.contacts import ContactStore, GroupStore
from zapgate_control.ports.instances import InstanceStore
from zapgate_control.ports.messages import InboundContent, MessageStore
from zapgate_core.contract.inbound_rules import (
    effective_chat_type,
    has_content,
    learnt_lid_mapping,
    media_problem,
    typed_object,
)
from zapgate_core.contract.worker_proxy import InboundMessage, InboundResponse
from zapgate_core.domain.ids import inbound_id
from zapgate_core.storage.media import sha256_of_url

_STORED_FIELDS = (
    "to", "body", "wa_message_id", "from_me", "sender_jid_raw", "sender_pn", "sender_contact_id", "push_name",
    "media_type", "media_url", "mime_type", "file_name", "file_size",
)  # fmt: skip


def _typed_fields(message: InboundMessage) -> dict[str, Any]:
    """The extensions a richer sidecar reports, only when present: a plain text or media message (all the
    Node worker sends) is stored exactly as before. text and media kinds are not stored: media_type says it."""
    fields: dict[str, Any] = {}
    typed = typed_object(message)
    if typed is not None:
        name, _value = typed
        fields["message_type"] = message.message_type
        fields[name] = getattr(message, name)
    if message.quoted_wa_message_id:
        fields["quoted_wa_message_id"] = message.quoted_wa_message_id
    if message.quoted_text:
        fields["quoted_text"] = message.quoted_text
    return fields


def content_of(message: InboundMessage) -> InboundContent:
    """What is stored of an inbound message."""
    return InboundContent(
        from_=message.from_,
        chat_id=message.chat_id_norm,
        chat_type=effective_chat_type(message),
        **{name: getattr(message, name) for name in _STORED_FIELDS},
        wa_timestamp=str(message.timestamp) if message.timestamp is not None else None,
        # One of our media URLs: its hash, so reads sign a fresh URL (the stored one expires).
        media_sha256=sha256_of_url(message.media_url),
        **_typed_fields(message),
    )


def accept(
    instances: InstanceStore,
    messages: MessageStore,
    contacts: ContactStore,
    message: InboundMessage,
    groups: GroupStore | None = None,
) -> InboundResponse:
    if not has_content(message):
        raise ApiError(400, "empty_message", "inbound needs a body or media")
    problem = media_problem(message)
    if problem:
        raise ApiError(400, "invalid_media", problem)
    instance = instances.get(message.instance_id)
    if instance is None:
        raise NotFound("instance")
    content = content_of(message)
    message_id = (
        inbound_id(message.instance_id, message.wa_message_id) if message.wa_message_id else str(uuid.uuid4())
    )
    if (
        groups is not None
        and instance.ingest_monitored_groups_only
        and content.chat_type == "group"
        and not groups.monitored(message.instance_id, message.chat_id_norm)  # the one extra read, only here
    ):
        metrics.add_metric(name="MessagesIgnored", unit="Count", value=1)
        return InboundResponse(id=message_id, duplicate=False, ignored=True)
    # The instance's automations flag rides on the item (no extra read): the outbox feeds the runner from it.
    stored = messages.put_inbound(message_id, message.instance_id, instance.tenant_id, content,
                                  automate=instance.automations_enabled)
    if stored:
        mapping = learnt_lid_mapping(message)
        if mapping:
            contacts.remember_lid(message.instance_id, *mapping)
        metrics.add_metric(name="MessagesReceived", unit="Count", value=1)
    return InboundResponse(id=message_id, duplicate=not stored)
