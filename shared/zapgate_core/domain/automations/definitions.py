"""An automation's configuration as the domain sees it: plain, frozen dataclasses.

The public API validates a configuration with the contract's pydantic models
(zapgate_core.contract.automations), which convert to these; everything that decides whether and how an
automation answers (routing, rules, cooldown, selection) reads only these, so the runner and the tests
need no pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from zapgate_core.domain.automations.business_hours import WeeklyHours
from zapgate_core.domain.message_kinds import FileKind

Audience = Literal["owner", "customer"]
Provider = Literal["openai", "bedrock"]
PROVIDERS: tuple[Provider, ...] = ("openai", "bedrock")
ESCALATE_TO_HUMAN = "escalate_to_human"  # the built-in tool's name, reserved: no tenant tool may take it


# ------------------------------------------------------------------ rule triggers
@dataclass(frozen=True)
class KeywordTrigger:
    """Fires when any keyword (or phrase) occurs as whole words, ignoring case and accents."""

    keywords: tuple[str, ...]


@dataclass(frozen=True)
class PatternTrigger:
    """Fires when the regular expression finds a match (searched, not anchored) in the text."""

    pattern: str
    case_sensitive: bool = False


@dataclass(frozen=True)
class FirstMessageTrigger:
    """Fires on a contact's first message to the instance (the caller knows; the domain cannot)."""


@dataclass(frozen=True)
class AwayTrigger:
    """Fires when the message arrives outside the business hours."""

    hours: WeeklyHours


Trigger = KeywordTrigger | PatternTrigger | FirstMessageTrigger | AwayTrigger


# ------------------------------------------------------------------ replies
@dataclass(frozen=True)
class TextReply:
    text: str


@dataclass(frozen=True)
class MediaReply:
    """Media by URL, or by the id of an object uploaded through POST /v1/media-uploads (exactly one).

    An upload id, not the presigned link the upload answers: that link expires, a rule lives for months;
    the sender resolves the id to a fresh link when it replies.
    """

    media_type: FileKind  # not a sticker: a reply's media has a caption
    media_url: str | None = None
    upload_id: str | None = None
    caption: str | None = None
    mime_type: str | None = None
    file_name: str | None = None


Reply = TextReply | MediaReply


# ------------------------------------------------------------------ the two kinds
@dataclass(frozen=True)
class Rule:
    trigger: Trigger
    reply: Reply
    cooldown_s: int = 0


@dataclass(frozen=True)
class AgentTool:
    """A tenant's HTTPS endpoint the model may call: its arguments are described by a JSON Schema object."""

    name: str
    description: str
    url: str
    parameters: Mapping[str, object]


@dataclass(frozen=True)
class Agent:
    audience: Audience
    provider: Provider
    model: str
    system_prompt: str
    fallback_text: str
    temperature: float = 0.7
    memory_messages: int = 20  # seed 003: the conversation's last 20 messages
    tools: tuple[AgentTool, ...] = ()
    max_tool_rounds: int = 5
    timeout_s: int = 30  # one model call (agent_loop.AgentSettings.timeout_s)
    time_budget_s: int = 60  # the whole run: model calls, retry waits and tools (AgentSettings.time_budget_s)
    max_tokens: int = 1_024  # of one answer
    escalate_to_human: bool = True
    escalation_ttl_s: int = 24 * 3600
    base_url: str | None = None  # openai only: any OpenAI-compatible endpoint
    region: str | None = None  # bedrock only: None = the function's own region


@dataclass(frozen=True)
class Automation:
    """One configured automation of an instance, rule or agent, with what decides who it answers."""

    id: str
    name: str
    behaviour: Rule | Agent
    enabled: bool = True
    position: int = 0
    include_groups: bool = False
    # Phone numbers as digits (country code first, no '+'), as jids.pn_jid normalises them.
    owner_numbers: frozenset[str] = field(default_factory=frozenset)

    @property
    def kind(self) -> Literal["rule", "agent"]:
        return "rule" if isinstance(self.behaviour, Rule) else "agent"
