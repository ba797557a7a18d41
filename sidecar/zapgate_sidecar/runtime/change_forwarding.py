"""Edits, revokes, group changes and calls of one instance, up to the control plane (issue 10).

Each change is one POST /worker-proxy/inbound-changes (contract/inbound_changes.py), retried like an inbound
message on 5xx and network errors; the server makes every report idempotent, so a retry is safe. An edit or
a revoke that names a message not stored yet (it is still on its way up: media being fetched, the offline
backlog replayed at connect) is tried again a little later before it is given up.

A call is rejected on the phone only when the server says so (the instance's `reject_calls`): the setting
lives with the instance, so every sidecar that may hold it applies the same rule without being told. The
reply text is not sent from here: the server queues it on the send queue under an id derived from the call,
so it goes out once, by whichever sidecar holds the instance then.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx
from pydantic import BaseModel

from zapgate_core.contract.common import MAX_BODY
from zapgate_core.contract.inbound_changes import (
    CallReport,
    GroupInfoReport,
    GroupParticipantsReport,
    InboundChangeResponse,
    MessageEditedReport,
    MessageRevokedReport,
)
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyError
from zapgate_sidecar.logs import log
from zapgate_sidecar.transport import TransportError
from zapgate_sidecar.transport_changes import (
    CallReceived,
    CallRejecter,
    ChangeEvent,
    GroupInfoChanged,
    GroupParticipantsChanged,
    MessageEdited,
    MessageRevoked,
)

if TYPE_CHECKING:
    from zapgate_sidecar.runtime.instance import InstanceRuntime

DELIVERY_ATTEMPTS = 4
UNKNOWN_MESSAGE_RETRIES_S = (1.0, 3.0)  # the edited message may still be on its way up


def report_of(instance_id: str, event: ChangeEvent) -> BaseModel:
    """The worker-proxy body of a change event."""
    match event:
        case MessageEdited():
            return MessageEditedReport(
                kind="message_edited", instance_id=instance_id, wa_message_id=event.wa_message_id,
                edit_wa_message_id=event.edit_wa_message_id, chat_id=event.chat_jid, sender=event.sender_jid,
                sender_pn=event.sender_pn, from_me=event.from_me, text=event.text[:MAX_BODY],
                timestamp=event.timestamp_ms,
            )
        case MessageRevoked():
            return MessageRevokedReport(
                kind="message_revoked", instance_id=instance_id, wa_message_id=event.wa_message_id,
                chat_id=event.chat_jid, revoked_by=event.revoked_by, from_me=event.from_me,
                timestamp=event.timestamp_ms,
            )
        case GroupParticipantsChanged():
            return GroupParticipantsReport(
                kind="group_participants", instance_id=instance_id, group=event.group_jid, action=event.action,
                participants=list(event.participants), by=event.by, timestamp=event.timestamp_ms,
            )
        case GroupInfoChanged():
            return GroupInfoReport(
                kind="group_info", instance_id=instance_id, group=event.group_jid, name=event.name,
                description=event.description, announce=event.announce, locked=event.locked, by=event.by,
                timestamp=event.timestamp_ms,
            )
        case CallReceived():
            return CallReport.model_validate({  # `from` is the wire name of `caller`
                "kind": "call_received", "instanceId": instance_id, "call_id": event.call_id, "from": event.caller,
                "video": event.video, "is_group": event.group_jid is not None, "group": event.group_jid,
                "timestamp": event.timestamp_ms,
            })
    raise TypeError(f"not a change event: {type(event).__name__}")


class ChangeForwarding:
    def __init__(self, runtime: InstanceRuntime) -> None:
        self._runtime = runtime
        self.calls_rejected = 0

    def change(self, event: ChangeEvent) -> None:
        self._runtime.spawn(self._deliver(event))

    async def _deliver(self, event: ChangeEvent) -> None:
        runtime = self._runtime
        try:
            report = report_of(runtime.instance_id, event)
        except ValueError as exc:  # beyond the contract's limits (pydantic's ValidationError)
            log.warning("change not reported", extra={"instance_id": runtime.instance_id,
                                                      "kind": type(event).__name__, "error": str(exc)[:200]})
            return
        answer = await self._post(report)
        for delay in UNKNOWN_MESSAGE_RETRIES_S:
            if answer is None or answer.outcome != "unknown_message":
                break
            await asyncio.sleep(delay)
            answer = await self._post(report)
        if answer is None:
            return
        runtime.deps.telemetry.incr("ChangesReported")
        if isinstance(event, CallReceived) and answer.reject:
            await self._reject(event)

    async def _post(self, report: BaseModel) -> InboundChangeResponse | None:
        for attempt in range(DELIVERY_ATTEMPTS):
            try:
                return await self._runtime.deps.proxy.inbound_change(report)
            except WorkerProxyError as exc:
                if exc.status < 500:
                    log.warning("change refused", extra={"instance_id": self._runtime.instance_id,
                                                         "status": exc.status})
                    return None
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5 * 2**attempt)
        log.error("change not delivered", extra={"instance_id": self._runtime.instance_id})
        return None

    async def _reject(self, call: CallReceived) -> None:
        session = self._runtime.session.current
        if not isinstance(session, CallRejecter):
            log.warning("call not rejected: the transport cannot", extra={"instance_id": self._runtime.instance_id})
            return
        try:
            await asyncio.to_thread(session.reject_call, call.caller, call.call_id)
        except TransportError as exc:
            log.warning("call not rejected", extra={"instance_id": self._runtime.instance_id, "reason": str(exc)})
            return
        self.calls_rejected += 1
        self._runtime.deps.telemetry.incr("CallsRejected")
