"""Message history and status for the public API: one message, a timeline page, the
conversations of an instance and one chat's messages.

A message is only visible through its own instance, and only to that instance's tenant:
the instance is checked first, then the message must name it.
"""

from __future__ import annotations

from typing import Any

from zapgate_control.adapters.dynamodb.messages import chat_jid
from zapgate_control.errors import NotFound
from zapgate_control.ports import InstanceStore, MediaStore, MessageStore
from zapgate_control.services.instances import invalid_cursor, require
from zapgate_core.domain.jids import chat_type_of


def get_message(
    instances: InstanceStore, messages: MessageStore, tenant_id: str, instance_id: str, message_id: str
) -> dict[str, Any]:
    require(instances, tenant_id, instance_id)
    item = messages.get(message_id)
    # Every message has a direction; the table's other items (command doorbells) have none.
    if item is None or item.get("instance_id") != instance_id or not item.get("direction"):
        raise NotFound("message")
    return item


def timeline(
    instances: InstanceStore,
    messages: MessageStore,
    tenant_id: str,
    instance_id: str,
    direction: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    require(instances, tenant_id, instance_id)
    try:
        return messages.timeline(instance_id, direction, limit, cursor)
    except ValueError as exc:
        raise invalid_cursor() from exc


# ------------------------------------------------------------------ media links
def with_fresh_media(item: dict[str, Any], media: MediaStore) -> dict[str, Any]:
    """A stored media_url is a presigned URL that dies with its signing credentials: when the item
    knows the media's hash, answer a URL signed now instead."""
    sha256 = item.get("media_sha256")
    if not sha256:
        return item
    return {**item, "media_url": media.url(sha256)}


# ------------------------------------------------------------------ conversations (bounded, read time)
CONVERSATION_SCAN = 500  # newest messages read per direction to derive conversations


def _is_own(item: dict[str, Any]) -> bool:
    """Sent by this account: an outbound message, or an inbound echo of one sent from the phone."""
    return item.get("direction") == "outbound" or bool(item.get("from_me"))


def _chat_of(item: dict[str, Any]) -> str | None:
    if item.get("direction") == "outbound":
        return chat_jid(item.get("to"))
    return chat_jid(item.get("chat_id_norm"))


def conversations(
    instances: InstanceStore, messages: MessageStore, tenant_id: str, instance_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Chats of the instance, the most recently active first, derived from the newest
    CONVERSATION_SCAN messages of each direction (a chat quiet for longer is not listed).

    unread_count: inbound messages of the chat newer than the newest message this account sent to
    it (a reply marks the chat read). The cursor is an offset into this one derived listing.
    """
    require(instances, tenant_id, instance_id)
    offset = _offset(cursor)
    items = messages.recent(instance_id, "inbound", CONVERSATION_SCAN) + messages.recent(
        instance_id, "outbound", CONVERSATION_SCAN
    )
    items.sort(key=lambda i: str(i.get("timeline_sk", "")), reverse=True)  # newest first
    chats: dict[str, dict[str, Any]] = {}
    replied: set[str] = set()
    for item in items:
        chat = _chat_of(item)
        if chat is None:
            continue
        entry = chats.get(chat)
        if entry is None:
            entry = chats[chat] = {"chat_id": chat, "chat_type": None, "last_message": item, "unread_count": 0}
        if entry["chat_type"] is None and item.get("direction") == "inbound":
            entry["chat_type"] = item.get("chat_type")
        if _is_own(item):
            replied.add(chat)
        elif chat not in replied:
            entry["unread_count"] += 1
    listing = list(chats.values())  # insertion order: newest last message first
    for entry in listing:
        entry["chat_type"] = entry["chat_type"] or chat_type_of(entry["chat_id"])
    page = listing[offset : offset + limit]
    more = offset + limit < len(listing)
    return page, str(offset + limit) if more else None


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 6:
        raise invalid_cursor()
    return int(cursor)


def chat_messages(
    instances: InstanceStore,
    messages: MessageStore,
    tenant_id: str,
    instance_id: str,
    chat_id: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One chat's messages, both directions, newest first. A chat id that names no chat has none."""
    require(instances, tenant_id, instance_id)
    chat = chat_jid(chat_id) or chat_id  # not a JID: matches nothing, and the cursor is still checked
    try:
        return messages.chat_messages(instance_id, chat, limit, cursor)
    except ValueError as exc:
        raise invalid_cursor() from exc
