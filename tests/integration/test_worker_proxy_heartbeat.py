"""The sidecar heartbeat: renews every held lock in one call and long-polls for outbound work."""

from __future__ import annotations

import threading
import time

from tests.integration.worker_client import enqueue, make_instance, worker_client


def _acquire(client, instance_id: str, owner: str) -> str:
    return client.post("/worker-proxy/instance-lock/acquire",
                       json={"instanceId": instance_id, "instance_owner": owner, "ttl_ms": 30_000}).json()["lock_token"]


def test_heartbeat_renews_held_locks_and_reports_lost_ones(aws_env: dict[str, str]) -> None:
    client = worker_client()
    mine = make_instance(aws_env, "mine")
    theirs = make_instance(aws_env, "theirs")
    token = _acquire(client, mine["id"], "sidecar-a")
    _acquire(client, theirs["id"], "sidecar-b")
    response = client.post("/worker-proxy/heartbeat", json={
        "instance_owner": "sidecar-a", "ttl_ms": 30_000, "wait_ms": 0,
        "locks": [{"instanceId": mine["id"], "lock_token": token},
                  {"instanceId": theirs["id"], "lock_token": "guess"},
                  {"instanceId": "ghost", "lock_token": None}]})
    assert response.status_code == 200
    locks = {lock["instanceId"]: lock for lock in response.json()["locks"]}
    assert locks[mine["id"]]["acquired"] is True and locks[mine["id"]]["lock_token"] == token
    assert locks[theirs["id"]]["acquired"] is False and locks[theirs["id"]]["instance_owner"] == "sidecar-b"
    assert locks[theirs["id"]]["lock_token"] is None
    assert locks["ghost"]["acquired"] is False
    assert response.json()["ready"] == []


def test_heartbeat_reports_instances_with_work_until_claimed(aws_env: dict[str, str]) -> None:
    client = worker_client()
    instance = make_instance(aws_env)
    other = make_instance(aws_env, "other")
    token = _acquire(client, instance["id"], "sidecar-a")
    other_token = _acquire(client, other["id"], "sidecar-a")
    enqueue(aws_env, instance["id"], queue_owner="sidecar-a")
    enqueue(aws_env, other["id"], queue_owner="sidecar-z")  # addressed to someone else
    body = {"instance_owner": "sidecar-a", "wait_ms": 0,
            "locks": [{"instanceId": instance["id"], "lock_token": token},
                      {"instanceId": other["id"], "lock_token": other_token}]}
    assert client.post("/worker-proxy/heartbeat", json=body).json()["ready"] == [instance["id"]]
    claimed = client.get(f"/worker-proxy/queued-messages?instanceId={instance['id']}").json()["messages"]
    assert len(claimed) == 1
    assert client.post("/worker-proxy/heartbeat", json=body).json()["ready"] == []


def test_heartbeat_long_poll_returns_as_soon_as_work_arrives(aws_env: dict[str, str]) -> None:
    client = worker_client()
    instance = make_instance(aws_env)
    token = _acquire(client, instance["id"], "sidecar-a")

    def enqueue_later() -> None:
        time.sleep(0.4)
        enqueue(aws_env, instance["id"], queue_owner="sidecar-a")

    threading.Thread(target=enqueue_later).start()
    started = time.monotonic()
    response = client.post("/worker-proxy/heartbeat", json={
        "instance_owner": "sidecar-a", "wait_ms": 10_000,
        "locks": [{"instanceId": instance["id"], "lock_token": token}]})
    elapsed = time.monotonic() - started
    assert response.json()["ready"] == [instance["id"]]
    assert 0.3 < elapsed < 5  # woke on the message, not at the end of the wait


def test_idle_heartbeat_waits_the_full_time_and_rejects_overlong_waits(aws_env: dict[str, str]) -> None:
    client = worker_client()
    instance = make_instance(aws_env)
    token = _acquire(client, instance["id"], "sidecar-a")
    started = time.monotonic()
    response = client.post("/worker-proxy/heartbeat", json={
        "instance_owner": "sidecar-a", "wait_ms": 500, "locks": [{"instanceId": instance["id"], "lock_token": token}]})
    assert response.json()["ready"] == []
    assert time.monotonic() - started >= 0.45
    too_long = client.post("/worker-proxy/heartbeat", json={"instance_owner": "a", "wait_ms": 60_000, "locks": []})
    assert too_long.status_code == 422


def test_an_early_wake_up_waits_without_renewing(aws_env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore

    client = worker_client()
    instance = make_instance(aws_env)
    token = _acquire(client, instance["id"], "sidecar-a")
    store = DynamoInstanceStore(aws_env["INSTANCES_TABLE"])
    expires = store.get(instance["id"])["lock_expires_at_ms"]
    enqueue(aws_env, instance["id"], queue_owner="sidecar-a")
    response = client.post("/worker-proxy/heartbeat", json={
        "instance_owner": "sidecar-a", "wait_ms": 0, "renew": False,
        "locks": [{"instanceId": instance["id"], "lock_token": token}]}).json()
    assert response == {"locks": [], "ready": [instance["id"]], "commands": []}  # no command pending
    assert store.get(instance["id"])["lock_expires_at_ms"] == expires  # no write
