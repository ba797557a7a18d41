"""Requests to the phone (docs/requests.md): the public API asks, the instance's lock holder answers.

`ask` stores a request addressed to the live lock holder, wakes that sidecar with a `request` push
frame and waits, bounded, for the answer by reading the item (strongly consistent, backing off from
10 ms to 100 ms). The sidecar `claim`s it first (pending -> claimed, fenced by its live lock), runs
it, then `answer`s (claimed -> done | failed, only by the claimer with its token): a request runs at
most once. A claimed request whose claimer lost the lock is `outcome_unknown` (it may have run) and is
never handed out again; a pending one whose addressee lost the lock never ran, so it fails as
`unreachable`. Both are settled when someone reads the request (`status`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from zapgate_control.clock import system_clock
from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.instances import InstanceStore
from zapgate_control.ports.presence import PushConnectionStore
from zapgate_control.ports.requests import (
    DuplicateRequest,
    RequestConflict,
    RequestRecord,
    RequestStore,
    ResultNotStorable,
)
from zapgate_control.services.instances import require
from zapgate_control.services.sidecar_wakeups import SidecarWaker
from zapgate_core.contract.requests import (
    FINAL_STATES,
    AnswerAccepted,
    AnswerRequest,
    ClaimedRequest,
    ClaimRequest,
)
from zapgate_core.contract.sidecar_push import push_frame
from zapgate_core.domain.idempotency import idempotent_message_id, request_fingerprint
from zapgate_core.domain.jids import InvalidDestination, normalize_destination
from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.locks import is_live_holder, live_lock_owner

CONNECTED = "CONNECTED"
REQUEST_TTL_S = 24 * 3600  # GET answers a request for a day; DynamoDB's TTL removes it after
FIRST_POLL_S = 0.01
MAX_POLL_S = 0.1
# A refused request's code -> HTTP status (docs/requests.md#outcomes).
ERROR_STATUS = {"bad_request": 400, "forbidden": 403, "not_found": 404, "not_on_whatsapp": 404,
                "expired": 422, "unreachable": 503, "outcome_unknown": 502, "failed": 502}


@dataclass(frozen=True)
class RequestDeps:
    instances: InstanceStore
    requests: RequestStore
    connections: PushConnectionStore
    waker: SidecarWaker | None  # None without the push channel: no sidecar can be asked (501)
    wait_ms: int
    clock: Callable[[], int] = system_clock  # lock expiry: the control plane's clock
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = field(default=time.sleep)


# ---------------------------------------------------------------- public API
def ask(
    deps: RequestDeps, tenant_id: str, instance_id: str, op: str, args: JsonObject, idempotency_key: str | None
) -> JsonObject:
    """The operation's result once the lock holder answered; raises ApiError for every other outcome."""
    return ask_done(deps, tenant_id, instance_id, op, args, idempotency_key).result or {}


def ask_done(
    deps: RequestDeps, tenant_id: str, instance_id: str, op: str, args: JsonObject, idempotency_key: str | None
) -> RequestRecord:
    """`ask`, answering the done request itself: its creation time is the same on every replay, so what a
    caller records after it (an edit's mark in history) is recorded once."""
    instance = require(deps.instances, tenant_id, instance_id)
    request_id = request_hash = None
    if idempotency_key is not None:
        # Same derivation as sends (another table, so no clash with a message's id).
        request_id = idempotent_message_id(tenant_id, instance_id, idempotency_key)
        request_hash = request_fingerprint({"op": op, "args": args})

    if instance.status != CONNECTED:
        metrics.add_metric(name="RequestsRejectedOffline", unit="Count", value=1)
        return _refused(deps, request_id, request_hash, ApiError(
            409, "instance_disconnected", "instance is not connected; retry later", status=instance.status))
    now = deps.clock()
    owner = live_lock_owner(instance.lock, now)
    if owner is None:
        return _refused(deps, request_id, request_hash, ApiError(
            409, "instance_disconnected", "no sidecar holds the instance right now; retry later",
            status=instance.status))
    connection_id = deps.connections.connection_of(owner) if deps.waker is not None else None
    if connection_id is None or deps.waker is None:
        metrics.add_metric(name="RequestsUnsupported", unit="Count", value=1)
        return _refused(deps, request_id, request_hash, ApiError(
            501, "worker_unsupported", "the worker running this instance does not take requests "
            "(the Node worker, or a sidecar without the push channel)"))
    record = RequestRecord(
        id=request_id or str(uuid.uuid4()), tenant_id=tenant_id, instance_id=instance_id, op=op, args=args,
        state="pending", addressed_to=owner, created_at_ms=now, request_hash=request_hash,
        lock_token=instance.lock.token,
    )
    try:
        deps.requests.create(record, REQUEST_TTL_S)
    except DuplicateRequest as exc:
        return _outcome(_wait(deps, _replayed(exc.existing, request_hash)))
    metrics.add_metric(name="RequestsAsked", unit="Count", value=1)
    if not deps.waker.post_to(connection_id, push_frame("request", instance_id, request_id=record.id)):
        # Nobody was told: fail it now (it cannot have run) rather than time out.
        record = _settle(deps, record)
    return _outcome(_wait(deps, record))


def status(deps: RequestDeps, tenant_id: str, instance_id: str, request_id: str) -> RequestRecord:
    """The request as it is now; one whose sidecar lost the instance is settled first."""
    require(deps.instances, tenant_id, instance_id)
    record = deps.requests.get(request_id)
    if record is None or record.tenant_id != tenant_id or record.instance_id != instance_id:
        raise NotFound("request")
    if record.state in FINAL_STATES:
        return record
    instance = deps.instances.get(instance_id, consistent=True)  # a stale lock could settle a live claim
    if instance is None:
        raise NotFound("instance")
    holder, token = (record.claimed_by, record.lock_token) if record.state == "claimed" else (
        record.addressed_to, record.lock_token)
    if is_live_holder(instance.lock, holder or "", token, deps.clock()):
        return record
    return _settle(deps, record)


def error_of(record: RequestRecord) -> ApiError | None:
    """The error a final or timed-out request answers with; None when it is done."""
    if record.state == "done":
        return None
    if record.state == "failed":
        code = record.error_code or "failed"
        return ApiError(ERROR_STATUS.get(code, 502), code, (record.error_message or code)[:200],
                        request_id=record.id)
    if record.state == "outcome_unknown":
        return ApiError(502, "outcome_unknown", "the sidecar lost the instance while running the request; it may "
                        "or may not have happened", request_id=record.id)
    return ApiError(504, "instance_timeout", "the instance did not answer in time; GET the request later",
                    request_id=record.id)


def _refused(deps: RequestDeps, request_id: str | None, request_hash: str | None, error: ApiError) -> RequestRecord:
    """A retry of a request accepted earlier still gets that request's outcome; anything else gets `error`."""
    earlier = deps.requests.get(request_id) if request_id else None
    if earlier is None:
        raise error
    return _outcome(_wait(deps, _replayed(earlier, request_hash)))


def _replayed(existing: RequestRecord, request_hash: str | None) -> RequestRecord:
    if existing.request_hash != request_hash:
        raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with a different request")
    metrics.add_metric(name="IdempotentReplays", unit="Count", value=1)
    return existing


def _settle(deps: RequestDeps, record: RequestRecord) -> RequestRecord:
    try:
        settled = deps.requests.settle_abandoned(record, deps.clock())
    except RequestConflict as exc:  # it moved on meanwhile (claimed, answered): that is its state
        return exc.current or record
    metrics.add_metric(name="RequestsAbandoned", unit="Count", value=1)
    return settled


def _wait(deps: RequestDeps, record: RequestRecord) -> RequestRecord:
    deadline = deps.monotonic() + deps.wait_ms / 1000
    delay = FIRST_POLL_S
    while record.state not in FINAL_STATES:
        remaining = deadline - deps.monotonic()
        if remaining <= 0:
            metrics.add_metric(name="RequestsTimedOut", unit="Count", value=1)
            break
        deps.sleep(min(delay, remaining))
        delay = min(delay * 2, MAX_POLL_S)
        record = deps.requests.get(record.id) or record
    return record


def _outcome(record: RequestRecord) -> RequestRecord:
    error = error_of(record)
    if error is not None:
        raise error
    return record


# ---------------------------------------------------------------- worker-proxy
def claim(instances: InstanceStore, requests: RequestStore, request: ClaimRequest, now_ms: int) -> ClaimedRequest:
    """Hand the request to the caller if it is pending, addressed to it, and the caller holds the lock now."""
    instance = instances.get(request.instance_id, consistent=True)
    if instance is None:
        raise NotFound("instance")
    owner, token = request.instance_owner, request.lock_token
    if not is_live_holder(instance.lock, owner, token, now_ms):
        raise ApiError(409, "lock_not_held", "the caller does not hold this instance's lock")
    try:
        record = requests.claim(request.request_id, request.instance_id, owner, token, now_ms)
    except RequestConflict as exc:
        # Even the claimer's own second claim: a request handed out twice could run twice.
        if exc.current is None:
            raise NotFound("request") from exc
        metrics.add_metric(name="RequestClaimConflicts", unit="Count", value=1)
        raise ApiError(409, "request_not_claimable", "the request is not pending for this caller",
                       state=exc.current.state) from exc
    return ClaimedRequest.model_validate(
        {"request_id": record.id, "instance_id": record.instance_id, "op": record.op, "args": record.args}
    )


def answer(requests: RequestStore, request: AnswerRequest, now_ms: int) -> AnswerAccepted:
    """Record the claimer's result or error; only the claim's owner with its lock token may."""
    if (request.result is None) == (request.error is None):
        raise ApiError(422, "validation_error", "exactly one of result and error")
    state = "done" if request.result is not None else "failed"
    owner, token = request.instance_owner, request.lock_token
    try:
        record = requests.answer(
            request.request_id, request.instance_id, owner, token, state, request.result,
            request.error.code if request.error else None, request.error.message if request.error else None, now_ms,
        )
    except ResultNotStorable as exc:
        raise ApiError(422, "validation_error", f"result: {exc}") from exc
    except RequestConflict as exc:
        current = exc.current
        if current is None:
            raise NotFound("request") from exc
        if current.state in ("done", "failed") and current.claimed_by == owner and current.lock_token == token:
            return AnswerAccepted(state=current.state)  # type: ignore[arg-type]  # its own answer, retried
        metrics.add_metric(name="RequestAnswerConflicts", unit="Count", value=1)
        raise ApiError(409, "request_not_claimed", "the request is not claimed by this caller",
                       state=current.state) from exc
    metrics.add_metric(name="RequestsAnswered", unit="Count", value=1)
    return AnswerAccepted(state=record.state)  # type: ignore[arg-type]


# ---------------------------------------------------------------- arguments the sidecar could never use
def check_numbers_args(numbers: list[str]) -> None:
    """A number is digits with country code (8 to 15), written any common way: +55 (11) 99999-9999."""
    for index, number in enumerate(numbers):
        digits = number.strip().lstrip("+").translate(_SEPARATORS)
        if not (digits.isascii() and digits.isdigit() and 8 <= len(digits) <= 15):
            raise ApiError(422, "invalid_number", f"numbers[{index}]: not a phone number with country code")


def chat_presence_args(chat: str) -> None:
    try:
        normalize_destination(chat)
    except InvalidDestination as exc:
        raise ApiError(422, "invalid_destination", f"chat: {exc}") from exc


_SEPARATORS = str.maketrans("", "", " -().")
