"""What every model of an automation's configuration shares: the strict base, the refusal every validator
raises, and the fields both kinds carry (who they answer, their place in the order, whether they run)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator
from pydantic_core import PydanticCustomError

from zapgate_core.domain.automations import definitions as domain
from zapgate_core.domain.automations.routing import owner_number_set

NAME_MAX = 100
MAX_URL = 2_048
MAX_OWNER_NUMBERS = 50
MAX_POSITION = 10_000


def invalid(code: str, message: str) -> PydanticCustomError:
    # The public API turns the first refusal into a 422 `validation_error` and keeps 200 characters of it:
    # messages stay short, say what to change, and never repeat the value given.
    return PydanticCustomError(code, message)


class AutomationModel(BaseModel):
    # Strict: a misspelt field (coldown_s) is refused, not silently dropped from a configuration.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CommonFields(AutomationModel):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    enabled: StrictBool = True
    position: StrictInt = Field(
        default=0, ge=0, le=MAX_POSITION, description="Order within its kind: rules first, then agents"
    )
    include_groups: StrictBool = Field(default=False, description="Also answer in groups (as customers)")
    owner_numbers: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=MAX_OWNER_NUMBERS,
        description="The business's own phones: they get the owner agent; rules never answer them",
    )

    @field_validator("owner_numbers")
    @classmethod
    def _phones(cls, value: list[str]) -> list[str]:
        try:
            return sorted(owner_number_set(value))
        except ValueError as exc:
            raise invalid("owner_numbers", str(exc)) from None

    def _domain(self, automation_id: str, behaviour: domain.Rule | domain.Agent) -> domain.Automation:
        return domain.Automation(
            id=automation_id, name=self.name, behaviour=behaviour, enabled=self.enabled, position=self.position,
            include_groups=self.include_groups, owner_numbers=frozenset(self.owner_numbers),
        )
