"""Instances table: the instance itself, its connection status and its lock, in one item.

Keeping the lock on the instance item means an unknown instance can never be locked (the
condition requires the item), deleting an instance drops its lock, and a fenced status write
is one conditional UpdateItem on the same item.

Keys: `id`; GSI `by_tenant` (tenant_id, created_sk) lists a tenant's instances; sparse GSI
`eligible` (eligible_pk present only while enabled, priority_sk) serves eligible-instances in
priority order without a scan.

Items become the ports' typed records in instance_items.py, and nowhere else.
"""

from __future__ import annotations

import uuid
from typing import Any

from zapgate_control.adapters.dynamodb.codec import (
    from_item,
    is_conditional_failure,
    old_item,
    to_item,
    to_values,
)
from zapgate_control.adapters.dynamodb.instance_items import (
    change_values,
    command_from_item,
    command_item,
    eligible_record,
    lock_state,
    priority_sk,
    proxy_item,
    record_from_item,
)
from zapgate_control.adapters.dynamodb.paging import query_page
from zapgate_control.aws import client
from zapgate_control.clock import Clock, iso, system_clock
from zapgate_control.ports.instances import (
    EligibleRecord,
    InstanceChanges,
    InstanceCommand,
    InstanceNotFound,
    InstanceProxy,
    InstanceRecord,
    StaleLockToken,
    StatusReport,
    TooManyCommands,
)
from zapgate_core.domain.locks import LockState, may_renew, new_token

__all__ = ["ELIGIBLE", "DynamoInstanceStore", "priority_sk", "record_from_item"]

ELIGIBLE = "ENABLED"
_LOCK_FIELDS = ("lock_owner", "lock_token", "lock_expires_at_ms")
# What a status report replaces: absent from the report means removed (they describe one status only).
_PER_STATUS_FIELDS = ("qr_code", "pairing_code", "status_reason")


def _held_by(owner: str, token: str | None) -> tuple[str, dict[str, Any]]:
    """The condition "the caller holds the lock"; tokens are checked when given (old workers send none)."""
    if token is None:
        return "lock_owner = :o", {":o": owner}
    return "lock_owner = :o AND lock_token = :t", {":o": owner, ":t": token}


class DynamoInstanceStore:
    def __init__(self, table: str, clock: Clock = system_clock) -> None:
        self.table = table
        self.clock = clock

    # ------------------------------------------------------------ CRUD (public API)
    def create(self, tenant_id: str, name: str, priority: int, enabled: bool) -> InstanceRecord:
        now = self.clock()
        instance_id = str(uuid.uuid4())
        created_sk = f"{now:013d}#{instance_id}"
        item = {
            "id": instance_id,
            "tenant_id": tenant_id,
            "name": name,
            "priority": priority,
            "enabled": enabled,
            "status": "DISCONNECTED",
            "created_at": iso(now),
            "updated_at": iso(now),
            "created_sk": created_sk,
            "priority_sk": priority_sk(priority, created_sk),
            "eligible_pk": ELIGIBLE if enabled else None,
            "lock_fence": 0,
        }
        client("dynamodb").put_item(
            TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(id)"
        )
        return record_from_item({k: v for k, v in item.items() if v is not None})

    def _get_item(self, instance_id: str, consistent: bool = False) -> dict[str, Any] | None:
        response = client("dynamodb").get_item(
            TableName=self.table, Key=to_item({"id": instance_id}), ConsistentRead=consistent
        )
        return from_item(response.get("Item"))

    def get(self, instance_id: str, consistent: bool = False) -> InstanceRecord | None:
        item = self._get_item(instance_id, consistent)
        return None if item is None else record_from_item(item)

    def get_for_tenant(self, tenant_id: str, instance_id: str) -> InstanceRecord | None:
        record = self.get(instance_id)
        return record if record is not None and record.tenant_id == tenant_id else None

    def list_for_tenant(
        self, tenant_id: str, limit: int, cursor: str | None
    ) -> tuple[list[InstanceRecord], str | None]:
        items, next_cursor = query_page(
            self.table, "by_tenant", ("tenant_id", tenant_id), "created_sk", limit, cursor
        )
        return [record_from_item(i) for i in items], next_cursor

    def update(self, tenant_id: str, instance_id: str, changes: InstanceChanges) -> InstanceRecord:
        """Apply name/priority/enabled changes; keeps the eligible index in step. Tenant-conditional."""
        current = self._get_item(instance_id)
        if current is None or current.get("tenant_id") != tenant_id:
            raise InstanceNotFound(instance_id)
        values = change_values(changes)
        sets = {"updated_at": iso(self.clock()), **values}
        removes: list[str] = []
        if "priority" in values:
            sets["priority_sk"] = priority_sk(values["priority"], current["created_sk"])
        if "enabled" in values:
            if values["enabled"]:
                sets["eligible_pk"] = ELIGIBLE
            else:
                removes.append("eligible_pk")
        names = {f"#{k}": k for k in [*sets, *removes]}
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in sets)
        bump: dict[str, int] = {}
        if changes.changes_sidecar_settings():  # in the same write: a holder never sees new settings, old version
            names["#settings_version"] = "settings_version"
            expression += ", #settings_version = if_not_exists(#settings_version, :zero) + :one"
            bump = {":zero": 0, ":one": 1}
        if removes:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": instance_id}),
                UpdateExpression=expression,
                ConditionExpression="tenant_id = :tenant",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_values({**{f":{k}": v for k, v in sets.items()}, ":tenant": tenant_id,
                                                **bump}),
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                raise InstanceNotFound(instance_id) from exc
            raise
        return record_from_item(from_item(response["Attributes"]) or {"id": instance_id})

    def set_proxy(self, tenant_id: str, instance_id: str, proxy: InstanceProxy | None) -> InstanceRecord:
        """Issue 13: the proxy's public part and the settings_version bump in one tenant-conditional write."""
        bump = "#v = if_not_exists(#v, :zero) + :one, updated_at = :now"
        values: dict[str, Any] = {":tenant": tenant_id, ":zero": 0, ":one": 1, ":now": iso(self.clock())}
        if proxy is None:
            expression = f"SET {bump} REMOVE proxy"
        else:
            expression = f"SET proxy = :proxy, {bump}"
            values[":proxy"] = proxy_item(proxy)
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": instance_id}),
                UpdateExpression=expression,
                ConditionExpression="tenant_id = :tenant",
                ExpressionAttributeNames={"#v": "settings_version"},
                ExpressionAttributeValues=to_values(values),
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                raise InstanceNotFound(instance_id) from exc
            raise
        return record_from_item(from_item(response["Attributes"]) or {"id": instance_id})

    def delete(self, tenant_id: str, instance_id: str) -> None:
        try:
            client("dynamodb").delete_item(
                TableName=self.table,
                Key=to_item({"id": instance_id}),
                ConditionExpression="tenant_id = :tenant",
                ExpressionAttributeValues=to_values({":tenant": tenant_id}),
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                raise InstanceNotFound(instance_id) from exc
            raise

    # ------------------------------------------------------------ discovery (worker-proxy)
    def eligible(self, limit: int) -> list[EligibleRecord]:
        response = client("dynamodb").query(
            TableName=self.table,
            IndexName="eligible",
            KeyConditionExpression="eligible_pk = :e",
            ExpressionAttributeValues=to_values({":e": ELIGIBLE}),
            Limit=limit,
        )
        return [eligible_record(i) for i in (from_item(raw) for raw in response.get("Items", [])) if i]

    def eligible_page(self, limit: int, cursor: str | None) -> tuple[list[EligibleRecord], str | None]:
        """`eligible`, one page at a time (zapgate extension): the same order, continued by `cursor`."""
        items, next_cursor = query_page(
            self.table, "eligible", ("eligible_pk", ELIGIBLE), "priority_sk", limit, cursor
        )
        return [eligible_record(i) for i in items], next_cursor

    # ------------------------------------------------------------ locks
    def acquire_lock(self, instance_id: str, owner: str, ttl_ms: int) -> tuple[bool, LockState]:
        """Take a free or expired lock (new token, fence + 1), or extend the caller's own."""
        now = self.clock()
        acquired, state = self._conditional_lock_write(
            instance_id,
            "SET lock_owner = :o, lock_token = :t, lock_expires_at_ms = :exp, "
            "lock_fence = if_not_exists(lock_fence, :zero) + :one",
            "attribute_exists(id) AND (attribute_not_exists(lock_owner) OR lock_expires_at_ms <= :now)",
            {":o": owner, ":t": new_token(), ":exp": now + ttl_ms, ":now": now, ":zero": 0, ":one": 1},
        )
        if not acquired and state.owner == owner:
            # Already ours (or a retried acquire that had succeeded): keep token and fence.
            return self.renew_lock(instance_id, owner, state.token, ttl_ms)
        return acquired, state

    def renew_lock(self, instance_id: str, owner: str, token: str | None, ttl_ms: int) -> tuple[bool, LockState]:
        renewed, state, _ = self.renew_lock_item(instance_id, owner, token, ttl_ms)
        return renewed, state

    def renew_lock_item(
        self, instance_id: str, owner: str, token: str | None, ttl_ms: int
    ) -> tuple[bool, LockState, InstanceRecord]:
        """renew_lock, plus the instance as the write left it (pending commands, at no extra read)."""
        condition, values = _held_by(owner, token)
        renewed, item = self._lock_write_item(
            instance_id, "SET lock_expires_at_ms = :exp", condition, {**values, ":exp": self.clock() + ttl_ms}
        )
        record = record_from_item({"id": instance_id, **item})
        assert renewed or not may_renew(record.lock, owner, token)  # the condition and the rule agree
        return renewed, record.lock, record

    def _conditional_lock_write(
        self, instance_id: str, update: str, condition: str, values: dict[str, Any]
    ) -> tuple[bool, LockState]:
        """(True, new state) when the condition held, (False, state as it was) when it did not."""
        done, item = self._lock_write_item(instance_id, update, condition, values)
        return done, lock_state(item)

    def _lock_write_item(
        self, instance_id: str, update: str, condition: str, values: dict[str, Any]
    ) -> tuple[bool, dict[str, Any]]:
        """(True, new item) when the condition held, (False, item as it was) when it did not."""
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": instance_id}),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=to_values(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True, from_item(response["Attributes"]) or {}
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            current = old_item(exc)
        if current is None:
            raise InstanceNotFound(instance_id)
        return False, current

    def release_lock(self, instance_id: str, owner: str, token: str | None) -> bool:
        condition, values = _held_by(owner, token)
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": instance_id}),
                UpdateExpression="REMOVE " + ", ".join(_LOCK_FIELDS),
                ConditionExpression=condition,
                ExpressionAttributeValues=to_values(values),
            )
            return True
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise

    # ------------------------------------------------------------ status
    def update_status(self, instance_id: str, report: StatusReport, lock_token: str | None) -> InstanceRecord:
        """Write status + QR (+ account details). Fenced: a token from a stale owner is refused.

        Returns the instance as it was before this write (the previous status decides the audit event).
        """
        now = self.clock()
        fields = {
            "qr_code": report.qr_code,
            "pairing_code": report.pairing_code,
            "status_reason": report.reason,
            "wa_jid": report.wa_jid,
            "push_name": report.push_name,
        }
        sets: dict[str, Any] = {"status": report.status, "status_at": iso(now), "updated_at": iso(now)}
        sets.update({k: v for k, v in fields.items() if v is not None})
        removes = [k for k in _PER_STATUS_FIELDS if fields[k] is None]
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in sets)
        if removes:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
        condition = "attribute_exists(id)"
        values = {f":{k}": v for k, v in sets.items()}
        if lock_token is not None:
            condition += " AND lock_token = :token"
            values[":token"] = lock_token
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": instance_id}),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={f"#{k}": k for k in [*sets, *removes]},
                ExpressionAttributeValues=to_values(values),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            if old_item(exc) is None:
                raise InstanceNotFound(instance_id) from exc
            raise StaleLockToken(instance_id) from exc
        return record_from_item(from_item(response.get("Attributes")) or {"id": instance_id})

    # ------------------------------------------------------------ commands (public API → lock holder)
    def add_command(
        self,
        tenant_id: str,
        instance_id: str,
        command: InstanceCommand,
        max_pending: int,
        expired_before_ms: int,
        disable: bool = False,
    ) -> None:
        """Add one entry to the item's `commands` map; tenant-conditional and bounded.

        Raises InstanceNotFound, or TooManyCommands when `max_pending` unexpired commands wait.
        Expired entries (`at` < expired_before_ms) are dropped when they are what fills the map.
        `disable` also sets enabled=false and leaves the eligible index (the disconnect command).
        """
        command_id, stored = command.id, command_item(command)
        sets = {"updated_at": iso(self.clock()), **({"enabled": False} if disable else {})}
        extra_set = "".join(f", #{k} = :{k}" for k in sets)
        names = {"#cid": command_id, **{f"#{k}": k for k in sets}}
        values = {f":{k}": v for k, v in sets.items()}
        remove = " REMOVE eligible_pk" if disable else ""
        for _ in range(4):
            try:
                client("dynamodb").update_item(
                    TableName=self.table,
                    Key=to_item({"id": instance_id}),
                    UpdateExpression=f"SET commands.#cid = :cmd{extra_set}{remove}",
                    ConditionExpression="tenant_id = :tenant AND attribute_exists(commands) AND size(commands) < :max",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=to_values(
                        {**values, ":cmd": stored, ":tenant": tenant_id, ":max": max_pending}
                    ),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return
            except Exception as exc:
                if not is_conditional_failure(exc):
                    raise
                current = old_item(exc)
            if current is None or current.get("tenant_id") != tenant_id:
                raise InstanceNotFound(instance_id)
            pending = current.get("commands")
            if not isinstance(pending, dict):
                if self._create_commands(tenant_id, instance_id, command_id, stored, sets, remove):
                    return
                continue  # someone created the map meanwhile: add to it
            expired = [cid for cid, c in pending.items() if int((c or {}).get("at", 0)) < expired_before_ms]
            if len(pending) < max_pending:
                continue  # an ack made room meanwhile
            if not expired:
                raise TooManyCommands(instance_id)
            self._drop_commands(instance_id, expired)
        raise TooManyCommands(instance_id)

    def _create_commands(
        self, tenant_id: str, instance_id: str, command_id: str, command: dict[str, Any],
        sets: dict[str, Any], remove: str,
    ) -> bool:
        extra_set = "".join(f", #{k} = :{k}" for k in sets)
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": instance_id}),
                UpdateExpression=f"SET commands = :map{extra_set}{remove}",
                ConditionExpression="tenant_id = :tenant AND attribute_not_exists(commands)",
                ExpressionAttributeNames={f"#{k}": k for k in sets},
                ExpressionAttributeValues=to_values(
                    {**{f":{k}": v for k, v in sets.items()}, ":map": {command_id: command}, ":tenant": tenant_id}
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            current = old_item(exc)
        if current is None or current.get("tenant_id") != tenant_id:
            raise InstanceNotFound(instance_id)
        return False

    def _drop_commands(self, instance_id: str, command_ids: list[str]) -> None:
        names = {f"#c{n}": cid for n, cid in enumerate(command_ids)}
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": instance_id}),
                UpdateExpression="REMOVE " + ", ".join(f"commands.{name}" for name in names),
                ConditionExpression="attribute_exists(id)",  # never recreate a deleted instance
                ExpressionAttributeNames=names,
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise

    def set_automations_enabled(self, instance_id: str, enabled: bool) -> bool:
        """Issue 11: the flag the worker-proxy copies onto inbound messages (`automate`). One UpdateItem."""
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": instance_id}),
                UpdateExpression="SET automations_enabled = :e",
                ConditionExpression="attribute_exists(id)",  # never recreate a deleted instance
                ExpressionAttributeValues=to_values({":e": enabled}),
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def remove_command(self, instance_id: str, command_id: str) -> InstanceCommand | None:
        """Remove a pending command (the ack); returns it, or None when it was no longer pending."""
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": instance_id}),
                UpdateExpression="REMOVE commands.#cid",
                ConditionExpression="attribute_exists(commands.#cid)",
                ExpressionAttributeNames={"#cid": command_id},
                ReturnValues="UPDATED_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            if old_item(exc) is None:
                raise InstanceNotFound(instance_id) from exc
            return None
        old = from_item(response.get("Attributes")) or {}
        removed = (old.get("commands") or {}).get(command_id)
        return command_from_item(command_id, removed if isinstance(removed, dict) else {})
