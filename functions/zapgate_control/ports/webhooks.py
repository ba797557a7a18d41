"""Webhook registrations (WebhooksTable)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class WebhookNotFound(Exception):
    """No such webhook, or one of another tenant."""


class TooManyWebhooks(Exception):
    """The tenant already has the most webhooks it may register (zapgate_core.domain.webhooks)."""


@dataclass(frozen=True)
class Webhook:
    """A tenant's endpoint. Holds its signing secret: answered to the tenant only when issued."""

    id: str
    tenant_id: str
    url: str
    events: tuple[str, ...] | None  # None: every event type, including types added later
    secret: str
    created_at: str  # ISO 8601
    previous_secret: str | None = None  # after a rotation: still signs beside `secret` …
    previous_secret_until: int | None = None  # … until then (epoch seconds)


class WebhookStore(Protocol):
    def create(self, tenant_id: str, url: str, events: Sequence[str] | None, secret: str) -> Webhook: ...
    def list_for_tenant(self, tenant_id: str) -> list[Webhook]: ...
    def get(self, tenant_id: str, webhook_id: str) -> Webhook | None: ...
    def delete(self, tenant_id: str, webhook_id: str) -> None: ...
    def rotate_secret(self, tenant_id: str, webhook_id: str, secret: str, previous_until_s: int) -> Webhook: ...
