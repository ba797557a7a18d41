"""Webhooks as a tenant manages them: create (the secret is shown once), list, delete.

A webhook of another tenant answers exactly like one that does not exist (404).
"""

from __future__ import annotations

from typing import Any

from zapgate_control.adapters.dynamodb.webhooks import MAX_PER_TENANT, TooManyWebhooks, WebhookNotFound
from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports import WebhookStore
from zapgate_core.domain.webhooks import new_secret


def create(webhooks: WebhookStore, tenant_id: str, url: str, events: list[str] | None) -> dict[str, Any]:
    """The stored webhook including its secret: the only answer that ever carries it."""
    try:
        item = webhooks.create(tenant_id, url, events, new_secret())
    except TooManyWebhooks as exc:
        raise ApiError(409, "webhook_limit", f"a tenant may have at most {MAX_PER_TENANT} webhooks") from exc
    metrics.add_metric(name="WebhooksCreated", unit="Count", value=1)
    return item


def list_all(webhooks: WebhookStore, tenant_id: str) -> list[dict[str, Any]]:
    items = webhooks.list_for_tenant(tenant_id)
    return sorted(items, key=lambda item: (item.get("created_at", ""), item["webhook_id"]))


def delete(webhooks: WebhookStore, tenant_id: str, webhook_id: str) -> None:
    try:
        webhooks.delete(tenant_id, webhook_id)
    except WebhookNotFound as exc:
        raise NotFound("webhook") from exc
    metrics.add_metric(name="WebhooksDeleted", unit="Count", value=1)
