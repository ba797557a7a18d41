"""Message metrics read from MessagesTable's indexes; nothing is written for them.

- A window of one direction: a Query on GSI `timeline` (timeline_pk = "<instance>#<direction>"),
  `timeline_sk BETWEEN "<since ms>#" AND "<until ms>#~"`, newest first, projecting only the sort key,
  `state` and `finished_at`. The index projects ALL, so DynamoDB still bills the whole index entries
  it reads (a projection trims the answer, not the bill): ~0.5 RRU per 4 KB of messages. Pages of at
  most PAGE_ITEMS, stopped at `max_items` or MAX_PAGES, so one call's read has a ceiling.
- The queue depth: a Query on the sparse GSI `outbound_queue` (queue_pk = instance), whose entries are
  small (keys + state, lease, claim_count: ~200 bytes), projecting `state`: ~0.5 RRU per ~20 messages
  waiting, at least 0.5.

ReturnConsumedCapacity=TOTAL makes DynamoDB say what each page cost; it is summed and answered, so the
cost of the endpoint is visible per call rather than estimated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from zapgate_control.adapters.dynamodb.codec import from_item, to_values
from zapgate_control.adapters.dynamodb.message_items import ms_of
from zapgate_control.aws import client
from zapgate_control.ports.message_metrics import QueueDepth, StoredState, WindowRead
from zapgate_control.ports.messages import Direction
from zapgate_core.domain.outbound import MessageState

PAGE_ITEMS = 1_000  # per Query page (a page also stops at 1 MB, DynamoDB's own limit)
# Pages per read: with `max_items` this bounds the bill whatever the messages' sizes. A 1 MB page costs at
# most 128 RRU on an index, so a read costs at most 1,280 RRU even when big messages fill pages early.
MAX_PAGES = 10


def _finished_ms(value: Any) -> int | None:
    """finished_at (ISO text, written by mark and by the lease-exhaust failure) as ms; None if unreadable."""
    if not value:
        return None
    try:
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _state(value: Any) -> MessageState | None:
    try:
        return MessageState(str(value))
    except ValueError:
        return None  # a state this version does not know: not counted rather than a 500


def _units(response: dict[str, Any]) -> float:
    return float((response.get("ConsumedCapacity") or {}).get("CapacityUnits") or 0.0)


class DynamoMessageMetrics:
    def __init__(self, table: str) -> None:
        self.table = table

    def _pages(self, request: dict[str, Any], max_items: int) -> tuple[list[dict[str, Any]], bool, float]:
        """(items, complete, read units) of a paginated Query, stopped once `max_items` were read or
        MAX_PAGES pages."""
        items: list[dict[str, Any]] = []
        units = 0.0
        start: dict[str, Any] | None = None
        for _page in range(MAX_PAGES):
            page = {**request, "Limit": min(PAGE_ITEMS, max_items - len(items)),
                    "ReturnConsumedCapacity": "TOTAL"}
            if start:
                page["ExclusiveStartKey"] = start
            response = client("dynamodb").query(**page)
            units += _units(response)
            items.extend(i for i in (from_item(raw) for raw in response.get("Items", [])) if i)
            start = response.get("LastEvaluatedKey")
            if not start:
                return items, True, units
            if len(items) >= max_items:
                break
        # A LastEvaluatedKey at a cap may still mean nothing follows; either way we stop and say the
        # count may be short, rather than pay for another page to find out.
        return items, False, units

    def window(
        self, instance_id: str, direction: Direction, since_ms: int, until_ms: int, max_items: int
    ) -> WindowRead:
        request = {
            "TableName": self.table,
            "IndexName": "timeline",
            # "<ms>#<id>": "<since>#" sorts before every key of that ms, "<until>#~" after every id of it.
            "KeyConditionExpression": "timeline_pk = :p AND timeline_sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": to_values(
                {":p": f"{instance_id}#{direction}", ":lo": f"{max(0, since_ms):013d}#",
                 ":hi": f"{max(0, until_ms):013d}#~"}
            ),
            "ProjectionExpression": "timeline_sk, #state, finished_at",
            "ExpressionAttributeNames": {"#state": "state"},
            "ScanIndexForward": False,  # newest first: a capped read leaves the recent hours exact
        }
        items, complete, units = self._pages(request, max_items)
        messages = []
        for item in items:
            state = _state(item.get("state"))
            if state is not None:
                messages.append(StoredState(ms_of(item["timeline_sk"]), state, _finished_ms(item.get("finished_at"))))
        return WindowRead(messages=tuple(messages), complete=complete, read_units=units)

    def queue_depth(self, instance_id: str, max_items: int) -> QueueDepth:
        request = {
            "TableName": self.table,
            "IndexName": "outbound_queue",
            "KeyConditionExpression": "queue_pk = :i",
            "ExpressionAttributeValues": to_values({":i": instance_id}),
            "ProjectionExpression": "queue_sk, #state",
            "ExpressionAttributeNames": {"#state": "state"},
            "ScanIndexForward": True,  # oldest first: the first entry dates the queue's head
        }
        items, complete, units = self._pages(request, max_items)
        claimed = sum(1 for item in items if item.get("state") == MessageState.CLAIMED.value)
        oldest = ms_of(items[0]["queue_sk"]) if items else None
        return QueueDepth(queued=len(items) - claimed, claimed=claimed, oldest_ms=oldest, complete=complete,
                          read_units=units)
