"""What an AI agent exchanges with a chat model (issue 11, seed 003's client AI), whatever the provider.

Plain Python: the provider adapters (functions/zapgate_automations/providers/) translate these to the
OpenAI Chat Completions or Bedrock Converse wire formats and back, so the agent loop, the retry policy and
the interaction records never see a provider's types. `ChatModel` is the port they implement.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field, replace
from typing import ClassVar, Protocol

from zapgate_core.domain.json_types import JsonObject


@dataclass(frozen=True)
class ToolCall:
    """A model's request to run one tool. `arguments` is the JSON text as the model wrote it: OpenAI sends a
    string that may not even parse, and the loop must be able to tell the model so instead of crashing."""

    id: str
    name: str
    arguments: str

    def parsed_arguments(self) -> JsonObject:
        """The arguments as a JSON object; ValueError when they are not one (the loop feeds that back)."""
        value = json.loads(self.arguments)
        if not isinstance(value, dict):
            raise ValueError("tool arguments must be a JSON object")
        return value


@dataclass(frozen=True)
class UserTurn:
    text: str


@dataclass(frozen=True)
class AssistantTurn:
    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class ToolResultTurn:
    """The answer to one ToolCall, as JSON text (a result, or an error object when `is_error`)."""

    call_id: str
    name: str
    content: str
    is_error: bool = False


Turn = UserTurn | AssistantTurn | ToolResultTurn


@dataclass(frozen=True)
class Conversation:
    """The system prompt and the turns so far, oldest first (memory from history, then this run's turns)."""

    system: str = ""
    turns: tuple[Turn, ...] = ()

    def with_turns(self, *turns: Turn) -> Conversation:
        return replace(self, turns=(*self.turns, *turns))


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: `parameters` is the JSON Schema of its arguments (an object schema)."""

    name: str
    description: str
    parameters: JsonObject = field(default_factory=lambda: {"type": "object", "properties": {}})


class StopReason(enum.StrEnum):
    """Why the model stopped, normalised across providers (the raw value is kept beside it)."""

    END_TURN = "end_turn"
    TOOL_USE = "tool_use"
    MAX_TOKENS = "max_tokens"
    CONTENT_FILTER = "content_filter"
    OTHER = "other"


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)


@dataclass(frozen=True)
class ModelReply:
    """One answer of the model: text, tool calls or both. `latency_ms` is the provider's time for this call
    (Bedrock reports it; for OpenAI-compatible servers the adapter measures the request)."""

    text: str | None
    tool_calls: tuple[ToolCall, ...]
    stop_reason: StopReason
    raw_stop_reason: str | None
    usage: Usage
    latency_ms: float


class ProviderError(Exception):
    """A call to the model that gave no usable answer. Messages carry status codes and the provider's error
    codes, never a credential: they end up in interaction records and logs."""

    retryable: ClassVar[bool] = False
    reason: ClassVar[str] = "provider_error"

    def __init__(self, message: str, *, provider: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.code = code


class ProviderUnavailable(ProviderError):
    """Network failure, timeout, 5xx, throttling (429): the same request may succeed later."""

    retryable = True
    reason = "provider_unavailable"


class ProviderRefused(ProviderError):
    """A 4xx that will not change on retry: bad key, no access, unknown model, invalid request."""

    reason = "provider_refused"


class ProviderBadAnswer(ProviderError):
    """The provider answered 2xx with something that is not its documented format (no choices, no message,
    not JSON): a misconfigured base URL or proxy, not a passing failure."""

    reason = "provider_bad_answer"


class ChatModel(Protocol):
    """The port: one call to a chat model with tools. Raises a ProviderError subclass when it gets no answer;
    never retries by itself (retry_policy decides)."""

    def complete(
        self,
        conversation: Conversation,
        tools: tuple[ToolSpec, ...],
        *,
        model: str,
        temperature: float,
        max_tokens: int,
        timeout_s: float,
    ) -> ModelReply: ...
