"""The events outbox: which change of a stored message is an event to applications (docs/events.md).

MessagesTable's stream (NEW_AND_OLD_IMAGES) is the outbox: every write that reports something is
already in it, so an event cannot be lost between the write and the publish. This module says what
a change means, on plain dicts (the images already deserialised; no boto3 here):

- INSERT of an inbound message → MESSAGE_INBOUND (the stored item, as inbound_event builds it);
- INSERT of an own-device message (outbound, `source = phone`, stored `sent`) → MESSAGE_STATUS `sent`
  carrying `source: phone` and its content (issue 13);
- INSERT of a history sync's message marked `history_silent` (its instance emits no history) → nothing;
- MODIFY of an outbound message whose state moved to sent / delivered / read / failed →
  MESSAGE_STATUS (as message_status_event builds it);
- MODIFY of a message (either direction) whose `edit_key` moved → MESSAGE_EDITED, whose `revoked_at`
  appeared → MESSAGE_REVOKED (issue 10; message_changes.py writes them, change_events.py builds them);
- anything else (a claim, parent_id set by the processor, a queued INSERT, a TTL REMOVE) → nothing.

The event ids are derived from the message and its state, so a record processed twice publishes the
same ids and receivers de-duplicate on X-Zapgate-Event-Id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zapgate_core.domain.change_events import message_edited_event, message_revoked_event
from zapgate_core.domain.events import MESSAGE_STATUSES, inbound_event, message_status_event


@dataclass(frozen=True)
class Change:
    """One stream record: its position in the shard, what happened, the item before and after."""

    sequence_number: str
    event_name: str  # INSERT | MODIFY | REMOVE
    old: dict[str, Any] | None
    new: dict[str, Any] | None


def events_of(change: Change) -> list[dict[str, Any]]:
    """The envelopes this change reports (usually zero or one)."""
    new, old = change.new or {}, change.old or {}
    if change.event_name == "INSERT" and new.get("history_silent"):
        return []  # a history sync's message, on an instance whose setting emits none (issue 13)
    if change.event_name == "INSERT" and new.get("direction") == "inbound":
        return [inbound_event(new)]
    if change.event_name == "INSERT" and new.get("direction") == "outbound" and new.get("source") == "phone":
        # Sent from the phone or another linked device: stored already sent, so its INSERT is its `sent`.
        event = message_status_event(new)
        return [event] if event is not None else []
    if (
        change.event_name == "MODIFY"
        and new.get("direction") == "outbound"
        and new.get("state") in MESSAGE_STATUSES
        and new.get("state") != old.get("state")
    ):
        event = message_status_event(new)
        return [event] if event is not None else []
    if change.event_name == "MODIFY" and new.get("direction") in ("inbound", "outbound"):
        found = []
        if new.get("edit_key") and new.get("edit_key") != old.get("edit_key"):
            found.append(message_edited_event(new, old))
        if new.get("revoked_at") and not old.get("revoked_at"):
            found.append(message_revoked_event(new))
        return found
    return []


def tenant_of(change: Change) -> str | None:
    """The tenant the events go to: the item's own tenant_id (set on every message at its first write)."""
    tenant = (change.new or {}).get("tenant_id")
    return str(tenant) if tenant else None
