"""The webhook delivery log's DynamoDB adapter on moto, in the template's WebhooksTable (created by the devstack
from template.yaml, TTL included): items beside the webhooks that no webhook reader ever reads, listing newest
first in pages, TTLs, size bounds, and the redrive claim (conditional, lapsing, released, tombstoned)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from zapgate_control.adapters.dynamodb.delivery_log import (
    CLAIM_LAPSES_MS,
    DEAD_TTL_S,
    FAILED_TTL_S,
    DynamoDeliveryLog,
)
from zapgate_control.adapters.dynamodb.webhooks import DynamoWebhookStore
from zapgate_control.ports.delivery_log import DeliveryAttempt, RedriveConflict
from zapgate_control.ports.webhooks import WebhookNotFound
from zapgate_core.domain.events import MAX_EVENT_BYTES

T0 = 1_780_000_000_000  # ms


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(aws_env: dict[str, str], clock: Clock) -> DynamoDeliveryLog:
    return DynamoDeliveryLog(aws_env["WEBHOOKS_TABLE"], clock=clock)


@pytest.fixture
def webhooks(aws_env: dict[str, str]) -> DynamoWebhookStore:
    return DynamoWebhookStore(aws_env["WEBHOOKS_TABLE"])


def _envelope(event_id: str, **payload: Any) -> dict[str, Any]:
    return {"id": event_id, "type": "MESSAGE_INBOUND", "instanceId": "i-1", "timestamp": "2026-06-01T00:00:00.000Z",
            "payload": payload or {"message": {"id": "m", "text": "olá"}}}


def _attempt(webhook_id: str, event_id: str, n: int, outcome: str = "failed", tenant: str = "tenant-a",
             envelope: dict[str, Any] | None = None) -> DeliveryAttempt:
    return DeliveryAttempt(tenant, webhook_id, event_id, "MESSAGE_INBOUND", n, f"HTTP 50{n}", outcome,  # type: ignore[arg-type]
                           envelope if envelope is not None or outcome != "dead" else _envelope(event_id))


def _raw(env: dict[str, str], tenant: str = "tenant-a") -> list[dict[str, Any]]:
    from zapgate_control.adapters.dynamodb.codec import from_item
    from zapgate_control.aws import client

    got = client("dynamodb").query(TableName=env["WEBHOOKS_TABLE"], KeyConditionExpression="tenant_id = :t",
                                   ExpressionAttributeValues={":t": {"S": tenant}})
    return [from_item(item) or {} for item in got["Items"]]


@pytest.fixture
def scanned() -> Iterator[list[int]]:
    """ScannedCount of every DynamoDB Query made meanwhile: what was read (and billed), not only answered."""
    from zapgate_control.aws import client

    counts: list[int] = []

    def after(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        counts.append(int(parsed.get("ScannedCount", 0)))

    events = client("dynamodb").meta.events
    events.register("after-call.dynamodb.Query", after)
    yield counts
    events.unregister("after-call.dynamodb.Query", after)


def test_the_devstack_table_has_the_templates_ttl(aws_env: dict[str, str]) -> None:
    from zapgate_control.aws import client

    ttl = client("dynamodb").describe_time_to_live(TableName=aws_env["WEBHOOKS_TABLE"])["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")


def test_webhook_readers_never_read_delivery_items(
    aws_env: dict[str, str], log: DynamoDeliveryLog, webhooks: DynamoWebhookStore, scanned: list[int]
) -> None:
    hook = webhooks.create("tenant-a", "https://hooks.example.com/a", None, "whsec_x")
    for n in range(1, 5):
        log.record(_attempt(hook.id, "e-1", n))
    log.record(_attempt(hook.id, "e-1", 5, "dead"))
    assert len(_raw(aws_env)) == 1 + 5 + 1  # the webhook, five attempts, one dead letter: one partition

    scanned.clear()
    assert [w.id for w in webhooks.list_for_tenant("tenant-a")] == [hook.id]
    assert scanned == [1]  # the key condition kept the log's items out of the read itself
    # An id of a log item is no webhook: not found by get, rotate or delete (which would have touched it).
    for item in _raw(aws_env):
        if item["webhook_id"] == hook.id:
            continue
        assert webhooks.get("tenant-a", item["webhook_id"]) is None
        with pytest.raises(WebhookNotFound):
            webhooks.rotate_secret("tenant-a", item["webhook_id"], "whsec_y", 1)
        with pytest.raises(WebhookNotFound):
            webhooks.delete("tenant-a", item["webhook_id"])
    assert len(_raw(aws_env)) == 7 and all("secret" not in i for i in _raw(aws_env) if i["webhook_id"] != hook.id)


def test_the_tenant_limit_counts_webhooks_only(log: DynamoDeliveryLog, webhooks: DynamoWebhookStore) -> None:
    first = webhooks.create("tenant-a", "https://hooks.example.com/0", None, "s")
    for n in range(30):
        log.record(_attempt(first.id, f"e-{n}", 1))
    for n in range(1, 10):  # the 10 allowed, 30 log items notwithstanding
        webhooks.create("tenant-a", f"https://hooks.example.com/{n}", None, "s")
    assert len(webhooks.list_for_tenant("tenant-a")) == 10


def test_attempts_are_listed_newest_first_in_pages_per_webhook(
    log: DynamoDeliveryLog, clock: Clock, scanned: list[int]
) -> None:
    for n in range(1, 6):
        clock.now = T0 + n * 1000
        log.record(_attempt("wh_a", f"e-{n}", n, "dead" if n == 5 else "failed"))
    log.record(_attempt("wh_b", "other", 1))  # another webhook of the tenant
    log.record(_attempt("wh_a", "theirs", 1, tenant="tenant-b"))  # the same webhook id in another tenant

    scanned.clear()
    pages, cursor = [], None
    while True:
        page, cursor = log.list_attempts("tenant-a", "wh_a", 2, cursor)
        pages.append(page)
        if cursor is None:
            break
    flat = [a for page in pages for a in page]
    assert [a.event_id for a in flat] == ["e-5", "e-4", "e-3", "e-2", "e-1"]
    assert [len(p) for p in pages[:3]] == [2, 2, 1]
    assert sum(scanned) == 5  # only wh_a's attempts were read: no dead letter (envelope), no other webhook
    newest = flat[0]
    assert (newest.webhook_id, newest.event_type, newest.attempt, newest.reason, newest.outcome, newest.at) == (
        "wh_a", "MESSAGE_INBOUND", 5, "HTTP 505", "dead", "2026-05-28T20:26:45.000Z")

    _, cursor = log.list_attempts("tenant-a", "wh_a", 1, None)
    with pytest.raises(ValueError):
        log.list_attempts("tenant-b", "wh_a", 1, cursor)  # another tenant's listing
    with pytest.raises(ValueError):
        log.list_attempts("tenant-a", "wh_b", 1, cursor)  # another webhook's
    with pytest.raises(ValueError):
        log.list_attempts("tenant-a", "wh_a", 1, "not-a-cursor")


def test_failed_attempts_live_7_days_and_dead_ones_14(aws_env: dict[str, str], log: DynamoDeliveryLog) -> None:
    log.record(_attempt("wh_a", "e-1", 1))
    log.record(_attempt("wh_a", "e-1", 5, "dead"))
    by_kind = {(i["webhook_id"].split("#")[0], i.get("outcome")): i["ttl"] for i in _raw(aws_env)}
    assert by_kind == {("delivery", "failed"): T0 // 1000 + FAILED_TTL_S, ("delivery", "dead"): T0 // 1000 + DEAD_TTL_S,
                       ("dead", None): T0 // 1000 + DEAD_TTL_S}
    assert (FAILED_TTL_S, DEAD_TTL_S) == (7 * 86400, 14 * 86400)


def test_a_dead_letter_keeps_its_envelope_and_long_texts_are_cut_to_fit(log: DynamoDeliveryLog) -> None:
    log.record(_attempt("wh_a", "e-1", 5, "dead"))
    dead = log.get_dead("tenant-a", "wh_a", "e-1")
    assert dead is not None and dead.envelope == _envelope("e-1") and dead.state == "dead"
    assert log.get_dead("tenant-b", "wh_a", "e-1") is None  # another tenant's partition

    long = _envelope("e-2", message={"id": "m", "text": "x" * 300_000})
    log.record(_attempt("wh_a", "e-2", 5, "dead", envelope=long))
    kept = log.get_dead("tenant-a", "wh_a", "e-2")
    assert kept is not None and kept.envelope is not None
    assert len(json.dumps(kept.envelope).encode()) <= MAX_EVENT_BYTES + 100
    assert kept.envelope["payload"]["metadata"]["truncated"] is True


def test_an_envelope_that_cannot_fit_is_listed_dead_but_kept_without_it(log: DynamoDeliveryLog) -> None:
    huge = _envelope("e-3", blob="y" * 500_000)  # no text to cut: above DynamoDB's 400 KB item limit
    log.record(_attempt("wh_a", "e-3", 5, "dead", envelope=huge))
    dead = log.get_dead("tenant-a", "wh_a", "e-3")
    assert dead is not None and dead.envelope is None
    assert [a.outcome for a in log.list_attempts("tenant-a", "wh_a", 10, None)[0]] == ["dead"]


def test_recording_never_raises(aws_env: dict[str, str], clock: Clock) -> None:
    missing = DynamoDeliveryLog("no-such-table", clock=clock)
    missing.record(_attempt("wh_a", "e-1", 5, "dead"))  # logged and counted, not raised (the port's promise)


def test_a_claim_is_won_once_lapses_after_a_crash_and_ends_as_a_tombstone(
    aws_env: dict[str, str], log: DynamoDeliveryLog, clock: Clock
) -> None:
    log.record(_attempt("wh_a", "e-1", 5, "dead"))
    assert log.claim_dead("tenant-a", "wh_a", "nope", "t0", None) is None

    first = log.claim_dead("tenant-a", "wh_a", "e-1", "t1", "k1")
    assert first is not None and first.envelope == _envelope("e-1") and first.state == "redriving"
    with pytest.raises(RedriveConflict) as held:
        log.claim_dead("tenant-a", "wh_a", "e-1", "t2", None)
    assert held.value.state == "redriving"

    log.release("tenant-a", "wh_a", "e-1", "t-not-mine")  # someone else's token changes nothing
    with pytest.raises(RedriveConflict):
        log.claim_dead("tenant-a", "wh_a", "e-1", "t2", None)
    log.release("tenant-a", "wh_a", "e-1", "t1")  # given back: dead, redrivable
    dead = log.get_dead("tenant-a", "wh_a", "e-1")
    assert dead is not None and dead.state == "dead" and dead.redrive_key is None

    assert log.claim_dead("tenant-a", "wh_a", "e-1", "t3", None) is not None
    clock.now += CLAIM_LAPSES_MS + 1  # t3's request crashed: its claim lapses
    assert log.claim_dead("tenant-a", "wh_a", "e-1", "t4", "k4") is not None
    log.mark_redriven("tenant-a", "wh_a", "e-1", "t3")  # the crashed one's late finish changes nothing
    assert log.get_dead("tenant-a", "wh_a", "e-1").state == "redriving"  # type: ignore[union-attr]

    log.mark_redriven("tenant-a", "wh_a", "e-1", "t4")
    tomb = log.get_dead("tenant-a", "wh_a", "e-1")
    assert tomb is not None and (tomb.state, tomb.envelope, tomb.redrive_key) == ("redriven", None, "k4")
    assert [a.outcome for a in log.list_attempts("tenant-a", "wh_a", 10, None)[0]] == ["redriven"]
    with pytest.raises(RedriveConflict) as done:
        log.claim_dead("tenant-a", "wh_a", "e-1", "t5", None)
    assert (done.value.state, done.value.redrive_key) == ("redriven", "k4")

    clock.now += 1000  # the event died again after the redrive: dead again, redrivable, listed as such
    log.record(_attempt("wh_a", "e-1", 5, "dead"))
    again = log.get_dead("tenant-a", "wh_a", "e-1")
    assert again is not None and again.state == "dead" and again.envelope == _envelope("e-1")
    assert [a.outcome for a in log.list_attempts("tenant-a", "wh_a", 10, None)[0]] == ["dead", "redriven"]
