"""WhatsApp groups: discovery from the sidecar (names only) and the tenant's monitor flags.

Seed 001: discovery upserts groups by their WhatsApp id, records renames (audit
`group_rename {from, to, wa_group_id}`) and `discovery {count}`, and NEVER changes `monitor`;
only PATCH /v1/instances/{id}/groups/{jid} does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zapgate_control.errors import NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.audit import AuditLog
from zapgate_control.ports.contacts import Group, GroupNotFound, GroupStore
from zapgate_control.ports.instances import InstanceStore
from zapgate_control.services.instances import invalid_cursor, require

# The public API imports this module too; the worker-proxy contract (pydantic models, ~35 ms to build at
# a cold start) is imported only inside the worker-side functions that answer with it.
if TYPE_CHECKING:
    from zapgate_core.contract.worker_proxy import GroupsRequest, GroupsResponse


def discovered(instances: InstanceStore, groups: GroupStore, audit: AuditLog, request: GroupsRequest) -> GroupsResponse:
    from zapgate_core.contract.worker_proxy import GroupsResponse

    instance_id = request.instance_id
    if instances.get(instance_id) is None:
        raise NotFound("instance")
    names = {group.jid: group.name for group in request.groups}  # a repeated jid: the last name wins
    created = renamed = 0
    for jid, name in names.items():
        outcome, previous = groups.upsert(instance_id, jid, name)
        if outcome == "created":
            created += 1
        elif outcome == "renamed":
            renamed += 1
            audit.record(instance_id, "group_rename", {"from": previous, "to": name, "wa_group_id": jid})
    audit.record(instance_id, "discovery", {"count": len(names), "created": created, "renamed": renamed})
    metrics.add_metric(name="GroupsDiscovered", unit="Count", value=len(names))
    return GroupsResponse(count=len(names), created=created, renamed=renamed)


def renamed(groups: GroupStore, audit: AuditLog, instance_id: str, jid: str, name: str) -> str | None:
    """A tracked group's new name, as WhatsApp has it (its notification, or a rename this instance asked for and
    WhatsApp did): stored now rather than at the next discovery, audited once (seed 001's `group_rename`; a repeat
    of the same name records nothing). An untracked group is left to discovery, which also sets its monitor flag.
    Answers the previous name (None: untracked), read by the same conditional UpdateItem."""
    tracked, previous = groups.rename_known(instance_id, jid, name)
    if tracked and previous != name:
        audit.record(instance_id, "group_rename", {"from": previous, "to": name, "wa_group_id": jid})
    return previous


def page(
    instances: InstanceStore, groups: GroupStore, tenant_id: str, instance_id: str, limit: int, cursor: str | None
) -> tuple[list[Group], str | None]:
    require(instances, tenant_id, instance_id)
    try:
        return groups.page(instance_id, limit, cursor)
    except ValueError as exc:
        raise invalid_cursor() from exc


def set_monitor(
    instances: InstanceStore, groups: GroupStore, tenant_id: str, instance_id: str, jid: str, monitor: bool
) -> Group:
    require(instances, tenant_id, instance_id)
    try:
        return groups.set_monitor(instance_id, jid, monitor)
    except GroupNotFound as exc:
        raise NotFound("group") from exc
