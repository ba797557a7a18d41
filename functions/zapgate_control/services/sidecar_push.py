"""The sidecars' push channel (SidecarPushApi): $connect, $disconnect and keepalives.

$connect authenticates with the worker secret (the bearer the worker-proxy takes) and records the
connection under the sidecar's `instance_owner`; a sidecar that had no connection has just joined,
so the others are told to run discovery (their fair share changed). $disconnect forgets the
connection unless the sidecar already replaced it (a make-before-break rotation before API
Gateway's 2 h limit); a connection that closes without being replaced most likely means the sidecar
died, so the others are told too, and they discover again when its locks can have expired.
Every other frame is a keepalive: answered with nothing, reading and writing nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zapgate_control.errors import ApiError
from zapgate_control.observability import logger, metrics
from zapgate_control.ports.presence import PushConnectionStore, SidecarPresenceStore
from zapgate_control.services.sidecar_wakeups import SidecarWaker
from zapgate_control.worker_secret import check_bearer
from zapgate_core.contract.common import MAX_ID
from zapgate_core.contract.sidecar_push import OWNER_HEADER, push_frame


@dataclass(frozen=True)
class PushDeps:
    connections: PushConnectionStore
    waker: SidecarWaker | None  # None without the management endpoint: nobody is told of joins and leaves
    # Presence (eligible-instances `announce`): a sidecar that left is removed at once rather than counted in
    # everyone's fair share for the 3 minutes its presence would outlive it.
    presence: SidecarPresenceStore | None = None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def connect(deps: PushDeps, connection_id: str, headers: Mapping[str, str], now_ms: int) -> int:
    """The $connect status: 200 accepts the handshake, anything else refuses it."""
    try:
        check_bearer(_header(headers, "authorization"))
    except ApiError as exc:
        metrics.add_metric(name="SidecarPushRefused", unit="Count", value=1)
        return exc.http_status
    owner = (_header(headers, OWNER_HEADER) or "").strip()
    if not owner or len(owner) > MAX_ID:
        return 400
    joined = deps.connections.register(owner, connection_id, now_ms)
    metrics.add_metric(name="SidecarPushConnected", unit="Count", value=1)
    if joined and deps.waker is not None:
        deps.waker.broadcast(push_frame("discover", reason="sidecar_joined"), except_owner=owner)
    return 200


def disconnect(deps: PushDeps, connection_id: str) -> int:
    owner = deps.connections.forget(connection_id)
    if owner is not None:
        logger.info("sidecar push channel closed", extra={"owner": owner})
        if deps.presence is not None:  # if it is alive after all, it holds locks (counted) and announces again
            deps.presence.leave(owner)
        if deps.waker is not None:
            deps.waker.broadcast(push_frame("discover", reason="sidecar_left"), except_owner=owner)
    return 200
