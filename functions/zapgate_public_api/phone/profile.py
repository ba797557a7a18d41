"""This account's own profile, set on the phone: its name (push name) and its about text."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from zapgate_control.services import requests_args
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.contract.request_ops.outcomes import Done
from zapgate_core.contract.request_ops.profile import ProfileAboutArgs, ProfileNameArgs
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.health import require_whatsapp
from zapgate_public_api.phone.common import ASK_ERRORS, BASE_ERRORS, IdempotencyKey, InstanceIdPath, ask

router = APIRouter(prefix="/v1", tags=["profile"], responses=BASE_ERRORS, dependencies=[Depends(require_whatsapp)])


@router.put("/instances/{instance_id}/profile/name", response_model=Done, responses=ASK_ERRORS)
def profile_name(
    request: ProfileNameArgs,
    instance_id: str = InstanceIdPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Done:
    """The name this account shows to people who have not saved its number (up to 25 characters)."""
    args = {"name": requests_args.text(request.name, "name")}
    return ask(stores, tenant_id, instance_id, "profile_name", args, idempotency_key, Done)


@router.put("/instances/{instance_id}/profile/about", response_model=Done, responses=ASK_ERRORS)
def profile_about(
    request: ProfileAboutArgs,
    instance_id: str = InstanceIdPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Done:
    """This account's about text (up to 139 characters); empty clears it."""
    return ask(stores, tenant_id, instance_id, "profile_about", {"about": request.about}, idempotency_key, Done)
