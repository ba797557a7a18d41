"""Parent linking's reads and write (seed 001, services/delivery/parents.py) on the `timeline` index.

`recent_inbound` answers one window; `recent_inbound_windows` answers several windows of one instance
(the MESSAGE_INBOUND records of one SQS batch) from one Query over their union, paged, with each
window's answer exactly what `recent_inbound` would have given for it (same bounds, same limit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zapgate_control.adapters.dynamodb.codec import from_item, is_conditional_failure, to_item, to_values
from zapgate_control.adapters.dynamodb.message_items import ms_of
from zapgate_control.aws import client
from zapgate_core.domain.json_types import JsonObject


def window_floor(until_sk: str, window_ms: int) -> str:
    """The lowest timeline_sk of the window that ends at `until_sk` ("<ms>#" sorts before any id)."""
    return f"{max(0, ms_of(until_sk) - window_ms):013d}#"


def select_windows(newest_first: Sequence[JsonObject], until_sks: Sequence[str], window_ms: int,
                   limit: int) -> dict[str, list[JsonObject]]:
    """Each window's items out of a newest-first read covering all of them: those with
    floor <= timeline_sk <= until_sk, newest first, at most `limit` (what one bounded Query of that
    window answers)."""
    answer: dict[str, list[JsonObject]] = {}
    for until_sk in until_sks:
        floor = window_floor(until_sk, window_ms)
        picked: list[JsonObject] = []
        for item in newest_first:
            sk = str(item.get("timeline_sk") or "")
            if sk > until_sk:
                continue
            if sk < floor or len(picked) >= limit:
                break
            picked.append(item)
        answer[until_sk] = picked
    return answer


class MessageParentsMixin:
    table: str

    def recent_inbound(self, instance_id: str, until_sk: str, window_ms: int, limit: int = 50) -> list[JsonObject]:
        """Inbound messages stored in the `window_ms` up to `until_sk` (inclusive), newest first.

        One Query on the timeline index, one page: parent linking only needs the last moments of
        one instance, and a bounded read keeps a burst from making it expensive.
        """
        response = client("dynamodb").query(
            TableName=self.table,
            IndexName="timeline",
            KeyConditionExpression="timeline_pk = :p AND timeline_sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues=to_values(
                {":p": f"{instance_id}#inbound", ":lo": window_floor(until_sk, window_ms), ":hi": until_sk}
            ),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [i for i in (from_item(raw) for raw in response.get("Items", [])) if i]

    def recent_inbound_windows(
        self, instance_id: str, until_sks: Sequence[str], window_ms: int, limit: int = 50
    ) -> dict[str, list[JsonObject]]:
        """recent_inbound for each of `until_sks`, from one Query (newest first, paged) over their union.

        It reads from the newest window's end down and stops once the oldest window is complete:
        the read reached its floor, or it holds `limit` items at or below its end (below those, no
        window can need anything, because each window keeps its newest `limit`). So a batch costs
        the items between its windows' ends plus one window's worth, not one window per record.
        """
        ends = sorted(set(until_sks))
        if not ends:
            return {}
        lowest_end = ends[0]
        # One page usually covers it: the batch's own messages plus one window's `limit`.
        page = limit + 10 * len(ends)
        items: list[JsonObject] = []
        at_or_below_lowest = 0
        start_key: dict[str, Any] | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": "timeline",
                "KeyConditionExpression": "timeline_pk = :p AND timeline_sk BETWEEN :lo AND :hi",
                "ExpressionAttributeValues": to_values({
                    ":p": f"{instance_id}#inbound", ":lo": window_floor(lowest_end, window_ms), ":hi": ends[-1],
                }),
                "ScanIndexForward": False,
                "Limit": page,
            }
            if start_key:
                request["ExclusiveStartKey"] = start_key
            response = client("dynamodb").query(**request)
            for item in (from_item(raw) for raw in response.get("Items", [])):
                if not item:
                    continue
                items.append(item)
                if str(item.get("timeline_sk") or "") <= lowest_end:
                    at_or_below_lowest += 1
            start_key = response.get("LastEvaluatedKey")
            if not start_key or at_or_below_lowest >= limit:
                break
        return select_windows(items, until_sks, window_ms, limit)

    def set_parent(self, message_id: str, parent_id: str) -> bool:
        """parent_id on a stored message (one UpdateItem); False if the message is gone (expired)."""
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": message_id}),
                UpdateExpression="SET parent_id = :p",
                ConditionExpression="attribute_exists(id)",
                ExpressionAttributeValues=to_values({":p": parent_id}),
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True
