"""An automation's configuration as the public API accepts and returns it (issue 11, seed 003).

`kind` tells the two apart: a "rule" (a trigger and a canned reply, no AI) or an "agent" (a model with a
system prompt, memory and tools). Both share who they answer (owner_numbers, include_groups), their
place in the evaluation order (position) and whether they run (enabled). `parse_automation` validates a
body; `to_domain` turns a valid configuration into the plain dataclasses the domain decides with
(zapgate_core.domain.automations), and `reply_content` turns a rule's reply into the one outbound
content model every send uses.

One module per concern:
- common.py: the strict base model, the refusal every validator raises, the fields both kinds share;
- endpoints.py: which URLs zapgate may call on a tenant's behalf (https and public, unless allow_http);
- triggers.py, replies.py, rules.py: a rule's trigger, its reply, and the rule itself;
- tools.py, agents.py: an agent's tools, and the agent itself (provider, model, bounds);
- here: the union of both kinds, `parse_automation` and `to_domain`.

Endpoints (an agent's base_url, a tool's url) must be https and must not name a loopback, private or
link-local address, unless the validation runs for a local stack: pass allow_http=True to
`parse_automation` (it travels in pydantic's validation context under ALLOW_HTTP), or call
`check_endpoint_url` directly.

Error messages are short, say what to change, and never repeat the value given: the public API turns
the first one into a 422 `validation_error` (errors.py keeps 200 characters of them).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, TypeAdapter

from zapgate_core.contract.automations.agents import DEFAULT_FALLBACK, AgentAutomation
from zapgate_core.contract.automations.common import AutomationModel, CommonFields
from zapgate_core.contract.automations.endpoints import ALLOW_HTTP, check_endpoint_url
from zapgate_core.contract.automations.replies import (
    UPLOAD_ID,
    MediaReplyModel,
    ReplyModel,
    TextReplyModel,
    reply_content,
)
from zapgate_core.contract.automations.rules import DEFAULT_COOLDOWN_S, RuleAutomation
from zapgate_core.contract.automations.tools import MAX_TOOL_SCHEMA_BYTES, AgentToolModel, check_tool_schema
from zapgate_core.contract.automations.triggers import (
    AwayTriggerModel,
    FirstMessageTriggerModel,
    KeywordTriggerModel,
    PatternTriggerModel,
    TimeRangeModel,
    TriggerModel,
)
from zapgate_core.domain.automations import definitions as domain

__all__ = [
    "ALLOW_HTTP", "DEFAULT_COOLDOWN_S", "DEFAULT_FALLBACK", "MAX_TOOL_SCHEMA_BYTES", "UPLOAD_ID", "AgentAutomation",
    "AgentToolModel", "AutomationConfig", "AutomationModel", "AwayTriggerModel", "CommonFields",
    "FirstMessageTriggerModel", "KeywordTriggerModel", "MediaReplyModel", "PatternTriggerModel", "ReplyModel",
    "RuleAutomation", "TextReplyModel", "TimeRangeModel", "TriggerModel", "check_endpoint_url", "check_tool_schema",
    "parse_automation", "reply_content", "to_domain",
]

AutomationConfig = Annotated[RuleAutomation | AgentAutomation, Field(discriminator="kind")]


@lru_cache(maxsize=1)
def _adapter() -> TypeAdapter[RuleAutomation | AgentAutomation]:
    # Built on first use: a function that never reads a configuration does not build its schema.
    return TypeAdapter(AutomationConfig)


def parse_automation(data: object, *, allow_http: bool = False) -> RuleAutomation | AgentAutomation:
    """A configuration from a request body (a dict or JSON text); pydantic.ValidationError when invalid."""
    context = {ALLOW_HTTP: allow_http}
    if isinstance(data, str | bytes):
        return _adapter().validate_json(data, context=context)
    return _adapter().validate_python(data, context=context)


def to_domain(config: RuleAutomation | AgentAutomation, automation_id: str) -> domain.Automation:
    return config.to_domain(automation_id)
