"""The provider adapters with the real clients (`openai`, boto3 `bedrock-runtime`) against a local server that
speaks their wire formats (zapgate_devstack.llm_servers): nothing is patched, every request crosses HTTP.

Each test runs for both providers where the behaviour is shared; what reached the model is read from the
server's record of requests, in that provider's own format.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from zapgate_automations.providers.bedrock_converse import BedrockConverseModel
from zapgate_automations.providers.openai_chat import OpenAIChatModel
from zapgate_core.domain.automations.agent_loop import AgentSettings, ToolOutcome, run_agent
from zapgate_core.domain.automations.conversation import (
    AssistantTurn,
    ChatModel,
    Conversation,
    ProviderBadAnswer,
    ProviderRefused,
    ProviderUnavailable,
    StopReason,
    ToolSpec,
    Usage,
    UserTurn,
)
from zapgate_core.domain.automations.retry_policy import RetryPolicy
from zapgate_core.domain.json_types import JsonObject
from zapgate_devstack.llm_servers import LocalModel, ScriptedAnswer, ServedModel, failure, reply, tool_call

API_KEY = "sk-test-0123456789abcdef-SECRET"
PROVIDERS = ["openai", "bedrock"]
BOOK = ToolSpec("book_appointment", "Book a pet service at a date and time", {
    "type": "object",
    "properties": {"pet": {"type": "string"}, "service": {"type": "string"}, "time": {"type": "string"}},
    "required": ["pet", "service", "time"],
})  # fmt: skip
CONVERSATION = Conversation(system="Você agenda serviços do pet shop.",
                            turns=(UserTurn("Consulta pro Rex amanhã 10h"),))
BOOKING = {"pet": "Rex", "service": "consulta", "time": "2026-12-04T10:00"}


@pytest.fixture
def server() -> Iterator[ServedModel]:
    with ServedModel(LocalModel()) as served:
        yield served


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3 signs every request (SigV4); the local server does not check the signature.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


def chat_model(provider: str, server: ServedModel) -> ChatModel:
    if provider == "openai":
        return OpenAIChatModel(api_key=API_KEY, base_url=server.openai_base_url)
    return BedrockConverseModel(region="us-east-1", endpoint_url=server.url)


def complete(model: ChatModel, conversation: Conversation = CONVERSATION, timeout_s: float = 10) -> Any:
    return model.complete(conversation, (BOOK,), model="local-model:1", temperature=0.2, max_tokens=300,
                          timeout_s=timeout_s)  # fmt: skip


class Tools:
    def __init__(self, outcome: ToolOutcome) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, JsonObject]] = []

    def __call__(self, name: str, arguments: JsonObject) -> ToolOutcome:
        self.calls.append((name, arguments))
        return self.outcome


def agent(model: ChatModel, tools: Tools, slept: list[float], **settings: Any) -> Any:
    return run_agent(model, CONVERSATION, (BOOK,), tools, AgentSettings(model="local-model:1", **settings),
                     retry=RetryPolicy(), sleep=slept.append)  # fmt: skip


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_plain_answer_with_usage(provider: str, server: ServedModel) -> None:
    server.model.then(reply("Claro! Para que horas?", input_tokens=42, output_tokens=9))
    answer = complete(chat_model(provider, server))
    assert (answer.text, answer.tool_calls, answer.stop_reason) == ("Claro! Para que horas?", (), StopReason.END_TURN)
    assert answer.usage == Usage(42, 9) and answer.latency_ms >= 0
    [request] = server.model.requests
    body = request.body
    if provider == "openai":
        assert request.path == "/v1/chat/completions"
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        assert (body["model"], body["temperature"], body["max_tokens"]) == ("local-model:1", 0.2, 300)
        assert body["messages"] == [{"role": "system", "content": CONVERSATION.system},
                                    {"role": "user", "content": "Consulta pro Rex amanhã 10h"}]  # fmt: skip
        assert body["tools"] == [{"type": "function", "function": {
            "name": "book_appointment", "description": BOOK.description, "parameters": BOOK.parameters}}]
    else:
        assert request.path == "/model/local-model:1/converse"
        assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDLOCAL/")
        assert body["inferenceConfig"] == {"maxTokens": 300, "temperature": 0.2}
        assert body["system"] == [{"text": CONVERSATION.system}]
        assert body["messages"] == [{"role": "user", "content": [{"text": "Consulta pro Rex amanhã 10h"}]}]
        assert body["toolConfig"] == {"tools": [{"toolSpec": {
            "name": "book_appointment", "description": BOOK.description, "inputSchema": {"json": BOOK.parameters}}}]}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tool_call_round_trip_reaches_the_model_in_its_format(provider: str, server: ServedModel) -> None:
    server.model.then(
        tool_call("book_appointment", BOOKING, call_id="call-rex-1", input_tokens=50, output_tokens=12),
        reply("Agendado: Rex, consulta amanhã às 10h.", input_tokens=80, output_tokens=15),
    )
    tools = Tools(ToolOutcome.success({"appointment_id": "apt-77", "confirmed": True}))
    slept: list[float] = []
    outcome = agent(chat_model(provider, server), tools, slept)
    assert (outcome.kind, outcome.text) == ("replied", "Agendado: Rex, consulta amanhã às 10h.")
    assert tools.calls == [("book_appointment", BOOKING)]
    assert outcome.usage == Usage(130, 27) and outcome.model_calls == 2 and slept == []
    assert [(r.call_id, r.name, r.status) for r in outcome.tool_calls] == [("call-rex-1", "book_appointment", "ok")]
    second = server.model.requests[1].body
    if provider == "openai":
        asked, answered = second["messages"][-2:]
        assert asked == {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call-rex-1", "type": "function",
            "function": {"name": "book_appointment", "arguments": json.dumps(BOOKING)}}]}
        assert answered == {"role": "tool", "tool_call_id": "call-rex-1",
                            "content": json.dumps({"appointment_id": "apt-77", "confirmed": True})}  # fmt: skip
    else:
        asked, answered = second["messages"][-2:]
        assert asked == {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "call-rex-1", "name": "book_appointment", "input": BOOKING}}]}
        assert answered == {"role": "user", "content": [{"toolResult": {
            "toolUseId": "call-rex-1", "content": [{"json": {"appointment_id": "apt-77", "confirmed": True}}],
            "status": "success"}}]}
        assert "toolConfig" in second  # Converse refuses toolUse blocks without it


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tool_endpoint_error_is_fed_back_as_an_error(provider: str, server: ServedModel) -> None:
    server.model.then(tool_call("book_appointment", BOOKING, call_id="c1"), reply("Esse horário está ocupado."))
    slept: list[float] = []
    outcome = agent(chat_model(provider, server), Tools(ToolOutcome.failure("HTTP 409 slot taken")), slept)
    assert (outcome.kind, outcome.tool_calls[0].status) == ("replied", "error")
    answered = server.model.requests[1].body["messages"][-1]
    if provider == "openai":
        assert answered == {"role": "tool", "tool_call_id": "c1",
                            "content": json.dumps({"error": "HTTP 409 slot taken"})}  # fmt: skip
    else:
        assert answered["content"] == [{"toolResult": {
            "toolUseId": "c1", "content": [{"json": {"error": "HTTP 409 slot taken"}}], "status": "error"}}]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_escalate_to_human_through_the_real_client(provider: str, server: ServedModel) -> None:
    server.model.then(tool_call("escalate_to_human", {"reason": "quer falar com o veterinário"}))
    outcome = agent(chat_model(provider, server), Tools(ToolOutcome.success({})), [])
    assert (outcome.kind, outcome.escalation_reason) == ("escalated", "quer falar com o veterinário")
    offered = server.model.requests[0].body
    names = ([t["function"]["name"] for t in offered["tools"]] if provider == "openai"
             else [t["toolSpec"]["name"] for t in offered["toolConfig"]["tools"]])  # fmt: skip
    assert names == ["book_appointment", "escalate_to_human"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_server_errors_are_unavailable_retried_with_backoff_then_failed(provider: str, server: ServedModel) -> None:
    server.model.then(*[failure(500)] * 4)
    slept: list[float] = []
    outcome = agent(chat_model(provider, server), Tools(ToolOutcome.success({})), slept)
    assert (outcome.kind, outcome.failure) == ("failed", "provider_unavailable")
    assert slept == [2.0, 4.0, 8.0] and len(server.model.requests) == 4 and outcome.model_calls == 4
    server.model.then(failure(503))
    with pytest.raises(ProviderUnavailable) as raised:
        complete(chat_model(provider, server))
    assert raised.value.status == 503 and raised.value.retryable


@pytest.mark.parametrize("provider", PROVIDERS)
def test_throttling_is_retryable(provider: str, server: ServedModel) -> None:
    server.model.then(failure(429, "rate_limit_exceeded" if provider == "openai" else "ThrottlingException"))
    with pytest.raises(ProviderUnavailable) as raised:
        complete(chat_model(provider, server))
    assert raised.value.status == 429


@pytest.mark.parametrize(("provider", "status", "code"), [
    ("openai", 401, "invalid_api_key"), ("openai", 404, "model_not_found"),
    ("bedrock", 403, "AccessDeniedException"), ("bedrock", 400, "ValidationException"),
])  # fmt: skip
def test_refusals_are_not_retried(provider: str, status: int, code: str, server: ServedModel) -> None:
    server.model.then(failure(status, code), reply("never"))
    slept: list[float] = []
    outcome = agent(chat_model(provider, server), Tools(ToolOutcome.success({})), slept)
    assert (outcome.kind, outcome.failure) == ("failed", "provider_refused")
    assert outcome.error == f"HTTP {status} {code}"
    assert slept == [] and len(server.model.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_slow_provider_times_out_as_unavailable(provider: str, server: ServedModel) -> None:
    server.model.then(reply("too late", delay_s=4))
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as raised:
        complete(chat_model(provider, server), timeout_s=0.5)
    assert raised.value.code == "timeout"
    assert time.monotonic() - started < 3.5  # botocore's read timeout is whole seconds (1 s here)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_unreachable_provider_is_unavailable(provider: str, server: ServedModel) -> None:
    port = server.port
    server.stop()  # nothing listens there any more
    model = (OpenAIChatModel(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}/v1") if provider == "openai"
             else BedrockConverseModel(region="us-east-1", endpoint_url=f"http://127.0.0.1:{port}"))  # fmt: skip
    with pytest.raises(ProviderUnavailable):
        complete(model, timeout_s=2)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("body", ["<html>bad gateway</html>", '{"unexpected": true}', '{"choices": [], "output": 1}'])
def test_an_answer_outside_the_format_is_a_bad_answer(provider: str, body: str, server: ServedModel) -> None:
    server.model.then(ScriptedAnswer(raw_body=body))
    with pytest.raises(ProviderBadAnswer) as raised:
        complete(chat_model(provider, server))
    assert not raised.value.retryable


def test_bedrock_merges_turns_into_alternating_messages(server: ServedModel) -> None:
    # Memory from history may hold two customer messages in a row, or start with the business's message;
    # Converse accepts only user-first alternating roles.
    conversation = Conversation(turns=(AssistantTurn("Olá! Posso ajudar?"), UserTurn("oi"), UserTurn("tem horário?")))
    server.model.then(reply("Tenho às 10h."))
    complete(BedrockConverseModel(region="us-east-1", endpoint_url=server.url), conversation)
    body = server.model.requests[0].body
    assert body["messages"] == [{"role": "user", "content": [{"text": "oi"}, {"text": "tem horário?"}]}]
    assert "system" not in body


def test_openai_can_send_max_completion_tokens(server: ServedModel) -> None:
    server.model.then(reply("ok"))
    complete(OpenAIChatModel(api_key=API_KEY, base_url=server.openai_base_url,
                             token_limit_param="max_completion_tokens"))
    body = server.model.requests[0].body
    assert body["max_completion_tokens"] == 300 and "max_tokens" not in body


def test_the_api_key_never_reaches_a_log_an_error_or_a_repr(
    server: ServedModel, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_LOG", "debug")  # the client's most talkative setting
    caplog.set_level(logging.DEBUG)
    # OpenAI's own 401 quotes part of the key it got; ours must not repeat it.
    server.model.then(
        reply("oi"), failure(500),
        failure(401, "invalid_api_key", error_message=f"Incorrect API key provided: {API_KEY}"),
        ScriptedAnswer(raw_body="not json"),
    )
    model = OpenAIChatModel(api_key=API_KEY, base_url=server.openai_base_url)
    errors: list[str] = []
    complete(model)
    for _ in range(3):
        try:
            complete(model)
        except (ProviderUnavailable, ProviderRefused, ProviderBadAnswer) as error:
            errors.append(f"{error!s} {error!r} {error.__cause__!r} {error.__context__!r}")
            logging.getLogger("zapgate.test").exception("provider failed")  # as a runner would log it
    assert len(errors) == 3
    assert server.model.requests[0].headers["authorization"] == f"Bearer {API_KEY}"  # it was sent, though
    out, err = capfd.readouterr()
    assert caplog.records, "the client logged nothing at debug: the check would be empty"
    for text in (caplog.text, out, err, repr(model), *errors):
        assert API_KEY not in text


def test_importing_the_adapters_loads_no_client_library() -> None:
    # openai takes over a second to import on a loaded machine; a run that never reaches an AI agent (a rule,
    # a paused chat) must not pay for it, nor for boto3 in a function that has no other AWS call to make.
    code = ("import json, sys; import zapgate_automations.providers.openai_chat, "
            "zapgate_automations.providers.bedrock_converse; print(json.dumps(sorted(sys.modules)))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert not {"openai", "boto3", "botocore", "httpx2"} & loaded


def test_the_local_model_is_scriptable_over_http(server: ServedModel) -> None:
    # How `make run` and e2e tests drive it from another process.
    answered = httpx.post(f"{server.url}/_local/script", json=[
        {"tool_calls": [{"name": "book_appointment", "arguments": BOOKING, "id": "c9"}]}, {"text": "feito"}])
    assert answered.json() == {"pending": 2}
    assert httpx.post(f"{server.url}/_local/script", json=[{"colour": "blue"}]).status_code == 400
    model = OpenAIChatModel(api_key=API_KEY, base_url=server.openai_base_url)
    assert complete(model).tool_calls[0].id == "c9" and complete(model).text == "feito"
    assert complete(model).text == "(local model) Consulta pro Rex amanhã 10h"  # the script is spent: echo
    recorded = httpx.get(f"{server.url}/_local/requests").json()
    assert [item["api"] for item in recorded] == ["openai"] * 3
