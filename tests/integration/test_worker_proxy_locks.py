"""Instance locks: conditional writes only, one winner under real thread races, expiry, fencing."""

from __future__ import annotations

import threading
import time

from tests.integration.worker_client import make_instance, worker_client


class FakeClock:
    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self.now = start_ms

    def __call__(self) -> int:
        return self.now


def _store(env: dict[str, str], clock: FakeClock | None = None):
    from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore

    return DynamoInstanceStore(env["INSTANCES_TABLE"], clock=clock) if clock else DynamoInstanceStore(
        env["INSTANCES_TABLE"]
    )


def test_acquire_renew_release_over_http(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    client = worker_client()
    body = {"instanceId": instance["id"], "instance_owner": "host-a:1", "ttl_ms": 30_000}

    first = client.post("/worker-proxy/instance-lock/acquire", json=body).json()
    assert first["acquired"] is True
    assert first["instance_owner"] == "host-a:1"
    assert first["lock_token"]
    assert first["expires_at"].endswith("Z")
    assert first["fence"] == 1

    other = client.post("/worker-proxy/instance-lock/acquire", json={**body, "instance_owner": "host-b:2"}).json()
    assert other == {"acquired": False, "instance_owner": "host-a:1", "lock_token": None,
                     "expires_at": first["expires_at"], "fence": 1}

    again = client.post("/worker-proxy/instance-lock/acquire", json=body).json()
    assert again["acquired"] is True
    assert again["lock_token"] == first["lock_token"]  # the holder re-acquiring keeps its token
    assert again["fence"] == 1

    renewed = client.post("/worker-proxy/instance-lock/renew", json={**body, "lock_token": first["lock_token"]})
    assert renewed.status_code == 200
    assert renewed.json()["acquired"] is True
    # Old Node workers renew without a token.
    assert client.post("/worker-proxy/instance-lock/renew", json={**body, "lock_token": None}).json()["acquired"]

    stolen = client.post("/worker-proxy/instance-lock/renew",
                         json={**body, "instance_owner": "host-b:2", "lock_token": first["lock_token"]}).json()
    assert stolen["acquired"] is False
    wrong_token = client.post("/worker-proxy/instance-lock/renew", json={**body, "lock_token": "forged"}).json()
    assert wrong_token["acquired"] is False

    not_mine = client.post("/worker-proxy/instance-lock/release",
                           json={"instanceId": instance["id"], "instance_owner": "host-b:2", "lock_token": None})
    assert not_mine.status_code == 200
    assert not_mine.json() == {"released": False}
    mine = client.post("/worker-proxy/instance-lock/release",
                       json={"instanceId": instance["id"], "instance_owner": "host-a:1",
                             "lock_token": first["lock_token"]})
    assert mine.json() == {"released": True}

    taken = client.post("/worker-proxy/instance-lock/acquire", json={**body, "instance_owner": "host-b:2"}).json()
    assert taken["acquired"] is True
    assert taken["fence"] == 2
    assert taken["lock_token"] != first["lock_token"]


def test_unknown_instance_is_404_and_never_created(aws_env: dict[str, str]) -> None:
    client = worker_client()
    for path in ("acquire", "renew"):
        response = client.post(f"/worker-proxy/instance-lock/{path}",
                               json={"instanceId": "ghost", "instance_owner": "a", "ttl_ms": 5000})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert _store(aws_env).get("ghost") is None


def test_ttl_is_validated(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    response = worker_client().post("/worker-proxy/instance-lock/acquire",
                                    json={"instanceId": instance["id"], "instance_owner": "a", "ttl_ms": 5})
    assert response.status_code == 422


def test_expired_lock_can_be_taken_and_fence_grows_per_owner(aws_env: dict[str, str]) -> None:
    clock = FakeClock()
    store = _store(aws_env, clock)
    instance = make_instance(aws_env)

    ok, a = store.acquire_lock(instance["id"], "a", 10_000)
    assert ok and a.fence == 1
    clock.now += 9_999
    assert store.acquire_lock(instance["id"], "b", 10_000)[0] is False
    clock.now += 2
    ok, b = store.acquire_lock(instance["id"], "b", 10_000)
    assert ok and b.owner == "b" and b.fence == 2 and b.token != a.token
    # The stale owner cannot renew or release with its old token.
    assert store.renew_lock(instance["id"], "a", a.token, 10_000)[0] is False
    assert store.release_lock(instance["id"], "a", a.token) is False
    clock.now += 20_000
    ok, c = store.acquire_lock(instance["id"], "c", 10_000)
    assert ok and c.fence == 3


def test_expired_but_untaken_lock_is_still_renewable_by_its_owner(aws_env: dict[str, str]) -> None:
    clock = FakeClock()
    store = _store(aws_env, clock)
    instance = make_instance(aws_env)
    _, a = store.acquire_lock(instance["id"], "a", 1_000)
    clock.now += 5_000
    ok, renewed = store.renew_lock(instance["id"], "a", a.token, 1_000)
    assert ok and renewed.expires_at_ms == clock.now + 1_000 and renewed.fence == 1


def test_concurrent_acquires_have_exactly_one_winner(aws_env: dict[str, str]) -> None:
    store = _store(aws_env)
    for _round in range(3):
        instance = make_instance(aws_env)
        owners = [f"sidecar-{n}" for n in range(8)]
        barrier = threading.Barrier(len(owners))
        results: dict[str, bool] = {}

        def contend(owner: str, instance_id: str = instance["id"], barrier: threading.Barrier = barrier,
                    results: dict[str, bool] = results) -> None:
            barrier.wait()
            results[owner] = store.acquire_lock(instance_id, owner, 30_000)[0]

        threads = [threading.Thread(target=contend, args=(o,)) for o in owners]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [o for o, won in results.items() if won]
        assert len(winners) == 1
        assert store.get(instance["id"], consistent=True).lock.owner == winners[0]


def test_concurrent_http_acquires_have_exactly_one_winner(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    barrier = threading.Barrier(6)
    answers: list[dict] = []

    def contend(owner: str) -> None:
        client = worker_client()
        barrier.wait()
        answers.append(client.post("/worker-proxy/instance-lock/acquire",
                                   json={"instanceId": instance["id"], "instance_owner": owner}).json())

    threads = [threading.Thread(target=contend, args=(f"w{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(a["acquired"] for a in answers) == 1
    winner = next(a for a in answers if a["acquired"])
    assert all(a["instance_owner"] == winner["instance_owner"] for a in answers)


def test_real_expiry_over_http(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    client = worker_client()
    client.post("/worker-proxy/instance-lock/acquire",
                json={"instanceId": instance["id"], "instance_owner": "a", "ttl_ms": 1_000})
    time.sleep(1.1)
    taken = client.post("/worker-proxy/instance-lock/acquire",
                        json={"instanceId": instance["id"], "instance_owner": "b", "ttl_ms": 1_000}).json()
    assert taken["acquired"] is True and taken["fence"] == 2


def test_status_writes_are_fenced_by_the_lock_token(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    client = worker_client()
    lock = client.post("/worker-proxy/instance-lock/acquire",
                       json={"instanceId": instance["id"], "instance_owner": "a"}).json()
    qr = "data:image/png;base64,iVBORw0KGgo="

    ok = client.post("/worker-proxy/update-status", json={"instanceId": instance["id"], "status": "CONNECTING",
                                                          "qr_code": qr, "lock_token": lock["lock_token"]})
    assert ok.status_code == 200
    assert _store(aws_env).get(instance["id"]).qr_code == qr

    stale = client.post("/worker-proxy/update-status", json={"instanceId": instance["id"], "status": "CONNECTED",
                                                             "lock_token": "an-old-token"})
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale_lock_token"
    assert _store(aws_env).get(instance["id"]).status == "CONNECTING"

    # The Node worker's exact call: no token, QR cleared on open.
    node = client.post("/worker-proxy/update-status",
                       json={"instanceId": instance["id"], "status": "CONNECTED", "qr_code": None,
                             "jid": "5511999999999:3@s.whatsapp.net", "push_name": "Shop"})
    assert node.status_code == 200
    stored = _store(aws_env).get(instance["id"])
    assert stored.status == "CONNECTED"
    assert stored.qr_code is None
    assert stored.wa_jid == "5511999999999:3@s.whatsapp.net"
    assert stored.push_name == "Shop"


def test_update_status_rejects_bad_input(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    client = worker_client()
    assert client.post("/worker-proxy/update-status",
                       json={"instanceId": "ghost", "status": "CONNECTED"}).status_code == 404
    assert client.post("/worker-proxy/update-status",
                       json={"instanceId": instance["id"], "status": "ONLINE"}).status_code == 422
    assert client.post("/worker-proxy/update-status",
                       json={"instanceId": instance["id"], "status": "CONNECTING",
                             "qr_code": "javascript:alert(1)"}).status_code == 422
    assert _store(aws_env).get(instance["id"]).status == "DISCONNECTED"
