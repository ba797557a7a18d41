"""Requests to the phone about stored messages: edit, revoke (delete for everyone), mark read.

Clients name messages by zapgate's id (from a send, or from history); WhatsApp knows them by its own id
in a chat. These functions look the message up in the tenant's instance and build the sidecar's
arguments (contract/request_ops/messages.py) from what was stored, so an unknown id is a 404 and a
message that cannot be edited or revoked is refused here, before anything is stored or any sidecar
woken (docs/requests.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeGuard

from zapgate_control.clock import iso
from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.instances import InstanceStore
from zapgate_control.ports.messages import (
    MessageEdit,
    MessageNotFound,
    MessageRecord,
    MessageRevoke,
    MessageRevokedAlready,
    MessageStore,
    OutboundMessage,
    ReceivedMessage,
)
from zapgate_control.ports.requests import RequestRecord
from zapgate_control.services.history import get_message
from zapgate_control.services.instances import require
from zapgate_control.services.requests_args import user_or_group_jid
from zapgate_core.contract.request_ops.messages import EDIT_WINDOW_S, MAX_READ
from zapgate_core.domain.jids import GROUP_SERVER, chat_jid
from zapgate_core.domain.json_types import JsonObject

_TEXT_TYPES = (None, "text")


def edit_args(
    instances: InstanceStore, messages: MessageStore, tenant_id: str, instance_id: str, message_id: str,
    text: str, now_ms: int,
) -> JsonObject:
    """edit_message's arguments: only a text message this instance sent, once WhatsApp has it, within the window."""
    record = get_message(instances, messages, tenant_id, instance_id, message_id)
    if not text.strip():  # kept as written otherwise: the new text is the client's, spaces included
        raise ApiError(422, "validation_error", "text: must not be blank")
    if not isinstance(record, OutboundMessage) or not _is_text(record):
        raise ApiError(409, "message_not_editable", "only text messages this instance sent can be edited")
    if record.changes is not None and record.changes.revoked_at:
        raise ApiError(409, "message_revoked", "the message was deleted for everyone")
    wa_message_id, chat = _sent(record)
    sent_at = _epoch_s(record.finished_at)
    if sent_at is not None and now_ms // 1000 - sent_at > EDIT_WINDOW_S:
        # WhatsApp would refuse it (contract: 'expired'); say so without waking the phone.
        raise ApiError(422, "expired", "the message is older than WhatsApp's 15-minute edit window")
    return {"chat": chat, "message_id": wa_message_id, "text": text, "sent_at": sent_at}


def revoke_args(
    instances: InstanceStore, messages: MessageStore, tenant_id: str, instance_id: str, message_id: str
) -> JsonObject:
    """revoke_message's arguments: a message this account sent (from the API or the phone), or someone's
    message in a group (`sender` names them: WhatsApp lets only an admin do that, and decides)."""
    record = get_message(instances, messages, tenant_id, instance_id, message_id)
    if isinstance(record, OutboundMessage):
        sent_id, sent_chat = _sent(record)
        return {"chat": sent_chat, "message_id": sent_id, "sender": None}
    content = record.content
    chat = chat_jid(content.chat_id)
    if not content.wa_message_id or chat is None:
        raise ApiError(409, "message_not_revocable", "this message has no WhatsApp id to revoke")
    if content.from_me:
        return {"chat": chat, "message_id": content.wa_message_id, "sender": None}
    if not chat.endswith(f"@{GROUP_SERVER}"):
        raise ApiError(409, "message_not_revocable", "someone else's message can only be revoked in a group")
    return {"chat": chat, "message_id": content.wa_message_id, "sender": _author(record)}


def read_args(
    instances: InstanceStore, messages: MessageStore, tenant_id: str, instance_id: str, chat: str,
    message_ids: list[str] | None,
) -> tuple[JsonObject, str]:
    """mark_read's arguments (the named received messages of the chat, or else its latest received ones), and
    zapgate's id of the newest of them (record_read marks it once WhatsApp has the receipts)."""
    require(instances, tenant_id, instance_id)
    chat_id = user_or_group_jid(chat, "chat")
    if message_ids is None:
        # One page of the chat, newest first; what this account sent (or echoed from the phone) is skipped.
        page, _ = messages.chat_messages(instance_id, chat_id, MAX_READ, None)
        received = [r for r in page if _received(r)]
        if not received:
            raise ApiError(404, "no_received_messages", "this chat has no received messages to mark read")
    else:
        received = []
        found = messages.get_many(message_ids)  # one BatchGetItem for up to MAX_READ ids, not one GetItem each
        for index, message_id in enumerate(dict.fromkeys(message_ids)):  # duplicates once, order kept
            named = found.get(message_id)
            if named is None or named.instance_id != instance_id:
                raise NotFound("message")
            if not _received(named):
                raise ApiError(422, "invalid_message", f"message_ids[{index}]: not a message received in a chat")
            if chat_jid(named.content.chat_id) != chat_id:
                raise ApiError(422, "invalid_message", f"message_ids[{index}]: a message of another chat")
            received.append(named)
    group = chat_id.endswith(f"@{GROUP_SERVER}")
    newest = max(received, key=lambda r: (r.stored_ms, r.id))
    return {"chat": chat_id, "messages": [
        {"id": r.content.wa_message_id, "sender": _author(r) if group else None} for r in received]}, newest.id


# ---------------------------------------------------------------- history, once WhatsApp did it
def record_edit(messages: MessageStore, message_id: str, text: str, edit_id: str, request: RequestRecord) -> None:
    """Show a done edit in history (ChangeMarks on the message). The key is the request's creation time and the
    edit's WhatsApp id, the same on every replay of the request: a replay changes nothing."""
    edit = MessageEdit(text=text, edited_at=iso(request.created_at_ms),
                       edit_key=f"{request.created_at_ms:013d}#{edit_id}")
    try:
        messages.mark_edited(message_id, edit)
    except (MessageNotFound, MessageRevokedAlready):
        # WhatsApp has the edit (the answer stands); history cannot show it: the message is gone or revoked.
        metrics.add_metric(name="RequestChangesNotRecorded", unit="Count", value=1)


def record_revoke(instances: InstanceStore, messages: MessageStore, message_id: str, request: RequestRecord) -> None:
    """Show a done revoke in history, by this account (its JID, when the instance knows it); a repeat (a replay)
    leaves the first mark."""
    instance = instances.get(request.instance_id)
    revoked_by = instance.wa_jid if instance is not None else None
    try:
        messages.mark_revoked(message_id, MessageRevoke(revoked_at=iso(request.created_at_ms), revoked_by=revoked_by))
    except MessageNotFound:
        metrics.add_metric(name="RequestChangesNotRecorded", unit="Count", value=1)


def record_read(messages: MessageStore, newest_id: str, request: RequestRecord) -> None:
    """Show done read receipts in the conversations listing: one mark on the newest message read, which reads the
    chat up to it (services/history.conversations). The time is the request's, so a replay marks the same."""
    messages.mark_read(newest_id, iso(request.created_at_ms))  # False on a replay: the first mark stands


# ---------------------------------------------------------------- helpers
def _is_text(record: OutboundMessage) -> bool:
    content = record.content
    return content.type in _TEXT_TYPES and content.media_url is None and bool(content.body)


def _sent(record: OutboundMessage) -> tuple[str, str]:
    """WhatsApp's id and the chat of a message this instance sent; 409 while it is not sent."""
    chat = chat_jid(record.content.to)
    if not record.wa_message_id or chat is None:
        raise ApiError(409, "message_not_sent", "the message has not been sent yet (no WhatsApp id)",
                       message_status=record.state.value)
    return record.wa_message_id, chat


def _received(record: MessageRecord) -> TypeGuard[ReceivedMessage]:
    return isinstance(record, ReceivedMessage) and not record.content.from_me and bool(record.content.wa_message_id)


def _author(record: ReceivedMessage) -> str | None:
    return record.content.sender_jid_raw or record.content.from_ or None


def _epoch_s(iso_time: str | None) -> int | None:
    if not iso_time:
        return None
    try:
        return int(datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp())
    except ValueError:  # a stored time this code did not write: leave the window to WhatsApp
        return None
