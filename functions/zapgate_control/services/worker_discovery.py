"""What sidecars read to find their work, and how they report on it: settings, eligible instances
(with each sidecar's presence), status reports."""

from __future__ import annotations

from typing import Any

from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.audit import AuditLog
from zapgate_control.ports.events import EventPublisher
from zapgate_control.ports.instances import InstanceNotFound, InstanceStore, StaleLockToken, StatusReport
from zapgate_control.ports.presence import SidecarPresenceStore
from zapgate_control.services import emit
from zapgate_core.contract.worker_proxy import (
    EligibleInstance,
    EligibleInstances,
    UpdateStatusRequest,
    WorkerSettings,
)
from zapgate_core.domain.locks import live_lock_owner


def worker_settings(max_active_instances: int, push_url: str = "") -> WorkerSettings:
    """`push_url` (zapgate extension, absent when empty): the sidecars' push channel to connect to."""
    return WorkerSettings(max_active_instances=max_active_instances, push_url=push_url or None)


# A sidecar announces itself at most once a minute; its presence outlives three missed announces.
PRESENCE_TTL_MS = 3 * 60_000


def eligible(
    instances: InstanceStore,
    limit: int,
    now_ms: int,
    presence: SidecarPresenceStore | None = None,
    owner: str | None = None,
    announce: bool = False,
    leave: bool = False,
    paged: bool = False,
    cursor: str | None = None,
) -> EligibleInstances:
    """The eligible instances; with `announce` (zapgate extension) also the caller's presence.

    announce: one PutItem of the caller's presence (or, with `leave`, one DeleteItem) and one
    Query of the fleet's, answered as `sidecars`. Without it nothing else is read or written.
    paged / cursor (zapgate extension): the answer carries `next_cursor` while more instances follow
    (one Query per page either way); without them it is the first `limit` instances, as before.
    """
    sidecars: list[str] | None = None
    if announce and not owner:
        raise ApiError(422, "instance_owner_required", "announce needs instance_owner")
    if announce and owner and presence is not None:
        if leave:
            presence.leave(owner)
        else:
            presence.announce(owner, now_ms, PRESENCE_TTL_MS)
            sidecars = presence.live(now_ms)
    next_cursor: str | None = None
    if paged or cursor:
        try:
            records, next_cursor = instances.eligible_page(limit, cursor)
        except ValueError as exc:
            raise ApiError(400, "invalid_cursor", "cursor is not one this listing handed out") from exc
    else:
        records = instances.eligible(limit)
    return EligibleInstances(
        instances=[
            EligibleInstance(id=r.id, priority=r.priority, owner=live_lock_owner(r.lock, now_ms)) for r in records
        ],
        sidecars=sidecars,
        next_cursor=next_cursor,
    )


# DISCONNECTED reasons (the sidecar's `why`, up to the first ":") that are failures, not just closes.
ERROR_REASONS = frozenset({"connect_failed", "runtime_error", "bad_mac_breaker", "stream_replaced"})


def status_audit_events(previous: str | None, request: UpdateStatusRequest) -> list[tuple[str, dict[str, Any]]]:
    """Seed 001's connection events from one status report and the status it replaces."""
    if request.status == "CONNECTING":
        if request.qr_code:
            return [("qr_generated", {})]
        return [("pairing_code", {})] if request.pairing_code else []
    if request.status == "CONNECTED":
        if previous == "CONNECTED":
            return []
        return [("reconnect" if previous == "DISCONNECTED" else "connect", {"jid": request.jid})]
    events: list[tuple[str, dict[str, Any]]] = []
    if previous != "DISCONNECTED":
        events.append(("disconnect", {"reason": request.reason}))
    code = (request.reason or "").split(":", 1)[0]
    if code in ERROR_REASONS:
        events.append(("error", {"code": code, "reason": request.reason}))
    return events


def update_status(
    instances: InstanceStore,
    request: UpdateStatusRequest,
    audit: AuditLog | None = None,
    events: EventPublisher | None = None,
) -> None:
    connected = request.status == "CONNECTED"
    report = StatusReport(
        status=request.status,
        # A connected session has no QR or pairing code left to show.
        qr_code=None if connected else request.qr_code,
        pairing_code=None if connected else request.pairing_code,
        reason=request.reason,
        wa_jid=request.jid if connected else None,
        push_name=request.push_name if connected else None,
    )
    try:
        previous = instances.update_status(request.instance_id, report, request.lock_token)
    except InstanceNotFound as exc:
        raise NotFound("instance") from exc
    except StaleLockToken as exc:
        raise ApiError(409, "stale_lock_token", "the lock token is not the instance's current one") from exc
    metrics.add_metric(name=f"Status{request.status.title()}", unit="Count", value=1)
    if audit is not None:  # one audit write per status change, never per message
        for event, detail in status_audit_events(previous.status, request):
            audit.record(request.instance_id, event, detail)
    # INSTANCE_STATUS only when the status really changed (a new QR while CONNECTING is not news to
    # webhooks); a new QR / pairing code is INSTANCE_QR, pushed to the tenant's live connections only.
    emit.status_reported(events, previous, report)


def session_refresh(audit: AuditLog, instance_id: str, jid: str | None, trigger: str | None) -> None:
    audit.record(instance_id, "session_refresh", {"jid": jid, "trigger": trigger})
