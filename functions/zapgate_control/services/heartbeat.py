"""A sidecar's heartbeat: renew its locks when due, then say which of its instances have work.

With `wait_ms: 0` (what a sidecar on the push channel sends: it is woken by frames, not by this
call) the owner's sparse index (`owner_queue`) is Queried once and the call returns, so nothing
runs between calls. With `wait_ms > 0` (WAKE_MODE=longpoll, and older sidecars) the call polls that
index every TICK until work appears or the wait ends, which keeps a Lambda busy the whole time. The
same Query shows command doorbells (services/commands.py): a command reaches only the verified lock
holder either way.
"""

from __future__ import annotations

import time

from zapgate_control.clock import iso, system_clock
from zapgate_control.observability import metrics
from zapgate_control.ports.instances import InstanceNotFound, InstanceStore
from zapgate_control.ports.messages import MessageStore
from zapgate_control.services import commands
from zapgate_core.contract.worker_proxy import HeartbeatRequest, HeartbeatResponse, LockStatus, PendingCommand
from zapgate_core.domain.locks import is_live_holder

TICK_S = 0.05


def heartbeat(instances: InstanceStore, messages: MessageStore, request: HeartbeatRequest) -> HeartbeatResponse:
    # The wait counts from the request's arrival, renewals included: renewing N locks takes N conditional
    # writes (~4 ms each on moto, 1,000 locks ~4 s), and added to the wait it would stretch the sidecar's
    # renew cycle past TTL/2 (and past its client timeout, wait + 10 s) as N grows.
    deadline = time.monotonic() + request.wait_ms / 1000
    statuses: list[LockStatus] = []
    pending: list[PendingCommand] = []
    now_ms = system_clock()
    held: set[str] = set() if request.renew else {lock.instance_id for lock in request.locks}
    for lock in request.locks if request.renew else ():
        try:
            renewed, state, record = instances.renew_lock_item(
                lock.instance_id, request.instance_owner, lock.lock_token, request.ttl_ms
            )
        except InstanceNotFound:
            renewed, state, record = False, None, None
        if renewed and record is not None:
            held.add(lock.instance_id)
            pending.extend(commands.pending(lock.instance_id, record.commands, now_ms))  # from the renewal's ALL_NEW
        elif state is not None:  # the same signal as a refused /renew (a deleted instance is not churn)
            metrics.add_metric(name="LockLost", unit="Count", value=1)
        statuses.append(
            LockStatus(
                instance_id=lock.instance_id,
                acquired=renewed,
                instance_owner=state.owner if state else None,
                lock_token=state.token if renewed and state else None,
                expires_at=iso(state.expires_at_ms) if state and state.owner else None,
                fence=state.fence if state else None,
                settings_version=record.settings_version if renewed and record is not None else None,
            )
        )
    tokens = {lock.instance_id: lock.lock_token for lock in request.locks}
    # The index lags behind a doorbell's deletion for a moment: answer each ring once per call.
    answered: set[tuple[str, int]] = set()
    while True:
        with_messages, doorbells = messages.owner_work(request.instance_owner) if held else (set(), {})
        ready = with_messages & held  # a doorbell alone is no outbound work
        for instance_id, rung_at_ms in doorbells.items():
            if (instance_id, rung_at_ms) not in answered:
                answered.add((instance_id, rung_at_ms))
                known = {command.id for command in pending}  # the renewal above may have brought them
                pending.extend(c for c in _answer_doorbell(instances, messages, request, tokens, instance_id,
                                                           rung_at_ms) if c.id not in known)
        if ready or pending or time.monotonic() + TICK_S > deadline:  # commands go out at once
            return HeartbeatResponse(locks=statuses, ready=sorted(ready), commands=pending)
        time.sleep(TICK_S)


def _answer_doorbell(
    instances: InstanceStore,
    messages: MessageStore,
    request: HeartbeatRequest,
    tokens: dict[str, str | None],
    instance_id: str,
    rung_at_ms: int,
) -> list[PendingCommand]:
    """The instance's pending commands if the caller verifiably holds its lock now; the doorbell is taken.

    Taken first, read second: every command whose ring this call removes is already on the item the
    strongly consistent read returns (a command is stored before its ring), so no ring is lost, and a
    ring the index still shows after its deletion is recognised (nothing to delete) and costs no read.
    """
    if instance_id not in tokens:
        # Not this call's lock, yet addressed to this sidecar: a call of its own listing the instance may
        # be polling beside this one (the sidecar cuts a long-poll short when it takes a lock, but the
        # server's side runs to its end), so leave it to that one; once its commands have expired, drop it.
        if rung_at_ms < system_clock() - commands.COMMAND_TTL_MS:
            messages.clear_doorbell(instance_id)
        return []
    if not messages.clear_doorbell(instance_id):
        return []
    record = instances.get(instance_id, consistent=True)
    now_ms = system_clock()
    if record is None or not is_live_holder(record.lock, request.instance_owner, tokens[instance_id], now_ms):
        return []  # a stale or stolen lock gets nothing; the real holder's renewal delivers them
    metrics.add_metric(name="CommandDoorbellsAnswered", unit="Count", value=1)
    return commands.pending(instance_id, record.commands, now_ms)
