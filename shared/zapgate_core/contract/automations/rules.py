"""A rule: a trigger and a canned reply, no AI, quiet in a chat for a while after answering it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, model_validator

from zapgate_core.contract.automations.common import CommonFields
from zapgate_core.contract.automations.replies import ReplyModel
from zapgate_core.contract.automations.triggers import TriggerModel
from zapgate_core.domain.automations import definitions as domain
from zapgate_core.domain.automations.cooldown import MAX_COOLDOWN_S

# An away notice repeated on every message of a night is spam; the other triggers answer what was asked.
DEFAULT_COOLDOWN_S: dict[str, int] = {"keyword": 0, "pattern": 0, "first_message": 0, "away": 3_600}


class RuleAutomation(CommonFields):
    kind: Literal["rule"]
    trigger: TriggerModel
    reply: ReplyModel
    cooldown_s: StrictInt | None = Field(
        default=None, ge=0, le=MAX_COOLDOWN_S,
        description="Seconds the rule stays quiet in a chat after answering it; default 3600 for away, else 0",
    )

    @model_validator(mode="after")
    def _default_cooldown(self) -> RuleAutomation:
        if self.cooldown_s is None:
            self.cooldown_s = DEFAULT_COOLDOWN_S[self.trigger.type]
        return self

    def to_domain(self, automation_id: str) -> domain.Automation:
        rule = domain.Rule(self.trigger.to_domain(), self.reply.to_domain(), self.cooldown_s or 0)
        return self._domain(automation_id, rule)
