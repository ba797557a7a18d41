"""Own-device messages and history batches (issue 13): worker-proxy → MessagesTable against moto.

An own-device message is stored once per WhatsApp id and never beside the message zapgate itself sent with
that id, whether the echo arrives after our mark-sent (the wa-id index finds ours) or before it (deferred
while our send is claimed); receipts move it; a history batch is stored only when the instance's setting is
on, and a retried batch writes nothing.
"""

from __future__ import annotations

import time
from typing import Any

from tests.integration.worker_client import enqueue, make_instance, worker_client

CHAT = "5511988887777@s.whatsapp.net"


def _own(instance_id: str, wa_id: str, body: str = "from my phone", **extra: Any) -> dict[str, Any]:
    return {"instanceId": instance_id, "from": "5511999990000@s.whatsapp.net", "to": CHAT, "body": body,
            "wa_message_id": wa_id, "from_me": True, "chat_id_norm": CHAT, "timestamp": 1_764_000_000, **extra}


def _store(env: dict[str, str]) -> Any:
    from zapgate_control.adapters.dynamodb.own_messages import DynamoOwnMessageStore

    return DynamoOwnMessageStore(env["MESSAGES_TABLE"], env["INSTANCES_TABLE"])


def _item(env: dict[str, str], message_id: str) -> dict[str, Any] | None:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore

    return DynamoMessageStore(env["MESSAGES_TABLE"]).item(message_id)


def test_an_own_message_is_stored_once_as_outbound_from_the_phone_and_receipts_move_it(
    aws_env: dict[str, str],
) -> None:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_public_api.models.messages import Message

    instance = make_instance(aws_env)
    client = worker_client()
    request = {"instanceId": instance["id"], "messages": [_own(instance["id"], "3EBPHONE1")]}
    first = client.post("/worker-proxy/own-messages", json=request)
    assert first.status_code == 200, first.text
    assert (first.json()["stored"], first.json()["duplicates"], first.json()["deferred"]) == (1, 0, False)
    again = client.post("/worker-proxy/own-messages", json=request).json()
    assert (again["stored"], again["duplicates"]) == (0, 1) and again["ids"] == first.json()["ids"]

    item = _item(aws_env, first.json()["ids"][0]) or {}
    assert (item["direction"], item["state"], item["source"], item["to"]) == ("outbound", "sent", "phone", CHAT)
    assert item["chat_pk"] == f"{instance['id']}#{CHAT}" and item["tenant_id"] == "tenant-a"
    record = DynamoMessageStore(aws_env["MESSAGES_TABLE"]).get(item["id"])
    assert record is not None
    shown = Message.from_record(record).model_dump(by_alias=True)
    assert shown["source"] == "phone" and shown["body"] == "from my phone" and shown["status"] == "sent"

    receipts = {"instanceId": instance["id"], "receipts": [{"wa_message_id": "3EBPHONE1", "kind": "read"}]}
    assert client.post("/worker-proxy/receipts", json=receipts).json() == {"updated": 1}
    assert (_item(aws_env, item["id"]) or {})["state"] == "read"


def test_a_location_and_a_reaction_from_the_phone_are_stored_typed_like_our_sends(aws_env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_core.domain.outbox import Change, events_of
    from zapgate_public_api.models.messages import Message

    instance = make_instance(aws_env)
    location = _own(instance["id"], "3EBLOC", body="Loja", message_type="location",
                    location={"latitude": -23.56, "longitude": -46.65, "name": "Loja"})
    reaction = _own(instance["id"], "3EBREACT", body="", message_type="reaction",
                    reaction={"wa_message_id": "3EBTHEIRS", "emoji": "👍", "chat": CHAT, "from_me": False})
    answer = worker_client().post("/worker-proxy/own-messages",
                                  json={"instanceId": instance["id"], "messages": [location, reaction]})
    assert answer.status_code == 200 and answer.json()["stored"] == 2, answer.text
    store = DynamoMessageStore(aws_env["MESSAGES_TABLE"])
    loc_id, react_id = answer.json()["ids"]
    shown = Message.from_record(store.get(loc_id)).model_dump(by_alias=True)  # type: ignore[arg-type]
    assert (shown["type"], shown["source"], shown["location"]["latitude"], shown["location"]["name"]) == (
        "location", "phone", -23.56, "Loja")
    reacted = Message.from_record(store.get(react_id)).model_dump(by_alias=True)  # type: ignore[arg-type]
    assert reacted["type"] == "reaction" and reacted["reaction"]["emoji"] == "👍"
    # Its status event carries the object, under the key MESSAGE_INBOUND uses.
    (event,) = events_of(Change("1", "INSERT", None, _item(aws_env, loc_id)))
    message = event["payload"]["message"]
    assert (message["type"], message["location"]["longitude"], message["source"]) == ("location", -46.65, "phone")


def test_our_own_send_echoed_is_never_stored_twice_before_or_after_mark_sent(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    client = worker_client()
    sent = enqueue(aws_env, instance["id"], to=CHAT, body="from the API")
    client.get(f"/worker-proxy/queued-messages?instanceId={instance['id']}")  # claimed: being sent

    echo = {"instanceId": instance["id"], "messages": [_own(instance["id"], "3EBOURS", body="from the API")]}
    early = client.post("/worker-proxy/own-messages", json=echo).json()
    assert early["deferred"] is True and early["stored"] == 0  # before mark-sent: retry later

    client.post("/worker-proxy/mark-sent", json={"messageId": sent["id"], "wa_message_id": "3EBOURS"})
    late = client.post("/worker-proxy/own-messages", json=echo).json()
    assert (late["stored"], late["duplicates"], late["deferred"]) == (0, 1, False)
    from zapgate_core.domain.ids import inbound_id

    assert _item(aws_env, inbound_id(instance["id"], "3EBOURS")) is None  # no phone copy beside ours
    forced = client.post("/worker-proxy/own-messages", json={**echo, "force": True}).json()
    assert forced["stored"] == 0  # even forced: the index finds ours


def test_history_batches_follow_the_setting_and_a_retried_batch_writes_nothing(aws_env: dict[str, str]) -> None:
    from zapgate_control.ports.own_messages import HistorySyncSetting

    instance = make_instance(aws_env)
    client = worker_client()
    now_s = int(time.time())  # the control plane's clock is the real one
    messages = [
        {"instanceId": instance["id"], "from": CHAT, "body": f"old {n}", "wa_message_id": f"3EBH{n:03d}",
         "from_me": n % 3 == 0, "chat_id_norm": CHAT, "timestamp": now_s - 3600 - n}
        for n in range(60)
    ]
    batch = {"instanceId": instance["id"], "messages": messages}
    off = client.post("/worker-proxy/history", json=batch).json()
    assert off["settings"]["enabled"] is False and (off["stored"], off["skipped"]) == (0, 60)

    store = _store(aws_env)
    assert store.set_history_setting("tenant-a", instance["id"], HistorySyncSetting(enabled=True, days=7))
    assert not store.set_history_setting("tenant-b", instance["id"], HistorySyncSetting(enabled=True))
    ancient = {"instanceId": instance["id"], "from": CHAT, "body": "too old", "wa_message_id": "3EBANCIENT",
               "chat_id_norm": CHAT, "timestamp": now_s - 30 * 86_400}
    on = client.post("/worker-proxy/history", json={**batch, "messages": [*messages, ancient]}).json()
    assert on["settings"] == {"enabled": True, "days": 7, "messages_per_chat": None, "emit_events": False}
    assert (on["stored"], on["duplicates"], on["skipped"]) == (60, 0, 1)

    from zapgate_control.services.own_messages import stored_message
    from zapgate_core.contract.worker_proxy import InboundMessage

    parsed = [stored_message(InboundMessage.model_validate(m)) for m in messages]
    retry = store.put_history("tenant-a", instance["id"], [p for p in parsed if p is not None], silent=True)
    assert (retry.stored, retry.duplicates, store.batch_calls) == (0, 60, 0)  # read, never written again

    own = _item(aws_env, parsed[0].message_id if parsed[0] else "") or {}
    other = _item(aws_env, parsed[1].message_id if parsed[1] else "") or {}
    assert (own["direction"], own["source"], own["history"], own["history_silent"]) == ("outbound", "phone",
                                                                                        True, True)
    assert (other["direction"], other["history"], other["history_silent"]) == ("inbound", True, True)
    assert int(own["timeline_sk"].split("#")[0]) == now_s * 1000 - 3_600_000  # WhatsApp's time orders history


def test_history_sync_is_set_by_patch_validated_and_other_tenants_get_404(aws_env: dict[str, str]) -> None:
    from fastapi.testclient import TestClient

    from tests.conftest import API_KEY, OTHER_API_KEY
    from zapgate_public_api.app import app

    def public(key: str = API_KEY) -> TestClient:
        return TestClient(app, headers={"X-API-Key": key}, raise_server_exceptions=False)

    instance = make_instance(aws_env)
    path = f"/v1/instances/{instance['id']}"
    setting = {"enabled": True, "messages_per_chat": 50, "emit_events": False}
    patched = public().patch(path, json={"history_sync": setting})
    assert patched.status_code == 200, patched.text
    assert patched.json()["history_sync"] == {**setting, "days": None}
    answer = worker_client().post("/worker-proxy/history", json={"instanceId": instance["id"], "messages": []}).json()
    assert answer["settings"] == {**setting, "days": None}  # what the sidecar learns from its first call

    for bad in ({"enabled": True, "days": 0}, {"enabled": True, "days": 366},
                {"enabled": True, "messages_per_chat": 1001}, {"enabled": True, "days": 7, "messages_per_chat": 10},
                {"days": 7}):
        assert public().patch(path, json={"history_sync": bad}).status_code == 422, bad
    assert public(OTHER_API_KEY).patch(path, json={"history_sync": {"enabled": False}}).status_code == 404
    assert public().get(path).json()["history_sync"] == {**setting, "days": None}  # stored: every answer shows it
    listed = public().get("/v1/instances").json()["instances"]
    assert [i.get("history_sync") for i in listed if i["id"] == instance["id"]] == [{**setting, "days": None}]
    assert "history_sync" not in public().get(f"/v1/instances/{make_instance(aws_env)['id']}").json()  # never set
