"""End to end through `make run`'s processes: automations (issue 11, docs/automations.md#runner).

A customer writes on the simulated network; the sidecar reports it, the worker-proxy stores it with the
instance's `automate` flag, the outbox (the stream poller) queues a job on AutomationsQueue, the runner
(Lambda's SQS poller over the real handler) answers through the send path, and the sidecar delivers the
answer on the sim. The agents talk to make run's local model server (scripted here over HTTP, its
requests recorded) with the real openai client; the tenant's tool is an HTTP server in this test.
Seed 003's retry waits are shortened through the template parameter AutomationRetryDelays.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
import pytest

from tests.e2e.stack import LocalStack, free_ports, wait_until

pytestmark = pytest.mark.slow

OWN_PHONE = "5511999990310"
OWNER = "5511977770311"
FALLBACK = "Desculpe, ocorreu um erro. Por favor, tente novamente."


class ToolServer:
    """The tenant's book_appointment endpoint: records each call, answers a booking."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                calls.append({"body": json.loads(body), "headers": dict(self.headers)})
                answer = json.dumps({"booked": True, "confirmation": "BK-0042", "time": "10:00"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/book"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    (llm_port,) = free_ports(1)
    local = LocalStack(tmp_path_factory.mktemp("automations"), sidecars=1, DISCOVERY_POLL_MS="500",
                       ZAPGATE_LLM_PORT=str(llm_port), ZAPGATE_OPENAI_BASE_URL="",
                       ZAPGATE_PARAMETER_OVERRIDES="AutomationRetryDelays=0.05,0.05,0.05").start()
    local.llm = f"http://127.0.0.1:{llm_port}"  # type: ignore[attr-defined]
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


@pytest.fixture(scope="module")
def tool() -> ToolServer:
    return ToolServer()


@pytest.fixture(scope="module")
def instance_id(stack: LocalStack, tool: ToolServer) -> str:
    api, sim = stack.api(), stack.sim_client()
    created = api.post("/instances", json={"name": "automations"})
    assert created.status_code == 201, created.text
    instance = created.json()["id"]
    wait_until(lambda: api.get(f"/instances/{instance}").json()["qr_code"], 20, "QR")
    assert sim.post(f"/instances/{instance}/scan", json={"phone": OWN_PHONE}).status_code == 200
    wait_until(lambda: api.get(f"/instances/{instance}").json()["status"] == "CONNECTED", 15, "CONNECTED")
    automations = [
        {"kind": "rule", "name": "Preço", "trigger": {"type": "keyword", "keywords": ["preço"]},
         "reply": {"type": "text", "text": "Banho a partir de R$ 50"}},
        {"kind": "agent", "name": "Aurora", "audience": "owner", "owner_numbers": [f"+{OWNER}"], "position": 0,
         "provider": "openai", "model": "local-owner", "system_prompt": "Você é a Aurora, assistente do dono."},
        {"kind": "agent", "name": "Client AI", "audience": "customer", "position": 1, "provider": "openai",
         "model": "local-client", "system_prompt": "Você é a recepcionista do pet shop.",
         "tools": [{"name": "book_appointment", "description": "Agenda um serviço", "url": tool.url,
                    "parameters": {"type": "object", "properties": {"time": {"type": "string"}},
                                   "required": ["time"]}}]},
    ]  # fmt: skip
    for body in automations:
        answer = api.post(f"/instances/{instance}/automations", json=body)
        assert answer.status_code == 201, answer.text
    return str(instance)


def _script(stack: LocalStack, *answers: dict[str, Any]) -> None:
    assert httpx.post(f"{stack.llm}/_local/script", json=list(answers)).status_code < 300  # type: ignore[attr-defined]


def _model_requests(stack: LocalStack) -> list[dict[str, Any]]:
    found = httpx.get(f"{stack.llm}/_local/requests").json()  # type: ignore[attr-defined]
    return list(found.get("requests", found) if isinstance(found, dict) else found)


def _write(stack: LocalStack, instance: str, phone: str, body: str, message_id: str | None = None) -> None:
    chat = f"{phone}@s.whatsapp.net"
    payload: dict[str, Any] = {"chat": chat, "sender": chat, "body": body}
    if message_id:
        payload["id"] = message_id
    assert stack.sim_client().post(f"/instances/{instance}/inbound", json=payload).status_code == 200


def _sent_to(stack: LocalStack, instance: str, phone: str) -> list[str]:
    sent = stack.sim_client().get(f"/instances/{instance}/sent").json()
    return [str(m.get("body")) for m in sent if phone in json.dumps(m.get("to") or m.get("chat") or "")]


def _interactions(stack: LocalStack, instance: str, phone: str) -> list[dict[str, Any]]:
    answer = stack.api().get(f"/instances/{instance}/interactions", params={"chat": f"{phone}@s.whatsapp.net"})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["interactions"])


def test_a_customer_message_gets_the_rule_reply(stack: LocalStack, instance_id: str) -> None:
    customer = "5511966660301"
    _write(stack, instance_id, customer, "Qual o preço do banho?")
    wait_until(lambda: "Banho a partir de R$ 50" in _sent_to(stack, instance_id, customer), 20, "the rule's reply")
    (interaction,) = _interactions(stack, instance_id, customer)
    assert (interaction["outcome"], interaction["automation_kind"]) == ("replied", "rule")
    history = stack.api().get(f"/instances/{instance_id}/messages/{interaction['reply_message_id']}")
    assert history.status_code == 200 and history.json()["body"] == "Banho a partir de R$ 50"
    assert history.json()["automation_id"] == interaction["automation_id"] and history.json()["sent_by_ai"] is False


def test_booking_calls_the_tenants_tool_and_the_answer_reaches_the_customer(
    stack: LocalStack, instance_id: str, tool: ToolServer
) -> None:
    customer = "5511966660302"
    before = len(_model_requests(stack))
    _script(stack, {"tool_calls": [{"name": "book_appointment", "arguments": {"time": "10:00"}}]},
            {"text": "Agendado! Banho amanhã às 10h, confirmação BK-0042."})
    _write(stack, instance_id, customer, "Quero agendar um banho amanhã às 10h")
    wait_until(lambda: any("BK-0042" in b for b in _sent_to(stack, instance_id, customer)), 30, "the agent's answer")
    (call,) = tool.calls
    assert call["body"]["tool"] == "book_appointment" and call["body"]["arguments"] == {"time": "10:00"}
    assert call["body"]["instanceId"] == instance_id and call["headers"].get("X-Zapgate-Timestamp")
    first, second = _model_requests(stack)[before:before + 2]
    assert first["body"]["model"] == "local-client"
    assert first["body"]["messages"][0] == {"role": "system", "content": "Você é a recepcionista do pet shop."}
    tool_turns = [m for m in second["body"]["messages"] if m.get("role") == "tool"]
    assert tool_turns and json.loads(tool_turns[0]["content"])["confirmation"] == "BK-0042"  # the result reached it
    (interaction,) = _interactions(stack, instance_id, customer)
    assert interaction["outcome"] == "replied" and interaction["model_calls"] == 2
    assert [(c["name"], c["status"]) for c in interaction["tool_calls"]] == [("book_appointment", "ok")]
    reply = stack.api().get(f"/instances/{instance_id}/messages/{interaction['reply_message_id']}").json()
    assert "BK-0042" in reply["body"] and reply["sent_by_ai"] is True  # seed 003's messages.sent_by_ai


def test_the_owners_number_goes_to_the_owner_agent(stack: LocalStack, instance_id: str) -> None:
    before = len(_model_requests(stack))
    _script(stack, {"text": "Hoje: 12 clientes, R$ 850."})
    _write(stack, instance_id, OWNER, "Quantos clientes hoje?")
    wait_until(lambda: "Hoje: 12 clientes, R$ 850." in _sent_to(stack, instance_id, OWNER), 30, "Aurora's answer")
    (asked,) = _model_requests(stack)[before:]
    assert asked["body"]["model"] == "local-owner"
    assert asked["body"]["messages"][0]["content"] == "Você é a Aurora, assistente do dono."


def test_escalate_to_human_pauses_that_chat(stack: LocalStack, instance_id: str) -> None:
    customer = "5511966660303"
    _script(stack, {"tool_calls": [{"name": "escalate_to_human", "arguments": {"reason": "pediu um atendente"}}]})
    _write(stack, instance_id, customer, "Quero falar com uma pessoa")
    chat = f"{customer}@s.whatsapp.net"
    paused = wait_until(lambda: (e := stack.api().get(f"/instances/{instance_id}/chats/{chat}/escalation").json())
                        ["paused"] and e, 30, "the chat paused")  # fmt: skip
    assert paused["reason"] == "pediu um atendente"
    requests_before = len(_model_requests(stack))
    _write(stack, instance_id, customer, "Qual o preço?")  # even the rule stays silent while a person has it
    wait_until(lambda: len(_interactions(stack, instance_id, customer)) == 2, 30, "the second run")
    latest = _interactions(stack, instance_id, customer)[0]
    assert (latest["outcome"], latest["reason"]) == ("skipped", "escalated")
    assert _sent_to(stack, instance_id, customer) == [] and len(_model_requests(stack)) == requests_before


def test_a_provider_failing_gives_the_fallback_after_the_retries(stack: LocalStack, instance_id: str) -> None:
    customer = "5511966660304"
    before = len(_model_requests(stack))
    _script(stack, *({"status": 500} for _ in range(4)))
    _write(stack, instance_id, customer, "Oi, tudo bem?")
    wait_until(lambda: FALLBACK in _sent_to(stack, instance_id, customer), 30, "the fallback reply")
    assert len(_model_requests(stack)) - before == 4  # seed 003: the first attempt and three retries
    (interaction,) = _interactions(stack, instance_id, customer)
    assert (interaction["outcome"], interaction["reason"], interaction["model_calls"]) == \
        ("failed", "provider_unavailable", 4)  # fmt: skip
    assert interaction["reply_message_id"]


def test_the_same_inbound_delivered_twice_is_answered_once(stack: LocalStack, instance_id: str) -> None:
    customer = "5511966660305"
    _write(stack, instance_id, customer, "preço?", message_id="3EB0DUPLICATE01")
    _write(stack, instance_id, customer, "preço?", message_id="3EB0DUPLICATE01")  # the phone delivers it again
    wait_until(lambda: _sent_to(stack, instance_id, customer), 20, "the reply")
    # And the job itself again, past SQS's deduplication (another deduplication id): the runner finds the reply.
    (interaction,) = _interactions(stack, instance_id, customer)
    endpoint = re.search(r"AWS \(moto\)\s+(http://\S+)", "".join(stack.output))
    assert endpoint is not None
    sqs = boto3.client("sqs", endpoint_url=endpoint.group(1), region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
    (queue,) = [u for u in sqs.list_queues().get("QueueUrls", []) if "AutomationsQueue" in u]
    job = {"v": 1, "tenantId": "default", "instanceId": instance_id, "messageId": interaction["message_id"],
           "chatId": f"{customer}@s.whatsapp.net", "chatType": "direct", "sender": f"{customer}@s.whatsapp.net",
           "senderPn": None, "fromMe": False, "text": "preço?", "storedAt": interaction["created_at"]}
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job), MessageGroupId="default#0",
                     MessageDeduplicationId="e2e-again")
    wait_until(lambda: int(sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
                           ["ApproximateNumberOfMessages"]) == 0, 20, "the job taken")  # fmt: skip
    time.sleep(2)  # the sidecar would have delivered a second answer by now
    assert _sent_to(stack, instance_id, customer) == ["Banho a partir de R$ 50"]
    assert len(_interactions(stack, instance_id, customer)) == 1


def test_the_demo_shows_an_automatic_answer_on_the_sim(stack: LocalStack, instance_id: str) -> None:
    from zapgate_devstack import demo_automations

    with stack.api() as api, stack.sim_client() as sim:
        shown = demo_automations.run(api, sim, say=lambda _line: None)
    assert shown["reply"]["body"] == demo_automations.PRICE_RULE["reply"]["text"]  # type: ignore[index]
    assert shown["interactions"]["interactions"][0]["outcome"] == "replied"
