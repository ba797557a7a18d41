"""Routes of the worker-proxy contract. Each is a thin shell: parse, call a service, answer.

Every route needs `Authorization: Bearer <WORKER_SECRET>`; paths carry the /worker-proxy
prefix themselves so the same app serves API Gateway (via Mangum) and uvicorn unchanged.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query

from zapgate_control.clock import system_clock
from zapgate_control.errors import install_error_handlers
from zapgate_control.lazy_routes import make_routes_lazy
from zapgate_control.observability import install_request_telemetry, logger
from zapgate_control.services import (
    commands,
    contacts,
    groups,
    heartbeat,
    inbound,
    inbound_changes,
    instance_settings,
    locks,
    media,
    outbound_claims,
    requests,
    worker_discovery,
)
from zapgate_control.wiring import Stores, get_stores
from zapgate_control.worker_auth import require_worker
from zapgate_core.contract.inbound_changes import InboundChange, InboundChangeResponse
from zapgate_core.contract.instance_settings import InstanceSettings
from zapgate_core.contract.requests import AnswerAccepted, AnswerRequest, ClaimedRequest, ClaimRequest
from zapgate_core.contract.worker_proxy import (
    MAX_ID,
    CommandAckRequest,
    CommandAckResponse,
    ContactResolveRequest,
    ContactResolveResponse,
    EligibleInstances,
    ErrorResponse,
    GroupsRequest,
    GroupsResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    InboundMessage,
    InboundResponse,
    LockAcquireRequest,
    LockReleaseRequest,
    LockReleaseResponse,
    LockRenewRequest,
    LockResponse,
    MarkFailedRequest,
    MarkResponse,
    MarkSentRequest,
    OkResponse,
    PrimaryJidResponse,
    QueuedMessages,
    ReceiptsRequest,
    ReceiptsResponse,
    SessionRefreshRequest,
    UpdateStatusRequest,
    UploadMediaRequest,
    UploadMediaResponse,
    WorkerSettings,
)

PREFIX = "/worker-proxy"
_errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 404, 409, 413, 422)}

router = APIRouter(prefix=PREFIX, dependencies=[Depends(require_worker)], responses=_errors)


@router.get("/worker-settings", response_model=WorkerSettings)
def worker_settings(stores: Stores = Depends(get_stores)) -> WorkerSettings:
    return worker_discovery.worker_settings(stores.settings.max_active_instances, stores.settings.sidecar_push_url)


@router.get("/eligible-instances", response_model=EligibleInstances)
def eligible_instances(
    limit: int = Query(default=50, ge=1, le=500),
    enabled: bool = Query(default=True, description="Only enabled instances are ever eligible"),
    order: str = Query(default="priority.desc", description="Always priority descending, ties by creation"),
    instance_owner: str | None = Query(default=None, min_length=1, max_length=MAX_ID,
                                       description="zapgate extension: the caller, for `announce`"),
    announce: bool = Query(default=False, description="zapgate extension: record the caller's presence "
                           "(at most once a minute) and answer the live sidecars as `sidecars`"),
    leave: bool = Query(default=False, description="zapgate extension, with announce: remove the caller's "
                        "presence (graceful stop)"),
    paged: bool = Query(default=False, description="zapgate extension: answer `next_cursor` while more "
                        "eligible instances follow this page"),
    cursor: str | None = Query(default=None, max_length=2048, description="zapgate extension: `next_cursor` "
                               "of the previous page (implies paged)"),
    stores: Stores = Depends(get_stores),
) -> EligibleInstances:
    return worker_discovery.eligible(stores.instances, limit, system_clock(), presence=stores.sidecar_presence,
                                     owner=instance_owner, announce=announce, leave=leave, paged=paged, cursor=cursor)


@router.post("/instance-lock/acquire", response_model=LockResponse)
def lock_acquire(request: LockAcquireRequest, stores: Stores = Depends(get_stores)) -> LockResponse:
    return locks.acquire(stores.instances, request)


@router.post("/instance-lock/renew", response_model=LockResponse)
def lock_renew(request: LockRenewRequest, stores: Stores = Depends(get_stores)) -> LockResponse:
    return locks.renew(stores.instances, request)


@router.post("/instance-lock/release", response_model=LockReleaseResponse)
def lock_release(request: LockReleaseRequest, stores: Stores = Depends(get_stores)) -> LockReleaseResponse:
    return locks.release(stores.instances, request, waker=stores.sidecar_waker)


@router.post("/heartbeat", response_model=HeartbeatResponse)
def sidecar_heartbeat(request: HeartbeatRequest, stores: Stores = Depends(get_stores)) -> HeartbeatResponse:
    """zapgate extension: renew every lock a sidecar holds, then long-poll for outbound work."""
    return heartbeat.heartbeat(stores.instances, stores.messages, request)


@router.post("/commands/ack", response_model=CommandAckResponse)
def commands_ack(request: CommandAckRequest, stores: Stores = Depends(get_stores)) -> CommandAckResponse:
    """zapgate extension: a command from the heartbeat ran (done/failed); removes it from the instance."""
    return commands.ack(stores.instances, stores.audit, request)


@router.post("/requests/claim", response_model=ClaimedRequest)
def requests_claim(request: ClaimRequest, stores: Stores = Depends(get_stores)) -> ClaimedRequest:
    """zapgate extension: the lock holder takes a request to the phone before running it (at most once);
    409 when it is not pending for the caller or the caller's lock is not the instance's live lock."""
    return requests.claim(stores.instances, stores.requests, request, system_clock())


@router.post("/requests/answer", response_model=AnswerAccepted)
def requests_answer(request: AnswerRequest, stores: Stores = Depends(get_stores)) -> AnswerAccepted:
    """zapgate extension: the claimer's result or error; 409 unless the caller holds the claim."""
    return requests.answer(stores.requests, request, system_clock())


@router.get("/instances/{instance_id}/settings", response_model=InstanceSettings,
            responses={503: {"model": ErrorResponse}})
def instance_settings_for_holder(
    instance_id: str = Path(min_length=1, max_length=MAX_ID),
    instance_owner: str = Query(alias="instanceOwner", min_length=1, max_length=MAX_ID),
    lock_token: str = Query(alias="lockToken", min_length=1, max_length=MAX_ID),
    stores: Stores = Depends(get_stores),
) -> InstanceSettings:
    """zapgate extension (issue 13): the instance's settings for its live lock holder only (409 otherwise);
    fetched at lock acquire and when the settings_version changes (a `settings` push frame, the heartbeat)."""
    return instance_settings.for_lock_holder(stores.instances, instance_id, instance_owner, lock_token,
                                             system_clock(), proxies=stores.proxy_secrets)


@router.post("/groups", response_model=GroupsResponse)
def groups_discovered(request: GroupsRequest, stores: Stores = Depends(get_stores)) -> GroupsResponse:
    """zapgate extension: the instance's WhatsApp groups (fetch_groups); names only, never `monitor`."""
    return groups.discovered(stores.instances, stores.groups, stores.audit, request)


@router.post("/update-status", response_model=OkResponse)
def update_status(request: UpdateStatusRequest, stores: Stores = Depends(get_stores)) -> OkResponse:
    worker_discovery.update_status(stores.instances, request, audit=stores.audit, events=stores.events)
    return OkResponse()


@router.get("/queued-messages", response_model=QueuedMessages)
def queued_messages(
    instance_id: str = Query(alias="instanceId", min_length=1, max_length=200),
    limit: int = Query(default=10, ge=1, le=50),
    stores: Stores = Depends(get_stores),
) -> QueuedMessages:
    return outbound_claims.claim(stores.messages, stores.claim_policy, instance_id, limit)


@router.post("/mark-sent", response_model=MarkResponse)
def mark_sent(request: MarkSentRequest, stores: Stores = Depends(get_stores)) -> MarkResponse:
    return outbound_claims.mark_sent(stores.messages, request)


@router.post("/mark-failed", response_model=MarkResponse)
def mark_failed(request: MarkFailedRequest, stores: Stores = Depends(get_stores)) -> MarkResponse:
    return outbound_claims.mark_failed(stores.messages, request)


@router.post("/receipts", response_model=ReceiptsResponse)
def receipts(request: ReceiptsRequest, stores: Stores = Depends(get_stores)) -> ReceiptsResponse:
    """zapgate extension: sent → delivered → read as WhatsApp's receipts arrive."""
    return outbound_claims.apply_receipts(stores.messages, request)


@router.post("/inbound", response_model=InboundResponse, response_model_exclude_none=True)
def inbound_message(request: InboundMessage, stores: Stores = Depends(get_stores)) -> InboundResponse:
    return inbound.accept(
        stores.instances, stores.messages, stores.contacts, request, groups=stores.groups
    )


@router.post("/inbound-changes", response_model=InboundChangeResponse, responses={503: {"model": ErrorResponse}})
def inbound_change(
    request: InboundChange = Body(), stores: Stores = Depends(get_stores)
) -> InboundChangeResponse:
    """zapgate extension (issue 10): an edit, a revoke, a group change or a call (contract/inbound_changes.py)."""
    deps = inbound_changes.ChangeDeps(
        stores.instances, stores.messages, stores.groups, stores.events, stores.audit, stores.sidecar_waker,
        require_published=bool(stores.settings.events_queue_url),
    )
    return inbound_changes.report(deps, request)


@router.post("/contacts/resolve", response_model=ContactResolveResponse)
def contacts_resolve(request: ContactResolveRequest, stores: Stores = Depends(get_stores)) -> ContactResolveResponse:
    return contacts.resolve(stores.contacts, request)


@router.get("/contacts/primary-jid", response_model=PrimaryJidResponse)
def contacts_primary_jid(
    instance_id: str = Query(alias="instanceId", min_length=1, max_length=200),
    jid: str = Query(min_length=3, max_length=200),
    stores: Stores = Depends(get_stores),
) -> PrimaryJidResponse:
    return contacts.primary_jid(stores.contacts, instance_id, jid)


@router.post("/sessions/refresh", response_model=OkResponse)
def sessions_refresh(request: SessionRefreshRequest, stores: Stores = Depends(get_stores)) -> OkResponse:
    worker_discovery.session_refresh(stores.audit, request.instance_id, request.jid, request.trigger)
    return OkResponse()


@router.post("/upload-media", response_model=UploadMediaResponse)
def upload_media(request: UploadMediaRequest, stores: Stores = Depends(get_stores)) -> UploadMediaResponse:
    return media.upload(stores.media, request, stores.settings.media_max_bytes)


def create_app() -> FastAPI:
    app = FastAPI(
        title="zapgate worker-proxy",
        version="1.0",
        description="The contract sidecars call: ../shared/contracts/worker-proxy.md",
        docs_url=f"{PREFIX}/docs",
        openapi_url=f"{PREFIX}/openapi.json",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,  # a path outside /worker-proxy would never reach this function
    )
    app.include_router(router)
    from zapgate_worker_proxy.own_messages import router as own_messages_router  # issue 13, zapgate-only

    app.include_router(own_messages_router, prefix=PREFIX, responses=_errors)
    from zapgate_worker_proxy.pacing_routes import router as pacing_router  # issue 13, zapgate-only

    app.include_router(pacing_router, prefix=PREFIX, responses=_errors)
    install_error_handlers(app, logger)
    install_request_telemetry(app, api="worker-proxy")
    make_routes_lazy(app)  # last: a first request builds only the route it serves (issue 14)
    return app


app = create_app()
