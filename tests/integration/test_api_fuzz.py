"""Schemathesis against both apps' own OpenAPI, in process (ASGI), on fresh moto tables.

Every operation of /v1 and /worker-proxy gets generated requests, valid and invalid, with a
valid key or bearer, and each answer must be: no 5xx, a body matching the documented schema,
and a status code the operation documents. Per operation, tenant A gets a seeded instance
(CONNECTED, locked by a sidecar) with a claimed, a queued and an inbound message, a group, a
key and a webhook, and drawn ids are swapped for the seeded ones part of the time, so path and
body ids reach real objects instead of only ever answering 404. Runs are deterministic: a
fixed schemathesis seed and Hypothesis' derandomize, no example database.

Bugs the fuzzing found have plain regression tests in test_api_fuzz_regressions.py.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from tests.conftest import API_KEY, OTHER_API_KEY, WORKER_SECRET
from tests.integration.phone_requests import Held, StandInSidecar, found_everywhere
from zapgate_public_api.app import app as public_app
from zapgate_worker_proxy.app import app as worker_app

PUBLIC_AUTH = {"X-API-Key": API_KEY}
WORKER_AUTH = {"Authorization": f"Bearer {WORKER_SECRET}"}
OWNER = "fuzz-sidecar"
PHONE = "5511999999999"
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]

_CONFIG = {"seed": 20_261_125, "generation": {"mode": "all"}}
public_schema = schemathesis.openapi.from_asgi(
    "/v1/openapi.json", public_app, config=schemathesis.Config.from_dict(_CONFIG)
)
worker_schema = schemathesis.openapi.from_asgi(
    "/worker-proxy/openapi.json", worker_app, config=schemathesis.Config.from_dict(_CONFIG)
)
# The auth runs only need requests the route would otherwise accept: 401 must win over everything.
_POSITIVE = {"seed": 20_261_125, "generation": {"mode": "positive"}}
public_positive = schemathesis.openapi.from_asgi(
    "/v1/openapi.json", public_app, config=schemathesis.Config.from_dict(_POSITIVE)
)
worker_positive = schemathesis.openapi.from_asgi(
    "/worker-proxy/openapi.json", worker_app, config=schemathesis.Config.from_dict(_POSITIVE)
)

_BOUNDED = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    # aws_env (fresh tables) is function-scoped on purpose: one set of tables per operation.
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                              HealthCheck.filter_too_much, HealthCheck.data_too_large],
}  # fmt: skip
FUZZ = settings(max_examples=25, **_BOUNDED)
AUTH_RUN = settings(max_examples=3, **_BOUNDED)


# ------------------------------------------------------------------ seeded objects
@dataclass(frozen=True)
class Seed:
    instance_id: str
    lock_token: str
    message_ids: tuple[str, ...]  # claimed outbound, queued outbound, inbound
    path_ids: dict[str, str]  # other tenant-owned objects a path can name: group jid, key id, webhook id


@pytest.fixture
def seed(aws_env: dict[str, str]) -> Seed:
    """Made through the APIs themselves, so the items look exactly like production ones."""
    public = TestClient(public_app, headers=PUBLIC_AUTH)
    worker = TestClient(worker_app, headers=WORKER_AUTH)

    def ok(response: Any, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.text
        return response.json()

    instance_id = ok(public.post("/v1/instances", json={"name": "seed"}), 201)["id"]
    lock = {"instanceId": instance_id, "instance_owner": OWNER, "ttl_ms": 3_600_000}
    token = ok(worker.post("/worker-proxy/instance-lock/acquire", json=lock))["lock_token"]
    status = {"instanceId": instance_id, "status": "CONNECTED", "jid": f"{PHONE}@s.whatsapp.net", "lock_token": token}
    ok(worker.post("/worker-proxy/update-status", json=status))
    send_path = f"/v1/instances/{instance_id}/messages"
    claimed = ok(public.post(send_path, json={"to": PHONE, "body": "a"}), 202)["id"]
    poll = ok(worker.get("/worker-proxy/queued-messages", params={"instanceId": instance_id, "limit": 1}))
    assert [m["id"] for m in poll["messages"]] == [claimed]
    queued = ok(public.post(send_path, json={"to": PHONE, "body": "b"}), 202)["id"]
    chat = f"{PHONE}@s.whatsapp.net"
    inbound_body = {"instanceId": instance_id, "from": chat, "chat_id": chat, "body": "c", "wa_message_id": "SEED1"}
    inbound = ok(worker.post("/worker-proxy/inbound", json=inbound_body))["id"]
    group = "120363111111111111@g.us"
    ok(worker.post("/worker-proxy/groups", json={"instanceId": instance_id, "groups": [{"jid": group, "name": "g"}]}))
    key_id = ok(public.post("/v1/keys", json={"label": "seed"}), 201)["id"]
    webhook_id = ok(public.post("/v1/webhooks", json={"url": "https://hooks.example.com/seed"}), 201)["id"]
    return Seed(instance_id, token, (claimed, queued, inbound), {"jid": group, "key_id": key_id,
                                                                 "webhook_id": webhook_id})  # fmt: skip


@pytest.fixture
def answering_seed(seed: Seed, aws_env: dict[str, str]) -> Iterator[Seed]:
    """The seed, whose lock holder also answers requests to the phone: a push connection and a stand-in
    sidecar answering every operation (tests/integration/phone_requests.py), so those routes reach their
    answers instead of stopping at 501 worker_unsupported (a holder without the push channel)."""
    from zapgate_control.adapters.dynamodb.push_connections import DynamoPushConnectionStore

    connection_id = "fuzzconnection="
    DynamoPushConnectionStore(aws_env["FLEET_TABLE"]).register(OWNER, connection_id, int(time.time() * 1000))
    with StandInSidecar([Held(seed.instance_id, OWNER, seed.lock_token, connection_id)], found_everywhere):
        yield seed


_INSTANCE_KEYS = ("instance_id", "instanceId")
_MESSAGE_KEYS = ("message_id", "messageId")


def _aim(container: Any, data: st.DataObject, seed: Seed) -> None:
    """Swap drawn ids for seeded ones, part of the time (the draw decides: shrinkable, deterministic)."""
    if not isinstance(container, dict):
        return
    for key in _INSTANCE_KEYS:
        if key in container and data.draw(st.booleans(), label=f"seeded {key}"):
            container[key] = seed.instance_id
    for key in _MESSAGE_KEYS:
        if key in container and data.draw(st.booleans(), label=f"seeded {key}"):
            container[key] = data.draw(st.sampled_from(seed.message_ids), label=key)
    if container.get("lock_token") is not None and data.draw(st.booleans(), label="seeded lock_token"):
        container["lock_token"] = seed.lock_token
    if container.get("instance_owner") is not None and data.draw(st.booleans(), label="seeded owner"):
        container["instance_owner"] = OWNER


def aim(case: schemathesis.Case, data: st.DataObject, seed: Seed) -> None:
    _aim(case.path_parameters, data, seed)
    for name, value in seed.path_ids.items():
        if name in (case.path_parameters or {}) and data.draw(st.booleans(), label=f"seeded {name}"):
            case.path_parameters[name] = value
    _aim(case.query, data, seed)
    body = case.body
    _aim(body, data, seed)
    if not isinstance(body, dict):
        return
    if isinstance(body.get("locks"), list):
        for lock in body["locks"]:
            _aim(lock, data, seed)
    if isinstance(body.get("wait_ms"), int):
        body["wait_ms"] = 0  # heartbeat long-poll: a drawn 20 s wait per example would only burn time
    if isinstance(body.get("bytes_base64"), str) and data.draw(st.booleans(), label="valid base64"):
        body["bytes_base64"] = base64.b64encode(data.draw(st.binary(min_size=1, max_size=64))).decode()
    if case.operation.path.endswith("/messages") and "to" in body and data.draw(st.booleans(), label="valid to"):
        body["to"] = PHONE  # most drawn strings are no WhatsApp destination: let some sends through


# ------------------------------------------------------------------ fuzzing
@public_schema.given(data=st.data())
@public_schema.parametrize()
@FUZZ
def test_public_api_conforms_to_its_openapi(
    case: schemathesis.Case, data: st.DataObject, answering_seed: Seed
) -> None:
    aim(case, data, answering_seed)
    case.call_and_validate(headers=PUBLIC_AUTH, checks=CHECKS)


@worker_schema.given(data=st.data())
@worker_schema.parametrize()
@FUZZ
def test_worker_proxy_conforms_to_its_openapi(case: schemathesis.Case, data: st.DataObject, seed: Seed) -> None:
    aim(case, data, seed)
    case.call_and_validate(headers=WORKER_AUTH, checks=CHECKS)


# ------------------------------------------------------------------ authentication
def _without(headers: dict[str, Any] | None, name: str) -> dict[str, Any]:
    return {k: v for k, v in (headers or {}).items() if k.lower() != name.lower()}


def _assert_unauthorized(case: schemathesis.Case, response: Any) -> None:
    assert response.status_code == 401, (case.method, case.formatted_path, response.status_code, response.text)
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["code"] == "unauthorized"
    case.validate_response(response, checks=CHECKS)


# /v1/healthz is served without a key on purpose (test_tenant_isolation checks it reads no tenant data).
@public_positive.exclude(path="/v1/healthz").parametrize()
@AUTH_RUN
def test_public_api_answers_401_without_or_with_a_wrong_key(case: schemathesis.Case, aws_env: dict[str, str]) -> None:
    case.headers = _without(case.headers, "X-API-Key")
    # Missing, wrong, empty, and a near miss of a real key (one character short).
    for headers in ({}, {"X-API-Key": "wrong-key"}, {"X-API-Key": ""}, {"X-API-Key": OTHER_API_KEY[:-1]}):
        _assert_unauthorized(case, case.call(headers=headers))


@worker_positive.parametrize()
@AUTH_RUN
def test_worker_proxy_answers_401_without_or_with_a_wrong_bearer(
    case: schemathesis.Case, aws_env: dict[str, str]
) -> None:
    case.headers = _without(case.headers, "Authorization")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": WORKER_SECRET},
                    {"Authorization": f"Basic {WORKER_SECRET}"}, {"X-API-Key": API_KEY}):  # fmt: skip
        _assert_unauthorized(case, case.call(headers=headers))
