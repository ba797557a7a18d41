"""RequestsTable: requests to the phone (docs/requests.md), one item per request, key `id`.

Attributes: tenant_id, instance_id, op, args (a map), state, addressed_to, created_at_ms,
request_hash, then claimed_by, lock_token, claimed_at_ms once claimed, and result (a map) or
error_code / error_message, answered_at_ms once answered; `expires_at_epoch` is the TTL attribute.
Every transition is one conditional UpdateItem; a refused one returns the item as it was
(ReturnValuesOnConditionCheckFailure), so the service tells a retry from a conflict without a read.
"""

from __future__ import annotations

import json
from decimal import Context, Decimal, Overflow, Underflow
from typing import Any

from zapgate_control.adapters.dynamodb.codec import from_item, is_conditional_failure, old_item, to_item, to_values
from zapgate_control.aws import client
from zapgate_control.ports.requests import DuplicateRequest, RequestConflict, RequestRecord, ResultNotStorable
from zapgate_core.domain.json_types import JsonObject


def _record(item: dict[str, Any]) -> RequestRecord:
    def text(name: str) -> str | None:
        value = item.get(name)
        return None if value is None else str(value)

    return RequestRecord(
        id=str(item["id"]), tenant_id=str(item["tenant_id"]), instance_id=str(item["instance_id"]),
        op=str(item["op"]), args=dict(item.get("args") or {}), state=str(item["state"]),
        addressed_to=str(item.get("addressed_to", "")), created_at_ms=int(item.get("created_at_ms", 0)),
        request_hash=text("request_hash"), claimed_by=text("claimed_by"), lock_token=text("lock_token"),
        result=dict(item["result"]) if isinstance(item.get("result"), dict) else None,
        error_code=text("error_code"), error_message=text("error_message"),
    )


def _number(text: str) -> Decimal:
    """A JSON float as DynamoDB keeps it (38 significant digits, magnitudes from 1E-130 to 9.99E+125): rounded
    to 38 digits, 0 below the smallest magnitude, refused above the largest. A fresh context per number: nothing
    trapped (boto3's own context would raise decimal's signals instead of a 4xx), and no flags shared by threads."""
    context = Context(prec=38, Emin=-128, Emax=126, traps=[])
    number = context.create_decimal(text)
    if context.flags[Overflow] or not number.is_finite() or abs(number) >= Decimal("1E+126"):
        raise ResultNotStorable(f"the number {text[:40]} is too large to store")
    if context.flags[Underflow] or abs(number) < Decimal("1E-128"):
        return Decimal(0)  # below what DynamoDB keeps without clamping: a result's float this small is noise
    return number


def _storable(value: JsonObject) -> JsonObject:
    """DynamoDB takes numbers as Decimal only (a result may carry a float), within its range and precision."""
    return dict(json.loads(json.dumps(value), parse_float=_number))


class DynamoRequestStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def create(self, record: RequestRecord, ttl_s: int) -> None:
        item = {
            "id": record.id, "tenant_id": record.tenant_id, "instance_id": record.instance_id, "op": record.op,
            "args": _storable(record.args), "state": record.state, "addressed_to": record.addressed_to,
            "created_at_ms": record.created_at_ms, "request_hash": record.request_hash,
            "lock_token": record.lock_token, "expires_at_epoch": record.created_at_ms // 1000 + ttl_s,
        }
        try:
            client("dynamodb").put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            existing = old_item(exc) if is_conditional_failure(exc) else None
            if existing is None:
                raise
            raise DuplicateRequest(_record(existing)) from exc

    def get(self, request_id: str) -> RequestRecord | None:
        answer = client("dynamodb").get_item(
            TableName=self.table, Key=to_item({"id": request_id}), ConsistentRead=True
        )
        item = from_item(answer.get("Item"))
        return _record(item) if item else None

    def claim(self, request_id: str, instance_id: str, owner: str, lock_token: str, now_ms: int) -> RequestRecord:
        return self._update(
            request_id,
            "SET #state = :claimed, claimed_by = :owner, lock_token = :token, claimed_at_ms = :now",
            "#state = :pending AND instance_id = :instance AND addressed_to = :owner",
            {":claimed": "claimed", ":pending": "pending", ":owner": owner, ":token": lock_token,
             ":now": now_ms, ":instance": instance_id},
        )

    def answer(
        self, request_id: str, instance_id: str, owner: str, lock_token: str, state: str,
        result: JsonObject | None, error_code: str | None, error_message: str | None, now_ms: int,
    ) -> RequestRecord:
        sets = {"#state": ":state", "answered_at_ms": ":now"}
        values: dict[str, Any] = {":state": state, ":now": now_ms, ":claimed": "claimed", ":owner": owner,
                                  ":token": lock_token, ":instance": instance_id}
        if result is not None:
            sets["#result"] = ":result"
            values[":result"] = _storable(result)
        if error_code is not None:
            sets["error_code"] = ":code"
            sets["error_message"] = ":message"
            values[":code"] = error_code
            values[":message"] = error_message or ""
        return self._update(
            request_id,
            "SET " + ", ".join(f"{name} = {value}" for name, value in sets.items()),
            "#state = :claimed AND instance_id = :instance AND claimed_by = :owner AND lock_token = :token",
            values,
        )

    def settle_abandoned(self, record: RequestRecord, now_ms: int) -> RequestRecord:
        if record.state == "pending":
            return self._update(
                record.id,
                "SET #state = :failed, error_code = :code, error_message = :message, answered_at_ms = :now",
                "#state = :pending AND addressed_to = :owner",
                {":failed": "failed", ":code": "unreachable",
                 ":message": "the sidecar holding the instance could not take the request",
                 ":now": now_ms, ":pending": "pending", ":owner": record.addressed_to},
            )
        return self._update(
            record.id,
            "SET #state = :unknown, answered_at_ms = :now",
            "#state = :claimed AND claimed_by = :owner AND lock_token = :token",
            {":unknown": "outcome_unknown", ":now": now_ms, ":claimed": "claimed",
             ":owner": record.claimed_by or "", ":token": record.lock_token or ""},
        )

    def _update(self, request_id: str, update: str, condition: str, values: dict[str, Any]) -> RequestRecord:
        names = {"#state": "state"}
        if "#result" in update:
            names["#result"] = "result"
        try:
            answer = client("dynamodb").update_item(
                TableName=self.table, Key=to_item({"id": request_id}),
                UpdateExpression=update, ConditionExpression=f"attribute_exists(id) AND {condition}",
                ExpressionAttributeNames=names, ExpressionAttributeValues=to_values(values),
                ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            current = old_item(exc)
            raise RequestConflict(_record(current) if current else None) from exc
        return _record(from_item(answer["Attributes"]) or {})
