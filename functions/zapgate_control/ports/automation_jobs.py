"""Automation jobs: the outbox hands inbound messages of instances with automations to the runner's queue.

A job is (message group, deduplication id, body): zapgate_core.domain.automations.jobs builds each part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from zapgate_core.domain.json_types import JsonObject


@dataclass(frozen=True)
class AutomationJob:
    key: str  # the caller's id for it (the stream record's sequence number), answered back when refused
    group: str
    deduplication_id: str
    body: JsonObject


class AutomationJobQueue(Protocol):
    def publish(self, jobs: Sequence[AutomationJob]) -> set[str]:
        """Send every job; the keys of those the queue did not take. Never raises."""
        ...
