"""GET /v1/webhooks/{id}/deliveries and POST …/deliveries/{event_id}/redrive against moto, through the real app.

Dead deliveries are written as the events processor writes them (stores.delivery_log.record, the port it
calls); the redriven copy is then taken from the template's EventsQueue and delivered by the real processor
(the devstack's SQS poller) to a real local receiver.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY
from tests.integration.background import BackgroundApp
from tests.integration.events_queue import sqs, take_all
from zapgate_control.ports.delivery_log import DeliveryAttempt
from zapgate_devstack.events_worker import EventsWorker
from zapgate_devstack.webhook_receiver import Receiver


def _public(key: str = API_KEY) -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": key}, raise_server_exceptions=False)


def _envelope(event_id: str) -> dict[str, Any]:
    return {"id": event_id, "type": "MESSAGE_INBOUND", "instanceId": "i-1", "timestamp": "2026-06-01T00:00:00.000Z",
            "payload": {"contact": {}, "message": {"id": "m-1", "type": "text", "text": "olá"}, "metadata": {}}}


def _died(webhook_id: str, tenant: str = "tenant-a", event_id: str | None = None) -> str:
    """Four failed attempts then the dead one, recorded as the processor records them."""
    from zapgate_control.wiring import get_stores

    event_id = event_id or str(uuid.uuid4())
    log = get_stores().delivery_log
    for n in range(1, 6):
        log.record(DeliveryAttempt(tenant, webhook_id, event_id, "MESSAGE_INBOUND", n, "HTTP 500",
                                   "dead" if n == 5 else "failed", _envelope(event_id) if n == 5 else None))
    return event_id


def _webhook(url: str = "https://hooks.example.com/a", key: str = API_KEY) -> dict[str, Any]:
    created = _public(key).post("/v1/webhooks", json={"url": url})
    assert created.status_code == 201, created.text
    return dict(created.json())


def _error(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    return str(body["error"]["code"])


@pytest.fixture
def env(aws_env: dict[str, str]) -> Iterator[dict[str, str]]:
    from zapgate_events import handler

    handler.deps.cache_clear()
    yield aws_env
    handler.deps.cache_clear()


def test_the_listing_shows_failed_and_dead_attempts_newest_first_to_their_tenant_only(env: dict[str, str]) -> None:
    hook = _webhook()
    event_id = _died(hook["id"])
    _webhook("https://hooks.example.com/b", key=OTHER_API_KEY)

    page = _public().get(f"/v1/webhooks/{hook['id']}/deliveries")
    assert page.status_code == 200, page.text
    deliveries = page.json()["deliveries"]
    assert [(d["attempt"], d["outcome"]) for d in deliveries] == [
        (5, "dead"), (4, "failed"), (3, "failed"), (2, "failed"), (1, "failed")]
    assert {(d["event_id"], d["event_type"], d["reason"]) for d in deliveries} == {
        (event_id, "MESSAGE_INBOUND", "HTTP 500")}
    assert deliveries[0]["at"].endswith("Z") and page.json()["next_cursor"] is None
    assert "envelope" not in deliveries[0] and "olá" not in page.text  # the listing never carries the event

    first = _public().get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 2}).json()
    assert len(first["deliveries"]) == 2 and first["next_cursor"]
    rest = _public().get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 10, "cursor": first["next_cursor"]})
    assert [d["attempt"] for d in rest.json()["deliveries"]] == [3, 2, 1]

    other = _public(OTHER_API_KEY).get(f"/v1/webhooks/{hook['id']}/deliveries")
    assert other.status_code == 404 and _error(other) == "not_found" and event_id not in other.text
    theirs = _public(OTHER_API_KEY).get("/v1/webhooks")
    assert hook["id"] not in theirs.text
    # A cursor is only good for the listing that handed it out.
    mine_too = _webhook("https://hooks.example.com/c")
    crossed = _public().get(f"/v1/webhooks/{mine_too['id']}/deliveries", params={"cursor": first["next_cursor"]})
    assert crossed.status_code == 400 and _error(crossed) == "invalid_cursor"


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"cursor": "c" * 3000}])
def test_the_listing_refuses_bad_input(env: dict[str, str], query: dict[str, str]) -> None:
    hook = _webhook()
    response = _public().get(f"/v1/webhooks/{hook['id']}/deliveries", params=query)
    assert response.status_code == 422 and _error(response) == "validation_error"


def test_an_empty_log_and_an_unknown_webhook(env: dict[str, str]) -> None:
    hook = _webhook()
    assert _public().get(f"/v1/webhooks/{hook['id']}/deliveries").json() == {"deliveries": [], "next_cursor": None}
    unknown = _public().get("/v1/webhooks/wh_00000000000000000000000000000000/deliveries")
    assert unknown.status_code == 404 and _error(unknown) == "not_found"
    # Log items share the webhooks' partition: their keys are not webhook ids anywhere in the API.
    log_key = f"dead%23{hook['id']}%23x"
    assert _public().get(f"/v1/webhooks/{log_key}/deliveries").status_code == 404
    assert _public().delete(f"/v1/webhooks/{log_key}").status_code == 404


def test_a_redrive_puts_exactly_one_copy_for_that_webhook_on_the_queue_once(env: dict[str, str]) -> None:
    hook = _webhook()
    event_id = _died(hook["id"])
    url = f"/v1/webhooks/{hook['id']}/deliveries/{event_id}/redrive"

    # Another tenant, an unknown event, an unknown webhook: 404, and nothing is sent.
    assert _public(OTHER_API_KEY).post(url).status_code == 404
    assert _public().post(f"/v1/webhooks/{hook['id']}/deliveries/{uuid.uuid4()}/redrive").status_code == 404
    assert _public().post(f"/v1/webhooks/wh_00000000000000000000000000000000/deliveries/{event_id}/redrive"
                          ).status_code == 404
    assert take_all(env["EVENTS_QUEUE_URL"]) == []

    done = _public().post(url, headers={"Idempotency-Key": "redrive-1"})
    assert done.status_code == 202, done.text
    assert done.json() == {"webhook_id": hook["id"], "event_id": event_id, "event_type": "MESSAGE_INBOUND",
                           "status": "queued"}
    again = _public().post(url)
    assert again.status_code == 409 and _error(again) == "already_redriven"
    replay = _public().post(url, headers={"Idempotency-Key": "redrive-1"})  # the same request, retried
    assert replay.status_code == 202 and replay.json() == done.json()
    other_key = _public().post(url, headers={"Idempotency-Key": "redrive-2"})
    assert other_key.status_code == 409

    taken = take_all(env["EVENTS_QUEUE_URL"])
    assert taken == [(_envelope(event_id), {"tenantId": "tenant-a", "eventType": "MESSAGE_INBOUND",
                                            "webhookId": hook["id"]})]
    listed = _public().get(f"/v1/webhooks/{hook['id']}/deliveries").json()["deliveries"]
    assert listed[0]["outcome"] == "redriven"


@pytest.mark.parametrize("path", [
    "/v1/webhooks/{hook}/deliveries/{long}/redrive",  # event id too long
    "/v1/webhooks/{long}/deliveries/e/redrive",  # webhook id too long
])
def test_a_redrive_refuses_bad_input(env: dict[str, str], path: str) -> None:
    hook = _webhook()
    response = _public().post(path.format(hook=hook["id"], long="x" * 300))
    assert response.status_code == 422 and _error(response) == "validation_error"
    too_long_key = _public().post(f"/v1/webhooks/{hook['id']}/deliveries/e/redrive",
                                  headers={"Idempotency-Key": "k" * 300})
    assert too_long_key.status_code == 422


def test_concurrent_redrives_send_it_once(env: dict[str, str]) -> None:
    hook = _webhook()
    event_id = _died(hook["id"])
    url = f"/v1/webhooks/{hook['id']}/deliveries/{event_id}/redrive"
    start = threading.Barrier(4)
    answers: list[int] = []

    def redrive() -> None:
        client = _public()
        start.wait()
        answers.append(client.post(url).status_code)

    threads = [threading.Thread(target=redrive) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [202, 409, 409, 409]
    assert len(take_all(env["EVENTS_QUEUE_URL"])) == 1


def test_a_queue_that_refuses_leaves_the_delivery_dead_and_redrivable(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from zapgate_control import settings, wiring

    hook = _webhook()
    event_id = _died(hook["id"])
    url = f"/v1/webhooks/{hook['id']}/deliveries/{event_id}/redrive"
    monkeypatch.setenv("EVENTS_QUEUE_URL", env["EVENTS_QUEUE_URL"] + "-gone")  # SQS answers: no such queue
    settings.get_settings.cache_clear()
    wiring.get_stores.cache_clear()
    refused = _public().post(url)
    assert refused.status_code == 503 and _error(refused) == "events_unavailable"

    monkeypatch.setenv("EVENTS_QUEUE_URL", env["EVENTS_QUEUE_URL"])
    settings.get_settings.cache_clear()
    wiring.get_stores.cache_clear()
    assert _public().get(f"/v1/webhooks/{hook['id']}/deliveries").json()["deliveries"][0]["outcome"] == "dead"
    assert _public().post(url).status_code == 202
    assert len(take_all(env["EVENTS_QUEUE_URL"])) == 1


def test_the_redriven_copy_is_delivered_by_the_processor_to_that_webhook_only(env: dict[str, str]) -> None:
    fixed, other = Receiver(out=lambda line: None), Receiver(out=lambda line: None)
    with BackgroundApp(fixed.app) as fixed_server, BackgroundApp(other.app) as other_server:
        hook = _webhook(f"{fixed_server.url}/hook")
        fixed.secret = hook["secret"]
        other.secret = _webhook(f"{other_server.url}/hook")["secret"]  # a second webhook of the tenant
        event_id = _died(hook["id"])
        assert _public().post(f"/v1/webhooks/{hook['id']}/deliveries/{event_id}/redrive").status_code == 202
        assert EventsWorker(sqs(), env["EVENTS_QUEUE_URL"]).drain().deleted == 1
    assert [(d.event_id, d.answered, d.signature_valid) for d in fixed.deliveries] == [(event_id, 200, True)]
    assert other.deliveries == []
