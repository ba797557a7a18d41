"""Requests to the phone: answered by the sidecar holding the instance, while the caller waits.

`POST /v1/instances/{id}/contacts/check` and `POST /v1/instances/{id}/chats/presence` wait (up to
REQUEST_WAIT_MS, 10 s by default) for the answer; past that they answer 504 `instance_timeout` with
the request's id, and `GET /v1/instances/{id}/requests/{request_id}` tells how it ended. The path,
the outcomes and at-most-once: docs/requests.md.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Header, Path
from pydantic import BaseModel, Field

from zapgate_control.clock import iso
from zapgate_control.errors import ApiError
from zapgate_control.ports.requests import RequestRecord
from zapgate_control.services import requests
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.contract.common import MAX_ID
from zapgate_core.contract.request_ops.contacts import CheckNumbersArgs, CheckNumbersResult
from zapgate_core.contract.request_ops.messages import ChatPresenceArgs, ChatPresenceResult
from zapgate_core.contract.requests import RequestErrorCode, RequestOp, RequestState
from zapgate_core.domain.json_types import JsonObject
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.health import require_whatsapp
from zapgate_public_api.models import ErrorResponse

router = APIRouter(
    prefix="/v1", tags=["requests"],
    responses={code: {"model": ErrorResponse} for code in (400, 401, 404, 422, 429)},
)

InstanceIdPath = Path(min_length=1, max_length=MAX_ID)
IdempotencyKey = Header(
    default=None, alias="Idempotency-Key", min_length=1, max_length=MAX_ID,
    description="Same key + same body → the same request, run at most once; same key + other body → 422",
)
_ASK_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "forbidden: WhatsApp did not allow it"},
    409: {"model": ErrorResponse, "description": "instance_disconnected, with the current status"},
    501: {"model": ErrorResponse, "description": "worker_unsupported: the instance's worker takes no requests"},
    502: {"model": ErrorResponse, "description": "failed (WhatsApp's other refusals), outcome_unknown"},
    503: {"model": ErrorResponse, "description": "unreachable: the sidecar cannot reach WhatsApp; "
                                                 "WHATSAPP_NOT_CONFIGURED"},
    504: {"model": ErrorResponse, "description": "instance_timeout, with request_id: GET the request later"},
}


Result = TypeVar("Result", bound=BaseModel)


class RequestErrorBody(BaseModel):
    code: RequestErrorCode
    message: str


class RequestStatus(BaseModel):
    request_id: str
    instance_id: str
    op: RequestOp
    state: RequestState = Field(description="pending · claimed (running) · done · failed · outcome_unknown "
                                            "(the sidecar lost the instance while running it: it may have happened)")
    created_at: str
    result: dict[str, Any] | None = Field(default=None, description="done: the operation's result")
    error: RequestErrorBody | None = Field(default=None, description="failed: why")

    @classmethod
    def from_record(cls, record: RequestRecord) -> RequestStatus:
        error = {"code": record.error_code or "failed", "message": record.error_message or ""} if (
            record.state == "failed") else None
        return cls.model_validate({
            "request_id": record.id, "instance_id": record.instance_id, "op": record.op, "state": record.state,
            "created_at": iso(record.created_at_ms), "result": record.result if record.state == "done" else None,
            "error": error,
        })


def _result(model: type[Result], result: JsonObject) -> Result:
    try:
        return model.model_validate(result)
    except ValueError as exc:  # a sidecar's answer this API cannot stand behind
        raise ApiError(502, "failed", "the sidecar's answer was malformed") from exc


@router.post(
    "/instances/{instance_id}/contacts/check", response_model=CheckNumbersResult, responses=_ASK_ERRORS,
    dependencies=[Depends(require_whatsapp)],
)
def check_numbers(
    request: CheckNumbersArgs,
    instance_id: str = InstanceIdPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> CheckNumbersResult:
    """Which of up to 50 numbers have a WhatsApp account (their JID, and LID when WhatsApp tells it)."""
    requests.check_numbers_args(request.numbers)
    result = requests.ask(stores.request_deps, tenant_id, instance_id, "check_numbers",
                          request.model_dump(mode="json"), idempotency_key)
    return _result(CheckNumbersResult, result)


@router.post(
    "/instances/{instance_id}/chats/presence", response_model=ChatPresenceResult, responses=_ASK_ERRORS,
    dependencies=[Depends(require_whatsapp)],
)
def chat_presence(
    request: ChatPresenceArgs,
    instance_id: str = InstanceIdPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> ChatPresenceResult:
    """Show typing (composing), recording a voice note, or stop (paused) in a chat."""
    requests.chat_presence_args(request.chat)
    result = requests.ask(stores.request_deps, tenant_id, instance_id, "chat_presence",
                          request.model_dump(mode="json"), idempotency_key)
    return _result(ChatPresenceResult, result)


@router.get("/instances/{instance_id}/requests/{request_id}", response_model=RequestStatus,
            response_model_exclude_none=True)
def get_request(
    instance_id: str = InstanceIdPath,
    request_id: str = Path(min_length=1, max_length=MAX_ID),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> RequestStatus:
    """A request to the phone as it is now: how it ended, or that it still runs."""
    return RequestStatus.from_record(requests.status(stores.request_deps, tenant_id, instance_id, request_id))
