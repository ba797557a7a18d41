"""`POST /v1/instances/{id}/commands`: ask the sidecar running an instance to act on its session.

The command waits on the instance and reaches the sidecar holding its lock within its heartbeat's
long-poll tick (a doorbell, services/commands.py), or else with its next lock renewal
(INSTANCE_LOCK_RENEW_MS, 15 s by default); one nobody runs within 10 minutes expires.
Results land in the audit log (`command_done` / `command_failed`).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from zapgate_control.services import commands
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.contract.common import MAX_ID
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.health import require_whatsapp
from zapgate_public_api.models import ErrorResponse

router = APIRouter(
    prefix="/v1", tags=["instances"], responses={code: {"model": ErrorResponse} for code in (400, 401, 404, 422, 429)}
)

CommandType = Literal["refresh_qr", "logout", "disconnect", "restart", "pairing_code", "fetch_groups"]


class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: CommandType = Field(
        description="refresh_qr: reopen the session (a fresh QR when unpaired; keys kept) · logout: unlink the "
        "device, wipe its keys, new QR · disconnect: close the session and disable the instance (enabled=false; "
        "PATCH enabled=true reconnects, keys kept) · restart: close and reopen · pairing_code: phone-number "
        "pairing (needs `phone`) · fetch_groups: list the account's groups into GET .../groups"
    )
    phone: str | None = Field(default=None, pattern=r"^[0-9]{8,15}$", description="Digits with country code")

    @model_validator(mode="after")
    def _phone_for_pairing_only(self) -> CommandRequest:
        if (self.type == "pairing_code") != (self.phone is not None):
            raise ValueError("phone is required for pairing_code and only for it")
        return self


class CommandAccepted(BaseModel):
    id: str
    type: CommandType
    status: Literal["pending", "done"] = Field(
        default="pending", description='"done" only for disconnect when no sidecar runs the instance'
    )


@router.post(
    "/instances/{instance_id}/commands",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CommandAccepted,
    responses={
        409: {"model": ErrorResponse, "description": "instance_disabled, too_many_commands (10 pending)"},
        503: {"model": ErrorResponse, "description": "WHATSAPP_NOT_CONFIGURED: no WhatsApp worker is deployed"},
    },
    dependencies=[Depends(require_whatsapp)],
)
def request_command(
    request: CommandRequest,
    instance_id: str = Path(min_length=1, max_length=MAX_ID),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> CommandAccepted:
    accepted = commands.request(stores.instances, stores.messages, stores.audit, tenant_id, instance_id, request.type,
                                request.phone, waker=stores.sidecar_waker)
    return CommandAccepted.model_validate(accepted, from_attributes=True)
