"""Inbound message rules shared by the sidecar (what to send) and the control plane (what to accept)."""

from __future__ import annotations

import uuid

from zapgate_core.contract.worker_proxy import InboundMessage
from zapgate_core.domain.jids import chat_type_of, is_lid, normalize_destination, pn_jid

# Fixed namespace: the same (instance, WhatsApp id) always maps to the same stored id.
_INBOUND_NAMESPACE = uuid.UUID("6f0f6c52-4b9e-4a43-9d7f-2f5b1b8de3a1")
_CONTACT_NAMESPACE = uuid.UUID("0b8c8f0e-3c55-4a8f-8a34-0f5f0d6c2e77")


def has_content(message: InboundMessage) -> bool:
    return bool(message.body) or message.media_type is not None


def media_problem(message: InboundMessage) -> str | None:
    if message.media_type is not None and not message.media_url:
        return "media_type requires media_url"
    return None


def inbound_id(instance_id: str, wa_message_id: str) -> str:
    return str(uuid.uuid5(_INBOUND_NAMESPACE, f"{instance_id}\x1f{wa_message_id}"))


def contact_id(instance_id: str, jid: str) -> str:
    return str(uuid.uuid5(_CONTACT_NAMESPACE, f"{instance_id}\x1f{jid}"))


def effective_chat_type(message: InboundMessage) -> str:
    return message.chat_type or chat_type_of(message.chat_id_norm)


def learnt_lid_mapping(message: InboundMessage) -> tuple[str, str] | None:
    """(lid, phone JID) when a `@lid` sender arrives with its phone number beside it."""
    sender = message.sender_jid_raw or message.from_
    phone = pn_jid(message.sender_pn)
    if is_lid(sender) and phone:
        return normalize_destination(sender).jid, phone  # drops a device suffix
    return None
