"""BatchGetItem by `id`, in DynamoDB's pages of 100 keys, retrying the keys it leaves unprocessed (throttling)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from zapgate_control.adapters.dynamodb.codec import from_item
from zapgate_control.aws import client

BATCH_GET = 100  # BatchGetItem's limit
UNPROCESSED_RETRIES = 6


class KeysLeftUnread(RuntimeError):
    """DynamoDB kept leaving keys unprocessed after every retry (sustained throttling)."""


def batch_get_by_id(table: str, ids: Sequence[str], projection: str | None = None) -> list[dict[str, Any]]:
    """The items found among `ids` (any order; duplicates asked once), decoded; missing ids are simply absent."""
    unique = list(dict.fromkeys(ids))
    found: list[dict[str, Any]] = []
    for start in range(0, len(unique), BATCH_GET):
        keys: list[dict[str, Any]] = [{"id": {"S": i}} for i in unique[start:start + BATCH_GET]]
        page: dict[str, Any] = {"Keys": keys, **({"ProjectionExpression": projection} if projection else {})}
        request: dict[str, Any] = {table: page}
        for attempt in range(UNPROCESSED_RETRIES):
            response = client("dynamodb").batch_get_item(RequestItems=request)
            found.extend(item for raw in response.get("Responses", {}).get(table, []) if (item := from_item(raw)))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05 * 2**attempt)  # throttled: back off, then ask only for what was not read
        if request:
            raise KeysLeftUnread(f"{table}: keys left unread after {UNPROCESSED_RETRIES} tries")
    return found
