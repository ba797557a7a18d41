"""Contacts, asked of the phone: who has WhatsApp, who someone is, their picture, whom this account blocks.

`{contact}` is a phone number in any common form (`+55 11 99999-0001`, URL-encoded) or a JID; the
control plane normalises it to a JID before the request is stored (services/requests_args.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query

from zapgate_control.services import requests, requests_args
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.contract.common import MAX_ID
from zapgate_core.contract.request_ops.contacts import (
    Blocklist,
    CheckNumbersArgs,
    CheckNumbersResult,
    ProfilePicture,
    UserInfo,
)
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.health import require_whatsapp
from zapgate_public_api.phone.common import ASK_ERRORS, BASE_ERRORS, IdempotencyKey, InstanceIdPath, ask

router = APIRouter(prefix="/v1", tags=["contacts"], responses=BASE_ERRORS, dependencies=[Depends(require_whatsapp)])

ContactPath = Path(min_length=1, max_length=MAX_ID, description="A phone number with country code, or a JID")


@router.post("/instances/{instance_id}/contacts/check", response_model=CheckNumbersResult, responses=ASK_ERRORS)
def check_numbers(
    request: CheckNumbersArgs,
    instance_id: str = InstanceIdPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> CheckNumbersResult:
    """Which of up to 50 numbers have a WhatsApp account (their JID, and LID when WhatsApp tells it)."""
    requests.check_numbers_args(request.numbers)
    return ask(stores, tenant_id, instance_id, "check_numbers", request.model_dump(mode="json"), idempotency_key,
               CheckNumbersResult)


@router.get("/instances/{instance_id}/contacts/{contact}/info", response_model=UserInfo, responses=ASK_ERRORS)
def user_info(
    instance_id: str = InstanceIdPath,
    contact: str = ContactPath,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> UserInfo:
    """What WhatsApp tells about a user: LID, names, about text, picture id (what their privacy settings show).
    A group is a 422 (`GET .../groups/{jid}` describes groups); a number without an account a 404."""
    jid = requests_args.user_jid(contact)
    return ask(stores, tenant_id, instance_id, "user_info", {"jid": jid}, None, UserInfo)


@router.get("/instances/{instance_id}/contacts/{contact}/picture", response_model=ProfilePicture,
            responses=ASK_ERRORS)
def profile_picture(
    instance_id: str = InstanceIdPath,
    contact: str = ContactPath,
    preview: bool = Query(default=False, description="The small thumbnail instead of the full picture"),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> ProfilePicture:
    """A user's or a group's profile picture: a short-lived URL on WhatsApp's CDN (null when there is none
    or their privacy settings hide it). Download it soon: the URL expires."""
    jid = requests_args.user_or_group_jid(contact)
    return ask(stores, tenant_id, instance_id, "profile_picture", {"jid": jid, "preview": preview}, None,
               ProfilePicture)


@router.post("/instances/{instance_id}/contacts/{contact}/block", response_model=Blocklist, responses=ASK_ERRORS)
def block(
    instance_id: str = InstanceIdPath,
    contact: str = ContactPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Blocklist:
    """Block a user: they can no longer message or call this account. Answers the blocklist as it is now."""
    return _block(stores, tenant_id, instance_id, contact, "block", idempotency_key)


@router.post("/instances/{instance_id}/contacts/{contact}/unblock", response_model=Blocklist, responses=ASK_ERRORS)
def unblock(
    instance_id: str = InstanceIdPath,
    contact: str = ContactPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Blocklist:
    """Unblock a user. Answers the blocklist as it is now."""
    return _block(stores, tenant_id, instance_id, contact, "unblock", idempotency_key)


@router.get("/instances/{instance_id}/blocklist", response_model=Blocklist, responses=ASK_ERRORS)
def blocklist(
    instance_id: str = InstanceIdPath,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Blocklist:
    """The users this account blocks, as WhatsApp lists them."""
    return ask(stores, tenant_id, instance_id, "blocklist", {}, None, Blocklist)


def _block(stores: Stores, tenant_id: str, instance_id: str, contact: str, action: str,
           idempotency_key: str | None) -> Blocklist:
    jid = requests_args.user_jid(contact)
    return ask(stores, tenant_id, instance_id, "block", {"jid": jid, "action": action}, idempotency_key, Blocklist)
