"""Holding a claimed message for pacing (issue 13): one conditional UpdateItem.

The sidecar claimed a message it may not send yet (the instance's first-contact daily cap is reached): it hands
it back as `held` until a time. The item stays on the queue (its queue keys kept, so its place in the queue and
in its chat's order is kept), its lease is replaced by the hold's end in `lease_expires_at` - the attribute the
queue index already projects, so the claim tells a held message from a claimable one without reading the item
(DomainClaimPolicy.decide) - and the claim that took it is given back (claim_count - 1): holding never brings a
message closer to `lease_expired`. Nothing is leased while it is held, so nothing can expire under it.
`queue_owner` is not restored: the heartbeat's `ready` would otherwise wake the holder every renewal for a
message that cannot go; the sidecar wakes itself at the hold's end (and any claim after it finds the message).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zapgate_control.adapters.dynamodb.codec import from_item, is_conditional_failure, old_item, to_item, to_values
from zapgate_control.adapters.dynamodb.message_items import outbound_record
from zapgate_control.aws import client
from zapgate_control.ports.messages import MarkConflict, MessageNotFound, OutboundMessage
from zapgate_core.domain.outbound import MessageState

if TYPE_CHECKING:
    from zapgate_control.clock import Clock


class MessageHoldsMixin:
    table: str
    clock: Clock

    def hold(self, message_id: str, until_ms: int, reason: str) -> tuple[OutboundMessage, bool]:
        """claimed → held until `until_ms`. (message, moved); a repeat of the same hold answers (message, False).
        Raises MessageNotFound, or MarkConflict with the state when the message is not claimed."""
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": message_id}),
                UpdateExpression=("SET #state = :held, lease_expires_at = :until, held_reason = :reason, "
                                  "claim_count = claim_count - :one"),
                ConditionExpression="#state = :claimed AND claim_count >= :one",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_values({":held": MessageState.HELD.value, ":until": until_ms,
                                                     ":reason": reason[:100], ":one": 1,
                                                     ":claimed": MessageState.CLAIMED.value}),
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
        if current.get("state") == MessageState.HELD.value:
            return outbound_record(current), False
        raise MarkConflict(str(current.get("state", "")))
