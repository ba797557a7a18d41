"""Webhooks table: a tenant's webhook endpoints. Key (tenant_id, webhook_id).

Item: `tenant_id`, `webhook_id` ("wh_" + 32 hex), `url`, `events` (absent = every type), `secret`,
`created_at`, and after a rotation `previous_secret`, `previous_secret_until` (epoch s), `rotated_at`.

One Query on the tenant's partition lists them (the processor does it per event, the public
API per listing); there are at most MAX_WEBHOOKS_PER_TENANT, so one page always holds them all.
The same partition holds the delivery log's items (adapters/dynamodb/delivery_log.py: "delivery#…",
"dead#…"): the Query's key condition reads only ids starting "wh_", so they are never read (nor billed)
here, and get / rotate / delete refuse any other id as an unknown webhook.

The signing secret is stored as issued, not hashed: HMAC signing needs the secret itself. The
table is encrypted at rest (SSE), only the events processor may read it and only the public
API may write it, and the API returns the secret once, in the creation response.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from zapgate_control.adapters.dynamodb.codec import from_item, is_conditional_failure, to_item, to_values
from zapgate_control.aws import client
from zapgate_control.clock import Clock, iso, system_clock
from zapgate_control.ports.webhooks import TooManyWebhooks, Webhook, WebhookNotFound
from zapgate_core.domain.webhooks import MAX_WEBHOOKS_PER_TENANT

WEBHOOK_ID_PREFIX = "wh_"


def is_webhook_id(webhook_id: str) -> bool:
    """Only a webhook's own id: never a delivery-log item's key sharing the partition."""
    return webhook_id.startswith(WEBHOOK_ID_PREFIX) and "#" not in webhook_id


def webhook_from_item(item: dict[str, Any]) -> Webhook:
    events = item.get("events")
    until = item.get("previous_secret_until")
    return Webhook(
        id=str(item["webhook_id"]),
        tenant_id=str(item["tenant_id"]),
        url=str(item["url"]),
        events=tuple(events) if events else None,
        secret=str(item["secret"]),
        created_at=str(item.get("created_at", "")),
        previous_secret=item.get("previous_secret") or None,
        previous_secret_until=int(until) if isinstance(until, int | float) else None,
    )


class DynamoWebhookStore:
    def __init__(self, table: str, clock: Clock = system_clock) -> None:
        self.table = table
        self.clock = clock

    def create(self, tenant_id: str, url: str, events: Sequence[str] | None, secret: str) -> Webhook:
        if len(self.list_for_tenant(tenant_id)) >= MAX_WEBHOOKS_PER_TENANT:
            raise TooManyWebhooks(tenant_id)
        item = {
            "tenant_id": tenant_id,
            "webhook_id": f"{WEBHOOK_ID_PREFIX}{uuid.uuid4().hex}",
            "url": url,
            "events": list(events) if events is not None else None,  # None (attribute absent) = every event type
            "secret": secret,
            "created_at": iso(self.clock()),
        }
        client("dynamodb").put_item(
            TableName=self.table,
            Item=to_item(item),
            ConditionExpression="attribute_not_exists(webhook_id)",
        )
        return webhook_from_item(item)

    def list_for_tenant(self, tenant_id: str) -> list[Webhook]:
        response = client("dynamodb").query(
            TableName=self.table,
            KeyConditionExpression="tenant_id = :t AND begins_with(webhook_id, :wh)",
            ExpressionAttributeValues=to_values({":t": tenant_id, ":wh": WEBHOOK_ID_PREFIX}),
            ConsistentRead=True,  # a webhook created a moment ago must already receive events
        )
        return [webhook_from_item(item) for item in (from_item(raw) for raw in response.get("Items", [])) if item]

    def get(self, tenant_id: str, webhook_id: str) -> Webhook | None:
        if not is_webhook_id(webhook_id):
            return None
        response = client("dynamodb").get_item(
            TableName=self.table, Key=to_item({"tenant_id": tenant_id, "webhook_id": webhook_id}), ConsistentRead=True
        )
        item = from_item(response.get("Item"))
        return webhook_from_item(item) if item else None

    def rotate_secret(self, tenant_id: str, webhook_id: str, secret: str, previous_until_s: int) -> Webhook:
        """The webhook with `secret` as its secret and the one it had as `previous_secret` until the given time.

        One conditional UpdateItem: the old secret is moved by DynamoDB itself (SET previous = secret), so
        two rotations racing never lose the secret a receiver still holds for longer than one grace period.
        """
        if not is_webhook_id(webhook_id):
            raise WebhookNotFound(webhook_id)
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"tenant_id": tenant_id, "webhook_id": webhook_id}),
                UpdateExpression=(
                    "SET previous_secret = secret, secret = :s, previous_secret_until = :u, rotated_at = :at"
                ),
                ConditionExpression="attribute_exists(webhook_id)",
                ExpressionAttributeValues=to_values({":s": secret, ":u": previous_until_s, ":at": iso(self.clock())}),
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                raise WebhookNotFound(webhook_id) from exc
            raise
        return webhook_from_item(from_item(response["Attributes"]) or {})

    def delete(self, tenant_id: str, webhook_id: str) -> None:
        if not is_webhook_id(webhook_id):
            raise WebhookNotFound(webhook_id)
        try:
            client("dynamodb").delete_item(
                TableName=self.table,
                Key=to_item({"tenant_id": tenant_id, "webhook_id": webhook_id}),
                ConditionExpression="attribute_exists(webhook_id)",
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                raise WebhookNotFound(webhook_id) from exc
            raise
