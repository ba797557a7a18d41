"""WhatsApp groups of an instance, kept in the Contacts table: (instance_id, jid = "<id>@g.us").

A group item carries `kind = "group"`, `name`, `monitor`, `first_seen`, `seen_at` and, after a
rename, `renamed_at`. Discovery (the sidecar) writes names only: `monitor` is set once, at
creation, with if_not_exists, and afterwards only the public API's PATCH changes it.
"""

from __future__ import annotations

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
from zapgate_control.ports.contacts import Group, GroupNotFound, GroupUpsert

GROUP = "group"
READ_PAGE = 200  # contacts read per Query while collecting one page of groups
MAX_READS = 10  # Queries per listing call; the cursor resumes where it stopped


class DynamoGroupStore:
    def __init__(self, table: str, clock: Clock = system_clock) -> None:
        self.table = table
        self.clock = clock

    def upsert(self, instance_id: str, jid: str, name: str) -> tuple[GroupUpsert, str | None]:
        """One discovered group: ("created" | "renamed" | "seen", the previous name when renamed).

        One conditional UpdateItem when the name is unchanged (or the group is new); a rename
        is a second write conditioned on the name it replaces.
        """
        now = iso(self.clock())
        common = (
            "kind = :group, #name = :name, seen_at = :now, "
            "monitor = if_not_exists(monitor, :false), first_seen = if_not_exists(first_seen, :now)"
        )
        values = {":group": GROUP, ":name": name, ":now": now, ":false": False}
        condition = "attribute_not_exists(#name) OR #name = :name"
        extra: dict[str, Any] = {}
        update = f"SET {common}"
        previous: str | None = None
        for _ in range(3):
            try:
                response = client("dynamodb").update_item(
                    TableName=self.table,
                    Key=to_item({"instance_id": instance_id, "jid": jid}),
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#name": "name"},
                    ExpressionAttributeValues=to_values({**values, **extra}),
                    ReturnValues="ALL_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except Exception as exc:
                if not is_conditional_failure(exc):
                    raise
                current = old_item(exc) or {}
                previous = current.get("name")
                # Renamed: replace exactly the name we saw (a concurrent discovery retries).
                update = f"SET {common}, renamed_at = :now"
                condition, extra = "#name = :previous", {":previous": previous}
                continue
            old = from_item(response.get("Attributes")) or {}
            if condition.startswith("#name = :previous"):
                return "renamed", previous
            return ("created" if "first_seen" not in old else "seen"), None
        return "seen", None  # renamed back and forth concurrently: the last writer's name stays

    def page(self, instance_id: str, limit: int, cursor: str | None) -> tuple[list[Group], str | None]:
        """Groups by jid. The partition also holds contacts, so a Query filters `kind = group`
        and keeps reading (bounded) until the page is full."""
        start = decode_cursor(cursor, {"instance_id", "jid"})
        if start and (from_item(start) or {}).get("instance_id") != instance_id:
            raise ValueError("cursor belongs to another listing")
        groups: list[Group] = []
        for _ in range(MAX_READS):
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "instance_id = :i",
                "FilterExpression": "kind = :group",
                "ExpressionAttributeValues": to_values({":i": instance_id, ":group": GROUP}),
                "Limit": READ_PAGE,
            }
            if start:
                request["ExclusiveStartKey"] = start
            response = client("dynamodb").query(**request)
            items = [i for i in (from_item(raw) for raw in response.get("Items", [])) if i]
            start = response.get("LastEvaluatedKey")
            for n, item in enumerate(items):
                groups.append(_group(item))
                if len(groups) == limit:
                    more = n < len(items) - 1 or start is not None
                    last = {"instance_id": instance_id, "jid": item["jid"]}
                    return groups, encode_cursor(to_item(last)) if more else None
            if not start:
                return groups, None
        return groups, encode_cursor(start)

    def set_monitor(self, instance_id: str, jid: str, monitor: bool) -> Group:
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"instance_id": instance_id, "jid": jid}),
                UpdateExpression="SET monitor = :m, monitor_at = :now",
                ConditionExpression="kind = :group",  # also false when the item does not exist
                ExpressionAttributeValues=to_values({":m": monitor, ":now": iso(self.clock()), ":group": GROUP}),
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                raise GroupNotFound(jid) from exc
            raise
        return _group(from_item(response["Attributes"]) or {})

    def monitored(self, instance_id: str, jid: str) -> bool:
        """False for unknown groups too (seed 001: no group item or monitor=false → skip)."""
        response = client("dynamodb").get_item(
            TableName=self.table,
            Key=to_item({"instance_id": instance_id, "jid": jid}),
            ProjectionExpression="monitor",
        )
        return bool((from_item(response.get("Item")) or {}).get("monitor"))

    def find(self, instance_id: str, jid: str) -> Group | None:
        """The group as stored; None when the instance never listed it."""
        response = client("dynamodb").get_item(
            TableName=self.table, Key=to_item({"instance_id": instance_id, "jid": jid})
        )
        item = from_item(response.get("Item"))
        return _group(item) if item and item.get("kind") == GROUP else None

    def rename_known(self, instance_id: str, jid: str, name: str) -> tuple[bool, str | None]:
        """A group's new name from WhatsApp's notification, only for a group already tracked (one conditional
        UpdateItem; an unknown group is left to discovery, which also decides its monitor flag). Answers
        (tracked, the previous name)."""
        now = iso(self.clock())
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"instance_id": instance_id, "jid": jid}),
                UpdateExpression="SET #name = :name, renamed_at = :now",
                ConditionExpression="kind = :group",  # a group's item (the table holds contacts too)
                ExpressionAttributeNames={"#name": "name"},
                ExpressionAttributeValues=to_values({":name": name, ":now": now, ":group": GROUP}),
                ReturnValues="ALL_OLD",
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False, None
            raise
        previous = (from_item(response.get("Attributes")) or {}).get("name")
        return True, str(previous) if previous is not None else None


def _group(item: dict[str, Any]) -> Group:
    return Group(
        jid=str(item["jid"]),
        name=str(item.get("name") or ""),
        monitor=bool(item.get("monitor")),
        first_seen=item.get("first_seen"),
        seen_at=item.get("seen_at"),
        renamed_at=item.get("renamed_at"),
    )
