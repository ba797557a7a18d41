"""Idempotency-Key on sends: one message per key, never queued twice; another body is a 422."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY
from tests.integration.worker_client import worker_client


def _public(key: str = API_KEY) -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": key})


def _connected_instance(api: TestClient) -> str:
    instance_id = api.post("/v1/instances", json={"name": "idem"}).json()["id"]
    worker_client().post("/worker-proxy/update-status", json={"instanceId": instance_id, "status": "CONNECTED"})
    return str(instance_id)


def test_same_key_same_body_is_one_message_sent_once(aws_env: dict[str, str]) -> None:
    api = _public()
    instance_id = _connected_instance(api)
    body = {"to": "5511988887777", "body": "pedido #42 confirmado"}
    first = api.post(f"/v1/instances/{instance_id}/messages", json=body, headers={"Idempotency-Key": "order-42"})
    again = api.post(f"/v1/instances/{instance_id}/messages", json=body, headers={"Idempotency-Key": "order-42"})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]

    worker = worker_client()
    claimed = worker.get(f"/worker-proxy/queued-messages?instanceId={instance_id}").json()["messages"]
    assert [m["id"] for m in claimed] == [first.json()["id"]]  # handed out once: sent once
    worker.post("/worker-proxy/mark-sent", json={"messageId": first.json()["id"], "wa_message_id": "W1"})
    replay = api.post(f"/v1/instances/{instance_id}/messages", json=body, headers={"Idempotency-Key": "order-42"})
    assert replay.json() == {"id": first.json()["id"], "status": "sent"}
    assert worker.get(f"/worker-proxy/queued-messages?instanceId={instance_id}").json()["messages"] == []
    listed = api.get(f"/v1/instances/{instance_id}/messages?direction=outbound").json()["messages"]
    assert len(listed) == 1


def test_same_key_other_body_is_refused_and_changes_nothing(aws_env: dict[str, str]) -> None:
    api = _public()
    instance_id = _connected_instance(api)
    headers = {"Idempotency-Key": "k-1"}
    api.post(f"/v1/instances/{instance_id}/messages", json={"to": "5511988887777", "body": "a"}, headers=headers)
    other = api.post(f"/v1/instances/{instance_id}/messages", json={"to": "5511988887777", "body": "b"},
                     headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    listed = api.get(f"/v1/instances/{instance_id}/messages?direction=outbound").json()["messages"]
    assert [m["body"] for m in listed] == ["a"]


def test_keys_are_scoped_to_tenant_and_instance(aws_env: dict[str, str]) -> None:
    api_a, api_b = _public(API_KEY), _public(OTHER_API_KEY)
    a1, a2, b1 = _connected_instance(api_a), _connected_instance(api_a), _connected_instance(api_b)
    body, headers = {"to": "5511988887777", "body": "x"}, {"Idempotency-Key": "shared-key"}
    ids = {api.post(f"/v1/instances/{i}/messages", json=body, headers=headers).json()["id"]
           for api, i in ((api_a, a1), (api_a, a2), (api_b, b1))}
    assert len(ids) == 3


def test_a_retry_after_the_instance_went_offline_gets_the_original(aws_env: dict[str, str]) -> None:
    api = _public()
    instance_id = _connected_instance(api)
    body, headers = {"to": "5511988887777", "body": "x"}, {"Idempotency-Key": "before-offline"}
    first = api.post(f"/v1/instances/{instance_id}/messages", json=body, headers=headers)
    worker_client().post("/worker-proxy/update-status", json={"instanceId": instance_id, "status": "DISCONNECTED"})
    retry = api.post(f"/v1/instances/{instance_id}/messages", json=body, headers=headers)
    assert retry.status_code == 202 and retry.json()["id"] == first.json()["id"]
    fresh = api.post(f"/v1/instances/{instance_id}/messages", json=body, headers={"Idempotency-Key": "new"})
    assert fresh.status_code == 409 and fresh.json()["error"]["code"] == "INSTANCE_DISCONNECTED"


def test_bad_keys_are_422(aws_env: dict[str, str]) -> None:
    api = _public()
    instance_id = _connected_instance(api)
    response = api.post(f"/v1/instances/{instance_id}/messages", json={"to": "5511988887777", "body": "x"},
                        headers={"Idempotency-Key": "k" * 500})
    assert response.status_code == 422
