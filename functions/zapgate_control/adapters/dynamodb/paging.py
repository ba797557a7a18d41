"""One page of a Query on one partition of a table's index, with an opaque cursor.

Every paginated listing is the same Query shape; the cursor is refused when it belongs to
another partition (DynamoDB would answer a foreign start key with a ValidationException, a 500).
"""

from __future__ import annotations

from typing import Any

from zapgate_control.adapters.dynamodb.codec import decode_cursor, encode_cursor, from_item, to_values
from zapgate_control.aws import client


def query_page(
    table: str,
    index: str,
    partition: tuple[str, str],
    sort_key: str,
    limit: int,
    cursor: str | None,
    newest_first: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """(items, next cursor) of `partition` = (attribute, value), `limit` items at most."""
    attribute, value = partition
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": f"{attribute} = :p",
        "ExpressionAttributeValues": to_values({":p": value}),
        "ScanIndexForward": not newest_first,
        "Limit": limit,
    }
    start = decode_cursor(cursor, {"id", attribute, sort_key})
    if start:
        if (from_item(start) or {}).get(attribute) != value:
            raise ValueError("cursor belongs to another listing")
        request["ExclusiveStartKey"] = start
    response = client("dynamodb").query(**request)
    items = [i for i in (from_item(raw) for raw in response.get("Items", [])) if i]
    return items, encode_cursor(response.get("LastEvaluatedKey"))
