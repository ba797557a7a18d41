"""AutomationsTable, what the automations did and the per-chat state they keep (docs/data-model.md#automationstable).

All under the instance's partition `pk = inst#<instance id>`:

- interactions: `sk = ixn#<created ms, 13 digits>#<id>` (newest first = descending sk), `chat_pk =
  <instance>#<chat>` for the sparse index `by_chat`, TTL `expires_at_epoch`;
- escalation pauses: `sk = pause#<chat>`, TTL a day after `until_ms` (judged on read: TTL deletes late);
- cooldowns: `sk = fired#<chat>#<automation id>` with `fired_at_ms`, TTL past the longest cooldown;
- first messages: `sk = first#<chat>` with the first `message_id` (no TTL).

Chats arrive normalised (zapgate_core.domain.jids.chat_jid) from the services; a JID has no `#`, so
`fired#<chat>#` is a prefix of one chat's cooldowns only.
"""

from __future__ import annotations

from typing import Any

from zapgate_control.adapters.dynamodb.automations import instance_pk
from zapgate_control.adapters.dynamodb.codec import (
    decode_cursor,
    encode_cursor,
    from_item,
    is_conditional_failure,
    to_item,
    to_values,
)
from zapgate_control.aws import client
from zapgate_control.ports.automations import ChatPauseRecord, Firing, InteractionRecord, ToolCallRecord
from zapgate_core.domain.automations.cooldown import MAX_COOLDOWN_S

INTERACTION_PREFIX = "ixn#"
CHAT_INDEX = "by_chat"
PAUSE_LINGER_S = 24 * 3600  # a pause's item outlives its end by a day: GET still says when it ended
COOLDOWN_LINGER_S = MAX_COOLDOWN_S + 24 * 3600  # a rule's cooldown may be raised after it fired


def interaction_sk(created_at_ms: int, interaction_id: str) -> str:
    return f"{INTERACTION_PREFIX}{created_at_ms:013d}#{interaction_id}"


def chat_pk(instance_id: str, chat: str) -> str:
    return f"{instance_id}#{chat}"


def _optional_int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def interaction_item(record: InteractionRecord, ttl_s: int) -> dict[str, Any]:
    return {
        "pk": instance_pk(record.instance_id),
        "sk": interaction_sk(record.created_at_ms, record.id),
        "chat_pk": chat_pk(record.instance_id, record.chat),
        "id": record.id,
        "tenant_id": record.tenant_id,
        "instance_id": record.instance_id,
        "chat": record.chat,
        "message_id": record.message_id,
        "outcome": record.outcome,
        "created_at_ms": record.created_at_ms,
        "automation_id": record.automation_id,
        "automation_kind": record.automation_kind,
        "provider": record.provider,
        "model": record.model,
        "tokens_in": record.tokens_in,
        "tokens_out": record.tokens_out,
        "latency_ms": record.latency_ms,
        "provider_latency_ms": record.provider_latency_ms,
        "model_calls": record.model_calls,
        "tool_calls": [
            {"name": call.name, "status": call.status, "duration_ms": call.duration_ms} for call in record.tool_calls
        ],
        "reply_message_id": record.reply_message_id,
        "reason": record.reason,
        "error": record.error,
        "passed": dict(record.passed) if record.passed else None,
        "expires_at_epoch": record.created_at_ms // 1000 + ttl_s,
    }


def interaction_from_item(item: dict[str, Any]) -> InteractionRecord:
    kind = item.get("automation_kind")
    outcome = item.get("outcome")
    return InteractionRecord(
        id=str(item["id"]),
        tenant_id=str(item.get("tenant_id", "")),
        instance_id=str(item["instance_id"]),
        chat=str(item.get("chat", "")),
        message_id=str(item.get("message_id", "")),
        outcome=outcome if outcome in ("replied", "escalated", "failed", "skipped") else "failed",
        created_at_ms=_optional_int(item.get("created_at_ms")),
        automation_id=item.get("automation_id"),
        automation_kind=kind if kind in ("rule", "agent") else None,
        provider=item.get("provider"),
        model=item.get("model"),
        tokens_in=_optional_int(item.get("tokens_in")),
        tokens_out=_optional_int(item.get("tokens_out")),
        latency_ms=_optional_int(item.get("latency_ms")),
        provider_latency_ms=_optional_int(item.get("provider_latency_ms")),
        model_calls=_optional_int(item.get("model_calls")),
        tool_calls=tuple(
            ToolCallRecord(
                str(call.get("name", "")), str(call.get("status", "")), _optional_int(call.get("duration_ms"))
            )
            for call in item.get("tool_calls") or []
            if isinstance(call, dict)
        ),
        reply_message_id=item.get("reply_message_id"),
        reason=item.get("reason"),
        error=item.get("error"),
        passed=item.get("passed") or None,
    )


class DynamoInteractionStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def record(self, interaction: InteractionRecord, ttl_s: int) -> None:
        client("dynamodb").put_item(TableName=self.table, Item=to_item(interaction_item(interaction, ttl_s)))

    def list_for_instance(
        self, instance_id: str, limit: int, cursor: str | None
    ) -> tuple[list[InteractionRecord], str | None]:
        pk = instance_pk(instance_id)
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_values({":p": pk, ":prefix": INTERACTION_PREFIX}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_cursor(cursor, {"pk", "sk"})
        if start:
            plain = from_item(start) or {}
            if plain.get("pk") != pk or not str(plain.get("sk", "")).startswith(INTERACTION_PREFIX):
                raise ValueError("cursor belongs to another listing")
            request["ExclusiveStartKey"] = start
        return self._page(request)

    def list_for_chat(
        self, instance_id: str, chat: str, limit: int, cursor: str | None
    ) -> tuple[list[InteractionRecord], str | None]:
        partition = chat_pk(instance_id, chat)
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": CHAT_INDEX,
            "KeyConditionExpression": "chat_pk = :c",
            "ExpressionAttributeValues": to_values({":c": partition}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_cursor(cursor, {"pk", "sk", "chat_pk"})
        if start:
            plain = from_item(start) or {}
            if plain.get("chat_pk") != partition or plain.get("pk") != instance_pk(instance_id):
                raise ValueError("cursor belongs to another listing")
            request["ExclusiveStartKey"] = start
        return self._page(request)

    def _page(self, request: dict[str, Any]) -> tuple[list[InteractionRecord], str | None]:
        response = client("dynamodb").query(**request)
        items = [interaction_from_item(item) for item in (from_item(raw) for raw in response.get("Items", [])) if item]
        return items, encode_cursor(response.get("LastEvaluatedKey"))


# ------------------------------------------------------------------ escalation pauses
def pause_sk(chat: str) -> str:
    return f"pause#{chat}"


def pause_from_item(item: dict[str, Any]) -> ChatPauseRecord:
    return ChatPauseRecord(
        instance_id=str(item["instance_id"]),
        chat=str(item["chat"]),
        automation_id=str(item.get("automation_id", "")),
        paused_at_ms=_optional_int(item.get("paused_at_ms")),
        until_ms=_optional_int(item.get("until_ms")),
        reason=str(item.get("reason") or ""),
    )


class DynamoEscalationStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def _key(self, instance_id: str, chat: str) -> dict[str, Any]:
        return to_item({"pk": instance_pk(instance_id), "sk": pause_sk(chat)})

    def pause(self, record: ChatPauseRecord) -> None:
        item = {
            "pk": instance_pk(record.instance_id),
            "sk": pause_sk(record.chat),
            "instance_id": record.instance_id,
            "chat": record.chat,
            "automation_id": record.automation_id,
            "paused_at_ms": record.paused_at_ms,
            "until_ms": record.until_ms,
            "reason": record.reason or None,
            "expires_at_epoch": record.until_ms // 1000 + PAUSE_LINGER_S,
        }
        client("dynamodb").put_item(TableName=self.table, Item=to_item(item))

    def get(self, instance_id: str, chat: str) -> ChatPauseRecord | None:
        response = client("dynamodb").get_item(
            TableName=self.table, Key=self._key(instance_id, chat), ConsistentRead=True
        )
        item = from_item(response.get("Item"))
        return pause_from_item(item) if item else None

    def clear(self, instance_id: str, chat: str, replied_at_ms: int | None = None) -> ChatPauseRecord | None:
        request: dict[str, Any] = {
            "TableName": self.table, "Key": self._key(instance_id, chat), "ReturnValues": "ALL_OLD",
        }
        if replied_at_ms is not None:
            request["ConditionExpression"] = "paused_at_ms <= :r"
            request["ExpressionAttributeValues"] = to_values({":r": replied_at_ms})
        try:
            response = client("dynamodb").delete_item(**request)
        except Exception as exc:
            if is_conditional_failure(exc):
                return None  # no pause, or one made after that reply
            raise
        item = from_item(response.get("Attributes"))
        return pause_from_item(item) if item else None


# ------------------------------------------------------------------ cooldowns and first messages
def fired_prefix(chat: str) -> str:
    return f"fired#{chat}#"


class DynamoCooldownStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def last_fired(self, instance_id: str, chat: str) -> dict[str, Firing]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_values({":p": instance_pk(instance_id), ":prefix": fired_prefix(chat)}),
            "ProjectionExpression": "automation_id, fired_at_ms, fired_by",
            "ConsistentRead": True,
        }
        fired: dict[str, Firing] = {}
        while True:  # one small item per rule that fired in this chat: one page in practice
            response = client("dynamodb").query(**request)
            for item in (from_item(raw) for raw in response.get("Items", [])):
                if item and item.get("automation_id"):
                    by = item.get("fired_by")
                    fired[str(item["automation_id"])] = Firing(_optional_int(item.get("fired_at_ms")),
                                                               str(by) if by else None)
            last = response.get("LastEvaluatedKey")
            if not last:
                return fired
            request["ExclusiveStartKey"] = last

    def try_fire(self, instance_id: str, automation_id: str, chat: str, now_ms: int, cooldown_s: int,
                 message_id: str | None = None) -> bool:
        if cooldown_s <= 0:
            return True  # nothing to hold back: no write
        item = {
            "pk": instance_pk(instance_id),
            "sk": f"{fired_prefix(chat)}{automation_id}",
            "automation_id": automation_id,
            "fired_at_ms": now_ms,
            "fired_by": message_id,
            "expires_at_epoch": now_ms // 1000 + COOLDOWN_LINGER_S,
        }
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item=to_item(item),
                # cooldown.cooldown_allows: fired never, or at least cooldown_s ago (a future firing holds).
                ConditionExpression="attribute_not_exists(sk) OR fired_at_ms <= :threshold",
                ExpressionAttributeValues=to_values({":threshold": now_ms - cooldown_s * 1000}),
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def first_message(self, instance_id: str, chat: str, message_id: str, now_ms: int) -> bool:
        item = {"pk": instance_pk(instance_id), "sk": f"first#{chat}", "message_id": message_id, "at_ms": now_ms}
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(sk) OR message_id = :m",
                ExpressionAttributeValues=to_values({":m": message_id}),
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True
