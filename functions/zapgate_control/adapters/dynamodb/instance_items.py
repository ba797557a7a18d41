"""Instance items <-> the ports' records: every attribute name and key encoding of InstancesTable.

The lock is `lock_owner`, `lock_token`, `lock_expires_at_ms` and `lock_fence`; pending commands are the
`commands` map (id -> {type, at, phone}); `created_sk` and `priority_sk` are sort keys of the indexes;
numbers arrive as int or float (codec.from_item), never Decimal. An absent attribute becomes the record's default.
"""

from __future__ import annotations

from typing import Any

from zapgate_control.ports.instances import (
    EligibleRecord,
    InstanceChanges,
    InstanceCommand,
    InstanceProxy,
    InstanceRecord,
)
from zapgate_core.contract.common import PRIORITY_LIMIT
from zapgate_core.domain.locks import LockState


def priority_sk(priority: int, created_sk: str) -> str:
    # Ascending order of this key = priority descending, then creation order for stable ties.
    # PRIORITY_LIMIT bounds priorities so the number stays positive.
    return f"{PRIORITY_LIMIT - priority:08d}#{created_sk}"


def lock_state(item: dict[str, Any]) -> LockState:
    return LockState(
        owner=item.get("lock_owner"),
        token=item.get("lock_token"),
        expires_at_ms=int(item.get("lock_expires_at_ms", 0)),
        fence=int(item.get("lock_fence", 0)),
    )


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _commands(stored: Any) -> tuple[InstanceCommand, ...]:
    """The `commands` map as records, in the map's order; entries that are not maps are skipped."""
    if not isinstance(stored, dict):
        return ()
    return tuple(command_from_item(command_id, c) for command_id, c in stored.items() if isinstance(c, dict))


def command_from_item(command_id: str, stored: dict[str, Any]) -> InstanceCommand:
    return InstanceCommand(
        id=command_id, type=str(stored.get("type", "")), at_ms=int(stored.get("at", 0)),
        phone=_optional_str(stored.get("phone")),
    )


def command_item(command: InstanceCommand) -> dict[str, Any]:
    return {"type": command.type, "at": command.at_ms, **({"phone": command.phone} if command.phone else {})}


def record_from_item(item: dict[str, Any]) -> InstanceRecord:
    """An instance item (as from_item decodes it) as the port's record; absent attributes get defaults."""
    return InstanceRecord(
        id=str(item["id"]),
        tenant_id=str(item.get("tenant_id", "")),
        name=str(item.get("name", "")),
        priority=int(item.get("priority", 0)),
        enabled=bool(item.get("enabled", True)),
        status=str(item.get("status") or "DISCONNECTED"),
        created_at=str(item.get("created_at", "")),
        updated_at=str(item.get("updated_at", "")),
        lock=lock_state(item),
        status_at=_optional_str(item.get("status_at")),
        status_reason=_optional_str(item.get("status_reason")),
        qr_code=_optional_str(item.get("qr_code")),
        pairing_code=_optional_str(item.get("pairing_code")),
        wa_jid=_optional_str(item.get("wa_jid")),
        push_name=_optional_str(item.get("push_name")),
        ingest_monitored_groups_only=bool(item.get("ingest_monitored_groups_only") or False),
        commands=_commands(item.get("commands")),
        automations_enabled=bool(item.get("automations_enabled") or False),
        reject_calls=bool(item.get("reject_calls") or False),
        reject_call_message=_optional_str(item.get("reject_call_message")) or None,
        settings_version=int(item.get("settings_version", 0)),
        proxy=proxy_from_item(item.get("proxy")),
        pacing=item["pacing"] if isinstance(item.get("pacing"), dict) else None,
        history_sync=item["history_sync"] if isinstance(item.get("history_sync"), dict) else None,
    )


def proxy_from_item(stored: Any) -> InstanceProxy | None:
    """The `proxy` map (issue 13: scheme, host, port, has_credentials, secret_version); never the URL."""
    if not isinstance(stored, dict) or not stored.get("host"):
        return None
    return InstanceProxy(scheme=str(stored.get("scheme", "")), host=str(stored["host"]),
                         port=int(stored.get("port", 0)), has_credentials=bool(stored.get("has_credentials")),
                         secret_version=str(stored.get("secret_version", "")))


def proxy_item(proxy: InstanceProxy) -> dict[str, Any]:
    return {"scheme": proxy.scheme, "host": proxy.host, "port": proxy.port, "has_credentials": proxy.has_credentials,
            "secret_version": proxy.secret_version}


def eligible_record(item: dict[str, Any]) -> EligibleRecord:
    # The `eligible` index projects priority, lock_owner and lock_expires_at_ms only (template.yaml).
    return EligibleRecord(id=str(item["id"]), priority=int(item.get("priority", 0)), lock=lock_state(item))


def change_values(changes: InstanceChanges) -> dict[str, Any]:
    values = {
        "name": changes.name,
        "priority": changes.priority,
        "enabled": changes.enabled,
        "ingest_monitored_groups_only": changes.ingest_monitored_groups_only,
        "reject_calls": changes.reject_calls,
        "reject_call_message": changes.reject_call_message,
        "pacing": changes.pacing,
    }
    return {k: v for k, v in values.items() if v is not None}
