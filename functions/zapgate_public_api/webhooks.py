"""/v1/webhooks: where the caller's tenant receives events (docs/events.md).

POST answers the signing secret once; listings never carry it. Event types are those of
zapgate_core.domain.events; omitting `events` (or null) subscribes to all of them, including
types added later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import BaseModel, Field, field_validator

from zapgate_control.ports.webhooks import Webhook as StoredWebhook
from zapgate_control.services import webhooks
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.domain.webhooks import URL_MAX, InvalidWebhookUrl, check_url
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.models import ErrorResponse, RequestModel

PREFIX = "/v1"
WEBHOOK_ID_MAX = 64  # "wh_" + 32 hex

# Literal, not the tuple in zapgate_core.domain.events: the OpenAPI schema lists the values.
EventType = Literal[
    "MESSAGE_INBOUND", "MESSAGE_STATUS", "INSTANCE_STATUS",
    "MESSAGE_EDITED", "MESSAGE_REVOKED", "GROUP_PARTICIPANTS_CHANGED", "GROUP_UPDATED", "CALL_RECEIVED",
    "AUTOMATION_ESCALATED",
]  # fmt: skip

_errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 422, 429)}
router = APIRouter(prefix=PREFIX, responses=_errors, tags=["webhooks"])


class WebhookCreate(RequestModel):
    url: str = Field(
        min_length=1, max_length=URL_MAX,
        description="https:// endpoint (http:// only for localhost / 127.0.0.1) that receives POSTed events",
    )
    events: list[EventType] | None = Field(
        default=None, min_length=1, max_length=3, description="Event types to receive; omit for all"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            return check_url(value.strip())
        except InvalidWebhookUrl as exc:
            raise ValueError(f"url {exc}") from exc

    @field_validator("events")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else sorted(set(value))


class Webhook(BaseModel):
    id: str
    url: str
    events: list[EventType] | None = Field(description="null = every event type")
    created_at: str

    @classmethod
    def of(cls, webhook: StoredWebhook) -> Webhook:
        events = list(webhook.events) if webhook.events is not None else None
        return cls(id=webhook.id, url=webhook.url, events=events, created_at=webhook.created_at)  # type: ignore[arg-type]


class WebhookCreated(Webhook):
    secret: str = Field(
        description="Signing secret for X-Zapgate-Signature: shown this once, store it now"
    )


class WebhookList(BaseModel):
    webhooks: list[Webhook]


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    responses={409: {"model": ErrorResponse, "description": "webhook_limit: the tenant has the most it may"}},
)
def create_webhook(
    request: WebhookCreate,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> WebhookCreated:
    webhook = webhooks.create(stores.webhooks, tenant_id, request.url, request.events)
    return WebhookCreated(**Webhook.of(webhook).model_dump(), secret=webhook.secret)


@router.get("/webhooks", response_model=WebhookList)
def list_webhooks(tenant_id: str = Depends(require_tenant), stores: Stores = Depends(get_stores)) -> WebhookList:
    return WebhookList(webhooks=[Webhook.of(webhook) for webhook in webhooks.list_all(stores.webhooks, tenant_id)])


class WebhookSecretRotated(Webhook):
    secret: str = Field(description="The new signing secret: shown this once, store it now")
    previous_secret_valid_until: str = Field(
        description="Until then deliveries carry two signatures (`v1=<new>,v1=<previous>`): switch receivers at leisure"
    )


@router.post(
    "/webhooks/{webhook_id}/secret",
    response_model=WebhookSecretRotated,
    responses={404: {"model": ErrorResponse}},
)
def rotate_webhook_secret(
    webhook_id: str = Path(min_length=1, max_length=WEBHOOK_ID_MAX),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> WebhookSecretRotated:
    """Issue a new signing secret. The previous one keeps signing beside it for 24 h, so no delivery fails
    verification while receivers move to the new secret."""
    webhook = webhooks.rotate_secret(stores.webhooks, tenant_id, webhook_id)
    until = datetime.fromtimestamp(webhook.previous_secret_until or 0, UTC).isoformat().replace("+00:00", "Z")
    return WebhookSecretRotated(**Webhook.of(webhook).model_dump(), secret=webhook.secret,
                                previous_secret_valid_until=until)


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={404: {"model": ErrorResponse}},
)
def delete_webhook(
    webhook_id: str = Path(min_length=1, max_length=WEBHOOK_ID_MAX),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Response:
    webhooks.delete(stores.webhooks, tenant_id, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
