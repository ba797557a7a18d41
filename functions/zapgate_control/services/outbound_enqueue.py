"""Outbound messages from the public API: checked, then put on the instance's send queue.

The destination is validated here with the sidecar's own rule (zapgate_core) so a number
WhatsApp can never reach fails now, with a reason, instead of later in the sidecar; the raw
`to` is stored unchanged because the sidecar normalises (and resolves @lid) when it sends.
"""

from __future__ import annotations

from typing import Any

from zapgate_control.adapters.dynamodb.instances import live_lock_owner
from zapgate_control.clock import system_clock
from zapgate_control.errors import ApiError
from zapgate_control.observability import metrics
from zapgate_control.ports import DuplicateMessage, InstanceStore, MessageStore
from zapgate_control.services.instances import require
from zapgate_control.services.sidecar_wakeups import SidecarWaker
from zapgate_core.contract.sidecar_push import push_frame
from zapgate_core.domain.idempotency import idempotent_message_id, request_fingerprint
from zapgate_core.domain.ids import inbound_id
from zapgate_core.domain.jids import InvalidDestination, normalize_destination
from zapgate_core.domain.media_limits import MediaRejected, check_media

CONNECTED = "CONNECTED"


def send(
    instances: InstanceStore,
    messages: MessageStore,
    tenant_id: str,
    instance_id: str,
    content: dict[str, Any],
    queue_if_offline: bool,
    idempotency_key: str | None = None,
    waker: SidecarWaker | None = None,
) -> dict[str, Any]:
    try:
        normalize_destination(content["to"])
    except InvalidDestination as exc:
        raise ApiError(422, "invalid_destination", f"to: {exc}") from exc
    if content.get("media_type"):
        try:
            check_media(content["media_type"], content.get("mime_type"), None)
        except MediaRejected as exc:
            raise ApiError(exc.status, exc.code, str(exc)) from exc
    instance = require(instances, tenant_id, instance_id)
    message_id = request_hash = None
    if idempotency_key is not None:
        message_id = idempotent_message_id(tenant_id, instance_id, idempotency_key)
        request_hash = request_fingerprint({**content, "queue_if_offline": queue_if_offline})
    content = _resolve_references(messages, tenant_id, instance, content)
    status = str(instance.get("status") or "DISCONNECTED")
    if status != CONNECTED and not queue_if_offline:
        # A retry of a send that was accepted while connected still gets its message.
        earlier = messages.get(message_id) if message_id else None
        if earlier is not None:
            return _replay(earlier, request_hash)
        metrics.add_metric(name="MessagesRejectedOffline", unit="Count", value=1)
        raise ApiError(
            409,
            "INSTANCE_DISCONNECTED",
            "instance is not connected; retry later or send with queue_if_offline",
            status=status,
        )
    # Address the message to the sidecar holding the lock (read from the item we already have, so this
    # costs no extra request): a long-polling heartbeat watches its owner's work, and the push channel
    # wakes that sidecar's outbound runner for this instance at once.
    owner = live_lock_owner(instance, system_clock())
    try:
        item = messages.enqueue(
            tenant_id,
            instance_id,
            content,
            queue_owner=owner,
            message_id=message_id,
            request_hash=request_hash,
        )
    except DuplicateMessage as exc:
        return _replay(exc.existing, request_hash)
    metrics.add_metric(name="MessagesQueued", unit="Count", value=1)
    if owner is not None and waker is not None:
        waker.wake(owner, push_frame("outbound", instance_id))
    return item


def _replay(existing: dict[str, Any], request_hash: str | None) -> dict[str, Any]:
    if existing.get("request_hash") != request_hash:
        raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with a different request")
    metrics.add_metric(name="IdempotentReplays", unit="Count", value=1)
    return existing


def _referenced(
    messages: MessageStore, tenant_id: str, instance: dict[str, Any], message_id: str, what: str
) -> dict[str, Any]:
    """The referenced message of this instance, by our id or (received messages) by WhatsApp's id."""
    instance_id = instance["id"]
    for candidate in (message_id, inbound_id(instance_id, message_id)):
        item = messages.get(candidate)
        if (
            item is not None
            and item.get("instance_id") == instance_id
            and (item.get("direction") == "inbound" or item.get("tenant_id") == tenant_id)
        ):
            if not item.get("wa_message_id"):
                raise ApiError(422, "message_not_sent", f"{what}: message {message_id} is not sent yet")
            return item
    raise ApiError(404, "message_not_found", f"{what}: no message {message_id} on this instance")


def _resolve_references(
    messages: MessageStore, tenant_id: str, instance: dict[str, Any], content: dict[str, Any]
) -> dict[str, Any]:
    """Put WhatsApp's ids of the quoted / reacted-to message on the item, so the sidecar needs no lookup."""
    reply_to = content.get("reply_to")
    reaction = content.get("reaction")
    if not reply_to and not reaction:
        return content
    content = dict(content)
    own_jid = instance.get("wa_jid")
    if reply_to:
        item = _referenced(messages, tenant_id, instance, reply_to["message_id"], "reply_to")
        outbound = item.get("direction") == "outbound"
        content["reply_to"] = {
            **reply_to,
            "wa_message_id": item["wa_message_id"],
            "sender": own_jid if outbound else item.get("from"),
            "body": (item.get("body") or None) and str(item["body"])[:1_000],
        }
    if reaction:
        item = _referenced(messages, tenant_id, instance, reaction["message_id"], "reaction.message_id")
        outbound = item.get("direction") == "outbound"
        content["reaction"] = {
            **reaction,
            "wa_message_id": item["wa_message_id"],
            "chat": None if outbound else item.get("chat_id_norm"),
            "from_me": outbound or bool(item.get("from_me")),
            "sender": own_jid if outbound else item.get("from"),
        }
    return content
