"""API keys table: SHA-256 of each key → its tenant. The key itself is never stored.

Keys are 32+ random bytes, so a plain SHA-256 is a safe verifier (no dictionary to attack)
and keeps the per-request check to one GetItem.
"""

from __future__ import annotations

import hashlib
from typing import Any

from zapgate_control.adapters.dynamodb.codec import from_item, to_item
from zapgate_control.aws import client


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def put_api_key(table_name: str, raw_key: str, tenant_id: str, label: str) -> None:
    client("dynamodb").put_item(
        TableName=table_name,
        Item=to_item({"key_hash": hash_key(raw_key), "tenant_id": tenant_id, "label": label, "revoked": False}),
    )


class DynamoApiKeyStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def tenant_for(self, raw_key: str) -> str | None:
        response = client("dynamodb").get_item(TableName=self.table, Key=to_item({"key_hash": hash_key(raw_key)}))
        item: dict[str, Any] = from_item(response.get("Item")) or {}
        if not item or item.get("revoked"):
            return None
        return item.get("tenant_id")
