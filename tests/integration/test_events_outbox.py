"""The events outbox against moto: MessagesTable's stream → EventsPublisherFunction → EventsQueue.

The stream is moto's, polled by the devstack's Lambda stream poller with the template's
StartingPosition and FilterCriteria; the handler is the real one. "Nothing is lost on crash or retry":
the worker-proxy publishes no message event itself (a crash after its write loses nothing), and a
publish SQS refuses fails its stream record, which the next poll publishes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.outbox import outbox_worker, publish
from tests.integration.worker_client import enqueue, make_instance, worker_client


def _sqs() -> Any:
    from zapgate_control.aws import client

    return client("sqs")


def _take(queue_url: str) -> list[dict[str, Any]]:
    taken = []
    while True:
        messages = _sqs().receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages") or []
        if not messages:
            return taken
        for message in messages:
            taken.append(json.loads(message["Body"]))
            _sqs().delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _inbound(instance_id: str, wa_id: str) -> dict[str, Any]:
    return {"instanceId": instance_id, "from": "5511988887777@s.whatsapp.net", "body": "olá", "wa_message_id": wa_id,
            "chat_id_norm": "5511988887777@s.whatsapp.net", "sender_jid_raw": "5511988887777@s.whatsapp.net"}


@pytest.fixture
def env(aws_env: dict[str, str]) -> Iterator[dict[str, str]]:
    yield aws_env


def _point_functions_at(monkeypatch: pytest.MonkeyPatch, queue_url: str) -> None:
    from zapgate_control import settings, wiring

    monkeypatch.setenv("EVENTS_QUEUE_URL", queue_url)
    settings.get_settings.cache_clear()
    wiring.get_stores.cache_clear()


def test_the_request_path_publishes_nothing_and_the_outbox_publishes_each_inbound_once(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_control.aws import client
    from zapgate_core.domain.events import inbound_event

    instance = make_instance(env)
    # SQS is unreachable while the sidecar reports: the request path must not need it.
    _point_functions_at(monkeypatch, env["EVENTS_QUEUE_URL"] + "-gone")
    sqs_calls: list[str] = []
    client("sqs").meta.events.register("before-call.sqs", lambda model, **_: sqs_calls.append(model.name))
    worker = worker_client()
    first = worker.post("/worker-proxy/inbound", json=_inbound(instance["id"], "C1"))
    retry = worker.post("/worker-proxy/inbound", json=_inbound(instance["id"], "C1"))  # the sidecar's retry
    second = worker.post("/worker-proxy/inbound", json=_inbound(instance["id"], "C2"))
    assert first.status_code == retry.status_code == second.status_code == 200
    assert retry.json()["duplicate"] is True
    assert sqs_calls == []  # no SendMessage on the request path: nothing to lose there
    _point_functions_at(monkeypatch, env["EVENTS_QUEUE_URL"])

    result = publish(env)
    assert (result.read, result.invoked) == (2, 2)  # two writes, two records (the duplicate wrote nothing)
    events = _take(env["EVENTS_QUEUE_URL"])
    store = DynamoMessageStore(env["MESSAGES_TABLE"])
    assert sorted(events, key=lambda e: e["payload"]["message"]["waMessageId"]) == [
        inbound_event(store.item(first.json()["id"])), inbound_event(store.item(second.json()["id"]))
    ]
    assert publish(env).read == 0 and _take(env["EVENTS_QUEUE_URL"]) == []  # checkpointed: never twice


def test_a_refused_publish_fails_its_records_and_the_next_poll_delivers_them(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = make_instance(env)
    stored = [worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], f"R{n}")).json()
              for n in range(2)]
    worker = outbox_worker(env)

    _point_functions_at(monkeypatch, env["EVENTS_QUEUE_URL"] + "-gone")  # SQS refuses (no such queue)
    refused = worker.poll_once()
    assert (refused.read, refused.invoked, refused.failed) == (2, 2, 2)
    assert len(refused.failed_sequence_numbers) == 2  # the records' own sequence numbers (batchItemFailures)
    assert _take(env["EVENTS_QUEUE_URL"]) == []

    _point_functions_at(monkeypatch, env["EVENTS_QUEUE_URL"])  # SQS is back
    retried = worker.poll_once()
    assert (retried.read, retried.invoked, retried.failed) == (2, 2, 0)  # read again from the failed record
    events = _take(env["EVENTS_QUEUE_URL"])
    assert sorted(e["payload"]["message"]["id"] for e in events) == sorted(s["id"] for s in stored)
    assert worker.poll_once().read == 0 and _take(env["EVENTS_QUEUE_URL"]) == []


def test_only_moves_to_reported_states_invoke_the_publisher(env: dict[str, str]) -> None:
    instance = make_instance(env)
    worker = worker_client()
    message = enqueue(env, instance["id"], to="5511988887777", body="hi")  # INSERT queued: filtered out
    worker.get(f"/worker-proxy/queued-messages?instanceId={instance['id']}")  # claim: filtered out
    worker.post("/worker-proxy/mark-sent", json={"messageId": message["id"], "wa_message_id": "WA1"})
    worker.post("/worker-proxy/mark-sent", json={"messageId": message["id"], "wa_message_id": "WA1"})  # no write
    receipts = {"instanceId": instance["id"], "receipts": [{"wa_message_id": "WA1", "kind": "delivered"},
                                                           {"wa_message_id": "WA1", "kind": "read"}]}
    assert worker.post("/worker-proxy/receipts", json=receipts).json() == {"updated": 2}

    result = publish(env)
    assert (result.read, result.invoked) == (5, 3)  # enqueue, claim, sent, delivered, read; 3 reach the function
    events = _take(env["EVENTS_QUEUE_URL"])
    assert sorted(e["payload"]["message"]["status"] for e in events) == ["delivered", "read", "sent"]
    assert {e["type"] for e in events} == {"MESSAGE_STATUS"} and len({e["id"] for e in events}) == 3


def test_the_local_poller_gives_up_after_the_retry_limit_to_the_failure_queue(env: dict[str, str]) -> None:
    from dataclasses import replace

    instance = make_instance(env)
    worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "G1"))
    failures = _sqs().create_queue(QueueName="t-outbox-failures")["QueueUrl"]

    def refuse(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in event["Records"]]}

    poller = outbox_worker(env, handler=refuse)
    poller.source = replace(poller.source, maximum_retry_attempts=2)
    poller.failure_queue_url = failures
    assert [poller.poll_once().gave_up for _ in range(3)] == [0, 0, 1]
    (body,) = [json.loads(m["Body"]) for m in _sqs().receive_message(QueueUrl=failures).get("Messages") or []]
    assert body["DDBStreamBatchInfo"]["streamArn"] == poller.stream_arn
    assert poller.poll_once().read == 0  # moved on


def test_the_local_poller_survives_moto_forgetting_its_iterators(env: dict[str, str]) -> None:
    from zapgate_devstack.stream_worker import forget_moto_iterators

    instance = make_instance(env)
    worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "P1"))
    poller = outbox_worker(env)
    assert poller.poll_once().invoked == 1
    assert forget_moto_iterators() >= 1  # make run prunes what moto keeps; this poller is not running
    with pytest.raises(Exception):  # noqa: B017 - moto answers an unknown iterator with a server error
        poller.poll_once()
    worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "P2"))
    assert poller.poll_once().invoked == 1  # resumed after the last record done: P2 only, P1 not again
    assert len(_take(env["EVENTS_QUEUE_URL"])) == 2
