"""What makes a rule answer: keywords, a regular expression, a contact's first message, or a message that
arrives outside the business hours (`type` tells them apart)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, field_validator, model_validator

from zapgate_core.contract.automations.common import AutomationModel, invalid
from zapgate_core.domain.automations import business_hours as hours_rules
from zapgate_core.domain.automations import definitions as domain
from zapgate_core.domain.automations.rules import MAX_PATTERN, InvalidPattern, keyword_words, probe_pattern

MAX_KEYWORDS = 50
MAX_KEYWORD = 100

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


# ------------------------------------------------------------------ business hours
class TimeRangeModel(AutomationModel):
    start: str = Field(description="Opening time, HH:MM (local)", examples=["09:00"])
    end: str = Field(description="Closing time, HH:MM, after start; 24:00 = midnight", examples=["18:00"])

    def to_domain(self) -> hours_rules.TimeRange:
        return hours_rules.TimeRange(
            hours_rules.parse_clock(self.start), hours_rules.parse_clock(self.end, closing=True)
        )

    @model_validator(mode="after")
    def _clock(self) -> TimeRangeModel:
        try:
            hours_rules.checked_ranges([self.to_domain()])
        except hours_rules.InvalidHours as exc:
            raise invalid("business_hours", str(exc)) from None
        return self


class AwayTriggerModel(AutomationModel):
    """Answers messages that arrive outside the business hours."""

    type: Literal["away"]
    timezone: str = Field(max_length=64, description="IANA time zone", examples=["America/Sao_Paulo"])
    hours: dict[Weekday, list[TimeRangeModel]] = Field(
        description="Open ranges per weekday (mon..sun); a day left out or empty is closed all day. A range "
        "never crosses midnight: split 22:00-02:00 into 22:00-24:00 and 00:00-02:00 of the next day.",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            hours_rules.load_timezone(value)
        except hours_rules.InvalidHours as exc:
            raise invalid("timezone", str(exc)) from None
        return value

    @field_validator("hours")
    @classmethod
    def _days(cls, value: dict[str, list[TimeRangeModel]]) -> dict[str, list[TimeRangeModel]]:
        for day, ranges in value.items():
            try:
                hours_rules.checked_ranges([item.to_domain() for item in ranges])
            except hours_rules.InvalidHours as exc:
                raise invalid("business_hours", f"{day}: {exc}") from None
        return value

    def to_domain(self) -> domain.AwayTrigger:
        by_day: dict[str, list[TimeRangeModel]] = {str(day): ranges for day, ranges in self.hours.items()}
        days = tuple(
            hours_rules.checked_ranges([item.to_domain() for item in by_day.get(day, [])])
            for day in hours_rules.WEEKDAYS
        )
        return domain.AwayTrigger(hours_rules.WeeklyHours(self.timezone, days))


# ------------------------------------------------------------------ other triggers
class KeywordTriggerModel(AutomationModel):
    """Answers when any keyword (a word or a phrase) occurs as whole words, ignoring case and accents."""

    type: Literal["keyword"]
    keywords: list[Annotated[str, Field(min_length=1, max_length=MAX_KEYWORD)]] = Field(
        min_length=1, max_length=MAX_KEYWORDS, examples=[["preço", "valor", "quanto custa"]]
    )

    @field_validator("keywords")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        for keyword in value:
            try:
                keyword_words(keyword)
            except InvalidPattern as exc:
                raise invalid("keyword", str(exc)) from None
        return value

    def to_domain(self) -> domain.KeywordTrigger:
        return domain.KeywordTrigger(tuple(self.keywords))


class PatternTriggerModel(AutomationModel):
    """Answers when the regular expression (Python syntax) finds a match anywhere in the text."""

    type: Literal["pattern"]
    pattern: str = Field(min_length=1, max_length=MAX_PATTERN, examples=[r"\bpedido\s*#?\d{4,}"])
    case_sensitive: StrictBool = False

    @model_validator(mode="after")
    def _usable(self) -> PatternTriggerModel:
        try:
            probe_pattern(self.pattern, case_sensitive=self.case_sensitive)
        except InvalidPattern as exc:
            raise invalid("pattern", str(exc)) from None
        return self

    def to_domain(self) -> domain.PatternTrigger:
        return domain.PatternTrigger(self.pattern, self.case_sensitive)


class FirstMessageTriggerModel(AutomationModel):
    """Answers a contact's first message to the instance (a welcome)."""

    type: Literal["first_message"]

    def to_domain(self) -> domain.FirstMessageTrigger:
        return domain.FirstMessageTrigger()


TriggerModel = Annotated[
    KeywordTriggerModel | PatternTriggerModel | FirstMessageTriggerModel | AwayTriggerModel,
    Field(discriminator="type"),
]
