"""Outbound queue states and their transitions.

queued → claimed (a lease with an expiry) → sent | failed, then sent → delivered → read
as WhatsApp's receipts arrive. A claim whose lease ran out is
handed out again, up to `max_claims` claims in all; after that the message fails with
`lease_expired` instead of being sent a fourth time. WhatsApp cannot de-duplicate a resend
(neonize cannot choose the message id), so every extra claim risks a duplicate: the cap
bounds that risk and makes a stuck message visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum


class MessageState(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    # Issue 13: handed back by the sidecar for pacing (over the first-contact daily cap); claimable again once
    # `lease_expires_at` - which then means "held until" - has passed. Never dropped, never counts as a claim.
    HELD = "held"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    RECEIVED = "received"  # inbound messages


IN_QUEUE = frozenset({MessageState.QUEUED, MessageState.CLAIMED, MessageState.HELD})
LEASE_EXPIRED_ERROR = "lease_expired"


class ClaimDecision(Enum):
    CLAIM = "claim"
    SKIP = "skip"  # claimed by a live lease, or no longer queued
    EXHAUST = "exhaust"  # lease expired too many times: fail it


@dataclass(frozen=True)
class ClaimPolicy:
    lease_ms: int = 120_000
    max_claims: int = 3

    def decide(self, state: str, lease_expires_at_ms: int | None, claim_count: int, now_ms: int) -> ClaimDecision:
        if state == MessageState.QUEUED:
            return ClaimDecision.CLAIM
        if state == MessageState.HELD:  # held until lease_expires_at (the queue index projects it): then claimable
            return ClaimDecision.CLAIM if (lease_expires_at_ms or 0) <= now_ms else ClaimDecision.SKIP
        if state != MessageState.CLAIMED or (lease_expires_at_ms or 0) > now_ms:
            return ClaimDecision.SKIP
        return ClaimDecision.CLAIM if claim_count < self.max_claims else ClaimDecision.EXHAUST


class MarkOutcome(Enum):
    APPLIED = "applied"
    ALREADY = "already"  # the same mark repeated: harmless
    CONFLICT = "conflict"  # not claimed (queued, or the other final state)


def interpret_refused_mark(current_state: str, wanted: MessageState) -> MarkOutcome:
    """A conditional mark-sent/mark-failed was refused: say whether it is a repeat or a conflict."""
    return MarkOutcome.ALREADY if current_state == wanted else MarkOutcome.CONFLICT


# Receipts only move a message forward: sent → delivered → read. A late "delivered" after
# "read" (receipts can arrive out of order) changes nothing.
RECEIPT_STATES: dict[str, MessageState] = {
    "delivered": MessageState.DELIVERED,
    "read": MessageState.READ,
    "read-self": MessageState.READ,
    "played": MessageState.READ,
}
ADVANCES_FROM: dict[MessageState, frozenset[MessageState]] = {
    MessageState.DELIVERED: frozenset({MessageState.SENT}),
    MessageState.READ: frozenset({MessageState.SENT, MessageState.DELIVERED}),
}


def receipt_state(kind: str) -> MessageState | None:
    """The state a receipt kind moves a sent message to; None for kinds that say nothing (retry, ...)."""
    return RECEIPT_STATES.get(kind)
