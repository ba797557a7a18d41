"""Rule triggers (keyword, pattern, first message, away / business hours), cooldown, escalation and the
reply's idempotency key: the plain-Python rules of issue 11's automations (seed 003)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from zapgate_core.contract.common import MAX_ID
from zapgate_core.domain.automations.business_hours import (
    InvalidHours,
    TimeRange,
    WeeklyHours,
    checked_ranges,
    is_open,
    load_timezone,
    parse_clock,
)
from zapgate_core.domain.automations.cooldown import cooldown_allows, cooldown_key
from zapgate_core.domain.automations.definitions import (
    AwayTrigger,
    FirstMessageTrigger,
    KeywordTrigger,
    PatternTrigger,
)
from zapgate_core.domain.automations.escalation import after_human_reply, escalate, is_paused
from zapgate_core.domain.automations.idempotency import KEY_PREFIX, reply_idempotency_key, reply_message_id
from zapgate_core.domain.automations.rules import (
    MAX_PATTERN,
    MAX_SCANNED,
    InvalidPattern,
    PatternTimeout,
    compile_pattern,
    keyword_matches,
    keyword_words,
    pattern_matches,
    probe_pattern,
    trigger_matches,
)
from zapgate_core.domain.idempotency import idempotent_message_id

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def weekly(timezone: str, **days: list[tuple[str, str]]) -> WeeklyHours:
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return WeeklyHours(timezone, tuple(
        checked_ranges([TimeRange(parse_clock(a), parse_clock(b, closing=True)) for a, b in days.get(name, [])])
        for name in names
    ))


# ------------------------------------------------------------------ keywords
@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("preço", "Qual o PRECO?"),
        ("preco", "qual o preço do banho"),
        ("Preço", "preço"),
        ("bom dia", "Bom dia!! tudo bem?"),
        ("bom dia", "bom,   dia"),
        ("agendar", "quero AGENDAR uma consulta para o Rex"),
        ("ÁGUA", "agua"),
    ],
)
def test_a_keyword_matches_as_whole_words_ignoring_case_and_accents(keyword: str, text: str) -> None:
    assert keyword_matches((keyword,), text)


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("pre", "preço"),  # a prefix is not the word
        ("preço", "precoce"),
        ("bom dia", "bomdia"),
        ("bom dia", "dia bom"),  # a phrase keeps its order
        ("consulta", ""),
    ],
)
def test_a_keyword_does_not_match_part_of_a_word_or_a_reordered_phrase(keyword: str, text: str) -> None:
    assert not keyword_matches((keyword,), text)


def test_any_of_several_keywords_fires_the_rule() -> None:
    assert keyword_matches(("horário", "aberto"), "vocês estão abertos? qual o HORARIO")
    assert not keyword_matches(("horário", "aberto"), "vocês estão abertos?")


@pytest.mark.parametrize("keyword", ["", "   ", "!!!", "👍"])
def test_a_keyword_without_a_letter_or_digit_is_refused(keyword: str) -> None:
    with pytest.raises(InvalidPattern, match="letter or digit"):
        keyword_words(keyword)


_ACCENTED = {"a": "aáàãâA", "e": "eéêE", "i": "iíI", "o": "oóôõO", "u": "uúüU", "c": "cçC", "n": "nñN"}
_plain_word = st.text(alphabet="aeioucn", min_size=1, max_size=8)
_filler_word = st.text(alphabet="xyzkw", min_size=1, max_size=6)
_separator = st.sampled_from([" ", ", ", "! ", "? ", "\n", " - ", "..."])


@st.composite
def _spelt_differently(draw: st.DrawFn, word: str) -> str:
    return "".join(draw(st.sampled_from(_ACCENTED[ch])) for ch in word)


@PROPERTY
@given(
    keyword=_plain_word, before=st.lists(_filler_word, max_size=4), after=st.lists(_filler_word, max_size=4),
    sep=_separator, data=st.data(),
)
def test_property_a_keyword_written_with_any_case_and_accents_among_other_words_matches(
    keyword: str, before: list[str], after: list[str], sep: str, data: st.DataObject
) -> None:
    spelt = data.draw(_spelt_differently(keyword))
    text = sep.join([*before, spelt, *after])
    assert keyword_matches((keyword,), text)
    assert keyword_matches((spelt,), keyword)  # and the other way round: the keyword may carry the accents


@PROPERTY
@given(keyword=_plain_word, glued=_filler_word, others=st.lists(_filler_word, max_size=4), glue_left=st.booleans())
def test_property_a_keyword_glued_to_other_letters_does_not_match(
    keyword: str, glued: str, others: list[str], glue_left: bool
) -> None:
    word = glued + keyword if glue_left else keyword + glued
    assert not keyword_matches((keyword,), " ".join([*others, word]))


# ------------------------------------------------------------------ patterns
def test_a_pattern_is_searched_case_insensitively_unless_asked() -> None:
    assert pattern_matches(r"pedido\s*#?\d{4,}", "Cadê meu PEDIDO #12345?")
    assert not pattern_matches(r"pedido\s*#?\d{4,}", "pedido 12")
    assert not pattern_matches(r"PEDIDO", "pedido", case_sensitive=True)
    assert pattern_matches(r"PEDIDO", "PEDIDO", case_sensitive=True)


def test_a_pattern_is_compiled_once_per_process() -> None:
    assert compile_pattern(r"\bpix\b") is compile_pattern(r"\bpix\b")
    assert compile_pattern(r"\bpix\b", True) is not compile_pattern(r"\bpix\b", False)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("", "empty"), ("(abc", "not a valid regular expression"), ("a" * (MAX_PATTERN + 1), f"at most {MAX_PATTERN}")],
)
def test_an_unusable_pattern_is_refused(pattern: str, message: str) -> None:
    with pytest.raises(InvalidPattern, match=message):
        compile_pattern(pattern)


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a|aa)+$", r"(\w+\s?)*$"])
def test_a_catastrophic_pattern_is_refused_when_saved(pattern: str) -> None:
    with pytest.raises(InvalidPattern, match="too slow"):
        probe_pattern(pattern)


@pytest.mark.parametrize("pattern", [r"\bpedido\s*#?\d{4,}", r"^(oi|olá|ola)\b", r"[\w.]+@[\w.]+"])
def test_an_ordinary_pattern_passes_the_probe(pattern: str) -> None:
    assert probe_pattern(pattern) is None  # refused would raise InvalidPattern


def test_a_search_that_runs_too_long_stops_and_says_so() -> None:
    # The probe is a heuristic; the timeout is the bound: a slow pattern that slipped through still stops.
    started = time.monotonic()
    with pytest.raises(PatternTimeout):
        pattern_matches(r"(a+)+$", "a" * 3000 + "!")
    assert time.monotonic() - started < 5  # without the timeout this search would not end in our lifetime


def test_a_pattern_reads_only_the_start_of_a_long_text() -> None:
    assert pattern_matches("needle", "x" * (MAX_SCANNED - 6) + "needle")
    assert not pattern_matches("needle", "x" * MAX_SCANNED + "needle")


# ------------------------------------------------------------------ first message and away triggers
def test_the_first_message_trigger_fires_only_on_the_first_message() -> None:
    assert trigger_matches(FirstMessageTrigger(), "oi", first_message=True, now=NOW)
    assert not trigger_matches(FirstMessageTrigger(), "oi", first_message=False, now=NOW)


def test_keyword_and_pattern_triggers_read_the_text() -> None:
    assert trigger_matches(KeywordTrigger(("pix",)), "aceita PIX?", first_message=False, now=NOW)
    assert not trigger_matches(PatternTrigger(r"\d{4}"), "", first_message=True, now=NOW)


SAO_PAULO_WEEK = weekly("America/Sao_Paulo", mon=[("09:00", "18:00")], tue=[("09:00", "12:00"), ("14:00", "18:00")],
                        sat=[("22:00", "24:00")], sun=[("00:00", "02:00")])


def sp(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    # December 2026: Sao Paulo is UTC-3 all year (no DST since 2019); 2026-12-07 is a Monday.
    return datetime(2026, 12, day, hour, minute, second, tzinfo=ZoneInfo("America/Sao_Paulo"))


@pytest.mark.parametrize(
    ("instant", "open_"),
    [
        (sp(7, 9, 0, 0), True),  # exactly at opening: open
        (sp(7, 8, 59, 59), False),
        (sp(7, 17, 59, 59), True),
        (sp(7, 18, 0, 0), False),  # exactly at closing: closed
        (sp(8, 12, 30), False),  # the lunch break between two ranges
        (sp(8, 14, 0), True),
        (sp(9, 10, 0), False),  # a day without ranges is closed all day
        (sp(12, 23, 59, 59), True),  # a night shift written as 22:00-24:00 Saturday ...
        (sp(13, 0, 0), True),  # ... and 00:00-02:00 Sunday
        (sp(13, 2, 0), False),
    ],
)
def test_business_hours_are_half_open_ranges_on_the_local_clock(instant: datetime, open_: bool) -> None:
    assert is_open(SAO_PAULO_WEEK, instant) is open_
    assert trigger_matches(AwayTrigger(SAO_PAULO_WEEK), "", first_message=False, now=instant) is not open_


def test_business_hours_read_the_instant_in_the_tenant_zone_not_utc() -> None:
    monday_9_local = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # 09:00 in Sao Paulo (UTC-3)
    assert is_open(SAO_PAULO_WEEK, monday_9_local)
    assert not is_open(SAO_PAULO_WEEK, monday_9_local - timedelta(seconds=1))


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(SAO_PAULO_WEEK, datetime(2026, 12, 7, 12, 0))


def test_lisbon_opening_follows_the_clock_on_the_day_summer_time_starts() -> None:
    # 2026-03-29 (Sunday) 01:00 UTC Lisbon jumps from 01:00 WET to 02:00 WEST: 09:00 local is 08:00 UTC.
    hours = weekly("Europe/Lisbon", sun=[("09:00", "18:00")])
    assert is_open(hours, datetime(2026, 3, 29, 8, 0, tzinfo=UTC))
    assert not is_open(hours, datetime(2026, 3, 29, 7, 59, 59, tzinfo=UTC))  # 08:59:59 WEST
    assert is_open(hours, datetime(2026, 3, 29, 16, 59, 59, tzinfo=UTC))
    assert not is_open(hours, datetime(2026, 3, 29, 17, 0, tzinfo=UTC))  # 18:00 WEST
    # A range inside the skipped hour is never lived that day.
    gap = weekly("Europe/Lisbon", sun=[("01:00", "02:00")])
    assert not any(is_open(gap, datetime(2026, 3, 29, 0, 0, tzinfo=UTC) + timedelta(minutes=m)) for m in range(180))


def test_lisbon_repeated_hour_is_open_both_times_on_the_day_summer_time_ends() -> None:
    # 2026-10-25 (Sunday) 01:00 UTC Lisbon falls back from 02:00 WEST to 01:00 WET: 01:00-02:00 is lived twice.
    hours = weekly("Europe/Lisbon", sun=[("01:00", "01:30")])
    assert is_open(hours, datetime(2026, 10, 25, 0, 10, tzinfo=UTC))  # 01:10 WEST
    assert is_open(hours, datetime(2026, 10, 25, 1, 10, tzinfo=UTC))  # 01:10 WET
    assert not is_open(hours, datetime(2026, 10, 25, 0, 40, tzinfo=UTC))  # 01:40 WEST


def test_sao_paulo_opening_followed_its_last_summer_time_start() -> None:
    # 2018-11-04 (Sunday) Sao Paulo jumped from 00:00 to 01:00 (UTC-3 → UTC-2): 09:00 local was 11:00 UTC.
    hours = weekly("America/Sao_Paulo", sun=[("09:00", "18:00")])
    assert is_open(hours, datetime(2018, 11, 4, 11, 0, tzinfo=UTC))
    assert not is_open(hours, datetime(2018, 11, 4, 10, 59, 59, tzinfo=UTC))


_ZONES = st.sampled_from(["America/Sao_Paulo", "Europe/Lisbon", "America/New_York", "Asia/Kolkata", "UTC"])


@PROPERTY
@given(
    zone=_ZONES,
    day=st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31)),
    start=st.integers(min_value=1, max_value=22 * 60), length=st.integers(min_value=1, max_value=120),
)
def test_property_open_from_the_opening_minute_closed_the_minute_before_and_at_closing(
    zone: str, day: date, start: int, length: int
) -> None:
    tz = ZoneInfo(zone)
    ranges = [TimeRange(start, start + length)]
    days = tuple(tuple(ranges) if index == day.weekday() else () for index in range(7))
    hours = WeeklyHours(zone, days)

    def local(minute: int) -> datetime:
        wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=tz)
        # A wall time in a DST gap does not exist; one in a repeated hour is two instants: skip both.
        back = wall.astimezone(UTC).astimezone(tz)
        assume(back.replace(tzinfo=None) == wall.replace(tzinfo=None))
        assume(wall.replace(fold=1).utcoffset() == wall.utcoffset())
        return wall

    assert is_open(hours, local(start))
    assert is_open(hours, local(start + length - 1))
    assert not is_open(hours, local(start - 1))
    assert not is_open(hours, local(start + length))
    # The same instant written in another zone is the same answer.
    assert is_open(hours, local(start).astimezone(UTC))
    assert is_open(hours, local(start).astimezone(ZoneInfo("Asia/Tokyo")))


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ([TimeRange(22 * 60, 2 * 60)], "never crosses midnight"),
        ([TimeRange(9 * 60, 9 * 60)], "must end after it starts"),
        ([TimeRange(9 * 60, 13 * 60), TimeRange(12 * 60, 18 * 60)], "overlap"),
        ([TimeRange(0, 1441)], "within the day"),
        ([TimeRange(60 * i, 60 * i + 30) for i in range(9)], "at most 8"),
    ],
)
def test_unusable_ranges_are_refused_with_the_reason(ranges: list[TimeRange], message: str) -> None:
    with pytest.raises(InvalidHours, match=message):
        checked_ranges(ranges)


def test_touching_ranges_are_allowed_and_sorted() -> None:
    assert checked_ranges([TimeRange(14 * 60, 18 * 60), TimeRange(9 * 60, 14 * 60)]) == (
        TimeRange(9 * 60, 14 * 60), TimeRange(14 * 60, 18 * 60),
    )


@pytest.mark.parametrize(("text", "closing"), [("9:00", False), ("24:00", False), ("24:01", True), ("12:60", False),
                                               ("noon", False), ("", True)])
def test_clock_times_must_be_hh_mm(text: str, closing: bool) -> None:
    with pytest.raises(InvalidHours, match="HH:MM"):
        parse_clock(text, closing=closing)


def test_24_00_closes_at_midnight() -> None:
    assert parse_clock("24:00", closing=True) == 1440
    assert parse_clock("00:00") == 0 and parse_clock("23:59") == 1439


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "America", "../etc/passwd", "/etc/localtime", "", "America/Sao_Paulo "]
)
def test_a_timezone_must_be_in_the_tz_database(name: str) -> None:
    with pytest.raises(InvalidHours, match="timezone"):
        load_timezone(name)


# ------------------------------------------------------------------ cooldown
def test_cooldown_allows_a_rule_that_never_fired_or_has_none() -> None:
    assert cooldown_allows(None, NOW, 3600)
    assert cooldown_allows(NOW, NOW, 0)


def test_cooldown_boundary_is_exactly_cooldown_seconds_after_the_last_firing() -> None:
    last = NOW - timedelta(seconds=600)
    assert cooldown_allows(last, NOW, 600)
    assert not cooldown_allows(last + timedelta(seconds=1), NOW, 600)


def test_a_last_firing_in_the_future_keeps_the_rule_quiet() -> None:
    # Another host's clock ahead of ours: better silent than answering twice.
    assert not cooldown_allows(NOW + timedelta(seconds=30), NOW, 60)
    assert cooldown_allows(NOW + timedelta(seconds=30), NOW + timedelta(seconds=90), 60)


def test_the_cooldown_key_is_per_instance_automation_and_chat() -> None:
    key = cooldown_key("inst1", "auto1", "5511988887777")
    assert key == cooldown_key("inst1", "auto1", "5511988887777@s.whatsapp.net")  # one chat, two spellings
    assert len({key, cooldown_key("inst2", "auto1", "5511988887777"), cooldown_key("inst1", "auto2", "5511988887777"),
                cooldown_key("inst1", "auto1", "5511988886666")}) == 4


# ------------------------------------------------------------------ escalation
def test_an_escalation_pauses_the_chat_until_its_ttl() -> None:
    pause = escalate("5511988887777@s.whatsapp.net", "agent1", NOW, 3600, "quer falar com um humano")
    assert is_paused(pause, NOW)
    assert is_paused(pause, NOW + timedelta(seconds=3599))
    assert not is_paused(pause, NOW + timedelta(seconds=3600))
    assert not is_paused(None, NOW)


def test_a_person_replying_releases_the_pause_and_an_automation_reply_does_not() -> None:
    pause = escalate("chat@s.whatsapp.net", "agent1", NOW, 3600)
    by_bot = after_human_reply(pause, NOW + timedelta(minutes=1), by_automation=True)
    assert is_paused(by_bot, NOW + timedelta(minutes=2))
    older = after_human_reply(pause, NOW - timedelta(minutes=1), by_automation=False)
    assert is_paused(older, NOW + timedelta(minutes=2))  # written before the escalation: no answer to it
    released = after_human_reply(pause, NOW + timedelta(minutes=5), by_automation=False)
    assert is_paused(released, NOW + timedelta(minutes=4))
    assert not is_paused(released, NOW + timedelta(minutes=5))
    assert after_human_reply(released, NOW + timedelta(minutes=9), by_automation=False) == released  # first wins


@pytest.mark.parametrize("ttl", [0, 59, 7 * 24 * 3600 + 1])
def test_an_escalation_ttl_out_of_range_is_refused(ttl: int) -> None:
    with pytest.raises(ValueError, match="TTL"):
        escalate("chat@s.whatsapp.net", "agent1", NOW, ttl)


# ------------------------------------------------------------------ the reply's idempotency key
def test_the_reply_key_is_stable_and_distinct_per_message_automation_and_part() -> None:
    key = reply_idempotency_key("msg-1", "auto-1")
    assert key == reply_idempotency_key("msg-1", "auto-1")  # a retried event derives the same key
    assert key.startswith(KEY_PREFIX) and len(key) <= MAX_ID
    others = {reply_idempotency_key("msg-2", "auto-1"), reply_idempotency_key("msg-1", "auto-2"),
              reply_idempotency_key("msg-1", "auto-1", part=1)}
    assert key not in others and len(others) == 3
    # No ambiguity from concatenation: ("ab", "c") and ("a", "bc") are different replies.
    assert reply_idempotency_key("ab", "c") != reply_idempotency_key("a", "bc")


def test_long_ids_still_give_a_key_the_send_path_accepts() -> None:
    assert len(reply_idempotency_key("m" * MAX_ID, "a" * MAX_ID)) <= MAX_ID


def test_the_reply_message_id_is_the_send_paths_id_for_that_key() -> None:
    assert reply_message_id("t1", "i1", "msg-1", "auto-1") == idempotent_message_id(
        "t1", "i1", reply_idempotency_key("msg-1", "auto-1")
    )


@pytest.mark.parametrize(("message_id", "automation_id", "part"), [("", "a", 0), ("m", "", 0), ("m", "a", -1)])
def test_the_reply_key_needs_both_ids(message_id: str, automation_id: str, part: int) -> None:
    with pytest.raises(ValueError):
        reply_idempotency_key(message_id, automation_id, part)
