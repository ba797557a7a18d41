"""Message history and status for the public API: one message, a timeline page, the
conversations of an instance and one chat's messages.

A message is only visible through its own instance, and only to that instance's tenant:
the instance is checked first, then the message must name it.
"""

from __future__ import annotations

from dataclasses import dataclass

from zapgate_control.errors import NotFound
from zapgate_control.ports.instances import InstanceStore
from zapgate_control.ports.media import MediaStore
from zapgate_control.ports.messages import Direction, MessageRecord, MessageStore, OutboundMessage, ReceivedMessage
from zapgate_control.services.instances import invalid_cursor, require
from zapgate_core.domain.jids import chat_jid, chat_type_of


def get_message(
    instances: InstanceStore, messages: MessageStore, tenant_id: str, instance_id: str, message_id: str
) -> MessageRecord:
    require(instances, tenant_id, instance_id)
    record = messages.get(message_id)  # None too for the table's other items (command doorbells)
    if record is None or record.instance_id != instance_id:
        raise NotFound("message")
    return record


def timeline(
    instances: InstanceStore,
    messages: MessageStore,
    tenant_id: str,
    instance_id: str,
    direction: Direction,
    limit: int,
    cursor: str | None,
) -> tuple[list[MessageRecord], str | None]:
    require(instances, tenant_id, instance_id)
    try:
        return messages.timeline(instance_id, direction, limit, cursor)
    except ValueError as exc:
        raise invalid_cursor() from exc


# ------------------------------------------------------------------ media links
def media_url(record: MessageRecord, media: MediaStore) -> str | None:
    """A stored media_url is a presigned URL that dies with its signing credentials: when the message
    knows the media's hash, a URL signed now instead."""
    sha256 = record.content.media_sha256 if isinstance(record, ReceivedMessage) else None
    return media.url(sha256) if sha256 else record.content.media_url


# ------------------------------------------------------------------ conversations (bounded, read time)
CONVERSATION_SCAN = 500  # newest messages read per direction to derive conversations


@dataclass
class Conversation:
    chat_id: str
    chat_type: str | None
    last_message: MessageRecord
    unread_count: int = 0
    push_name: str | None = None  # direct chats: the contact's name in their newest message that has one


def _is_own(record: MessageRecord) -> bool:
    """Sent by this account: an outbound message, or an inbound echo of one sent from the phone."""
    return isinstance(record, OutboundMessage) or record.content.from_me


def _is_read(record: MessageRecord) -> bool:
    """A received message this account marked read: the chat is read up to it."""
    return record.changes is not None and record.changes.read_at is not None


def _chat_of(record: MessageRecord) -> str | None:
    if isinstance(record, OutboundMessage):
        return chat_jid(record.content.to)
    return chat_jid(record.content.chat_id)


def conversations(
    instances: InstanceStore, messages: MessageStore, tenant_id: str, instance_id: str, limit: int, cursor: str | None
) -> tuple[list[Conversation], str | None]:
    """Chats of the instance, the most recently active first, derived from the newest
    CONVERSATION_SCAN messages of each direction (a chat quiet for longer is not listed).

    unread_count: inbound messages of the chat newer than the newest message this account sent to
    it (a reply marks the chat read) and than the newest one it marked read (POST …/chats/read). The cursor is
    an offset into this one derived listing.
    """
    require(instances, tenant_id, instance_id)
    offset = _offset(cursor)
    records = messages.recent(instance_id, "inbound", CONVERSATION_SCAN) + messages.recent(
        instance_id, "outbound", CONVERSATION_SCAN
    )
    records.sort(key=lambda r: (r.stored_ms, r.id), reverse=True)  # newest first, as the timeline orders
    chats: dict[str, Conversation] = {}
    replied: set[str] = set()
    for record in records:
        chat = _chat_of(record)
        if chat is None:
            continue
        entry = chats.get(chat)
        if entry is None:
            entry = chats[chat] = Conversation(chat_id=chat, chat_type=None, last_message=record)
        if entry.chat_type is None and isinstance(record, ReceivedMessage):
            entry.chat_type = record.content.chat_type or None
        if entry.push_name is None and isinstance(record, ReceivedMessage) and not record.content.from_me:
            entry.push_name = record.content.push_name or None  # from the records read anyway: no extra read
        if _is_own(record) or _is_read(record):
            replied.add(chat)
        elif chat not in replied:
            entry.unread_count += 1
    listing = list(chats.values())  # insertion order: newest last message first
    for entry in listing:
        entry.chat_type = entry.chat_type or chat_type_of(entry.chat_id)
        if entry.chat_type == "group":
            entry.push_name = None  # a member's name, not the group's
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
) -> tuple[list[MessageRecord], str | None]:
    """One chat's messages, both directions, newest first. A chat id that names no chat has none."""
    require(instances, tenant_id, instance_id)
    chat = chat_jid(chat_id) or chat_id  # not a JID: matches nothing, and the cursor is still checked
    try:
        return messages.chat_messages(instance_id, chat, limit, cursor)
    except ValueError as exc:
        raise invalid_cursor() from exc
