"""Sidecar decisions that need no I/O: which instances to run, when to reconnect, when to trip the breaker."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence

from zapgate_core.contract.worker_proxy import EligibleInstance


def select_target(instances: Sequence[EligibleInstance], max_active: int) -> list[str]:
    """Top N by priority; ties keep the server's order (creation order), so targets don't flap."""
    ordered = sorted(enumerate(instances), key=lambda pair: (-pair[1].priority, pair[0]))
    ids = [instance.id for _, instance in ordered]
    return ids[:max_active] if max_active > 0 else ids


def fair_share(eligible: int, live_owners: set[str], cap: int) -> int:
    """This sidecar's share: eligible instances spread over the sidecars seen holding locks (and
    itself), never above MAX_ACTIVE_INSTANCES when that is set."""
    share = math.ceil(eligible / max(1, len(live_owners)))
    return min(share, cap) if cap > 0 else share


def fleet_owners(me: str, lock_owners: set[str], announced: set[str], lapsed: set[str]) -> set[str]:
    """The sidecars the fair share divides by: those holding locks, this one, and the announced ones
    (eligible-instances `sidecars`) that hold nothing yet — a sidecar that just started.

    `lapsed` (see `lapsed_holders`) are left out: their locks expired on instances still eligible,
    so they most likely died, and a presence may outlive its sidecar by minutes; counting one would
    leave its instances to nobody.
    """
    return lock_owners | {me} | (announced - lapsed)


def remember_holders(last_held: Mapping[str, frozenset[str]], held_by: Mapping[str, str | None], me: str,
                     announced: set[str]) -> dict[str, frozenset[str]]:
    """Which instances each other sidecar was last seen holding, after one eligible-instances answer.

    A sidecar holding nothing now keeps the instances it last held that are still eligible: its
    locks lapsed. Once none of them is eligible (deleted, disabled) it lost them without dying,
    so it is forgotten and counts again as an idle, announced sidecar. Forgotten too once it is
    neither announced nor holding.
    """
    holding: dict[str, set[str]] = {}
    for instance_id, owner in held_by.items():
        if owner and owner != me:
            holding.setdefault(owner, set()).add(instance_id)
    remembered = {owner: frozenset(ids) for owner, ids in holding.items()}
    for owner, ids in last_held.items():
        still_eligible = ids & held_by.keys()
        if owner not in remembered and owner in announced and still_eligible:
            remembered[owner] = frozenset(still_eligible)
    return remembered


def lapsed_holders(remembered: Mapping[str, frozenset[str]], lock_owners: set[str]) -> set[str]:
    """Sidecars remembered holding instances that are still eligible, and holding no lock now."""
    return set(remembered) - lock_owners


def may_release(*, rebalanced: bool, connected: bool, linking: bool, sends_in_flight: int, since_left_s: float,
                cooldown_s: float) -> bool:
    """Whether a runtime outside this sidecar's target may stop now.

    `rebalanced`: the instance is still eligible and left the target for the fair share, the cap or
    a surplus hand-back. Such a runtime never stops while a person is linking it (QR or pairing
    code on screen: moving it takes the code away mid-scan) or while claimed messages are being
    sent; it moves once connected and past the anti-thrash cooldown, or not at all. A
    disconnected one (reconnect backoff) moves at once. `since_left_s` counts from when it left
    the target or was last seen linking. An instance no longer eligible (disabled, deleted)
    stops as before: at once, or after the cooldown when connected.
    """
    if rebalanced and (linking or sends_in_flight > 0):
        return False
    return not connected or since_left_s >= cooldown_s


class Backoff:
    """Seed 000's per-instance reconnect delays, reset when a connection opens."""

    def __init__(self, steps_s: Iterable[float]) -> None:
        self.steps = tuple(steps_s)
        self.attempt = 0

    def next_delay(self) -> float:
        delay = self.steps[min(self.attempt, len(self.steps) - 1)]
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


class BadMacBreaker:
    """Trips after `threshold` undecryptable messages within `window_ms`; then rests for `cooldown_ms`.

    The rest stops a fresh session (new QR, new keys) from being wiped again by the tail of
    the same flood of retries.
    """

    def __init__(self, threshold: int, window_ms: int, cooldown_ms: int) -> None:
        self.threshold = threshold
        self.window_ms = window_ms
        self.cooldown_ms = cooldown_ms
        self._hits: deque[int] = deque()
        self._resting_until = 0

    def record(self, now_ms: int) -> bool:
        """Count one failure; True when the breaker trips."""
        if now_ms < self._resting_until:
            return False
        self._hits.append(now_ms)
        while self._hits and self._hits[0] <= now_ms - self.window_ms:
            self._hits.popleft()
        if len(self._hits) >= self.threshold:
            self._hits.clear()
            self._resting_until = now_ms + self.cooldown_ms
            return True
        return False
