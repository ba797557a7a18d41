"""Issue 10 through the worker-proxy against moto: /inbound-changes marks stored messages (edited keeps its id and
shows the new text, revoked is marked, not deleted), repeats change nothing, other instances' and tenants' messages
are out of reach, groups are renamed only when tracked, and a call on a reject_calls instance is answered `reject`
with its text queued once."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY
from tests.integration.worker_client import make_instance, worker_client

CUSTOMER = "5511988887777@s.whatsapp.net"
GROUP = "120363012345678901@g.us"


def _public(key: str = API_KEY) -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": key}, raise_server_exceptions=False)


def _receive(worker: TestClient, instance_id: str, wa_id: str, body: str = "first") -> str:
    response = worker.post("/worker-proxy/inbound", json={
        "instanceId": instance_id, "from": CUSTOMER, "body": body, "wa_message_id": wa_id, "chat_id_norm": CUSTOMER,
        "sender_jid_raw": CUSTOMER,
    })
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _change(worker: TestClient, **body: Any) -> dict[str, Any]:
    response = worker.post("/worker-proxy/inbound-changes", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _edit(instance_id: str, wa_id: str, text: str, at: int, edit_id: str = "E1", **extra: Any) -> dict[str, Any]:
    return {"kind": "message_edited", "instanceId": instance_id, "wa_message_id": wa_id, "edit_wa_message_id": edit_id,
            "chat_id": CUSTOMER, "sender": CUSTOMER, "text": text, "timestamp": at, **extra}


def test_an_edit_then_a_revoke_mark_the_stored_message_and_history_shows_both(aws_env: dict[str, str]) -> None:
    worker = worker_client()
    instance = make_instance(aws_env)
    message_id = _receive(worker, instance["id"], "3EB0A")
    assert _change(worker, **_edit(instance["id"], "3EB0A", "second", 1764000100)) == {
        "outcome": "applied", "message_id": message_id, "reject": False, "reply_message_id": None}
    assert _change(worker, **_edit(instance["id"], "3EB0A", "second", 1764000100))["outcome"] == "duplicate"
    assert _change(worker, **_edit(instance["id"], "3EB0A", "by someone else", 1764000200, "E2",
                                   sender="5511900000000@s.whatsapp.net"))["outcome"] == "ignored"
    shown = _public().get(f"/v1/instances/{instance['id']}/messages/{message_id}").json()
    assert shown["id"] == message_id and shown["body"] == "second"
    assert shown["edited"] == {"at": "2025-11-24T16:01:40.000Z", "count": 1, "original_body": "first"}
    assert "revoked" not in shown

    revoke = {"kind": "message_revoked", "instanceId": instance["id"], "wa_message_id": "3EB0A", "chat_id": CUSTOMER,
              "revoked_by": CUSTOMER, "timestamp": 1764000300}  # fmt: skip
    assert _change(worker, **revoke)["outcome"] == "applied"
    assert _change(worker, **revoke)["outcome"] == "duplicate"
    assert _change(worker, **_edit(instance["id"], "3EB0A", "after", 1764000400, "E3"))["outcome"] == "ignored"
    listed = _public().get(f"/v1/instances/{instance['id']}/messages?direction=inbound").json()["messages"]
    (only,) = listed  # still there, marked
    assert only["revoked"] == {"at": "2025-11-24T16:05:00.000Z", "by": CUSTOMER} and only["body"] == "second"


def test_unknown_messages_and_other_instances_messages_are_not_marked(aws_env: dict[str, str]) -> None:
    worker = worker_client()
    mine = make_instance(aws_env, "a")
    theirs = make_instance(aws_env, "b", tenant="tenant-b")
    their_message = _receive(worker, theirs["id"], "3EB0B")
    assert _change(worker, **_edit(mine["id"], "3EB0B", "hijack", 1764000100))["outcome"] == "unknown_message"
    assert _change(worker, **_edit(mine["id"], "NOPE", "x", 1764000100))["outcome"] == "unknown_message"
    response = worker.post("/worker-proxy/inbound-changes", json=_edit("no-such-instance", "3EB0B", "x", 1))
    assert response.status_code == 404
    assert _public(OTHER_API_KEY).get(f"/v1/instances/{theirs['id']}/messages/{their_message}").json()["body"] == (
        "first")
    # Tenant isolation on history: tenant A cannot read B's (unchanged) message, marked or not.
    _change(worker, **_edit(theirs["id"], "3EB0B", "edited by B's customer", 1764000100))
    assert _public().get(f"/v1/instances/{theirs['id']}/messages/{their_message}").status_code == 404
    assert _public(OTHER_API_KEY).get(f"/v1/instances/{theirs['id']}/messages/{their_message}").json()["edited"][
        "count"] == 1


def test_bad_reports_are_422(aws_env: dict[str, str]) -> None:
    worker = worker_client()
    instance = make_instance(aws_env)
    for body in ({"kind": "nope", "instanceId": instance["id"]}, {**_edit(instance["id"], "A", "x", 1), "text": None},
                 {"kind": "group_participants", "instanceId": instance["id"], "group": GROUP, "action": "kick",
                  "participants": [CUSTOMER], "timestamp": 1}):
        response = worker.post("/worker-proxy/inbound-changes", json=body)
        assert response.status_code == 422, body


def test_a_group_rename_updates_a_tracked_group_only(aws_env: dict[str, str]) -> None:
    worker = worker_client()
    instance = make_instance(aws_env)
    assert worker.post("/worker-proxy/groups", json={"instanceId": instance["id"],
                                                     "groups": [{"jid": GROUP, "name": "Loja"}]}).status_code == 200
    info = {"kind": "group_info", "instanceId": instance["id"], "group": GROUP, "name": "Loja 2", "announce": True,
            "by": CUSTOMER, "timestamp": 1764000000}  # fmt: skip
    assert _change(worker, **info)["outcome"] == "applied"
    groups = _public().get(f"/v1/instances/{instance['id']}/groups").json()["groups"]
    assert [g["name"] for g in groups] == ["Loja 2"]
    assert _change(worker, **{**info, "group": "120363099999999999@g.us"})["outcome"] == "applied"
    assert len(_public().get(f"/v1/instances/{instance['id']}/groups").json()["groups"]) == 1  # not created
    participants = {"kind": "group_participants", "instanceId": instance["id"], "group": GROUP, "action": "add",
                    "participants": [CUSTOMER], "by": None, "timestamp": 1764000000}  # fmt: skip
    assert _change(worker, **participants)["outcome"] == "applied"


def test_a_call_is_rejected_per_the_instance_setting_and_its_reply_queued_once(aws_env: dict[str, str]) -> None:
    worker = worker_client()
    instance = make_instance(aws_env)
    call = {"kind": "call_received", "instanceId": instance["id"], "call_id": "CALL1", "from": CUSTOMER,
            "video": False, "timestamp": 1764000000}  # fmt: skip
    assert _change(worker, **call)["reject"] is False  # the default: calls ring on
    patched = _public().patch(f"/v1/instances/{instance['id']}",
                              json={"reject_calls": True, "reject_call_message": "Só atendemos por texto"})
    assert patched.status_code == 200 and patched.json()["reject_calls"] is True
    answer = _change(worker, **{**call, "call_id": "CALL2"})
    assert answer["reject"] is True and answer["outcome"] == "applied" and answer["reply_message_id"]
    again = _change(worker, **{**call, "call_id": "CALL2"})  # a retry, or another sidecar after a failover
    assert again["outcome"] == "duplicate" and again["reply_message_id"] == answer["reply_message_id"]
    outbound = _public().get(f"/v1/instances/{instance['id']}/messages?direction=outbound").json()["messages"]
    assert [(m["id"], m["body"], m["to"]) for m in outbound] == [
        (answer["reply_message_id"], "Só atendemos por texto", CUSTOMER)]
    assert _public().patch(f"/v1/instances/{instance['id']}", json={"reject_call_message": ""}).json().get(
        "reject_call_message") is None
    silent = _change(worker, **{**call, "call_id": "CALL3"})
    assert silent["reject"] is True and silent["reply_message_id"] is None


def test_group_and_call_events_are_published_with_the_report(aws_env: dict[str, str], monkeypatch: Any) -> None:
    from zapgate_control import settings, wiring
    from zapgate_control.aws import client

    queue_url = aws_env["EVENTS_QUEUE_URL"] if aws_env.get("EVENTS_QUEUE_URL") else None
    if queue_url is None:
        queue_url = client("sqs").create_queue(QueueName="t-events-changes")["QueueUrl"]
        monkeypatch.setenv("EVENTS_QUEUE_URL", queue_url)
        settings.get_settings.cache_clear()
        wiring.get_stores.cache_clear()
    worker = worker_client()
    instance = make_instance(aws_env)
    call = {"kind": "call_received", "instanceId": instance["id"], "call_id": "CALL9", "from": CUSTOMER,
            "video": True, "timestamp": 1764000000}  # fmt: skip
    _change(worker, **call)
    _change(worker, **call)
    bodies = []
    for _ in range(3):
        for message in client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
    calls = [b for b in bodies if b["type"] == "CALL_RECEIVED"]
    assert len(calls) == 2 and calls[0]["id"] == calls[1]["id"]  # the same id: receivers de-duplicate
    assert calls[0]["payload"]["call"]["video"] is True and calls[0]["instanceId"] == instance["id"]


def test_garbage_callers_and_timestamps_are_never_a_500(aws_env: dict[str, str]) -> None:
    worker = worker_client()
    instance = make_instance(aws_env)
    _public().patch(f"/v1/instances/{instance['id']}", json={"reject_calls": True, "reject_call_message": "oi"})
    call = {"kind": "call_received", "instanceId": instance["id"], "call_id": "C-X", "from": "not a jid",
            "timestamp": 1764000000}  # fmt: skip
    answer = _change(worker, **call)
    assert answer["reject"] is True and answer["reply_message_id"] is None  # rejected, nobody to write to
    response = worker.post("/worker-proxy/inbound-changes", json={**call, "timestamp": 10**20})
    assert response.status_code == 422
