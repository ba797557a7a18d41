"""ChatModel over Amazon Bedrock's Converse API (boto3 `bedrock-runtime`), the AWS-native choice: the
function's IAM role signs the calls, so there is no key to keep.

Converse's shapes (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html):
tools go in `toolConfig.tools[].toolSpec` with the schema under `inputSchema.json`; the model asks with
`toolUse` blocks in its message and gets `toolResult` blocks back in a *user* message; messages must start
with a user message and alternate roles, so consecutive turns of one role are merged into one message.

boto3 is imported on first use and the client kept per timeout (botocore fixes timeouts per client, and
building one costs tens of milliseconds). botocore's own retries are off (`total_max_attempts=1`):
retry_policy decides. `endpoint_url` points it at a local server in tests and `make run`.
"""

from __future__ import annotations

import json
import math
from typing import Any

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
    Turn,
    Usage,
    UserTurn,
)
from zapgate_core.domain.json_types import JsonObject

PROVIDER = "bedrock"
_STOP_REASONS = {
    "end_turn": StopReason.END_TURN,
    "stop_sequence": StopReason.END_TURN,
    "tool_use": StopReason.TOOL_USE,
    "max_tokens": StopReason.MAX_TOKENS,
    "model_context_window_exceeded": StopReason.MAX_TOKENS,
    "guardrail_intervened": StopReason.CONTENT_FILTER,
    "content_filtered": StopReason.CONTENT_FILTER,
}
# Converse's documented errors that a later call may not meet (throttling, capacity, a model warming up).
_RETRYABLE_CODES = frozenset({
    "ThrottlingException", "ServiceUnavailableException", "InternalServerException", "ModelNotReadyException",
    "ModelTimeoutException",
})  # fmt: skip
# ModelErrorException (424): the model failed on this input; retrying the same input is not expected to help.
_BAD_ANSWER_CODES = frozenset({"ModelErrorException"})
_CONNECT_TIMEOUT_S = 5.0


class BedrockConverseModel:
    def __init__(self, *, region: str | None = None, endpoint_url: str | None = None) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self._clients: dict[float, Any] = {}

    def __repr__(self) -> str:
        return f"BedrockConverseModel(region={self.region!r}, endpoint_url={self.endpoint_url!r})"

    def _client(self, timeout_s: float) -> Any:
        # Rounded up to whole seconds so a shrinking time budget does not build a client per call.
        key = float(max(1, math.ceil(timeout_s)))
        if key not in self._clients:
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=min(_CONNECT_TIMEOUT_S, key), read_timeout=key, retries={"total_max_attempts": 1}
            )
            session = boto3.session.Session(region_name=self.region)
            self._clients[key] = session.client("bedrock-runtime", endpoint_url=self.endpoint_url, config=config)
        return self._clients[key]

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
            "modelId": model,
            "messages": to_messages(conversation.turns),
            "inferenceConfig": {"maxTokens": max_tokens, "temperature": temperature},
        }
        if conversation.system:
            request["system"] = [{"text": conversation.system}]
        if tools:
            request["toolConfig"] = {"tools": [to_tool(tool) for tool in tools]}
        client = self._client(timeout_s)
        from botocore.exceptions import BotoCoreError, ClientError

        failed: ProviderError | None = None
        try:
            answer = client.converse(**request)
        except ClientError as error:
            failed = _client_error(error)
        except BotoCoreError as error:
            failed = _botocore_error(error)
        except (AttributeError, TypeError, ValueError, KeyError) as error:
            # botocore's parser meeting a body of the wrong shape (`"output": 1`) fails with these; our
            # request was validated before it was sent (ParamValidationError, a BotoCoreError).
            failed = ProviderBadAnswer(f"unreadable answer ({type(error).__name__})", provider=PROVIDER)
        if failed is not None:
            raise failed  # outside the handler: botocore's exception (the provider's own text) is not chained
        return from_response(answer)


def _client_error(error: Any) -> ProviderError:
    code = str(error.response.get("Error", {}).get("Code") or "") or None
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = f"HTTP {status} {code}" if code else f"HTTP {status}"
    if code in _BAD_ANSWER_CODES:
        return ProviderBadAnswer(message, provider=PROVIDER, status=status, code=code)
    if code in _RETRYABLE_CODES or (isinstance(status, int) and (status >= 500 or status in (408, 429))):
        return ProviderUnavailable(message, provider=PROVIDER, status=status, code=code)
    return ProviderRefused(message, provider=PROVIDER, status=status, code=code)


def _botocore_error(error: Exception) -> ProviderError:
    from botocore import exceptions

    name = type(error).__name__
    if isinstance(error, exceptions.ReadTimeoutError | exceptions.ConnectTimeoutError):
        return ProviderUnavailable("timed out", provider=PROVIDER, code="timeout")
    if isinstance(error, exceptions.HTTPClientError | exceptions.EndpointConnectionError):
        return ProviderUnavailable("could not connect", provider=PROVIDER, code=name)
    if isinstance(error, exceptions.ResponseParserError):
        return ProviderBadAnswer("the answer is not a Converse response", provider=PROVIDER, code=name)
    # No credentials, a parameter botocore refuses before sending: nothing a retry would change.
    return ProviderRefused(f"refused before sending ({name})", provider=PROVIDER, code=name)


def to_messages(turns: tuple[Turn, ...]) -> list[JsonObject]:
    messages: list[JsonObject] = []
    for turn in turns:
        role, blocks = _blocks(turn)
        if not blocks:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        elif messages or role == "user":  # a leading assistant turn (old memory) has nothing to answer
            messages.append({"role": role, "content": blocks})
    return messages


def _blocks(turn: Turn) -> tuple[str, list[JsonObject]]:
    if isinstance(turn, UserTurn):
        return "user", [{"text": turn.text}] if turn.text else []
    if isinstance(turn, AssistantTurn):
        blocks: list[JsonObject] = [{"text": turn.text}] if turn.text else []
        blocks += [
            {"toolUse": {"toolUseId": call.id, "name": call.name, "input": _input(call)}} for call in turn.tool_calls
        ]
        return "assistant", blocks
    if isinstance(turn, ToolResultTurn):
        return "user", [{"toolResult": {
            "toolUseId": turn.call_id,
            "content": [_result_content(turn.content)],
            "status": "error" if turn.is_error else "success",
        }}]  # fmt: skip
    raise TypeError(f"not a turn: {turn!r}")


def _input(call: ToolCall) -> JsonObject:
    # Converse wants the arguments as an object; a call this provider made always has one.
    try:
        return call.parsed_arguments()
    except ValueError:
        return {}


def _result_content(content: str) -> JsonObject:
    try:
        value = json.loads(content)
    except ValueError:
        return {"text": content}
    # A `json` block must hold an object for most models; any other JSON value goes as its text.
    return {"json": value} if isinstance(value, dict) else {"text": content}


def to_tool(tool: ToolSpec) -> JsonObject:
    return {"toolSpec": {"name": tool.name, "description": tool.description, "inputSchema": {"json": tool.parameters}}}


def from_response(answer: Any) -> ModelReply:
    try:
        blocks = answer["output"]["message"]["content"]
        texts = [block["text"] for block in blocks if "text" in block]
        calls = tuple(
            ToolCall(id=use["toolUseId"], name=use["name"], arguments=json.dumps(use.get("input", {})))
            for use in (block["toolUse"] for block in blocks if "toolUse" in block)
        )
        usage = answer.get("usage") or {}
        raw = answer.get("stopReason")
        return ModelReply(
            text="".join(texts) if texts else None,
            tool_calls=calls,
            stop_reason=_STOP_REASONS.get(raw, StopReason.OTHER),
            raw_stop_reason=raw,
            usage=Usage(int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0))),
            latency_ms=float((answer.get("metrics") or {}).get("latencyMs", 0)),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ProviderBadAnswer(f"not a Converse response ({type(error).__name__})", provider=PROVIDER) from None
