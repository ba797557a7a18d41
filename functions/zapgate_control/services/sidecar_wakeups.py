"""Wake-ups for sidecars through their push channel (SidecarPushApi), best effort.

The control plane posts a small frame to the connection of the sidecar that holds an instance's
lock (work queued, a command) or to every sidecar (discover). Nothing depends on a frame arriving:
the queue and the instance item are the truth, and the sidecar's next renewal, or its reconnect,
drains what a lost frame would have announced. So a failure here is logged and counted, never
raised into the request that caused it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from zapgate_control.observability import logger, metrics
from zapgate_control.ports.live import LivePusher
from zapgate_control.ports.presence import PushConnectionStore
from zapgate_core.domain.live import PUSH_GONE

CONNECT_GRACE_MS = 30_000  # API Gateway gives a $connect integration 29 s at most


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class SidecarWaker:
    connections: PushConnectionStore
    pusher: LivePusher  # the management API of the sidecars' WebSocket stage
    now_ms: Callable[[], int] = _wall_clock_ms

    def wake(self, owner: str, frame: bytes) -> bool:
        """Post `frame` to `owner`'s connection; False when it has none or the post failed."""
        try:
            connection_id = self.connections.connection_of(owner)
            if connection_id is None:
                metrics.add_metric(name="SidecarWakeNoChannel", unit="Count", value=1)
                return False
            return self._post(connection_id, frame)
        except Exception as exc:  # best effort: the renewal drains it
            logger.warning("sidecar wake-up failed", extra={"error": type(exc).__name__})
            metrics.add_metric(name="SidecarWakeFailed", unit="Count", value=1)
            return False

    def post_to(self, connection_id: str, frame: bytes) -> bool:
        """Post `frame` to a connection the caller already looked up (a request to the phone); False when
        it is gone or the post failed."""
        try:
            return self._post(connection_id, frame)
        except Exception as exc:
            logger.warning("sidecar wake-up failed", extra={"error": type(exc).__name__})
            metrics.add_metric(name="SidecarWakeFailed", unit="Count", value=1)
            return False

    def broadcast(self, frame: bytes, except_owner: str | None = None) -> int:
        """Post `frame` to every connected sidecar but `except_owner`; how many took it."""
        try:
            targets = [c for owner, c in self.connections.connections().items() if owner != except_owner]
        except Exception as exc:
            logger.warning("sidecar broadcast failed", extra={"error": type(exc).__name__})
            metrics.add_metric(name="SidecarWakeFailed", unit="Count", value=1)
            return 0
        delivered = 0
        for connection_id in targets:
            try:
                delivered += self._post(connection_id, frame)
            except Exception as exc:
                logger.warning("sidecar wake-up failed", extra={"error": type(exc).__name__})
                metrics.add_metric(name="SidecarWakeFailed", unit="Count", value=1)
        return delivered

    def _post(self, connection_id: str, frame: bytes) -> bool:
        if self.pusher.post(connection_id, frame) == PUSH_GONE:
            # API Gateway also answers Gone for a connection whose $connect is still running (it is stored
            # before its handshake completes): only one older than any $connect can take is forgotten.
            # Conditional too: never a newer connection of the same sidecar.
            self.connections.forget(connection_id, connected_before_ms=self.now_ms() - CONNECT_GRACE_MS)
            metrics.add_metric(name="SidecarWakeGone", unit="Count", value=1)
            return False
        metrics.add_metric(name="SidecarWakes", unit="Count", value=1)
        return True
