"""Pacing's rules (zapgate_core/domain/pacing.py) and the settings' validation (contract/pacing.py)."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from zapgate_core.contract.pacing import PacingSettings
from zapgate_core.domain.pacing import (
    DAY_MS,
    DELAY_MAX_MS,
    RECORDING_MS,
    TYPING_MAX_MS,
    TYPING_MIN_MS,
    FirstContactCounter,
    PacingRules,
    next_day_start_ms,
    typing_ms,
)


class _FixedRng:
    def __init__(self, fraction: float) -> None:
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


def test_delay_is_drawn_within_the_range_through_the_injected_rng() -> None:
    rules = PacingRules(delay_min_ms=1_000, delay_max_ms=3_000)
    assert rules.choose_delay_ms(_FixedRng(0.0)) == 1_000
    assert rules.choose_delay_ms(_FixedRng(1.0)) == 3_000
    assert rules.choose_delay_ms(_FixedRng(0.25)) == 1_500
    seeded = random.Random(7)
    assert all(1_000 <= rules.choose_delay_ms(seeded) <= 3_000 for _ in range(500))


def test_a_fixed_delay_needs_no_randomness() -> None:
    assert PacingRules(delay_min_ms=500, delay_max_ms=500).choose_delay_ms(_FixedRng(0.9)) == 500


def test_wait_counts_idle_time_since_the_last_send() -> None:
    rules = PacingRules(delay_min_ms=1_000, delay_max_ms=1_000)
    assert rules.wait_before_send_ms(None, 1_000, 50_000) == 0  # the first send goes at once
    assert rules.wait_before_send_ms(10_000, 1_000, 10_400) == 600
    assert rules.wait_before_send_ms(10_000, 1_000, 20_000) == 0


@pytest.mark.parametrize(("text", "expected"), [("", TYPING_MIN_MS), ("oi", TYPING_MIN_MS), ("x" * 40, 2_000),
                                                ("x" * 10_000, TYPING_MAX_MS)])
def test_typing_is_proportional_to_the_text_and_bounded(text: str, expected: int) -> None:
    assert typing_ms(text) == expected


def test_presence_per_kind() -> None:
    rules = PacingRules(typing=True)
    assert rules.presence_for("text", "x" * 40, False) == ("composing", 2_000)
    assert rules.presence_for("audio", "", True) == ("recording", RECORDING_MS)
    assert rules.presence_for("reaction", "", False) is None
    assert PacingRules(typing=False).presence_for("text", "hello", False) is None


def test_first_contact_cap_counts_per_utc_day() -> None:
    counter = FirstContactCounter()
    day = 20_000 * DAY_MS
    assert counter.allows(None, day)  # no cap
    assert counter.allows(2, day)
    counter.record(day)
    counter.record(day + 1_000)
    assert not counter.allows(2, day + 2_000)
    assert not counter.allows(0, day)
    assert next_day_start_ms(day + 5) == day + DAY_MS
    assert counter.allows(2, day + DAY_MS)  # the next day starts at zero


def test_number_checks_are_spaced() -> None:
    rules = PacingRules(check_numbers_interval_ms=2_000)
    assert rules.next_check_wait_ms(None, 5_000) == 0
    assert rules.next_check_wait_ms(5_000, 5_500) == 1_500
    assert PacingRules().next_check_wait_ms(5_000, 5_001) == 0


def test_rules_refuse_values_that_could_wait_forever() -> None:
    with pytest.raises(ValueError):
        PacingRules(delay_min_ms=2, delay_max_ms=1)
    with pytest.raises(ValueError):
        PacingRules(delay_min_ms=0, delay_max_ms=DELAY_MAX_MS + 1)


def test_settings_default_off_and_complete() -> None:
    assert PacingSettings().rules() is None
    rules = PacingSettings.model_validate({"enabled": True}).rules()
    assert rules is not None and rules.typing and rules.first_contact_daily_cap is None
    assert 0 < rules.delay_min_ms <= rules.delay_max_ms


@pytest.mark.parametrize("bad", [
    {"delay_ms": {"min": 5_000, "max": 1_000}},
    {"delay_ms": {"min": -1, "max": 10}},
    {"delay_ms": {"min": 0, "max": DELAY_MAX_MS + 1}},
    {"first_contact_daily_cap": -1},
    {"check_numbers_interval_ms": 3_600_000},
    {"enabled": "yes"},
])
def test_settings_refuse_out_of_range_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PacingSettings.model_validate({"enabled": True, **bad})


def test_a_held_message_is_claimable_only_once_its_hold_ended() -> None:
    from zapgate_core.domain.outbound import ClaimDecision, ClaimPolicy

    policy = ClaimPolicy(max_claims=3)
    assert policy.decide("held", 2_000, 2, 1_999) is ClaimDecision.SKIP
    assert policy.decide("held", 2_000, 2, 2_000) is ClaimDecision.CLAIM
    assert policy.decide("held", 2_000, 3, 5_000) is ClaimDecision.CLAIM  # holds never exhaust a message
