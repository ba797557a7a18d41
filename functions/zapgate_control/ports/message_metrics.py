"""Per-instance message metrics, counted at read time from the messages already stored (MessagesTable).

No write anywhere is made for metrics: the store reads a bounded key range of the history index and
the sparse send-queue index, only when someone asks (services/instance_metrics.py, docs/data-model.md).
Every read is capped, and says whether the cap cut it short, so one call's cost has a ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from zapgate_control.ports.messages import Direction
from zapgate_core.domain.outbound import MessageState


@dataclass(frozen=True)
class StoredState:
    """One message of the window as the metrics read sees it: only what counting needs."""

    stored_ms: int  # when it was queued (outbound) or stored (inbound): the history index's order
    state: MessageState  # its state now
    finished_ms: int | None = None  # outbound sent or failed: when


@dataclass(frozen=True)
class WindowRead:
    """The messages of one direction stored in [since_ms, until_ms], newest first."""

    messages: tuple[StoredState, ...]
    # False when the read stopped at its cap before reaching since_ms: the messages older than the
    # oldest one answered were not counted (the newest ones always are: the read runs newest first).
    complete: bool
    read_units: float  # what DynamoDB billed for the read (RRU), as it reported it


@dataclass(frozen=True)
class QueueDepth:
    """The instance's outbound messages still on the send queue."""

    queued: int  # waiting for a sidecar to claim them
    claimed: int  # handed to a sidecar, not yet marked sent or failed
    oldest_ms: int | None  # when the oldest of them was queued
    complete: bool  # False: more than the cap wait; the counts are a lower bound
    read_units: float


class MessageMetricsStore(Protocol):
    def window(
        self, instance_id: str, direction: Direction, since_ms: int, until_ms: int, max_items: int
    ) -> WindowRead:
        """Messages of one direction stored in the window, newest first, at most `max_items`."""
        ...

    def queue_depth(self, instance_id: str, max_items: int) -> QueueDepth:
        """Counts of the instance's queued and claimed outbound messages, at most `max_items` read."""
        ...
