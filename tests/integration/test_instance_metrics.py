"""`GET /v1/instances/{id}/metrics` against moto: counts by hour from messages stored at known times.

Messages are written by the real stores with a fake clock (the times they record are the ones the
metrics count by), the instance through the public API; the route's "now" is its clock dependency,
overridden here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY
from tests.integration.test_worker_proxy_locks import FakeClock
from zapgate_control.ports.messages import InboundContent, MarkFields
from zapgate_core.contract.outbound_content import OutboundContent
from zapgate_core.domain.outbound import ClaimPolicy, MessageState

PHONE = "5511999999999"
CHAT = f"{PHONE}@s.whatsapp.net"


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(f"2026-12-03T{text}+00:00").astimezone(UTC).timestamp() * 1000)


NOW = _ms("15:30:00")


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def api(aws_env: dict[str, str]) -> Iterator[TestClient]:
    from zapgate_public_api import metrics
    from zapgate_public_api.app import app

    app.dependency_overrides[metrics.now_ms] = lambda: NOW
    try:
        yield TestClient(app, headers={"X-API-Key": API_KEY}, raise_server_exceptions=False)
    finally:
        app.dependency_overrides.pop(metrics.now_ms, None)


@pytest.fixture
def instance_id(api: TestClient) -> str:
    return _ok(api.post("/v1/instances", json={"name": "metrics"}), 201)["id"]


class Writer:
    """The production stores, writing at the times a test chooses."""

    def __init__(self, env: dict[str, str], instance_id: str) -> None:
        from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
        from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore

        self.clock = FakeClock(NOW)
        self.messages = DynamoMessageStore(env["MESSAGES_TABLE"], clock=self.clock)
        self.instances = DynamoInstanceStore(env["INSTANCES_TABLE"], clock=self.clock)
        self.instance_id = instance_id
        self.policy = ClaimPolicy(lease_ms=3_600_000 * 10, max_claims=3)

    def at(self, hhmmss: str) -> Writer:
        self.clock.now = _ms(hhmmss)
        return self

    def enqueue(self, body: str, instance_id: str | None = None) -> str:
        content = OutboundContent(to=PHONE, body=body)
        return self.messages.enqueue("tenant-a", instance_id or self.instance_id, content).id

    def claim(self, limit: int) -> list[str]:
        return [m.id for m in self.messages.claim(self.instance_id, limit, self.policy)]

    def mark(self, message_id: str, state: MessageState, wa_id: str | None = None) -> None:
        fields = MarkFields(wa_message_id=wa_id) if state is MessageState.SENT else MarkFields(error="boom")
        self.messages.mark(message_id, state, fields)

    def inbound(self, wa_id: str, instance_id: str | None = None) -> None:
        target = instance_id or self.instance_id
        content = InboundContent(from_=CHAT, chat_id=CHAT, chat_type="direct", body=wa_id, wa_message_id=wa_id)
        assert self.messages.put_inbound(str(uuid.uuid4()), target, "tenant-a", content)


def _hours(body: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {h["hour"][11:16]: {k: h[k] for k in ("sent", "failed", "pending", "received")} for h in body["by_hour"]}


def _story(env: dict[str, str], instance_id: str) -> Writer:
    """13:xx two sent-or-failed; 14:xx one sent (then delivered), one claimed, one queued, one inbound;
    15:xx two inbound; 12:59 (before a 3-hour window) one of each; another instance's messages."""
    w = Writer(env, instance_id)
    old = w.at("12:59:59").enqueue("too old")
    w.inbound("wa-too-old")
    a, b = w.at("13:10:00").enqueue("a"), w.at("13:11:00").enqueue("b")
    assert w.at("13:12:00").claim(10) == [old, a, b]  # the old one stays claimed (a long lease)
    w.mark(a, MessageState.SENT, "wa-a")
    w.at("13:12:30").mark(b, MessageState.FAILED)
    c, d = w.at("14:20:00").enqueue("c"), w.at("14:21:00").enqueue("d")
    assert w.at("14:22:00").claim(2) == [c, d]
    w.enqueue("e")  # stays queued
    w.mark(c, MessageState.SENT, "wa-c")
    assert w.at("14:40:00").messages.apply_receipt(instance_id, "wa-c", MessageState.DELIVERED)
    w.at("14:50:00").inbound("wa-1")
    w.at("15:05:00").inbound("wa-2")
    w.at("15:06:00").inbound("wa-3")
    other = w.instances.create("tenant-a", "other", 0, True).id
    w.at("15:07:00").inbound("wa-other", instance_id=other)
    w.enqueue("to other", instance_id=other)
    return w


def test_counts_by_hour_match_the_messages_stored_at_known_times(
    api: TestClient, instance_id: str, aws_env: dict[str, str]
) -> None:
    _story(aws_env, instance_id)
    body = _ok(api.get(f"/v1/instances/{instance_id}/metrics", params={"hours": 3}))
    assert body["window"] == {"hours": 3, "start": "2026-12-03T13:00:00.000Z"}
    assert _hours(body) == {
        "13:00": {"sent": 1, "failed": 1, "pending": 0, "received": 0},
        "14:00": {"sent": 1, "failed": 0, "pending": 2, "received": 1},  # delivered counts as sent
        "15:00": {"sent": 0, "failed": 0, "pending": 0, "received": 2},
    }
    assert body["totals"] == {"sent": 2, "failed": 1, "pending": 2, "received": 3}
    # The queue is now, not the window: d (claimed), e (queued) and the 12:59 message (claimed at 13:12).
    assert body["queue"] == {"depth": 3, "queued": 1, "claimed": 2,
                             "oldest_queued_at": "2026-12-03T12:59:59.000Z", "complete": True}
    assert body["last_seen_at"] == "2026-12-03T15:06:00.000Z"  # the newest inbound
    assert body["complete"] is True and body["counted_from"] == body["window"]["start"]
    assert body["messages_read"] == 8  # 5 outbound + 3 inbound in the window, nothing else
    assert body["read_units"] > 0

    # A wider window takes in the 12:59 messages (the old outbound is claimed: pending).
    wide = _ok(api.get(f"/v1/instances/{instance_id}/metrics", params={"hours": 4}))
    assert _hours(wide)["12:00"] == {"sent": 0, "failed": 0, "pending": 1, "received": 1}
    assert wide["totals"] == {"sent": 2, "failed": 1, "pending": 3, "received": 4}


def test_default_window_is_24_hours_of_zeros_for_a_quiet_instance(api: TestClient, instance_id: str) -> None:
    body = _ok(api.get(f"/v1/instances/{instance_id}/metrics"))
    assert body["window"]["hours"] == 24 and len(body["by_hour"]) == 24
    assert body["window"]["start"] == "2026-12-02T16:00:00.000Z"
    assert body["by_hour"][-1]["hour"] == "2026-12-03T15:00:00.000Z"
    assert body["totals"] == {"sent": 0, "failed": 0, "pending": 0, "received": 0}
    assert body["queue"] == {"depth": 0, "queued": 0, "claimed": 0, "oldest_queued_at": None, "complete": True}
    assert body["connection"] == {"status": "DISCONNECTED", "connected_since": None, "held": False}
    assert body["last_seen_at"] is None and body["messages_read"] == 0


def test_connected_since_and_whether_a_sidecar_still_holds_it(
    api: TestClient, instance_id: str, aws_env: dict[str, str]
) -> None:
    from zapgate_control.ports.instances import StatusReport

    w = Writer(aws_env, instance_id)
    w.at("15:00:00").instances.update_status(instance_id, StatusReport("CONNECTED", wa_jid=CHAT), None)
    url = f"/v1/instances/{instance_id}/metrics"
    stale = _ok(api.get(url))["connection"]
    # CONNECTED but nobody holds the lock: the sidecar stopped without saying so.
    assert stale == {"status": "CONNECTED", "connected_since": "2026-12-03T15:00:00.000Z", "held": False}
    acquired, _ = w.at("15:29:30").instances.acquire_lock(instance_id, "sidecar-1", 60_000)
    assert acquired
    body = _ok(api.get(url))
    assert body["connection"] == {**stale, "held": True}
    assert body["last_seen_at"] == "2026-12-03T15:00:00.000Z"  # the status report: no message yet

    w.at("15:10:00").instances.update_status(instance_id, StatusReport("DISCONNECTED", reason="closed"), None)
    gone = _ok(api.get(url))
    assert gone["connection"] == {"status": "DISCONNECTED", "connected_since": None, "held": True}
    assert gone["last_seen_at"] == "2026-12-03T15:10:00.000Z"


@pytest.mark.parametrize("hours", ["0", "-1", "169", "1000", "abc", "1.5", ""])
def test_window_bounds_are_validated(api: TestClient, instance_id: str, hours: str) -> None:
    response = api.get(f"/v1/instances/{instance_id}/metrics", params={"hours": hours})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_the_widest_window_is_a_week(api: TestClient, instance_id: str) -> None:
    body = _ok(api.get(f"/v1/instances/{instance_id}/metrics", params={"hours": 168}))
    assert len(body["by_hour"]) == 168 and body["window"]["start"] == "2026-11-26T16:00:00.000Z"


def test_unknown_and_other_tenants_instances_are_404(api: TestClient, instance_id: str) -> None:
    assert api.get("/v1/instances/00000000-0000-4000-8000-000000000000/metrics").status_code == 404
    other = TestClient(api.app, headers={"X-API-Key": OTHER_API_KEY}, raise_server_exceptions=False)
    response = other.get(f"/v1/instances/{instance_id}/metrics")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_capped_read_says_so_and_keeps_the_newest_hours_exact(
    api: TestClient, instance_id: str, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from zapgate_control.adapters.dynamodb import message_metrics as adapter
    from zapgate_control.services import instance_metrics

    w = Writer(aws_env, instance_id)
    for n, at in enumerate(("13:05:00", "14:05:00", "15:01:00", "15:02:00")):
        w.at(at).inbound(f"wa-{n}")
    monkeypatch.setattr(instance_metrics, "MAX_ITEMS_PER_DIRECTION", 3)
    monkeypatch.setattr(adapter, "PAGE_ITEMS", 2)  # and across pages
    body = _ok(api.get(f"/v1/instances/{instance_id}/metrics", params={"hours": 3}))
    assert body["complete"] is False
    assert body["counted_from"] == "2026-12-03T14:05:00.001Z"  # after the oldest message read
    assert [h["received"] for h in body["by_hour"]] == [0, 1, 2]  # the newest 3 read, 13:05 not
    assert body["messages_read"] == 3


def test_the_same_state_answers_the_same_body_within_the_hour(
    api: TestClient, instance_id: str, aws_env: dict[str, str]
) -> None:
    """Nothing in the answer ticks with the clock inside an hour (no "now", no seconds of uptime): a
    dashboard can compare answers, and the tenant-isolation test compares views of A before and after."""
    from zapgate_public_api import metrics

    _story(aws_env, instance_id)
    url = f"/v1/instances/{instance_id}/metrics"
    first = _ok(api.get(url))
    api.app.dependency_overrides[metrics.now_ms] = lambda: NOW + 29 * 60_000  # 15:59
    assert _ok(api.get(url)) == first


def test_a_read_stops_after_its_pages_whatever_the_messages_sizes(
    api: TestClient, instance_id: str, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from zapgate_control.adapters.dynamodb import message_metrics as adapter

    w = Writer(aws_env, instance_id)
    for n, at in enumerate(("14:05:00", "15:01:00", "15:02:00")):
        w.at(at).inbound(f"wa-{n}")
    monkeypatch.setattr(adapter, "PAGE_ITEMS", 1)
    monkeypatch.setattr(adapter, "MAX_PAGES", 2)  # as if big messages had filled 1 MB pages early
    body = _ok(api.get(f"/v1/instances/{instance_id}/metrics", params={"hours": 3}))
    assert body["complete"] is False and body["messages_read"] == 2
    assert body["counted_from"] == "2026-12-03T15:01:00.001Z"
    assert body["totals"]["received"] == 2
