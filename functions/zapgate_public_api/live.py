"""/v1/live/tickets: a one-time ticket to open the live WebSocket (docs/api.md#live-updates).

Browsers cannot set headers on a WebSocket, so they connect with `?ticket=` instead of the key:
the ticket names the caller's tenant, is stored only as its SHA-256, lasts 60 s and opens one
connection. Server clients may instead send their key in `X-API-Key` on the $connect itself.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from zapgate_control.services import live
from zapgate_control.wiring import Stores, get_stores
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.models import ErrorResponse

PREFIX = "/v1"

_errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 429, 503)}
router = APIRouter(prefix=PREFIX, responses=_errors, tags=["live"])


class LiveTicket(BaseModel):
    ticket: str = Field(description="One-time ticket: opens one connection, within expiresInSeconds")
    url: str = Field(description="The WebSocket URL to open, ticket included (wss://…/live?ticket=…)")
    expiresInSeconds: int = Field(description="The ticket is refused after this many seconds")


@router.post("/live/tickets", status_code=status.HTTP_201_CREATED, response_model=LiveTicket)
def create_live_ticket(tenant_id: str = Depends(require_tenant), stores: Stores = Depends(get_stores)) -> LiveTicket:
    """Add `&instanceId=<id>` (repeatable, or comma-separated) to the URL to receive only those
    instances' events; otherwise every instance of the tenant."""
    issued = live.issue_ticket(stores.live_connections, tenant_id, stores.settings.live_url)
    return LiveTicket(ticket=issued.ticket, url=issued.url, expiresInSeconds=issued.expires_in_s)
