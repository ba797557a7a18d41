"""Own-device messages and history batches in MessagesTable; the `history_sync` setting on InstancesTable.

Item shapes (docs/data-model.md#messagestable):
- an own-device message is an outbound item already `sent`, `source = phone`, keyed `inbound_id(instance,
  wa id)`: the same WhatsApp id always meets the same key, so a repeated report (or the same message arriving
  live and again in a history sync) is one conditional put that writes nothing;
- a history message carries `history = true`, and `history_silent = true` when the instance's setting does
  not emit events: the outbox reads the flag from the stream record itself, so deciding costs no read.

History batches: BatchWriteItem has no conditions, so the batch's keys are read first (BatchGetItem, keys
only) and what exists is not written again: a retried batch costs reads, never writes. Two concurrent runs
of one batch can both write an item; they write the same content (a MODIFY the outbox reports nothing for).
"""

from __future__ import annotations

import time
from typing import Any

from zapgate_control.adapters.dynamodb.batch_reads import batch_get_by_id
from zapgate_control.adapters.dynamodb.codec import from_item, is_conditional_failure, to_item, to_values
from zapgate_control.adapters.dynamodb.message_items import inbound_fields, sort_key, typed_outbound_fields
from zapgate_control.adapters.dynamodb.messages import chat_pk
from zapgate_control.aws import client
from zapgate_control.clock import Clock, iso, system_clock
from zapgate_control.ports.own_messages import BatchOutcome, HistorySyncSetting, StoredMessage
from zapgate_core.domain.jids import chat_jid

BATCH_WRITE = 25  # BatchWriteItem's limit
UNPROCESSED_RETRIES = 6
IN_FLIGHT_SCAN = 100  # claimed messages are at the head of the queue index: its oldest entries are enough


class DynamoOwnMessageStore:
    def __init__(self, messages_table: str, instances_table: str, retention_days: int = 90,
                 clock: Clock = system_clock) -> None:
        self.table = messages_table
        self.instances_table = instances_table
        self.retention_s = retention_days * 86_400
        self.clock = clock
        self.batch_calls = 0  # BatchWriteItem calls made (bench/history_sync_cost.py reads it)

    # ------------------------------------------------------------ items
    def item_of(self, tenant_id: str, instance_id: str, message: StoredMessage, now: int) -> dict[str, Any]:
        direction = "outbound" if message.own else "inbound"
        at = message.sent_ms or now
        content = message.content
        item: dict[str, Any] = {
            "id": message.message_id,
            "instance_id": instance_id,
            "tenant_id": tenant_id,
            "direction": direction,
            "created_at": iso(now),
            "timeline_pk": f"{instance_id}#{direction}",
            # WhatsApp's time, not arrival: a history sync must not put last year's messages on top.
            "timeline_sk": sort_key(at, message.message_id),
            "expires_at_epoch": now // 1000 + self.retention_s,
        }
        if message.own:
            item.update({
                "source": "phone",
                "state": "sent",
                "sent_at": iso(at),
                "finished_at": iso(at),
                "wa_message_id": content.wa_message_id,
                "to": content.chat_id,
                "body": content.body or None,
                "media_url": content.media_url,
                "media_type": content.media_type,
                "mime_type": content.mime_type,
                "file_name": content.file_name,
                "wa_timestamp": content.wa_timestamp,
                **typed_outbound_fields(content),
            })
            if content.media_sha256:
                item["media_sha256"] = content.media_sha256
        else:
            item.update({**inbound_fields(content), "state": "received"})
        chat = chat_jid(content.chat_id)
        if chat:
            item["chat_pk"] = chat_pk(instance_id, chat)
        return {k: v for k, v in item.items() if v is not None}

    # ------------------------------------------------------------ own-device messages
    def sent_by_zapgate(self, instance_id: str, wa_message_id: str) -> bool:
        from zapgate_core.domain.ids import inbound_id

        phone_copy = inbound_id(instance_id, wa_message_id)
        response = client("dynamodb").query(
            TableName=self.table, IndexName="by_wa_message_id", KeyConditionExpression="wa_message_id = :w",
            FilterExpression="instance_id = :i AND direction = :o",
            ExpressionAttributeValues=to_values({":w": wa_message_id, ":i": instance_id, ":o": "outbound"}),
        )
        return any((from_item(raw) or {}).get("id") != phone_copy for raw in response.get("Items", []))

    def sends_in_flight(self, instance_id: str) -> bool:
        response = client("dynamodb").query(
            TableName=self.table, IndexName="outbound_queue", KeyConditionExpression="queue_pk = :i",
            FilterExpression="#s = :claimed", ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues=to_values({":i": instance_id, ":claimed": "claimed"}), Limit=IN_FLIGHT_SCAN,
        )
        return bool(response.get("Items"))

    def put_own(self, tenant_id: str, instance_id: str, message: StoredMessage) -> bool:
        item = self.item_of(tenant_id, instance_id, message, self.clock())
        try:
            client("dynamodb").put_item(TableName=self.table, Item=to_item(item),
                                        ConditionExpression="attribute_not_exists(id)")
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    # ------------------------------------------------------------ history
    def put_history(
        self, tenant_id: str, instance_id: str, messages: list[StoredMessage], silent: bool
    ) -> BatchOutcome:
        unique = list({m.message_id: m for m in messages}.values())
        existing = self._existing([m.message_id for m in unique])
        now = self.clock()
        items = []
        for message in unique:
            if message.message_id in existing:
                continue
            item = self.item_of(tenant_id, instance_id, message, now)
            item["history"] = True
            if silent:
                item["history_silent"] = True
            items.append(item)
        for start in range(0, len(items), BATCH_WRITE):
            self._write([{"PutRequest": {"Item": to_item(i)}} for i in items[start:start + BATCH_WRITE]])
        return BatchOutcome(stored=len(items), duplicates=len(messages) - len(items))

    def _existing(self, ids: list[str]) -> set[str]:
        return {str(item["id"]) for item in batch_get_by_id(self.table, ids, projection="id")}

    def _write(self, requests: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table: requests}
        for attempt in range(UNPROCESSED_RETRIES):
            self.batch_calls += 1
            response = client("dynamodb").batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(0.05 * 2**attempt)  # throttled: back off, then send only what was not written
        # The sidecar retries the batch; what was written is then read as existing and not written again.
        raise RuntimeError("history batch: items left unwritten after retries")

    # ------------------------------------------------------------ the instance's setting
    def history_setting(self, instance_id: str) -> tuple[str, HistorySyncSetting] | None:
        response = client("dynamodb").get_item(
            TableName=self.instances_table, Key={"id": {"S": instance_id}},
            ProjectionExpression="tenant_id, history_sync",
        )
        item = from_item(response.get("Item"))
        if not item or not item.get("tenant_id"):
            return None
        raw = item.get("history_sync") or {}
        setting = HistorySyncSetting(
            enabled=bool(raw.get("enabled")),
            days=int(raw["days"]) if raw.get("days") is not None else None,
            messages_per_chat=int(raw["messages_per_chat"]) if raw.get("messages_per_chat") is not None else None,
            emit_events=bool(raw.get("emit_events")),
        )
        return str(item["tenant_id"]), setting

    def set_history_setting(self, tenant_id: str, instance_id: str, setting: HistorySyncSetting) -> bool:
        value = {"enabled": setting.enabled, "emit_events": setting.emit_events, "days": setting.days,
                 "messages_per_chat": setting.messages_per_chat}
        try:
            client("dynamodb").update_item(
                TableName=self.instances_table, Key={"id": {"S": instance_id}},
                UpdateExpression="SET history_sync = :h",
                ConditionExpression="tenant_id = :t",
                ExpressionAttributeValues=to_values({":h": {k: v for k, v in value.items() if v is not None},
                                                     ":t": tenant_id}),
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True
