"""Pacing that looks human (issue 13): the rules, in plain Python; the sidecar's outbound runner applies them.

Everything here is a decision from numbers: how long to wait before the next send (a random delay drawn from
the instance's range, through an injectable RNG so tests are exact), how long to show "typing" for a text,
whether a message to a contact who never wrote first may go today, and when the next day starts. No clock is
read here either: callers pass `now_ms` (the sidecar's wall clock for the day, a monotonic one for spacing).

The bounds are part of the contract (contract/pacing.py validates PATCH against them): every wait is short
enough that a claimed message's lease (120 s) covers typing + send, because the runner claims a message only
after its delay has passed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

DELAY_MAX_MS = 60_000  # the longest gap between two sends a setting may ask for
CHECK_INTERVAL_MAX_MS = 60_000  # the slowest pace for number checks
DAILY_CAP_MAX = 100_000

# Typing is shown for a time proportional to the text, bounded: a person types ~5 characters a second, but a
# 2,000-character text must not hold the chat (and the lease) for minutes.
TYPING_MS_PER_CHAR = 50
TYPING_MIN_MS = 600
TYPING_MAX_MS = 8_000
RECORDING_MS = 3_000  # a voice note's "recording…": the audio's length is not known before it is sent
DAY_MS = 86_400_000


class Rng(Protocol):
    """What the delay needs from a random source: `random.Random` fits, tests pass a fixed one."""

    def uniform(self, a: float, b: float) -> float: ...


@dataclass(frozen=True)
class PacingRules:
    """An instance's pacing as the runner uses it (built from the settings' contract model)."""

    delay_min_ms: int = 0
    delay_max_ms: int = 0
    typing: bool = False
    first_contact_daily_cap: int | None = None
    check_numbers_interval_ms: int = 0

    def __post_init__(self) -> None:
        # The contract validated these already; a rule built by hand must not be able to wait forever either.
        if not 0 <= self.delay_min_ms <= self.delay_max_ms <= DELAY_MAX_MS:
            raise ValueError("delay must satisfy 0 <= min <= max <= DELAY_MAX_MS")
        if not 0 <= self.check_numbers_interval_ms <= CHECK_INTERVAL_MAX_MS:
            raise ValueError("check_numbers_interval_ms out of range")
        if self.first_contact_daily_cap is not None and not 0 <= self.first_contact_daily_cap <= DAILY_CAP_MAX:
            raise ValueError("first_contact_daily_cap out of range")

    def choose_delay_ms(self, rng: Rng) -> int:
        """The gap before the next send, uniform in [min, max] (a fixed gap is itself a robot's signature)."""
        if self.delay_max_ms == self.delay_min_ms:
            return self.delay_min_ms
        return round(rng.uniform(self.delay_min_ms, self.delay_max_ms))

    def wait_before_send_ms(self, last_send_ms: float | None, delay_ms: int, now_ms: float) -> int:
        """How long to wait now so that at least `delay_ms` separates this send from the previous one (time
        already spent idle counts: a message queued long after the last send goes at once)."""
        if last_send_ms is None:
            return 0
        return max(0, int(last_send_ms + delay_ms - now_ms))

    def presence_for(self, kind: str, text: str, voice_note: bool) -> tuple[str, int] | None:
        """(chat presence, duration ms) to show before a send, or None (typing off, or nothing a person types:
        a reaction is a tap)."""
        if not self.typing or kind == "reaction":
            return None
        if voice_note:
            return "recording", RECORDING_MS
        return "composing", typing_ms(text)

    def next_check_wait_ms(self, last_check_ms: float | None, now_ms: float) -> int:
        """How long a number check waits so consecutive checks are `check_numbers_interval_ms` apart."""
        if last_check_ms is None or self.check_numbers_interval_ms == 0:
            return 0
        return max(0, int(last_check_ms + self.check_numbers_interval_ms - now_ms))


def typing_ms(text: str) -> int:
    """Typing time for a text: proportional to its length, within [TYPING_MIN_MS, TYPING_MAX_MS]."""
    return max(TYPING_MIN_MS, min(TYPING_MAX_MS, len(text) * TYPING_MS_PER_CHAR))


def day_of(now_ms: int) -> int:
    """The UTC day number a wall-clock time falls in (the cap's day: UTC, the same for every instance)."""
    return now_ms // DAY_MS


def next_day_start_ms(now_ms: int) -> int:
    """When the UTC day after `now_ms`'s begins: a message over the cap is held until then."""
    return (day_of(now_ms) + 1) * DAY_MS


@dataclass
class FirstContactCounter:
    """Messages sent today to contacts who never wrote first, for one instance (the cap's state).

    Kept by the runtime holding the instance: a new holder (failover, restart) starts the day at zero, so the
    cap may be exceeded once per failover on that day (docs/sidecar.md#pacing says so)."""

    day: int = -1
    sent: int = 0

    def allows(self, cap: int | None, now_ms: int) -> bool:
        """Whether one more first-contact message may go now (no cap: always)."""
        if cap is None:
            return True
        self._roll(now_ms)
        return self.sent < cap

    def record(self, now_ms: int) -> None:
        self._roll(now_ms)
        self.sent += 1

    def _roll(self, now_ms: int) -> None:
        today = day_of(now_ms)
        if today != self.day:
            self.day, self.sent = today, 0


def default_rng() -> Rng:
    # Not for secrets: a send's jitter only has to look irregular.
    return random.Random()
