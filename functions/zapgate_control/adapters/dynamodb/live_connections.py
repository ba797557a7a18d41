"""LiveConnectionsTable: live (WebSocket) connections and the one-time tickets that open them.

Key `connection_id`:
- a connection: `connection_id` = API Gateway's id, `tenant_id`, `instance_ids` (absent = every
  instance of the tenant), `connected_at`, `ttl` (epoch s: connect + 2 h + margin);
- a ticket: `connection_id` = "ticket#<sha256 of the ticket>", `ticket_tenant_id`, `ttl` (issue +
  60 s). Its tenant is deliberately not `tenant_id`, so tickets never enter the `by_tenant` index
  the events processor reads to push.

GSI `by_tenant` (tenant_id; projection: instance_ids) lists a tenant's connections for a push.
DynamoDB's TTL deletes expired items late, so expiry is always judged on read as well.
"""

from __future__ import annotations

from typing import Any

from zapgate_control.adapters.dynamodb.codec import from_item, is_conditional_failure, to_item, to_values
from zapgate_control.aws import client
from zapgate_control.clock import Clock, iso, system_clock
from zapgate_control.ports.live import LiveConnection, Ticket
from zapgate_core.domain.live import TICKET_PREFIX

INDEX = "by_tenant"


def ticket_from_item(item: dict[str, Any] | None) -> Ticket | None:
    """A ticket item as consumed (DeleteItem's ALL_OLD); None for anything else (none, or not a ticket)."""
    tenant_id = (item or {}).get("ticket_tenant_id")
    expires = (item or {}).get("ttl")
    if not tenant_id or not isinstance(expires, int | float):
        return None
    return Ticket(tenant_id=str(tenant_id), expires_at_s=int(expires))


def connection_from_item(item: dict[str, Any]) -> LiveConnection:
    instance_ids = item.get("instance_ids")
    return LiveConnection(
        connection_id=str(item["connection_id"]),
        tenant_id=str(item["tenant_id"]),
        instance_ids=tuple(instance_ids) if instance_ids else None,
    )


class DynamoLiveConnectionStore:
    def __init__(self, table: str, clock: Clock = system_clock) -> None:
        self.table = table
        self.clock = clock

    # ------------------------------------------------------------ tickets (public API → $connect)
    def put_ticket(self, key: str, tenant_id: str, expires_at_s: int) -> None:
        client("dynamodb").put_item(
            TableName=self.table,
            Item=to_item({"connection_id": key, "ticket_tenant_id": tenant_id, "ttl": expires_at_s}),
            ConditionExpression="attribute_not_exists(connection_id)",
        )

    def consume_ticket(self, key: str) -> Ticket | None:
        """Delete the ticket and answer it as it was; None when there is none (unknown or used).

        The condition makes exactly one of two concurrent $connects with the same ticket get it.
        """
        try:
            response = client("dynamodb").delete_item(
                TableName=self.table,
                Key=to_item({"connection_id": key}),
                ConditionExpression="attribute_exists(connection_id)",
                ReturnValues="ALL_OLD",
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return ticket_from_item(from_item(response.get("Attributes")))

    # ------------------------------------------------------------ connections ($connect … $disconnect)
    def put_connection(
        self, connection_id: str, tenant_id: str, instance_ids: list[str] | None, expires_at_s: int
    ) -> None:
        if connection_id.startswith(TICKET_PREFIX):
            raise ValueError("not a connection id")
        item = {
            "connection_id": connection_id,
            "tenant_id": tenant_id,
            "instance_ids": instance_ids or None,  # absent = every instance
            "connected_at": iso(self.clock()),
            "ttl": expires_at_s,
        }
        client("dynamodb").put_item(TableName=self.table, Item=to_item(item))

    def get_connection(self, connection_id: str) -> LiveConnection | None:
        response = client("dynamodb").get_item(
            TableName=self.table, Key=to_item({"connection_id": connection_id}), ConsistentRead=True
        )
        item = from_item(response.get("Item"))
        return connection_from_item(item) if item and item.get("tenant_id") else None

    def subscribe(self, connection_id: str, tenant_id: str, instance_ids: list[str] | None) -> bool:
        """Replace the connection's subscription; False when the connection is gone (or not the tenant's)."""
        if instance_ids:
            expression, values = "SET instance_ids = :ids", {":ids": instance_ids, ":t": tenant_id}
        else:
            expression, values = "REMOVE instance_ids", {":t": tenant_id}
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"connection_id": connection_id}),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(connection_id) AND tenant_id = :t",
                ExpressionAttributeValues=to_values(values),
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def delete_connection(self, connection_id: str) -> None:
        """Idempotent: $disconnect, and the processor forgetting a connection API Gateway says is gone."""
        if connection_id.startswith(TICKET_PREFIX):
            return
        client("dynamodb").delete_item(TableName=self.table, Key=to_item({"connection_id": connection_id}))

    # ------------------------------------------------------------ push (events processor)
    def for_tenant(self, tenant_id: str) -> list[LiveConnection]:
        """Every live connection of the tenant (the index projects connection_id, tenant_id, instance_ids)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX,
            "KeyConditionExpression": "tenant_id = :t",
            "ExpressionAttributeValues": to_values({":t": tenant_id}),
        }
        found: list[dict[str, Any]] = []
        while True:
            response = client("dynamodb").query(**request)
            found.extend(item for item in (from_item(raw) for raw in response.get("Items", [])) if item)
            if not response.get("LastEvaluatedKey"):
                return [connection_from_item(item) for item in found
                        if not str(item.get("connection_id", "")).startswith(TICKET_PREFIX)]
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
