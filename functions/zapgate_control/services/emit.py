"""Events the worker-proxy reports after its writes: what changed → envelope → EventsQueue.

Called only once a write has really changed something (a new inbound message, a status that is
not the one stored before, a message that moved), so a sidecar's retry reports nothing twice.
None of this touches DynamoDB: the envelopes come from the items the writes already returned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from zapgate_control.ports import EventPublisher
from zapgate_core.domain.events import (
    inbound_event,
    instance_qr_event,
    instance_status_event,
    message_status_event,
    pairing_changed,
)

# What update_status removes when the report leaves it out (a reason belongs to one status only).
_CLEARED_WHEN_NONE = frozenset({"qr_code", "pairing_code", "status_reason"})


def inbound_stored(events: EventPublisher | None, tenant_id: str | None, item: dict[str, Any]) -> None:
    if events is None or not tenant_id:
        return
    events.publish(tenant_id, [inbound_event(item)])


def status_changed(
    events: EventPublisher | None, before: dict[str, Any], status: str, fields: dict[str, Any]
) -> None:
    """`before` is the instance as it was (update_status answers ALL_OLD); the events say what it is now.

    INSTANCE_STATUS when the status changed; INSTANCE_QR (live connections only, never webhooks)
    when a new QR or pairing code was stored.
    """
    tenant_id = before.get("tenant_id")
    if events is None or not tenant_id:
        return
    now = {k: v for k, v in before.items() if k != "status_at"}  # status_at of the old status
    for key, value in fields.items():
        if value is not None:
            now[key] = value
        elif key in _CLEARED_WHEN_NONE:
            now.pop(key, None)
    now.update({"id": before.get("id"), "status": status})
    batch = [instance_status_event(now, before.get("status"))]
    if pairing_changed(before, now):
        batch.append(instance_qr_event(now))
    found = [event for event in batch if event is not None]
    if found:
        events.publish(str(tenant_id), found)


def messages_moved(events: EventPublisher | None, items: Iterable[dict[str, Any]]) -> None:
    """Outbound messages that moved to sent/delivered/read/failed, reported per tenant."""
    if events is None:
        return
    by_tenant: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        event = message_status_event(item)
        if event is not None and item.get("tenant_id"):
            by_tenant[str(item["tenant_id"])].append(event)
    for tenant_id, batch in by_tenant.items():
        events.publish(tenant_id, batch)
