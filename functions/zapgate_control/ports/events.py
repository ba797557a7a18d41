"""Events to applications: the events queue, the optional bus, webhooks and their delivery.

Envelopes stay JSON objects here: they are the published wire format (docs/events.md), built by
zapgate_core.domain.events and read by applications, not records of ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

from zapgate_core.domain.json_types import JsonObject

# What rides beside each envelope on the events queue (SQS message attributes), so the processor
# learns the tenant and the target without them being part of the envelope applications receive.
TENANT_ATTRIBUTE: Final = "tenantId"
TYPE_ATTRIBUTE: Final = "eventType"  # for inspecting and filtering the queue without parsing bodies
WEBHOOK_ATTRIBUTE: Final = "webhookId"  # a fanned-out copy: the one webhook (or the bus) it is for
# A copy re-queued after failed attempts: how many its target already had, so attempts are numbered
# on from there (the copy's own SQS receive count starts again at 1).
ATTEMPTS_ATTRIBUTE: Final = "attemptsBefore"


class EventBusRefused(Exception):
    """The event bus did not take the event; the caller retries it."""


class EventPublisher(Protocol):
    """Events to applications (docs/events.md): envelopes onto the events queue, tenant beside them."""

    def publish(self, tenant_id: str, events: Sequence[JsonObject]) -> int: ...
    def publish_to(self, tenant_id: str, event: JsonObject, webhook_ids: Sequence[str], *, delay_s: int = 0,
                   attempts_before: int = 0) -> int: ...


class OutboxPublisher(Protocol):
    """The outbox's side of the events queue: publish, and say which event ids were not taken."""

    def publish_reporting(self, tenant_id: str, events: Sequence[JsonObject]) -> list[str]: ...


class EventBus(Protocol):
    """Optional second destination of events (EventBridge); raises when the event was not taken."""

    def put(self, tenant_id: str, envelope: JsonObject) -> None: ...


class Redelivery(Protocol):
    def delay(self, receipt_handle: str, seconds: int) -> None: ...


class WebhookSender(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> str | None: ...
