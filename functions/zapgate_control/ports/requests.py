"""Requests to the phone: stored by the public API, claimed and answered by the instance's lock holder.

One record per request (docs/requests.md). The store's conditional writes are the at-most-once rule:
a request moves pending -> claimed once, claimed -> done | failed only by its claimer with its lock
token, and claimed -> outcome_unknown only while that claim is still the one recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from zapgate_core.domain.json_types import JsonObject


@dataclass(frozen=True)
class RequestRecord:
    id: str
    tenant_id: str
    instance_id: str
    op: str  # zapgate_core.contract.requests.RequestOp
    args: JsonObject
    state: str  # zapgate_core.contract.requests.RequestState
    addressed_to: str  # the lock holder it was made for: only that sidecar may claim it
    created_at_ms: int
    request_hash: str | None = None  # Idempotency-Key fingerprint of the public API call
    claimed_by: str | None = None
    lock_token: str | None = None  # the claimer's lock token, fencing its answer
    result: JsonObject | None = None
    error_code: str | None = None  # zapgate_core.contract.requests.RequestErrorCode
    error_message: str | None = None


class DuplicateRequest(Exception):
    """A request with this id exists already (an Idempotency-Key replay); `existing` is it."""

    def __init__(self, existing: RequestRecord) -> None:
        super().__init__(existing.id)
        self.existing = existing


class ResultNotStorable(ValueError):
    """A result holds a number the store cannot keep (DynamoDB: 38 digits, magnitude up to 9.99E+125)."""


class RequestConflict(Exception):
    """A conditional write was refused; `current` is the request as it is (None: there is none)."""

    def __init__(self, current: RequestRecord | None) -> None:
        super().__init__(current.state if current else "missing")
        self.current = current


class RequestStore(Protocol):
    def create(self, record: RequestRecord, ttl_s: int) -> None:
        """Store a new request; raises DuplicateRequest when its id is taken."""
        ...

    def get(self, request_id: str) -> RequestRecord | None:
        """Strongly consistent: a waiting caller must see an answer as soon as it is written."""
        ...

    def claim(self, request_id: str, instance_id: str, owner: str, lock_token: str, now_ms: int) -> RequestRecord:
        """pending -> claimed by `owner` (it must be the addressee); raises RequestConflict."""
        ...

    def answer(
        self, request_id: str, instance_id: str, owner: str, lock_token: str, state: str,
        result: JsonObject | None, error_code: str | None, error_message: str | None, now_ms: int,
    ) -> RequestRecord:
        """claimed by (`owner`, `lock_token`) -> `state` (done | failed); raises RequestConflict."""
        ...

    def settle_abandoned(self, record: RequestRecord, now_ms: int) -> RequestRecord:
        """A request whose sidecar lost the instance: pending -> failed (unreachable; it never ran),
        claimed -> outcome_unknown (it may have run). Conditional on `record` still being as read;
        raises RequestConflict when it moved on."""
        ...
