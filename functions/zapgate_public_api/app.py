"""Routes of the public API. Each is a thin shell: parse, call a service, answer.

Every route needs `X-API-Key`; paths carry the /v1 prefix themselves so the same app serves
API Gateway (via Mangum) and uvicorn unchanged. An instance of another tenant is a 404
everywhere, exactly like an unknown one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Response, status
from starlette.middleware.gzip import GZipMiddleware

from zapgate_control.errors import install_error_handlers
from zapgate_control.lazy_routes import make_routes_lazy
from zapgate_control.observability import install_request_telemetry, logger
from zapgate_control.ports.messages import MessageRecord
from zapgate_control.services import history, instance_proxy, instances, outbound_enqueue
from zapgate_control.services.automations import forget_instance as forget_automations
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.contract.common import MAX_ID
from zapgate_public_api import (
    audit,
    automations,
    commands,
    console,
    groups,
    health,
    keys,
    live,
    metrics,
    proxies,
    uploads,
    webhook_deliveries,
    webhooks,
)
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.health import require_whatsapp
from zapgate_public_api.models import (
    Conversation,
    ConversationPage,
    Direction,
    ErrorResponse,
    Instance,
    InstanceCreate,
    InstancePage,
    InstancePatch,
    Message,
    MessageAccepted,
    MessagePage,
    SendMessage,
)
from zapgate_public_api.phone import common as phone_common
from zapgate_public_api.phone import contacts as phone_contacts
from zapgate_public_api.phone import groups as phone_groups
from zapgate_public_api.phone import messages as phone_messages
from zapgate_public_api.phone import profile as phone_profile

PREFIX = "/v1"
PAGE_MAX = 100
CURSOR_MAX = 2_048
_errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 404, 422)}

router = APIRouter(prefix=PREFIX, responses=_errors)

InstanceIdPath = Path(min_length=1, max_length=MAX_ID)
Limit = Query(default=50, ge=1, le=PAGE_MAX)
Cursor = Query(default=None, max_length=CURSOR_MAX, description="next_cursor of the previous page")


@router.post("/instances", status_code=status.HTTP_201_CREATED, response_model=Instance, tags=["instances"])
def create_instance(
    request: InstanceCreate,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Instance:
    record = instances.create(stores.instances, tenant_id, request.name, request.priority, request.enabled,
                              waker=stores.sidecar_waker)
    return Instance.from_record(record)


@router.get("/instances", response_model=InstancePage, tags=["instances"])
def list_instances(
    limit: int = Limit,
    cursor: str | None = Cursor,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> InstancePage:
    records, next_cursor = instances.list_page(stores.instances, tenant_id, limit, cursor)
    return InstancePage(instances=[Instance.from_record(r) for r in records], next_cursor=next_cursor)


@router.get("/instances/{instance_id}", response_model=Instance, tags=["instances"])
def get_instance(
    instance_id: str = InstanceIdPath,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Instance:
    return Instance.from_record(instances.require(stores.instances, tenant_id, instance_id))


@router.patch("/instances/{instance_id}", response_model=Instance, tags=["instances"])
def update_instance(
    request: InstancePatch,
    instance_id: str = InstanceIdPath,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Instance:
    proxies.apply_patch(stores, tenant_id, instance_id, request)  # issue 13: a secret, stored apart
    if request.history_sync is not None:  # issue 13: stored on the instance item apart from the other fields
        from zapgate_control.services.history_settings import set_history_sync

        set_history_sync(stores.own_messages, tenant_id, instance_id, request.history_sync.setting())
    updated = Instance.from_record(
        instances.update(
            stores.instances, tenant_id, instance_id, request.instance_changes(), waker=stores.sidecar_waker
        )
    )
    return updated.model_copy(update={"history_sync": request.history_sync}) if request.history_sync else updated


@router.delete(
    "/instances/{instance_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    tags=["instances"],
)
def delete_instance(
    instance_id: str = InstanceIdPath,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Response:
    instances.delete(stores.instances, tenant_id, instance_id, waker=stores.sidecar_waker)
    instance_proxy.forget(stores.proxy_secrets, instance_id)  # issue 13: its proxy secret, if it had one
    forget_automations(stores.automation_deps, instance_id)  # issue 11: its automations and their keys
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/instances/{instance_id}/messages",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageAccepted,
    responses={
        409: {"model": ErrorResponse, "description": "INSTANCE_DISCONNECTED, with the current status"},
        503: {"model": ErrorResponse, "description": "WHATSAPP_NOT_CONFIGURED: no WhatsApp worker is deployed"},
    },
    tags=["messages"],
    dependencies=[Depends(require_whatsapp)],
)
def send_message(
    request: SendMessage,
    instance_id: str = InstanceIdPath,
    idempotency_key: str | None = Header(
        default=None, alias="Idempotency-Key", min_length=1, max_length=MAX_ID,
        description="Same key + same body → the same message, never sent twice; same key + other body → 422",
    ),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> MessageAccepted:
    message = outbound_enqueue.send(
        stores.instances, stores.messages, tenant_id, instance_id, request.content(), request.queue_if_offline,
        idempotency_key, waker=stores.sidecar_waker, reply_to=request.reply_to, reaction=request.reaction_to(),
    )
    return MessageAccepted(id=message.id, status=message.state.value)


@router.get("/instances/{instance_id}/messages", response_model=MessagePage, tags=["messages"])
def list_messages(
    instance_id: str = InstanceIdPath,
    direction: Direction = Query(default="outbound"),
    limit: int = Limit,
    cursor: str | None = Cursor,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> MessagePage:
    records, next_cursor = history.timeline(
        stores.instances, stores.messages, tenant_id, instance_id, direction, limit, cursor
    )
    return MessagePage(messages=[_message(r, stores) for r in records], next_cursor=next_cursor)


@router.get("/instances/{instance_id}/messages/{message_id}", response_model=Message, tags=["messages"])
def get_message(
    instance_id: str = InstanceIdPath,
    message_id: str = Path(min_length=1, max_length=MAX_ID),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Message:
    return _message(history.get_message(stores.instances, stores.messages, tenant_id, instance_id, message_id), stores)


@router.get("/instances/{instance_id}/conversations", response_model=ConversationPage, tags=["messages"])
def list_conversations(
    instance_id: str = InstanceIdPath,
    limit: int = Limit,
    cursor: str | None = Cursor,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> ConversationPage:
    """Chats, the most recently active first, derived from the newest messages of the instance
    (a bounded read: a chat quiet for long may not be listed; see docs/data-model.md)."""
    summaries, next_cursor = history.conversations(
        stores.instances, stores.messages, tenant_id, instance_id, limit, cursor
    )
    return ConversationPage(conversations=[Conversation.from_summary(s) for s in summaries], next_cursor=next_cursor)


@router.get("/instances/{instance_id}/chats/{chat_id}/messages", response_model=MessagePage, tags=["messages"])
def list_chat_messages(
    instance_id: str = InstanceIdPath,
    chat_id: str = Path(min_length=1, max_length=MAX_ID, description="Chat JID, or a phone number / group id"),
    limit: int = Limit,
    cursor: str | None = Cursor,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> MessagePage:
    """One chat's messages of both directions, newest first."""
    records, next_cursor = history.chat_messages(
        stores.instances, stores.messages, tenant_id, instance_id, chat_id, limit, cursor
    )
    return MessagePage(messages=[_message(r, stores) for r in records], next_cursor=next_cursor)


def _message(record: MessageRecord, stores: Stores) -> Message:
    return Message.from_record(record, media_url=history.media_url(record, stores.media))


def create_app() -> FastAPI:
    app = FastAPI(
        title="zapgate public API",
        version="1.0",
        description="Instances, QR/status, sending and message history. Authenticate with `X-API-Key`.",
        docs_url=f"{PREFIX}/docs",
        openapi_url=f"{PREFIX}/openapi.json",
        # FastAPI's default /docs/oauth2-redirect would sit outside /v1, where API Gateway never routes.
        swagger_ui_oauth2_redirect_url=f"{PREFIX}/docs/oauth2-redirect",
        redoc_url=None,
    )
    app.include_router(health.router)
    app.include_router(router)
    app.include_router(uploads.router)
    app.include_router(keys.router)
    app.include_router(commands.router)
    app.include_router(groups.router)
    # Requests to the phone; groups' own records (groups.router) come first, so its routes keep their order.
    app.include_router(phone_common.router)
    app.include_router(phone_contacts.router)
    app.include_router(phone_messages.router)
    app.include_router(phone_groups.router)
    app.include_router(phone_profile.router)
    app.include_router(audit.router)
    app.include_router(metrics.router)
    app.include_router(webhooks.router)
    app.include_router(webhook_deliveries.router)  # its failed/dead deliveries, redrive
    app.include_router(live.router)
    app.include_router(automations.router)
    console.install(app)  # the console's static page (docs/console.md); not in the OpenAPI
    app.add_middleware(GZipMiddleware, minimum_size=1024, exclude_content_types=console.GZIP_EXCLUDED_TYPES)  # /v1 JSON
    install_error_handlers(app, logger)
    install_request_telemetry(app, api="public")
    automations.install_openapi(app)  # the automations' configuration schema, built on first request
    make_routes_lazy(app)  # last: a first request builds only the route it serves (issue 14)
    return app


app = create_app()
