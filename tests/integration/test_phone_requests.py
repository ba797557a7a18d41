"""Requests to the phone against moto: the public API's ask / GET and the worker-proxy's claim / answer,
with a stand-in sidecar thread playing the lock holder (the real sidecar's end: tests/e2e, sidecar tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY
from tests.integration.phone_requests import (
    Held,
    StandInSidecar,
    answer,
    claim,
    found_everywhere,
    held_instance,
    hold,
    pushed_requests,
)
from tests.integration.worker_client import make_instance, worker_client

CHECK = {"numbers": ["+55 11 99999-0001", "5511999990002"]}


def _public(key: str = API_KEY) -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": key}, raise_server_exceptions=False)


def _wait_ms(monkeypatch: pytest.MonkeyPatch, ms: int) -> None:
    from zapgate_control import settings, wiring

    monkeypatch.setenv("REQUEST_WAIT_MS", str(ms))
    settings.get_settings.cache_clear()
    wiring.get_stores.cache_clear()


@pytest.fixture
def env(aws_env: dict[str, str]) -> Iterator[dict[str, str]]:
    yield aws_env


def _check(instance_id: str, body: dict[str, Any] = CHECK, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return _public().post(f"/v1/instances/{instance_id}/contacts/check", json=body, headers=headers)


def _request_item(env: dict[str, str], request_id: str) -> dict[str, Any]:
    from zapgate_control.adapters.dynamodb.requests import DynamoRequestStore

    record = DynamoRequestStore(env["REQUESTS_TABLE"]).get(request_id)
    assert record is not None
    return record.__dict__


# ------------------------------------------------------------------ answered
def test_check_numbers_is_answered_by_the_lock_holder(env: dict[str, str]) -> None:
    held = held_instance(env)
    with StandInSidecar([held], found_everywhere) as sidecar:
        answered = _check(held.instance_id)
    assert answered.status_code == 200, answered.text
    assert answered.json() == {"numbers": [
        {"number": "+55 11 99999-0001", "exists": True, "jid": "5511999990001@s.whatsapp.net", "lid": None},
        {"number": "5511999990002", "exists": True, "jid": "5511999990002@s.whatsapp.net", "lid": None},
    ]}
    (ran,) = sidecar.ran
    assert ran["op"] == "check_numbers" and ran["args"] == CHECK and ran["instance_id"] == held.instance_id
    assert pushed_requests(held.connection_id or "") == [ran["request_id"]]  # one frame, to the holder only
    status = _public().get(f"/v1/instances/{held.instance_id}/requests/{ran['request_id']}")
    assert status.status_code == 200 and status.json()["state"] == "done"
    assert status.json()["result"] == found_everywhere(ran)["result"]  # the answer as the sidecar gave it


def test_chat_presence_is_answered(env: dict[str, str]) -> None:
    held = held_instance(env)
    with StandInSidecar([held], found_everywhere) as sidecar:
        sent = _public().post(f"/v1/instances/{held.instance_id}/chats/presence",
                              json={"chat": "5511999990001", "state": "composing"})
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"sent": True}
    assert sidecar.ran[0]["args"] == {"chat": "5511999990001", "state": "composing"}


@pytest.mark.parametrize(("code", "status"), [("not_on_whatsapp", 404), ("forbidden", 403), ("bad_request", 400),
                                              ("unreachable", 503), ("failed", 502)])
def test_a_refusal_is_its_code_in_the_one_error_shape(env: dict[str, str], code: str, status: int) -> None:
    held = held_instance(env)
    with StandInSidecar([held], lambda _: {"error": {"code": code, "message": "whatsapp said no"}}):
        refused = _check(held.instance_id)
    assert refused.status_code == status, refused.text
    error = refused.json()["error"]
    assert error["code"] == code and error["message"] == "whatsapp said no" and error["request_id"]


def test_a_malformed_answer_is_a_502_never_a_500(env: dict[str, str]) -> None:
    held = held_instance(env)
    with StandInSidecar([held], lambda _: {"result": {"numbers": "not a list"}}):
        refused = _check(held.instance_id)
    assert refused.status_code == 502 and refused.json()["error"]["code"] == "failed"


# ------------------------------------------------------------------ refused at once
def test_a_disconnected_instance_is_a_409_at_once(env: dict[str, str]) -> None:
    held = held_instance(env, connected=False)
    refused = _check(held.instance_id)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "instance_disconnected"
    assert refused.json()["error"]["status"] == "DISCONNECTED"
    assert pushed_requests(held.connection_id or "") == []


def test_a_connected_instance_nobody_holds_is_a_409(env: dict[str, str]) -> None:
    held = held_instance(env)
    worker_client().post("/worker-proxy/instance-lock/release", json={
        "instanceId": held.instance_id, "instance_owner": held.owner, "lock_token": held.token})
    refused = _check(held.instance_id)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "instance_disconnected"


def test_a_holder_without_a_push_connection_is_a_501_at_once(env: dict[str, str]) -> None:
    held = held_instance(env, push=False)  # the Node worker, or a sidecar in WAKE_MODE=longpoll
    started = time.monotonic()
    refused = _check(held.instance_id)
    assert refused.status_code == 501 and refused.json()["error"]["code"] == "worker_unsupported"
    assert time.monotonic() - started < 2  # never the 10 s wait


@pytest.mark.parametrize("body", [{"numbers": [f"55119999{i:05d}" for i in range(51)]}, {"numbers": []},
                                  {"numbers": ["not a number"]}, {"numbers": ["123"]}])
def test_bad_numbers_are_a_422_and_store_nothing(env: dict[str, str], body: dict[str, Any]) -> None:
    held = held_instance(env)
    refused = _check(held.instance_id, body)
    assert refused.status_code == 422, refused.text
    assert pushed_requests(held.connection_id or "") == []


def test_a_bad_chat_is_a_422(env: dict[str, str]) -> None:
    held = held_instance(env)
    refused = _public().post(f"/v1/instances/{held.instance_id}/chats/presence",
                             json={"chat": "nobody", "state": "composing"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_destination"
    bad_state = _public().post(f"/v1/instances/{held.instance_id}/chats/presence",
                               json={"chat": "5511999990001", "state": "dancing"})
    assert bad_state.status_code == 422


# ------------------------------------------------------------------ late answers, claims, at most once
def test_no_answer_in_time_is_a_504_with_the_request_id_and_get_tells_the_late_answer(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _wait_ms(monkeypatch, 300)
    held = held_instance(env)
    late = _check(held.instance_id)
    assert late.status_code == 504, late.text
    error = late.json()["error"]
    assert error["code"] == "instance_timeout"
    request_id = error["request_id"]
    assert pushed_requests(held.connection_id or "") == [request_id]
    url = f"/v1/instances/{held.instance_id}/requests/{request_id}"
    assert _public().get(url).json()["state"] == "pending"

    claimed = claim(held, request_id)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json() == {"request_id": request_id, "instance_id": held.instance_id, "op": "check_numbers",
                              "args": CHECK}
    assert _public().get(url).json()["state"] == "claimed"
    result = {"numbers": [{"number": "5511999990002", "exists": False}]}
    assert answer(held, request_id, result=result).json() == {"state": "done"}
    done = _public().get(url).json()
    assert done["state"] == "done" and done["result"] == result and done["op"] == "check_numbers"


def test_a_result_with_numbers_dynamodb_cannot_keep_is_a_422_or_stored_within_its_range(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the worker-proxy fuzz: a float below DynamoDB's smallest magnitude made boto3 raise decimal.Underflow
    # (a 500). Too large is the sender's error and stores nothing; too small is kept as 0.
    _wait_ms(monkeypatch, 100)
    held = held_instance(env)
    request_id = _check(held.instance_id).json()["error"]["request_id"]
    assert claim(held, request_id).status_code == 200
    huge = answer(held, request_id, result={"numbers": [], "score": 1e200})
    assert huge.status_code == 422 and huge.json()["error"]["code"] == "validation_error", huge.text
    assert _request_item(env, request_id)["state"] == "claimed"
    tiny = answer(held, request_id, result={"numbers": [], "score": 5e-324, "ratio": 0.1})
    assert tiny.json() == {"state": "done"}, tiny.text
    assert _request_item(env, request_id)["result"] == {"numbers": [], "score": 0, "ratio": 0.1}


def test_a_request_is_claimed_once(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _wait_ms(monkeypatch, 100)
    held = held_instance(env)
    request_id = _check(held.instance_id).json()["error"]["request_id"]
    assert claim(held, request_id).status_code == 200
    again = claim(held, request_id)
    assert again.status_code == 409 and again.json()["error"]["code"] == "request_not_claimable"
    assert again.json()["error"]["state"] == "claimed"


def test_only_the_lock_holder_claims_only_the_claimer_answers(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _wait_ms(monkeypatch, 100)
    held = held_instance(env)
    request_id = _check(held.instance_id).json()["error"]["request_id"]
    stranger = Held(held.instance_id, "sc-2", "not-the-token", None)
    refused = claim(stranger, request_id)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "lock_not_held"
    stale_token = Held(held.instance_id, held.owner, "an-old-token", None)
    assert claim(stale_token, request_id).status_code == 409
    # Not claimed yet: nobody may answer it, not even the holder.
    assert answer(held, request_id, result={"numbers": []}).status_code == 409
    assert claim(held, request_id).status_code == 200
    not_claimer = answer(stranger, request_id, result={"numbers": []})
    assert not_claimer.status_code == 409 and not_claimer.json()["error"]["code"] == "request_not_claimed"
    assert answer(stale_token, request_id, result={"numbers": []}).status_code == 409
    both = answer(held, request_id, result={"numbers": []}, error={"code": "failed"})
    assert both.status_code == 422
    first = answer(held, request_id, error={"code": "forbidden", "message": "no"})
    assert first.json() == {"state": "failed"}
    assert answer(held, request_id, error={"code": "forbidden", "message": "no"}).json() == {"state": "failed"}
    assert _request_item(env, request_id)["error_code"] == "forbidden"


def test_a_claim_whose_sidecar_lost_the_lock_is_outcome_unknown_never_run_again(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _wait_ms(monkeypatch, 100)
    held = held_instance(env)
    request_id = _check(held.instance_id).json()["error"]["request_id"]
    assert claim(held, request_id).status_code == 200
    # The claimer dies: its lock is released (or expires) and another sidecar takes the instance.
    worker_client().post("/worker-proxy/instance-lock/release", json={
        "instanceId": held.instance_id, "instance_owner": held.owner, "lock_token": held.token})
    successor = hold(env, held.instance_id, "sc-2")
    url = f"/v1/instances/{held.instance_id}/requests/{request_id}"
    assert _public().get(url).json()["state"] == "outcome_unknown"
    assert _request_item(env, request_id)["state"] == "outcome_unknown"  # written, not only answered
    assert claim(successor, request_id).status_code == 409  # never handed out again
    assert answer(held, request_id, result={"numbers": []}).status_code == 409  # a late answer changes nothing
    assert _public().get(url).json()["state"] == "outcome_unknown"


def test_a_pending_request_whose_sidecar_lost_the_lock_failed_unreachable(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _wait_ms(monkeypatch, 100)
    held = held_instance(env)
    request_id = _check(held.instance_id).json()["error"]["request_id"]
    worker_client().post("/worker-proxy/instance-lock/release", json={
        "instanceId": held.instance_id, "instance_owner": held.owner, "lock_token": held.token})
    state = _public().get(f"/v1/instances/{held.instance_id}/requests/{request_id}").json()
    assert state["state"] == "failed" and state["error"]["code"] == "unreachable"  # it never ran
    assert claim(held, request_id).status_code == 409


def test_an_idempotency_key_replays_the_same_request(env: dict[str, str]) -> None:
    held = held_instance(env)
    with StandInSidecar([held], found_everywhere) as sidecar:
        first = _check(held.instance_id, key="k-1")
        again = _check(held.instance_id, key="k-1")
        other = _check(held.instance_id, {"numbers": ["5511999990003"]}, key="k-1")
    assert first.status_code == 200 and again.status_code == 200
    assert again.json() == first.json()
    assert len(sidecar.ran) == 1  # ran once
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    # The replay is answered even after the instance disconnected.
    worker_client().post("/worker-proxy/update-status", json={"instanceId": held.instance_id,
                                                               "status": "DISCONNECTED", "lockToken": held.token})
    assert _check(held.instance_id, key="k-1").json() == first.json()


def test_a_replay_while_the_first_call_waits_gets_the_same_answer(env: dict[str, str]) -> None:
    held = held_instance(env)
    answers: list[Any] = []
    calls = [threading.Thread(target=lambda: answers.append(_check(held.instance_id, key="k")))
             for _ in range(2)]
    for call in calls:
        call.start()
    time.sleep(0.3)
    with StandInSidecar([held], found_everywhere) as sidecar:
        for call in calls:
            call.join(timeout=15)
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert len(sidecar.ran) == 1


# ------------------------------------------------------------------ tenants
def test_another_tenant_gets_404_on_every_request_route(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _wait_ms(monkeypatch, 100)
    held = held_instance(env)
    request_id = _check(held.instance_id).json()["error"]["request_id"]
    other = _public(OTHER_API_KEY)
    own_instance = make_instance(env, tenant="tenant-b")["id"]
    for response in (
        other.post(f"/v1/instances/{held.instance_id}/contacts/check", json=CHECK),
        other.post(f"/v1/instances/{held.instance_id}/chats/presence", json={"chat": "5511999990001",
                                                                               "state": "paused"}),
        other.get(f"/v1/instances/{held.instance_id}/requests/{request_id}"),
        other.get(f"/v1/instances/{own_instance}/requests/{request_id}"),  # its own instance, A's request
    ):
        assert response.status_code == 404, response.text
    assert len(pushed_requests(held.connection_id or "")) == 1  # B's calls asked nothing
