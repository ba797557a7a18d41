"""A tenant's view of its webhook deliveries: recent failed/dead attempts, and redriving a dead one.

The SQS dead-letter queue is shared by every tenant, so it is never shown or moved from here: the events
processor keeps each tenant's dead letters in the delivery log (ports/delivery_log.py), and a redrive puts
that envelope back on the events queue as a copy for that one webhook (the processor's per-webhook
fan-out copy, `webhookId` attribute), so it gets the whole retry schedule again and reaches no other
webhook. A webhook of another tenant, or one that does not exist (deleted), answers 404 like elsewhere.
"""

from __future__ import annotations

import hashlib
import secrets

from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import logger, metrics
from zapgate_control.ports.delivery_log import DeadDelivery, DeliveryLogReader, LoggedAttempt, RedriveConflict
from zapgate_control.ports.events import EventPublisher
from zapgate_control.ports.webhooks import WebhookStore
from zapgate_control.services.instances import invalid_cursor


def _require_webhook(webhooks: WebhookStore, tenant_id: str, webhook_id: str) -> None:
    if webhooks.get(tenant_id, webhook_id) is None:
        raise NotFound("webhook")


def recent(
    webhooks: WebhookStore, log: DeliveryLogReader, tenant_id: str, webhook_id: str, limit: int, cursor: str | None
) -> tuple[list[LoggedAttempt], str | None]:
    # A malformed cursor is a 400 whether or not the webhook exists (as on every other listing), so it is read
    # first; the listing is keyed by tenant, so it shows nothing of a webhook the caller does not own.
    try:
        page = log.list_attempts(tenant_id, webhook_id, limit, cursor)
    except ValueError as exc:
        raise invalid_cursor() from exc
    _require_webhook(webhooks, tenant_id, webhook_id)
    return page


def _fingerprint(tenant_id: str, webhook_id: str, idempotency_key: str) -> str:
    # Hashed: the key is the caller's text and need not be kept as such.
    return hashlib.sha256(f"{tenant_id}\x1f{webhook_id}\x1f{idempotency_key}".encode()).hexdigest()


def redrive(
    webhooks: WebhookStore, log: DeliveryLogReader, events: EventPublisher, tenant_id: str, webhook_id: str,
    event_id: str, idempotency_key: str | None,
) -> DeadDelivery:
    """Send a dead delivery again, once: claim it (conditional), put it on the queue, then mark it redriven.

    A claim two requests race for is won by one; the other answers 409. A retry with the same
    Idempotency-Key after the first succeeded answers like the first. If the queue refuses, the claim is
    given back (still dead, redrivable) and the answer is 503.
    """
    _require_webhook(webhooks, tenant_id, webhook_id)
    key = _fingerprint(tenant_id, webhook_id, idempotency_key) if idempotency_key is not None else None
    token = secrets.token_hex(16)
    try:
        claimed = log.claim_dead(tenant_id, webhook_id, event_id, token, key)
    except RedriveConflict as conflict:
        if conflict.state == "redriven" and key is not None and conflict.redrive_key == key:
            replayed = log.get_dead(tenant_id, webhook_id, event_id)
            if replayed is not None:
                return replayed  # the same request again: the same answer, nothing sent twice
        if conflict.state == "redriving":
            raise ApiError(409, "redrive_in_progress", "another request is redriving this delivery") from conflict
        raise ApiError(409, "already_redriven", "this delivery was redriven already") from conflict
    if claimed is None:
        raise NotFound("dead delivery")
    if claimed.envelope is None:
        log.release(tenant_id, webhook_id, event_id, token)
        raise ApiError(409, "not_redrivable",
                       "this event was too large to keep; the operator's dead-letter queue has it")
    try:
        sent = events.publish_to(tenant_id, claimed.envelope, [webhook_id])
    except Exception as exc:  # refused by SQS (botocore's retries spent): still dead, try again later
        logger.warning("redrive not sent", extra={"event_id": event_id, "error_type": type(exc).__name__})
        sent = 0
    if sent != 1:
        log.release(tenant_id, webhook_id, event_id, token)
        raise ApiError(503, "events_unavailable", "the events queue did not take the event; try again")
    log.mark_redriven(tenant_id, webhook_id, event_id, token)
    metrics.add_metric(name="WebhookRedriven", unit="Count", value=1)
    return DeadDelivery(tenant_id=tenant_id, webhook_id=webhook_id, event_id=event_id, event_type=claimed.event_type,
                        envelope=None, state="redriven", redrive_key=key)
