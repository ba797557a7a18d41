"""Plain dicts ↔ DynamoDB's typed attribute maps, and the conditional-failure test."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def to_values(values: dict[str, Any]) -> dict[str, Any]:
    """ExpressionAttributeValues: like to_item, but None is kept out by the caller's expression."""
    return {key: _serializer.serialize(value) for key, value in values.items()}


def from_item(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if not item:
        return None
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def is_conditional_failure(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def old_item(exc: Exception) -> dict[str, Any] | None:
    """The item as it was when a condition failed (ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    response = getattr(exc, "response", None) or {}
    return from_item(response.get("Item"))


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    import base64
    import json

    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(from_item(last_key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, expected_keys: set[str]) -> dict[str, Any] | None:
    """Raises ValueError for anything that is not a cursor this API handed out."""
    import base64
    import binascii
    import json

    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: [[[[...
        raise ValueError("malformed cursor") from exc
    if not isinstance(decoded, dict) or set(decoded) != expected_keys:
        raise ValueError("malformed cursor")
    if not all(isinstance(v, str) for v in decoded.values()):
        raise ValueError("malformed cursor")
    return to_item(decoded)
