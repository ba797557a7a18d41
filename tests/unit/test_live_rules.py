"""Live updates' pure rules: tickets, subscriptions, the INSTANCE_QR emission rule, and what the
processor does with a live-only event (fakes for storage; no AWS)."""

from __future__ import annotations

import hashlib
import json
import typing
from typing import Any

import pytest
from pydantic import ValidationError

from zapgate_core.contract.events import parse_event, parse_live_event
from zapgate_core.domain.events import EVENT_TYPES, INSTANCE_QR, instance_qr_event, pairing_changed
from zapgate_core.domain.live import (
    MAX_SUBSCRIBED,
    InvalidSubscription,
    error_message,
    instance_ids_from,
    new_ticket,
    ticket_key,
    ticket_tenant,
    wants,
)

QR = "data:image/png;base64,iVBORw0KGgo="


# ------------------------------------------------------------------ tickets
def test_a_ticket_is_random_and_its_key_is_its_sha256_only() -> None:
    tickets = {new_ticket() for _ in range(50)}
    assert len(tickets) == 50 and all(t.startswith("zlt_") and len(t) >= 40 for t in tickets)
    ticket = next(iter(tickets))
    key = ticket_key(ticket)
    assert key == "ticket#" + hashlib.sha256(ticket.encode()).hexdigest()
    assert ticket.removeprefix("zlt_") not in key


@pytest.mark.parametrize(
    ("consumed", "tenant"),
    [
        (None, None),  # unknown, or already used (the conditional delete found nothing)
        ({}, None),
        ({"ticket_tenant_id": "t1", "ttl": 1_000}, None),  # expires exactly now: refused
        ({"ticket_tenant_id": "t1", "ttl": 999}, None),  # expired, not yet swept by DynamoDB's TTL
        ({"ticket_tenant_id": "t1"}, None),  # no expiry: never valid
        ({"ticket_tenant_id": "t1", "ttl": "2000"}, None),
        ({"tenant_id": "t1", "ttl": 2_000}, None),  # a connection item, not a ticket
        ({"ticket_tenant_id": "t1", "ttl": 1_001}, "t1"),
    ],
)
def test_a_consumed_ticket_names_its_tenant_only_before_it_expires(consumed: Any, tenant: str | None) -> None:
    from zapgate_control.adapters.dynamodb.live_connections import ticket_from_item

    ticket = ticket_from_item(consumed)  # the item as the store reads it
    assert (ticket and ticket_tenant(ticket.tenant_id, ticket.expires_at_s, now_s=1_000)) == tenant


# ------------------------------------------------------------------ subscriptions
def test_instance_ids_come_repeated_or_comma_separated_and_are_deduplicated() -> None:
    assert instance_ids_from(None) is None
    assert instance_ids_from([]) is None and instance_ids_from(["", " , "]) is None  # = every instance
    assert instance_ids_from(["b,a", " a ", "c"]) == ["a", "b", "c"]
    assert instance_ids_from([f"i{n}" for n in range(MAX_SUBSCRIBED)]) is not None


@pytest.mark.parametrize(
    "values",
    ["a,b", {"a": 1}, [1], [None], ["x" * 201], [f"i{n}" for n in range(MAX_SUBSCRIBED + 1)], 7],
)
def test_malformed_subscriptions_are_refused_without_echoing_them(values: Any) -> None:
    with pytest.raises(InvalidSubscription) as refused:
        instance_ids_from(values)
    assert "xxxx" not in str(refused.value) and "i50" not in str(refused.value)


def test_a_connection_receives_its_subscribed_instances_or_all_of_them() -> None:
    assert wants(None, "i1") is True  # the connection's instance_ids
    assert wants([], "i1") is True
    assert wants(["i1", "i2"], "i2") is True
    assert wants(["i1"], "i2") is False
    assert wants(["i1"], None) is False


def test_errors_have_the_public_apis_shape() -> None:
    assert json.loads(error_message("not_found", "instance not found")) == {
        "type": "error", "error": {"code": "not_found", "message": "instance not found"}}


# ------------------------------------------------------------------ INSTANCE_QR
@pytest.mark.parametrize(
    ("before", "now", "changed"),
    [
        ({}, {"qr_code": QR}, True),
        ({"qr_code": QR}, {"qr_code": QR}, False),  # the same QR reported again
        ({"qr_code": QR}, {"qr_code": QR + "A"}, True),
        ({}, {"pairing_code": "ABCD-EFGH"}, True),
        ({"qr_code": QR}, {"qr_code": QR, "pairing_code": "ABCD-EFGH"}, True),
        ({"qr_code": QR}, {}, False),  # cleared (CONNECTED): INSTANCE_STATUS says it
        ({"qr_code": ""}, {"qr_code": None}, False),
        ({}, {}, False),
    ],
)
def test_instance_qr_is_news_only_when_a_new_code_was_stored(
    before: dict[str, Any], now: dict[str, Any], changed: bool
) -> None:
    assert pairing_changed(before, now) is changed


def test_the_qr_event_is_live_only_and_derived_from_the_codes() -> None:
    item = {"id": "inst-1", "status": "CONNECTING", "qr_code": QR, "status_at": "2025-11-24T16:00:00.000Z"}
    event = instance_qr_event(item)
    assert event is not None
    assert event["type"] == INSTANCE_QR and event["instanceId"] == "inst-1"
    assert event["payload"] == {"status": "CONNECTING", "qr": QR, "pairingCode": None, "expiresAt": None}
    assert instance_qr_event(dict(item))["id"] == event["id"]  # type: ignore[index]  # same QR, same id
    assert instance_qr_event({**item, "qr_code": QR + "A"})["id"] != event["id"]  # type: ignore[index]
    assert instance_qr_event({"id": "inst-1", "status": "CONNECTED"}) is None
    assert parse_live_event(json.dumps(event)).type == INSTANCE_QR  # the documented model
    with pytest.raises(ValidationError):
        parse_event(json.dumps(event))  # not a webhook event
    assert INSTANCE_QR not in EVENT_TYPES


def test_webhooks_can_only_subscribe_to_webhook_event_types() -> None:
    from zapgate_public_api.webhooks import EventType

    assert set(typing.get_args(EventType)) == set(EVENT_TYPES)


class _Publisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, list[dict[str, Any]]]] = []

    def publish(self, tenant_id: str, events: Any) -> int:
        self.published.append((tenant_id, list(events)))
        return len(events)

    def publish_to(self, tenant_id: str, event: dict[str, Any], webhook_ids: Any, **_: Any) -> int:
        raise AssertionError("no fan-out expected")


def test_status_changed_emits_the_qr_event_beside_the_status_event() -> None:
    from zapgate_control.services.emit import status_changed

    publisher = _Publisher()
    before = {"id": "i1", "tenant_id": "t1", "status": "DISCONNECTED"}
    fields = {"qr_code": QR, "pairing_code": None, "status_reason": None}
    status_changed(publisher, before, "CONNECTING", fields)
    ((tenant, events),) = publisher.published
    assert tenant == "t1" and [e["type"] for e in events] == ["INSTANCE_STATUS", "INSTANCE_QR"]
    assert "data:image" not in json.dumps(events[0])  # the status event never carries the QR

    publisher = _Publisher()
    status_changed(publisher, {**before, "status": "CONNECTING", "qr_code": QR}, "CONNECTING", fields)
    assert publisher.published == []  # same status, same QR: nothing
    status_changed(publisher, {**before, "status": "CONNECTING", "qr_code": QR}, "CONNECTING",
                   {**fields, "qr_code": QR + "B"})
    assert [[e["type"] for e in events] for _, events in publisher.published] == [["INSTANCE_QR"]]


# ------------------------------------------------------------------ the processor and live-only events
class _Webhooks:
    def __init__(self) -> None:
        from zapgate_control.ports.webhooks import Webhook

        self.hooks = [Webhook(id="wh_1", tenant_id="t1", url="https://app.example/h", events=None,
                              secret="whsec_x", created_at="")]

    def list_for_tenant(self, tenant_id: str) -> list[Any]:
        return self.hooks

    def get(self, tenant_id: str, webhook_id: str) -> Any:
        return self.hooks[0]


class _Sender:
    def __init__(self) -> None:
        self.posted: list[bytes] = []

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        self.posted.append(body)
        return None


class _Fanout:
    def __init__(self) -> None:
        self.pushed: list[tuple[str, str]] = []

    def push(self, tenant_id: str, envelope: dict[str, Any]) -> int:
        self.pushed.append((tenant_id, envelope["type"]))
        return 1


def _deps(sender: _Sender, fanout: _Fanout) -> Any:
    from zapgate_control.services import delivery

    return delivery.Deps(webhooks=_Webhooks(), messages=None, events=_Publisher(), redelivery=None,  # type: ignore[arg-type]
                         sender=sender, retry_base_s=0, live=fanout)  # type: ignore[arg-type]


def _record(envelope: dict[str, Any], receive_count: int = 1, **attributes: str) -> Any:
    from zapgate_control.services import delivery

    return delivery.Record(message_id="m", body=json.dumps(envelope), receipt_handle="r",
                           receive_count=receive_count, attributes={"tenantId": "t1", **attributes})


def test_the_processor_pushes_first_receives_and_never_webhooks_a_qr() -> None:
    from zapgate_control.services import delivery

    qr_event = instance_qr_event({"id": "i1", "status": "CONNECTING", "qr_code": QR})
    status = {"id": "s1", "type": "INSTANCE_STATUS", "instanceId": "i1", "timestamp": "t", "payload": {}}
    sender, fanout = _Sender(), _Fanout()
    deps = _deps(sender, fanout)
    assert delivery.handle(deps, _record(qr_event)) == 0  # type: ignore[arg-type]
    assert delivery.handle(deps, _record(qr_event, webhookId="wh_1")) == 0  # type: ignore[arg-type]
    assert sender.posted == []  # a QR never reaches a webhook
    assert delivery.handle(deps, _record(status)) == 1
    assert delivery.handle(deps, _record(status, receive_count=2)) == 1  # retried: webhook again, no push
    assert delivery.handle(deps, _record(status, webhookId="wh_1")) == 1  # a fanned-out copy: no push
    assert fanout.pushed == [("t1", INSTANCE_QR), ("t1", "INSTANCE_STATUS")]
    assert len(sender.posted) == 3 and all(b"data:image" not in body for body in sender.posted)
