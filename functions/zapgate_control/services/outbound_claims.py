"""The outbound queue as sidecars see it: claim a batch, then mark each sent or failed.

MESSAGE_STATUS events are not published here: each move (sent, failed, delivered, read) is a
MODIFY on MessagesTable's stream, which EventsPublisherFunction turns into the event (the outbox,
docs/events.md#publishing-guarantees).
"""

from __future__ import annotations

from zapgate_control.adapters.dynamodb.messages import bounded_debug
from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports import MarkConflict, MessageNotFound, MessageStore
from zapgate_core.contract.worker_proxy import (
    MarkFailedRequest,
    MarkResponse,
    MarkSentRequest,
    QueuedMessage,
    QueuedMessages,
    ReceiptsRequest,
    ReceiptsResponse,
)
from zapgate_core.domain.outbound import ClaimPolicy, MessageState, receipt_state


def claim(messages: MessageStore, policy: ClaimPolicy, instance_id: str, limit: int) -> QueuedMessages:
    # Messages failed on the way (lease_expired) are reported by the outbox like a mark-failed.
    claimed = messages.claim(instance_id, limit, policy)
    waited = [ms for ms in (_queued_for_ms(item, policy) for item in claimed) if ms is not None]
    if waited:  # the dashboard's outbound queue age: how long the oldest message of this batch waited
        metrics.add_metric(name="OutboundQueueAgeMs", unit="Milliseconds", value=max(waited))
    return QueuedMessages(messages=[QueuedMessage.model_validate(item) for item in claimed])


def _queued_for_ms(item: dict[str, object], policy: ClaimPolicy) -> int | None:
    """Enqueue → this claim, by the store's clock: the claim set lease_expires_at = now + lease_ms and
    queue_sk starts with the enqueue time in ms."""
    try:
        claimed_at = int(str(item["lease_expires_at"])) - policy.lease_ms
        queued_at = int(str(item["queue_sk"]).split("#", 1)[0])
    except (KeyError, ValueError):
        return None
    return max(0, claimed_at - queued_at)


def _mark(
    messages: MessageStore,
    message_id: str,
    state: MessageState,
    fields: dict[str, object],
) -> MarkResponse:
    try:
        item, _moved = messages.mark(message_id, state, fields)  # a repeated mark writes (and reports) nothing
    except MessageNotFound as exc:
        raise NotFound("message") from exc
    except MarkConflict as exc:
        raise ApiError(409, "message_not_claimed", f"message is {exc.state}, not claimed", status=exc.state) from exc
    return MarkResponse(id=item["id"], status=item["state"])


def mark_sent(messages: MessageStore, request: MarkSentRequest) -> MarkResponse:
    response = _mark(
        messages,
        request.message_id,
        MessageState.SENT,
        {"wa_message_id": request.wa_message_id, "send_debug": bounded_debug(request.send_debug)},
    )
    metrics.add_metric(name="MessagesSent", unit="Count", value=1)
    return response


def mark_failed(messages: MessageStore, request: MarkFailedRequest) -> MarkResponse:
    response = _mark(
        messages,
        request.message_id,
        MessageState.FAILED,
        {"error": request.error, "send_debug": bounded_debug(request.send_debug)},
    )
    metrics.add_metric(name="MessagesFailed", unit="Count", value=1)
    return response


def apply_receipts(messages: MessageStore, request: ReceiptsRequest) -> ReceiptsResponse:
    updated = 0
    for receipt in request.receipts:
        target = receipt_state(receipt.kind)
        moved = messages.apply_receipt(request.instance_id, receipt.wa_message_id, target) if target else []
        if target is not None and moved:
            updated += 1
            metrics.add_metric(name=f"Messages{target.value.title()}", unit="Count", value=1)
    return ReceiptsResponse(updated=updated)
