"""Instance events the worker-proxy reports after its write: what changed → envelope → EventsQueue.

Only INSTANCE_STATUS / INSTANCE_QR are published on the request path, once `/update-status` has
really changed something, so a sidecar's retry reports nothing twice. Message events (MESSAGE_INBOUND,
MESSAGE_STATUS) go through the outbox instead: MessagesTable's stream → EventsPublisherFunction
(services/outbox.py). The Instances table is written on every lock renewal, so a stream there would
invoke a function constantly for nothing; and an instance event is state (the next one supersedes
it, GET /v1/instances/{id} reads it), so a rare lost publish is tolerable there (docs/events.md).
None of this touches DynamoDB: the envelopes come from the item the write already returned.
"""

from __future__ import annotations

from typing import Any

from zapgate_control.ports.events import EventPublisher
from zapgate_control.ports.instances import InstanceRecord, StatusReport
from zapgate_core.domain.events import instance_qr_event, instance_status_event, pairing_changed

# What update_status removes when the report leaves it out (a reason belongs to one status only).
_CLEARED_WHEN_NONE = frozenset({"qr_code", "pairing_code", "status_reason"})


def status_reported(events: EventPublisher | None, before: InstanceRecord, report: StatusReport) -> None:
    """status_changed for a sidecar's report, `before` being the instance the store's write replaced."""
    previous = {
        "id": before.id, "tenant_id": before.tenant_id, "status": before.status, "status_at": before.status_at,
        "status_reason": before.status_reason, "qr_code": before.qr_code, "pairing_code": before.pairing_code,
        "wa_jid": before.wa_jid, "push_name": before.push_name,
    }
    fields = {
        "qr_code": report.qr_code, "pairing_code": report.pairing_code, "status_reason": report.reason,
        "wa_jid": report.wa_jid, "push_name": report.push_name,
    }
    status_changed(events, {k: v for k, v in previous.items() if v is not None}, report.status, fields)


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

