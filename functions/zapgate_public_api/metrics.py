"""`GET /v1/instances/{id}/metrics`: an instance's usage for dashboards (seed 002), counted on read.

The service (services/instance_metrics.py) reads the messages stored in the window; this module only
validates the window, maps the result to the documented response, and takes the clock as a
dependency so tests can place "now" where their messages are.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from zapgate_control.clock import iso, system_clock
from zapgate_control.services import instance_metrics
from zapgate_control.services.instance_metrics import DEFAULT_HOURS, MAX_HOURS, HourCounts, InstanceMetrics
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.contract.common import MAX_ID
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.models import ErrorResponse

router = APIRouter(
    prefix="/v1", tags=["metrics"], responses={code: {"model": ErrorResponse} for code in (400, 401, 404, 422, 429)}
)


def now_ms() -> int:
    """The control plane's clock; a dependency so tests can override it."""
    return system_clock()


class MessageCounts(BaseModel):
    sent: int = Field(description="Outbound messages queued in the period that WhatsApp took (sent, delivered or "
                                  "read)")
    failed: int = Field(description="Outbound messages queued in the period that failed")
    pending: int = Field(description="Outbound messages queued in the period still waiting (queued or claimed)")
    received: int = Field(description="Inbound messages stored in the period")


class HourMetrics(MessageCounts):
    hour: str = Field(description="Start of the UTC clock hour (ISO 8601)")

    @classmethod
    def from_counts(cls, counts: HourCounts) -> HourMetrics:
        return cls(hour=iso(counts.start_ms), sent=counts.sent, failed=counts.failed, pending=counts.pending,
                   received=counts.received)


class MetricsWindow(BaseModel):
    hours: int = Field(description="Clock hours covered: the current one and the hours-1 before it")
    start: str = Field(description="Start of the window's oldest hour (ISO 8601, UTC); the window ends at the "
                                   "moment of the call (the response's Date header)")


class QueueMetrics(BaseModel):
    depth: int = Field(description="Outbound messages on the send queue now: queued + claimed")
    queued: int = Field(description="Waiting for the instance's sidecar to claim them")
    claimed: int = Field(description="Handed to a sidecar, not yet marked sent or failed")
    oldest_queued_at: str | None = Field(description="When the oldest message on the queue was queued; null if empty")
    complete: bool = Field(description="false: more messages wait than one call reads (10,000); counts are a floor")


class ConnectionMetrics(BaseModel):
    status: str = Field(description="CONNECTING | CONNECTED | DISCONNECTED, as last reported by the sidecar")
    connected_since: str | None = Field(
        description="While CONNECTED: when the current WhatsApp connection was reported up; null otherwise. "
                    "Uptime = now - connected_since (now: the response's Date header). Not answered in seconds "
                    "so that the same state always answers the same body"
    )
    held: bool = Field(description="A sidecar holds the instance and renews it; false while CONNECTED means the "
                                   "status is stale (its sidecar stopped without reporting)")


class InstanceMetricsResponse(BaseModel):
    instance_id: str
    window: MetricsWindow
    totals: MessageCounts = Field(description="Sums of by_hour")
    by_hour: list[HourMetrics] = Field(description="One entry per clock hour of the window, oldest first, zeros "
                                                   "included")
    queue: QueueMetrics
    connection: ConnectionMetrics
    last_seen_at: str | None = Field(
        description="Newest sign of life of the instance's WhatsApp session: its last status report, its newest "
                    "inbound message or outbound message sent (those within the window); null if none"
    )
    complete: bool = Field(description="false: the window held more messages than one call reads (10,000 per "
                                       "direction); the newest are counted, older hours may be short")
    counted_from: str = Field(description="Counts are exact from this moment on (the window's start when complete)")
    messages_read: int = Field(description="Messages this call read to count")
    read_units: float = Field(description="DynamoDB read request units this call's counting consumed, as reported "
                                          "(the instance lookup aside)")

    @classmethod
    def from_metrics(cls, m: InstanceMetrics) -> InstanceMetricsResponse:
        connected_since = m.connection.connected_since_ms
        return cls(
            instance_id=m.instance_id,
            window=MetricsWindow(hours=m.hours, start=iso(m.window_start_ms)),
            totals=MessageCounts(sent=m.total("sent"), failed=m.total("failed"), pending=m.total("pending"),
                                 received=m.total("received")),
            by_hour=[HourMetrics.from_counts(h) for h in m.by_hour],
            queue=QueueMetrics(
                depth=m.queue.queued + m.queue.claimed, queued=m.queue.queued, claimed=m.queue.claimed,
                oldest_queued_at=iso(m.queue.oldest_ms) if m.queue.oldest_ms is not None else None,
                complete=m.queue.complete,
            ),
            connection=ConnectionMetrics(
                status=m.connection.status,
                connected_since=iso(connected_since) if connected_since is not None else None,
                held=m.connection.held,
            ),
            last_seen_at=iso(m.last_seen_ms) if m.last_seen_ms is not None else None,
            complete=m.complete,
            counted_from=iso(m.counted_from_ms),
            messages_read=m.messages_read,
            read_units=m.read_units,
        )


@router.get("/instances/{instance_id}/metrics", response_model=InstanceMetricsResponse)
def get_metrics(
    instance_id: str = Path(min_length=1, max_length=MAX_ID),
    hours: int = Query(
        default=DEFAULT_HOURS, ge=1, le=MAX_HOURS,
        description=f"Window in clock hours (1-{MAX_HOURS}): the current hour and the hours-1 before it. "
                    "A call reads the window's messages, so its cost grows with it",
    ),
    tenant_id: str = Depends(require_tenant),
    stores: Stores = Depends(get_stores),
    now: int = Depends(now_ms),
) -> InstanceMetricsResponse:
    """Message counts (sent, failed, pending, received) over the window and by hour, the send queue's depth,
    last seen and connection uptime. Counted on read from the stored messages: nothing is written for it."""
    result = instance_metrics.instance_metrics(
        stores.instances, stores.message_metrics, tenant_id, instance_id, hours, now
    )
    return InstanceMetricsResponse.from_metrics(result)
