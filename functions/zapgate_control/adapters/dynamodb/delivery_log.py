"""The webhook delivery log (ports/delivery_log.py) in WebhooksTable, beside the webhooks themselves.

Two kinds of item share the tenant's partition with its webhooks (sort key `webhook_id`, whose real
webhooks are all "wh_<32 hex>", so neither prefix below can ever collide with one; DynamoWebhookStore
reads only `begins_with(webhook_id, "wh_")` and refuses other ids):

- an attempt, `delivery#<webhook>#<ms, 13 digits>#<event id>#<attempt>`: small (~350 bytes: ids, type,
  attempt, reason, outcome, at), one per failed attempt. A webhook's listing is one Query on that prefix,
  newest first, reading only these small items.
- a dead letter, `dead#<webhook>#<event id>`: the envelope of an event that exhausted its retries (JSON
  text), fetched by the event id alone for a redrive. Kept apart from the attempts because DynamoDB bills a
  read by the whole item's size: listing 50 attempts must not read 50 envelopes.

TTL (`ttl`, epoch seconds): failed attempts 7 days (what a person looks back on; the schedule itself lasts
~16 minutes), dead letters and their attempt 14 days: the most SQS keeps anything, and what
EventsDeadLetterQueue keeps, so the tenant can redrive for as long as the operator can and no event
outlives the rest of the pipeline's copies. A redrive keeps the dead letter as a small tombstone (envelope
removed) until that same TTL, so a retried redrive answers the same and the listing says "redriven".

Size: an envelope on the events queue is already under SQS's 256 KiB (zapgate_core.domain.events.fit) and
carries no media bytes (media is a presigned URL), so it fits DynamoDB's 400 KB item. One that still does
not (fit() cannot shrink it) is stored without its envelope: listed as dead, not redrivable from here (the
operator's DLQ still has it).
"""

from __future__ import annotations

import json
from typing import Any

from zapgate_control.adapters.dynamodb.codec import (
    decode_cursor,
    encode_cursor,
    from_item,
    is_conditional_failure,
    old_item,
    to_item,
    to_values,
)
from zapgate_control.aws import client
from zapgate_control.clock import Clock, iso, system_clock
from zapgate_control.observability import logger, metrics
from zapgate_control.ports.delivery_log import (
    DeadDelivery,
    DeliveryAttempt,
    LoggedAttempt,
    RedriveConflict,
    RedriveState,
)
from zapgate_core.domain.events import encode, fit

ATTEMPT_PREFIX = "delivery#"
DEAD_PREFIX = "dead#"
FAILED_TTL_S = 7 * 86_400
DEAD_TTL_S = 14 * 86_400  # = EventsDeadLetterQueue's MessageRetentionPeriod, SQS's maximum
# DynamoDB's item limit is 400 KB including attribute names; the rest of a dead letter is < 1 KB.
MAX_ENVELOPE_BYTES = 350_000
REASON_MAX = 300
CLAIM_LAPSES_MS = 60_000  # > the public API's 29 s timeout: a claim older than this was left by a crash


def attempts_prefix(webhook_id: str) -> str:
    return f"{ATTEMPT_PREFIX}{webhook_id}#"


def dead_key(webhook_id: str, event_id: str) -> str:
    return f"{DEAD_PREFIX}{webhook_id}#{event_id}"


def _state(item: dict[str, Any]) -> RedriveState:
    state = item.get("state")
    return state if state in ("redriving", "redriven") else "dead"


def _dead(item: dict[str, Any]) -> DeadDelivery:
    text = item.get("envelope")
    return DeadDelivery(
        tenant_id=str(item["tenant_id"]),
        webhook_id=str(item["hook"]),
        event_id=str(item["event_id"]),
        event_type=str(item.get("event_type", "")),
        envelope=json.loads(text) if isinstance(text, str) else None,
        state=_state(item),
        redrive_key=item.get("redrive_key"),
    )


class DynamoDeliveryLog:
    def __init__(self, table: str, clock: Clock = system_clock) -> None:
        self.table = table
        self.clock = clock

    # ------------------------------------------------------------ the processor's side
    def record(self, attempt: DeliveryAttempt) -> None:
        """Best effort (the port's promise): a failure here is logged and counted, never raised."""
        try:
            self._record(attempt)
        except Exception as exc:
            metrics.add_metric(name="DeliveryLogFailed", unit="Count", value=1)
            logger.warning("delivery attempt not logged", extra={
                "webhook_id": attempt.webhook_id, "event_id": attempt.event_id, "error_type": type(exc).__name__})

    def _record(self, attempt: DeliveryAttempt) -> None:
        now = self.clock()
        dead = attempt.outcome == "dead"
        ttl = now // 1000 + (DEAD_TTL_S if dead else FAILED_TTL_S)
        sk = f"{attempts_prefix(attempt.webhook_id)}{now:013d}#{attempt.event_id}#{attempt.attempt}"
        common = {"tenant_id": attempt.tenant_id, "hook": attempt.webhook_id, "event_id": attempt.event_id,
                  "event_type": attempt.event_type, "at": iso(now), "ttl": ttl}
        if dead:
            # The dead letter first: an attempt listed as dead is then always one a redrive can find.
            letter = {**common, "webhook_id": dead_key(attempt.webhook_id, attempt.event_id), "attempt_sk": sk}
            envelope = self._envelope_text(attempt)
            if envelope is None:
                letter["envelope_dropped"] = "too_large"
            else:
                letter["envelope"] = envelope
            # Unconditional: an event that dies again after a redrive replaces its tombstone, redrivable again.
            client("dynamodb").put_item(TableName=self.table, Item=to_item(letter))
        item = {**common, "webhook_id": sk, "attempt": attempt.attempt,
                "reason": attempt.reason[:REASON_MAX], "outcome": attempt.outcome}
        client("dynamodb").put_item(TableName=self.table, Item=to_item(item))

    @staticmethod
    def _envelope_text(attempt: DeliveryAttempt) -> str | None:
        if attempt.envelope is None:
            return None
        text = encode(fit(dict(attempt.envelope)))
        if len(text.encode()) > MAX_ENVELOPE_BYTES:
            logger.warning("dead letter too large to keep", extra={"event_id": attempt.event_id,
                                                                    "bytes": len(text.encode())})
            return None
        return text

    # ------------------------------------------------------------ the public API's side
    def list_attempts(
        self, tenant_id: str, webhook_id: str, limit: int, cursor: str | None
    ) -> tuple[list[LoggedAttempt], str | None]:
        prefix = attempts_prefix(webhook_id)
        request: dict[str, Any] = {
            "TableName": self.table,
            # The key condition keeps webhooks and dead letters (envelopes) out of the read, not just the answer.
            "KeyConditionExpression": "tenant_id = :t AND begins_with(webhook_id, :p)",
            "ExpressionAttributeValues": to_values({":t": tenant_id, ":p": prefix}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_cursor(cursor, {"tenant_id", "webhook_id"})
        if start:
            plain = from_item(start) or {}
            if plain.get("tenant_id") != tenant_id or not str(plain.get("webhook_id", "")).startswith(prefix):
                raise ValueError("cursor belongs to another listing")
            request["ExclusiveStartKey"] = start
        response = client("dynamodb").query(**request)
        attempts = [
            LoggedAttempt(
                webhook_id=str(item["hook"]), event_id=str(item["event_id"]),
                event_type=str(item.get("event_type", "")), attempt=int(item.get("attempt", 0)),
                reason=str(item.get("reason", "")), outcome=item.get("outcome", "failed"), at=str(item.get("at", "")),
            )
            for item in (from_item(raw) for raw in response.get("Items", []))
            if item
        ]
        return attempts, encode_cursor(response.get("LastEvaluatedKey"))

    def get_dead(self, tenant_id: str, webhook_id: str, event_id: str) -> DeadDelivery | None:
        response = client("dynamodb").get_item(
            TableName=self.table, Key=self._dead_item_key(tenant_id, webhook_id, event_id), ConsistentRead=True
        )
        item = from_item(response.get("Item"))
        return _dead(item) if item else None

    def claim_dead(
        self, tenant_id: str, webhook_id: str, event_id: str, token: str, redrive_key: str | None
    ) -> DeadDelivery | None:
        now = self.clock()
        values: dict[str, Any] = {":redriving": "redriving", ":dead": "dead", ":t": token, ":now": now,
                                  ":stale": now - CLAIM_LAPSES_MS}
        update = "SET #s = :redriving, claim_token = :t, claimed_at = :now"
        if redrive_key is not None:
            update += ", redrive_key = :k"
            values[":k"] = redrive_key
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=self._dead_item_key(tenant_id, webhook_id, event_id),
                UpdateExpression=update,
                ConditionExpression=(
                    "attribute_exists(webhook_id) AND (attribute_not_exists(#s) OR #s = :dead"
                    " OR (#s = :redriving AND claimed_at < :stale))"
                ),
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues=to_values(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            held = old_item(exc)
            if held is None:
                return None
            raise RedriveConflict(_state(held), held.get("redrive_key")) from exc
        return _dead(from_item(response["Attributes"]) or {})

    def release(self, tenant_id: str, webhook_id: str, event_id: str, token: str) -> None:
        self._if_claimed(tenant_id, webhook_id, event_id, token,
                         "REMOVE #s, claim_token, claimed_at, redrive_key", {})

    def mark_redriven(self, tenant_id: str, webhook_id: str, event_id: str, token: str) -> None:
        attributes = self._if_claimed(
            tenant_id, webhook_id, event_id, token,
            "SET #s = :redriven, redriven_at = :at REMOVE envelope, claim_token, claimed_at",
            {":redriven": "redriven", ":at": iso(self.clock())},
        )
        attempt_sk = (attributes or {}).get("attempt_sk")
        if not attempt_sk:
            return
        try:  # the listed attempt says so too (cosmetic: the tombstone above is what redrives check)
            client("dynamodb").update_item(
                TableName=self.table, Key=to_item({"tenant_id": tenant_id, "webhook_id": attempt_sk}),
                UpdateExpression="SET outcome = :redriven", ConditionExpression="attribute_exists(webhook_id)",
                ExpressionAttributeValues=to_values({":redriven": "redriven"}),
            )
        except Exception as exc:
            if not is_conditional_failure(exc):  # expired already: nothing to show
                raise

    def _if_claimed(
        self, tenant_id: str, webhook_id: str, event_id: str, token: str, update: str, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The update, only while this claim holds (a new death of the event replaced it: leave that alone)."""
        try:
            response = client("dynamodb").update_item(
                TableName=self.table, Key=self._dead_item_key(tenant_id, webhook_id, event_id),
                UpdateExpression=update, ConditionExpression="claim_token = :t",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues=to_values({**values, ":t": token}), ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return from_item(response.get("Attributes"))

    @staticmethod
    def _dead_item_key(tenant_id: str, webhook_id: str, event_id: str) -> dict[str, Any]:
        return to_item({"tenant_id": tenant_id, "webhook_id": dead_key(webhook_id, event_id)})
