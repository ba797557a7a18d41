"""Outbound queue: claim with a lease, mark sent/failed, lease expiry and its cap, concurrent polls."""

from __future__ import annotations

import threading

from tests.integration.test_worker_proxy_locks import FakeClock
from tests.integration.worker_client import enqueue, make_instance, worker_client
from zapgate_core.domain.outbound import ClaimPolicy, MessageState


def _messages(env: dict[str, str], clock: FakeClock | None = None):
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore

    return DynamoMessageStore(env["MESSAGES_TABLE"], clock=clock) if clock else DynamoMessageStore(
        env["MESSAGES_TABLE"]
    )


def test_poll_claims_in_order_and_hands_each_message_out_once(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    other = make_instance(aws_env, "other")
    first = enqueue(aws_env, instance["id"], body="one")
    second = enqueue(aws_env, instance["id"], to="120363012345678901-1234567890", body="two")
    media = enqueue(aws_env, instance["id"], body="", media_url="https://x.test/a.jpg", media_type="image",
                    mime_type="image/jpeg", file_name="a.jpg")
    enqueue(aws_env, other["id"], body="not yours")

    client = worker_client()
    response = client.get(f"/worker-proxy/queued-messages?instanceId={instance['id']}")
    assert response.status_code == 200
    messages = response.json()["messages"]
    assert [m["id"] for m in messages] == [first["id"], second["id"], media["id"]]
    assert messages[0] == {"id": first["id"], "to": "5511999999999", "body": "one", "media_url": None,
                           "media_type": None, "mime_type": None, "file_name": None}
    assert messages[2]["media_type"] == "image" and messages[2]["file_name"] == "a.jpg"

    assert client.get(f"/worker-proxy/queued-messages?instanceId={instance['id']}").json() == {"messages": []}
    assert client.get("/worker-proxy/queued-messages").status_code == 422


def test_limit_caps_a_batch(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    for n in range(5):
        enqueue(aws_env, instance["id"], body=str(n))
    client = worker_client()
    batch = client.get(f"/worker-proxy/queued-messages?instanceId={instance['id']}&limit=2").json()["messages"]
    assert [m["body"] for m in batch] == ["0", "1"]
    rest = client.get(f"/worker-proxy/queued-messages?instanceId={instance['id']}").json()["messages"]
    assert [m["body"] for m in rest] == ["2", "3", "4"]


def test_mark_sent_and_failed_lifecycle(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    sent = enqueue(aws_env, instance["id"], body="a")
    failed = enqueue(aws_env, instance["id"], body="b")
    unclaimed_later = enqueue(aws_env, instance["id"], body="c")
    client = worker_client()
    client.get(f"/worker-proxy/queued-messages?instanceId={instance['id']}&limit=2")

    ok = client.post("/worker-proxy/mark-sent", json={"messageId": sent["id"], "wa_message_id": "3EB0ABC",
                                                      "send_debug": {"to": "x", "ms": 12.5}})
    assert ok.status_code == 200
    assert ok.json() == {"id": sent["id"], "status": "sent"}
    repeat = client.post("/worker-proxy/mark-sent", json={"messageId": sent["id"], "wa_message_id": "3EB0ABC"})
    assert repeat.status_code == 200  # a retried mark-sent is harmless

    bad = client.post("/worker-proxy/mark-failed", json={"messageId": failed["id"], "error": "lid_without_mapping",
                                                         "send_debug": {"blob": "x" * 10_000}})
    assert bad.json() == {"id": failed["id"], "status": "failed"}

    stored = _messages(aws_env).item(sent["id"])
    assert stored["state"] == "sent" and stored["wa_message_id"] == "3EB0ABC"
    assert "queue_pk" not in stored  # left the sparse queue index
    stored_failed = _messages(aws_env).item(failed["id"])
    assert stored_failed["error"] == "lid_without_mapping"
    assert len(stored_failed["send_debug"]) <= 4_000

    conflict = client.post("/worker-proxy/mark-failed", json={"messageId": sent["id"], "error": "late"})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "message_not_claimed"
    not_claimed = client.post("/worker-proxy/mark-sent", json={"messageId": unclaimed_later["id"]})
    assert not_claimed.status_code == 409
    assert _messages(aws_env).item(unclaimed_later["id"])["state"] == "queued"
    assert client.post("/worker-proxy/mark-sent", json={"messageId": "ghost"}).status_code == 404
    assert client.post("/worker-proxy/mark-sent", json={}).status_code == 422


def test_expired_lease_is_handed_out_again_then_failed_after_max_claims(aws_env: dict[str, str]) -> None:
    clock = FakeClock()
    store = _messages(aws_env, clock)
    policy = ClaimPolicy(lease_ms=60_000, max_claims=3)
    instance = make_instance(aws_env)
    message = enqueue(aws_env, instance["id"])

    assert [m.id for m in store.claim(instance["id"], 10, policy)] == [message["id"]]
    clock.now += 59_999
    assert store.claim(instance["id"], 10, policy) == []  # lease still live
    clock.now += 2
    again = store.claim(instance["id"], 10, policy)
    assert [m.id for m in again] == [message["id"]] and again[0].claim_count == 2
    clock.now += 60_001
    assert store.claim(instance["id"], 10, policy)[0].claim_count == 3
    clock.now += 60_001
    assert store.claim(instance["id"], 10, policy) == []
    exhausted = store.item(message["id"])
    assert exhausted["state"] == MessageState.FAILED.value
    assert exhausted["error"] == "lease_expired"
    assert "queue_pk" not in exhausted


def test_a_sidecar_that_died_mid_send_does_not_block_the_queue(aws_env: dict[str, str]) -> None:
    clock = FakeClock()
    store = _messages(aws_env, clock)
    policy = ClaimPolicy(lease_ms=1_000, max_claims=3)
    instance = make_instance(aws_env)
    stuck = enqueue(aws_env, instance["id"], body="stuck")
    clock.now += 1
    later = enqueue(aws_env, instance["id"], body="later")
    assert [m.id for m in store.claim(instance["id"], 1, policy)] == [stuck["id"]]
    assert [m.id for m in store.claim(instance["id"], 1, policy)] == [later["id"]]


def test_concurrent_polls_never_share_a_message(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    ids = {enqueue(aws_env, instance["id"], body=str(n))["id"] for n in range(12)}
    store = _messages(aws_env)
    policy = ClaimPolicy()
    barrier = threading.Barrier(4)
    batches: list[list[str]] = []

    def poll() -> None:
        barrier.wait()
        batches.append([m.id for m in store.claim(instance["id"], 12, policy)])

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    handed_out = [i for batch in batches for i in batch]
    assert sorted(handed_out) == sorted(ids)  # every message once, none twice


def test_receipts_move_sent_messages_forward_only(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    other = make_instance(aws_env, "other")
    message = enqueue(aws_env, instance["id"])
    unsent = enqueue(aws_env, instance["id"], body="still queued")
    client = worker_client()
    client.get(f"/worker-proxy/queued-messages?instanceId={instance['id']}&limit=1")
    client.post("/worker-proxy/mark-sent", json={"messageId": message["id"], "wa_message_id": "WA-1"})

    def state(message_id: str) -> str:
        return str(_messages(aws_env).item(message_id)["state"])

    def report(instance_id: str, *receipts: tuple[str, str]) -> int:
        response = client.post("/worker-proxy/receipts", json={
            "instanceId": instance_id, "receipts": [{"wa_message_id": w, "kind": k} for w, k in receipts]})
        assert response.status_code == 200
        return int(response.json()["updated"])

    assert report(other["id"], ("WA-1", "delivered")) == 0  # another instance's id space
    assert state(message["id"]) == "sent"
    assert report(instance["id"], ("WA-1", "delivered"), ("WA-unknown", "delivered"), ("WA-1", "retry")) == 1
    assert state(message["id"]) == "delivered"
    assert report(instance["id"], ("WA-1", "read")) == 1
    assert state(message["id"]) == "read"
    assert report(instance["id"], ("WA-1", "delivered")) == 0  # late, out of order: no step back
    assert state(message["id"]) == "read"
    assert state(unsent["id"]) == "queued"
    assert client.post("/worker-proxy/receipts", json={"instanceId": instance["id"], "receipts": []}).status_code == 422
