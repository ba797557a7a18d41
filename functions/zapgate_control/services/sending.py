"""Outbound messages from the public API: checked, then put on the instance's send queue.

The destination is validated here with the sidecar's own rule (zapgate_core) so a number
WhatsApp can never reach fails now, with a reason, instead of later in the sidecar; the raw
`to` is stored unchanged because the sidecar normalises (and resolves @lid) when it sends.
"""

from __future__ import annotations

from typing import Any

from zapgate_control.adapters.dynamodb.instances import live_lock_owner
from zapgate_control.adapters.dynamodb.messages import DuplicateMessage
from zapgate_control.clock import system_clock
from zapgate_control.errors import ApiError
from zapgate_control.observability import metrics
from zapgate_control.ports import InstanceStore, MessageStore
from zapgate_control.services.instances import require
from zapgate_core.domain.idempotency import idempotent_message_id, request_fingerprint
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
    try:
        # Address the message to the sidecar holding the lock, so its heartbeat wakes it at once;
        # read from the item we already have, so this costs no extra request.
        item = messages.enqueue(
            tenant_id,
            instance_id,
            content,
            queue_owner=live_lock_owner(instance, system_clock()),
            message_id=message_id,
            request_hash=request_hash,
        )
    except DuplicateMessage as exc:
        return _replay(exc.existing, request_hash)
    metrics.add_metric(name="MessagesQueued", unit="Count", value=1)
    return item


def _replay(existing: dict[str, Any], request_hash: str | None) -> dict[str, Any]:
    if existing.get("request_hash") != request_hash:
        raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with a different request")
    metrics.add_metric(name="IdempotentReplays", unit="Count", value=1)
    return existing
