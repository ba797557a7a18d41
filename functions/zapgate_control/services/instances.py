"""Instances as a tenant manages them: create, list, read, change, delete.

Every read and write is scoped to the caller's tenant, and an instance of another tenant
answers exactly like one that does not exist (404), so ids cannot be probed across tenants.
"""

from __future__ import annotations

from zapgate_control.clock import system_clock
from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.instances import InstanceChanges, InstanceNotFound, InstanceRecord, InstanceStore
from zapgate_control.services import instance_settings
from zapgate_control.services.sidecar_wakeups import SidecarWaker
from zapgate_core.contract.sidecar_push import push_frame

INITIAL_STATUS = "DISCONNECTED"


def invalid_cursor() -> ApiError:
    return ApiError(400, "invalid_cursor", "cursor is not one this listing handed out")


def require(instances: InstanceStore, tenant_id: str, instance_id: str) -> InstanceRecord:
    """The tenant's instance, or 404 whether it is unknown or someone else's."""
    record = instances.get_for_tenant(tenant_id, instance_id)
    if record is None:
        raise NotFound("instance")
    return record


def create(
    instances: InstanceStore, tenant_id: str, name: str, priority: int, enabled: bool,
    waker: SidecarWaker | None = None,
) -> InstanceRecord:
    record = instances.create(tenant_id, name, priority, enabled)
    metrics.add_metric(name="InstancesCreated", unit="Count", value=1)
    if enabled and waker is not None:
        waker.broadcast(push_frame("discover", reason="instances_changed"))
    return record


def list_page(
    instances: InstanceStore, tenant_id: str, limit: int, cursor: str | None
) -> tuple[list[InstanceRecord], str | None]:
    try:
        return instances.list_for_tenant(tenant_id, limit, cursor)
    except ValueError as exc:
        raise invalid_cursor() from exc


def update(
    instances: InstanceStore, tenant_id: str, instance_id: str, changes: InstanceChanges,
    waker: SidecarWaker | None = None,
) -> InstanceRecord:
    try:
        record = instances.update(tenant_id, instance_id, changes)
    except InstanceNotFound as exc:
        raise NotFound("instance") from exc
    if waker is not None and changes.changes_discovery():  # every sidecar runs discovery now
        waker.broadcast(push_frame("discover", reason="instances_changed"))
    if changes.changes_sidecar_settings():  # the holder fetches them again (services/instance_settings.py)
        instance_settings.tell_holder(record, waker, system_clock())
    return record


def delete(instances: InstanceStore, tenant_id: str, instance_id: str, waker: SidecarWaker | None = None) -> None:
    try:
        instances.delete(tenant_id, instance_id)
    except InstanceNotFound as exc:
        raise NotFound("instance") from exc
    metrics.add_metric(name="InstancesDeleted", unit="Count", value=1)
    if waker is not None:
        waker.broadcast(push_frame("discover", reason="instances_changed"))
