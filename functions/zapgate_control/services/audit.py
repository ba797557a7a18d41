"""An instance's audit log as its tenant reads it: newest first, paginated, 404 across tenants.

Events: seed 001's qr_generated, connect, disconnect, reconnect, error (from the sidecar's
status reports), discovery and group_rename (group discovery); zapgate's pairing_code,
command / command_done / command_failed, session_refresh.
"""

from __future__ import annotations

from zapgate_control.ports.audit import AuditEntry, AuditLog
from zapgate_control.ports.instances import InstanceStore
from zapgate_control.services.instances import invalid_cursor, require


def page(
    instances: InstanceStore, audit: AuditLog, tenant_id: str, instance_id: str, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    require(instances, tenant_id, instance_id)
    try:
        return audit.page(instance_id, limit, cursor)
    except ValueError as exc:
        raise invalid_cursor() from exc
