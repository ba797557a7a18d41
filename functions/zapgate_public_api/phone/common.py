"""What every request-to-the-phone route shares: its parameters, its documented errors, the call that
asks and reads the answer, and `GET /v1/instances/{id}/requests/{request_id}`.

Each route waits (up to REQUEST_WAIT_MS, 10 s by default) for the lock holder's answer; past that it
answers 504 `instance_timeout` with the request's id, and the GET below tells how it ended. The path,
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
from zapgate_core.contract.requests import RequestErrorCode, RequestOp, RequestState
from zapgate_core.domain.json_types import JsonObject
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.models import ErrorResponse


# Error responses are documented by reference to ErrorResponse's schema rather than as `model`: FastAPI builds a
# pydantic field for every (route, status, model) when the module is imported, and 11 statuses on 26 routes were
# most of these routes' share of the public API's cold start. GET .../requests/{request_id} below keeps the model,
# so the schema is always among the document's components.
def _error(description: str) -> dict[str, Any]:
    # A fresh dict each time: FastAPI merges these into the document in place.
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}


# The errors every route answers before it asks anything (validation, auth, an unknown instance, rate limit).
BASE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("malformed_json"), 401: _error("unauthorized"), 404: _error("not_found: the instance (or the "
    "object named) is unknown or another tenant's"), 422: _error("validation_error, or an argument that cannot "
    "be a WhatsApp one (nothing stored)"), 429: _error("rate_limited"),
}  # fmt: skip
InstanceIdPath = Path(min_length=1, max_length=MAX_ID)
IdempotencyKey = Header(
    default=None, alias="Idempotency-Key", min_length=1, max_length=MAX_ID,
    description="Same key + same body → the same request, run at most once; same key + other body → 422",
)
# What asking the phone may answer besides the operation's result (docs/requests.md#outcomes).
ASK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("malformed_json; bad_request: WhatsApp refused the arguments"),
    403: _error("forbidden: WhatsApp did not allow it"),
    404: _error("not_found: the instance is unknown or another tenant's; not_found, not_on_whatsapp: WhatsApp "
                "has no such chat, group or account"),
    409: _error("instance_disconnected, with the current status"),
    422: _error("validation_error, invalid_*: nothing stored; expired: past WhatsApp's window"),
    501: _error("worker_unsupported: the instance's worker takes no requests"),
    502: _error("failed (WhatsApp's other refusals), outcome_unknown"),
    503: _error("unreachable: the sidecar cannot reach WhatsApp; WHATSAPP_NOT_CONFIGURED"),
    504: _error("instance_timeout, with request_id: GET the request later"),
}


def ask_errors(described: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """ASK_ERRORS with the route's own meaning of some statuses (e.g. 409 message_not_sent)."""
    return {**ASK_ERRORS, **{status: _error(text) for status, text in described.items()}}


Result = TypeVar("Result", bound=BaseModel)


def ask(
    stores: Stores, tenant_id: str, instance_id: str, op: RequestOp, args: JsonObject, idempotency_key: str | None,
    model: type[Result],
) -> Result:
    """Ask the instance's phone and read its answer as `model` (the operation's result, contract/requests.RESULTS)."""
    return ask_done(stores, tenant_id, instance_id, op, args, idempotency_key, model)[0]


def ask_done(
    stores: Stores, tenant_id: str, instance_id: str, op: RequestOp, args: JsonObject, idempotency_key: str | None,
    model: type[Result],
) -> tuple[Result, RequestRecord]:
    """`ask`, with the done request too (for what a route records after it, once per request)."""
    done = requests.ask_done(stores.request_deps, tenant_id, instance_id, op, args, idempotency_key)
    try:
        return model.model_validate(done.result or {}), done
    except ValueError as exc:  # a sidecar's answer this API cannot stand behind
        raise ApiError(502, "failed", "the sidecar's answer was malformed") from exc


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


router = APIRouter(prefix="/v1", tags=["requests"],
                   responses={code: {"model": ErrorResponse} for code in (400, 401, 404, 422, 429)})


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
