"""Instance commands (public API → heartbeat → ack), group discovery and monitor flags, the audit log."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY
from tests.integration.worker_client import make_instance, worker_client

OWNER = "sidecar-a"
GROUP_A, GROUP_B = "120363000000000001@g.us", "120363000000000002@g.us"


def _public(key: str = API_KEY) -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": key}, raise_server_exceptions=False)


def _acquire(worker: TestClient, instance_id: str, owner: str = OWNER) -> str:
    answer = worker.post("/worker-proxy/instance-lock/acquire",
                         json={"instanceId": instance_id, "instance_owner": owner, "ttl_ms": 30_000}).json()
    assert answer["acquired"] is True
    return str(answer["lock_token"])


def _heartbeat(worker: TestClient, locks: dict[str, str], owner: str = OWNER, renew: bool = True) -> dict[str, Any]:
    response = worker.post("/worker-proxy/heartbeat", json={
        "instance_owner": owner, "wait_ms": 0, "renew": renew,
        "locks": [{"instanceId": i, "lock_token": t} for i, t in locks.items()]})
    assert response.status_code == 200, response.text
    return response.json()


def _events(public: TestClient, instance_id: str, **params: Any) -> list[dict[str, Any]]:
    response = public.get(f"/v1/instances/{instance_id}/audit", params=params)
    assert response.status_code == 200, response.text
    return response.json()["events"]


# ------------------------------------------------------------------ commands
def _doorbell(env: dict[str, str], instance_id: str) -> dict[str, Any] | None:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore, doorbell_id

    return DynamoMessageStore(env["MESSAGES_TABLE"]).item(doorbell_id(instance_id))


def _long_poll(locks: dict[str, str], wait_ms: int, owner: str = OWNER) -> tuple[float, dict[str, Any]]:
    """A non-renewing heartbeat that waits up to wait_ms: (seconds it took, its answer)."""
    started = time.monotonic()
    response = worker_client().post("/worker-proxy/heartbeat", json={
        "instance_owner": owner, "wait_ms": wait_ms, "renew": False,
        "locks": [{"instanceId": i, "lock_token": t} for i, t in locks.items()]})
    assert response.status_code == 200, response.text
    return time.monotonic() - started, response.json()


def test_a_command_reaches_the_verified_lock_holder_at_once_or_with_renewals_until_acked(
    aws_env: dict[str, str],
) -> None:
    public, worker = _public(), worker_client()
    instance = make_instance(aws_env)
    other = make_instance(aws_env, "other")
    token = _acquire(worker, instance["id"])
    other_token = _acquire(worker, other["id"], owner="sidecar-b")

    accepted = public.post(f"/v1/instances/{instance['id']}/commands", json={"type": "fetch_groups"})
    assert accepted.status_code == 202
    command = accepted.json()
    assert command["type"] == "fetch_groups" and command["status"] == "pending" and command["id"]
    pairing = public.post(f"/v1/instances/{instance['id']}/commands",
                          json={"type": "pairing_code", "phone": "5511999990000"}).json()
    assert _doorbell(aws_env, instance["id"])["queue_owner"] == OWNER

    # The holder's name with a wrong token: nothing, and the doorbell is taken (or it would ring forever).
    assert _heartbeat(worker, {instance["id"]: "stolen"}, renew=False)["commands"] == []
    assert _doorbell(aws_env, instance["id"]) is None
    # Without a doorbell only renewals carry commands, and only to the lock holder.
    assert _heartbeat(worker, {instance["id"]: token}, renew=False)["commands"] == []
    assert _heartbeat(worker, {instance["id"]: "stolen", other["id"]: other_token}, owner="sidecar-b")["commands"] == []
    answer = _heartbeat(worker, {instance["id"]: token})
    assert answer["commands"] == [
        {"instanceId": instance["id"], "id": command["id"], "type": "fetch_groups", "phone": None},
        {"instanceId": instance["id"], "id": pairing["id"], "type": "pairing_code", "phone": "5511999990000"},
    ]
    # A new command rings again: the verified holder gets every pending one at once, without renewing,
    # each id once even when the renewal in the same call brought them too.
    restart = public.post(f"/v1/instances/{instance['id']}/commands", json={"type": "restart"}).json()
    assert [c["id"] for c in _heartbeat(worker, {instance["id"]: token})["commands"]] == [
        command["id"], pairing["id"], restart["id"]]
    assert _doorbell(aws_env, instance["id"]) is None
    again = public.post(f"/v1/instances/{instance['id']}/commands", json={"type": "restart"}).json()
    assert len(_heartbeat(worker, {instance["id"]: token}, renew=False)["commands"]) == 4
    assert _heartbeat(worker, {instance["id"]: token}, renew=False)["commands"] == []  # answered once

    ack = {"instanceId": instance["id"], "id": command["id"], "result": "done"}
    assert worker.post("/worker-proxy/commands/ack", json=ack).json() == {"removed": True}
    assert worker.post("/worker-proxy/commands/ack", json=ack).json() == {"removed": False}  # idempotent
    failed = {"instanceId": instance["id"], "id": pairing["id"], "result": "failed", "error": "already paired"}
    assert worker.post("/worker-proxy/commands/ack", json=failed).json() == {"removed": True}
    assert [c["type"] for c in _heartbeat(worker, {instance["id"]: token})["commands"]] == ["restart", "restart"]
    assert worker.post("/worker-proxy/commands/ack", json={**ack, "instanceId": "ghost"}).status_code == 404

    events = [(e["event"], e["detail"]) for e in _events(public, instance["id"])]
    assert events == [
        ("command_failed", {"id": pairing["id"], "type": "pairing_code", "error": "already paired"}),
        ("command_done", {"id": command["id"], "type": "fetch_groups"}),
        ("command", {"id": again["id"], "type": "restart"}),
        ("command", {"id": restart["id"], "type": "restart"}),
        ("command", {"id": pairing["id"], "type": "pairing_code"}),
        ("command", {"id": command["id"], "type": "fetch_groups"}),
    ]


def test_a_parked_long_poll_returns_with_a_command_at_once(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    token = _acquire(worker_client(), instance["id"])
    answers: list[tuple[float, dict[str, Any]]] = []
    parked = threading.Thread(target=lambda: answers.append(_long_poll({instance["id"]: token}, wait_ms=5_000)))
    parked.start()
    time.sleep(0.3)  # the long-poll is waiting
    command = _public().post(f"/v1/instances/{instance['id']}/commands", json={"type": "pairing_code",
                                                                                "phone": "5511999990000"}).json()
    parked.join(10)
    (elapsed, answer), = answers
    assert 0.25 < elapsed < 2, elapsed  # woke on the command, not at the end of its 5 s wait
    assert answer["commands"] == [
        {"instanceId": instance["id"], "id": command["id"], "type": "pairing_code", "phone": "5511999990000"}]
    assert answer["ready"] == []  # a doorbell is no outbound work: no useless queued-messages call
    assert _doorbell(aws_env, instance["id"]) is None


def test_a_doorbell_for_a_wrong_token_is_taken_and_delivers_nothing(aws_env: dict[str, str]) -> None:
    worker = worker_client()
    instance = make_instance(aws_env)
    token = _acquire(worker, instance["id"])
    command = _public().post(f"/v1/instances/{instance['id']}/commands", json={"type": "refresh_qr"}).json()
    assert _doorbell(aws_env, instance["id"]) is not None
    elapsed, answer = _long_poll({instance["id"]: "stolen"}, wait_ms=5_000)
    assert answer["commands"] == [] and elapsed >= 4.9  # nothing for it: it waits its whole wait
    assert _doorbell(aws_env, instance["id"]) is None
    # Gone, not merely skipped: the holder's next long-poll waits its full (short) wait too...
    elapsed, answer = _long_poll({instance["id"]: token}, wait_ms=300)
    assert answer["commands"] == [] and elapsed >= 0.25
    # ... and the command is still pending for the holder's renewal.
    assert [c["id"] for c in _heartbeat(worker, {instance["id"]: token})["commands"]] == [command["id"]]


def test_a_doorbell_is_left_to_the_call_that_lists_its_instance(aws_env: dict[str, str]) -> None:
    worker = worker_client()
    instance, other = make_instance(aws_env), make_instance(aws_env, "other")
    token, other_token = _acquire(worker, instance["id"]), _acquire(worker, other["id"])
    command = _public().post(f"/v1/instances/{instance['id']}/commands", json={"type": "restart"}).json()
    # A call of the same sidecar that does not list the instance (one started before it took the lock).
    elapsed, answer = _long_poll({other["id"]: other_token}, wait_ms=300)
    assert (answer["commands"], answer["ready"]) == ([], []) and elapsed >= 0.25
    assert _doorbell(aws_env, instance["id"]) is not None
    elapsed, answer = _long_poll({other["id"]: other_token, instance["id"]: token}, wait_ms=5_000)
    assert [c["id"] for c in answer["commands"]] == [command["id"]] and elapsed < 2


def test_a_doorbell_is_no_message_anywhere(aws_env: dict[str, str]) -> None:
    from tests.integration.outbox import publish
    from zapgate_core.domain.outbox import Change, events_of

    public, worker = _public(), worker_client()
    instance = make_instance(aws_env)
    token = _acquire(worker, instance["id"])
    for kind in ("restart", "refresh_qr"):  # a PutItem, then a PutItem over it
        assert public.post(f"/v1/instances/{instance['id']}/commands", json={"type": kind}).status_code == 202
    doorbell = _doorbell(aws_env, instance["id"])
    assert doorbell is not None
    assert not {"direction", "queue_pk", "timeline_pk", "chat_pk", "tenant_id"} & set(doorbell)
    assert 0 < doorbell["expires_at_epoch"] - time.time() <= 600  # TTL: the commands' own lifetime

    queued = worker.get(f"/worker-proxy/queued-messages?instanceId={instance['id']}")
    assert queued.status_code == 200 and queued.json()["messages"] == []
    for direction in ("outbound", "inbound"):
        history = public.get(f"/v1/instances/{instance['id']}/messages", params={"direction": direction})
        assert history.status_code == 200 and history.json()["messages"] == []
    assert public.get(f"/v1/instances/{instance['id']}/conversations").json()["conversations"] == []
    assert public.get(f"/v1/instances/{instance['id']}/messages/{doorbell['id']}").status_code == 404
    marked = worker.post("/worker-proxy/mark-sent", json={"messageId": doorbell["id"], "wa_message_id": "W1"})
    assert marked.status_code == 404

    assert len(_heartbeat(worker, {instance["id"]: token}, renew=False)["commands"]) == 2  # taken: a REMOVE
    result = publish(aws_env)
    assert result.read == 3 and result.invoked == 0  # INSERT, MODIFY, REMOVE: none passes the outbox's filter
    for name, old, new in (("INSERT", None, doorbell), ("MODIFY", doorbell, doorbell), ("REMOVE", doorbell, None)):
        assert events_of(Change("1", name, old, new)) == []  # nor would the mapping make an event of them


def test_invalid_commands_are_refused(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    for body in (
        {"type": "pairing_code"}, {"type": "pairing_code", "phone": "+5511999990000"},
        {"type": "pairing_code", "phone": "12"}, {"type": "logout", "phone": "5511999990000"}, {"type": "reboot"},
        {}, {"type": "logout", "extra": 1},
    ):  # fmt: skip
        response = _public().post(f"/v1/instances/{instance['id']}/commands", json=body)
        assert response.status_code == 422, body


def test_commands_are_tenant_scoped_bounded_and_expire(aws_env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
    from zapgate_control.services.commands import COMMAND_TTL_MS, MAX_PENDING

    public, worker = _public(), worker_client()
    instance = make_instance(aws_env)
    url = f"/v1/instances/{instance['id']}/commands"
    assert _public(OTHER_API_KEY).post(url, json={"type": "restart"}).status_code == 404
    assert public.post("/v1/instances/ghost/commands", json={"type": "restart"}).status_code == 404
    ids = [public.post(url, json={"type": "restart"}).json()["id"] for _ in range(MAX_PENDING)]
    full = public.post(url, json={"type": "restart"})
    assert full.status_code == 409 and full.json()["error"]["code"] == "too_many_commands"

    # Age every pending command past the TTL: never delivered, and dropped when they fill the map.
    store = DynamoInstanceStore(aws_env["INSTANCES_TABLE"])
    pending = {c.id: {"type": c.type, "at": c.at_ms} for c in store.get(instance["id"]).commands}
    assert set(pending) == set(ids)
    from zapgate_control.adapters.dynamodb.codec import to_item, to_values
    from zapgate_control.aws import client

    old = {cid: {**c, "at": c["at"] - COMMAND_TTL_MS - 1} for cid, c in pending.items()}
    client("dynamodb").update_item(
        TableName=aws_env["INSTANCES_TABLE"], Key=to_item({"id": instance["id"]}),
        UpdateExpression="SET commands = :c", ExpressionAttributeValues=to_values({":c": old}),
    )
    token = _acquire(worker, instance["id"])
    assert _heartbeat(worker, {instance["id"]: token})["commands"] == []
    fresh = public.post(url, json={"type": "refresh_qr"})
    assert fresh.status_code == 202
    assert [c.id for c in store.get(instance["id"]).commands] == [fresh.json()["id"]]
    assert [c["id"] for c in _heartbeat(worker, {instance["id"]: token})["commands"]] == [fresh.json()["id"]]


def test_disconnect_disables_the_instance_and_later_commands_are_refused(aws_env: dict[str, str]) -> None:
    public, worker = _public(), worker_client()
    instance = make_instance(aws_env)
    token = _acquire(worker, instance["id"])
    assert public.post(f"/v1/instances/{instance['id']}/commands", json={"type": "disconnect"}).status_code == 202
    assert public.get(f"/v1/instances/{instance['id']}").json()["enabled"] is False
    eligible = worker.get("/worker-proxy/eligible-instances").json()["instances"]
    assert instance["id"] not in [i["id"] for i in eligible]
    assert [c["type"] for c in _heartbeat(worker, {instance["id"]: token})["commands"]] == ["disconnect"]
    refused = public.post(f"/v1/instances/{instance['id']}/commands", json={"type": "restart"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "instance_disabled"
    assert public.patch(f"/v1/instances/{instance['id']}", json={"enabled": True}).status_code == 200
    assert public.post(f"/v1/instances/{instance['id']}/commands", json={"type": "restart"}).status_code == 202

    idle = make_instance(aws_env, "idle")  # no sidecar holds it: disabling is the whole command
    done = public.post(f"/v1/instances/{idle['id']}/commands", json={"type": "disconnect"})
    assert done.status_code == 202 and done.json()["status"] == "done"
    assert public.get(f"/v1/instances/{idle['id']}").json()["enabled"] is False
    assert [e["event"] for e in _events(public, idle["id"])] == ["command_done", "command"]


# ------------------------------------------------------------------ groups
def _discover(worker: TestClient, instance_id: str, groups: list[tuple[str, str]]) -> dict[str, Any]:
    response = worker.post("/worker-proxy/groups", json={
        "instanceId": instance_id, "groups": [{"jid": jid, "name": name} for jid, name in groups]})
    assert response.status_code == 200, response.text
    return response.json()


def test_discovery_upserts_groups_never_touches_monitor_and_audits_renames(aws_env: dict[str, str]) -> None:
    public, worker = _public(), worker_client()
    instance = make_instance(aws_env)
    url = f"/v1/instances/{instance['id']}/groups"
    # A contact in the same partition is not a group.
    worker.post("/worker-proxy/contacts/resolve",
                json={"instanceId": instance["id"], "jid": "5511988887777@s.whatsapp.net"})

    assert _discover(worker, instance["id"], [(GROUP_A, "Vendas"), (GROUP_B, "Suporte")]) == {
        "count": 2, "created": 2, "renamed": 0}
    listed = public.get(url).json()
    assert [(g["jid"], g["name"], g["monitor"]) for g in listed["groups"]] == [
        (GROUP_A, "Vendas", False), (GROUP_B, "Suporte", False)]
    assert listed["next_cursor"] is None and listed["groups"][0]["first_seen"] and not listed["groups"][0]["renamed_at"]

    patched = public.patch(f"{url}/{GROUP_A}", json={"monitor": True})
    assert patched.status_code == 200 and patched.json()["monitor"] is True

    assert _discover(worker, instance["id"], [(GROUP_A, "Vendas 2026"), (GROUP_B, "Suporte")]) == {
        "count": 2, "created": 0, "renamed": 1}
    groups = {g["jid"]: g for g in public.get(url).json()["groups"]}
    assert (groups[GROUP_A]["name"], groups[GROUP_A]["monitor"]) == ("Vendas 2026", True)  # monitor kept
    assert groups[GROUP_A]["renamed_at"] and groups[GROUP_B]["monitor"] is False
    assert public.patch(f"{url}/{GROUP_A}", json={"monitor": False}).json()["monitor"] is False

    events = [(e["event"], e["detail"]) for e in _events(public, instance["id"])]
    assert events == [
        ("discovery", {"count": 2, "created": 0, "renamed": 1}),
        ("group_rename", {"from": "Vendas", "to": "Vendas 2026", "wa_group_id": GROUP_A}),
        ("discovery", {"count": 2, "created": 2, "renamed": 0}),
    ]

    first = public.get(url, params={"limit": 1}).json()
    assert [g["jid"] for g in first["groups"]] == [GROUP_A] and first["next_cursor"]
    second = public.get(url, params={"limit": 1, "cursor": first["next_cursor"]}).json()
    assert [g["jid"] for g in second["groups"]] == [GROUP_B] and second["next_cursor"] is None
    assert public.get(url, params={"cursor": "garbage"}).status_code == 400


def test_groups_are_tenant_scoped_and_validated(aws_env: dict[str, str]) -> None:
    public, worker = _public(), worker_client()
    instance = make_instance(aws_env)
    _discover(worker, instance["id"], [(GROUP_A, "Vendas")])
    url = f"/v1/instances/{instance['id']}/groups"
    assert _public(OTHER_API_KEY).get(url).status_code == 404
    assert _public(OTHER_API_KEY).patch(f"{url}/{GROUP_A}", json={"monitor": True}).status_code == 404
    assert public.patch(f"{url}/{GROUP_B}", json={"monitor": True}).status_code == 404  # never discovered
    assert public.patch(f"{url}/5511988887777@s.whatsapp.net", json={"monitor": True}).status_code == 404
    assert public.patch(f"{url}/{GROUP_A}", json={"monitor": "yes"}).status_code == 422
    bad = worker.post("/worker-proxy/groups", json={"instanceId": instance["id"],
                                                    "groups": [{"jid": "5511988887777@s.whatsapp.net"}]})
    assert bad.status_code == 422
    assert worker.post("/worker-proxy/groups", json={"instanceId": "ghost", "groups": []}).status_code == 404


def test_monitored_groups_only_ingest_drops_other_group_messages(aws_env: dict[str, str]) -> None:
    public, worker = _public(), worker_client()
    instance = make_instance(aws_env)
    _discover(worker, instance["id"], [(GROUP_A, "Vendas"), (GROUP_B, "Suporte")])
    public.patch(f"/v1/instances/{instance['id']}/groups/{GROUP_A}", json={"monitor": True})

    def inbound(chat: str, wa_id: str) -> dict[str, Any]:
        response = worker.post("/worker-proxy/inbound", json={
            "instanceId": instance["id"], "from": "5511988887777@s.whatsapp.net", "chat_id": chat,
            "body": "oi", "wa_message_id": wa_id})
        assert response.status_code == 200, response.text
        return response.json()

    assert "ignored" not in inbound(GROUP_B, "B0")  # setting off: every group is stored
    patched = public.patch(f"/v1/instances/{instance['id']}", json={"ingest_monitored_groups_only": True})
    assert patched.status_code == 200 and patched.json()["ingest_monitored_groups_only"] is True
    assert "ignored" not in inbound(GROUP_A, "A1")
    dropped = inbound(GROUP_B, "B1")
    assert dropped["ignored"] is True and dropped["duplicate"] is False and dropped["id"]
    assert inbound("999999999999999@g.us", "U1")["ignored"] is True  # never discovered = not monitored
    assert "ignored" not in inbound("5511988887777@s.whatsapp.net", "D1")  # direct chats are not filtered
    stored = public.get(f"/v1/instances/{instance['id']}/messages", params={"direction": "inbound"}).json()
    assert sorted(m["chat_id"] for m in stored["messages"]) == sorted(
        [GROUP_B, GROUP_A, "5511988887777@s.whatsapp.net"])
    assert public.patch(f"/v1/instances/{instance['id']}",
                        json={"ingest_monitored_groups_only": "true"}).status_code == 422


# ------------------------------------------------------------------ audit of status reports
def test_status_reports_become_audit_events_newest_first(aws_env: dict[str, str]) -> None:
    public, worker = _public(), worker_client()
    instance = make_instance(aws_env)
    token = _acquire(worker, instance["id"])

    def status(value: str, **fields: Any) -> None:
        response = worker.post("/worker-proxy/update-status", json={
            "instanceId": instance["id"], "status": value, "lock_token": token, **fields})
        assert response.status_code == 200, response.text

    status("CONNECTING", qr_code="data:image/png;base64,AAAA")
    status("CONNECTED", jid="5511999990000@s.whatsapp.net")
    status("DISCONNECTED", reason="disconnected:network blip")
    status("DISCONNECTED", reason="disconnected:network blip")  # still down: no second disconnect
    status("CONNECTED", jid="5511999990000@s.whatsapp.net")
    status("DISCONNECTED", reason="connect_failed:banned")
    events = [(e["event"], e["detail"]) for e in _events(public, instance["id"])]
    assert events == [
        ("error", {"code": "connect_failed", "reason": "connect_failed:banned"}),
        ("disconnect", {"reason": "connect_failed:banned"}),
        ("reconnect", {"jid": "5511999990000@s.whatsapp.net"}),
        ("disconnect", {"reason": "disconnected:network blip"}),
        ("connect", {"jid": "5511999990000@s.whatsapp.net"}),
        ("qr_generated", {}),
    ]

    page = public.get(f"/v1/instances/{instance['id']}/audit", params={"limit": 4}).json()
    assert [e["event"] for e in page["events"]] == ["error", "disconnect", "reconnect", "disconnect"]
    rest = public.get(f"/v1/instances/{instance['id']}/audit", params={"limit": 4, "cursor": page["next_cursor"]})
    assert [e["event"] for e in rest.json()["events"]] == ["connect", "qr_generated"]
    assert all(e["at"].endswith("Z") for e in page["events"])
    assert _public(OTHER_API_KEY).get(f"/v1/instances/{instance['id']}/audit").status_code == 404
    assert public.get("/v1/instances/ghost/audit").status_code == 404
    assert public.get(f"/v1/instances/{instance['id']}/audit", params={"cursor": "x"}).status_code == 400
    other = make_instance(aws_env, "other")
    foreign = public.get(f"/v1/instances/{other['id']}/audit", params={"cursor": page["next_cursor"]})
    assert foreign.status_code == 400  # a cursor of another instance's log
