"""Instance locks for sidecars: acquire, renew, release (rules in zapgate_core.domain.locks)."""

from __future__ import annotations

from zapgate_control.clock import iso
from zapgate_control.errors import NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.instances import InstanceNotFound, InstanceStore
from zapgate_control.services.sidecar_wakeups import SidecarWaker
from zapgate_core.contract.sidecar_push import push_frame
from zapgate_core.contract.worker_proxy import (
    LockAcquireRequest,
    LockReleaseRequest,
    LockReleaseResponse,
    LockRenewRequest,
    LockResponse,
)
from zapgate_core.domain.locks import LockState


def _answer(acquired: bool, state: LockState) -> LockResponse:
    return LockResponse(
        acquired=acquired,
        instance_owner=state.owner,
        # Only the holder learns the token; a conflict must not hand it to a competitor.
        lock_token=state.token if acquired else None,
        expires_at=iso(state.expires_at_ms) if state.owner else None,
        fence=state.fence,
    )


def acquire(instances: InstanceStore, request: LockAcquireRequest) -> LockResponse:
    try:
        acquired, state = instances.acquire_lock(request.instance_id, request.instance_owner, request.ttl_ms)
    except InstanceNotFound as exc:
        raise NotFound("instance") from exc
    metrics.add_metric(name="LockAcquired" if acquired else "LockConflict", unit="Count", value=1)
    return _answer(acquired, state)


def renew(instances: InstanceStore, request: LockRenewRequest) -> LockResponse:
    try:
        renewed, state = instances.renew_lock(
            request.instance_id, request.instance_owner, request.lock_token, request.ttl_ms
        )
    except InstanceNotFound as exc:
        raise NotFound("instance") from exc
    if not renewed:
        metrics.add_metric(name="LockLost", unit="Count", value=1)
    return _answer(renewed, state)


def release(
    instances: InstanceStore, request: LockReleaseRequest, waker: SidecarWaker | None = None
) -> LockReleaseResponse:
    released = instances.release_lock(request.instance_id, request.instance_owner, request.lock_token)
    if released and waker is not None:  # another sidecar may take it now rather than at its next discovery
        waker.broadcast(push_frame("discover", reason="lock_released"), except_owner=request.instance_owner)
    return LockReleaseResponse(released=released)
