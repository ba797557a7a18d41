"""The sidecars' push channel against moto: the SidecarPushFunction's routes as API Gateway invokes them,
and the wake-ups the worker-proxy and the public API post through moto's management API (it records
what each connection got). The sidecar's end is tested in tests/unit/test_push_channel.py and the
whole path through `make run` in tests/e2e/test_push_channel.py."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, WORKER_SECRET
from tests.integration.management_api import pushed
from tests.integration.worker_client import make_instance, worker_client
from zapgate_devstack.events_worker import LambdaContext

BEARER = {"Authorization": f"Bearer {WORKER_SECRET}"}


@pytest.fixture
def env(aws_env: dict[str, str]) -> Iterator[dict[str, str]]:
    from zapgate_push import handler

    handler.deps.cache_clear()
    yield aws_env
    handler.deps.cache_clear()


def _cid() -> str:
    return f"s{uuid.uuid4().hex[:14]}="


def _event(route: str, connection_id: str, headers: dict[str, str] | None = None,
           body: str | None = None) -> dict[str, Any]:
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    event: dict[str, Any] = {
        "requestContext": {"routeKey": route, "eventType": event_type, "connectionId": connection_id,
                           "requestId": str(uuid.uuid4()), "stage": "sidecars", "apiId": "pushapi"},
        "isBase64Encoded": False,
    }
    if route == "$connect":
        event["headers"] = {"Host": "pushapi.execute-api.us-east-1.amazonaws.com", **(headers or {})}
    if body is not None:
        event["body"] = body
    return event


def _invoke(event: dict[str, Any]) -> dict[str, Any]:
    from zapgate_push.handler import handler

    return dict(handler(event, LambdaContext(function_name="SidecarPushFunction-test")))


def _connect(connection_id: str, owner: str | None, headers: dict[str, str] | None = None) -> int:
    sent = {**BEARER, **({"X-Instance-Owner": owner} if owner else {}), **(headers or {})}
    return int(_invoke(_event("$connect", connection_id, sent))["statusCode"])


def _disconnect(connection_id: str) -> int:
    return int(_invoke(_event("$disconnect", connection_id))["statusCode"])


def _connections(env: dict[str, str]) -> dict[str, str]:
    from zapgate_control.adapters.dynamodb.push_connections import DynamoPushConnectionStore

    return DynamoPushConnectionStore(env["FLEET_TABLE"]).connections()


def _public() -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": API_KEY}, raise_server_exceptions=False)


def _hold(instance_id: str, owner: str) -> dict[str, Any]:
    answer = worker_client().post("/worker-proxy/instance-lock/acquire",
                                  json={"instanceId": instance_id, "instance_owner": owner, "ttl_ms": 30_000})
    assert answer.status_code == 200 and answer.json()["acquired"], answer.text
    return dict(answer.json())


# ------------------------------------------------------------------ $connect, $disconnect, keepalives


@pytest.mark.parametrize(("headers", "owner", "status"), [
    ({"Authorization": "Bearer wrong-secret"}, "sc-1", 401),
    ({"Authorization": ""}, "sc-1", 401),
    ({}, None, 400),  # no X-Instance-Owner: the control plane could not address it
    ({}, "x" * 201, 400),
])
def test_connect_is_refused_without_the_secret_or_an_owner(
    env: dict[str, str], headers: dict[str, str], owner: str | None, status: int
) -> None:
    assert _connect(_cid(), owner, headers) == status
    assert _connections(env) == {}  # nothing stored


def test_a_joining_sidecar_is_announced_to_the_others_a_rotation_is_not(env: dict[str, str]) -> None:
    first, second, second_rotated = _cid(), _cid(), _cid()
    assert _connect(first, "sc-1") == 200
    assert _connect(second, "sc-2") == 200
    assert _connections(env) == {"sc-1": first, "sc-2": second}
    assert pushed(first) == [{"type": "discover", "reason": "sidecar_joined"}]  # the fair share changed
    assert pushed(second) == []  # nobody tells a sidecar about itself
    # Make-before-break: the new connection of sc-2 replaces the old one, then the old one closes.
    assert _connect(second_rotated, "sc-2") == 200
    assert _disconnect(second) == 200
    assert _connections(env) == {"sc-1": first, "sc-2": second_rotated}
    assert pushed(first) == [{"type": "discover", "reason": "sidecar_joined"}]  # neither joined nor left


def test_a_connection_that_closes_unreplaced_is_a_sidecar_that_left(env: dict[str, str]) -> None:
    first, second = _cid(), _cid()
    assert _connect(first, "sc-1") == 200 and _connect(second, "sc-2") == 200
    assert _disconnect(second) == 200
    assert _connections(env) == {"sc-1": first}
    assert pushed(first)[-1] == {"type": "discover", "reason": "sidecar_left"}  # look again after its TTL
    assert _disconnect(second) == 200  # API Gateway may repeat it: nothing more happens
    assert len(pushed(first)) == 2



def test_a_sidecar_that_left_stops_counting_in_the_fair_share_at_once(env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.sidecar_presence import DynamoSidecarPresenceStore

    fleet = DynamoSidecarPresenceStore(env["FLEET_TABLE"])
    now = int(time.time() * 1000)
    fleet.announce("sc-1", now, 180_000)
    fleet.announce("sc-2", now, 180_000)
    first, second, second_rotated = _cid(), _cid(), _cid()
    assert _connect(first, "sc-1") == 200 and _connect(second, "sc-2") == 200
    assert _connect(second_rotated, "sc-2") == 200 and _disconnect(second) == 200  # a rotation: still present
    assert sorted(fleet.live(now)) == ["sc-1", "sc-2"]
    assert _disconnect(second_rotated) == 200  # gone for real: not counted for 3 more minutes
    assert fleet.live(now) == ["sc-1"]


def test_a_keepalive_reads_and_writes_nothing(env: dict[str, str]) -> None:
    from zapgate_control.aws import client

    connection = _cid()
    assert _connect(connection, "sc-1") == 200
    calls: list[str] = []
    dynamodb = client("dynamodb")
    dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    try:
        answer = _invoke(_event("$default", connection, body='{"action": "keepalive"}'))
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb")
    assert answer == {"statusCode": 200} and calls == []  # no body: no route response is billed either


# ------------------------------------------------------------------ wake-ups from the control plane


def test_a_send_and_a_command_wake_the_lock_holder_only(env: dict[str, str]) -> None:
    instance = make_instance(env)["id"]
    holder, other = _cid(), _cid()
    assert _connect(holder, "sc-holder") == 200 and _connect(other, "sc-other") == 200
    _hold(instance, "sc-holder")
    before_other = pushed(other)
    api = _public()
    sent = api.post(f"/v1/instances/{instance}/messages", json={"to": "5511988887777", "body": "oi",
                                                                 "queue_if_offline": True})
    assert sent.status_code == 202, sent.text
    command = api.post(f"/v1/instances/{instance}/commands", json={"type": "fetch_groups"})
    assert command.status_code == 202, command.text
    assert pushed(holder)[-2:] == [{"type": "outbound", "instance_id": instance},
                                   {"type": "command", "instance_id": instance}]
    assert pushed(other) == before_other  # lock-holder wake-ups go to the holder alone


def test_without_a_lock_holder_a_send_wakes_nobody_and_still_queues(env: dict[str, str]) -> None:
    instance = make_instance(env)["id"]
    connection = _cid()
    assert _connect(connection, "sc-1") == 200
    sent = _public().post(f"/v1/instances/{instance}/messages", json={"to": "5511988887777", "body": "oi",
                                                                       "queue_if_offline": True})
    assert sent.status_code == 202
    assert pushed(connection) == []  # whoever takes the lock drains the queue when it connects


def test_instance_changes_that_matter_to_discovery_are_broadcast(env: dict[str, str]) -> None:
    connection = _cid()
    assert _connect(connection, "sc-1") == 200
    api = _public()
    created = api.post("/v1/instances", json={"name": "new"})
    assert created.status_code == 201
    instance = created.json()["id"]
    assert api.patch(f"/v1/instances/{instance}", json={"name": "renamed"}).status_code == 200  # not discovery's
    assert api.patch(f"/v1/instances/{instance}", json={"priority": 5}).status_code == 200
    assert api.delete(f"/v1/instances/{instance}").status_code == 204
    assert pushed(connection) == [{"type": "discover", "reason": "instances_changed"}] * 3


def test_a_released_lock_is_announced_to_every_other_sidecar(env: dict[str, str]) -> None:
    instance = make_instance(env)["id"]
    releaser, other = _cid(), _cid()
    assert _connect(releaser, "sc-1") == 200 and _connect(other, "sc-2") == 200
    lock = _hold(instance, "sc-1")
    releaser_before = pushed(releaser)  # sc-2 joining was announced to it
    answer = worker_client().post("/worker-proxy/instance-lock/release", json={
        "instanceId": instance, "instance_owner": "sc-1", "lock_token": lock["lock_token"]})
    assert answer.status_code == 200 and answer.json() == {"released": True}
    assert pushed(other)[-1] == {"type": "discover", "reason": "lock_released"}
    assert pushed(releaser) == releaser_before  # not told of its own release
    # A release that releases nothing (a stale token) announces nothing.
    before = len(pushed(other))
    worker_client().post("/worker-proxy/instance-lock/release", json={
        "instanceId": instance, "instance_owner": "sc-1", "lock_token": lock["lock_token"]})
    assert len(pushed(other)) == before


def test_a_gone_connection_is_forgotten_unless_it_may_still_be_connecting(env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.push_connections import DynamoPushConnectionStore
    from zapgate_control.services.sidecar_wakeups import CONNECT_GRACE_MS, SidecarWaker
    from zapgate_core.contract.sidecar_push import push_frame
    from zapgate_core.domain.live import PUSH_GONE

    class Gone:
        def post(self, connection_id: str, data: bytes) -> str:
            return PUSH_GONE

    store = DynamoPushConnectionStore(env["FLEET_TABLE"])
    now = int(time.time() * 1000)
    store.register("fresh", "c-fresh=", now)
    store.register("stale", "c-stale=", now - CONNECT_GRACE_MS - 1_000)
    waker = SidecarWaker(store, Gone())
    # API Gateway answers Gone while a $connect still runs: a young connection is kept.
    assert waker.wake("fresh", push_frame("outbound", "i")) is False
    assert waker.wake("stale", push_frame("outbound", "i")) is False
    assert store.connections() == {"fresh": "c-fresh="}
    assert waker.wake("nobody", push_frame("outbound", "i")) is False  # no channel: nothing to post to


def test_a_failing_management_api_never_fails_the_request(env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.push_connections import DynamoPushConnectionStore
    from zapgate_control.services.sidecar_wakeups import SidecarWaker
    from zapgate_core.contract.sidecar_push import push_frame

    class Broken:
        def post(self, connection_id: str, data: bytes) -> str:
            raise TimeoutError("read timeout")

    store = DynamoPushConnectionStore(env["FLEET_TABLE"])
    store.register("sc-1", "c-1=", int(time.time() * 1000))
    waker = SidecarWaker(store, Broken())
    assert waker.wake("sc-1", push_frame("command", "i")) is False
    assert waker.broadcast(push_frame("discover", reason="instances_changed")) == 0
    assert store.connections() == {"sc-1": "c-1="}  # a timeout is not a gone connection
