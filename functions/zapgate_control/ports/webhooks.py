"""Webhook registrations (WebhooksTable)."""

from __future__ import annotations

from typing import Any, Protocol


class WebhookNotFound(Exception):
    """No such webhook, or one of another tenant."""


class TooManyWebhooks(Exception):
    """The tenant already has the most webhooks it may register."""


class WebhookStore(Protocol):
    def create(self, tenant_id: str, url: str, events: list[str] | None, secret: str) -> dict[str, Any]: ...
    def list_for_tenant(self, tenant_id: str) -> list[dict[str, Any]]: ...
    def get(self, tenant_id: str, webhook_id: str) -> dict[str, Any] | None: ...
    def delete(self, tenant_id: str, webhook_id: str) -> None: ...
    def rotate_secret(self, tenant_id: str, webhook_id: str, secret: str, previous_until_s: int) -> dict[str, Any]: ...
