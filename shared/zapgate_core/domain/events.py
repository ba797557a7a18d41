"""Events to applications: the seed-002 envelope, built from the items the control plane stores.

    {"id", "type", "instanceId", "timestamp", "payload": {"contact", "message", "metadata"}}

Everything here is pure (dicts in, JSON-ready dicts out) so the worker-proxy can build an event
without importing pydantic schemas on its request path; zapgate_core.contract.events holds the
same shape as pydantic models for validation and documentation.

Event ids are derived from what happened (message + state, instance + status change), so a
publish repeated for the same fact carries the same id and a receiver can de-duplicate on
X-Zapgate-Event-Id.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from zapgate_core.domain.jids import InvalidDestination, chat_type_of, jid_user, normalize_destination
from zapgate_core.domain.message_kinds import MEDIA_KINDS, MESSAGE_KINDS, OBJECT_OF_KIND

MESSAGE_INBOUND: Final = "MESSAGE_INBOUND"
MESSAGE_STATUS: Final = "MESSAGE_STATUS"
INSTANCE_STATUS: Final = "INSTANCE_STATUS"
# Live-only: a new QR / pairing code. Short-lived secrets for the person pairing the phone, so they
# travel only to the tenant's authenticated live (WebSocket) connections, never to webhooks.
INSTANCE_QR: Final = "INSTANCE_QR"
# Issue 10: what happens to messages, groups and calls besides new messages (builders: change_events.py).
MESSAGE_EDITED: Final = "MESSAGE_EDITED"
MESSAGE_REVOKED: Final = "MESSAGE_REVOKED"
GROUP_PARTICIPANTS_CHANGED: Final = "GROUP_PARTICIPANTS_CHANGED"
GROUP_UPDATED: Final = "GROUP_UPDATED"
CALL_RECEIVED: Final = "CALL_RECEIVED"
# Issue 11: an AI agent handed a chat to a person (escalate_to_human); the chat's automations are paused.
AUTOMATION_ESCALATED: Final = "AUTOMATION_ESCALATED"
# What webhooks can subscribe to and receive.
EVENT_TYPES: Final = (
    MESSAGE_INBOUND, MESSAGE_STATUS, INSTANCE_STATUS,
    MESSAGE_EDITED, MESSAGE_REVOKED, GROUP_PARTICIPANTS_CHANGED, GROUP_UPDATED, CALL_RECEIVED,
    AUTOMATION_ESCALATED,
)  # fmt: skip
LIVE_ONLY_EVENT_TYPES: Final = frozenset({INSTANCE_QR})

# What message.type may say: text and the four media kinds (from media_type), and the typed kinds the
# sidecar reports through the stored `message_type` field, each with one small object (TYPED_OBJECTS).
MESSAGE_TYPES: Final = MESSAGE_KINDS
MEDIA_TYPES: Final = frozenset(MEDIA_KINDS)
# message.type → the stored object it carries (the envelope's key is the same name, camelCased: pollVote).
TYPED_OBJECTS: Final = OBJECT_OF_KIND
MESSAGE_STATUSES: Final = ("sent", "delivered", "read", "failed")
INSTANCE_STATUSES: Final = ("CONNECTING", "CONNECTED", "DISCONNECTED")

# Seed 001: a text and a media from the same sender in the same chat within 90 s belong together.
PARENT_WINDOW_MS: Final = 90_000

# SQS refuses bodies over 256 KiB; a 65k-character text of 4-byte characters would pass that, so
# the text is cut (and flagged) before the envelope is published. Leaves room for attributes.
MAX_EVENT_BYTES: Final = 240_000

_EVENT_NAMESPACE = uuid.UUID("a1f5e0c4-6d0b-4f51-9a8e-3b2c7d9e4f10")


def event_id(*parts: str) -> str:
    return str(uuid.uuid5(_EVENT_NAMESPACE, "\x1f".join(parts)))


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_iso(value: Any) -> str | None:
    """ISO-8601 UTC from an ISO string or an epoch in seconds or milliseconds (seed 002's rule)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        stripped = value.strip()
        try:
            number = float(stripped)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
            except ValueError:
                return None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        value = number
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = value / 1000 if value > 1e11 else value  # 1e11 s is the year 5138: anything above is ms
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_to_ms(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000 + 0.5)


def _phone(jid: str | None) -> str | None:
    """Digits of a phone-number JID (device suffix dropped); None for LIDs, groups and junk."""
    if not jid:
        return None
    try:
        destination = normalize_destination(jid)
    except InvalidDestination:
        return None
    return jid_user(destination.jid) if destination.kind == "pn" else None


def message_type(item: dict[str, Any]) -> str:
    """What kind of WhatsApp message a stored item is: an explicit kind, its media kind, else text."""
    explicit = item.get("message_type")
    if explicit in MESSAGE_TYPES:
        return str(explicit)
    media = item.get("media_type")
    if media in MEDIA_TYPES:
        return str(media)
    return "text"


def is_media(item: dict[str, Any]) -> bool:
    return message_type(item) in MEDIA_TYPES


def _coordinate(value: Any) -> float | None:
    try:
        number = float(value)  # stored as decimal text (DynamoDB takes no floats)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _typed_object(kind: str, item: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(envelope key, small object) of a typed kind, from its stored object; None for text and media."""
    name = TYPED_OBJECTS.get(kind)
    stored = item.get(name) if name else None
    if name is None or not isinstance(stored, dict):
        return None
    if name == "location":
        value = {"latitude": _coordinate(stored.get("latitude")), "longitude": _coordinate(stored.get("longitude")),
                 "name": stored.get("name"), "address": stored.get("address")}
    elif name == "contact":
        value = {"displayName": stored.get("display_name"), "vcard": stored.get("vcard"), "count": stored.get("count")}
    elif name == "reaction":
        # waMessageId is the reacted-to message's; fromMe: it was sent by this instance; emoji "" = removed.
        value = {"waMessageId": stored.get("wa_message_id"), "emoji": stored.get("emoji") or "",
                 "fromMe": stored.get("from_me")}
    elif name == "poll":
        value = {"name": stored.get("name"), "options": list(stored.get("options") or []),
                 "selectableCount": stored.get("selectable_count")}
    elif name == "poll_vote":
        # optionHashes: SHA-256 (hex) of every chosen option's name, [] = vote removed; options: the names
        # the sidecar could resolve (it saw the poll), so a consumer without them matches hashes itself.
        value = {"pollMessageId": stored.get("poll_message_id"),
                 "optionHashes": list(stored.get("option_hashes") or []), "options": list(stored.get("options") or [])}
        return "pollVote", value
    else:
        value = {"id": stored.get("id"), "text": stored.get("text")}
    return name, value


def sender_of(item: dict[str, Any]) -> str | None:
    return item.get("sender_jid_raw") or item.get("from")


def _envelope(event_type: str, ident: str, instance_id: str, timestamp: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"id": ident, "type": event_type, "instanceId": instance_id, "timestamp": timestamp, "payload": payload}


# ---------------------------------------------------------------- MESSAGE_INBOUND
def inbound_event(item: dict[str, Any]) -> dict[str, Any]:
    """The envelope of a stored inbound message (the item put_inbound wrote).

    `timestamp` is when zapgate stored it (the item's created_at, millisecond precision), which
    the processor also uses to find the message on the timeline for parent linking.
    `message.timestamp` is WhatsApp's own time for the message.
    """
    chat_id = item.get("chat_id_norm")
    sender = sender_of(item)
    is_group = item.get("chat_type") == "group" or bool(chat_id and chat_type_of(chat_id) == "group")
    kind = message_type(item)
    media = None
    if kind in MEDIA_TYPES:
        media = {
            "url": item.get("media_url"),
            "mimeType": item.get("mime_type"),
            "fileName": item.get("file_name"),
            "fileSize": item.get("file_size"),
        }
    push_name = item.get("push_name")
    stored_at = item.get("created_at") or iso_now()
    typed = _typed_object(kind, item)
    payload: dict[str, Any] = {
        "contact": {
            "phone": _phone(item.get("sender_pn")) or _phone(sender),
            # zapgate keeps no address book name yet: seed 002 falls back to the WhatsApp display name.
            "name": item.get("contact_name") or push_name,
            "pushName": push_name,
            "jid": sender,
        },
        "message": {
            "id": item["id"],
            "waMessageId": item.get("wa_message_id"),
            "type": kind,
            "text": item.get("body") or None,
            "media": media,
            "chatId": chat_id,
            "chatType": "group" if is_group else "direct",
            "timestamp": to_iso(item.get("wa_timestamp")) or stored_at,
            "parentId": item.get("parent_id"),
            # seed 002: the message this one replies to (WhatsApp's id, and its text as the sender quoted it).
            "quotedMessageId": item.get("quoted_wa_message_id"),
            "quotedText": item.get("quoted_text"),
        },
        # rawKey is the message's WhatsApp key for debugging, not the raw payload (kept small).
        "metadata": {"rawKey": {"remoteJid": chat_id, "participant": sender if is_group else None}},
    }
    if typed is not None:  # only typed kinds carry one (location, contact, reaction, poll, pollVote, selection)
        payload["message"][typed[0]] = typed[1]
    if item.get("history"):  # issue 13: from a history sync after linking, emitted only when the instance asks
        payload["message"]["history"] = True
    return _envelope(MESSAGE_INBOUND, event_id(item["id"], MESSAGE_INBOUND), item["instance_id"], stored_at, payload)


# ---------------------------------------------------------------- MESSAGE_STATUS
def message_status_event(item: dict[str, Any]) -> dict[str, Any] | None:
    """The envelope of an outbound message that moved to sent/delivered/read/failed; None otherwise."""
    status = item.get("state")
    if status not in MESSAGE_STATUSES:
        return None
    to = item.get("to")
    try:
        jid: str | None = normalize_destination(to).jid if to else None
    except InvalidDestination:
        jid = to
    at = item.get(f"{status}_at") or item.get("finished_at") or iso_now()
    payload = {
        "contact": {"phone": _phone(jid), "name": None, "pushName": None, "jid": jid},
        "message": {
            "id": item["id"],
            "waMessageId": item.get("wa_message_id"),
            "status": status,
            "error": item.get("error") if status == "failed" else None,
            "chatId": jid,
            "timestamp": at,
        },
        "metadata": {"rawKey": {"remoteJid": jid, "participant": None}},
    }
    if item.get("source") == "phone":
        payload["message"].update(_phone_sent(item))
    return _envelope(MESSAGE_STATUS, event_id(item["id"], MESSAGE_STATUS, status), item["instance_id"], at, payload)


def _phone_sent(item: dict[str, Any]) -> dict[str, Any]:
    """Issue 13: a message this account sent from the phone or another linked device. Nobody asked zapgate to
    send it, so its status events carry what it said; zapgate's own sends (source api) carry only the status."""
    kind = str(item["type"]) if item.get("type") in MESSAGE_TYPES else message_type(item)
    media = None
    if kind in MEDIA_TYPES:
        media = {"url": item.get("media_url"), "mimeType": item.get("mime_type"), "fileName": item.get("file_name"),
                 "fileSize": item.get("file_size")}
    chat = item.get("to")
    typed = _typed_object(kind, item)  # a location, contact, reaction or poll sent from the phone: as inbound's
    return {"source": "phone", "type": kind, "text": item.get("body") or None, "media": media,
            "chatType": "group" if chat and chat_type_of(chat) == "group" else "direct",
            **({typed[0]: typed[1]} if typed is not None else {}),
            **({"history": True} if item.get("history") else {})}


# ---------------------------------------------------------------- INSTANCE_STATUS
def instance_status_event(item: dict[str, Any], previous_status: str | None) -> dict[str, Any] | None:
    """The envelope of an instance whose status changed; None when the status stayed the same.

    The QR code (and pairing code) are not in it: they are short-lived secrets for the person
    pairing the phone. They travel only in INSTANCE_QR, which goes to the tenant's authenticated
    live connections and never to webhooks (see instance_qr_event).
    """
    status = item.get("status")
    if status not in INSTANCE_STATUSES or status == previous_status:
        return None
    at = item.get("status_at") or iso_now()
    connected = status == "CONNECTED"
    payload = {
        "status": status,
        "previousStatus": previous_status,
        "reason": item.get("status_reason"),
        "jid": item.get("wa_jid") if connected else None,
        "phone": _phone(item.get("wa_jid")) if connected else None,
        "pushName": item.get("push_name") if connected else None,
    }
    return _envelope(INSTANCE_STATUS, event_id(item["id"], INSTANCE_STATUS, status, at), item["id"], at, payload)


# ---------------------------------------------------------------- INSTANCE_QR (live connections only)
def pairing_changed(before: dict[str, Any], now: dict[str, Any]) -> bool:
    """A new QR or pairing code was stored: (qr_code, pairing_code) differ and one of them is set.

    Clearing them (CONNECTED, DISCONNECTED) is no QR news: INSTANCE_STATUS tells that.
    """
    new = (now.get("qr_code") or None, now.get("pairing_code") or None)
    old = (before.get("qr_code") or None, before.get("pairing_code") or None)
    return new != old and any(new)


def instance_qr_event(item: dict[str, Any]) -> dict[str, Any] | None:
    """The live-only envelope of an instance's current QR / pairing code; None when it has neither.

    Never delivered to webhooks (the processor drops it there); the id is derived from the codes
    themselves (one-way), so a repeat of the same QR carries the same id.
    """
    qr, pairing_code = item.get("qr_code") or None, item.get("pairing_code") or None
    if not qr and not pairing_code:
        return None
    at = item.get("status_at") or iso_now()
    payload = {
        "status": item.get("status"),
        "qr": qr,
        "pairingCode": pairing_code,
        "expiresAt": to_iso(item.get("qr_expires_at")),
    }
    ident = event_id(item["id"], INSTANCE_QR, qr or "", pairing_code or "")
    return _envelope(INSTANCE_QR, ident, item["id"], at, payload)


# ---------------------------------------------------------------- parent linking (seed 001)
def _linkable(item: dict[str, Any]) -> bool:
    """Seed 001 links text and media; a reaction, location, poll, vote... is neither and links nothing."""
    return message_type(item) == "text" or is_media(item)


def pick_parent(later: dict[str, Any], earlier: list[dict[str, Any]], window_ms: int = PARENT_WINDOW_MS) -> str | None:
    """The message `later` continues: the newest earlier inbound message in the same chat, from the
    same sender, of the opposite kind (text vs media), stored at most `window_ms` before it.

    Items need `id`, `timeline_sk` ("<ms>#<id>", the arrival order) and the stored fields; the
    strict order on timeline_sk means two messages can never name each other.
    """
    if not _linkable(later):
        return None
    later_sk = later.get("timeline_sk") or ""
    later_ms = int(later_sk.split("#", 1)[0] or 0)
    chat, sender, media = later.get("chat_id_norm"), sender_of(later), is_media(later)
    best: tuple[str, str] | None = None
    for item in earlier:
        sk = item.get("timeline_sk") or ""
        if item.get("id") == later.get("id") or not sk or sk >= later_sk:
            continue
        if later_ms - int(sk.split("#", 1)[0]) > window_ms:
            continue
        if item.get("chat_id_norm") != chat or sender_of(item) != sender or is_media(item) == media:
            continue
        if not _linkable(item):
            continue
        if best is None or sk > best[0]:
            best = (sk, str(item["id"]))
    return best[1] if best else None


# ---------------------------------------------------------------- size
def encode(envelope: dict[str, Any]) -> str:
    """The exact JSON text that is published, delivered and signed."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def fit(envelope: dict[str, Any], max_bytes: int = MAX_EVENT_BYTES) -> dict[str, Any]:
    """The envelope, with message.text cut (and metadata.truncated set) if it would exceed max_bytes."""
    size = len(encode(envelope).encode())
    message = envelope.get("payload", {}).get("message") or {}
    text = message.get("text")
    if size <= max_bytes or not isinstance(text, str):
        return envelope
    fitted = copy.deepcopy(envelope)
    overflow = size - max_bytes
    raw = text.encode()
    # Cut bytes, not characters, then drop a split multi-byte character at the end.
    kept = raw[: max(0, len(raw) - overflow - 64)].decode(errors="ignore")
    fitted["payload"]["message"]["text"] = kept
    fitted["payload"].setdefault("metadata", {})["truncated"] = True
    return fitted


# ---------------------------------------------------------------- AUTOMATION_ESCALATED (issue 11)
def automation_escalated_event(
    instance_id: str, chat_id: str, message_id: str, automation_id: str, reason: str, at: datetime, until: datetime
) -> dict[str, Any]:
    """An agent called escalate_to_human on `message_id`: the chat waits for a person until `until` (or a
    person's reply through the API). The id is derived from the message, so a retried run repeats it."""
    stamp = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    payload = {
        "chatId": chat_id,
        "messageId": message_id,
        "automationId": automation_id,
        "reason": reason,
        "pausedUntil": until.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    return _envelope(AUTOMATION_ESCALATED, event_id(message_id, AUTOMATION_ESCALATED), instance_id, stamp, payload)
