"""/v1/webhooks/{id}/deliveries: a webhook's recent failed and dead deliveries, and redriving a dead one.

Successful deliveries are not listed (they are not recorded one by one: docs/events.md#failed-deliveries-and-redrive).
The tenant's own dead letters only: the SQS dead-letter queue is shared and stays the operator's.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, status
from pydantic import BaseModel, Field

from zapgate_control.ports.delivery_log import LoggedAttempt
from zapgate_control.services import webhook_deliveries
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.contract.common import MAX_ID
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.models import ErrorResponse
from zapgate_public_api.webhooks import PREFIX, WEBHOOK_ID_MAX

PAGE_MAX = 100
CURSOR_MAX = 2_048
_errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 404, 422, 429)}
router = APIRouter(prefix=PREFIX, responses=_errors, tags=["webhooks"])

WebhookIdPath = Path(min_length=1, max_length=WEBHOOK_ID_MAX)


class Delivery(BaseModel):
    event_id: str = Field(description="The event's id (X-Zapgate-Event-Id)")
    event_type: str
    attempt: int = Field(description="Which attempt failed (1..5)")
    reason: str = Field(description='Why, e.g. "HTTP 500", "timeout": never the URL or the body')
    outcome: Literal["failed", "dead", "redriven"] = Field(
        description='"failed": retried later; "dead": the last attempt, redrivable; "redriven": was dead, sent again'
    )
    at: str = Field(description="When the attempt failed (ISO 8601 UTC)")

    @classmethod
    def of(cls, attempt: LoggedAttempt) -> Delivery:
        return cls(event_id=attempt.event_id, event_type=attempt.event_type, attempt=attempt.attempt,
                   reason=attempt.reason, outcome=attempt.outcome, at=attempt.at)


class DeliveryPage(BaseModel):
    deliveries: list[Delivery]
    next_cursor: str | None = None


class Redriven(BaseModel):
    webhook_id: str
    event_id: str
    event_type: str
    status: Literal["queued"] = Field(default="queued", description="Back on the events queue for this webhook")


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(
    webhook_id: str = WebhookIdPath,
    limit: int = Query(default=50, ge=1, le=PAGE_MAX),
    cursor: str | None = Query(default=None, max_length=CURSOR_MAX, description="next_cursor of the previous page"),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> DeliveryPage:
    """The webhook's failed and dead delivery attempts of the last 7 days (dead ones: 14), newest first.
    Successful deliveries are not listed."""
    attempts, next_cursor = webhook_deliveries.recent(stores.webhooks, stores.delivery_log, tenant_id, webhook_id,
                                                      limit, cursor)
    return DeliveryPage(deliveries=[Delivery.of(a) for a in attempts], next_cursor=next_cursor)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{event_id}/redrive",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Redriven,
    responses={
        409: {"model": ErrorResponse,
              "description": "already_redriven, redrive_in_progress, or not_redrivable (too large to keep)"},
        503: {"model": ErrorResponse, "description": "events_unavailable: the queue did not take it; still dead"},
    },
)
def redrive_delivery(
    webhook_id: str = WebhookIdPath,
    event_id: str = Path(min_length=1, max_length=MAX_ID),
    idempotency_key: str | None = Header(
        default=None, alias="Idempotency-Key", min_length=1, max_length=MAX_ID,
        description="A retry with the same key after a redrive answers the same 202 and sends nothing again",
    ),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Redriven:
    """Send a dead delivery to this webhook again: its event goes back on the events queue for this webhook
    only, with the whole retry schedule. Once: a second redrive answers 409 (404 once the record expired)."""
    done = webhook_deliveries.redrive(stores.webhooks, stores.delivery_log, stores.events, tenant_id, webhook_id,
                                      event_id, idempotency_key)
    return Redriven(webhook_id=done.webhook_id, event_id=done.event_id, event_type=done.event_type)
