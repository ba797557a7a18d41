"""Webhooks as a tenant manages them: create (the secret is shown once), list, rotate the secret, delete.

A webhook of another tenant answers exactly like one that does not exist (404).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.webhooks import TooManyWebhooks, Webhook, WebhookNotFound, WebhookStore
from zapgate_core.domain.webhooks import MAX_WEBHOOKS_PER_TENANT, ROTATION_GRACE_S, new_secret


def create(webhooks: WebhookStore, tenant_id: str, url: str, events: Sequence[str] | None) -> Webhook:
    """The stored webhook including its secret: the only answer that ever carries it."""
    try:
        webhook = webhooks.create(tenant_id, url, events, new_secret())
    except TooManyWebhooks as exc:
        raise ApiError(409, "webhook_limit", f"a tenant may have at most {MAX_WEBHOOKS_PER_TENANT} webhooks") from exc
    metrics.add_metric(name="WebhooksCreated", unit="Count", value=1)
    return webhook


def list_all(webhooks: WebhookStore, tenant_id: str) -> list[Webhook]:
    return sorted(webhooks.list_for_tenant(tenant_id), key=lambda webhook: (webhook.created_at, webhook.id))


def delete(webhooks: WebhookStore, tenant_id: str, webhook_id: str) -> None:
    try:
        webhooks.delete(tenant_id, webhook_id)
    except WebhookNotFound as exc:
        raise NotFound("webhook") from exc
    metrics.add_metric(name="WebhooksDeleted", unit="Count", value=1)


def rotate_secret(webhooks: WebhookStore, tenant_id: str, webhook_id: str) -> Webhook:
    """A new secret (answered this once); deliveries carry both signatures until the old one's grace ends."""
    try:
        webhook = webhooks.rotate_secret(tenant_id, webhook_id, new_secret(), int(time.time()) + ROTATION_GRACE_S)
    except WebhookNotFound as exc:
        raise NotFound("webhook") from exc
    metrics.add_metric(name="WebhookSecretsRotated", unit="Count", value=1)
    return webhook
