"""The events processor's batch against moto and real local receivers (issue 14): the batched parent-linking
read answers each window exactly as its own Query would, a slow receiver does not hold the other tenants'
events, the time budget keeps a batch inside the Lambda timeout, and a failed webhook alone goes back on
the queue."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.background import BackgroundApp
from zapgate_control.ports.messages import InboundContent
from zapgate_devstack.events_worker import LambdaContext, sqs_event
from zapgate_devstack.webhook_receiver import Receiver

BASE_MS = 1_764_000_000_000


@pytest.fixture
def env(aws_env: dict[str, str]) -> Iterator[dict[str, str]]:
    from zapgate_events import handler

    handler.deps.cache_clear()
    yield aws_env
    handler.deps.cache_clear()


# ------------------------------------------------------------------ the batched read of parent linking
def test_one_read_of_a_batchs_windows_answers_each_window_as_its_own_query(aws_env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_core.domain.ids import inbound_id

    now = {"ms": BASE_MS}
    store = DynamoMessageStore(aws_env["MESSAGES_TABLE"], clock=lambda: now["ms"])
    # A burst: 80 messages over ~2 minutes (some in the same millisecond), two chats, text and media mixed,
    # plus another instance's messages in the same moments (never in this instance's windows).
    for n in range(80):
        now["ms"] = BASE_MS + (n // 2) * 3000  # pairs share a millisecond
        chat = f"55119{n % 2:08d}@s.whatsapp.net"
        content = InboundContent(from_=chat, chat_id=chat, chat_type="direct", body="" if n % 3 == 0 else f"t{n}",
                                 media_type="image" if n % 3 == 0 else None, wa_message_id=f"W{n}",
                                 sender_jid_raw=chat)
        store.put_inbound(inbound_id("inst-1", f"W{n}"), "inst-1", "tenant-a", content)
        store.put_inbound(inbound_id("inst-2", f"W{n}"), "inst-2", "tenant-a", content)
    ends = [f"{BASE_MS + k * 3000:013d}#~" for k in (0, 5, 17, 18, 39, 60)]  # 60: after the last message
    for limit in (50, 4):  # 4: a window holds more than the limit, and the read takes several pages
        together = store.recent_inbound_windows("inst-1", ends, 90_000, limit)
        for end in ends:
            alone = store.recent_inbound("inst-1", end, 90_000, limit)
            assert [i["id"] for i in together[end]] == [i["id"] for i in alone], (limit, end)
            assert all(i["instance_id"] == "inst-1" for i in alone)
    windows = store.recent_inbound_windows("inst-1", ends, 90_000)
    assert len(windows[ends[3]]) == 38  # 54 s in: everything since the start (19 pairs)
    assert len(windows[ends[4]]) == 50  # 117 s in: 31 pairs in its 90 s, the newest 50 kept
    assert store.recent_inbound_windows("inst-1", [], 90_000) == {}


# ------------------------------------------------------------------ a slow receiver and the time budget
class Slow:
    """An ASGI wrapper: every POST answers after `delay_s` (the receiver's own bookkeeping runs first)."""

    def __init__(self, app: Any, delay_s: float) -> None:
        self.app, self.delay_s = app, delay_s

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            await asyncio.sleep(self.delay_s)
        await self.app(scope, receive, send)


def _webhook(key: str, url: str, receiver: Receiver) -> None:
    from fastapi.testclient import TestClient

    from zapgate_public_api.app import app

    created = TestClient(app, headers={"X-API-Key": key}).post("/v1/webhooks", json={"url": url})
    assert created.status_code == 201, created.text
    receiver.secret = created.json()["secret"]


def _events(tenant: str, count: int, tag: str) -> list[dict[str, Any]]:
    return [{"id": f"{tag}{n}", "type": "INSTANCE_STATUS", "instanceId": "i1",
             "timestamp": "2025-11-24T16:00:00.000Z", "payload": {"status": "CONNECTED"}} for n in range(count)]


def _receive_all(env: dict[str, str], count: int) -> list[dict[str, Any]]:
    from zapgate_control.aws import client

    got: list[dict[str, Any]] = []
    while len(got) < count:
        answer = client("sqs").receive_message(QueueUrl=env["EVENTS_QUEUE_URL"], MaxNumberOfMessages=10,
                                               AttributeNames=["All"], MessageAttributeNames=["All"])
        got.extend(answer.get("Messages") or [])
    return got


def test_a_slow_receiver_never_holds_other_tenants_events_and_the_batch_keeps_its_time_budget(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import API_KEY, OTHER_API_KEY
    from zapgate_control.adapters.sqs_events import SqsEventPublisher
    from zapgate_control.aws import client
    from zapgate_events import handler

    slow, fast = Receiver(out=lambda line: None), Receiver(out=lambda line: None)
    with BackgroundApp(Slow(slow.app, 1.0)) as slow_server, BackgroundApp(fast.app) as fast_server:
        _webhook(API_KEY, f"{slow_server.url}/hook", slow)  # tenant-a: 1 s per request
        _webhook(OTHER_API_KEY, f"{fast_server.url}/hook", fast)  # tenant-b
        publisher = SqsEventPublisher(env["EVENTS_QUEUE_URL"])
        publisher.publish("tenant-a", _events("tenant-a", 6, "slow"))
        publisher.publish("tenant-b", _events("tenant-b", 4, "fast"))
        messages = _receive_all(env, 10)
        deps = handler.deps()
        monkeypatch.setattr(deps, "per_endpoint", 2)
        # A 3.5 s Lambda timeout, a POST that can take 1.5 s at most and 0.5 s to answer: no POST starts
        # after 1.5 s, so the slow endpoint's 2 lanes start 4 POSTs (at 0 s and 1 s) and leave 2.
        monkeypatch.setattr(deps, "post_max_s", 1.5)
        monkeypatch.setattr(handler, "ANSWER_MARGIN_S", 0.5)
        context = LambdaContext(timeout_ms=3500)
        started = time.time()
        answer = handler.handler(sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:events"), context)
        took = time.time() - started

    assert took < 3.5 and context.get_remaining_time_in_millis() > 0  # answered inside the Lambda timeout
    # The other tenant's events all arrived at once, while the slow receiver was still on its first two.
    assert sorted(d.event_id or "" for d in fast.deliveries) == [f"fast{n}" for n in range(4)]
    assert max(d.received_at for d in fast.deliveries) - started < 0.8
    assert all(d.signature_valid for d in fast.deliveries + slow.deliveries)
    assert len(slow.deliveries) == 4
    by_id = {m["MessageId"]: json.loads(m["Body"])["id"] for m in messages}
    failed = sorted(by_id[item["itemIdentifier"]] for item in answer["batchItemFailures"])
    delivered_slow = {d.event_id for d in slow.deliveries}
    assert failed == sorted({f"slow{n}" for n in range(6)} - delivered_slow)  # exactly the two not started
    # Never attempted: visible again at once (no backoff), still the same records.
    visible = client("sqs").get_queue_attributes(QueueUrl=env["EVENTS_QUEUE_URL"],
                                                 AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert int(visible["ApproximateNumberOfMessages"]) == 2


def test_the_first_pass_delivers_to_every_webhook_and_requeues_only_the_failed_one(env: dict[str, str]) -> None:
    from tests.conftest import API_KEY
    from zapgate_control.adapters.sqs_events import SqsEventPublisher
    from zapgate_events import handler

    handler.deps().retry_base_s = 1  # the copy waits out the first backoff (1-2 s here, 30-60 s by default)
    healthy, flaky = Receiver(out=lambda line: None), Receiver(out=lambda line: None, fail_first=1)
    with BackgroundApp(healthy.app) as one, BackgroundApp(flaky.app) as two:
        _webhook(API_KEY, f"{one.url}/hook", healthy)
        _webhook(API_KEY, f"{two.url}/hook", flaky)
        SqsEventPublisher(env["EVENTS_QUEUE_URL"]).publish("tenant-a", _events("tenant-a", 1, "ev"))
        first = _receive_all(env, 1)
        answer = handler.handler(sqs_event(first, "arn:aws:sqs:us-east-1:123456789012:events"), LambdaContext())
        assert answer == {"batchItemFailures": []}
        assert [d.answered for d in healthy.deliveries] == [200]  # directly, in the first pass
        assert [d.answered for d in flaky.deliveries] == [500]
        copy = _receive_all(env, 1)  # the one copy, for the failed webhook only
        assert len(copy) == 1 and copy[0]["MessageAttributes"]["webhookId"]["StringValue"].startswith("wh_")
        assert copy[0]["MessageAttributes"]["attemptsBefore"]["StringValue"] == "1"  # its next is attempt 2
        assert handler.handler(sqs_event(copy, "arn:aws:sqs:us-east-1:123456789012:events"),
                               LambdaContext()) == {"batchItemFailures": []}
    assert [d.answered for d in healthy.deliveries] == [200]  # never a duplicate
    assert [d.answered for d in flaky.deliveries] == [500, 200]


def test_the_processor_knows_the_queues_max_receive_count(env: dict[str, str]) -> None:
    from zapgate_devstack.template import load_template
    from zapgate_events import handler

    resources = load_template()["Resources"]
    redrive = resources["EventsQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
    variables = resources["EventsProcessorFunction"]["Properties"]["Environment"]["Variables"]
    assert int(variables["EVENTS_MAX_RECEIVE_COUNT"]) == int(redrive) == handler.deps().max_receive_count
