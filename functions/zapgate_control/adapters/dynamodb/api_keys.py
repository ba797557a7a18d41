"""API keys table: SHA-256 of each key → its tenant. The key itself is never stored.

Keys are 32+ random bytes, so a plain SHA-256 is a safe verifier (no dictionary to attack)
and keeps the per-request check to one GetItem. That read is strongly consistent, and nothing
caches it, so a revoked key is refused from the very next request.

Item: `key_hash` (table key), `id` (uuid, the key's public name), `tenant_id`, `label`,
`revoked`, `revoked_at`, `created_at`, `created_sk` = `<ms:013d>#<id>`, `last4` (the raw key's
last four characters, to recognise it in a listing). GSI `by_tenant` (tenant_id, created_sk)
lists a tenant's keys and finds one by id; its cursor is the created_sk, never the table key
(the hash). The rate limiter's counters (`rl#...`, adapters/dynamodb/rate_limits.py) share the
table but carry no tenant_id, so they never appear in the index.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from zapgate_control.adapters.dynamodb.codec import from_item, to_item, to_values
from zapgate_control.aws import client
from zapgate_control.clock import Clock, iso, system_clock
from zapgate_control.ports.api_keys import ApiKey, ApiKeyNotFound, KeysChanged, LastActiveKey

INDEX = "by_tenant"
LAST_CHARS = 4


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_from_item(item: dict[str, Any]) -> ApiKey:
    """What may leave the control plane: never key_hash (nor, of course, the key)."""
    return ApiKey(
        id=str(item["id"]),
        label=item.get("label") or None,  # stored "" when none was given
        created_at=str(item["created_at"]),
        revoked=bool(item.get("revoked")),
        revoked_at=item.get("revoked_at"),
        last4=item.get("last4"),
    )


def put_api_key(table_name: str, raw_key: str, tenant_id: str, label: str) -> ApiKey:
    """Operator path (admin create-key, local stack, tests): store a key the caller generated."""
    return DynamoApiKeyStore(table_name).create(tenant_id, label, raw_key)


def backfill_ids(table_name: str, clock: Clock = system_clock) -> int:
    """Give keys stored before ids existed an id and created_sk, so /v1/keys lists and revokes them.

    One Scan of the table (operator command, run once after the upgrade); rate-limit counters and
    keys that already have an id are left alone. Returns how many keys were updated.
    """
    dynamodb = client("dynamodb")
    updated = 0
    for page in dynamodb.get_paginator("scan").paginate(TableName=table_name):
        for raw in page.get("Items", []):
            item = from_item(raw) or {}
            if item.get("id") or not item.get("tenant_id"):
                continue
            now = clock()
            key_id = str(uuid.uuid4())
            try:
                dynamodb.update_item(
                    TableName=table_name,
                    Key=to_item({"key_hash": item["key_hash"]}),
                    UpdateExpression="SET id = :id, created_at = :at, created_sk = :sk",
                    ConditionExpression="attribute_exists(key_hash) AND attribute_not_exists(id)",
                    ExpressionAttributeValues=to_values(
                        {":id": key_id, ":at": iso(now), ":sk": f"{now:013d}#{key_id}"}
                    ),
                )
            except dynamodb.exceptions.ConditionalCheckFailedException:
                continue  # deleted or backfilled meanwhile
            updated += 1
    return updated


def _created_sk(cursor: str | None) -> str | None:
    """A listing cursor is the last created_sk handed out: `<13 digits>#<uuid>`."""
    if cursor is None:
        return None
    ms, sep, key_id = cursor.partition("#")
    try:
        valid = sep == "#" and len(ms) == 13 and ms.isdigit() and str(uuid.UUID(key_id)) == key_id
    except ValueError:
        valid = False
    if not valid:
        raise ValueError("malformed cursor")
    return cursor


class DynamoApiKeyStore:
    def __init__(self, table: str, clock: Clock = system_clock) -> None:
        self.table = table
        self.clock = clock

    # ------------------------------------------------------------ authentication (every request)
    def caller_for(self, raw_key: str) -> tuple[str, str] | None:
        """(tenant_id, key_hash) of an active key, else None."""
        key_hash = hash_key(raw_key)
        response = client("dynamodb").get_item(
            TableName=self.table,
            Key=to_item({"key_hash": key_hash}),
            ProjectionExpression="tenant_id, revoked",
            ConsistentRead=True,  # a revocation must hold from the next request on
        )
        item: dict[str, Any] = from_item(response.get("Item")) or {}
        if not item.get("tenant_id") or item.get("revoked"):
            return None
        return item["tenant_id"], key_hash

    def tenant_for(self, raw_key: str) -> str | None:
        caller = self.caller_for(raw_key)
        return caller[0] if caller else None

    # ------------------------------------------------------------ management (public API, admin)
    def create(self, tenant_id: str, label: str | None, raw_key: str) -> ApiKey:
        now = self.clock()
        key_id = str(uuid.uuid4())
        item = {
            "key_hash": hash_key(raw_key),
            "id": key_id,
            "tenant_id": tenant_id,
            "label": label or "",
            "revoked": False,
            "created_at": iso(now),
            "created_sk": f"{now:013d}#{key_id}",
            "last4": raw_key[-LAST_CHARS:],
        }
        client("dynamodb").put_item(TableName=self.table, Item=to_item(item))
        return api_key_from_item(item)

    def list_for_tenant(self, tenant_id: str, limit: int, cursor: str | None) -> tuple[list[ApiKey], str | None]:
        after = _created_sk(cursor)
        condition = "tenant_id = :t" + (" AND created_sk > :after" if after else "")
        values = {":t": tenant_id, **({":after": after} if after else {})}
        response = client("dynamodb").query(
            TableName=self.table,
            IndexName=INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=to_values(values),
            Limit=limit,
        )
        items = [i for i in (from_item(raw) for raw in response.get("Items", [])) if i]
        next_cursor = items[-1]["created_sk"] if items and response.get("LastEvaluatedKey") else None
        return [api_key_from_item(i) for i in items], next_cursor

    def _tenant_keys(self, tenant_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX,
            "KeyConditionExpression": "tenant_id = :t",
            "ExpressionAttributeValues": to_values({":t": tenant_id}),
        }
        while True:
            response = client("dynamodb").query(**request)
            items.extend(i for i in (from_item(raw) for raw in response.get("Items", [])) if i)
            if not response.get("LastEvaluatedKey"):
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def revoke(self, tenant_id: str, key_id: str, caller_hash: str) -> None:
        """Revoke the tenant's key `key_id` on behalf of the key `caller_hash`.

        At least one active key must remain, so a tenant can never lock itself out: the revocation
        and a check that another key (the caller's, or when it revokes itself any other active one)
        is still active commit in one transaction. Two keys revoking each other at once therefore
        cannot both succeed. Revoking an already revoked key changes nothing.
        """
        keys = self._tenant_keys(tenant_id)
        target = next((k for k in keys if k.get("id") == key_id), None)
        if target is None:
            raise ApiKeyNotFound(key_id)
        if target.get("revoked"):
            return
        if target["key_hash"] != caller_hash:
            witness: str | None = caller_hash
        else:
            witness = next((k["key_hash"] for k in keys if k["key_hash"] != caller_hash and not k.get("revoked")), None)
            if witness is None:
                raise LastActiveKey(key_id)
        try:
            client("dynamodb").transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": to_item({"key_hash": target["key_hash"]}),
                            "UpdateExpression": "SET revoked = :yes, revoked_at = :now",
                            "ConditionExpression": "tenant_id = :t AND revoked = :no",
                            "ExpressionAttributeValues": to_values(
                                {":yes": True, ":no": False, ":now": iso(self.clock()), ":t": tenant_id}
                            ),
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": to_item({"key_hash": witness}),
                            "ConditionExpression": "tenant_id = :t AND revoked = :no",
                            "ExpressionAttributeValues": to_values({":t": tenant_id, ":no": False}),
                        }
                    },
                ]
            )
        except client("dynamodb").exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return  # revoked meanwhile (the index lags the table by a moment): already done
            if reasons[1:2] == ["ConditionalCheckFailed"]:
                raise LastActiveKey(key_id) from exc
            raise KeysChanged(key_id) from exc
