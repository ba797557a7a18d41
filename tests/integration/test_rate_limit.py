"""Per-tenant rate limit of the public API, against moto, on a clock the test moves.

A small limit comes from RATE_LIMIT_PER_MINUTE (as template.yaml passes it); the limiter's
clock is replaced so window ends are exact and nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY

LIMIT = 3
WINDOW_START_MS = 1_800_000_000_000  # a minute boundary (divisible by 60 000)


class FakeClock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def _public(key: str | None) -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": key} if key is not None else {}, raise_server_exceptions=False)


def _reload_settings() -> None:
    from zapgate_control import settings, wiring

    settings.get_settings.cache_clear()
    wiring.get_stores.cache_clear()


@pytest.fixture
def clock(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    """RATE_LIMIT_PER_MINUTE=3 and a clock 15 s into a minute."""
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", str(LIMIT))
    _reload_settings()
    from zapgate_control.wiring import get_stores

    fake = FakeClock(WINDOW_START_MS + 15_000)
    monkeypatch.setattr(get_stores().rate_limiter, "clock", fake)
    yield fake
    _reload_settings()


@pytest.fixture
def api(clock: FakeClock) -> TestClient:
    return _public(API_KEY)


@pytest.fixture
def other(clock: FakeClock) -> TestClient:
    return _public(OTHER_API_KEY)


def spend(client: TestClient, n: int = LIMIT) -> None:
    for _ in range(n):
        response = client.get("/v1/instances")
        assert response.status_code == 200, response.text


def assert_limited(response: Any, retry_after: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {
        "error": {
            "code": "rate_limited",
            "message": f"rate limit of {LIMIT} requests per 60 s exceeded for this tenant; retry in {retry_after} s",
            "retry_after": retry_after,
        }
    }
    assert response.headers["Retry-After"] == str(retry_after)


# ------------------------------------------------------------------ the limit
def test_429_with_retry_after_once_the_budget_is_spent(api: TestClient, clock: FakeClock) -> None:
    spend(api)
    assert_limited(api.get("/v1/instances"), retry_after=45)
    assert_limited(api.post("/v1/instances", json={"name": "x"}), retry_after=45)  # every route, writes too
    assert_limited(api.post("/v1/keys"), retry_after=45)
    clock.ms += 44_500
    assert_limited(api.get("/v1/instances"), retry_after=1)  # rounded up, never 0
    clock.ms = WINDOW_START_MS + 60_000
    assert api.get("/v1/instances").json()["instances"] == []  # the refused POST created nothing


def test_the_window_resets_and_refusals_are_not_counted(api: TestClient, clock: FakeClock) -> None:
    spend(api)
    for _ in range(5):
        assert api.get("/v1/instances").status_code == 429
    clock.ms = WINDOW_START_MS + 60_000  # the next window starts
    spend(api)  # a full budget again: the five refusals spent none of it
    assert api.get("/v1/instances").status_code == 429


def test_the_budget_is_the_tenants_shared_by_its_keys_apart_from_other_tenants(
    api: TestClient, other: TestClient
) -> None:
    second = api.post("/v1/keys").json()["key"]  # 1 of 3
    spend(api, LIMIT - 1)
    assert _public(second).get("/v1/instances").status_code == 429  # a fresh key shares the tenant's budget
    assert api.get("/v1/instances").status_code == 429
    spend(other)  # tenant B still has all of its own
    assert other.get("/v1/instances").status_code == 429


def test_docs_and_bad_keys_are_not_limited_and_spend_nothing(api: TestClient, clock: FakeClock) -> None:
    for _ in range(LIMIT + 2):
        assert _public("wrong-key").get("/v1/instances").status_code == 401
        assert _public(None).get("/v1/instances").status_code == 401
    spend(api)  # unknown keys spent none of tenant A's budget
    assert api.get("/v1/instances").status_code == 429
    for path in ("/v1/openapi.json", "/v1/docs"):
        assert _public(None).get(path).status_code == 200
        assert api.get(path).status_code == 200


def test_one_counter_item_per_tenant_and_window_that_expires(api: TestClient, aws_env: dict[str, str]) -> None:
    from zapgate_control.aws import client

    spend(api, 2)
    items = client("dynamodb").scan(TableName=aws_env["API_KEYS_TABLE"])["Items"]
    counters = [i for i in items if i["key_hash"]["S"].startswith("rl#")]
    start_s = WINDOW_START_MS // 1000
    assert counters == [
        {"key_hash": {"S": f"rl#{start_s}#tenant-a"}, "hits": {"N": "2"}, "expires_at_epoch": {"N": str(start_s + 120)}}
    ]
    ttl = client("dynamodb").describe_time_to_live(TableName=aws_env["API_KEYS_TABLE"])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at_epoch"
    assert len(api.get("/v1/keys").json()["keys"]) == 1  # counters never show as keys


def test_the_template_default_and_zero_meaning_no_limit(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from zapgate_control.aws import client

    assert aws_env["RATE_LIMIT_PER_MINUTE"] == "600"  # RateLimitPerMinute's default, through the template
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "0")
    _reload_settings()
    try:
        api = _public(API_KEY)
        spend(api, 5)
        items = client("dynamodb").scan(TableName=aws_env["API_KEYS_TABLE"])["Items"]
        assert not [i for i in items if i["key_hash"]["S"].startswith("rl#")]  # and no counter writes
    finally:
        _reload_settings()


def test_a_throttled_counter_answers_429_not_500(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # DynamoDB throttles one item past ~1000 writes/s: only a tenant far beyond its limit gets there.
    from botocore.exceptions import ClientError

    from zapgate_control.adapters.dynamodb import rate_limits

    class Throttled:
        def update_item(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateItem")

    monkeypatch.setattr(rate_limits, "client", lambda service: Throttled())
    assert_limited(api.get("/v1/instances"), retry_after=45)


def test_sends_of_every_type_spend_the_budget_and_a_refused_one_queues_nothing(
    api: TestClient, clock: FakeClock, aws_env: dict[str, str]
) -> None:
    from tests.integration.worker_client import make_instance, worker_client

    instance = make_instance(aws_env)  # straight into the table: spends none of the budget
    worker_client().post("/worker-proxy/update-status", json={"instanceId": instance["id"], "status": "CONNECTED"})
    url = f"/v1/instances/{instance['id']}/messages"
    poll = {"to": "5511988887777", "type": "poll", "poll": {"name": "q", "options": ["a", "b"]}}
    for _ in range(LIMIT):
        assert api.post(url, json=poll).status_code == 202
    assert_limited(api.post(url, json=poll), retry_after=45)
    clock.ms = WINDOW_START_MS + 60_000
    assert [m["type"] for m in api.get(url).json()["messages"]] == ["poll"] * LIMIT
