"""An agent: a model (an OpenAI-compatible API or Bedrock) with a system prompt, the chat's recent messages
and the tenant's tools, bounded in rounds, tokens and time, with a fallback text when it fails."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, StrictBool, StrictInt, ValidationInfo, field_validator, model_validator

from zapgate_core.contract.automations.common import MAX_URL, CommonFields, invalid
from zapgate_core.contract.automations.endpoints import endpoint_in_context
from zapgate_core.contract.automations.tools import MAX_TOOLS, AgentToolModel
from zapgate_core.domain.automations import definitions as domain
from zapgate_core.domain.automations.escalation import (
    DEFAULT_ESCALATION_TTL_S,
    MAX_ESCALATION_TTL_S,
    MIN_ESCALATION_TTL_S,
)

MAX_SYSTEM_PROMPT = 20_000
MAX_FALLBACK = 4_096
MAX_MEMORY_MESSAGES = 50
DEFAULT_MEMORY_MESSAGES = 20  # seed 003: "últimas 20 mensagens"
MAX_TOOL_ROUNDS = 10
MAX_TIMEOUT_S = 120
MAX_TIME_BUDGET_S = 300  # the runner's Lambda must outlive it; seed 003 took 2-4 s per message
MAX_TOKENS = 32_768
# Seed 003's fallback, word for word: what its customers have always read when the AI failed.
DEFAULT_FALLBACK = "Desculpe, ocorreu um erro. Por favor, tente novamente."
MODEL_ID = r"^[A-Za-z0-9._:/@+-]{1,256}$"  # gpt-4o-mini, llama3.1:8b, vendor/model, Bedrock ids and ARNs
AWS_REGION = r"^[a-z]{2}(-[a-z]+)+-\d$"


class AgentAutomation(CommonFields):
    kind: Literal["agent"]
    audience: domain.Audience = Field(description="owner: the owner numbers' direct chats; customer: everyone else")
    provider: domain.Provider = Field(description="openai (any OpenAI-compatible API) or bedrock (Converse)")
    model: str = Field(pattern=MODEL_ID, examples=["gpt-4o-mini", "anthropic.claude-3-5-haiku-20241022-v1:0"])
    base_url: str | None = Field(
        default=None, max_length=MAX_URL,
        description="openai only: an OpenAI-compatible endpoint (Azure OpenAI, OpenRouter, Ollama, vLLM)",
    )
    region: str | None = Field(default=None, pattern=AWS_REGION, description="bedrock only; default: the stack's")
    api_key: SecretStr | None = Field(
        default=None, max_length=500, exclude=True,
        description="openai only; write-only (kept in Secrets Manager, never returned)",
    )
    temperature: float = Field(default=0.7, ge=0, le=2, allow_inf_nan=False)
    system_prompt: str = Field(default="", max_length=MAX_SYSTEM_PROMPT, description="Instructions, personality")
    memory_messages: StrictInt = Field(
        default=DEFAULT_MEMORY_MESSAGES, ge=0, le=MAX_MEMORY_MESSAGES,
        description="How many of the chat's last messages the model reads (seed 003: 20)",
    )
    tools: list[AgentToolModel] = Field(default_factory=list, max_length=MAX_TOOLS)
    max_tool_rounds: StrictInt = Field(default=5, ge=0, le=MAX_TOOL_ROUNDS)
    max_tokens: StrictInt = Field(default=1_024, ge=1, le=MAX_TOKENS, description="Bound on one answer's length")
    timeout_s: StrictInt = Field(default=30, ge=1, le=MAX_TIMEOUT_S, description="Bound on one model call, seconds")
    time_budget_s: StrictInt = Field(
        default=60, ge=1, le=MAX_TIME_BUDGET_S, description="Bound on the whole run: model calls, retries and tools"
    )
    fallback_text: str = Field(default=DEFAULT_FALLBACK, min_length=1, max_length=MAX_FALLBACK)
    escalate_to_human: StrictBool = Field(
        default=True, description="Offer the built-in escalate_to_human tool: it pauses the chat's automations"
    )
    escalation_ttl_s: StrictInt = Field(
        default=DEFAULT_ESCALATION_TTL_S, ge=MIN_ESCALATION_TTL_S, le=MAX_ESCALATION_TTL_S,
        description="How long an escalation pauses the chat unless a person replies first",
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        return endpoint_in_context(value, info)

    @field_validator("tools")
    @classmethod
    def _distinct_tools(cls, value: list[AgentToolModel]) -> list[AgentToolModel]:
        names = [tool.name for tool in value]
        if len(set(names)) != len(names):
            raise invalid("tool_name", "tool names must be distinct")
        return value

    @model_validator(mode="after")
    def _provider_fields(self) -> AgentAutomation:
        if self.provider == "bedrock" and (self.base_url is not None or self.api_key is not None):
            raise invalid("provider", "bedrock takes no base_url or api_key: it runs with the stack's IAM role")
        if self.provider == "openai" and self.region is not None:
            raise invalid("provider", "region is for bedrock; openai takes a base_url")
        if self.audience == "owner" and not self.owner_numbers:
            raise invalid("audience", "an owner agent needs owner_numbers: nobody else reaches it")
        if self.audience == "owner" and self.include_groups:
            raise invalid("audience", "an owner agent answers only direct chats: its replies carry business data")
        return self

    def to_domain(self, automation_id: str) -> domain.Automation:
        agent = domain.Agent(
            audience=self.audience, provider=self.provider, model=self.model, system_prompt=self.system_prompt,
            fallback_text=self.fallback_text, temperature=self.temperature, memory_messages=self.memory_messages,
            tools=tuple(tool.to_domain() for tool in self.tools), max_tool_rounds=self.max_tool_rounds,
            timeout_s=self.timeout_s, time_budget_s=self.time_budget_s, max_tokens=self.max_tokens,
            escalate_to_human=self.escalate_to_human,
            escalation_ttl_s=self.escalation_ttl_s, base_url=self.base_url, region=self.region,
        )
        return self._domain(automation_id, agent)
