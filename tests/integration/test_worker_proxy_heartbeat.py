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
    expires = store.get(instance["id"]).lock.expires_at_ms
    enqueue(aws_env, instance["id"], queue_owner="sidecar-a")
    response = client.post("/worker-proxy/heartbeat", json={
        "instance_owner": "sidecar-a", "wait_ms": 0, "renew": False,
        "locks": [{"instanceId": instance["id"], "lock_token": token}]}).json()
    assert response == {"locks": [], "ready": [instance["id"]], "commands": []}  # no command pending
    assert store.get(instance["id"]).lock.expires_at_ms == expires  # no write


def test_one_heartbeat_renews_and_watches_a_thousand_locks(aws_env: dict[str, str]) -> None:
    """A sidecar running 1,000 instances lists every lock in its one heartbeat (the cap was 500)."""
    from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
    from zapgate_core.contract.worker_proxy import MAX_HEARTBEAT_LOCKS

    store = DynamoInstanceStore(aws_env["INSTANCES_TABLE"])
    locks = []
    for n in range(1_000):
        instance_id = store.create("tenant-a", f"n{n}", 0, True).id
        acquired, state = store.acquire_lock(instance_id, "sidecar-a", 30_000)
        assert acquired
        locks.append({"instanceId": instance_id, "lock_token": state.token})
    before = {i: store.get(i).lock.expires_at_ms for i in (locks[0]["instanceId"], locks[-1]["instanceId"])}
    enqueue(aws_env, locks[-1]["instanceId"], queue_owner="sidecar-a")  # work on the last one listed
    client = worker_client()
    time.sleep(0.01)
    answer = client.post("/worker-proxy/heartbeat", json={
        "instance_owner": "sidecar-a", "ttl_ms": 30_000, "wait_ms": 0, "locks": locks}).json()
    assert len(answer["locks"]) == 1_000 and all(lock["acquired"] for lock in answer["locks"])
    assert answer["ready"] == [locks[-1]["instanceId"]]
    assert all(store.get(i).lock.expires_at_ms > expires for i, expires in before.items())
    too_many = [{"instanceId": f"x{n}", "lock_token": None} for n in range(MAX_HEARTBEAT_LOCKS + 1)]
    assert client.post("/worker-proxy/heartbeat", json={"instance_owner": "sidecar-a", "locks": too_many}
                       ).status_code == 422


def test_the_wait_includes_the_renewals() -> None:
    """wait_ms counts from the request's arrival: slow renewals shorten the long-poll instead of adding
    to it, so a sidecar with many locks keeps its renew cycle (and its client timeout, wait + 10 s)."""
    from types import SimpleNamespace

    from zapgate_control.ports.instances import InstanceRecord
    from zapgate_control.services import heartbeat
    from zapgate_core.contract.worker_proxy import HeartbeatRequest, HeldLock
    from zapgate_core.domain.locks import LockState

    class SlowInstances:
        def renew_lock_item(self, instance_id: str, owner: str, token: str | None, ttl_ms: int):  # type: ignore[no-untyped-def]
            time.sleep(0.15)
            lock = LockState(owner=owner, token=token, expires_at_ms=2**40, fence=1)
            return True, lock, InstanceRecord(instance_id, "t", "n", 0, True, "CONNECTED", "", "", lock)

    messages = SimpleNamespace(owner_work=lambda owner: (set(), {}))
    request = HeartbeatRequest(instance_owner="sidecar-a", wait_ms=400,
                               locks=[HeldLock(instance_id=f"i{n}", lock_token="t") for n in range(4)])
    started = time.monotonic()
    answer = heartbeat.heartbeat(SlowInstances(), messages, request)  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    assert len(answer.locks) == 4 and all(lock.acquired for lock in answer.locks)
    assert 0.55 <= elapsed < 0.8  # 4 x 0.15 s of renewals already used the 0.4 s wait (was 0.6 + 0.4 s)
