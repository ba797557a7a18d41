"""The automations runner against moto: the worker-proxy stores an inbound message with the instance's flag,
the outbox (its stream poller) queues a job on the FIFO AutomationsQueue only then, and the real
AutomationsFunction handler (Lambda's SQS poller) answers through the send path and records the run."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.outbox import publish
from tests.integration.worker_client import make_instance, worker_client

CUSTOMER = "5511988887777@s.whatsapp.net"
RULE = {"kind": "rule", "name": "Preço", "trigger": {"type": "keyword", "keywords": ["preço"]},
        "reply": {"type": "text", "text": "Banho a partir de R$ 50"}}


@pytest.fixture
def env(aws_env: dict[str, str]) -> Iterator[dict[str, str]]:
    from zapgate_automations import handler

    handler.deps.cache_clear()
    handler.redelivery.cache_clear()
    yield aws_env
    handler.deps.cache_clear()
    handler.redelivery.cache_clear()


def _sqs() -> Any:
    from zapgate_control.aws import client

    return client("sqs")


def _inbound(instance_id: str, wa_id: str, body: str) -> dict[str, Any]:
    return {"instanceId": instance_id, "from": CUSTOMER, "body": body, "wa_message_id": wa_id,
            "chat_id_norm": CUSTOMER, "sender_jid_raw": CUSTOMER}


def _add_rule(env: dict[str, str], instance_id: str, body: dict[str, Any], automation_id: str = "auto-1") -> None:
    from zapgate_control.ports.automations import AutomationRecord
    from zapgate_control.services import automation_flag
    from zapgate_control.wiring import get_stores
    from zapgate_core.contract.automations import parse_automation

    config = parse_automation(body).model_dump(mode="json")
    stores = get_stores()
    now = int(time.time() * 1000)
    stores.automations.create(AutomationRecord(
        id=automation_id, tenant_id="tenant-a", instance_id=instance_id, kind=config["kind"], name=config["name"],
        enabled=config["enabled"], position=config["position"], config=config, version=1, created_at_ms=now,
        updated_at_ms=now), max_per_instance=50)  # fmt: skip
    assert automation_flag.sync(stores.instances, stores.automations, instance_id) is True


def _jobs(env: dict[str, str]) -> int:
    attributes = _sqs().get_queue_attributes(QueueUrl=env["AUTOMATIONS_QUEUE_URL"],
                                             AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _runner(env: dict[str, str]) -> Any:
    from zapgate_automations.handler import handler
    from zapgate_devstack.events_worker import EventsWorker

    return EventsWorker(_sqs(), env["AUTOMATIONS_QUEUE_URL"], handler=handler)


def test_an_instance_without_automations_costs_no_job(env: dict[str, str]) -> None:
    instance = make_instance(env)
    answer = worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "W1", "preço"))
    assert answer.status_code == 200
    publish(env)
    assert _jobs(env) == 0
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore

    stored = DynamoMessageStore(env["MESSAGES_TABLE"]).item(answer.json()["id"])
    assert stored is not None and "automate" not in stored


def test_a_flagged_inbound_is_answered_once_through_the_send_path(env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_control.wiring import get_stores
    from zapgate_core.domain.automations.idempotency import reply_message_id

    instance = make_instance(env)
    _add_rule(env, instance["id"], RULE)
    inbound = worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "W1", "qual o preço?"))
    message_id = inbound.json()["id"]
    store = DynamoMessageStore(env["MESSAGES_TABLE"])
    stored = store.item(message_id)
    assert stored is not None and stored["automate"] is True
    publish(env)
    assert _jobs(env) == 1
    result = _runner(env).drain()
    assert (result.received, result.deleted, result.failed) == (1, 1, 0)
    reply = store.get(reply_message_id("tenant-a", instance["id"], message_id, "auto-1"))
    assert reply is not None and reply.content.body == "Banho a partir de R$ 50"
    assert reply.content.to == CUSTOMER and getattr(reply, "automation_id", None) == "auto-1"
    (interaction,), _ = get_stores().interactions.list_for_instance(instance["id"], 10, None)
    assert (interaction.outcome, interaction.message_id, interaction.reply_message_id) == \
        ("replied", message_id, reply.id)  # fmt: skip

    # The same job again (a redelivery outside SQS's deduplication window): answered once.
    job = {"v": 1, "tenantId": "tenant-a", "instanceId": instance["id"], "messageId": message_id, "chatId": CUSTOMER,
           "chatType": "direct", "sender": CUSTOMER, "senderPn": None, "fromMe": False, "text": "qual o preço?",
           "storedAt": "2026-06-01T12:00:00Z"}
    _sqs().send_message(QueueUrl=env["AUTOMATIONS_QUEUE_URL"], MessageBody=json.dumps(job),
                        MessageGroupId="tenant-a#0", MessageDeduplicationId="again-1")
    assert _runner(env).drain().deleted == 1
    replies = [m for m in store.chat_messages(instance["id"], CUSTOMER, 10, None)[0] if m.direction == "outbound"]
    assert len(replies) == 1


def test_a_media_reply_by_upload_id_sends_a_fresh_link_to_the_upload(env: dict[str, str]) -> None:
    import httpx
    from fastapi.testclient import TestClient

    from tests.conftest import API_KEY
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_control.wiring import get_stores
    from zapgate_core.domain.automations.idempotency import reply_message_id
    from zapgate_public_api.app import app

    data = b"%PDF-1.4 price list"
    ticket = TestClient(app, headers={"X-API-Key": API_KEY}).post("/v1/media-uploads", json={
        "media_type": "document", "mime_type": "application/pdf", "size": len(data)}).json()
    upload = ticket["upload"]
    httpx.post(upload["url"], data=upload["fields"], files={"file": ("prices.pdf", data, "application/pdf")})
    instance = make_instance(env)
    media_reply = {"type": "media", "media_type": "document", "upload_id": ticket["upload_id"],
                   "caption": "Tabela", "mime_type": "application/pdf", "file_name": "precos.pdf"}
    _add_rule(env, instance["id"], {**RULE, "reply": media_reply})
    _add_rule(env, instance["id"], {**RULE, "name": "gone", "position": 200, "trigger": {
        "type": "keyword", "keywords": ["horário"]}, "reply": {**media_reply, "upload_id": str(uuid.uuid4())}},
        automation_id="auto-2")
    asked, missing = (worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], wa_id, text)).json()[
        "id"] for wa_id, text in (("W1", "preço?"), ("W2", "horário?")))
    publish(env)
    assert _runner(env).drain().deleted == 2

    store = DynamoMessageStore(env["MESSAGES_TABLE"])
    reply = store.get(reply_message_id("tenant-a", instance["id"], asked, "auto-1"))
    assert reply is not None and reply.content.media_type == "document" and reply.content.body == "Tabela"
    assert reply.content.media_url is not None and reply.content.media_url != upload["url"]
    assert httpx.get(reply.content.media_url).content == data  # what the sidecar will download
    assert store.get(reply_message_id("tenant-a", instance["id"], missing, "auto-2")) is None
    runs, _ = get_stores().interactions.list_for_instance(instance["id"], 10, None)
    by_message = {r.message_id: r for r in runs}
    assert by_message[asked].outcome == "replied"
    assert (by_message[missing].outcome, by_message[missing].reason) == ("failed", "reply_unavailable")


def test_a_job_that_cannot_be_read_fails_and_stays_for_the_dead_letter_queue(env: dict[str, str]) -> None:
    _sqs().send_message(QueueUrl=env["AUTOMATIONS_QUEUE_URL"], MessageBody="not json", MessageGroupId="t#0",
                        MessageDeduplicationId="bad-1")
    result = _runner(env).drain(max_polls=1)
    assert (result.received, result.failed) == (1, 1)
    policy = json.loads(_sqs().get_queue_attributes(QueueUrl=env["AUTOMATIONS_QUEUE_URL"],
                                                    AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    assert policy["maxReceiveCount"] == 3 and policy["deadLetterTargetArn"].endswith(".fifo")


def test_a_bedrock_agent_answers_through_converse_and_records_its_tokens(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_control.wiring import get_stores
    from zapgate_devstack.llm_servers import LocalModel, ServedModel, reply

    agent = {"kind": "agent", "name": "Bedrock AI", "audience": "customer", "provider": "bedrock",
             "model": "anthropic.claude-3-haiku-20240307-v1:0", "region": "us-east-1",
             "system_prompt": "Você é a recepcionista."}
    with ServedModel(LocalModel(reply("Olá! Em que posso ajudar?", input_tokens=21, output_tokens=9))) as model:
        monkeypatch.setenv("AUTOMATIONS_BEDROCK_ENDPOINT_URL", model.url)
        instance = make_instance(env)
        _add_rule(env, instance["id"], agent, automation_id="bedrock-1")
        inbound = worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "B1", "oi"))
        publish(env)
        assert _runner(env).drain().deleted == 1
        (request,) = model.model.requests
    assert request.api == "bedrock" and request.body["system"] == [{"text": "Você é a recepcionista."}]
    replies = [m for m in DynamoMessageStore(env["MESSAGES_TABLE"]).chat_messages(instance["id"], CUSTOMER, 10, None)[0]
               if m.direction == "outbound"]
    assert [r.content.body for r in replies] == ["Olá! Em que posso ajudar?"]
    (interaction,), _ = get_stores().interactions.list_for_instance(instance["id"], 10, None)
    assert (interaction.provider, interaction.tokens_in, interaction.tokens_out) == ("bedrock", 21, 9)
    assert interaction.message_id == inbound.json()["id"]
