"""Worker-proxy: bearer auth on every route, error shape, settings and eligible-instances order."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.worker_client import make_instance, worker_client

ROUTES = [
    ("GET", "/worker-proxy/worker-settings"),
    ("GET", "/worker-proxy/eligible-instances"),
    ("POST", "/worker-proxy/update-status"),
    ("GET", "/worker-proxy/queued-messages?instanceId=x"),
    ("POST", "/worker-proxy/mark-sent"),
    ("POST", "/worker-proxy/mark-failed"),
    ("POST", "/worker-proxy/inbound"),
    ("POST", "/worker-proxy/contacts/resolve"),
    ("GET", "/worker-proxy/contacts/primary-jid?instanceId=x&jid=1@lid"),
    ("POST", "/worker-proxy/sessions/refresh"),
    ("POST", "/worker-proxy/upload-media"),
    ("POST", "/worker-proxy/instance-lock/acquire"),
    ("POST", "/worker-proxy/instance-lock/renew"),
    ("POST", "/worker-proxy/instance-lock/release"),
    ("POST", "/worker-proxy/heartbeat"),
    ("POST", "/worker-proxy/receipts"),
    ("POST", "/worker-proxy/commands/ack"),
    ("POST", "/worker-proxy/groups"),
    ("POST", "/worker-proxy/requests/claim"),
    ("POST", "/worker-proxy/requests/answer"),
    ("POST", "/worker-proxy/inbound-changes"),
    ("GET", "/worker-proxy/instances/{instance_id}/settings"),  # issue 13: the lock holder's instance settings
    ("POST", "/worker-proxy/own-messages"),  # issue 13: messages sent from the phone (zapgate-only)
    ("POST", "/worker-proxy/history"),  # issue 13: history sync batches (zapgate-only)
    ("POST", "/worker-proxy/messages/hold"),  # issue 13: pacing holds a claimed message (zapgate-only)
    ("GET", "/worker-proxy/contacts/wrote-first?instanceId=x&jid=y"),  # issue 13: pacing's first-contact cap
]


def test_every_contract_route_is_served() -> None:
    from zapgate_worker_proxy.app import app

    served = set(app.openapi()["paths"])
    assert {path.split("?")[0] for _, path in ROUTES} == served


def test_every_route_refuses_missing_or_wrong_bearer(aws_env: dict[str, str]) -> None:
    from zapgate_worker_proxy.app import app

    client = TestClient(app)
    for method, path in ROUTES:
        for authorization in (None, "Bearer wrong-secret"):
            headers = {"Authorization": authorization} if authorization is not None else {}
            response = client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, authorization)
            assert response.json()["error"]["code"] == "unauthorized"
            assert "test-worker-secret" not in response.text


@pytest.mark.parametrize("authorization", ["Basic abc", "Bearer ", "bearer", "Bearer test-worker-secret-0123456789x"])
def test_malformed_bearer_headers_are_refused(aws_env: dict[str, str], authorization: str) -> None:
    from zapgate_worker_proxy.app import app

    response = TestClient(app).get("/worker-proxy/worker-settings", headers={"Authorization": authorization})
    assert response.status_code == 401


def test_worker_settings_reports_the_fleet_cap(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from zapgate_control.settings import get_settings
    from zapgate_control.wiring import get_stores

    # push_url (zapgate extension): the template's SidecarPushApi, here the local gateway's stage.
    push = {"push_url": aws_env["SIDECAR_PUSH_URL"]}
    assert push["push_url"].endswith("/sidecars")
    assert worker_client().get("/worker-proxy/worker-settings").json() == {"max_active_instances": 0, **push}
    monkeypatch.setenv("MAX_ACTIVE_INSTANCES", "7")
    get_settings.cache_clear()
    get_stores.cache_clear()
    assert worker_client().get("/worker-proxy/worker-settings").json() == {"max_active_instances": 7, **push}


def test_worker_settings_without_a_push_channel_is_the_contracts_answer(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from zapgate_control.settings import get_settings
    from zapgate_control.wiring import get_stores

    monkeypatch.setenv("SIDECAR_PUSH_URL", "")
    get_settings.cache_clear()
    get_stores.cache_clear()
    assert worker_client().get("/worker-proxy/worker-settings").json() == {"max_active_instances": 0}


def test_eligible_instances_priority_desc_stable_ties_enabled_only(aws_env: dict[str, str]) -> None:
    low = make_instance(aws_env, "low", priority=1)
    tie_first = make_instance(aws_env, "tie-first", priority=5)
    tie_second = make_instance(aws_env, "tie-second", priority=5)
    make_instance(aws_env, "disabled", priority=100, enabled=False)
    high = make_instance(aws_env, "high", priority=9)
    negative = make_instance(aws_env, "negative", priority=-3)

    client = worker_client()
    response = client.get("/worker-proxy/eligible-instances?enabled=true&limit=50&order=priority.desc")
    assert response.status_code == 200
    ids = [i["id"] for i in response.json()["instances"]]
    assert ids == [high["id"], tie_first["id"], tie_second["id"], low["id"], negative["id"]]
    assert response.json()["instances"][0] == {"id": high["id"], "priority": 9, "owner": None}

    client.post("/worker-proxy/instance-lock/acquire",
                json={"instanceId": high["id"], "instance_owner": "sidecar-a", "ttl_ms": 30_000})
    owners = {i["id"]: i["owner"] for i in client.get("/worker-proxy/eligible-instances").json()["instances"]}
    assert owners[high["id"]] == "sidecar-a" and owners[low["id"]] is None

    limited = client.get("/worker-proxy/eligible-instances?limit=2").json()["instances"]
    assert [i["id"] for i in limited] == [high["id"], tie_first["id"]]
    assert client.get("/worker-proxy/eligible-instances?limit=0").status_code == 422


def test_eligible_instances_pages_past_the_limit_only_for_a_caller_that_pages(aws_env: dict[str, str]) -> None:
    """zapgate extension: `paged` / `cursor` walk every eligible instance, `limit` at a time, in the same order;
    the Node worker's call (no paging parameter) still gets the first `limit` and no cursor."""
    made = [make_instance(aws_env, f"i{n}", priority=n % 3) for n in range(7)]
    make_instance(aws_env, "disabled", enabled=False)
    client = worker_client()
    base = "/worker-proxy/eligible-instances?enabled=true&limit=3&order=priority.desc"
    everything = [i["id"] for i in client.get(base.replace("limit=3", "limit=50")).json()["instances"]]
    assert sorted(everything) == sorted(i["id"] for i in made)

    plain = client.get(base).json()
    assert set(plain) == {"instances"} and [i["id"] for i in plain["instances"]] == everything[:3]

    walked, pages, url = [], 0, f"{base}&paged=true"
    while True:
        page = client.get(url).json()
        pages += 1
        walked += [i["id"] for i in page["instances"]]
        if "next_cursor" not in page:
            break
        assert set(page) == {"instances", "next_cursor"}
        url = f"{base}&cursor={page['next_cursor']}"
    assert walked == everything and pages in (3, 4)  # 3+3+1 (a last, empty page is allowed)

    with_presence = client.get(f"{base}&paged=true&instance_owner=sidecar-a&announce=true").json()
    assert with_presence["sidecars"] == ["sidecar-a"] and with_presence["next_cursor"]
    bad = client.get(f"{base}&cursor=bm90LWEtY3Vyc29y")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"
    foreign = client.get("/v1/instances?limit=1")  # another listing's cursor is refused too
    assert foreign.status_code in (401, 404)


def test_eligible_instances_reach_a_thousand(aws_env: dict[str, str]) -> None:
    """One sidecar running 1,000 instances must see all of them: 500 per page (the `limit` cap), two pages."""
    from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore

    store = DynamoInstanceStore(aws_env["INSTANCES_TABLE"])
    ids = {store.create("tenant-a", f"n{n}", 0, True).id for n in range(1_000)}
    client = worker_client()
    base = "/worker-proxy/eligible-instances?enabled=true&limit=500&order=priority.desc"
    assert len(client.get(base).json()["instances"]) == 500  # the Node worker's call: unchanged
    assert client.get(base.replace("limit=500", "limit=501")).status_code == 422
    first = client.get(f"{base}&paged=true").json()
    second = client.get(f"{base}&cursor={first['next_cursor']}").json()
    seen = [i["id"] for i in first["instances"] + second["instances"]]
    assert len(seen) == 1_000 and set(seen) == ids
    if "next_cursor" in second:
        assert client.get(f"{base}&cursor={second['next_cursor']}").json()["instances"] == []


def _dynamodb_calls(env: dict[str, str]) -> Any:
    """Every DynamoDB call the app makes inside the block, as (operation, table)."""
    from zapgate_control.aws import client

    calls: list[tuple[str, str]] = []

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.name, params.get("TableName", "")))

    events = client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb.*", count)
    return calls, lambda: events.unregister("provide-client-params.dynamodb.*", count)


def test_eligible_instances_announce_records_presence_and_answers_the_fleet(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env, "one")
    client = worker_client()
    base = "/worker-proxy/eligible-instances?enabled=true&limit=50&order=priority.desc"

    calls, stop = _dynamodb_calls(aws_env)
    try:
        plain = client.get(base)  # the Node worker's call: the same answer and the same one Query as ever
    finally:
        stop()
    assert plain.json() == {"instances": [{"id": instance["id"], "priority": 0, "owner": None}]}
    assert calls == [("Query", aws_env["INSTANCES_TABLE"])]

    calls, stop = _dynamodb_calls(aws_env)
    try:
        # An owner without announce (a sidecar between announces): nothing extra read or written.
        assert client.get(f"{base}&instance_owner=sidecar-a").json() == plain.json()
        assert calls == [("Query", aws_env["INSTANCES_TABLE"])]
        calls.clear()
        first = client.get(f"{base}&instance_owner=sidecar-a&announce=true").json()
    finally:
        stop()
    assert first == {**plain.json(), "sidecars": ["sidecar-a"]}
    assert sorted(calls) == sorted([("PutItem", aws_env["FLEET_TABLE"]), ("Query", aws_env["FLEET_TABLE"]),
                                    ("Query", aws_env["INSTANCES_TABLE"])])
    assert not any(op == "Scan" for op, _ in calls)

    second = client.get(f"{base}&instance_owner=sidecar-b&announce=1").json()
    assert second["sidecars"] == ["sidecar-a", "sidecar-b"]
    assert client.get(f"{base}&instance_owner=sidecar-a&announce=true&leave=true").json() == plain.json()
    assert client.get(f"{base}&instance_owner=sidecar-b&announce=true").json()["sidecars"] == ["sidecar-b"]
    missing_owner = client.get(f"{base}&announce=true")
    assert missing_owner.status_code == 422 and missing_owner.json()["error"]["code"] == "instance_owner_required"


def test_expired_presence_is_not_answered_even_before_ttl_deletes_it(aws_env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.sidecar_presence import DynamoSidecarPresenceStore

    store = DynamoSidecarPresenceStore(aws_env["FLEET_TABLE"])
    store.announce("gone", now_ms=1_000, ttl_ms=180_000)
    store.announce("live", now_ms=100_000, ttl_ms=180_000)
    assert store.live(now_ms=181_000) == ["live"]


def test_malformed_json_is_400_and_missing_fields_422(aws_env: dict[str, str]) -> None:
    client = worker_client()
    response = client.post("/worker-proxy/instance-lock/acquire", content=b"{not json",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    response = client.post("/worker-proxy/instance-lock/acquire", json={"instanceId": "x"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert "instance_owner" in response.json()["error"]["message"]
    assert len(response.text) < 220  # the Node worker logs 220 characters of an error body


def test_unknown_route_has_the_error_shape(aws_env: dict[str, str]) -> None:
    response = worker_client().get("/worker-proxy/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
