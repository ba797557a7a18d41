"""`GET /v1/instances/{id}/metrics` (seed 002's usage dashboards): an instance's message counts over a
window of hours, total and by hour, its send queue, when it was last seen and how long it has been connected.

Counted when asked, from what is stored anyway: nothing is written per message for metrics, and nothing
runs while nobody asks. The price is a read proportional to the messages in the window, so the window
is bounded (MAX_HOURS) and so is each read (MAX_ITEMS_PER_DIRECTION); an answer cut short by the cap says
so (`complete`) and from when its counts are exact. docs/data-model.md has the cost per call.

Counting rules:
- A message counts in the hour it entered the store: the hour an outbound one was queued (its fate is
  its state now: sent, failed or still pending), the hour an inbound one arrived. The history index is
  ordered by that moment, which is what lets a key range select the window; a message queued before
  the window and sent inside it is not counted (queueing to sending normally takes seconds).
- `sent` includes messages WhatsApp has since reported delivered or read.
- Hours are UTC clock hours; the window is the current (partial) hour and the `hours - 1` before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from zapgate_control.ports.instances import InstanceStore
from zapgate_control.ports.message_metrics import MessageMetricsStore, QueueDepth, WindowRead
from zapgate_control.services.instances import require
from zapgate_core.domain.locks import live_lock_owner
from zapgate_core.domain.outbound import MessageState

HOUR_MS = 3_600_000
DEFAULT_HOURS = 24
MAX_HOURS = 168  # a week: the most one call may ask for
# Ceiling of one call's read per direction: 10,000 messages (at ~1 KB each, ~1,250 RRU, about $0.00016).
MAX_ITEMS_PER_DIRECTION = 10_000
MAX_QUEUE_ITEMS = 10_000  # queue index entries are ~200 bytes: at most ~250 RRU

SENT_STATES = frozenset({MessageState.SENT, MessageState.DELIVERED, MessageState.READ})
PENDING_STATES = frozenset({MessageState.QUEUED, MessageState.CLAIMED, MessageState.HELD})  # held: pacing (issue 13)


@dataclass
class HourCounts:
    start_ms: int  # the hour's first millisecond (UTC)
    sent: int = 0
    failed: int = 0
    pending: int = 0  # queued in this hour, still queued or claimed
    received: int = 0


@dataclass(frozen=True)
class Connection:
    status: str
    connected_since_ms: int | None  # while CONNECTED: when the current connection was reported
    held: bool  # a sidecar (or worker) holds the instance's lock, renewed within its TTL


@dataclass(frozen=True)
class InstanceMetrics:
    instance_id: str
    now_ms: int
    hours: int
    window_start_ms: int
    by_hour: list[HourCounts]  # oldest first, one per hour of the window, zeros included
    queue: QueueDepth
    connection: Connection
    last_seen_ms: int | None
    complete: bool
    counted_from_ms: int  # counts are exact from here on (the window's start when complete)
    messages_read: int
    read_units: float

    def total(self, field: str) -> int:
        return sum(getattr(hour, field) for hour in self.by_hour)


def _parse_ms(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _counted_from(window_start_ms: int, reads: list[WindowRead]) -> int:
    """Where exact counts begin: the window's start, or after the oldest message a capped read reached."""
    counted_from = window_start_ms
    for read in reads:
        if not read.complete and read.messages:
            # The hour of the oldest message read may hold older, uncounted ones: exact from the next ms.
            counted_from = max(counted_from, read.messages[-1].stored_ms + 1)
    return counted_from


def instance_metrics(
    instances: InstanceStore,
    metrics: MessageMetricsStore,
    tenant_id: str,
    instance_id: str,
    hours: int,
    now_ms: int,
) -> InstanceMetrics:
    """The metrics of the tenant's instance over the last `hours` clock hours (404 for another tenant's)."""
    if not 1 <= hours <= MAX_HOURS:  # the route validates first (422); this guards other callers
        raise ValueError(f"hours must be 1..{MAX_HOURS}")
    record = require(instances, tenant_id, instance_id)
    window_start = (now_ms // HOUR_MS - (hours - 1)) * HOUR_MS
    outbound = metrics.window(instance_id, "outbound", window_start, now_ms, MAX_ITEMS_PER_DIRECTION)
    inbound = metrics.window(instance_id, "inbound", window_start, now_ms, MAX_ITEMS_PER_DIRECTION)
    queue = metrics.queue_depth(instance_id, MAX_QUEUE_ITEMS)

    by_hour = [HourCounts(window_start + n * HOUR_MS) for n in range(hours)]
    seen: list[int] = []
    for message in outbound.messages:
        hour = by_hour[min(hours - 1, max(0, (message.stored_ms - window_start) // HOUR_MS))]
        if message.state in SENT_STATES:
            hour.sent += 1
            if message.finished_ms is not None:
                seen.append(message.finished_ms)  # WhatsApp took a message from this account then
        elif message.state is MessageState.FAILED:
            hour.failed += 1
        elif message.state in PENDING_STATES:
            hour.pending += 1
    for message in inbound.messages:
        by_hour[min(hours - 1, max(0, (message.stored_ms - window_start) // HOUR_MS))].received += 1
    if inbound.messages:
        seen.append(inbound.messages[0].stored_ms)  # newest first

    status_ms = _parse_ms(record.status_at)
    if status_ms is not None:
        seen.append(status_ms)
    # The sidecar reports CONNECTED once per socket connection (and a new lock holder does on takeover),
    # so while CONNECTED, status_at is when the current connection came up.
    connected = record.status == "CONNECTED"
    connection = Connection(
        status=record.status,
        connected_since_ms=status_ms if connected else None,
        held=live_lock_owner(record.lock, now_ms) is not None,
    )
    return InstanceMetrics(
        instance_id=instance_id,
        now_ms=now_ms,
        hours=hours,
        window_start_ms=window_start,
        by_hour=by_hour,
        queue=queue,
        connection=connection,
        last_seen_ms=max(seen) if seen else None,
        complete=outbound.complete and inbound.complete,
        counted_from_ms=_counted_from(window_start, [outbound, inbound]),
        messages_read=len(outbound.messages) + len(inbound.messages),
        read_units=outbound.read_units + inbound.read_units + queue.read_units,
    )
