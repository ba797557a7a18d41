"""A sidecar's heartbeat: renew all its locks, then wait until one of its instances has work.

The wait polls one sparse index (`owner_queue`) at a short interval, so a message queued
for a connected instance is seen within ~TICK and an idle sidecar costs one request per
renew interval for all of its instances together.
"""

from __future__ import annotations

import time

from zapgate_control.adapters.dynamodb.instances import InstanceNotFound
from zapgate_control.clock import iso, system_clock
from zapgate_control.observability import metrics
from zapgate_control.ports import InstanceStore, MessageStore
from zapgate_control.services import commands
from zapgate_core.contract.worker_proxy import HeartbeatRequest, HeartbeatResponse, LockStatus, PendingCommand

TICK_S = 0.05


def heartbeat(instances: InstanceStore, messages: MessageStore, request: HeartbeatRequest) -> HeartbeatResponse:
    statuses: list[LockStatus] = []
    pending: list[PendingCommand] = []
    now_ms = system_clock()
    held: set[str] = set() if request.renew else {lock.instance_id for lock in request.locks}
    for lock in request.locks if request.renew else ():
        try:
            renewed, state, item = instances.renew_lock_item(
                lock.instance_id, request.instance_owner, lock.lock_token, request.ttl_ms
            )
        except InstanceNotFound:
            renewed, state, item = False, None, {}
        if renewed:
            held.add(lock.instance_id)
            pending.extend(commands.pending(lock.instance_id, item, now_ms))  # from the renewal's ALL_NEW
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
            )
        )
    deadline = time.monotonic() + request.wait_ms / 1000
    while True:
        ready = messages.instances_with_work(request.instance_owner) & held if held else set()
        if ready or pending or time.monotonic() + TICK_S > deadline:  # commands go out at once
            return HeartbeatResponse(locks=statuses, ready=sorted(ready), commands=pending)
        time.sleep(TICK_S)
