"""The sidecars' presence, so one that holds no lock yet still counts in the fair share (FleetTable).

The table keeps its deployed name, FleetTable (template.yaml); its "push" partition holds the
push-channel connections (push_connections.py).

Key (`pk` = "fleet", `instance_owner`): one item per live sidecar, `announced_at_ms`,
`expires_at_ms` and the TTL attribute `expires_at_epoch`. A sidecar announces itself at most once
per minute through `eligible-instances`; the whole fleet is one small partition, read by one
Query. DynamoDB's TTL deletes late, so expiry is also judged on read.
"""

from __future__ import annotations

from zapgate_control.adapters.dynamodb.codec import from_item, to_item, to_values
from zapgate_control.aws import client

PARTITION = "fleet"


class DynamoSidecarPresenceStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def announce(self, owner: str, now_ms: int, ttl_ms: int) -> None:
        expires_ms = now_ms + ttl_ms
        client("dynamodb").put_item(
            TableName=self.table,
            Item=to_item({"pk": PARTITION, "instance_owner": owner, "announced_at_ms": now_ms,
                          "expires_at_ms": expires_ms, "expires_at_epoch": expires_ms // 1000 + 1}),
        )

    def leave(self, owner: str) -> None:
        client("dynamodb").delete_item(TableName=self.table, Key=to_item({"pk": PARTITION, "instance_owner": owner}))

    def live(self, now_ms: int) -> list[str]:
        """Owners whose presence has not expired, in key order."""
        owners: list[str] = []
        query = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_values({":pk": PARTITION}),
            "ProjectionExpression": "instance_owner, expires_at_ms",
        }
        while True:
            page = client("dynamodb").query(**query)
            for raw in page.get("Items", []):
                item = from_item(raw) or {}
                if int(item.get("expires_at_ms", 0)) > now_ms:
                    owners.append(str(item["instance_owner"]))
            if "LastEvaluatedKey" not in page:
                return owners
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
