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


RedriveState = Literal["dead", "redriving", "redriven"]


@dataclass(frozen=True)
class LoggedAttempt:
    """One line of a webhook's delivery log, as the tenant sees it (newest first)."""

    webhook_id: str
    event_id: str
    event_type: str
    attempt: int
    reason: str
    outcome: Literal["failed", "dead", "redriven"]  # "redriven": was dead, sent again by the tenant
    at: str  # ISO 8601, when the attempt was recorded


@dataclass(frozen=True)
class DeadDelivery:
    """A dead letter of one webhook, with what a redrive needs."""

    tenant_id: str
    webhook_id: str
    event_id: str
    event_type: str
    envelope: JsonObject | None  # None: too large to keep (see the adapter); it cannot be redriven from here
    state: RedriveState
    redrive_key: str | None = None  # the Idempotency-Key fingerprint of the redrive that took it


class RedriveConflict(Exception):
    """The dead delivery is being redriven by another request right now, or was redriven already."""

    def __init__(self, state: RedriveState, redrive_key: str | None) -> None:
        super().__init__(state)
        self.state = state
        self.redrive_key = redrive_key


class DeliveryLogReader(Protocol):
    """The public API's side: list a webhook's recent failed/dead attempts, redrive a dead one."""

    def list_attempts(
        self, tenant_id: str, webhook_id: str, limit: int, cursor: str | None
    ) -> tuple[list[LoggedAttempt], str | None]:
        """Newest first; raises ValueError for a cursor this listing did not hand out."""
        ...

    def get_dead(self, tenant_id: str, webhook_id: str, event_id: str) -> DeadDelivery | None: ...

    def claim_dead(self, tenant_id: str, webhook_id: str, event_id: str, token: str, redrive_key: str | None
                   ) -> DeadDelivery | None:
        """Take the dead delivery for one redrive (conditional: two concurrent claims never both win).

        None when there is no such dead delivery; RedriveConflict when another redrive holds or did it.
        A claim left by a crashed request lapses after a minute.
        """
        ...

    def release(self, tenant_id: str, webhook_id: str, event_id: str, token: str) -> None:
        """Give a claim back (the send failed): the delivery is dead again, redrivable."""
        ...

    def mark_redriven(self, tenant_id: str, webhook_id: str, event_id: str, token: str) -> None:
        """The claimed delivery went back on the events queue: drop its envelope, keep a short-lived tombstone
        (so a retry with the same Idempotency-Key answers the same) and show the logged attempt as redriven."""
        ...


class DeliveryLogStore(DeliveryLog, DeliveryLogReader, Protocol):
    """Both sides in one store (one table): what wiring's `stores.delivery_log` answers."""
