"""An instance's WhatsApp groups (found by the fetch_groups command) and their monitor flags."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from zapgate_control.ports.contacts import Group as GroupRecord
from zapgate_control.services import groups
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.contract.common import MAX_ID
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.models import ErrorResponse

router = APIRouter(
    prefix="/v1", tags=["groups"], responses={code: {"model": ErrorResponse} for code in (400, 401, 404, 422, 429)}
)

InstanceIdPath = Path(min_length=1, max_length=MAX_ID)


class Group(BaseModel):
    jid: str = Field(description="WhatsApp group id, <digits>@g.us")
    name: str
    monitor: bool = Field(description="Set only here; discovery never changes it (new groups: false)")
    first_seen: str | None = None
    seen_at: str | None = Field(default=None, description="Last discovery that listed the group")
    renamed_at: str | None = None

    @classmethod
    def from_record(cls, record: GroupRecord) -> Group:
        return cls(jid=record.jid, name=record.name, monitor=record.monitor, first_seen=record.first_seen,
                   seen_at=record.seen_at, renamed_at=record.renamed_at)


class GroupPage(BaseModel):
    groups: list[Group]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class GroupPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    monitor: StrictBool


@router.get("/instances/{instance_id}/groups", response_model=GroupPage)
def list_groups(
    instance_id: str = InstanceIdPath,
    limit: int = Query(default=50, ge=1, le=100),
    cursor: str | None = Query(default=None, max_length=2_048, description="next_cursor of the previous page"),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> GroupPage:
    records, next_cursor = groups.page(stores.instances, stores.groups, tenant_id, instance_id, limit, cursor)
    return GroupPage(groups=[Group.from_record(r) for r in records], next_cursor=next_cursor)


@router.patch("/instances/{instance_id}/groups/{jid}", response_model=Group)
def update_group(
    request: GroupPatch,
    instance_id: str = InstanceIdPath,
    jid: str = Path(min_length=1, max_length=MAX_ID),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Group:
    record = groups.set_monitor(stores.instances, stores.groups, tenant_id, instance_id, jid, request.monitor)
    return Group.from_record(record)
