"""The send queue's worker half: sidecars claim a batch of queued messages, then mark each sent or failed,
and report WhatsApp's receipts. The public half, enqueueing a send, is services/outbound_enqueue.py.

MESSAGE_STATUS events are not published here: each move (sent, failed, delivered, read) is a
MODIFY on MessagesTable's stream, which EventsPublisherFunction turns into the event (the outbox,
docs/events.md#publishing-guarantees).
"""

from __future__ import annotations

from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.messages import MarkConflict, MarkFields, MessageNotFound, MessageStore, OutboundMessage
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
    waited = [ms for ms in (_queued_for_ms(message, policy) for message in claimed) if ms is not None]
    if waited:  # the dashboard's outbound queue age: how long the oldest message of this batch waited
        metrics.add_metric(name="OutboundQueueAgeMs", unit="Milliseconds", value=max(waited))
    return QueuedMessages(messages=[_queued(message) for message in claimed])


def _queued(message: OutboundMessage) -> QueuedMessage:
    # Validated again as the wire model: it strips strings as the sidecar's parse always has.
    return QueuedMessage.model_validate({"id": message.id, **message.content.model_dump()})


def _queued_for_ms(message: OutboundMessage, policy: ClaimPolicy) -> int | None:
    """Enqueue → this claim, by the store's clock: the claim set the lease to expire at now + lease_ms."""
    if message.lease_expires_ms is None:
        return None
    return max(0, message.lease_expires_ms - policy.lease_ms - message.stored_ms)


def _mark(messages: MessageStore, message_id: str, state: MessageState, fields: MarkFields) -> MarkResponse:
    try:
        message, _moved = messages.mark(message_id, state, fields)  # a repeated mark writes (and reports) nothing
    except MessageNotFound as exc:
        raise NotFound("message") from exc
    except MarkConflict as exc:
        raise ApiError(409, "message_not_claimed", f"message is {exc.state}, not claimed", status=exc.state) from exc
    return MarkResponse(id=message.id, status=message.state.value)


def mark_sent(messages: MessageStore, request: MarkSentRequest) -> MarkResponse:
    response = _mark(
        messages,
        request.message_id,
        MessageState.SENT,
        MarkFields(wa_message_id=request.wa_message_id, send_debug=request.send_debug),
    )
    metrics.add_metric(name="MessagesSent", unit="Count", value=1)
    return response


def mark_failed(messages: MessageStore, request: MarkFailedRequest) -> MarkResponse:
    response = _mark(
        messages,
        request.message_id,
        MessageState.FAILED,
        MarkFields(error=request.error, send_debug=request.send_debug),
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
