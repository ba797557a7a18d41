"""Groups, asked of the phone: create, read, rename, describe, settings, participants, invite links, join, leave.

The listing of discovered groups and their monitor flags (`GET .../groups`, `PATCH .../groups/{jid}`) are
zapgate's own records, in zapgate_public_api/groups.py; everything here is WhatsApp's, asked live.
`{jid}` is `<id>@g.us` or the bare id; participants are phone numbers in any common form or JIDs. All are
normalised to JIDs before the request is stored (services/requests_args.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, status
from pydantic import Field, StrictBool, model_validator

from zapgate_control.services import groups, requests_args
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.contract.common import MAX_ID
from zapgate_core.contract.request_ops.groups import (
    MAX_GROUP_DESCRIPTION,
    MAX_GROUP_NAME,
    MAX_INVITE_LINK,
    MAX_PARTICIPANTS_PER_CALL,
    GroupCreated,
    GroupInfo,
    GroupJoined,
    GroupParticipantsResult,
    InviteLink,
    ParticipantAction,
)
from zapgate_core.contract.request_ops.outcomes import Done
from zapgate_core.contract.requests import RequestOp
from zapgate_core.domain.json_types import JsonObject
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.health import require_whatsapp
from zapgate_public_api.models import RequestModel
from zapgate_public_api.phone.common import (
    ASK_ERRORS,
    BASE_ERRORS,
    IdempotencyKey,
    InstanceIdPath,
    Result,
    ask,
    ask_errors,
)

router = APIRouter(prefix="/v1", tags=["groups"], responses=BASE_ERRORS, dependencies=[Depends(require_whatsapp)])

GroupPath = Path(min_length=1, max_length=MAX_ID, description="The group: <id>@g.us, or the bare id")
Participants = Field(min_length=1, max_length=MAX_PARTICIPANTS_PER_CALL,
                     description="Phone numbers with country code (any common form) or JIDs")


class GroupCreate(RequestModel):
    name: str = Field(min_length=1, max_length=MAX_GROUP_NAME)
    participants: list[str] = Field(default_factory=list, max_length=MAX_PARTICIPANTS_PER_CALL,
                                    description="Phone numbers (any common form) or JIDs to add at creation")


class GroupName(RequestModel):
    name: str = Field(min_length=1, max_length=MAX_GROUP_NAME)


class GroupDescription(RequestModel):
    description: str = Field(max_length=MAX_GROUP_DESCRIPTION, description="Empty removes it")


class GroupSettings(RequestModel):
    announce: StrictBool | None = Field(default=None, description="Only admins send messages")
    locked: StrictBool | None = Field(default=None, description="Only admins edit the group's info")

    @model_validator(mode="after")
    def _something(self) -> GroupSettings:
        if self.announce is None and self.locked is None:
            raise ValueError("name at least one of announce, locked")
        return self


class GroupParticipants(RequestModel):
    action: ParticipantAction
    participants: list[str] = Participants


class GroupJoin(RequestModel):
    link: str = Field(min_length=1, max_length=MAX_INVITE_LINK,
                      description="An invite link (https://chat.whatsapp.com/<code>) or its code")


@router.post("/instances/{instance_id}/groups", status_code=status.HTTP_201_CREATED, response_model=GroupCreated,
             responses=ASK_ERRORS)
def create_group(
    request: GroupCreate,
    instance_id: str = InstanceIdPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> GroupCreated:
    """Create a group with this account as its admin, adding the participants named (201: the new group, and
    in `not_added` whom WhatsApp did not add, and why). It appears in `GET .../groups` after the next group
    discovery."""
    args = {"name": requests_args.text(request.name, "name"),
            "participants": requests_args.user_jids(request.participants)}
    return ask(stores, tenant_id, instance_id, "group_create", args, idempotency_key, GroupCreated)


@router.get("/instances/{instance_id}/groups/{jid}", response_model=GroupInfo, responses=ASK_ERRORS)
def group_info(
    instance_id: str = InstanceIdPath,
    jid: str = GroupPath,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> GroupInfo:
    """A group as WhatsApp has it now: name, description, settings, participants and their roles."""
    return ask(stores, tenant_id, instance_id, "group_info", {"group": requests_args.group_jid(jid)}, None,
               GroupInfo)


@router.put("/instances/{instance_id}/groups/{jid}/name", response_model=Done, responses=ASK_ERRORS)
def rename_group(
    request: GroupName,
    instance_id: str = InstanceIdPath,
    jid: str = GroupPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Done:
    """Rename the group (its subject); a locked group lets only admins. Once WhatsApp did it, the instance's
    groups listing shows the new name (and the audit log the rename) without waiting for a discovery."""
    name = requests_args.text(request.name, "name")
    done = _change(stores, tenant_id, instance_id, jid, "group_name", {"name": name}, idempotency_key, Done)
    groups.renamed(stores.groups, stores.audit, instance_id, requests_args.group_jid(jid), name)
    return done


@router.put("/instances/{instance_id}/groups/{jid}/description", response_model=Done, responses=ASK_ERRORS)
def describe_group(
    request: GroupDescription,
    instance_id: str = InstanceIdPath,
    jid: str = GroupPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Done:
    """Set the group's description; an empty one removes it."""
    args = {"description": request.description.strip()}
    return _change(stores, tenant_id, instance_id, jid, "group_description", args, idempotency_key, Done)


@router.put("/instances/{instance_id}/groups/{jid}/settings", response_model=Done, responses=ASK_ERRORS)
def group_settings(
    request: GroupSettings,
    instance_id: str = InstanceIdPath,
    jid: str = GroupPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Done:
    """Who may send (announce: only admins) and who may edit the group's info (locked: only admins).
    Only the settings named change. Admins only."""
    args = request.model_dump(mode="json")
    return _change(stores, tenant_id, instance_id, jid, "group_settings", args, idempotency_key, Done)


@router.post("/instances/{instance_id}/groups/{jid}/participants", response_model=GroupParticipantsResult,
             responses=ASK_ERRORS)
def group_participants(
    request: GroupParticipants,
    instance_id: str = InstanceIdPath,
    jid: str = GroupPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> GroupParticipantsResult:
    """Add, remove, promote to admin or demote up to 50 participants (admins only). Answers each one's
    outcome: WhatsApp may accept some and refuse others (not on WhatsApp, already a participant, ...)."""
    args = {"action": request.action, "participants": requests_args.user_jids(request.participants)}
    return _change(stores, tenant_id, instance_id, jid, "group_participants", args, idempotency_key,
                   GroupParticipantsResult)


@router.get("/instances/{instance_id}/groups/{jid}/invite-link", response_model=InviteLink, responses=ASK_ERRORS)
def invite_link(
    instance_id: str = InstanceIdPath,
    jid: str = GroupPath,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> InviteLink:
    """The group's current invite link (admins only)."""
    return _change(stores, tenant_id, instance_id, jid, "group_invite_link", {"reset": False}, None, InviteLink)


@router.post("/instances/{instance_id}/groups/{jid}/invite-link/reset", response_model=InviteLink,
             responses=ASK_ERRORS)
def reset_invite_link(
    instance_id: str = InstanceIdPath,
    jid: str = GroupPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> InviteLink:
    """Revoke the group's invite link and answer the new one (admins only): the old link stops working."""
    return _change(stores, tenant_id, instance_id, jid, "group_invite_link", {"reset": True}, idempotency_key,
                   InviteLink)


@router.post("/instances/{instance_id}/groups/join", response_model=GroupJoined,
             responses=ask_errors({422: "validation_error, invalid_invite_link"}))
def join_group(
    request: GroupJoin,
    instance_id: str = InstanceIdPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> GroupJoined:
    """Join a group through its invite link (or ask to, when its admins approve new members)."""
    args = {"link": requests_args.invite_link(request.link)}
    return ask(stores, tenant_id, instance_id, "group_join", args, idempotency_key, GroupJoined)


@router.post("/instances/{instance_id}/groups/{jid}/leave", response_model=Done, responses=ASK_ERRORS)
def leave_group(
    instance_id: str = InstanceIdPath,
    jid: str = GroupPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Done:
    """Leave the group. Its monitor flag and stored messages stay as they were."""
    return _change(stores, tenant_id, instance_id, jid, "group_leave", {}, idempotency_key, Done)


def _change(
    stores: Stores, tenant_id: str, instance_id: str, jid: str, op: RequestOp, args: JsonObject,
    idempotency_key: str | None, model: type[Result],
) -> Result:
    """An operation on one group: the group's JID first in its arguments, as the contract names it (`group`)."""
    return ask(stores, tenant_id, instance_id, op, {"group": requests_args.group_jid(jid), **args},
               idempotency_key, model)
