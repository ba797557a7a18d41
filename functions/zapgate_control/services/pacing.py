"""Pacing's control-plane half (issue 13): a sidecar holds a claimed message it may not send yet, and asks
whether a contact ever wrote first (for the first-contact daily cap). The rules are the sidecar's
(zapgate_core/domain/pacing.py); here only the two storage questions, each one request to DynamoDB."""

from __future__ import annotations

from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.contacts import ContactStore
from zapgate_control.ports.messages import MarkConflict, MessageNotFound, MessageStore
from zapgate_core.contract.pacing import HoldRequest, HoldResponse, WroteFirstResponse


def hold(messages: MessageStore, request: HoldRequest) -> HoldResponse:
    try:
        message, moved = messages.hold(request.message_id, request.held_until_ms, request.reason)
    except MessageNotFound as exc:
        raise NotFound("message") from exc
    except MarkConflict as exc:
        raise ApiError(409, "message_not_claimed", f"message is {exc.state}, not claimed", status=exc.state) from exc
    if moved:
        metrics.add_metric(name="MessagesHeld", unit="Count", value=1)
    return HoldResponse(id=message.id, status=message.state.value, held_until_ms=message.lease_expires_ms)


def wrote_first(contacts: ContactStore, instance_id: str, jid: str) -> WroteFirstResponse:
    # A contact item exists once an inbound message from that JID was stored (contacts/resolve): one GetItem.
    return WroteFirstResponse(wrote=contacts.known(instance_id, jid))
