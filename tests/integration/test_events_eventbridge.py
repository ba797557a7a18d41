"""The optional EventBridge destination, against moto: a rule on the bus forwards to an SQS queue the
test reads, so what arrives is what EventBridge really took. Events enter as they do in production,
as envelopes on EventsQueue consumed by the real processor handler (the devstack's poller)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.background import BackgroundApp
from tests.integration.test_events_pipeline import _depth, _public, _webhook
from zapgate_core.domain.events import MESSAGE_INBOUND
from zapgate_devstack.events_worker import EventsWorker
from zapgate_devstack.webhook_receiver import Receiver

TENANT = "tenant-a"  # the tenant of tests.conftest.API_KEY


def _client(service: str) -> Any:
    from zapgate_control.aws import client

    return client(service)


@pytest.fixture
def bus(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bus whose rule sends every zapgate event to a queue; the processor configured to use it."""
    from zapgate_control import settings
    from zapgate_events import handler

    name = f"zapgate-test-{uuid.uuid4().hex[:8]}"
    events, sqs = _client("events"), _client("sqs")
    events.create_event_bus(Name=name)
    url = sqs.create_queue(QueueName=f"{name}-seen")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName=name, EventPattern=json.dumps({"source": ["zapgate"]}))
    events.put_targets(Rule="all", EventBusName=name, Targets=[{"Id": "seen", "Arn": arn}])
    monkeypatch.setenv("EVENT_BUS_NAME", name)
    monkeypatch.setenv("WEBHOOK_RETRY_BASE_SECONDS", "0")
    settings.get_settings.cache_clear()
    handler.deps.cache_clear()
    yield url
    handler.deps.cache_clear()
    settings.get_settings.cache_clear()


def _seen(url: str) -> list[dict[str, Any]]:
    got = _client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(message["Body"]) for message in got.get("Messages") or []]


def _event(event_type: str = MESSAGE_INBOUND, **payload: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": event_type, "instanceId": "i-1", "timestamp": "2026-11-25T00:00:00.000Z",
            "payload": payload or {"contact": {}, "message": {"id": "m-1", "type": "text"}, "metadata": {}}}


def _publish(env: dict[str, str], event: dict[str, Any]) -> None:
    from zapgate_control.adapters.sqs_events import SqsEventPublisher

    assert SqsEventPublisher(env["EVENTS_QUEUE_URL"]).publish(TENANT, [event]) == 1


def _worker(env: dict[str, str]) -> EventsWorker:
    return EventsWorker(_client("sqs"), env["EVENTS_QUEUE_URL"])


def test_every_event_reaches_the_bus_with_its_tenant(aws_env: dict[str, str], bus: str) -> None:
    event = _event()
    _publish(aws_env, event)
    result = _worker(aws_env).drain()
    assert (result.received, result.deleted, result.failed) == (1, 1, 0)
    [seen] = _seen(bus)
    assert (seen["source"], seen["detail-type"]) == ("zapgate", MESSAGE_INBOUND)
    assert seen["detail"] == {**event, "tenantId": TENANT}


def test_qr_codes_never_reach_the_bus(aws_env: dict[str, str], bus: str) -> None:
    _publish(aws_env, _event("INSTANCE_QR", status="CONNECTING", qr="data:image/png;base64,SECRET", pairingCode=None))
    assert _worker(aws_env).drain().failed == 0
    assert _seen(bus) == []


def test_the_bus_and_a_webhook_each_get_their_copy_and_a_webhook_outage_never_duplicates_the_bus(
    aws_env: dict[str, str], bus: str
) -> None:
    hook = Receiver(out=lambda line: None)
    with BackgroundApp(hook.app) as server:
        _webhook(f"{server.url}/hook", hook)
        hook.fail_first = 2
        event = _event()
        _publish(aws_env, event)
        worker = _worker(aws_env)
        first = worker.poll_once(wait_seconds=0)
        assert (first.received, first.deleted) == (1, 1)  # fanned out: one copy for the webhook, one for the bus
        worker.drain()
    assert [d.answered for d in hook.deliveries] == [500, 500, 200]
    assert [seen["detail"]["id"] for seen in _seen(bus)] == [event["id"]]  # once, despite the webhook's retries
    assert _depth(aws_env["EVENTS_QUEUE_URL"]) == (0, 0)


def test_a_bus_that_refuses_fails_the_record_for_a_retry(
    aws_env: dict[str, str], bus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zapgate_control import settings
    from zapgate_events import handler

    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    settings.get_settings.cache_clear()
    handler.deps.cache_clear()
    _publish(aws_env, _event())
    result = _worker(aws_env).poll_once(wait_seconds=0)
    assert (result.received, result.deleted, result.failed) == (1, 0, 1)
    assert _depth(aws_env["EVENTS_QUEUE_URL"]) == (1, 0)  # back (backoff 0 here), not lost
    assert _public().get("/v1/webhooks").json()["webhooks"] == []  # the bus was the only target
