"""Rules on the contract's InboundMessage: what the control plane accepts (and the sidecar should send).

They read and dump the pydantic model, so they live with the contract, not in the plain-Python domain.
"""

from __future__ import annotations

from typing import Any

from zapgate_core.contract.worker_proxy import InboundMessage
from zapgate_core.domain.jids import InvalidDestination, chat_type_of, is_lid, normalize_destination, pn_jid
from zapgate_core.domain.message_kinds import OBJECT_OF_KIND


def has_content(message: InboundMessage) -> bool:
    """A body, media, or a typed kind's object (a location, a reaction, even one that removes an emoji)."""
    return bool(message.body) or message.media_type is not None or typed_object(message) is not None


def typed_object(message: InboundMessage) -> tuple[str, dict[str, Any]] | None:
    """(name, fields) of the object a typed message carries (location, contact, reaction, poll, poll_vote...)."""
    name = OBJECT_OF_KIND.get(message.message_type or "")
    value = getattr(message, name) if name else None
    return (name, value.model_dump(mode="json", exclude_none=True)) if name and value is not None else None


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
