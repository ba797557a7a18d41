"""Messages table: outbound (the send queue) and inbound, one item per message.

Keys: `id` (mark-sent/mark-failed carry only the message id). GSI `timeline`
(timeline_pk = "<instance>#<direction>", timeline_sk = "<ms>#<id>") serves history newest
first. GSI `chat` (chat_pk = "<instance>#<chat jid>", timeline_sk) serves one chat's messages of
both directions newest first; chat_pk is set by the same PutItem (inbound: chat_id_norm, outbound:
the normalised `to`), so it costs no extra write call. Sparse GSI `outbound_queue`
(queue_pk = instance, queue_sk = "<ms>#<id>") holds only queued and claimed messages: attributes
removed when a message is sent or failed.

Command doorbells share the table (id = "doorbell#<instance>"): one small item per instance with a
command waiting, holding only `queue_owner`/`queue_sk` (so the heartbeat's `owner_queue` Query sees it),
`instance_id`, `kind` and the TTL. No direction, queue_pk, timeline_pk or chat_pk: the outbox's stream
filter, the send queue and history never see it (services/commands.py says why it lives here).

Writes per outbound lifecycle: enqueue PutItem, claim UpdateItem, mark UpdateItem (3).
Writes per inbound: one conditional PutItem (+1 UpdateItem on Contacts when a LID↔phone
pair is learnt). Parent linking (seed 001) reads the timeline and writes parent_id later, in
the events processor, off the inbound request path.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from zapgate_control.adapters.dynamodb.batch_reads import batch_get_by_id
from zapgate_control.adapters.dynamodb.codec import (
    from_item,
    is_conditional_failure,
    old_item,
    to_item,
    to_values,
)
from zapgate_control.adapters.dynamodb.message_changes import MessageChangesMixin
from zapgate_control.adapters.dynamodb.message_holds import MessageHoldsMixin
from zapgate_control.adapters.dynamodb.message_items import (
    bounded_debug,
    inbound_fields,
    inbound_record,
    ms_of,
    outbound_fields,
    outbound_record,
    record_of,
    sort_key,
)
from zapgate_control.adapters.dynamodb.message_parents import MessageParentsMixin
from zapgate_control.adapters.dynamodb.paging import query_page
from zapgate_control.aws import client
from zapgate_control.clock import Clock, iso, system_clock
from zapgate_control.ports.messages import (
    Direction,
    DuplicateMessage,
    InboundContent,
    MarkConflict,
    MarkFields,
    MessageNotFound,
    MessageRecord,
    OutboundMessage,
    ReceivedMessage,
)
from zapgate_core.contract.outbound_content import OutboundContent
from zapgate_core.domain.jids import chat_jid
from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.outbound import (
    ADVANCES_FROM,
    LEASE_EXPIRED_ERROR,
    ClaimDecision,
    ClaimPolicy,
    MarkOutcome,
    MessageState,
    interpret_refused_mark,
)

QUEUE_PAGE = 25
DOORBELL_PREFIX = "doorbell#"


def doorbell_id(instance_id: str) -> str:
    return f"{DOORBELL_PREFIX}{instance_id}"


def chat_pk(instance_id: str, chat: str) -> str:
    return f"{instance_id}#{chat}"


class DynamoMessageStore(MessageChangesMixin, MessageHoldsMixin, MessageParentsMixin):
    """The send queue, inbound storage and history; edits and revokes come from MessageChangesMixin, parent
    linking's reads from MessageParentsMixin."""

    def __init__(self, table: str, retention_days: int = 90, clock: Clock = system_clock) -> None:
        self.table = table
        self.retention_s = retention_days * 86_400
        self.clock = clock

    def _base(self, instance_id: str, direction: str, message_id: str, now: int) -> dict[str, Any]:
        return {
            "id": message_id,
            "instance_id": instance_id,
            "direction": direction,
            "created_at": iso(now),
            "timeline_pk": f"{instance_id}#{direction}",
            "timeline_sk": sort_key(now, message_id),
            "expires_at_epoch": now // 1000 + self.retention_s,
        }

    # ------------------------------------------------------------ outbound
    def enqueue(
        self,
        tenant_id: str,
        instance_id: str,
        content: OutboundContent,
        queue_owner: str | None = None,
        message_id: str | None = None,
        request_hash: str | None = None,
        automation_id: str | None = None,
        sent_by_ai: bool = False,
    ) -> OutboundMessage:
        """Queue a message; `queue_owner` (the live lock holder) lets that sidecar's heartbeat see it.

        With a caller-chosen `message_id` (an Idempotency-Key), an existing message with that id
        raises DuplicateMessage carrying it, so the caller can answer the retry with the original.
        """
        now = self.clock()
        message_id = message_id or str(uuid.uuid4())
        item = {
            **self._base(instance_id, "outbound", message_id, now),
            **outbound_fields(content),
            "tenant_id": tenant_id,
            "state": MessageState.QUEUED.value,
            "claim_count": 0,
            "queue_pk": instance_id,
            "queue_sk": sort_key(now, message_id),
            "queue_owner": queue_owner,
            "request_hash": request_hash,
        }
        if automation_id:  # issue 11: an automation's reply (absent on every other message)
            item["automation_id"] = automation_id
            if sent_by_ai:
                item["sent_by_ai"] = True
        chat = chat_jid(item.get("to"))
        if chat:
            item["chat_pk"] = chat_pk(instance_id, chat)
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            existing = old_item(exc) if is_conditional_failure(exc) else None
            if existing is not None and existing.get("direction") == "outbound":
                raise DuplicateMessage(outbound_record(existing)) from exc
            raise
        return outbound_record(item)

    def claim(
        self, instance_id: str, limit: int, policy: ClaimPolicy, exhausted: list[OutboundMessage] | None = None
    ) -> list[OutboundMessage]:
        """Hand out up to `limit` messages in queue order, each claimed with a conditional write.

        Messages failed on the way (lease expired too often) are appended to `exhausted` when given.
        """
        now = self.clock()
        claimed: list[OutboundMessage] = []
        start: dict[str, Any] | None = None
        for _page in range(4):  # bounded: live leases ahead of the queue cannot make this loop long
            request: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": "outbound_queue",
                "KeyConditionExpression": "queue_pk = :i",
                "ExpressionAttributeValues": to_values({":i": instance_id}),
                "Limit": QUEUE_PAGE,
            }
            if start:
                request["ExclusiveStartKey"] = start
            response = client("dynamodb").query(**request)
            for raw in response.get("Items", []):
                entry = from_item(raw) or {}
                decision = policy.decide(
                    entry.get("state", ""), entry.get("lease_expires_at"), int(entry.get("claim_count", 0)), now
                )
                if decision is ClaimDecision.CLAIM:
                    message = self._try_claim(entry["id"], policy, now)
                    if message is not None:
                        claimed.append(message)
                elif decision is ClaimDecision.EXHAUST:
                    failed = self._try_exhaust(entry["id"], policy, now)
                    if failed is not None and exhausted is not None:
                        exhausted.append(failed)
                if len(claimed) >= limit:
                    return claimed
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        return claimed

    def _try_claim(self, message_id: str, policy: ClaimPolicy, now: int) -> OutboundMessage | None:
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": message_id}),
                UpdateExpression=(
                    "SET #state = :claimed, lease_expires_at = :lease, claimed_at = :at, "
                    "claim_count = claim_count + :one "
                    # Out of the owner index once claimed: a live lease is not work waiting.
                    "REMOVE queue_owner, held_reason"
                ),
                ConditionExpression=(
                    "#state = :queued OR (#state = :claimed AND lease_expires_at <= :now AND claim_count < :max)"
                    " OR (#state = :held AND lease_expires_at <= :now)"  # a pacing hold that has ended
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_values(
                    {
                        ":claimed": MessageState.CLAIMED.value,
                        ":queued": MessageState.QUEUED.value,
                        ":held": MessageState.HELD.value,
                        ":lease": now + policy.lease_ms,
                        ":at": iso(now),
                        ":one": 1,
                        ":now": now,
                        ":max": policy.max_claims,
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return None  # another poll claimed it first, or it left the queue
            raise
        return outbound_record(from_item(response["Attributes"]) or {})

    def _try_exhaust(self, message_id: str, policy: ClaimPolicy, now: int) -> OutboundMessage | None:
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": message_id}),
                UpdateExpression=(
                    "SET #state = :failed, #error = :error, finished_at = :at "
                    "REMOVE queue_pk, queue_sk, queue_owner, lease_expires_at"
                ),
                ConditionExpression="#state = :claimed AND lease_expires_at <= :now AND claim_count >= :max",
                ExpressionAttributeNames={"#state": "state", "#error": "error"},
                ExpressionAttributeValues=to_values(
                    {
                        ":failed": MessageState.FAILED.value,
                        ":error": LEASE_EXPIRED_ERROR,
                        ":at": iso(now),
                        ":claimed": MessageState.CLAIMED.value,
                        ":now": now,
                        ":max": policy.max_claims,
                    }
                ),
                ReturnValues="ALL_NEW",  # the failed message, for its MESSAGE_STATUS event
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            return None
        return outbound_record(from_item(response["Attributes"]) or {})

    def mark(self, message_id: str, state: MessageState, fields: MarkFields) -> tuple[OutboundMessage, bool]:
        """claimed → sent | failed. A repeat of the same mark answers the stored message.

        Returns (message, moved): moved is False for a repeat, which must not report the change again.
        """
        now = self.clock()
        recorded = {"wa_message_id": fields.wa_message_id, "error": fields.error,
                    "send_debug": bounded_debug(fields.send_debug)}
        sets = {"state": state.value, "finished_at": iso(now), **{k: v for k, v in recorded.items() if v is not None}}
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": message_id}),
                UpdateExpression="SET "
                + ", ".join(f"#{k} = :{k}" for k in sets)
                + " REMOVE queue_pk, queue_sk, queue_owner, lease_expires_at",
                ConditionExpression="#state = :claimed",
                ExpressionAttributeNames={f"#{k}": k for k in sets},
                ExpressionAttributeValues=to_values(
                    {**{f":{k}": v for k, v in sets.items()}, ":claimed": MessageState.CLAIMED.value}
                ),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return outbound_record(from_item(response["Attributes"]) or {}), True
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            current = old_item(exc)
        if current is None or current.get("direction") != "outbound":
            raise MessageNotFound(message_id)
        if interpret_refused_mark(current.get("state", ""), state) is MarkOutcome.ALREADY:
            return outbound_record(current), False
        raise MarkConflict(current.get("state", ""))

    def owner_work(self, owner: str) -> tuple[set[str], dict[str, int]]:
        """What waits for `owner` (one Query on the sparse `owner_queue` index): the instances with queued
        messages, and the instances whose command doorbell rang, with the ring's time (ms)."""
        response = client("dynamodb").query(
            TableName=self.table,
            IndexName="owner_queue",
            KeyConditionExpression="queue_owner = :o",
            ExpressionAttributeValues=to_values({":o": owner}),
            # `id` and `queue_sk` are keys, so they are in the index already: telling a doorbell from a
            # message needs no change to the index's projection (which would mean rebuilding it).
            ProjectionExpression="id, instance_id, queue_sk",
            Limit=200,
        )
        with_messages: set[str] = set()
        doorbells: dict[str, int] = {}
        for item in response.get("Items", []):
            instance_id = str(item["instance_id"]["S"])
            if str(item["id"]["S"]).startswith(DOORBELL_PREFIX):
                doorbells[instance_id] = ms_of(item["queue_sk"]["S"])
            else:
                with_messages.add(instance_id)
        return with_messages, doorbells

    # ------------------------------------------------------------ command doorbells (see module docstring)
    def ring_doorbell(self, instance_id: str, owner: str, ttl_ms: int) -> None:
        """Put (or refresh) the instance's doorbell in `owner`'s part of the owner index: one PutItem."""
        now = self.clock()
        item = {
            "id": doorbell_id(instance_id),
            "instance_id": instance_id,
            "kind": "doorbell",
            "queue_owner": owner,
            "queue_sk": f"{now:013d}#doorbell",
            "expires_at_epoch": (now + ttl_ms) // 1000,
        }
        client("dynamodb").put_item(TableName=self.table, Item=to_item(item))

    def clear_doorbell(self, instance_id: str) -> bool:
        """Delete the instance's doorbell; True when there was one to delete.

        False means another call took it first, or the index (eventually consistent) still showed a
        doorbell that is gone: either way it has been answered already.
        """
        response = client("dynamodb").delete_item(
            TableName=self.table, Key=to_item({"id": doorbell_id(instance_id)}), ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))

    def apply_receipt(self, instance_id: str, wa_message_id: str, target: MessageState) -> list[OutboundMessage]:
        """Move the outbound message WhatsApp knows as `wa_message_id` forward; the messages moved
        (as they are now; empty, so falsy, when nothing moved)."""
        response = client("dynamodb").query(
            TableName=self.table,
            IndexName="by_wa_message_id",
            KeyConditionExpression="wa_message_id = :w",
            FilterExpression="instance_id = :i AND direction = :o",
            ExpressionAttributeValues=to_values({":w": wa_message_id, ":i": instance_id, ":o": "outbound"}),
        )
        moved: list[OutboundMessage] = []
        allowed = sorted(s.value for s in ADVANCES_FROM[target])
        for raw in response.get("Items", []):
            placeholders = {f":from{n}": state for n, state in enumerate(allowed)}
            try:
                response = client("dynamodb").update_item(
                    TableName=self.table,
                    Key={"id": raw["id"]},
                    UpdateExpression=f"SET #state = :to, {target.value}_at = :at",
                    ConditionExpression=f"#state IN ({', '.join(placeholders)})",
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues=to_values(
                        {":to": target.value, ":at": iso(self.clock()), **placeholders}
                    ),
                    # The same write answers the whole message (tenant, recipient) for its status event.
                    ReturnValues="ALL_NEW",
                )
                moved.append(outbound_record(from_item(response["Attributes"]) or {}))
            except Exception as exc:
                if not is_conditional_failure(exc):
                    raise
        return moved

    # ------------------------------------------------------------ inbound
    def put_inbound(
        self, message_id: str, instance_id: str, tenant_id: str | None, content: InboundContent,
        automate: bool = False,
    ) -> ReceivedMessage | None:
        """Store once per id (derived from instance + WhatsApp id): the stored message, or None when it
        was already there."""
        now = self.clock()
        item = {
            **self._base(instance_id, "inbound", message_id, now),
            **inbound_fields(content),
            # The outbox publishes the event from the stored item alone: it names its tenant.
            "tenant_id": tenant_id,
            "state": MessageState.RECEIVED.value,
        }
        if automate:  # issue 11: the outbox also hands it to the automations runner (domain/automations/jobs.py)
            item["automate"] = True
        chat = chat_jid(item.get("chat_id_norm"))
        if chat:
            item["chat_pk"] = chat_pk(instance_id, chat)
        try:
            client("dynamodb").put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(id)"
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return inbound_record({k: v for k, v in item.items() if v is not None})

    # ------------------------------------------------------------ reads (public API)
    def item(self, message_id: str) -> JsonObject | None:
        """The stored item as it is (any item of the table, doorbells too): for tests and operators, not a port."""
        response = client("dynamodb").get_item(TableName=self.table, Key=to_item({"id": message_id}))
        return from_item(response.get("Item"))

    def get(self, message_id: str) -> MessageRecord | None:
        return record_of(self.item(message_id))

    def get_many(self, message_ids: Sequence[str]) -> dict[str, MessageRecord]:
        records = (record_of(item) for item in batch_get_by_id(self.table, message_ids))
        return {record.id: record for record in records if record is not None}

    def timeline(
        self, instance_id: str, direction: Direction, limit: int, cursor: str | None
    ) -> tuple[list[MessageRecord], str | None]:
        items, next_cursor = query_page(self.table, "timeline", ("timeline_pk", f"{instance_id}#{direction}"),
                                        "timeline_sk", limit, cursor, newest_first=True)
        return _records(items), next_cursor

    def chat_messages(
        self, instance_id: str, chat: str, limit: int, cursor: str | None
    ) -> tuple[list[MessageRecord], str | None]:
        """One chat's messages, both directions, newest first (one Query on the `chat` index)."""
        items, next_cursor = query_page(self.table, "chat", ("chat_pk", chat_pk(instance_id, chat)), "timeline_sk",
                                        limit, cursor, newest_first=True)
        return _records(items), next_cursor

    def recent(self, instance_id: str, direction: Direction, limit: int) -> list[MessageRecord]:
        """Up to `limit` newest messages of one direction (pages of the timeline index, newest first)."""
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while len(items) < limit:
            request: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": "timeline",
                "KeyConditionExpression": "timeline_pk = :p",
                "ExpressionAttributeValues": to_values({":p": f"{instance_id}#{direction}"}),
                "ScanIndexForward": False,
                "Limit": limit - len(items),
            }
            if start:
                request["ExclusiveStartKey"] = start
            response = client("dynamodb").query(**request)
            items.extend(i for i in (from_item(raw) for raw in response.get("Items", [])) if i)
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        return _records(items)


def _records(items: list[dict[str, Any]]) -> list[MessageRecord]:
    return [record for record in (record_of(item) for item in items) if record is not None]
