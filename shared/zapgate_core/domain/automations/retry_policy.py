"""Retrying a model call: which failures are retried and how long to wait (seed 003's backoff).

Seed 003 retries a failed job 3 times with exponential backoff 2 s, 4 s, 8 s. Read literally that is the
first attempt plus three retries, waiting 2, 4 then 8 s before each. The adapters never retry by themselves
(`max_retries=0`, botocore's `total_max_attempts=1`), so this is the only place attempts multiply.
A retry is skipped when its wait would not fit in what is left of the caller's time budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from zapgate_core.domain.automations.conversation import ProviderError

T = TypeVar("T")

SEED_003_DELAYS_S = (2.0, 4.0, 8.0)


@dataclass(frozen=True)
class RetryPolicy:
    delays_s: tuple[float, ...] = SEED_003_DELAYS_S

    @property
    def max_attempts(self) -> int:
        return 1 + len(self.delays_s)

    def delay_after(self, error: ProviderError, attempt: int) -> float | None:
        """Seconds to wait before attempt `attempt + 1` after `error` ended attempt `attempt` (1-based),
        or None when the error is final: not retryable, or no retries left."""
        if not error.retryable or attempt >= self.max_attempts:
            return None
        return self.delays_s[attempt - 1]


NO_RETRIES = RetryPolicy(delays_s=())


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None],
    remaining_s: Callable[[], float] | None = None,
    on_failure: Callable[[ProviderError, int], None] | None = None,
) -> T:
    """Run `call`, retrying ProviderErrors as `policy` says. Any other exception is a bug and propagates at
    once. `remaining_s` (the caller's budget left) stops retrying when the wait would overrun it; the last
    ProviderError is raised then. `on_failure(error, attempt)` hears of every failed attempt, so the caller
    can record what each one met."""
    attempt = 1
    while True:
        try:
            return call()
        except ProviderError as error:
            if on_failure:
                on_failure(error, attempt)
            delay = policy.delay_after(error, attempt)
            if delay is None or (remaining_s is not None and remaining_s() <= delay):
                raise
        sleep(delay)
        attempt += 1
