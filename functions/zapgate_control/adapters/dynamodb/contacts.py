"""Contacts table: one item per (instance, JID), carrying the phone JID learnt for a `@lid`.

Keys: (instance_id, jid). contacts/resolve is a conditional PutItem, so concurrent calls for
one JID produce exactly one `created`; the others see `already_exists` or `updated`.
"""

from __future__ import annotations

from typing import Any

from zapgate_control.adapters.dynamodb.codec import (
    from_item,
    is_conditional_failure,
    old_item,
    to_item,
    to_values,
)
from zapgate_control.aws import client
from zapgate_control.clock import Clock, iso, system_clock
from zapgate_control.ports.contacts import ResolveOutcome
from zapgate_core.domain.ids import contact_id


class DynamoContactStore:
    def __init__(self, table: str, clock: Clock = system_clock) -> None:
        self.table = table
        self.clock = clock

    def resolve(
        self, instance_id: str, jid: str, jid_type: str, push_name: str | None
    ) -> tuple[str, ResolveOutcome]:
        """(contact_id, "created" | "updated" | "already_exists")."""
        cid = contact_id(instance_id, jid)
        now = iso(self.clock())
        item = {
            "instance_id": instance_id,
            "jid": jid,
            "jid_type": jid_type,
            "contact_id": cid,
            "push_name": push_name,
            "created_at": now,
            "updated_at": now,
        }
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(jid)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return cid, "created"
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            existing = old_item(exc) or {}
        if not push_name or existing.get("push_name") == push_name:
            return existing.get("contact_id", cid), "already_exists"
        client("dynamodb").update_item(
            TableName=self.table,
            Key=to_item({"instance_id": instance_id, "jid": jid}),
            UpdateExpression="SET push_name = :n, updated_at = :u, contact_id = if_not_exists(contact_id, :c)",
            ExpressionAttributeValues=to_values({":n": push_name, ":u": now, ":c": cid}),
        )
        return existing.get("contact_id", cid), "updated"

    def remember_lid(self, instance_id: str, lid: str, phone_jid: str) -> None:
        client("dynamodb").update_item(
            TableName=self.table,
            Key=to_item({"instance_id": instance_id, "jid": lid}),
            UpdateExpression=(
                "SET jid_pn = :pn, jid_type = :lid, updated_at = :u, contact_id = if_not_exists(contact_id, :c)"
            ),
            ExpressionAttributeValues=to_values(
                {":pn": phone_jid, ":lid": "lid", ":u": iso(self.clock()), ":c": contact_id(instance_id, lid)}
            ),
        )

    def phone_for(self, instance_id: str, jid: str) -> str | None:
        response = client("dynamodb").get_item(
            TableName=self.table,
            Key=to_item({"instance_id": instance_id, "jid": jid}),
            ProjectionExpression="jid_pn",
        )
        item: dict[str, Any] = from_item(response.get("Item")) or {}
        return item.get("jid_pn")

    def known(self, instance_id: str, jid: str) -> bool:
        # resolve() sets created_at; an item remember_lid made for a LID mapping alone has none (nobody wrote).
        response = client("dynamodb").get_item(
            TableName=self.table,
            Key=to_item({"instance_id": instance_id, "jid": jid}),
            ProjectionExpression="created_at",
        )
        return bool((from_item(response.get("Item")) or {}).get("created_at"))
