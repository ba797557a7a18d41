"""Webhooks as a tenant manages them: create (the secret is shown once), list, rotate the secret, delete.

A webhook of another tenant answers exactly like one that does not exist (404).
"""

from __future__ import annotations

import time
from typing import Any

from zapgate_control.adapters.dynamodb.webhooks import MAX_PER_TENANT
from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports import TooManyWebhooks, WebhookNotFound, WebhookStore
from zapgate_core.domain.webhooks import ROTATION_GRACE_S, new_secret


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


def rotate_secret(webhooks: WebhookStore, tenant_id: str, webhook_id: str) -> dict[str, Any]:
    """A new secret (answered this once); deliveries carry both signatures until the old one's grace ends."""
    try:
        item = webhooks.rotate_secret(tenant_id, webhook_id, new_secret(), int(time.time()) + ROTATION_GRACE_S)
    except WebhookNotFound as exc:
        raise NotFound("webhook") from exc
    metrics.add_metric(name="WebhookSecretsRotated", unit="Count", value=1)
    return item
