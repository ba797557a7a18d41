"""The agent loop and the retry policy, with a scripted ChatModel and a fake clock: bounds (tool rounds, time
budget), escalate_to_human, tool errors fed back, seed 003's backoff. The real clients against wire-format
servers are in tests/integration/test_llm_providers.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from zapgate_core.domain.automations.agent_loop import (
    ESCALATE_TOOL_NAME,
    AgentOutcome,
    AgentSettings,
    ToolOutcome,
    run_agent,
)
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
from zapgate_core.domain.automations.retry_policy import NO_RETRIES, RetryPolicy, call_with_retries
from zapgate_core.domain.json_types import JsonObject

BOOK = ToolSpec("book_appointment", "Book a service", {
    "type": "object", "properties": {"service": {"type": "string"}, "time": {"type": "string"}},
    "required": ["service", "time"],
})  # fmt: skip
SETTINGS = AgentSettings(model="test-model", max_tool_rounds=3, time_budget_s=60, timeout_s=20)
START = Conversation(system="You book pet appointments.", turns=(UserTurn("Quero agendar o Rex amanhã às 10h"),))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def text(value: str, tokens: tuple[int, int] = (10, 5), latency_ms: float = 100.0) -> ModelReply:
    return ModelReply(value, (), StopReason.END_TURN, "stop", Usage(*tokens), latency_ms)


def calls(*pairs: tuple[str, str], text_: str | None = None) -> ModelReply:
    tool_calls = tuple(ToolCall(f"call_{i}", name, arguments) for i, (name, arguments) in enumerate(pairs))
    return ModelReply(text_, tool_calls, StopReason.TOOL_USE, "tool_calls", Usage(20, 8), 50.0)


@dataclass
class ScriptedModel:
    """A ChatModel (the port) answering from a list: a ModelReply or a ProviderError to raise. Each call may
    also advance the clock, as a slow provider would."""

    answers: list[ModelReply | ProviderError]
    clock: Clock | None = None
    takes_s: float = 0.0
    seen: list[tuple[Conversation, tuple[ToolSpec, ...], float]] = field(default_factory=list)

    def complete(self, conversation: Conversation, tools: tuple[ToolSpec, ...], *, model: str, temperature: float,
                 max_tokens: int, timeout_s: float) -> ModelReply:  # fmt: skip
        assert model == "test-model"
        self.seen.append((conversation, tools, timeout_s))
        if self.clock:
            self.clock.now += self.takes_s
        answer = self.answers.pop(0)
        if isinstance(answer, ProviderError):
            raise answer
        return answer


class Tools:
    def __init__(self, answer: Callable[[str, JsonObject], ToolOutcome] | None = None) -> None:
        self.calls: list[tuple[str, JsonObject]] = []
        self.answer = answer or (lambda name, args: ToolOutcome.success({"booked": True, "id": "apt-1"}))

    def __call__(self, name: str, arguments: JsonObject) -> ToolOutcome:
        self.calls.append((name, arguments))
        return self.answer(name, arguments)


def run(model: ScriptedModel, tools: Tools, clock: Clock, settings: AgentSettings = SETTINGS,
        retry: RetryPolicy | None = None) -> AgentOutcome:  # fmt: skip
    return run_agent(model, START, (BOOK,), tools, settings, retry=retry, sleep=clock.sleep, clock=clock)


def test_a_plain_answer_is_the_reply_with_its_usage() -> None:
    clock = Clock()
    model = ScriptedModel([text("Claro! Qual serviço?", tokens=(12, 6), latency_ms=321.0)])
    outcome = run(model, Tools(), clock)
    assert (outcome.kind, outcome.text) == ("replied", "Claro! Qual serviço?")
    assert outcome.usage == Usage(12, 6) and outcome.provider_latency_ms == 321.0
    assert (outcome.model_calls, outcome.tool_rounds, outcome.tool_calls) == (1, 0, ())
    # The tenant's tools and the built-in escalation are offered; the conversation ends with the reply.
    assert [tool.name for tool in model.seen[0][1]] == ["book_appointment", ESCALATE_TOOL_NAME]
    assert outcome.conversation.turns[-1] == AssistantTurn("Claro! Qual serviço?")


def test_a_tool_round_trip_feeds_the_result_back_and_adds_up_usage() -> None:
    clock = Clock()
    model = ScriptedModel([calls(("book_appointment", '{"service": "consulta", "time": "10:00"}')),
                           text("Agendado para amanhã às 10h!")])  # fmt: skip
    tools = Tools()
    outcome = run(model, tools, clock)
    assert (outcome.kind, outcome.text) == ("replied", "Agendado para amanhã às 10h!")
    assert tools.calls == [("book_appointment", {"service": "consulta", "time": "10:00"})]
    second_request = model.seen[1][0]
    assert second_request.turns[-2:] == (
        AssistantTurn(None, (ToolCall("call_0", "book_appointment", '{"service": "consulta", "time": "10:00"}'),)),
        ToolResultTurn("call_0", "book_appointment", json.dumps({"booked": True, "id": "apt-1"})),
    )
    assert outcome.usage == Usage(30, 13) and outcome.tool_rounds == 1
    [record] = outcome.tool_calls
    assert (record.name, record.status, record.error) == ("book_appointment", "ok", None)


def test_a_tool_endpoint_error_goes_back_to_the_model_as_an_error_result() -> None:
    clock = Clock()
    model = ScriptedModel([calls(("book_appointment", '{"service": "x", "time": "10:00"}')),
                           text("Desculpe, esse horário não está disponível.")])  # fmt: skip

    def slow_failure(name: str, arguments: JsonObject) -> ToolOutcome:
        clock.now += 0.25
        return ToolOutcome.failure("HTTP 409: slot taken")

    outcome = run(model, Tools(slow_failure), clock)
    assert outcome.kind == "replied"
    result = model.seen[1][0].turns[-1]
    assert isinstance(result, ToolResultTurn) and result.is_error
    assert json.loads(result.content) == {"error": "HTTP 409: slot taken"}
    [record] = outcome.tool_calls
    assert (record.status, record.error, record.duration_ms) == ("error", "HTTP 409: slot taken", 250.0)


def test_unknown_tools_and_broken_arguments_are_refused_without_calling_anything() -> None:
    clock = Clock()
    model = ScriptedModel([calls(("delete_everything", "{}"), ("book_appointment", '{"service": ')),
                           text("Pode repetir?")])  # fmt: skip
    tools = Tools()
    outcome = run(model, tools, clock)
    assert outcome.kind == "replied" and tools.calls == []
    assert [(r.name, r.status) for r in outcome.tool_calls] == [
        ("delete_everything", "unknown_tool"), ("book_appointment", "invalid_arguments"),
    ]
    results = model.seen[1][0].turns[-2:]
    assert all(isinstance(turn, ToolResultTurn) and turn.is_error for turn in results)


def test_tool_rounds_are_bounded() -> None:
    clock = Clock()
    ask = calls(("book_appointment", '{"service": "x", "time": "1"}'))
    model = ScriptedModel([ask, ask, ask, ask, text("never reached")])
    tools = Tools()
    outcome = run(model, tools, clock)
    assert (outcome.kind, outcome.failure) == ("failed", "max_tool_rounds")
    assert len(tools.calls) == 3 and outcome.model_calls == 4 and outcome.text is None


def test_the_time_budget_covers_model_calls_and_shortens_their_timeout() -> None:
    clock = Clock()
    ask = calls(("book_appointment", '{"service": "x", "time": "1"}'))
    model = ScriptedModel([ask, ask, ask], clock=clock, takes_s=25)
    settings = AgentSettings(model="test-model", max_tool_rounds=10, time_budget_s=60, timeout_s=20)
    outcome = run(model, Tools(), clock, settings)
    assert (outcome.kind, outcome.failure) == ("failed", "time_budget")
    # 20 s each while the budget allows; the third call gets only the 10 s left.
    assert [timeout for _, _, timeout in model.seen] == [20, 20, 10]


def test_escalate_to_human_ends_the_run_after_the_turns_other_tools() -> None:
    clock = Clock()
    model = ScriptedModel([calls(("book_appointment", '{"service": "x", "time": "1"}'),
                                 (ESCALATE_TOOL_NAME, '{"reason": "cliente pediu um atendente"}'),
                                 text_="Vou chamar um atendente.")])  # fmt: skip
    tools = Tools()
    outcome = run(model, tools, clock)
    assert (outcome.kind, outcome.escalation_reason) == ("escalated", "cliente pediu um atendente")
    assert outcome.text == "Vou chamar um atendente."
    assert [name for name, _ in tools.calls] == ["book_appointment"]  # the built-in is never sent to the tenant
    assert [(r.name, r.status) for r in outcome.tool_calls] == [
        ("book_appointment", "ok"), (ESCALATE_TOOL_NAME, "escalated"),
    ]
    assert model.answers == []


def test_escalation_can_be_left_out_and_a_tenant_tool_cannot_take_its_name() -> None:
    clock = Clock()
    impostor = ToolSpec(ESCALATE_TOOL_NAME, "tenant's own", {"type": "object"})
    model = ScriptedModel([text("ok")])
    run_agent(model, START, (BOOK, impostor), Tools(), AgentSettings(model="test-model", allow_escalation=False),
              sleep=clock.sleep, clock=clock)  # fmt: skip
    assert [tool.name for tool in model.seen[0][1]] == ["book_appointment"]


def test_an_empty_answer_is_a_failure_not_a_reply() -> None:
    outcome = run(ScriptedModel([text("  ")]), Tools(), Clock())
    assert (outcome.kind, outcome.failure, outcome.text) == ("failed", "empty_reply", None)


def test_provider_outages_are_retried_with_seed_003_backoff_then_fail() -> None:
    clock = Clock()
    down = [ProviderUnavailable(f"HTTP 500 #{i}", provider="openai", status=500) for i in range(4)]
    model = ScriptedModel(list(down))
    outcome = run(model, Tools(), clock)
    assert (outcome.kind, outcome.failure) == ("failed", "provider_unavailable")
    assert clock.slept == [2.0, 4.0, 8.0] and outcome.model_calls == 4
    assert outcome.provider_errors == tuple(f"attempt {i + 1}: HTTP 500 #{i}" for i in range(4))


def test_a_retry_that_succeeds_gives_the_reply() -> None:
    clock = Clock()
    model = ScriptedModel([ProviderUnavailable("timed out", provider="bedrock"), text("olá")])
    outcome = run(model, Tools(), clock)
    assert (outcome.kind, outcome.text, outcome.model_calls, clock.slept) == ("replied", "olá", 2, [2.0])


@pytest.mark.parametrize(("error", "reason"), [
    (ProviderRefused("HTTP 401 invalid_api_key", provider="openai", status=401), "provider_refused"),
    (ProviderBadAnswer("not JSON", provider="openai"), "provider_bad_answer"),
])  # fmt: skip
def test_refusals_and_bad_answers_are_not_retried(error: ProviderError, reason: str) -> None:
    clock = Clock()
    outcome = run(ScriptedModel([error, text("never")]), Tools(), clock)
    assert (outcome.kind, outcome.failure, outcome.error) == ("failed", reason, str(error))
    assert clock.slept == [] and outcome.model_calls == 1


def test_no_retry_waits_past_the_time_budget() -> None:
    clock = Clock()
    model = ScriptedModel([ProviderUnavailable("HTTP 503", provider="openai")] * 2, clock=clock, takes_s=2)
    settings = AgentSettings(model="test-model", time_budget_s=8)
    outcome = run(model, Tools(), clock, settings)
    # 2 s spent, 6 s left: the 2 s wait fits; after the second call 2 s are left, less than the 4 s wait.
    assert clock.slept == [2.0] and outcome.failure == "provider_unavailable" and outcome.model_calls == 2


def test_retry_policy_numbers() -> None:
    policy = RetryPolicy()
    unavailable = ProviderUnavailable("x", provider="p")
    assert policy.max_attempts == 4
    assert [policy.delay_after(unavailable, n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, None]
    assert policy.delay_after(ProviderRefused("x", provider="p"), 1) is None
    assert NO_RETRIES.delay_after(unavailable, 1) is None


def test_call_with_retries_lets_other_exceptions_through_at_once() -> None:
    attempts: list[int] = []

    def broken() -> None:
        attempts.append(1)
        raise KeyError("a bug of ours")

    with pytest.raises(KeyError):
        call_with_retries(broken, RetryPolicy(), sleep=lambda s: pytest.fail("slept"))
    assert attempts == [1]
