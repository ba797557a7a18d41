"""Instance lock rules: who may take, keep or drop the lock of an instance.

The storage adapter enforces these atomically with conditional writes; this module states
the rules once, in plain terms, and interprets what a refused write means. Times are
milliseconds from one clock: the control plane's, never each sidecar's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class LockState:
    owner: str | None
    token: str | None
    expires_at_ms: int
    fence: int

    def is_free(self, now_ms: int) -> bool:
        return self.owner is None or self.expires_at_ms <= now_ms

    def is_held_by(self, owner: str, now_ms: int) -> bool:
        return self.owner == owner and self.expires_at_ms > now_ms


class AcquireRoute(Enum):
    TAKE_OVER = "take_over"  # free or expired: new token, fence + 1
    EXTEND = "extend"  # the caller already holds it: same token, same fence
    CONFLICT = "conflict"  # someone else holds it


def route_acquire(current: LockState | None, owner: str, now_ms: int) -> AcquireRoute:
    if current is None or current.is_free(now_ms):
        return AcquireRoute.TAKE_OVER
    if current.is_held_by(owner, now_ms):
        return AcquireRoute.EXTEND
    return AcquireRoute.CONFLICT


def may_renew(current: LockState | None, owner: str, token: str | None) -> bool:
    """Renewal keeps a lock the caller still owns; an expired lock nobody took is still the caller's.

    Tokens are checked when given (old workers send none): a token from before a take-over
    proves the caller is a stale owner even if its owner name was reused.
    """
    if current is None or current.owner != owner:
        return False
    return token is None or token == current.token


def is_live_holder(current: LockState | None, owner: str, token: str | None, now_ms: int) -> bool:
    """The caller holds the lock right now: owner matches, the lock is live, and so is the token when given.

    Stricter than may_renew (which lets the caller keep an expired lock nobody took): a call that
    does not renew, such as the heartbeat answering a command doorbell, hands out nothing on a lapsed lock.
    """
    return current is not None and current.is_held_by(owner, now_ms) and may_renew(current, owner, token)


def live_lock_owner(current: LockState | None, now_ms: int) -> str | None:
    """Who holds the lock right now: None when nobody does or the lock has expired (work for it waits
    unaddressed, and a command needs no holder)."""
    return None if current is None or current.is_free(now_ms) else current.owner


def new_token() -> str:
    return secrets.token_urlsafe(18)


def renew_interval_ms(ttl_ms: int) -> int:
    """Seed 000's rule: renew at half the TTL, never more often than every 2 s."""
    return max(ttl_ms // 2, 2_000)
