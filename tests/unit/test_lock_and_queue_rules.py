"""The lock and queue rules the DynamoDB conditions encode."""

from __future__ import annotations

from zapgate_core.domain.locks import (
    AcquireRoute,
    LockState,
    is_live_holder,
    may_renew,
    renew_interval_ms,
    route_acquire,
)
from zapgate_core.domain.outbound import ClaimDecision, ClaimPolicy, MarkOutcome, MessageState, interpret_refused_mark

NOW = 1_000_000


def held(owner: str = "a", expires: int = NOW + 10, token: str = "t") -> LockState:
    return LockState(owner=owner, token=token, expires_at_ms=expires, fence=3)


def test_acquire_routes() -> None:
    assert route_acquire(None, "a", NOW) is AcquireRoute.TAKE_OVER
    assert route_acquire(held(expires=NOW), "b", NOW) is AcquireRoute.TAKE_OVER  # expiry is exclusive
    assert route_acquire(held(), "a", NOW) is AcquireRoute.EXTEND
    assert route_acquire(held(), "b", NOW) is AcquireRoute.CONFLICT
    assert route_acquire(LockState(None, None, 0, 2), "b", NOW) is AcquireRoute.TAKE_OVER


def test_renew_needs_owner_and_matching_token_when_given() -> None:
    assert may_renew(held(), "a", "t")
    assert may_renew(held(), "a", None)
    assert may_renew(held(expires=NOW - 1), "a", "t")  # expired but nobody took it
    assert not may_renew(held(), "a", "old")
    assert not may_renew(held(), "b", "t")
    assert not may_renew(None, "a", None)


def test_a_live_holder_needs_owner_an_unexpired_lock_and_matching_token_when_given() -> None:
    assert is_live_holder(held(), "a", "t", NOW)
    assert is_live_holder(held(), "a", None, NOW)
    assert not is_live_holder(held(expires=NOW), "a", "t", NOW)  # expired, even if nobody took it
    assert not is_live_holder(held(), "a", "old", NOW)
    assert not is_live_holder(held(), "b", "t", NOW)
    assert not is_live_holder(None, "a", None, NOW)


def test_renew_interval_follows_seed_000() -> None:
    assert renew_interval_ms(30_000) == 15_000
    assert renew_interval_ms(3_000) == 2_000


def test_claim_decisions() -> None:
    policy = ClaimPolicy(lease_ms=100, max_claims=2)
    assert policy.decide("queued", None, 0, NOW) is ClaimDecision.CLAIM
    assert policy.decide("claimed", NOW + 1, 1, NOW) is ClaimDecision.SKIP
    assert policy.decide("claimed", NOW, 1, NOW) is ClaimDecision.CLAIM
    assert policy.decide("claimed", NOW - 5, 2, NOW) is ClaimDecision.EXHAUST
    assert policy.decide("sent", None, 1, NOW) is ClaimDecision.SKIP


def test_refused_marks() -> None:
    assert interpret_refused_mark("sent", MessageState.SENT) is MarkOutcome.ALREADY
    assert interpret_refused_mark("failed", MessageState.SENT) is MarkOutcome.CONFLICT
    assert interpret_refused_mark("queued", MessageState.FAILED) is MarkOutcome.CONFLICT
