"""Message history and status for the public API: one message, or a timeline page.

A message is only visible through its own instance, and only to that instance's tenant:
the instance is checked first, then the message must name it.
"""

from __future__ import annotations

from typing import Any

from zapgate_control.errors import NotFound
from zapgate_control.ports import InstanceStore, MessageStore
from zapgate_control.services.instances import invalid_cursor, require


def get_message(
    instances: InstanceStore, messages: MessageStore, tenant_id: str, instance_id: str, message_id: str
) -> dict[str, Any]:
    require(instances, tenant_id, instance_id)
    item = messages.get(message_id)
    if item is None or item.get("instance_id") != instance_id:
        raise NotFound("message")
    return item


def timeline(
    instances: InstanceStore,
    messages: MessageStore,
    tenant_id: str,
    instance_id: str,
    direction: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    require(instances, tenant_id, instance_id)
    try:
        return messages.timeline(instance_id, direction, limit, cursor)
    except ValueError as exc:
        raise invalid_cursor() from exc
