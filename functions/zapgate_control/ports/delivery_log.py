"""What a tenant can see of its webhook deliveries: failed attempts and dead letters, kept a while.

Successful deliveries are not written one by one (that would add a DynamoDB write per event per
webhook); failures are rare and are what a person needs to see. A delivery that exhausted its
retries is kept with its envelope, so the tenant can send it again (redrive) without the
operator's DLQ tools.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from zapgate_core.domain.json_types import JsonObject

DeliveryOutcome = Literal["failed", "dead"]


@dataclass(frozen=True)
class DeliveryAttempt:
    """One failed attempt to deliver one event to one webhook."""

    tenant_id: str
    webhook_id: str
    event_id: str
    event_type: str
    attempt: int  # SQS receive count of the record that carried it
    reason: str  # e.g. "HTTP 500", "timeout" — never the URL, never the body
    outcome: DeliveryOutcome  # "dead": the last attempt; the envelope is kept for a redrive
    envelope: JsonObject | None = None  # only for "dead"


class DeliveryLog(Protocol):
    def record(self, attempt: DeliveryAttempt) -> None:
        """Best effort: a failure to record never fails the delivery's own retry."""
        ...
