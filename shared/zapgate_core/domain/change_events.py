"""Envelopes of issue 10's events: a message edited or deleted for everyone, a group's members or info
changed, a call received. Same seed-002 envelope as domain/events.py: {"id", "type", "instanceId",
"timestamp", "payload"}; pure functions on dicts, as there.

- MESSAGE_EDITED / MESSAGE_REVOKED come from the outbox (a MODIFY of the stored message whose `edit_key`
  moved / whose `revoked_at` appeared; domain/outbox.py), so their ids derive from the message and the edit
  (or the revoke) and a retried stream record repeats the same id.
- GROUP_PARTICIPANTS_CHANGED / GROUP_UPDATED / CALL_RECEIVED are published by the worker-proxy when the
  sidecar reports them (services/inbound_changes.py): nothing in MessagesTable changes for them. Their ids
  derive from what the sidecar reported, so a sidecar's retry (or a second sidecar reporting the same
  notification after a failover) carries the same id: receivers de-duplicate on it.
"""

from __future__ import annotations

from typing import Any

from zapgate_core.domain.events import (
    CALL_RECEIVED,
    GROUP_PARTICIPANTS_CHANGED,
    GROUP_UPDATED,
    MESSAGE_EDITED,
    MESSAGE_REVOKED,
    _envelope,
    _phone,
    event_id,
    iso_now,
    sender_of,
)
from zapgate_core.domain.jids import InvalidDestination, chat_type_of, normalize_destination

PARTICIPANT_ACTIONS = ("add", "remove", "promote", "demote")
# What GROUP_UPDATED may say changed; absent keys did not change.
GROUP_INFO_FIELDS = ("name", "description", "announce", "locked")


def _jid(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return normalize_destination(value).jid
    except InvalidDestination:
        return value


def _message_part(item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(contact, message, metadata) naming a stored message of either direction: the inbound message's sender,
    or the outbound message's recipient (as MESSAGE_INBOUND and MESSAGE_STATUS name them)."""
    inbound = item.get("direction") == "inbound"
    if inbound:
        chat = item.get("chat_id_norm")
        person = sender_of(item)
        phone = _phone(item.get("sender_pn")) or _phone(person)
        push_name = item.get("push_name")
    else:
        chat = person = _jid(item.get("to"))
        phone, push_name = _phone(person), None
    is_group = item.get("chat_type") == "group" or bool(chat and chat_type_of(chat) == "group")
    contact = {"phone": phone, "name": item.get("contact_name") or push_name, "pushName": push_name, "jid": person}
    message = {
        "id": item["id"],
        "waMessageId": item.get("wa_message_id"),
        "direction": "inbound" if inbound else "outbound",
        "chatId": chat,
        "chatType": "group" if is_group else "direct",
    }
    metadata = {"rawKey": {"remoteJid": chat, "participant": person if inbound and is_group else None}}
    return contact, message, metadata


# ---------------------------------------------------------------- from the outbox
def message_edited_event(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """The edit `new` (the stored message after it) shows; `old` is the item before, for previousText."""
    contact, message, metadata = _message_part(new)
    at = new.get("edited_at") or iso_now()
    message.update({
        "text": new.get("body") or None,
        "previousText": old.get("body") or None,  # the text this edit replaced
        "originalText": new.get("original_body") or None,  # the text the message was first stored with
        "editedAt": at,
        "editCount": int(new.get("edit_count") or 0),
    })
    ident = event_id(str(new["id"]), MESSAGE_EDITED, str(new.get("edit_key") or at))
    return _envelope(MESSAGE_EDITED, ident, new["instance_id"], at,
                     {"contact": contact, "message": message, "metadata": metadata})


def message_revoked_event(new: dict[str, Any]) -> dict[str, Any]:
    """A message deleted for everyone. Its text is not repeated here (the sender wanted it gone); the
    history keeps it, marked. `byAdmin`: a group admin deleted someone else's message."""
    contact, message, metadata = _message_part(new)
    at = new.get("revoked_at") or iso_now()
    by = new.get("revoked_by")
    author = contact["jid"] if new.get("direction") == "inbound" else None
    message.update({
        "revokedAt": at,
        "revokedBy": by,
        "byAdmin": bool(by and author and _user(by) not in _users(new)),
    })
    return _envelope(MESSAGE_REVOKED, event_id(str(new["id"]), MESSAGE_REVOKED), new["instance_id"], at,
                     {"contact": contact, "message": message, "metadata": metadata})


def _user(jid: str) -> str:
    """The account part of a JID, device suffix dropped: 5511...:3@s.whatsapp.net -> 5511...@s.whatsapp.net."""
    user, _, server = jid.partition("@")
    return f"{user.split(':', 1)[0]}@{server}"


def _users(item: dict[str, Any]) -> set[str]:
    """Every JID the stored sender is known by (its LID and its phone number)."""
    return {_user(j) for j in (item.get("sender_jid_raw"), item.get("from"), item.get("sender_pn")) if j}


# ---------------------------------------------------------------- reported by the sidecar
def group_participants_event(instance_id: str, report: dict[str, Any]) -> dict[str, Any]:
    """`report`: group (JID), action (add | remove | promote | demote), participants, by, at (ISO), name."""
    participants = sorted(set(report.get("participants") or []))
    at = report.get("at") or iso_now()
    payload = {
        "group": {"jid": report["group"], "name": report.get("name")},
        "action": report["action"],
        "participants": participants,
        "by": report.get("by"),
        "timestamp": at,
    }
    ident = event_id(instance_id, GROUP_PARTICIPANTS_CHANGED, report["group"], report["action"], at, *participants)
    return _envelope(GROUP_PARTICIPANTS_CHANGED, ident, instance_id, at, payload)


def group_updated_event(instance_id: str, report: dict[str, Any], previous_name: str | None) -> dict[str, Any]:
    """`report`: group, changes ({name?, description?, announce?, locked?}), by, at. `previous_name` is the name
    zapgate had stored (None when it did not track the group)."""
    changes = {k: v for k, v in (report.get("changes") or {}).items() if k in GROUP_INFO_FIELDS}
    at = report.get("at") or iso_now()
    payload = {
        "group": {"jid": report["group"], "name": changes.get("name") or previous_name},
        "changes": changes,
        "previousName": previous_name if "name" in changes else None,
        "by": report.get("by"),
        "timestamp": at,
    }
    facts = [f"{k}={changes[k]}" for k in sorted(changes)]
    ident = event_id(instance_id, GROUP_UPDATED, report["group"], at, *facts)
    return _envelope(GROUP_UPDATED, ident, instance_id, at, payload)


def call_received_event(instance_id: str, report: dict[str, Any]) -> dict[str, Any]:
    """`report`: call_id, from, video, is_group, group (JID of a group call, when known), at; rejected: zapgate rejected
    it (the instance's reject_calls), reply_message_id: the text it queued back (null: none)."""
    caller = report["from"]
    at = report.get("at") or iso_now()
    payload = {
        "contact": {"phone": _phone(caller), "name": None, "pushName": None, "jid": caller},
        "call": {
            "id": report["call_id"],
            "from": caller,
            "video": bool(report.get("video")),
            "isGroup": bool(report.get("is_group") or report.get("group")),
            "groupJid": report.get("group"),
            "timestamp": at,
        },
        "rejected": bool(report.get("rejected")),
        "replyMessageId": report.get("reply_message_id"),
    }
    return _envelope(CALL_RECEIVED, event_id(instance_id, CALL_RECEIVED, report["call_id"]), instance_id, at, payload)
