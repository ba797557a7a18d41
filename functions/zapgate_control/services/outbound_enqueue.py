"""The send queue's public half: a send from the public API is checked, then enqueued for the instance.

The destination is validated here with the sidecar's own rule (zapgate_core) so a number
WhatsApp can never reach fails now, with a reason, instead of later in the sidecar; the raw
`to` is stored unchanged because the sidecar normalises (and resolves @lid) when it sends.
The other half, sidecars claiming and marking queued messages, is services/outbound_claims.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zapgate_control.clock import system_clock
from zapgate_control.errors import ApiError
from zapgate_control.observability import metrics
from zapgate_control.ports.instances import InstanceRecord, InstanceStore
from zapgate_control.ports.messages import DuplicateMessage, MessageStore, OutboundMessage, ReceivedMessage
from zapgate_control.services.instances import require
from zapgate_control.services.sidecar_wakeups import SidecarWaker
from zapgate_core.contract.sidecar_push import push_frame
from zapgate_core.domain.idempotency import idempotent_message_id, request_fingerprint
from zapgate_core.domain.ids import inbound_id
from zapgate_core.domain.jids import InvalidDestination, normalize_destination
from zapgate_core.domain.locks import live_lock_owner
from zapgate_core.domain.media_limits import MediaRejected, check_media

if TYPE_CHECKING:  # built on the first send, not at import: the public API's cold start (issue 9)
    from zapgate_core.contract.outbound_content import OutboundContent, ReactionTo

CONNECTED = "CONNECTED"
QUOTED_BODY_MAX = 1_000  # characters of the quoted message handed to the sidecar


def send(
    instances: InstanceStore,
    messages: MessageStore,
    tenant_id: str,
    instance_id: str,
    content: OutboundContent,
    queue_if_offline: bool,
    idempotency_key: str | None = None,
    waker: SidecarWaker | None = None,
    reply_to: str | None = None,
    reaction: ReactionTo | None = None,
    automation_id: str | None = None,
    sent_by_ai: bool = False,
) -> OutboundMessage:
    """Enqueue `content`; `reply_to` / `reaction` name the quoted / reacted-to message by our id (or a
    received message's WhatsApp id) and are resolved to WhatsApp's ids here. `automation_id` / `sent_by_ai`
    mark an automation's reply in history (issue 11: the automations runner sends through here)."""
    try:
        normalize_destination(content.to)
    except InvalidDestination as exc:
        raise ApiError(422, "invalid_destination", f"to: {exc}") from exc
    if content.media_type:
        try:
            check_media(content.media_type, content.mime_type, None)
        except MediaRejected as exc:
            raise ApiError(exc.status, exc.code, str(exc)) from exc
    instance = require(instances, tenant_id, instance_id)
    message_id = request_hash = None
    if idempotency_key is not None:
        message_id = idempotent_message_id(tenant_id, instance_id, idempotency_key)
        request_hash = request_fingerprint(_fingerprinted(content, reply_to, reaction, queue_if_offline))
    content = _resolve_references(messages, tenant_id, instance, content, reply_to, reaction)
    status = instance.status
    if status != CONNECTED and not queue_if_offline:
        # A retry of a send that was accepted while connected still gets its message.
        earlier = messages.get(message_id) if message_id else None
        if isinstance(earlier, OutboundMessage):
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
    owner = live_lock_owner(instance.lock, system_clock())
    try:
        message = messages.enqueue(
            tenant_id,
            instance_id,
            content,
            queue_owner=owner,
            message_id=message_id,
            request_hash=request_hash,
            automation_id=automation_id,
            sent_by_ai=sent_by_ai,
        )
    except DuplicateMessage as exc:
        return _replay(exc.existing, request_hash)
    metrics.add_metric(name="MessagesQueued", unit="Count", value=1)
    if owner is not None and waker is not None:
        waker.wake(owner, push_frame("outbound", instance_id))
    return message


def _fingerprinted(
    content: OutboundContent, reply_to: str | None, reaction: ReactionTo | None, queue_if_offline: bool
) -> dict[str, Any]:
    """The request as its Idempotency-Key fingerprint has always read it (so a retry across a deploy still
    matches): the content as first stored, references by our ids, coordinates as their decimal text."""
    body: dict[str, Any] = content.model_dump(include={"to", "body", "media_url", "media_type", "mime_type",
                                                       "file_name"})
    if content.type is not None:
        body["type"] = content.type
    if content.location is not None:
        body["location"] = {"latitude": repr(content.location.latitude), "longitude": repr(content.location.longitude),
                            "name": content.location.name, "address": content.location.address}
    if content.contact is not None:
        body["contact"] = {"display_name": content.contact.display_name, "vcard": content.contact.vcard}
    if reaction is not None:
        body["reaction"] = {"message_id": reaction.message_id, "emoji": reaction.emoji}
    if content.poll is not None:
        body["poll"] = content.poll.model_dump()
    if reply_to is not None:
        body["reply_to"] = {"message_id": reply_to}
    if content.voice_note:
        body["voice_note"] = True
    if content.link_preview is not None:  # issue 13: absent otherwise, so older fingerprints still match
        body["link_preview"] = content.link_preview.model_dump()
    if content.mentions:
        body["mentions"] = list(content.mentions)
    return {**body, "queue_if_offline": queue_if_offline}


def _replay(existing: OutboundMessage, request_hash: str | None) -> OutboundMessage:
    if existing.request_hash != request_hash:
        raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with a different request")
    metrics.add_metric(name="IdempotentReplays", unit="Count", value=1)
    return existing


def _referenced(
    messages: MessageStore, tenant_id: str, instance: InstanceRecord, message_id: str, what: str
) -> tuple[OutboundMessage | ReceivedMessage, str]:
    """The referenced message of this instance, by our id or (received messages) by WhatsApp's id, with
    WhatsApp's id of it."""
    instance_id = instance.id
    for candidate in (message_id, inbound_id(instance_id, message_id)):
        record = messages.get(candidate)
        if (
            record is not None
            and record.instance_id == instance_id
            and (isinstance(record, ReceivedMessage) or record.tenant_id == tenant_id)
        ):
            if not record.wa_message_id:
                raise ApiError(422, "message_not_sent", f"{what}: message {message_id} is not sent yet")
            return record, record.wa_message_id
    raise ApiError(404, "message_not_found", f"{what}: no message {message_id} on this instance")


def _resolve_references(
    messages: MessageStore,
    tenant_id: str,
    instance: InstanceRecord,
    content: OutboundContent,
    reply_to: str | None,
    reaction: ReactionTo | None,
) -> OutboundContent:
    """Put WhatsApp's ids of the quoted / reacted-to message on the content, so the sidecar needs no lookup."""
    if not reply_to and reaction is None:
        return content
    from zapgate_core.contract.message_objects import Reaction, ReplyTo

    own_jid = instance.wa_jid
    resolved: dict[str, Any] = {}
    if reply_to:
        quoted, wa_message_id = _referenced(messages, tenant_id, instance, reply_to, "reply_to")
        if isinstance(quoted, OutboundMessage):
            sender, body = own_jid, quoted.content.body
        else:
            sender, body = quoted.content.from_, quoted.content.body
        resolved["reply_to"] = ReplyTo(
            message_id=reply_to, wa_message_id=wa_message_id, sender=sender,
            body=str(body)[:QUOTED_BODY_MAX] if body else None,
        )
    if reaction is not None:
        target, wa_message_id = _referenced(messages, tenant_id, instance, reaction.message_id, "reaction.message_id")
        outbound = isinstance(target, OutboundMessage)
        received = target.content if isinstance(target, ReceivedMessage) else None
        resolved["reaction"] = Reaction(
            message_id=reaction.message_id,
            emoji=reaction.emoji,
            wa_message_id=wa_message_id,
            chat=received.chat_id if received else None,
            from_me=outbound or bool(received and received.from_me),
            sender=own_jid if outbound else (received.from_ if received else None),
        )
    return content.model_copy(update=resolved)
