"""Events to applications against moto: emission (instance events by the worker-proxy, message events
by the outbox on MessagesTable's stream), the webhooks API, the processor delivering signed POSTs to a
real local receiver, backoff, the dead-letter queue and redrive.

The processor and the outbox run as Lambda would run them: the real handlers, fed SQS events by the
devstack's poller (zapgate_devstack.events_worker) from the template's EventsQueue, whose
RedrivePolicy moto applies, and stream records by its stream poller (zapgate_devstack.stream_worker)
with the template's filters. Nothing of the code under test is replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY
from tests.integration.background import BackgroundApp
from tests.integration.events_queue import sqs, take_all
from tests.integration.outbox import publish
from tests.integration.worker_client import enqueue, make_instance, worker_client
from zapgate_devstack.events_worker import EventsWorker, sqs_event
from zapgate_devstack.webhook_receiver import Receiver


# ------------------------------------------------------------------ helpers
def _public(key: str = API_KEY) -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": key}, raise_server_exceptions=False)


def _depth(queue_url: str) -> tuple[int, int]:
    found = sqs().get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(found["ApproximateNumberOfMessages"]), int(found["ApproximateNumberOfMessagesNotVisible"])


def _inbound(instance_id: str, wa_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "instanceId": instance_id, "from": "5511988887777@s.whatsapp.net", "to": "5511999999999@s.whatsapp.net",
        "body": "olá", "wa_message_id": wa_id, "chat_id_norm": "5511988887777@s.whatsapp.net",
        "sender_jid_raw": "5511988887777@s.whatsapp.net", "push_name": "Maria", "timestamp": 1_764_000_000,
    }
    body.update(overrides)
    return body


@pytest.fixture
def env(aws_env: dict[str, str]) -> Iterator[dict[str, str]]:
    from zapgate_events import handler

    handler.deps.cache_clear()  # built per container: here, per test (fresh tables and queues)
    yield aws_env
    handler.deps.cache_clear()


@pytest.fixture
def fast_retries(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff base 0: a failed record is visible again at once, so tests can drive every attempt."""
    from zapgate_control import settings
    from zapgate_events import handler

    monkeypatch.setenv("WEBHOOK_RETRY_BASE_SECONDS", "0")
    settings.get_settings.cache_clear()
    handler.deps.cache_clear()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver(out=lambda line: None)
    with BackgroundApp(hook.app) as server:
        yield hook, f"{server.url}/hook"


def _webhook(url: str, receiver: Receiver | None = None, key: str = API_KEY, **body: Any) -> dict[str, Any]:
    created = _public(key).post("/v1/webhooks", json={"url": url, **body})
    assert created.status_code == 201, created.text
    if receiver is not None:
        receiver.secret = created.json()["secret"]
    return dict(created.json())


def _worker(env: dict[str, str]) -> EventsWorker:
    publish(env)  # the outbox first: message events reach the queue from MessagesTable's stream
    return EventsWorker(sqs(), env["EVENTS_QUEUE_URL"])


# ------------------------------------------------------------------ emission (worker-proxy)
def test_the_template_queue_redrives_to_the_dead_letter_queue_after_5_receives(env: dict[str, str]) -> None:
    attributes = sqs().get_queue_attributes(QueueUrl=env["EVENTS_QUEUE_URL"], AttributeNames=["All"])["Attributes"]
    policy = json.loads(attributes["RedrivePolicy"])
    assert policy["maxReceiveCount"] == 5 and "EventsDeadLetterQueue" in policy["deadLetterTargetArn"]
    assert int(attributes["VisibilityTimeout"]) == 900


def test_a_new_inbound_message_puts_its_envelope_on_the_queue_once(env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_control.aws import client
    from zapgate_core.domain.events import inbound_event

    instance = make_instance(env)
    writes: list[str] = []

    def count(model: Any, **_: Any) -> None:
        if model.name in {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}:
            writes.append(model.name)

    client("dynamodb").meta.events.register("before-call.dynamodb", count)
    try:
        response = worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "W1"))
    finally:
        client("dynamodb").meta.events.unregister("before-call.dynamodb", count)
    assert response.status_code == 200
    assert writes == ["PutItem"]  # still one write per inbound: the stream is the outbox
    assert take_all(env["EVENTS_QUEUE_URL"]) == []  # nothing published on the request path

    publish(env)
    (envelope, attributes), = take_all(env["EVENTS_QUEUE_URL"])
    stored = DynamoMessageStore(env["MESSAGES_TABLE"]).item(response.json()["id"])
    assert envelope == inbound_event(stored)
    assert envelope["type"] == "MESSAGE_INBOUND" and envelope["instanceId"] == instance["id"]
    assert envelope["payload"]["message"]["id"] == response.json()["id"]
    assert envelope["payload"]["contact"]["pushName"] == "Maria"
    assert attributes == {"tenantId": "tenant-a", "eventType": "MESSAGE_INBOUND"}
    assert "tenant" not in json.dumps(envelope)  # the tenant travels beside the envelope, not in it

    again = worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "W1", body="retry"))
    assert again.json()["duplicate"] is True
    publish(env)
    assert take_all(env["EVENTS_QUEUE_URL"]) == []  # a duplicate writes nothing, so reports nothing


def test_status_changes_and_message_moves_are_reported_once_each(env: dict[str, str]) -> None:
    instance = make_instance(env)
    worker = worker_client()
    qr = "data:image/png;base64,iVBORw0KGgo="
    for body in (
        {"status": "CONNECTING", "qr_code": qr},
        {"status": "CONNECTING", "qr_code": qr + "A"},  # a new QR: same status, nothing to report
        {"status": "CONNECTED", "jid": "5511999990000:3@s.whatsapp.net", "push_name": "Loja"},
        {"status": "DISCONNECTED", "reason": "bad_mac_breaker: 6 undecryptable"},
        {"status": "CONNECTED", "jid": "5511999990000:3@s.whatsapp.net", "push_name": "Loja"},
    ):
        response = worker.post("/worker-proxy/update-status", json={"instanceId": instance["id"], **body})
        assert response.status_code == 200
    message = enqueue(env, instance["id"], to="5511988887777", body="hi")
    worker.get(f"/worker-proxy/queued-messages?instanceId={instance['id']}")
    sent = worker.post("/worker-proxy/mark-sent", json={"messageId": message["id"], "wa_message_id": "WA9"})
    assert sent.json()["status"] == "sent"
    worker.post("/worker-proxy/mark-sent", json={"messageId": message["id"], "wa_message_id": "WA9"})  # repeat
    receipts = {"instanceId": instance["id"], "receipts": [{"wa_message_id": "WA9", "kind": "delivered"},
                                                           {"wa_message_id": "WA9", "kind": "delivered"}]}
    assert worker.post("/worker-proxy/receipts", json=receipts).json() == {"updated": 1}

    publish(env)
    queued = [envelope for envelope, _ in take_all(env["EVENTS_QUEUE_URL"])]
    # A new QR is the live-only INSTANCE_QR (the processor pushes it to live connections, never to
    # webhooks: test_live_updates.py): one per new QR, the repeated report of the same QR adds none.
    qrs = [e for e in queued if e["type"] == "INSTANCE_QR"]
    assert [e["payload"]["qr"] for e in qrs] == [qr, qr + "A"]
    events = [e for e in queued if e["type"] != "INSTANCE_QR"]
    summary = sorted(
        (e["type"], e["payload"].get("status") or e["payload"].get("message", {}).get("status")) for e in events
    )
    assert summary == [
        ("INSTANCE_STATUS", "CONNECTED"), ("INSTANCE_STATUS", "CONNECTED"), ("INSTANCE_STATUS", "CONNECTING"),
        ("INSTANCE_STATUS", "DISCONNECTED"), ("MESSAGE_STATUS", "delivered"), ("MESSAGE_STATUS", "sent"),
    ]
    statuses = {(e["payload"]["previousStatus"], e["payload"]["status"]): e["payload"]
                for e in events if e["type"] == "INSTANCE_STATUS"}
    assert statuses[("CONNECTING", "CONNECTED")]["pushName"] == "Loja"
    assert statuses[("CONNECTED", "DISCONNECTED")]["reason"] == "bad_mac_breaker: 6 undecryptable"
    assert statuses[("DISCONNECTED", "CONNECTED")]["reason"] is None  # a reason belongs to its status only
    assert "data:image" not in json.dumps(events)  # the QR never leaves through events
    assert len({e["id"] for e in events}) == 6


def test_a_message_failed_for_expired_leases_is_reported_as_failed(env: dict[str, str]) -> None:
    from tests.integration.test_worker_proxy_locks import FakeClock
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_control.services import outbound_claims as outbound
    from zapgate_core.domain.outbound import ClaimPolicy

    clock = FakeClock()
    store, policy = DynamoMessageStore(env["MESSAGES_TABLE"], clock=clock), ClaimPolicy(lease_ms=1_000, max_claims=1)
    instance = make_instance(env)
    message = enqueue(env, instance["id"])
    assert len(outbound.claim(store, policy, instance["id"], 10).messages) == 1
    publish(env)
    assert take_all(env["EVENTS_QUEUE_URL"]) == []  # a claim is no status change
    clock.now += 1_001
    assert outbound.claim(store, policy, instance["id"], 10).messages == []
    publish(env)
    ((event, attributes),) = take_all(env["EVENTS_QUEUE_URL"])
    assert event["type"] == "MESSAGE_STATUS" and attributes["tenantId"] == "tenant-a"
    assert event["payload"]["message"]["id"] == message["id"]
    assert (event["payload"]["message"]["status"], event["payload"]["message"]["error"]) == ("failed", "lease_expired")


@pytest.mark.parametrize("queue", ["missing", "unset"])
def test_publishing_never_fails_the_write_it_reports(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, queue: str
) -> None:
    from zapgate_control import settings, wiring

    monkeypatch.setenv("EVENTS_QUEUE_URL", env["EVENTS_QUEUE_URL"] + "-gone" if queue == "missing" else "")
    settings.get_settings.cache_clear()
    wiring.get_stores.cache_clear()
    instance = make_instance(env)
    # Instance events are the ones still published on the request path (message events: the outbox).
    response = worker_client().post("/worker-proxy/update-status",
                                    json={"instanceId": instance["id"], "status": "CONNECTING"})
    assert response.status_code == 200
    assert take_all(env["EVENTS_QUEUE_URL"]) == []
    settings.get_settings.cache_clear()
    wiring.get_stores.cache_clear()


# ------------------------------------------------------------------ /v1/webhooks
def test_webhooks_crud_is_tenant_scoped_and_shows_the_secret_once(env: dict[str, str]) -> None:
    api, other = _public(), _public(OTHER_API_KEY)
    created = api.post("/v1/webhooks", json={"url": "https://app.example/hooks", "events": ["MESSAGE_INBOUND"]})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "url", "events", "secret", "created_at"}
    assert body["secret"].startswith("whsec_") and body["events"] == ["MESSAGE_INBOUND"]
    everything = api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9000/hook"}).json()
    assert everything["events"] is None

    listed = api.get("/v1/webhooks").json()["webhooks"]
    assert [w["id"] for w in listed] == [body["id"], everything["id"]]
    assert all("secret" not in w for w in listed) and body["secret"] not in json.dumps(listed)
    assert other.get("/v1/webhooks").json() == {"webhooks": []}
    assert other.delete(f"/v1/webhooks/{body['id']}").status_code == 404  # someone else's: as if unknown
    assert api.delete(f"/v1/webhooks/{body['id']}").status_code == 204
    assert api.delete(f"/v1/webhooks/{body['id']}").status_code == 404
    assert [w["id"] for w in api.get("/v1/webhooks").json()["webhooks"]] == [everything["id"]]


BAD_WEBHOOKS = [
    {"url": "http://app.example/hooks"},  # plain http only for localhost
    {"url": "https://user:pw@app.example/hooks"},
    {"url": "https://app.example/hooks", "events": ["MESSAGE_DELETED"]},
    {"url": "https://app.example/hooks", "events": []},
    {"url": "https://app.example/hooks", "secret": "mine"},  # the secret is always generated
    {},
]


def test_bad_webhooks_are_refused_and_keys_are_required(env: dict[str, str]) -> None:
    from zapgate_public_api.app import app

    for body in BAD_WEBHOOKS:  # one test, one set of tables: each case alone would pay the set-up
        response = _public().post("/v1/webhooks", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "validation_error"
    assert _public().get("/v1/webhooks").json() == {"webhooks": []}
    anonymous = TestClient(app, raise_server_exceptions=False)
    assert anonymous.get("/v1/webhooks").status_code == 401
    assert anonymous.post("/v1/webhooks", json={"url": "https://app.example/h"}).status_code == 401
    assert anonymous.delete("/v1/webhooks/wh_x").status_code == 401


def test_a_tenant_has_at_most_ten_webhooks(env: dict[str, str]) -> None:
    api = _public()
    for n in range(10):
        assert api.post("/v1/webhooks", json={"url": f"https://app.example/{n}"}).status_code == 201
    refused = api.post("/v1/webhooks", json={"url": "https://app.example/11"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "webhook_limit"
    assert api.get("/v1/webhooks").status_code == 200
    assert _public(OTHER_API_KEY).post("/v1/webhooks", json={"url": "https://b.example/1"}).status_code == 201


# ------------------------------------------------------------------ the processor
def test_the_processor_delivers_signed_events_and_links_text_and_media(
    env: dict[str, str], receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    webhook = _webhook(url, hook)
    instance = make_instance(env)
    worker = worker_client()
    text = worker.post("/worker-proxy/inbound", json=_inbound(instance["id"], "T1", body="look at this")).json()
    image = worker.post("/worker-proxy/inbound", json=_inbound(
        instance["id"], "I1", body="", media_type="image", media_url="https://x.test/a.jpg", mime_type="image/jpeg",
    )).json()

    result = _worker(env).drain()
    assert (result.received, result.deleted, result.failed) == (2, 2, 0)
    assert _depth(env["EVENTS_QUEUE_URL"]) == (0, 0)
    deliveries = {d.event["payload"]["message"]["id"]: d for d in hook.deliveries}
    assert set(deliveries) == {text["id"], image["id"]}
    for delivery in hook.deliveries:
        # The receiver's own check, and the documented formula recomputed here by hand.
        assert delivery.signature_valid is True
        expected = hmac.new(webhook["secret"].encode(), f"{delivery.timestamp}.{delivery.body}".encode(),
                            hashlib.sha256).hexdigest()
        assert delivery.signature == f"v1={expected}"
        assert delivery.event_id == delivery.event["id"]
        assert delivery.path == "/hook"
    assert deliveries[image["id"]].event["payload"]["message"]["parentId"] == text["id"]  # seed 001, 90 s rule
    assert deliveries[text["id"]].event["payload"]["message"]["parentId"] is None

    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore

    assert DynamoMessageStore(env["MESSAGES_TABLE"]).item(image["id"])["parent_id"] == text["id"]


def test_events_only_reach_webhooks_subscribed_to_their_type(
    env: dict[str, str], receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    _webhook(url, hook, events=["INSTANCE_STATUS"])
    _webhook("https://other-tenant.example/h", key=OTHER_API_KEY)  # never reached: another tenant
    instance = make_instance(env)
    worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "X1"))
    worker_client().post("/worker-proxy/update-status", json={"instanceId": instance["id"], "status": "CONNECTING"})
    result = _worker(env).drain()
    assert (result.received, result.failed) == (2, 0)  # the inbound event is consumed, not delivered
    assert [d.type for d in hook.deliveries] == ["INSTANCE_STATUS"]


def test_a_failing_webhook_fails_only_its_record_and_pushes_it_back(
    env: dict[str, str], receiver: tuple[Receiver, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from zapgate_events import handler

    hook, url = receiver
    _webhook(url, hook)
    hook.fail_first = 1
    instance = make_instance(env)
    worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "F1"))
    worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "F2", body="second"))
    publish(env)

    delays: list[int] = []
    deps = handler.deps()
    real_delay = deps.redelivery.delay
    monkeypatch.setattr(deps.redelivery, "delay", lambda receipt, seconds: (delays.append(seconds),
                                                                             real_delay(receipt, seconds)))
    messages = sqs().receive_message(QueueUrl=env["EVENTS_QUEUE_URL"], MaxNumberOfMessages=10,
                                      AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"]
    assert len(messages) == 2
    from zapgate_devstack.events_worker import LambdaContext

    answer = handler.handler(sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:events"), LambdaContext())
    failed = [item["itemIdentifier"] for item in answer["batchItemFailures"]]
    assert len(failed) == 1 and failed[0] in {m["MessageId"] for m in messages}
    assert len(delays) == 1 and 30 <= delays[0] <= 60  # first retry: base 30 s + up to 30 s of jitter
    assert [d.answered for d in hook.deliveries] == [500, 200]


def test_visibility_is_the_backoff_then_the_dead_letter_queue_then_redrive(
    env: dict[str, str], fast_retries: None, receiver: tuple[Receiver, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from zapgate_control.admin import main as admin
    from zapgate_control.redrive import dead_letter_queue_url

    hook, url = receiver
    _webhook(url, hook)
    hook.fail_first = 10_000
    instance = make_instance(env)
    worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "D1"))
    worker = _worker(env)
    dlq = dead_letter_queue_url(sqs(), env["EVENTS_QUEUE_URL"])

    # With a 0 s backoff each failed attempt is visible again at once: five receives, five POSTs...
    attempts = [worker.poll_once(wait_seconds=0) for _ in range(5)]
    assert [(a.received, a.failed) for a in attempts] == [(1, 1)] * 5
    assert len(hook.deliveries) == 5 and len({d.event_id for d in hook.deliveries}) == 1
    # ...and the sixth receive is SQS moving it to the dead-letter queue instead.
    assert worker.poll_once(wait_seconds=0).received == 0
    assert _depth(env["EVENTS_QUEUE_URL"]) == (0, 0) and _depth(dlq) == (1, 0)

    hook.fail_first = 0  # the application is back
    assert admin(["redrive-dlq", "--queue-url", env["EVENTS_QUEUE_URL"]]) == 0
    assert "1 event(s) redriven" in capsys.readouterr().out
    assert _depth(dlq) == (0, 0)
    assert worker.drain().deleted == 1
    assert [d.answered for d in hook.deliveries] == [500] * 5 + [200]
    assert hook.deliveries[-1].event_id == hook.deliveries[0].event_id and hook.deliveries[-1].signature_valid


def test_several_webhooks_each_get_their_own_copy_and_retries(
    env: dict[str, str], fast_retries: None, receiver: tuple[Receiver, str]
) -> None:
    healthy, healthy_url = receiver
    flaky = Receiver(out=lambda line: None, fail_first=1)
    with BackgroundApp(flaky.app) as server:
        _webhook(healthy_url, healthy)
        _webhook(f"{server.url}/in", flaky)
        instance = make_instance(env)
        worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "M1"))
        worker = _worker(env)
        first = worker.poll_once(wait_seconds=0)
        assert (first.received, first.deleted) == (1, 1)  # fanned out: two copies back on the queue
        worker.drain()
    assert [d.answered for d in healthy.deliveries] == [200]  # never a duplicate because of the other one
    assert [d.answered for d in flaky.deliveries] == [500, 200]
    assert healthy.deliveries[0].event_id == flaky.deliveries[1].event_id
    assert healthy.deliveries[0].signature_valid and flaky.deliveries[1].signature_valid  # each its own secret
    assert _depth(env["EVENTS_QUEUE_URL"]) == (0, 0)


def test_a_deleted_webhook_stops_receiving(env: dict[str, str], receiver: tuple[Receiver, str]) -> None:
    hook, url = receiver
    webhook = _webhook(url, hook)
    assert _public().delete(f"/v1/webhooks/{webhook['id']}").status_code == 204
    instance = make_instance(env)
    worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], "Z1"))
    assert _worker(env).drain().deleted == 1
    assert hook.deliveries == []


def test_the_local_poller_deletes_what_succeeded_and_keeps_what_failed(env: dict[str, str]) -> None:
    from zapgate_control.adapters.sqs_events import SqsEventPublisher

    url = env["EVENTS_QUEUE_URL"]
    events = [{"id": f"e{n}", "type": "MESSAGE_STATUS"} for n in range(3)]
    assert SqsEventPublisher(url).publish("tenant-a", events) == 3
    seen: list[dict[str, Any]] = []

    def crash(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("init failed")

    def partial(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(event["Records"])
        first = event["Records"][0]["messageId"]
        return {"batchItemFailures": [{"itemIdentifier": first}]}

    crashed = EventsWorker(sqs(), url, handler=crash).poll_once(wait_seconds=0)
    assert (crashed.received, crashed.failed, crashed.crashed) == (3, 3, True)
    assert _depth(url) == (0, 3)  # Lambda semantics: the whole batch waits out its visibility timeout
    sqs().purge_queue(QueueUrl=url)
    SqsEventPublisher(url).publish("tenant-a", events)
    result = EventsWorker(sqs(), url, handler=partial).poll_once(wait_seconds=0)
    assert (result.received, result.deleted, result.failed) == (3, 2, 1)
    record = seen[0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(url.rsplit("/", 1)[1])
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["tenantId"]["stringValue"] == "tenant-a"
    assert _depth(url) == (0, 1)
