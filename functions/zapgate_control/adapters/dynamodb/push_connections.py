"""FleetTable, partition "push": each sidecar's push-channel connection (SidecarPushApi).

Key (`pk` = "push", `instance_owner`): `connection_id`, `connected_at_ms`, and the TTL attribute
`expires_at_epoch` = connect + API Gateway's 2 h connection limit + a margin, which sweeps what a
missed $disconnect leaves. One small partition: the whole fleet is one Query.
"""

from __future__ import annotations

from zapgate_control.adapters.dynamodb.codec import from_item, to_item, to_values
from zapgate_control.aws import client

PARTITION = "push"
MAX_CONNECTION_S = 2 * 3600 + 600  # API Gateway closes a WebSocket connection after 2 h


class DynamoPushConnectionStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def register(self, owner: str, connection_id: str, now_ms: int) -> bool:
        answer = client("dynamodb").put_item(
            TableName=self.table,
            Item=to_item({"pk": PARTITION, "instance_owner": owner, "connection_id": connection_id,
                          "connected_at_ms": now_ms, "expires_at_epoch": now_ms // 1000 + MAX_CONNECTION_S}),
            ReturnValues="ALL_OLD",
        )
        return not answer.get("Attributes")

    def forget(self, connection_id: str, connected_before_ms: int | None = None) -> str | None:
        """Conditional on the item still naming this connection: a sidecar that rotated its connection
        (make-before-break) has already replaced it, and the old one's $disconnect must not delete the new.
        With `connected_before_ms`, also on the connection being older than that (see SidecarWaker)."""
        for owner, current in self.connections().items():
            if current != connection_id:
                continue
            condition = "connection_id = :c"
            values: dict[str, str | int] = {":c": connection_id}
            if connected_before_ms is not None:
                condition += " AND connected_at_ms < :before"
                values[":before"] = connected_before_ms
            try:
                client("dynamodb").delete_item(
                    TableName=self.table,
                    Key=to_item({"pk": PARTITION, "instance_owner": owner}),
                    ConditionExpression=condition,
                    ExpressionAttributeValues=to_values(values),
                )
            except client("dynamodb").exceptions.ConditionalCheckFailedException:
                return None
            return owner
        return None

    def connection_of(self, owner: str) -> str | None:
        answer = client("dynamodb").get_item(
            TableName=self.table,
            Key=to_item({"pk": PARTITION, "instance_owner": owner}),
            ProjectionExpression="connection_id",
        )
        item = from_item(answer.get("Item")) or {}
        return str(item["connection_id"]) if item.get("connection_id") else None

    def connections(self) -> dict[str, str]:
        found: dict[str, str] = {}
        query = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_values({":pk": PARTITION}),
            "ProjectionExpression": "instance_owner, connection_id",
        }
        while True:
            page = client("dynamodb").query(**query)
            for raw in page.get("Items", []):
                item = from_item(raw) or {}
                found[str(item["instance_owner"])] = str(item["connection_id"])
            if "LastEvaluatedKey" not in page:
                return found
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
