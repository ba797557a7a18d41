"""Events to applications: the events queue, the optional bus, webhooks and their delivery."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class EventBusRefused(Exception):
    """The event bus did not take the event; the caller retries it."""


class EventPublisher(Protocol):
    """Events to applications (docs/events.md): envelopes onto the events queue, tenant beside them."""

    def publish(self, tenant_id: str, events: Sequence[dict[str, Any]]) -> int: ...
    def publish_to(self, tenant_id: str, event: dict[str, Any], webhook_ids: Sequence[str]) -> int: ...


class OutboxPublisher(Protocol):
    """The outbox's side of the events queue: publish, and say which event ids were not taken."""

    def publish_reporting(self, tenant_id: str, events: Sequence[dict[str, Any]]) -> list[str]: ...


class EventBus(Protocol):
    """Optional second destination of events (EventBridge); raises when the event was not taken."""

    def put(self, tenant_id: str, envelope: dict[str, Any]) -> None: ...


class Redelivery(Protocol):
    def delay(self, receipt_handle: str, seconds: int) -> None: ...


class WebhookSender(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> str | None: ...
