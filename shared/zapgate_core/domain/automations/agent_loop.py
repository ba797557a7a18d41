"""The agent loop: ask the model, run the tools it asks for, feed their results back, until it answers.

Bounded twice: by tool rounds (a model that keeps calling tools never ends on its own) and by a time budget
that covers model calls, retry waits and tool calls (the Lambda that runs it has a timeout, and a customer
waits). The built-in `escalate_to_human` tool ends the run as "escalated" (issue 11: the runner pauses the
chat's automations and emits the event). Tools are run through a callback, so this module knows nothing of
HTTP, signing or tenants; the model through the ChatModel port.

Nothing here claims an answer the model did not give: every ending other than a non-empty text is an
outcome of kind "failed" with a reason, which the runner turns into the fallback reply and a failed
interaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from zapgate_core.domain.automations.conversation import (
    AssistantTurn,
    ChatModel,
    Conversation,
    ModelReply,
    ProviderError,
    ToolCall,
    ToolResultTurn,
    ToolSpec,
    Usage,
)
from zapgate_core.domain.automations.retry_policy import RetryPolicy, call_with_retries
from zapgate_core.domain.json_types import JsonObject

ESCALATE_TOOL_NAME = "escalate_to_human"
ESCALATE_TOOL = ToolSpec(
    name=ESCALATE_TOOL_NAME,
    description=(
        "Hand the conversation to a human attendant when you cannot help, the customer asks for a person, "
        "or the matter needs a human decision. Say briefly why."
    ),
    parameters={
        "type": "object",
        "properties": {"reason": {"type": "string", "description": "Why a human should take over."}},
    },
)


@dataclass(frozen=True)
class ToolOutcome:
    """What the tool endpoint answered: `result` (any JSON value) when ok, else a short `error` the model
    may read (never a secret or a stack trace)."""

    ok: bool
    result: Any = None
    error: str | None = None

    @staticmethod
    def success(result: Any) -> ToolOutcome:
        return ToolOutcome(ok=True, result=result)

    @staticmethod
    def failure(error: str) -> ToolOutcome:
        return ToolOutcome(ok=False, error=error)


ToolRunner = Callable[[str, JsonObject], ToolOutcome]

ToolStatus = Literal["ok", "error", "invalid_arguments", "unknown_tool", "escalated"]


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call as the interaction record shows it."""

    call_id: str
    name: str
    arguments: str
    status: ToolStatus
    duration_ms: float
    error: str | None = None


FailureReason = Literal[
    "provider_unavailable", "provider_refused", "provider_bad_answer", "provider_error",
    "max_tool_rounds", "time_budget", "empty_reply",
]  # fmt: skip


@dataclass(frozen=True)
class AgentSettings:
    model: str
    temperature: float = 0.7
    max_tokens: int = 1024
    timeout_s: float = 30.0  # one model call; shortened to what is left of the budget
    max_tool_rounds: int = 5
    time_budget_s: float = 60.0
    allow_escalation: bool = True


@dataclass(frozen=True)
class AgentOutcome:
    kind: Literal["replied", "escalated", "failed"]
    text: str | None = None  # the reply, when replied
    escalation_reason: str | None = None
    failure: FailureReason | None = None
    error: str | None = None  # detail of the failure (a ProviderError's message: codes, no secrets)
    usage: Usage = field(default_factory=Usage)
    provider_latency_ms: float = 0.0
    model_calls: int = 0  # attempts, retries included
    tool_rounds: int = 0
    tool_calls: tuple[ToolCallRecord, ...] = ()
    provider_errors: tuple[str, ...] = ()  # each failed attempt's message, oldest first
    conversation: Conversation = field(default_factory=Conversation)


class _Run:
    """The mutable tally of one run; AgentOutcome is its frozen result."""

    def __init__(self, settings: AgentSettings, conversation: Conversation, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.conversation = conversation
        self.clock = clock
        self.deadline = clock() + settings.time_budget_s
        self.usage = Usage()
        self.latency_ms = 0.0
        self.model_calls = 0
        self.rounds = 0
        self.tool_calls: list[ToolCallRecord] = []
        self.provider_errors: list[str] = []

    def remaining_s(self) -> float:
        return self.deadline - self.clock()

    def outcome(self, kind: Literal["replied", "escalated", "failed"], **fields: Any) -> AgentOutcome:
        return AgentOutcome(
            kind=kind, usage=self.usage, provider_latency_ms=self.latency_ms, model_calls=self.model_calls,
            tool_rounds=self.rounds, tool_calls=tuple(self.tool_calls), provider_errors=tuple(self.provider_errors),
            conversation=self.conversation, **fields,
        )  # fmt: skip

    def failed(self, reason: FailureReason, error: str | None = None) -> AgentOutcome:
        return self.outcome("failed", failure=reason, error=error)


def run_agent(
    model: ChatModel,
    conversation: Conversation,
    tools: tuple[ToolSpec, ...],
    call_tool: ToolRunner,
    settings: AgentSettings,
    *,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> AgentOutcome:
    """Run the agent to an outcome. `call_tool(name, arguments)` runs a tenant tool and answers a
    ToolOutcome for anything the endpoint said (errors included); an exception from it is the runner's own
    failure and propagates. `sleep` and `clock` are injectable so tests neither wait nor race."""
    run = _Run(settings, conversation, clock)
    offered = _offered_tools(tools, settings.allow_escalation)
    known = {tool.name for tool in offered}
    policy = retry or RetryPolicy()
    while True:
        if run.remaining_s() <= 0:
            return run.failed("time_budget", f"time budget of {settings.time_budget_s:g}s spent")
        try:
            reply = _ask(model, run, offered, policy, sleep)
        except ProviderError as error:
            return run.failed(_reason(error), str(error))
        if not reply.tool_calls:
            if reply.text and reply.text.strip():
                run.conversation = run.conversation.with_turns(AssistantTurn(text=reply.text))
                return run.outcome("replied", text=reply.text)
            return run.failed("empty_reply", f"the model stopped ({reply.raw_stop_reason}) without text")
        if run.rounds >= settings.max_tool_rounds:
            return run.failed("max_tool_rounds", f"the model still called tools after {run.rounds} rounds")
        escalation = _run_tools(reply, run, known, call_tool)
        if escalation is not None:
            return run.outcome("escalated", escalation_reason=escalation, text=reply.text)
        run.rounds += 1


def _offered_tools(tools: tuple[ToolSpec, ...], allow_escalation: bool) -> tuple[ToolSpec, ...]:
    # The built-in wins over a tenant tool of the same name: its meaning (pause the chat) is ours.
    own = tuple(tool for tool in tools if tool.name != ESCALATE_TOOL_NAME)
    return (*own, ESCALATE_TOOL) if allow_escalation else own


def _ask(model: ChatModel, run: _Run, tools: tuple[ToolSpec, ...], policy: RetryPolicy,
         sleep: Callable[[float], None]) -> ModelReply:  # fmt: skip
    def once() -> ModelReply:
        run.model_calls += 1
        return model.complete(
            run.conversation, tools, model=run.settings.model, temperature=run.settings.temperature,
            max_tokens=run.settings.max_tokens, timeout_s=max(0.001, min(run.settings.timeout_s, run.remaining_s())),
        )  # fmt: skip

    def failed(error: ProviderError, attempt: int) -> None:
        run.provider_errors.append(f"attempt {attempt}: {error}")

    reply = call_with_retries(once, policy, sleep=sleep, remaining_s=run.remaining_s, on_failure=failed)
    run.usage += reply.usage
    run.latency_ms += reply.latency_ms
    return reply


_PROVIDER_REASONS: dict[str, FailureReason] = {
    "provider_unavailable": "provider_unavailable",
    "provider_refused": "provider_refused",
    "provider_bad_answer": "provider_bad_answer",
}


def _reason(error: ProviderError) -> FailureReason:
    return _PROVIDER_REASONS.get(error.reason, "provider_error")


def _run_tools(reply: ModelReply, run: _Run, known: set[str], call_tool: ToolRunner) -> str | None:
    """Run the reply's tool calls in order and append them and their results to the conversation. Returns
    the escalation reason when the model called escalate_to_human (the other calls of that turn still run:
    the model asked for them, and a human takes over after)."""
    results: list[ToolResultTurn] = []
    escalation: str | None = None
    for call in reply.tool_calls:
        if call.name == ESCALATE_TOOL_NAME and ESCALATE_TOOL_NAME in known:
            escalation = _escalation_reason(call)
            run.tool_calls.append(ToolCallRecord(call.id, call.name, call.arguments, "escalated", 0.0))
            results.append(ToolResultTurn(call.id, call.name, json.dumps({"escalated": True})))
            continue
        results.append(_run_one(call, run, known, call_tool))
    run.conversation = run.conversation.with_turns(AssistantTurn(reply.text, reply.tool_calls), *results)
    return escalation


def _run_one(call: ToolCall, run: _Run, known: set[str], call_tool: ToolRunner) -> ToolResultTurn:
    def refuse(status: ToolStatus, error: str) -> ToolResultTurn:
        run.tool_calls.append(ToolCallRecord(call.id, call.name, call.arguments, status, 0.0, error))
        return ToolResultTurn(call.id, call.name, json.dumps({"error": error}), is_error=True)

    if call.name not in known:
        return refuse("unknown_tool", f"there is no tool named {call.name!r}")
    try:
        arguments = call.parsed_arguments()
    except ValueError:
        return refuse("invalid_arguments", "the arguments are not a JSON object")
    started = run.clock()
    outcome = call_tool(call.name, arguments)
    duration_ms = (run.clock() - started) * 1000
    if outcome.ok:
        run.tool_calls.append(ToolCallRecord(call.id, call.name, call.arguments, "ok", duration_ms))
        return ToolResultTurn(call.id, call.name, json.dumps(outcome.result))
    error = outcome.error or "the tool failed"
    run.tool_calls.append(ToolCallRecord(call.id, call.name, call.arguments, "error", duration_ms, error))
    return ToolResultTurn(call.id, call.name, json.dumps({"error": error}), is_error=True)


def _escalation_reason(call: ToolCall) -> str:
    try:
        reason = call.parsed_arguments().get("reason")
    except ValueError:
        reason = None
    return reason if isinstance(reason, str) and reason.strip() else "the model asked for a human"
