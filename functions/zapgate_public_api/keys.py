"""/v1/keys: the caller's tenant manages its own API keys (see services/api_keys.py for the rules).

The raw key is answered once, by POST; listings carry its id, label, dates and last four
characters, never the key nor its hash. Creating a tenant stays an operator's command
(`python -m zapgate_control.admin create-key --tenant X`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response, status
from pydantic import BaseModel, Field, field_validator

from zapgate_control.ports.api_keys import ApiKey as StoredKey
from zapgate_control.services import api_keys
from zapgate_control.wiring import Stores, get_stores
from zapgate_public_api.auth import Caller, require_caller, require_tenant
from zapgate_public_api.models import ErrorResponse, RequestModel

PREFIX = "/v1"
LABEL_MAX = 100
PAGE_MAX = 100
CURSOR_MAX = 64  # a created_sk: 13 digits, '#', a uuid

_errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 422, 429)}
router = APIRouter(prefix=PREFIX, responses=_errors, tags=["keys"])


class KeyCreate(RequestModel):
    label: str | None = Field(default=None, max_length=LABEL_MAX, description="Free text to recognise the key by")

    @field_validator("label")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return (value or "").strip() or None


class ApiKey(BaseModel):
    id: str
    label: str | None
    created_at: str
    revoked: bool
    revoked_at: str | None = None
    last4: str | None = Field(default=None, description="The key's last four characters")

    @classmethod
    def of(cls, key: StoredKey) -> ApiKey:
        return cls(id=key.id, label=key.label, created_at=key.created_at, revoked=key.revoked,
                   revoked_at=key.revoked_at, last4=key.last4)


class ApiKeyCreated(BaseModel):
    id: str
    key: str = Field(description="The API key itself: shown this once, store it now")
    label: str | None
    created_at: str


class ApiKeyPage(BaseModel):
    keys: list[ApiKey]
    next_cursor: str | None


@router.post("/keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
def create_key(
    request: KeyCreate | None = Body(default=None),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> ApiKeyCreated:
    created, raw_key = api_keys.create(stores.api_keys, tenant_id, request.label if request else None)
    return ApiKeyCreated(id=created.id, key=raw_key, label=created.label, created_at=created.created_at)


@router.get("/keys", response_model=ApiKeyPage)
def list_keys(
    limit: int = Query(default=50, ge=1, le=PAGE_MAX),
    cursor: str | None = Query(default=None, max_length=CURSOR_MAX, description="next_cursor of the previous page"),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> ApiKeyPage:
    keys, next_cursor = api_keys.list_page(stores.api_keys, tenant_id, limit, cursor)
    return ApiKeyPage(keys=[ApiKey.of(key) for key in keys], next_cursor=next_cursor)


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        404: {"model": ErrorResponse},
        409: {"model": ErrorResponse, "description": "last_active_key: the tenant's only active key"},
    },
)
def revoke_key(
    key_id: str = Path(min_length=1, max_length=64),
    caller: Caller = Depends(require_caller),
    stores: Stores = Depends(get_stores),
) -> Response:
    api_keys.revoke(stores.api_keys, caller.tenant_id, key_id, caller.key_hash)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
