"""Pacing's holds (issue 13): a sidecar hands a claimed message back as `held` until a time; the API shows the
status and when it goes; the claim skips it until then and takes it after, without counting the hold as a
claim; and the contacts table answers who wrote first."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.conftest import API_KEY
from tests.integration.worker_client import enqueue, make_instance, worker_client


def _claim(instance_id: str) -> list[str]:
    answer = worker_client().get("/worker-proxy/queued-messages", params={"instanceId": instance_id, "limit": 5})
    assert answer.status_code == 200, answer.text
    return [m["id"] for m in answer.json()["messages"]]


def test_a_held_message_waits_shows_held_and_goes_after(aws_env: dict[str, str]) -> None:
    from zapgate_public_api.app import app

    instance = make_instance(aws_env)["id"]
    first = enqueue(aws_env, instance, body="one")["id"]
    assert _claim(instance) == [first]
    until = int(time.time() * 1000) + 1_500
    held = worker_client().post("/worker-proxy/messages/hold", json={"messageId": first, "heldUntilMs": until})
    assert held.status_code == 200, held.text
    assert held.json() == {"id": first, "status": "held", "held_until_ms": until}
    again = worker_client().post("/worker-proxy/messages/hold", json={"messageId": first, "heldUntilMs": until})
    assert again.status_code == 200  # a repeat answers the same

    public = TestClient(app, headers={"X-API-Key": API_KEY})
    shown = public.get(f"/v1/instances/{instance}/messages/{first}").json()
    assert shown["status"] == "held" and shown["held_until"].endswith("Z")
    second = enqueue(aws_env, instance, to="5511977776666", body="two")["id"]
    assert _claim(instance) == [second]  # the held one is skipped while held, never leased

    time.sleep(1.6)
    assert _claim(instance) == [first]  # the hold ended: claimable, in its queue place
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore

    record = DynamoMessageStore(aws_env["MESSAGES_TABLE"]).get(first)
    assert record is not None and record.claim_count == 1  # the hold gave its claim back
    assert "held_until" not in public.get(f"/v1/instances/{instance}/messages/{first}").json()


def test_only_a_claimed_message_can_be_held(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)["id"]
    queued = enqueue(aws_env, instance)["id"]
    refused = worker_client().post("/worker-proxy/messages/hold", json={"messageId": queued, "heldUntilMs": 1})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "message_not_claimed"
    missing = worker_client().post("/worker-proxy/messages/hold", json={"messageId": "nope", "heldUntilMs": 1})
    assert missing.status_code == 404


def test_wrote_first_is_a_resolved_contact(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)["id"]
    client = worker_client()
    jid = "5511955554444@s.whatsapp.net"
    params = {"instanceId": instance, "jid": jid}
    assert client.get("/worker-proxy/contacts/wrote-first", params=params).json() == {"wrote": False}
    resolved = client.post("/worker-proxy/contacts/resolve",
                           json={"instanceId": instance, "jid": jid, "pushName": "Ana"})
    assert resolved.status_code == 200, resolved.text
    assert client.get("/worker-proxy/contacts/wrote-first", params=params).json() == {"wrote": True}
