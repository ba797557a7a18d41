"""What WhatsApp tells an instance besides new messages (issue 10): edits, revokes, group changes, calls.

`POST /worker-proxy/inbound-changes` (zapgate_core/contract/inbound_changes.py). Two paths, by what changes:

- an edit or a revoke is a conditional write on the stored message (MessageStore.mark_edited / mark_revoked);
  its MESSAGE_EDITED / MESSAGE_REVOKED event leaves through the outbox (MessagesTable's stream), like every
  message event, so nothing is published here and a crash after the write loses nothing;
- a group change or a call changes no message: the event is published here, after the write it may need
  (a tracked group's new name). Its id derives from the report, so when SQS does not take it the request
  fails (503) and the sidecar's retry publishes the same id again: at least once, de-duplicated by receivers.

A call on an instance with `reject_calls` is answered `reject: true` (the sidecar rejects it on the phone) and
its `reject_call_message` is queued on the normal send queue under an id derived from the call: a second
report of the same call (a retry, another sidecar after a failover) finds it queued and queues nothing more.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zapgate_control.clock import iso, system_clock
from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.messages import (
    DuplicateMessage,
    MessageEdit,
    MessageNotFound,
    MessageRecord,
    MessageRevoke,
    MessageRevokedAlready,
    OutboundMessage,
)
from zapgate_control.services import groups
from zapgate_core.contract.inbound_changes import (
    CallReport,
    GroupInfoReport,
    GroupParticipantsReport,
    InboundChangeResponse,
    MessageEditedReport,
    MessageRevokedReport,
)
from zapgate_core.contract.sidecar_push import push_frame
from zapgate_core.domain.change_events import call_received_event, group_participants_event, group_updated_event
from zapgate_core.domain.jids import InvalidDestination, normalize_destination
from zapgate_core.domain.locks import live_lock_owner

if TYPE_CHECKING:
    from zapgate_control.ports.audit import AuditLog
    from zapgate_control.ports.contacts import GroupStore
    from zapgate_control.ports.events import EventPublisher
    from zapgate_control.ports.instances import InstanceRecord, InstanceStore
    from zapgate_control.ports.messages import MessageStore
    from zapgate_control.services.sidecar_wakeups import SidecarWaker

_CALL_REPLY_NAMESPACE = uuid.UUID("3c1f7a52-0d2e-4b8b-9a4f-6e0c2d9b7a11")
_MILLIS_THRESHOLD = 100_000_000_000  # as the sidecar's mapping: above this an epoch is in milliseconds


@dataclass(frozen=True)
class ChangeDeps:
    instances: InstanceStore
    messages: MessageStore
    groups: GroupStore
    events: EventPublisher
    audit: AuditLog
    waker: SidecarWaker | None = None
    # An events queue is configured: an event SQS did not take fails the report, so the sidecar retries it.
    require_published: bool = True


def call_reply_id(instance_id: str, call_id: str) -> str:
    """The id of the text answering a rejected call: one per call, whoever reports it."""
    return str(uuid.uuid5(_CALL_REPLY_NAMESPACE, f"{instance_id}\x1f{call_id}"))


def _ms(timestamp: int) -> int:
    return timestamp if timestamp >= _MILLIS_THRESHOLD else timestamp * 1000


def _user(jid: str | None) -> str | None:
    """The account a JID names, device suffix dropped (5511...:3@s.whatsapp.net is 5511...@s.whatsapp.net)."""
    if not jid:
        return None
    user, _, server = jid.partition("@")
    return f"{user.split(':', 1)[0]}@{server}"


def is_author(record: MessageRecord, editor: str, editor_pn: str | None, from_me: bool) -> bool:
    """WhatsApp lets only a message's author edit it: our own (outbound) messages are edited by our account,
    a received one by its sender, known by its LID or its phone number."""
    if isinstance(record, OutboundMessage) or record.content.from_me:
        return from_me
    content = record.content
    authors = {_user(j) for j in (content.sender_jid_raw, content.from_, content.sender_pn)} - {None}
    return not from_me and bool(authors & {_user(editor), _user(editor_pn)})


def report(deps: ChangeDeps, change: object) -> InboundChangeResponse:
    """One report of the sidecar, by its kind."""
    instance = deps.instances.get(getattr(change, "instance_id", ""))
    if instance is None:
        raise NotFound("instance")
    metrics.add_metric(name="InboundChanges", unit="Count", value=1)
    if isinstance(change, MessageEditedReport):
        return _edited(deps, change)
    if isinstance(change, MessageRevokedReport):
        return _revoked(deps, change)
    if isinstance(change, GroupParticipantsReport):
        return _participants(deps, instance, change)
    if isinstance(change, GroupInfoReport):
        return _group_info(deps, instance, change)
    if isinstance(change, CallReport):
        return _call(deps, instance, change)
    raise ApiError(422, "validation_error", "unknown change kind")


# ---------------------------------------------------------------- messages (events from the outbox)
def _edited(deps: ChangeDeps, change: MessageEditedReport) -> InboundChangeResponse:
    record = deps.messages.find_by_wa_message_id(change.instance_id, change.wa_message_id)
    if record is None:
        return InboundChangeResponse(outcome="unknown_message")
    if not is_author(record, change.sender, change.sender_pn, change.from_me):
        return InboundChangeResponse(outcome="ignored", message_id=record.id)
    ms = _ms(change.timestamp)
    edit = MessageEdit(text=change.text, edited_at=iso(ms), edit_key=f"{ms:013d}#{change.edit_wa_message_id}")
    try:
        _stored, changed = deps.messages.mark_edited(record.id, edit)
    except MessageRevokedAlready:
        return InboundChangeResponse(outcome="ignored", message_id=record.id)
    except MessageNotFound:  # expired between the two calls
        return InboundChangeResponse(outcome="unknown_message")
    return InboundChangeResponse(outcome="applied" if changed else "duplicate", message_id=record.id)


def _revoked(deps: ChangeDeps, change: MessageRevokedReport) -> InboundChangeResponse:
    record = deps.messages.find_by_wa_message_id(change.instance_id, change.wa_message_id)
    if record is None:
        return InboundChangeResponse(outcome="unknown_message")
    revoke = MessageRevoke(revoked_at=iso(_ms(change.timestamp)), revoked_by=change.revoked_by)
    try:
        _stored, changed = deps.messages.mark_revoked(record.id, revoke)
    except MessageNotFound:
        return InboundChangeResponse(outcome="unknown_message")
    return InboundChangeResponse(outcome="applied" if changed else "duplicate", message_id=record.id)


# ---------------------------------------------------------------- groups and calls (events published here)
def _publish(deps: ChangeDeps, tenant_id: str, event: dict[str, object]) -> None:
    if deps.events.publish(tenant_id, [event]) < 1 and deps.require_published:
        # The write (if any) stands; the sidecar retries the report and the same event id goes out then.
        raise ApiError(503, "events_not_published", "the event could not be queued; retry")


def _participants(
    deps: ChangeDeps, instance: InstanceRecord, change: GroupParticipantsReport
) -> InboundChangeResponse:
    group = deps.groups.find(change.instance_id, change.group)
    event = group_participants_event(change.instance_id, {
        "group": change.group, "action": change.action, "participants": change.participants, "by": change.by,
        "at": iso(_ms(change.timestamp)), "name": group.name if group else None,
    })
    _publish(deps, instance.tenant_id, event)
    return InboundChangeResponse(outcome="applied")


def _group_info(deps: ChangeDeps, instance: InstanceRecord, change: GroupInfoReport) -> InboundChangeResponse:
    changes = {k: getattr(change, k) for k in ("name", "description", "announce", "locked")
               if getattr(change, k) is not None}
    if not changes:
        return InboundChangeResponse(outcome="ignored")
    if change.name is not None:
        previous = groups.renamed(deps.groups, deps.audit, change.instance_id, change.group, change.name)
    else:
        found = deps.groups.find(change.instance_id, change.group)
        previous = found.name if found else None
    event = group_updated_event(change.instance_id, {
        "group": change.group, "changes": changes, "by": change.by, "at": iso(_ms(change.timestamp)),
    }, previous)
    _publish(deps, instance.tenant_id, event)
    return InboundChangeResponse(outcome="applied")


def _call(deps: ChangeDeps, instance: InstanceRecord, change: CallReport) -> InboundChangeResponse:
    reject = instance.reject_calls
    reply_id = duplicate = None
    if reject and instance.reject_call_message:
        reply_id, duplicate = _queue_reply(deps, instance, change)
    event = call_received_event(change.instance_id, {
        "call_id": change.call_id, "from": change.caller, "video": change.video, "group": change.group,
        "is_group": change.is_group,
        "at": iso(_ms(change.timestamp)), "rejected": reject, "reply_message_id": reply_id,
    })
    _publish(deps, instance.tenant_id, event)
    metrics.add_metric(name="CallsRejected" if reject else "CallsReceived", unit="Count", value=1)
    return InboundChangeResponse(outcome="duplicate" if duplicate else "applied", reject=reject,
                                 reply_message_id=reply_id)


def _queue_reply(deps: ChangeDeps, instance: InstanceRecord, change: CallReport) -> tuple[str | None, bool]:
    """(the reply's id, it was queued before). Addressed to the lock holder, woken like a send from the API;
    no reply (None) to a caller no message can reach (a malformed JID)."""
    from zapgate_core.contract.outbound_content import OutboundContent

    try:
        normalize_destination(change.caller)
    except InvalidDestination:
        return None, False
    message_id = call_reply_id(instance.id, change.call_id)
    owner = live_lock_owner(instance.lock, system_clock())
    content = OutboundContent(to=change.caller, body=instance.reject_call_message or "")
    try:
        deps.messages.enqueue(instance.tenant_id, instance.id, content, queue_owner=owner, message_id=message_id)
    except DuplicateMessage:
        return message_id, True
    if owner is not None and deps.waker is not None:
        deps.waker.wake(owner, push_frame("outbound", instance.id))
    return message_id, False

