"""The instance-settings channel (issue 13): settings_version, the lock holder's fenced read, the push frame
and the heartbeat's version report (contract/instance_settings.py, services/instance_settings.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, WORKER_SECRET
from tests.integration.management_api import pushed
from tests.integration.worker_client import make_instance, worker_client
from zapgate_devstack.events_worker import LambdaContext


@pytest.fixture
def env(aws_env: dict[str, str]) -> Iterator[dict[str, str]]:
    from zapgate_push import handler

    handler.deps.cache_clear()
    yield aws_env
    handler.deps.cache_clear()


def _public() -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": API_KEY}, raise_server_exceptions=False)


def _connect(owner: str) -> str:
    """A push connection for `owner` through the real $connect handler; its id."""
    from zapgate_push.handler import handler

    connection_id = f"s{uuid.uuid4().hex[:14]}="
    event = {"requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": connection_id,
                                "requestId": str(uuid.uuid4()), "stage": "sidecars", "apiId": "pushapi"},
             "headers": {"Authorization": f"Bearer {WORKER_SECRET}", "X-Instance-Owner": owner},
             "isBase64Encoded": False}
    assert handler(event, LambdaContext(function_name="SidecarPushFunction-test"))["statusCode"] == 200
    return connection_id


def _hold(instance_id: str, owner: str) -> str:
    answer = worker_client().post("/worker-proxy/instance-lock/acquire",
                                  json={"instanceId": instance_id, "instance_owner": owner, "ttl_ms": 30_000})
    assert answer.status_code == 200 and answer.json()["acquired"], answer.text
    return str(answer.json()["lock_token"])


def _settings(instance_id: str, owner: str | None, token: str | None) -> Any:
    params = {k: v for k, v in (("instanceOwner", owner), ("lockToken", token)) if v is not None}
    return worker_client().get(f"/worker-proxy/instances/{instance_id}/settings", params=params)


def test_only_the_live_lock_holder_reads_the_settings(env: dict[str, str]) -> None:
    instance = make_instance(env)["id"]
    assert _settings(instance, "sc-1", "no-lock").status_code == 409  # nobody holds it
    token = _hold(instance, "sc-1")
    answer = _settings(instance, "sc-1", token)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"instance_id": instance, "version": 0, "reject_calls": False, "proxy": None,
                             "pacing": None, "history_sync": None}
    refused = _settings(instance, "sc-1", "forged")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "lock_not_held"
    assert _settings(instance, "sc-2", token).status_code == 409  # another sidecar with a stolen token
    assert _settings(instance, "sc-1", None).status_code == 422  # the token is required
    assert _settings("no-such-instance", "sc-1", token).status_code == 404
    unauthenticated = TestClient(worker_client().app, raise_server_exceptions=False)
    assert unauthenticated.get(f"/worker-proxy/instances/{instance}/settings",
                               params={"instanceOwner": "sc-1", "lockToken": token}).status_code == 401


def test_a_settings_change_bumps_the_version_and_wakes_the_holder_only(env: dict[str, str]) -> None:
    instance = make_instance(env)["id"]
    holder, other = _connect("sc-holder"), _connect("sc-other")
    token = _hold(instance, "sc-holder")
    api = _public()
    assert api.patch(f"/v1/instances/{instance}", json={"name": "renamed"}).status_code == 200
    assert _settings(instance, "sc-holder", token).json()["version"] == 0  # not a sidecar setting
    def settings_frames(connection_id: str) -> list[dict[str, Any]]:  # (the holder also hears sc-other join)
        return [f for f in pushed(connection_id) if f.get("type") == "settings"]

    assert settings_frames(holder) == []
    assert api.patch(f"/v1/instances/{instance}", json={"reject_calls": True}).status_code == 200
    answer = _settings(instance, "sc-holder", token).json()
    assert (answer["version"], answer["reject_calls"]) == (1, True)
    assert settings_frames(holder) == [{"type": "settings", "instance_id": instance}]
    assert settings_frames(other) == []
    assert api.patch(f"/v1/instances/{instance}", json={"reject_calls": False}).status_code == 200
    assert _settings(instance, "sc-holder", token).json()["version"] == 2


def test_a_renewing_heartbeat_reports_each_locks_settings_version(env: dict[str, str]) -> None:
    instance = make_instance(env)["id"]
    token = _hold(instance, "sc-1")
    assert _public().patch(f"/v1/instances/{instance}", json={"reject_calls": True}).status_code == 200
    beat = worker_client().post("/worker-proxy/heartbeat", json={
        "instance_owner": "sc-1", "ttl_ms": 30_000, "locks": [{"instanceId": instance, "lock_token": token},
                                                              {"instanceId": "gone", "lock_token": "x"}]})
    assert beat.status_code == 200, beat.text
    versions = {lock["instanceId"]: lock["settings_version"] for lock in beat.json()["locks"]}
    assert versions == {instance: 1, "gone": None}
