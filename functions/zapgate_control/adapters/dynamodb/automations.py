"""AutomationsTable, automations: one partition per instance (docs/data-model.md#automationstable).

Keys: `pk = inst#<instance id>`, `sk = auto#<automation id>`; beside them the instance's counter item
`sk = meta` (`automation_count`, `enabled_count`). Item: `id`, `tenant_id`, `instance_id`, `kind`, `name`,
`enabled`, `position`, `version`, `created_at_ms`, `updated_at_ms`, `api_key_version` (absent: no key),
`request_hash` (a create made with an Idempotency-Key), and
the configuration as JSON text, `config` (or zlib-compressed bytes, `config_z`, when the JSON is large: an
agent with 20 tools of 16 KiB schemas and a long prompt would not fit DynamoDB's 400 KB item otherwise).

Every write that changes how many automations exist, or how many are enabled, is one TransactWriteItems
with the counter item, so `automation_count` bounds the instance (conditional) and `enabled_count` answers
`has_enabled` with one GetItem.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from zapgate_control.adapters.dynamodb.codec import from_item, to_item, to_values
from zapgate_control.aws import client
from zapgate_control.ports.automations import (
    AutomationExists,
    AutomationNotFound,
    AutomationRecord,
    AutomationVersionConflict,
    TooManyAutomations,
)

AUTOMATION_PREFIX = "auto#"
META_SK = "meta"
COMPRESS_ABOVE = 64 * 1024  # bytes of JSON; below, the configuration stays readable in the console


def instance_pk(instance_id: str) -> str:
    return f"inst#{instance_id}"


def automation_sk(automation_id: str) -> str:
    return f"{AUTOMATION_PREFIX}{automation_id}"


def _config_attributes(config: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(config, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    raw = text.encode()
    if len(raw) > COMPRESS_ABOVE:
        return {"config_z": zlib.compress(raw, 6)}
    return {"config": text}


def automation_item(record: AutomationRecord) -> dict[str, Any]:
    return {
        "pk": instance_pk(record.instance_id),
        "sk": automation_sk(record.id),
        "id": record.id,
        "tenant_id": record.tenant_id,
        "instance_id": record.instance_id,
        "kind": record.kind,
        "name": record.name,
        "enabled": record.enabled,
        "position": record.position,
        "version": record.version,
        "created_at_ms": record.created_at_ms,
        "updated_at_ms": record.updated_at_ms,
        "api_key_version": record.api_key_version,  # None: attribute absent
        "request_hash": record.request_hash,
        **_config_attributes(dict(record.config)),
    }


def automation_from_item(item: dict[str, Any]) -> AutomationRecord:
    compressed = item.get("config_z")
    if compressed is not None:
        config = json.loads(zlib.decompress(bytes(compressed)).decode())
    else:
        config = json.loads(str(item.get("config") or "{}"))
    return AutomationRecord(
        id=str(item["id"]),
        tenant_id=str(item["tenant_id"]),
        instance_id=str(item["instance_id"]),
        kind="agent" if item.get("kind") == "agent" else "rule",
        name=str(item.get("name", "")),
        enabled=bool(item.get("enabled", False)),
        position=int(item.get("position", 0)),
        config=config,
        version=int(item.get("version", 1)),
        created_at_ms=int(item.get("created_at_ms", 0)),
        updated_at_ms=int(item.get("updated_at_ms", 0)),
        api_key_version=str(item["api_key_version"]) if item.get("api_key_version") else None,
        request_hash=str(item["request_hash"]) if item.get("request_hash") else None,
    )


def _order(record: AutomationRecord) -> tuple[bool, int, str]:
    # zapgate_core.domain.automations.selection.ordered: rules, then agents, each by position, then id.
    return (record.kind != "rule", record.position, record.id)


def _reasons(exc: Exception) -> list[str | None]:
    response = getattr(exc, "response", None) or {}
    return [reason.get("Code") for reason in response.get("CancellationReasons", [])]


class DynamoAutomationStore:
    def __init__(self, table: str) -> None:
        self.table = table

    # ------------------------------------------------------------ reads
    def get(self, instance_id: str, automation_id: str) -> AutomationRecord | None:
        response = client("dynamodb").get_item(
            TableName=self.table,
            Key=to_item({"pk": instance_pk(instance_id), "sk": automation_sk(automation_id)}),
            ConsistentRead=True,
        )
        item = from_item(response.get("Item"))
        return automation_from_item(item) if item else None

    def list_for_instance(self, instance_id: str) -> list[AutomationRecord]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_values({":p": instance_pk(instance_id), ":prefix": AUTOMATION_PREFIX}),
            "ConsistentRead": True,
        }
        records: list[AutomationRecord] = []
        while True:  # bounded: at most max_per_instance items, a page holds 1 MB of them
            response = client("dynamodb").query(**request)
            records.extend(automation_from_item(item) for item in (from_item(raw) for raw in response["Items"]) if item)
            last = response.get("LastEvaluatedKey")
            if not last:
                return sorted(records, key=_order)
            request["ExclusiveStartKey"] = last

    def has_enabled(self, instance_id: str) -> bool:
        response = client("dynamodb").get_item(
            TableName=self.table,
            Key=to_item({"pk": instance_pk(instance_id), "sk": META_SK}),
            ProjectionExpression="enabled_count",
        )
        item = from_item(response.get("Item")) or {}
        return int(item.get("enabled_count") or 0) > 0

    # ------------------------------------------------------------ writes
    def _meta_update(self, instance_id: str, count_delta: int, enabled_delta: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": to_item({"pk": instance_pk(instance_id), "sk": META_SK}),
                "UpdateExpression": "ADD automation_count :c, enabled_count :e",
                "ExpressionAttributeValues": to_values({":c": count_delta, ":e": enabled_delta}),
            }
        }

    def create(self, record: AutomationRecord, max_per_instance: int) -> None:
        meta = self._meta_update(record.instance_id, 1, 1 if record.enabled else 0)
        meta["Update"]["ConditionExpression"] = "attribute_not_exists(automation_count) OR automation_count < :max"
        meta["Update"]["ExpressionAttributeValues"].update(to_values({":max": max_per_instance}))
        put = {
            "Put": {
                "TableName": self.table,
                "Item": to_item(automation_item(record)),
                "ConditionExpression": "attribute_not_exists(sk)",
            }
        }
        ddb = client("dynamodb")
        try:
            ddb.transact_write_items(TransactItems=[meta, put])
        except ddb.exceptions.TransactionCanceledException as exc:
            reasons = _reasons(exc)
            if reasons[1:2] == ["ConditionalCheckFailed"]:
                existing = self.get(record.instance_id, record.id)
                if existing is not None:
                    raise AutomationExists(existing) from None
            if reasons[:1] == ["ConditionalCheckFailed"]:
                raise TooManyAutomations(max_per_instance) from None
            raise

    def replace(self, record: AutomationRecord, expected: AutomationRecord) -> AutomationRecord:
        stored = AutomationRecord(
            id=expected.id, tenant_id=expected.tenant_id, instance_id=expected.instance_id, kind=record.kind,
            name=record.name, enabled=record.enabled, position=record.position, config=record.config,
            version=expected.version + 1, created_at_ms=expected.created_at_ms, updated_at_ms=record.updated_at_ms,
            api_key_version=record.api_key_version, request_hash=expected.request_hash,
        )
        put = {
            "TableName": self.table,
            "Item": to_item(automation_item(stored)),
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": to_values({":v": expected.version}),
        }
        enabled_delta = int(stored.enabled) - int(expected.enabled)
        ddb = client("dynamodb")
        try:
            if enabled_delta:
                ddb.transact_write_items(
                    TransactItems=[{"Put": put}, self._meta_update(expected.instance_id, 0, enabled_delta)]
                )
            else:
                ddb.put_item(**put)
        except (ddb.exceptions.TransactionCanceledException, ddb.exceptions.ConditionalCheckFailedException):
            raise AutomationVersionConflict(self.get(expected.instance_id, expected.id)) from None
        return stored

    def delete(self, instance_id: str, automation_id: str, expected_version: int | None = None) -> AutomationRecord:
        current = self.get(instance_id, automation_id)
        if current is None:
            raise AutomationNotFound(automation_id)
        if expected_version is not None and current.version != expected_version:
            raise AutomationVersionConflict(current)
        delete = {
            "Delete": {
                "TableName": self.table,
                "Key": to_item({"pk": instance_pk(instance_id), "sk": automation_sk(automation_id)}),
                "ConditionExpression": "version = :v",  # as read: the enabled count follows what is removed
                "ExpressionAttributeValues": to_values({":v": current.version}),
            }
        }
        ddb = client("dynamodb")
        try:
            ddb.transact_write_items(
                TransactItems=[delete, self._meta_update(instance_id, -1, -1 if current.enabled else 0)]
            )
        except ddb.exceptions.TransactionCanceledException:
            now = self.get(instance_id, automation_id)
            if now is None:
                raise AutomationNotFound(automation_id) from None
            raise AutomationVersionConflict(now) from None
        return current
