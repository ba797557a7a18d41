"""The sidecar's metrics, as CloudWatch EMF lines on stdout (Powertools): awslogs ships them to the
task's log group and CloudWatch turns them into metrics in namespace Zapgate, dimension
service=zapgate-sidecar. The operations dashboard and alarms (infra/observability.yaml) read them.

Runtimes count events with `incr` (OutboundSent, OutboundFailed, InboundDelivered, Reconnects,
LocksLost, BadMacTrips; the heartbeat counts FallbackPolls); the instance manager sets gauges with `gauge`
(InstancesManaged, InstancesConnected, InstancesDisconnected, InstancesWaitingQr, PushChannelUp) and calls
`flush_if_due` from its discovery loop. A flush happens at most once per wall-clock minute, so every task puts
one datapoint in each 1-minute period and a Sum over a minute is the fleet's total.

Only metric names and numbers leave here: no instance id, JID, phone number or message content
is ever a dimension or a property (one fixed dimension, `service`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "Zapgate"
SERVICE = "zapgate-sidecar"  # fixed, not POWERTOOLS_SERVICE_NAME: the dashboard names this dimension value
# Emitted as 0 in a minute without events, so graphs and alarms see a zero rather than a gap.
COUNTERS = ("OutboundSent", "OutboundFailed", "InboundDelivered", "Reconnects", "LocksLost", "BadMacTrips",
            "FallbackPolls")


class SidecarTelemetry:
    def __init__(self, namespace: str = NAMESPACE, service: str = SERVICE,
                 clock: Callable[[], float] = time.time) -> None:
        # EphemeralMetrics keeps its own metric set: Powertools' Metrics shares one per process.
        self._metrics = EphemeralMetrics(namespace=namespace, service=service)
        self._clock = clock
        self._lock = threading.Lock()
        self._counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._gauges: dict[str, float] = {}
        self._flushed_minute: int | None = None

    def incr(self, name: str, value: int = 1) -> None:
        """Count an event; the total since the last flush is emitted, then starts again from 0."""
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + value

    def gauge(self, name: str, value: float) -> None:
        """Set a level (emitted as is at the next flush)."""
        with self._lock:
            self._gauges[name] = value

    def flush_if_due(self) -> bool:
        """Flush once per wall-clock minute; True when this call flushed."""
        minute = int(self._clock() // 60)
        if minute == self._flushed_minute:
            return False
        self._flushed_minute = minute
        self.flush()
        return True

    def flush(self) -> None:
        with self._lock:
            counters, self._counters = self._counters, dict.fromkeys(COUNTERS, 0)
            gauges, self._gauges = self._gauges, {}
        for name, level in sorted(gauges.items()):
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=level)
        for name, count in sorted(counters.items()):
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
        if self._metrics.metric_set:
            self._metrics.flush_metrics()
        # With POWERTOOLS_METRICS_DISABLED (make run, tests) flush_metrics keeps the set: drop it.
        self._metrics.clear_metrics()
