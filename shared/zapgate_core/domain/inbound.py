"""Inbound message rules shared by the sidecar (what to send) and the control plane (what to accept)."""

from __future__ import annotations

from zapgate_core.contract.worker_proxy import InboundMessage
from zapgate_core.domain.jids import InvalidDestination, chat_type_of, is_lid, normalize_destination, pn_jid


def has_content(message: InboundMessage) -> bool:
    return bool(message.body) or message.media_type is not None


def media_problem(message: InboundMessage) -> str | None:
    if message.media_type is not None and not message.media_url:
        return "media_type requires media_url"
    return None


def effective_chat_type(message: InboundMessage) -> str:
    return message.chat_type or chat_type_of(message.chat_id_norm)


def learnt_lid_mapping(message: InboundMessage) -> tuple[str, str] | None:
    """(lid, phone JID) when a `@lid` sender arrives with its phone number beside it."""
    sender = message.sender_jid_raw or message.from_
    phone = pn_jid(message.sender_pn)
    if is_lid(sender) and phone:
        try:
            return normalize_destination(sender).jid, phone  # drops a device suffix
        except InvalidDestination:
            return None  # "@lid" or ":12@lid": no user, nothing to map
    return None
