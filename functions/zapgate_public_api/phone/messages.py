"""Messages and chats, asked of the phone: edit, delete for everyone (revoke), mark read, typing, online.

`{message_id}` is zapgate's id of a message (a send's answer, or history's); the control plane looks it
up in the instance and hands the sidecar WhatsApp's ids (services/requests_messages.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from pydantic import Field

from zapgate_control.clock import system_clock
from zapgate_control.services import requests, requests_messages
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.contract.common import MAX_BODY, MAX_ID
from zapgate_core.contract.request_ops.messages import (
    MAX_READ,
    ChatPresenceArgs,
    ChatPresenceResult,
    EditMessageResult,
    MarkReadResult,
    OwnPresenceArgs,
    RevokeMessageResult,
)
from zapgate_core.contract.request_ops.outcomes import Done
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.health import require_whatsapp
from zapgate_public_api.models import RequestModel
from zapgate_public_api.phone.common import BASE_ERRORS, IdempotencyKey, InstanceIdPath, ask, ask_done, ask_errors

router = APIRouter(prefix="/v1", tags=["messages"], responses=BASE_ERRORS, dependencies=[Depends(require_whatsapp)])

MessageIdPath = Path(min_length=1, max_length=MAX_ID, description="zapgate's id of the message (send, history)")


class EditMessage(RequestModel):
    text: str = Field(min_length=1, max_length=MAX_BODY, description="The new text")


class MarkRead(RequestModel):
    chat: str = Field(min_length=1, max_length=MAX_ID, description="Phone number, group id or JID")
    message_ids: list[str] | None = Field(
        default=None, min_length=1, max_length=MAX_READ,
        description="zapgate's ids of received messages in that chat; absent: the chat's latest received "
                    f"messages (up to {MAX_READ})",
    )


@router.post(
    "/instances/{instance_id}/messages/{message_id}/edit", response_model=EditMessageResult,
    responses=ask_errors({
        409: "message_not_editable (not a text message this instance sent), message_not_sent (no WhatsApp id "
             "yet), instance_disconnected",
        422: "validation_error; expired: older than WhatsApp's 15-minute edit window",
    }),
)
def edit_message(
    request: EditMessage,
    instance_id: str = InstanceIdPath,
    message_id: str = MessageIdPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> EditMessageResult:
    """Change the text of a text message this instance sent, within WhatsApp's 15 minutes. Recipients see
    it marked as edited."""
    args = requests_messages.edit_args(stores.instances, stores.messages, tenant_id, instance_id, message_id,
                                       request.text, system_clock())
    result, done = ask_done(stores, tenant_id, instance_id, "edit_message", args, idempotency_key, EditMessageResult)
    requests_messages.record_edit(stores.messages, message_id, request.text, result.edit_id, done)
    return result


@router.post(
    "/instances/{instance_id}/messages/{message_id}/revoke", response_model=RevokeMessageResult,
    responses=ask_errors({
        403: "forbidden: WhatsApp did not allow it (someone else's message, and this account is no group admin)",
        409: "message_not_sent (no WhatsApp id yet), message_not_revocable (someone else's message outside "
             "a group), instance_disconnected",
    }),
)
def revoke_message(
    instance_id: str = InstanceIdPath,
    message_id: str = MessageIdPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> RevokeMessageResult:
    """Delete a message for everyone: one this account sent, or (as a group admin) someone's message in a
    group. WhatsApp decides whether it is still allowed."""
    args = requests_messages.revoke_args(stores.instances, stores.messages, tenant_id, instance_id, message_id)
    result, done = ask_done(stores, tenant_id, instance_id, "revoke_message", args, idempotency_key,
                            RevokeMessageResult)
    requests_messages.record_revoke(stores.instances, stores.messages, message_id, done)
    return result


@router.post(
    "/instances/{instance_id}/chats/read", response_model=MarkReadResult,
    responses=ask_errors({
        404: "instance or message not found; no_received_messages: the chat has none to mark",
        422: "validation_error, invalid_destination; invalid_message: an id that is not a received message "
             "of that chat",
    }),
)
def mark_read(
    request: MarkRead,
    instance_id: str = InstanceIdPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> MarkReadResult:
    """Send read receipts (blue ticks) for received messages of a chat: the ones named, or else its latest.
    The conversations listing then counts the chat read up to the newest of them (`unread_count`)."""
    args, newest_id = requests_messages.read_args(stores.instances, stores.messages, tenant_id, instance_id,
                                                  request.chat, request.message_ids)
    result, done = ask_done(stores, tenant_id, instance_id, "mark_read", args, idempotency_key, MarkReadResult)
    requests_messages.record_read(stores.messages, newest_id, done)
    return result


@router.post("/instances/{instance_id}/chats/presence", response_model=ChatPresenceResult,
             responses=ask_errors({}))
def chat_presence(
    request: ChatPresenceArgs,
    instance_id: str = InstanceIdPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> ChatPresenceResult:
    """Show typing (composing), recording a voice note, or stop (paused) in a chat."""
    requests.chat_presence_args(request.chat)
    return ask(stores, tenant_id, instance_id, "chat_presence", request.model_dump(mode="json"), idempotency_key,
               ChatPresenceResult)


@router.post("/instances/{instance_id}/presence", response_model=Done, responses=ask_errors({}))
def own_presence(
    request: OwnPresenceArgs,
    instance_id: str = InstanceIdPath,
    idempotency_key: str | None = IdempotencyKey,
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
) -> Done:
    """This account online (available) or offline (unavailable). While it is available the phone gets no
    notifications, as when WhatsApp Web is open."""
    return ask(stores, tenant_id, instance_id, "own_presence", request.model_dump(mode="json"), idempotency_key,
               Done)
