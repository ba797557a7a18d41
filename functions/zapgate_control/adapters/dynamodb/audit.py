"""Audit table: what happened to an instance (seed 001's events, commands, session refresh requests).

Keys: (instance_id, sk = "<ms>#<random>"), newest last; TTL on expires_at_epoch.
"""

from __future__ import annotations

import secrets
from typing import Any

from zapgate_control.adapters.dynamodb.codec import decode_cursor, encode_cursor, from_item, to_item, to_values
from zapgate_control.aws import client
from zapgate_control.clock import Clock, iso, system_clock
from zapgate_control.ports.audit import AuditEntry
from zapgate_core.domain.json_types import JsonObject

AUDIT_RETENTION_S = 180 * 86_400


class DynamoAuditLog:
    def __init__(self, table: str, clock: Clock = system_clock) -> None:
        self.table = table
        self.clock = clock

    def record(self, instance_id: str, event: str, detail: JsonObject) -> None:
        now = self.clock()
        item = {
            "instance_id": instance_id,
            "sk": f"{now:013d}#{secrets.token_hex(4)}",
            "event": event,
            "at": iso(now),
            "detail": {k: v for k, v in detail.items() if v is not None},
            "expires_at_epoch": now // 1000 + AUDIT_RETENTION_S,
        }
        client("dynamodb").put_item(TableName=self.table, Item=to_item(item))

    def page(self, instance_id: str, limit: int, cursor: str | None) -> tuple[list[AuditEntry], str | None]:
        """An instance's events, newest first (Query on the key, ScanIndexForward=false)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "instance_id = :i",
            "ExpressionAttributeValues": to_values({":i": instance_id}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_cursor(cursor, {"instance_id", "sk"})
        if start:
            if (from_item(start) or {}).get("instance_id") != instance_id:
                raise ValueError("cursor belongs to another listing")
            request["ExclusiveStartKey"] = start
        response = client("dynamodb").query(**request)
        items = [i for i in (from_item(raw) for raw in response.get("Items", [])) if i]
        entries = [AuditEntry(event=str(i["event"]), at=str(i["at"]), detail=i.get("detail") or {}) for i in items]
        return entries, encode_cursor(response.get("LastEvaluatedKey"))
