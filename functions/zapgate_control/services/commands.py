"""Instance commands: the public API queues them on the instance item, the lock holder runs them.

A command waits in the instance item's `commands` map (at most MAX_PENDING, each for at most
COMMAND_TTL_MS) and reaches the sidecar holding the lock in two ways:

- at once: the request also rings a *doorbell* (`ring`), one small item in MessagesTable addressed
  to the live lock holder in the sparse `owner_queue` index, which that sidecar's heartbeat long-poll
  already Queries every 50 ms for queued messages (so watching for doorbells costs no extra request).
  The heartbeat takes the doorbell, reads the instance item (strongly consistent) and hands out its
  pending commands if the caller's lock verifies (services/heartbeat.py);
- as a fallback: every renewing heartbeat answers the pending commands from the renewal's own
  ALL_NEW, at no extra read — so a doorbell that was never written, or was taken by a call whose
  answer never arrived, costs at most one renew interval.

A command may so arrive twice before its ack lands; the sidecar runs each id once. The sidecar
acks with done/failed, which removes it. `disconnect` also disables the instance (enabled
=false, out of the eligible index), so no sidecar takes it again until PATCH enabled=true;
with no live lock holder that is all it does, at once (status "done", nothing queued). A
holder whose runtime is not connected may stop it first on its own (the instance left the
eligible set); the command then expires unacked — the instance is offline either way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zapgate_control.clock import system_clock
from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import logger, metrics
from zapgate_control.ports.audit import AuditLog
from zapgate_control.ports.instances import (
    InstanceChanges,
    InstanceCommand,
    InstanceNotFound,
    InstanceStore,
    TooManyCommands,
)
from zapgate_control.ports.messages import MessageStore
from zapgate_control.services.instances import require
from zapgate_control.services.sidecar_wakeups import SidecarWaker
from zapgate_core.contract.sidecar_push import push_frame
from zapgate_core.domain.locks import live_lock_owner

# The public API imports this module too; the worker-proxy contract (pydantic models, ~35 ms to build at
# a cold start) is imported only inside the worker-side functions that answer with it.
if TYPE_CHECKING:
    from zapgate_core.contract.worker_proxy import CommandAckRequest, CommandAckResponse, PendingCommand

MAX_PENDING = 10
COMMAND_TTL_MS = 10 * 60_000  # a command nobody ran by then is dropped, never run late


@dataclass(frozen=True)
class CommandRequested:
    id: str
    type: str
    status: str  # "pending", or "done" when nothing was left to run (disconnect with no lock holder)


def request(
    instances: InstanceStore,
    messages: MessageStore,
    audit: AuditLog,
    tenant_id: str,
    instance_id: str,
    kind: str,
    phone: str | None,
    waker: SidecarWaker | None = None,
) -> CommandRequested:
    instance = require(instances, tenant_id, instance_id)
    if kind != "disconnect" and not instance.enabled:
        raise ApiError(409, "instance_disabled", "the instance is disabled: PATCH enabled=true first")
    command_id = str(uuid.uuid4())
    now = system_clock()
    owner = live_lock_owner(instance.lock, now)
    if kind == "disconnect" and owner is None:
        # Nobody runs the instance: disabling it is all there is to do, and it is done now.
        try:
            instances.update(tenant_id, instance_id, InstanceChanges(enabled=False))
        except InstanceNotFound as exc:
            raise NotFound("instance") from exc
        audit.record(instance_id, "command", {"id": command_id, "type": kind})
        audit.record(instance_id, "command_done", {"id": command_id, "type": kind, "by": "control_plane"})
        return CommandRequested(id=command_id, type=kind, status="done")
    command = InstanceCommand(id=command_id, type=kind, at_ms=now, phone=phone or None)
    try:
        instances.add_command(tenant_id, instance_id, command, MAX_PENDING, now - COMMAND_TTL_MS,
                              disable=kind == "disconnect")
    except InstanceNotFound as exc:
        raise NotFound("instance") from exc
    except TooManyCommands as exc:
        raise ApiError(409, "too_many_commands", f"{MAX_PENDING} commands already wait for this instance") from exc
    if owner is not None:  # after the command is stored: whoever answers the doorbell must find it
        ring(messages, instance_id, owner)
        if waker is not None:  # the sidecar asks for it with a short heartbeat, which answers the doorbell
            waker.wake(owner, push_frame("command", instance_id))
    audit.record(instance_id, "command", {"id": command_id, "type": kind})
    metrics.add_metric(name="CommandsRequested", unit="Count", value=1)
    return CommandRequested(id=command_id, type=kind, status="pending")


def ring(messages: MessageStore, instance_id: str, owner: str) -> None:
    """Wake `owner`'s heartbeat long-poll for this instance's commands; best effort, never fails the request."""
    try:
        messages.ring_doorbell(instance_id, owner, COMMAND_TTL_MS)
    except Exception as exc:  # the command is stored: the holder's next renewal delivers it anyway
        logger.warning("command doorbell not rung", extra={"instance_id": instance_id,
                                                           "error_type": type(exc).__name__})
        metrics.add_metric(name="CommandDoorbellFailed", unit="Count", value=1)


def pending(instance_id: str, commands: Iterable[InstanceCommand], now_ms: int) -> list[PendingCommand]:
    """The unexpired commands of an instance, oldest first."""
    from zapgate_core.contract.worker_proxy import PendingCommand

    live = [c for c in commands if c.at_ms >= now_ms - COMMAND_TTL_MS]
    return [
        PendingCommand(instance_id=instance_id, id=c.id, type=c.type, phone=c.phone)
        for c in sorted(live, key=lambda c: (c.at_ms, c.id))
    ]


def ack(instances: InstanceStore, audit: AuditLog, request: CommandAckRequest) -> CommandAckResponse:
    from zapgate_core.contract.worker_proxy import CommandAckResponse

    try:
        removed = instances.remove_command(request.instance_id, request.id)
    except InstanceNotFound as exc:
        raise NotFound("instance") from exc
    if removed is not None:  # a repeated ack is answered but not audited twice
        audit.record(request.instance_id, f"command_{request.result}",
                     {"id": request.id, "type": removed.type or None, "error": request.error})
        metrics.add_metric(name="CommandsDone" if request.result == "done" else "CommandsFailed", unit="Count",
                           value=1)
    return CommandAckResponse(removed=removed is not None)
