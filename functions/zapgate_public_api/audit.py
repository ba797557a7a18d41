"""`GET /v1/instances/{id}/audit`: what happened to an instance, newest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from zapgate_control.ports.audit import AuditEntry
from zapgate_control.services import audit
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.contract.common import MAX_ID
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.models import ErrorResponse

router = APIRouter(
    prefix="/v1", tags=["audit"], responses={code: {"model": ErrorResponse} for code in (400, 401, 404, 422, 429)}
)


class AuditEvent(BaseModel):
    event: str = Field(
        description="qr_generated, pairing_code, connect, disconnect, reconnect, error, discovery, group_rename, "
        "command, command_done, command_failed, session_refresh"
    )
    at: str
    detail: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_record(cls, entry: AuditEntry) -> AuditEvent:
        return cls(event=entry.event, at=entry.at, detail=entry.detail)


class AuditPage(BaseModel):
    events: list[AuditEvent]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


@router.get("/instances/{instance_id}/audit", response_model=AuditPage)
def list_audit(
    instance_id: str = Path(min_length=1, max_length=MAX_ID),
    limit: int = Query(default=50, ge=1, le=100),
    cursor: str | None = Query(default=None, max_length=2_048, description="next_cursor of the previous page"),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> AuditPage:
    entries, next_cursor = audit.page(stores.instances, stores.audit, tenant_id, instance_id, limit, cursor)
    return AuditPage(events=[AuditEvent.from_record(e) for e in entries], next_cursor=next_cursor)
