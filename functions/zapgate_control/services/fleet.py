"""What sidecars read and report about the fleet: settings, eligible instances, status."""

from __future__ import annotations

from zapgate_control.adapters.dynamodb.instances import InstanceNotFound, StaleLockToken, live_lock_owner
from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports import AuditLog, InstanceStore
from zapgate_core.contract.worker_proxy import (
    EligibleInstance,
    EligibleInstances,
    UpdateStatusRequest,
    WorkerSettings,
)


def worker_settings(max_active_instances: int) -> WorkerSettings:
    return WorkerSettings(max_active_instances=max_active_instances)


def eligible(instances: InstanceStore, limit: int, now_ms: int) -> EligibleInstances:
    return EligibleInstances(
        instances=[
            EligibleInstance(id=i["id"], priority=int(i.get("priority", 0)), owner=live_lock_owner(i, now_ms))
            for i in instances.eligible(limit)
        ]
    )


def update_status(instances: InstanceStore, request: UpdateStatusRequest) -> None:
    fields = {
        "qr_code": request.qr_code,
        "pairing_code": request.pairing_code,
        "status_reason": request.reason,
    }
    if request.status == "CONNECTED":
        fields.update({"wa_jid": request.jid, "push_name": request.push_name, "qr_code": None, "pairing_code": None})
    try:
        instances.update_status(request.instance_id, request.status, fields, request.lock_token)
    except InstanceNotFound as exc:
        raise NotFound("instance") from exc
    except StaleLockToken as exc:
        raise ApiError(409, "stale_lock_token", "the lock token is not the instance's current one") from exc
    metrics.add_metric(name=f"Status{request.status.title()}", unit="Count", value=1)


def session_refresh(audit: AuditLog, instance_id: str, jid: str | None, trigger: str | None) -> None:
    audit.record(instance_id, "session_refresh", {"jid": jid, "trigger": trigger})
