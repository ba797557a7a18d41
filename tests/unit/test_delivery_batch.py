"""The events processor's batch (services/delivery): concurrent deliveries, exact partial failures, one read
per tenant / instance per batch, the time budget, and the delivery log. Ports are fakes (in memory, a
sender that answers per URL); the delivery service itself is the real one."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from zapgate_control.ports.delivery_log import DeliveryAttempt
from zapgate_control.ports.webhooks import Webhook
from zapgate_control.services import delivery

TENANT = "t1"


def _hook(n: int, tenant: str = TENANT, events: tuple[str, ...] | None = None) -> Webhook:
    return Webhook(id=f"wh_{tenant}_{n}", tenant_id=tenant, url=f"https://app{n}.{tenant}.example/hook?token=SECRET",
                   events=events, secret=f"whsec_{n}", created_at="")


class Webhooks:
    def __init__(self, hooks: list[Webhook]) -> None:
        self.hooks = hooks
        self.queries: list[str] = []

    def list_for_tenant(self, tenant_id: str) -> list[Webhook]:
        self.queries.append(tenant_id)
        return [hook for hook in self.hooks if hook.tenant_id == tenant_id]

    def get(self, tenant_id: str, webhook_id: str) -> Webhook | None:
        raise AssertionError("the batch finds a copy's webhook in its tenant's list (read once per batch)")


class Sender:
    """Answers per URL: `failing` URLs get HTTP 500; every POST is recorded with its time."""

    def __init__(self, failing: Sequence[str] = (), delay_s: float = 0.0) -> None:
        self.failing = set(failing)
        self.delay_s = delay_s
        self.posts: list[tuple[str, str, float]] = []  # (url, event id, when)
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.delay_s)
        with self.lock:
            self.in_flight -= 1
            self.posts.append((url, json.loads(body)["id"], time.monotonic()))
        return "HTTP 500" if url in self.failing else None


class Publisher:
    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.copies: list[tuple[str, str, list[str]]] = []
        self.delays: list[tuple[int, int]] = []  # (delay_s, attempts_before) of each publish_to

    def publish(self, tenant_id: str, events: Sequence[dict[str, Any]]) -> int:
        return len(events)

    def publish_to(self, tenant_id: str, event: dict[str, Any], webhook_ids: Sequence[str], *, delay_s: int = 0,
                   attempts_before: int = 0) -> int:
        if self.refuse:
            raise RuntimeError("SQS is down")
        self.copies.append((tenant_id, event["id"], list(webhook_ids)))
        self.delays.append((delay_s, attempts_before))
        return len(webhook_ids)


class Redelivery:
    def __init__(self) -> None:
        self.delays: dict[str, int] = {}

    def delay(self, receipt_handle: str, seconds: int) -> None:
        self.delays[receipt_handle] = seconds


class Log:
    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.attempts: list[DeliveryAttempt] = []

    def record(self, attempt: DeliveryAttempt) -> None:
        if self.broken:
            raise RuntimeError("table gone")
        self.attempts.append(attempt)


class Messages:
    """Stored inbound messages of the timeline index; counts the batched reads."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.reads: list[tuple[str, list[str]]] = []
        self.parents: dict[str, str] = {}

    def recent_inbound(self, instance_id: str, until_sk: str, window_ms: int, limit: int = 50) -> list[dict[str, Any]]:
        floor = f"{max(0, int(until_sk.split('#')[0]) - window_ms):013d}#"
        found = [i for i in self.items if i["instance_id"] == instance_id and floor <= i["timeline_sk"] <= until_sk]
        return sorted(found, key=lambda i: i["timeline_sk"], reverse=True)[:limit]

    def recent_inbound_windows(self, instance_id: str, until_sks: Sequence[str], window_ms: int,
                               limit: int = 50) -> dict[str, list[dict[str, Any]]]:
        self.reads.append((instance_id, list(until_sks)))
        return {sk: self.recent_inbound(instance_id, sk, window_ms, limit) for sk in until_sks}

    def set_parent(self, message_id: str, parent_id: str) -> bool:
        self.parents[message_id] = parent_id
        return True


def _deps(hooks: list[Webhook], sender: Sender, messages: Any = None, publisher: Publisher | None = None,
          log: Log | None = None, per_endpoint: int = 4) -> delivery.Deps:
    return delivery.Deps(webhooks=Webhooks(hooks), messages=messages or Messages([]),  # type: ignore[arg-type]
                         events=publisher or Publisher(), redelivery=Redelivery(), sender=sender,
                         retry_base_s=30, delivery_log=log, per_endpoint=per_endpoint)


def _status(n: int) -> dict[str, Any]:
    return {"id": f"ev{n}", "type": "INSTANCE_STATUS", "instanceId": "i1", "timestamp": "2025-11-24T16:00:00.000Z",
            "payload": {"status": "CONNECTED"}}


def _record(envelope: dict[str, Any], n: int, tenant: str = TENANT, receive_count: int = 1,
            **attributes: str) -> delivery.Record:
    return delivery.Record(message_id=f"m{n}", body=json.dumps(envelope), receipt_handle=f"r{n}",
                           receive_count=receive_count, attributes={"tenantId": tenant, **attributes})


# ------------------------------------------------------------------ concurrency and per-batch reads
def test_a_batch_is_delivered_concurrently_bounded_per_endpoint_with_one_webhooks_read_per_tenant() -> None:
    hooks = [_hook(0), _hook(0, tenant="t2")]
    sender = Sender(delay_s=0.2)
    deps = _deps(hooks, sender, per_endpoint=3)
    records = [_record(_status(n), n, tenant=TENANT if n % 2 else "t2") for n in range(10)]
    started = time.monotonic()
    assert deps_failed(deps, records) == []
    took = time.monotonic() - started
    assert len(sender.posts) == 10
    # Two endpoints, 3 at a time each: 2 rounds of 0.2 s, not 10 POSTs one after another (2 s).
    assert sender.most_in_flight == 6 and took < 1.2, (sender.most_in_flight, took)
    assert sorted(deps.webhooks.queries) == [TENANT, "t2"]  # type: ignore[attr-defined]


def deps_failed(deps: delivery.Deps, records: list[delivery.Record], start_by: float | None = None) -> list[str]:
    return delivery.process_batch(deps, records, start_by)


def test_parent_linking_reads_each_instance_once_per_batch_and_links_as_before() -> None:
    def item(n: int, ms: int, media: bool, instance: str = "i1") -> dict[str, Any]:
        return {"id": f"msg{n}", "instance_id": instance, "timeline_sk": f"{ms:013d}#msg{n}", "direction": "inbound",
                "chat_id_norm": "5511@s.whatsapp.net", "sender_jid_raw": "5511@s.whatsapp.net",
                "body": "" if media else "text", "media_type": "image" if media else None}

    base = 1_764_000_000_000
    items = [item(1, base, False), item(2, base + 1000, True), item(3, base + 2000, False, "i2"),
             item(4, base + 3000, True, "i2")]
    messages = Messages(items)

    def inbound(n: int, ms: int, instance: str) -> dict[str, Any]:
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
        return {"id": f"e{n}", "type": "MESSAGE_INBOUND", "instanceId": instance, "timestamp": iso,
                "payload": {"message": {"id": f"msg{n}", "parentId": None}}}

    envelopes = [inbound(1, base, "i1"), inbound(2, base + 1000, "i1"), inbound(3, base + 2000, "i2"),
                 inbound(4, base + 3000, "i2")]
    single = Messages(items)
    alone = [delivery.link_parent(single, envelope) for envelope in envelopes]  # type: ignore[arg-type]  # seed 001, one Query each
    sender = Sender()
    deps = _deps([_hook(0)], sender, messages=messages)
    assert deps_failed(deps, [_record(e, n) for n, e in enumerate(envelopes)]) == []
    assert [instance for instance, _ in messages.reads] == ["i1", "i2"]  # one read per instance, not per record
    assert messages.parents == single.parents == {"msg2": "msg1", "msg4": "msg3"}
    delivered = {event_id for _, event_id, _ in sender.posts}
    assert delivered == {"e1", "e2", "e3", "e4"}
    assert [a["payload"]["message"]["parentId"] for a in alone] == [None, "msg1", None, "msg3"]


# ------------------------------------------------------------------ exact partial failures
def test_only_the_failed_webhooks_go_back_on_the_queue_and_the_record_is_done() -> None:
    hooks = [_hook(0), _hook(1), _hook(2)]
    sender = Sender(failing=[hooks[1].url])
    publisher = Publisher()
    deps = _deps(hooks, sender, publisher=publisher)
    assert deps_failed(deps, [_record(_status(1), 1)]) == []
    assert sorted(url for url, _, _ in sender.posts) == sorted(h.url for h in hooks)  # each once, directly
    assert publisher.copies == [(TENANT, "ev1", [hooks[1].id])]  # a copy for the failed one only


def test_a_requeued_copy_waits_out_the_backoff_and_numbers_its_attempts_on() -> None:
    hooks = [_hook(0), _hook(1)]
    log, publisher = Log(), Publisher()
    deps = _deps(hooks, Sender(failing=[hooks[1].url]), publisher=publisher, log=log)
    assert deps_failed(deps, [_record(_status(1), 1)]) == []
    ((delay_s, attempts_before),) = publisher.delays
    assert attempts_before == 1 and 30 <= delay_s <= 60  # not an immediate second attempt
    # The copy's first receive is the webhook's second attempt, and its retry backs off from there.
    copy = _record(_status(1), 2, webhookId=hooks[1].id, attemptsBefore=str(attempts_before))
    assert deps_failed(deps, [copy]) == ["m2"]
    assert [a.attempt for a in log.attempts] == [1, 2]
    assert 60 <= deps.redelivery.delays["r2"] <= 90  # type: ignore[attr-defined]


def test_a_failed_copy_fails_only_its_record_and_a_healthy_copy_is_never_resent() -> None:
    hooks = [_hook(0), _hook(1)]
    sender = Sender(failing=[hooks[1].url])
    deps = _deps(hooks, sender)
    records = [_record(_status(1), 1, webhookId=hooks[0].id), _record(_status(1), 2, webhookId=hooks[1].id),
               _record(_status(3), 3, webhookId="wh_deleted")]
    assert deps_failed(deps, records) == ["m2"]
    assert sorted(url for url, _, _ in sender.posts) == sorted([hooks[0].url, hooks[1].url])
    assert 30 <= deps.redelivery.delays["r2"] <= 60 and list(deps.redelivery.delays) == ["r2"]  # type: ignore[attr-defined]


def test_when_every_target_failed_the_record_itself_is_retried_without_copies() -> None:
    hooks = [_hook(0), _hook(1)]
    publisher = Publisher()
    deps = _deps(hooks, Sender(failing=[h.url for h in hooks]), publisher=publisher)
    assert deps_failed(deps, [_record(_status(1), 1), _record(_status(2), 2)]) == ["m1", "m2"]
    assert publisher.copies == []


def test_when_the_copies_cannot_be_queued_the_record_fails_so_nothing_is_lost() -> None:
    hooks = [_hook(0), _hook(1)]
    deps = _deps(hooks, Sender(failing=[hooks[0].url]), publisher=Publisher(refuse=True))
    with pytest.raises(delivery.DeliveryFailed, match="not queued"):
        delivery.handle(deps, _record(_status(1), 1))


def test_a_bad_record_fails_alone() -> None:
    sender = Sender()
    deps = _deps([_hook(0)], sender)
    bad = delivery.Record(message_id="bad", body="not json", receipt_handle="rb", receive_count=1,
                          attributes={"tenantId": TENANT})
    no_tenant = delivery.Record(message_id="anon", body=json.dumps(_status(9)), receipt_handle="ra",
                                receive_count=1, attributes={})
    assert deps_failed(deps, [bad, _record(_status(1), 1), no_tenant]) == ["bad", "anon"]
    assert [event_id for _, event_id, _ in sender.posts] == ["ev1"]


# ------------------------------------------------------------------ time budget
def test_deliveries_not_started_within_the_time_budget_fail_for_an_immediate_retry() -> None:
    slow, fast = _hook(0), _hook(0, tenant="t2")
    sender = Sender(delay_s=0.3)
    log = Log()
    deps = _deps([slow, fast], sender, log=log, per_endpoint=1)
    records = [_record(_status(n), n) for n in range(4)] + [_record(_status(9), 9, tenant="t2")]
    started = time.monotonic()
    failed = deps_failed(deps, records, start_by=started + 0.45)
    took = time.monotonic() - started
    # One lane per endpoint: the slow one starts at 0 and 0.3 s, then the budget is over; the other tenant's
    # event went at once, beside it.
    assert failed == ["m2", "m3"] and took < 1.0
    assert {event_id for _, event_id, _ in sender.posts} == {"ev0", "ev1", "ev9"}
    assert deps.redelivery.delays == {"r2": 0, "r3": 0}  # type: ignore[attr-defined]
    assert log.attempts == []  # nothing was attempted for those: no failed attempt to show


# ------------------------------------------------------------------ the delivery log
def test_each_failed_attempt_is_logged_and_the_last_one_as_dead_with_its_envelope() -> None:
    hooks = [_hook(0), _hook(1)]
    log = Log()
    deps = _deps(hooks, Sender(failing=[hooks[1].url]), log=log)
    assert deps_failed(deps, [_record(_status(1), 1, receive_count=2)]) == []  # the failed one re-queued
    assert deps_failed(deps, [_record(_status(2), 2, receive_count=5, webhookId=hooks[1].id)]) == ["m2"]
    assert deps_failed(deps, [_record(_status(3), 3, receive_count=4, webhookId=hooks[1].id)]) == ["m3"]
    failed, dead, failed_again = log.attempts
    assert (failed.webhook_id, failed.event_id, failed.attempt, failed.outcome, failed.envelope) == (
        hooks[1].id, "ev1", 2, "failed", None)
    assert (dead.outcome, dead.attempt, dead.envelope) == ("dead", 5, _status(2))
    assert (failed_again.outcome, failed_again.attempt) == ("failed", 4)
    assert all(a.reason == "HTTP 500" and a.tenant_id == TENANT and a.event_type == "INSTANCE_STATUS"
               for a in log.attempts)
    assert all("SECRET" not in a.reason and "app1" not in a.reason for a in log.attempts)


def test_the_dead_letter_threshold_follows_the_queue_setting() -> None:
    log = Log()
    deps = _deps([_hook(0)], Sender(failing=[_hook(0).url]), log=log)
    deps.max_receive_count = 3
    deps_failed(deps, [_record(_status(1), 1, receive_count=3)])
    assert [a.outcome for a in log.attempts] == ["dead"]


def test_a_broken_delivery_log_never_fails_a_record_nor_its_retry() -> None:
    hooks = [_hook(0), _hook(1)]
    publisher = Publisher()
    deps = _deps(hooks, Sender(failing=[hooks[1].url]), publisher=publisher, log=Log(broken=True))
    assert deps_failed(deps, [_record(_status(1), 1)]) == []
    assert publisher.copies == [(TENANT, "ev1", [hooks[1].id])]
    assert deps_failed(deps, [_record(_status(2), 2, webhookId=hooks[1].id)]) == ["m2"]
    assert 30 <= deps.redelivery.delays["r2"] <= 60  # type: ignore[attr-defined]
