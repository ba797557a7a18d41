"""ChatModel over any OpenAI-compatible Chat Completions endpoint, through the official `openai` client.

One adapter for OpenAI, Azure OpenAI (its v1 endpoint, `https://<resource>.openai.azure.com/openai/v1/`),
OpenRouter, Ollama and vLLM: only `base_url` differs. The client is built on first use and kept (one
connection pool per container); `openai` is imported there too, since importing it costs far more than a
cold start should pay for a run that may never reach an AI agent.

The client never retries (`max_retries=0`): retry_policy decides, with seed 003's backoff, and a second
layer of retries would multiply the waits. The API key is held only by the client: it is not in repr, and
error messages are built from status and error codes, never from the provider's text, which for a bad key
echoes part of it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from zapgate_core.domain.automations.conversation import (
    AssistantTurn,
    Conversation,
    ModelReply,
    ProviderBadAnswer,
    ProviderError,
    ProviderRefused,
    ProviderUnavailable,
    StopReason,
    ToolCall,
    ToolResultTurn,
    ToolSpec,
    Usage,
    UserTurn,
)
from zapgate_core.domain.json_types import JsonObject

if TYPE_CHECKING:
    import openai

# Chat Completions finish_reason -> ours; anything else (e.g. a server's own value) is OTHER.
_STOP_REASONS = {
    "stop": StopReason.END_TURN,
    "tool_calls": StopReason.TOOL_USE,
    "function_call": StopReason.TOOL_USE,
    "length": StopReason.MAX_TOKENS,
    "content_filter": StopReason.CONTENT_FILTER,
}
# As the openai client's own retry rule: these statuses may answer differently a moment later.
_RETRYABLE_STATUS = frozenset({408, 409, 429})

TokenLimitParam = Literal["max_tokens", "max_completion_tokens"]


class OpenAIChatModel:
    """`token_limit_param`: OpenAI's reasoning models take only `max_completion_tokens`, while Ollama, vLLM
    and older Azure deployments know `max_tokens`; the default is the one every compatible server reads."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        provider: str = "openai",
        default_headers: dict[str, str] | None = None,
        token_limit_param: TokenLimitParam = "max_tokens",
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._default_headers = default_headers
        self.provider = provider
        self.token_limit_param = token_limit_param
        self._client: openai.OpenAI | None = None

    def __repr__(self) -> str:
        return f"OpenAIChatModel(provider={self.provider!r}, base_url={self._base_url!r})"

    def _openai(self) -> openai.OpenAI:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                api_key=self._api_key, base_url=self._base_url, max_retries=0, default_headers=self._default_headers
            )
        return self._client

    def complete(
        self,
        conversation: Conversation,
        tools: tuple[ToolSpec, ...],
        *,
        model: str,
        temperature: float,
        max_tokens: int,
        timeout_s: float,
    ) -> ModelReply:
        request: dict[str, Any] = {
            "model": model,
            "messages": to_messages(conversation),
            "temperature": temperature,
            self.token_limit_param: max_tokens,
        }
        if tools:
            request["tools"] = [to_tool(tool) for tool in tools]
        client = self._openai()
        import openai  # already loaded by _openai(): a dictionary lookup

        started = time.perf_counter()
        failed: ProviderError | None = None
        try:
            completion = client.chat.completions.create(**request, timeout=timeout_s)
        except openai.OpenAIError as error:
            failed = self._domain_error(error)
        except ValueError:  # the client parses a 2xx body with json.loads and lets its error through
            failed = ProviderBadAnswer("the answer is not JSON", provider=self.provider)
        if failed is not None:
            # Raised outside the handler so the client's exception is not chained as __context__: its message
            # quotes the provider's text, and OpenAI's 401 text quotes the key.
            raise failed
        return from_completion(completion, (time.perf_counter() - started) * 1000, self.provider)

    def _domain_error(self, error: Exception) -> ProviderError:
        import openai

        if isinstance(error, openai.APITimeoutError):  # before APIConnectionError, its base class
            return ProviderUnavailable("timed out", provider=self.provider, code="timeout")
        if isinstance(error, openai.APIConnectionError):
            return ProviderUnavailable("could not connect", provider=self.provider, code="connection")
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            code = _error_code(error.body)
            message = f"HTTP {status}" + (f" {code}" if code else "")
            if status >= 500 or status in _RETRYABLE_STATUS:
                return ProviderUnavailable(message, provider=self.provider, status=status, code=code)
            return ProviderRefused(message, provider=self.provider, status=status, code=code)
        # APIResponseValidationError, or anything else the client met reading the answer.
        return ProviderBadAnswer(f"unreadable answer ({type(error).__name__})", provider=self.provider)


def _error_code(body: object) -> str | None:
    # OpenAI and most compatible servers answer {"error": {"code": ..., "type": ...}}; the client hands us
    # the "error" object or the whole body. Codes only: the message may quote the key.
    error = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    code = error.get("code") or error.get("type")
    return str(code)[:80] if code else None


def to_messages(conversation: Conversation) -> list[JsonObject]:
    messages: list[JsonObject] = [{"role": "system", "content": conversation.system}] if conversation.system else []
    for turn in conversation.turns:
        if isinstance(turn, UserTurn):
            messages.append({"role": "user", "content": turn.text})
        elif isinstance(turn, AssistantTurn):
            message: JsonObject = {"role": "assistant", "content": turn.text}
            if turn.tool_calls:
                message["tool_calls"] = [
                    {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                    for call in turn.tool_calls
                ]
            messages.append(message)
        elif isinstance(turn, ToolResultTurn):
            messages.append({"role": "tool", "tool_call_id": turn.call_id, "content": turn.content})
    return messages


def to_tool(tool: ToolSpec) -> JsonObject:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def from_completion(completion: Any, latency_ms: float, provider: str) -> ModelReply:
    # The client validates leniently: a body that is JSON but not a completion comes back as an object with
    # fields missing, or as the bare JSON; both are a bad answer, not our crash.
    try:
        return _reply(completion, latency_ms)
    except (AttributeError, TypeError, IndexError, KeyError) as error:
        raise ProviderBadAnswer(f"not a chat completion ({type(error).__name__})", provider=provider) from None


def _reply(completion: Any, latency_ms: float) -> ModelReply:
    choice = completion.choices[0]
    message = choice.message
    calls = tuple(
        ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "{}")
        for call in message.tool_calls or ()
        if getattr(call, "type", "function") == "function"  # custom (free-text) tools are never offered
    )
    usage = completion.usage
    raw = choice.finish_reason
    return ModelReply(
        text=message.content,
        tool_calls=calls,
        stop_reason=_STOP_REASONS.get(raw, StopReason.OTHER),
        raw_stop_reason=raw,
        usage=Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0) if usage else Usage(),
        latency_ms=latency_ms,
    )

