"""Audit table: what happened to an instance (session refresh requests now; seed 001's events later).

Keys: (instance_id, sk = "<ms>#<random>"), newest last; TTL on expires_at_epoch.
"""

from __future__ import annotations

import secrets
from typing import Any

from zapgate_control.adapters.dynamodb.codec import to_item
from zapgate_control.aws import client
from zapgate_control.clock import Clock, iso, system_clock

AUDIT_RETENTION_S = 180 * 86_400


class DynamoAuditLog:
    def __init__(self, table: str, clock: Clock = system_clock) -> None:
        self.table = table
        self.clock = clock

    def record(self, instance_id: str, event: str, detail: dict[str, Any]) -> None:
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
