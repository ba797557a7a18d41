"""Business hours: a timezone and, per weekday, the local time ranges when the business is open.

A range is half-open, [start, end): open from the opening minute, closed from the closing minute, so
09:00-18:00 is open at 09:00:00 and at 17:59:59 and closed at 18:00:00. "24:00" closes at midnight.

A range never crosses midnight: 22:00-02:00 is refused, and a night shift is written as 22:00-24:00 on one
day plus 00:00-02:00 on the next. Refusing keeps each day's ranges self-contained (no range of Sunday that
secretly opens Monday) and leaves one meaning to 'the ranges of a weekday'.

The instant is converted to the zone's local time with zoneinfo, so a DST change moves the UTC instants of
opening and closing with the local clock. On a day the clocks jump forward the skipped local times never
happen (a range inside the gap is never open that day); on a day they fall back, the repeated local
hour is open (or closed) both times it is lived.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
MINUTES_PER_DAY = 24 * 60
MAX_RANGES_PER_DAY = 8  # more than a split shift or two is a mistake, not a timetable

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ZONE_KEY = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+){0,2}$")


class InvalidHours(ValueError):
    """Business hours that cannot be used; str(self) says why in words the API can show."""


@dataclass(frozen=True)
class TimeRange:
    """[start, end) in minutes after local midnight; end may be 1440 (24:00)."""

    start: int
    end: int


@dataclass(frozen=True)
class WeeklyHours:
    timezone: str
    # Seven entries, Monday first; an empty tuple is a closed day.
    days: tuple[tuple[TimeRange, ...], ...]


def parse_clock(text: str, *, closing: bool = False) -> int:
    """'HH:MM' → minutes after midnight; '24:00' only as a closing time."""
    if closing and text == "24:00":
        return MINUTES_PER_DAY
    found = _HHMM.match(text)
    if found is None:
        allowed = "00:00 to 24:00" if closing else "00:00 to 23:59"
        raise InvalidHours(f"time must be HH:MM, {allowed}")
    return int(found.group(1)) * 60 + int(found.group(2))


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def checked_ranges(ranges: list[TimeRange]) -> tuple[TimeRange, ...]:
    """One day's ranges, sorted; refused when one is empty, crosses midnight, or two overlap."""
    if len(ranges) > MAX_RANGES_PER_DAY:
        raise InvalidHours(f"at most {MAX_RANGES_PER_DAY} ranges per day")
    for item in ranges:
        if not 0 <= item.start < MINUTES_PER_DAY or not 0 < item.end <= MINUTES_PER_DAY:
            raise InvalidHours("times must lie within the day, 00:00 to 24:00")
        if item.start >= item.end:
            raise InvalidHours(
                f"range {format_clock(item.start)}-{format_clock(item.end)} must end after it starts; a range"
                " never crosses midnight: split it at 24:00 / 00:00 over two days"
            )
    ordered = sorted(ranges, key=lambda item: item.start)
    for before, after in pairwise(ordered):
        if after.start < before.end:  # touching (12:00-14:00, 14:00-18:00) is fine
            raise InvalidHours(
                f"ranges {format_clock(before.start)}-{format_clock(before.end)} and"
                f" {format_clock(after.start)}-{format_clock(after.end)} overlap"
            )
    return tuple(ordered)


def load_timezone(name: str) -> ZoneInfo:
    """The IANA zone by its name (America/Sao_Paulo); InvalidHours when the tz database does not have it."""
    if not _ZONE_KEY.match(name):
        raise InvalidHours("timezone must be an IANA name such as America/Sao_Paulo")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidHours("timezone is not in the IANA tz database (e.g. America/Sao_Paulo)") from None


def is_open(hours: WeeklyHours, instant: datetime) -> bool:
    """Whether the business is open at `instant` (timezone-aware), on the local clock of its zone."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be timezone-aware")  # a naive time has no single local meaning
    local = instant.astimezone(load_timezone(hours.timezone))
    minute = local.hour * 60 + local.minute
    return any(item.start <= minute < item.end for item in hours.days[local.weekday()])
