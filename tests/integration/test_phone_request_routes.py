"""Every request-to-the-phone route against moto, with the stand-in sidecar (tests/integration/phone_requests.py)
playing the lock holder: each stores its operation with normalised arguments and answers the result; bad input
is a 422 with nothing stored; messages are looked up in the instance first (docs/requests.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY
from tests.integration.phone_requests import Held, StandInSidecar, found_everywhere, held_instance, pushed_requests
from tests.integration.worker_client import worker_client

PHONE = "5511999990001"
JID = f"{PHONE}@s.whatsapp.net"
GROUP = "120363111111111111@g.us"
SOMEONE = "5511999990003@s.whatsapp.net"


def _public() -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": API_KEY}, raise_server_exceptions=False)


@pytest.fixture
def env(aws_env: dict[str, str]) -> Iterator[dict[str, str]]:
    yield aws_env


def _call(held: Held, method: str, path: str, body: dict[str, Any] | None = None, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return _public().request(method, f"/v1/instances/{held.instance_id}{path}", json=body, headers=headers)


def _sent(held: Held, body: str = "hello", to: str = PHONE, wa_message_id: str = "WA-1") -> str:
    """A text message sent through the API and marked sent by the holder, as a sidecar would."""
    sent = _call(held, "POST", "/messages", {"to": to, "body": body})
    assert sent.status_code == 202, sent.text
    worker = worker_client()
    worker.get("/worker-proxy/queued-messages", params={"instanceId": held.instance_id})
    marked = worker.post("/worker-proxy/mark-sent",
                         json={"messageId": sent.json()["id"], "wa_message_id": wa_message_id})
    assert marked.status_code == 200, marked.text
    return str(sent.json()["id"])


def _received(held: Held, wa_message_id: str, chat: str = JID, sender: str = JID, from_me: bool = False) -> str:
    stored = worker_client().post("/worker-proxy/inbound", json={
        "instanceId": held.instance_id, "from": sender, "chat_id": chat, "body": "hi", "wa_message_id": wa_message_id,
        "from_me": from_me, "sender_jid_raw": sender})
    assert stored.status_code == 200, stored.text
    return str(stored.json()["id"])


def _stored_message(env: dict[str, str], message_id: str) -> Any:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore

    return DynamoMessageStore(env["MESSAGES_TABLE"]).get(message_id)


# ------------------------------------------------------------------ each route: its op, normalised args, result
ROUTES: list[tuple[str, str, dict[str, Any] | None, int, str, dict[str, Any]]] = [
    # method, path, body, status, op, the arguments the sidecar is handed
    ("GET", "/contacts/+55 (11) 99999-0001/info", None, 200, "user_info", {"jid": JID}),
    ("GET", f"/contacts/{PHONE}@c.us/info", None, 200, "user_info", {"jid": JID}),
    ("GET", "/contacts/123456789@lid/info", None, 200, "user_info", {"jid": "123456789@lid"}),
    ("GET", f"/contacts/{GROUP}/picture?preview=true", None, 200, "profile_picture", {"jid": GROUP, "preview": True}),
    ("GET", f"/contacts/{PHONE}/picture", None, 200, "profile_picture", {"jid": JID, "preview": False}),
    ("POST", f"/contacts/+{PHONE}/block", None, 200, "block", {"jid": JID, "action": "block"}),
    ("POST", f"/contacts/{JID}/unblock", None, 200, "block", {"jid": JID, "action": "unblock"}),
    ("GET", "/blocklist", None, 200, "blocklist", {}),
    ("POST", "/presence", {"state": "unavailable"}, 200, "own_presence", {"state": "unavailable"}),
    ("POST", "/groups", {"name": " Team ", "participants": ["+55 11 99999-0001", SOMEONE, PHONE]}, 201,
     "group_create", {"name": "Team", "participants": [JID, SOMEONE]}),
    ("POST", "/groups", {"name": "Alone"}, 201, "group_create", {"name": "Alone", "participants": []}),
    ("GET", "/groups/120363111111111111", None, 200, "group_info", {"group": GROUP}),
    ("GET", "/groups/123456789-987654321", None, 200, "group_info", {"group": "123456789-987654321@g.us"}),
    ("PUT", f"/groups/{GROUP}/name", {"name": "New name"}, 200, "group_name", {"group": GROUP, "name": "New name"}),
    ("PUT", f"/groups/{GROUP}/description", {"description": ""}, 200, "group_description",
     {"group": GROUP, "description": ""}),
    ("PUT", f"/groups/{GROUP}/settings", {"announce": True}, 200, "group_settings",
     {"group": GROUP, "announce": True, "locked": None}),
    ("POST", f"/groups/{GROUP}/participants", {"action": "promote", "participants": ["+5511999990001"]}, 200,
     "group_participants", {"group": GROUP, "action": "promote", "participants": [JID]}),
    ("GET", f"/groups/{GROUP}/invite-link", None, 200, "group_invite_link", {"group": GROUP, "reset": False}),
    ("POST", f"/groups/{GROUP}/invite-link/reset", None, 200, "group_invite_link", {"group": GROUP, "reset": True}),
    ("POST", "/groups/join", {"link": "AbCdEfGhIjKlMnOpQrStUv"}, 200, "group_join",
     {"link": "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"}),
    ("POST", "/groups/join", {"link": "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"}, 200, "group_join",
     {"link": "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"}),
    ("POST", f"/groups/{GROUP}/leave", None, 200, "group_leave", {"group": GROUP}),
    ("PUT", "/profile/name", {"name": "Zap"}, 200, "profile_name", {"name": "Zap"}),
    ("PUT", "/profile/about", {"about": ""}, 200, "profile_about", {"about": ""}),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "op", "args"), ROUTES,
                         ids=[f"{r[0]} {r[1]}" for r in ROUTES])
def test_each_route_asks_its_operation_with_normalised_arguments(
    env: dict[str, str], method: str, path: str, body: dict[str, Any] | None, status: int, op: str,
    args: dict[str, Any],
) -> None:
    held = held_instance(env)
    with StandInSidecar([held], found_everywhere) as sidecar:
        answered = _call(held, method, path, body)
    assert answered.status_code == status, answered.text
    (ran,) = sidecar.ran
    assert ran["op"] == op and ran["args"] == args
    from zapgate_core.contract.requests import RESULTS

    result = RESULTS[op].model_validate(found_everywhere(ran)["result"])
    assert answered.json() == result.model_dump(mode="json")  # the sidecar's answer, as the result's model
    status_of = _public().get(f"/v1/instances/{held.instance_id}/requests/{ran['request_id']}").json()
    assert status_of["op"] == op and status_of["state"] == "done"


# ------------------------------------------------------------------ bad input: 422, nothing stored
BAD: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/contacts/nobody/info", None),
    ("GET", f"/contacts/{GROUP}/info", None),  # a group is no user
    ("GET", "/contacts/1@unknown.server/picture", None),
    ("POST", f"/contacts/{GROUP}/block", None),
    ("POST", "/groups", {"name": "", "participants": []}),
    ("POST", "/groups", {"name": "   "}),
    ("POST", "/groups", {"name": "Team", "participants": ["not a number"]}),
    ("POST", "/groups", {"name": "Team", "participants": [GROUP]}),
    ("POST", "/groups", {"name": "Team", "participants": [f"55119999{i:05d}" for i in range(51)]}),
    ("GET", "/groups/not-a-group", None),
    ("GET", f"/groups/{JID}", None),
    ("PUT", f"/groups/{PHONE}-x/name", {"name": "x"}),
    ("PUT", f"/groups/{GROUP}/name", {"name": ""}),
    ("PUT", f"/groups/{GROUP}/name", {"name": "x" * 101}),
    ("PUT", f"/groups/{GROUP}/settings", {}),
    ("PUT", f"/groups/{GROUP}/settings", {"announce": "yes"}),
    ("POST", f"/groups/{GROUP}/participants", {"action": "add", "participants": []}),
    ("POST", f"/groups/{GROUP}/participants", {"action": "kick", "participants": [PHONE]}),
    ("POST", f"/groups/{GROUP}/participants", {"action": "add", "participants": ["123"]}),
    ("POST", "/groups/join", {"link": "https://example.com/AbCdEfGhIjKlMnOpQrStUv"}),
    ("POST", "/groups/join", {"link": "short"}),
    ("PUT", "/profile/name", {"name": ""}),
    ("PUT", "/profile/name", {"name": "x" * 26}),
    ("PUT", "/profile/about", {"about": "x" * 140}),
    ("POST", "/presence", {"state": "away"}),
    ("POST", "/chats/read", {"chat": "nobody"}),
    ("POST", "/chats/read", {"chat": PHONE, "message_ids": []}),
    ("POST", "/chats/read", {"chat": PHONE, "message_ids": [f"m{i}" for i in range(101)]}),
    ("POST", "/messages/any-id/edit", {"text": ""}),
]
BAD_ABOUT_A_MESSAGE = [("POST", "/edit", {"text": "   "}), ("POST", "/edit", {"text": "x", "extra": 1})]


@pytest.mark.parametrize(("method", "path", "body"), BAD, ids=[f"{r[0]} {r[1]} {r[2]}"[:80] for r in BAD])
def test_bad_input_is_a_422_and_stores_nothing(
    env: dict[str, str], method: str, path: str, body: dict[str, Any] | None
) -> None:
    held = held_instance(env)
    refused = _call(held, method, path, body)
    assert refused.status_code == 422, refused.text
    assert set(refused.json()) == {"error"}
    assert pushed_requests(held.connection_id or "") == []


@pytest.mark.parametrize(("method", "suffix", "body"), BAD_ABOUT_A_MESSAGE)
def test_bad_input_about_a_sent_message_is_a_422_and_stores_nothing(
    env: dict[str, str], method: str, suffix: str, body: dict[str, Any]
) -> None:
    held = held_instance(env)
    message_id = _sent(held)
    refused = _call(held, method, f"/messages/{message_id}{suffix}", body)
    assert refused.status_code == 422, refused.text
    assert pushed_requests(held.connection_id or "") == []


# ------------------------------------------------------------------ edit
def test_edit_hands_whatsapps_ids_and_marks_the_message_edited_once(env: dict[str, str]) -> None:
    held = held_instance(env)
    message_id = _sent(held, wa_message_id="WA-EDIT")
    with StandInSidecar([held], found_everywhere) as sidecar:
        edited = _call(held, "POST", f"/messages/{message_id}/edit", {"text": "hello, edited"}, key="e-1")
        again = _call(held, "POST", f"/messages/{message_id}/edit", {"text": "hello, edited"}, key="e-1")
    assert edited.status_code == 200, edited.text
    assert edited.json() == {"edit_id": "EDIT-WA-EDIT"} and again.json() == edited.json()
    (ran,) = sidecar.ran  # the replay ran nothing
    args = ran["args"]
    assert ran["op"] == "edit_message"
    assert {k: args[k] for k in ("chat", "message_id", "text")} == {"chat": JID, "message_id": "WA-EDIT",
                                                                    "text": "hello, edited"}
    assert abs(args["sent_at"] - time.time()) < 60
    record = _stored_message(env, message_id)
    assert record.changes is not None and record.changes.edit_count == 1  # the replay marked nothing more
    assert record.changes.original_body == "hello"


def test_edit_refuses_unknown_unsent_and_other_messages_without_asking(env: dict[str, str]) -> None:
    held = held_instance(env)
    queued = _call(held, "POST", "/messages", {"to": PHONE, "body": "not yet"}).json()["id"]
    inbound = _received(held, "WA-IN")
    cases = [("00000000-0000-4000-8000-000000000009", 404, "not_found"), (queued, 409, "message_not_sent"),
             (inbound, 409, "message_not_editable")]
    for message_id, status, code in cases:
        refused = _call(held, "POST", f"/messages/{message_id}/edit", {"text": "x"})
        assert refused.status_code == status, refused.text
        assert refused.json()["error"]["code"] == code
    assert pushed_requests(held.connection_id or "") == []


def test_an_edit_past_whatsapps_window_is_expired_at_once(env: dict[str, str]) -> None:
    from zapgate_control.errors import ApiError
    from zapgate_control.services import requests_messages
    from zapgate_control.wiring import get_stores

    held = held_instance(env)
    message_id = _sent(held)
    stores = get_stores()
    late = int(time.time() * 1000) + 16 * 60 * 1000
    with pytest.raises(ApiError) as refused:
        requests_messages.edit_args(stores.instances, stores.messages, "tenant-a", held.instance_id, message_id,
                                    "x", late)
    assert refused.value.http_status == 422 and refused.value.code == "expired"


def test_expired_from_the_sidecar_is_a_422_forbidden_a_403(env: dict[str, str]) -> None:
    held = held_instance(env)
    message_id = _sent(held)
    with StandInSidecar([held], lambda _: {"error": {"code": "expired", "message": "too old"}}):
        expired = _call(held, "POST", f"/messages/{message_id}/edit", {"text": "x"})
    assert expired.status_code == 422 and expired.json()["error"]["code"] == "expired"
    assert expired.json()["error"]["request_id"]
    assert _stored_message(env, message_id).changes is None  # refused: history unchanged
    with StandInSidecar([held], lambda _: {"error": {"code": "forbidden", "message": "not an admin"}}):
        forbidden = _call(held, "POST", f"/groups/{GROUP}/participants", {"action": "add", "participants": [PHONE]})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"


# ------------------------------------------------------------------ revoke
def test_revoke_of_an_own_message_marks_it_revoked(env: dict[str, str]) -> None:
    held = held_instance(env)
    message_id = _sent(held, wa_message_id="WA-R")
    with StandInSidecar([held], found_everywhere) as sidecar:
        revoked = _call(held, "POST", f"/messages/{message_id}/revoke")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {"revoke_id": "REVOKE-WA-R"}
    assert sidecar.ran[0]["op"] == "revoke_message"
    assert sidecar.ran[0]["args"] == {"chat": JID, "message_id": "WA-R", "sender": None}
    changes = _stored_message(env, message_id).changes
    assert changes is not None and changes.revoked_at
    # A revoked message can no longer be edited.
    refused = _call(held, "POST", f"/messages/{message_id}/edit", {"text": "x"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "message_revoked"


def test_revoke_of_someones_group_message_names_its_author(env: dict[str, str]) -> None:
    held = held_instance(env)
    in_group = _received(held, "WA-G", chat=GROUP, sender=SOMEONE)
    echoed = _received(held, "WA-MINE", chat=JID, sender=JID, from_me=True)  # sent from the phone
    direct = _received(held, "WA-D", chat=JID, sender=JID)
    with StandInSidecar([held], found_everywhere) as sidecar:
        assert _call(held, "POST", f"/messages/{in_group}/revoke").status_code == 200
        assert _call(held, "POST", f"/messages/{echoed}/revoke").status_code == 200
        refused = _call(held, "POST", f"/messages/{direct}/revoke")
    assert [r["args"] for r in sidecar.ran] == [{"chat": GROUP, "message_id": "WA-G", "sender": SOMEONE},
                                                {"chat": JID, "message_id": "WA-MINE", "sender": None}]
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "message_not_revocable"


def test_revoke_of_an_unknown_message_is_a_404_and_stores_nothing(env: dict[str, str]) -> None:
    held = held_instance(env)
    refused = _call(held, "POST", "/messages/00000000-0000-4000-8000-000000000009/revoke")
    assert refused.status_code == 404
    assert pushed_requests(held.connection_id or "") == []


# ------------------------------------------------------------------ group rename
def test_a_rename_done_by_whatsapp_shows_in_the_groups_listing_and_the_audit_at_once(env: dict[str, str]) -> None:
    held = held_instance(env)
    discovered = worker_client().post("/worker-proxy/groups", json={
        "instanceId": held.instance_id, "groups": [{"jid": GROUP, "name": "Old name"}]})
    assert discovered.status_code == 200, discovered.text
    with StandInSidecar([held], found_everywhere):
        assert _call(held, "PUT", f"/groups/{GROUP}/name", {"name": " New name "}).status_code == 200
        assert _call(held, "PUT", f"/groups/{GROUP}/name", {"name": "New name"}).status_code == 200  # same again
    listed = _call(held, "GET", "/groups").json()["groups"]
    assert [(g["jid"], g["name"]) for g in listed] == [(GROUP, "New name")]
    renames = [e["detail"] for e in _call(held, "GET", "/audit").json()["events"] if e["event"] == "group_rename"]
    assert renames == [{"from": "Old name", "to": "New name", "wa_group_id": GROUP}]  # once: the repeat is no rename


# ------------------------------------------------------------------ mark read
def test_mark_read_without_ids_takes_the_chats_latest_received_messages(env: dict[str, str]) -> None:
    held = held_instance(env)
    _received(held, "WA-1")
    _received(held, "WA-2")
    _received(held, "WA-OTHER", chat=SOMEONE, sender=SOMEONE)
    _received(held, "WA-ECHO", from_me=True)
    with StandInSidecar([held], found_everywhere) as sidecar:
        read = _call(held, "POST", "/chats/read", {"chat": f"+{PHONE}"})
    assert read.status_code == 200, read.text
    assert read.json() == {"marked": 2}
    assert sidecar.ran[0]["op"] == "mark_read"
    assert sidecar.ran[0]["args"] == {"chat": JID, "messages": [{"id": "WA-2", "sender": None},
                                                                {"id": "WA-1", "sender": None}]}


def test_mark_read_clears_the_chats_unread_count_up_to_the_newest_message_read(env: dict[str, str]) -> None:
    held = held_instance(env)
    first = _received(held, "WA-1")
    _received(held, "WA-2")
    _received(held, "WA-S", chat=SOMEONE, sender=SOMEONE)

    def unread() -> dict[str, int]:
        listed = _call(held, "GET", "/conversations")
        assert listed.status_code == 200, listed.text
        return {c["chat_id"]: c["unread_count"] for c in listed.json()["conversations"]}

    assert unread() == {JID: 2, SOMEONE: 1}
    with StandInSidecar([held], found_everywhere):
        assert _call(held, "POST", "/chats/read", {"chat": PHONE, "message_ids": [first]}).status_code == 200
        assert unread() == {JID: 1, SOMEONE: 1}  # WA-2 came after the one read
        assert _call(held, "POST", "/chats/read", {"chat": PHONE}).status_code == 200
        assert unread() == {JID: 0, SOMEONE: 1}  # the other chat is not read
        _received(held, "WA-3")
        assert unread() == {JID: 1, SOMEONE: 1}
    read_mark = _stored_message(env, first).changes
    assert read_mark is not None and read_mark.read_at and read_mark.edit_count == 0 and read_mark.revoked_at is None


def test_mark_read_of_named_messages_in_a_group_names_their_senders(env: dict[str, str]) -> None:
    held = held_instance(env)
    first = _received(held, "WA-G1", chat=GROUP, sender=SOMEONE)
    _received(held, "WA-G2", chat=GROUP, sender=JID)
    with StandInSidecar([held], found_everywhere) as sidecar:
        read = _call(held, "POST", "/chats/read", {"chat": GROUP, "message_ids": [first, first]})
    assert read.status_code == 200, read.text
    assert sidecar.ran[0]["args"] == {"chat": GROUP, "messages": [{"id": "WA-G1", "sender": SOMEONE}]}


def test_mark_read_of_named_messages_reads_them_in_one_batch(env: dict[str, str]) -> None:
    from zapgate_control.aws import client

    held = held_instance(env)
    named = [_received(held, f"WA-B{n}") for n in range(5)]
    calls: list[str] = []
    client("dynamodb").meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    with StandInSidecar([held], found_everywhere) as sidecar:
        read = _call(held, "POST", "/chats/read", {"chat": PHONE, "message_ids": [*named, named[0]]})
    assert read.status_code == 200, read.text
    assert [m["id"] for m in sidecar.ran[0]["args"]["messages"]] == [f"WA-B{n}" for n in range(5)]  # order kept
    assert calls.count("BatchGetItem") == 1  # (GetItems are the key's, the instance's and the answer's polls)


def test_mark_read_refuses_unknown_foreign_and_missing_messages(env: dict[str, str]) -> None:
    held = held_instance(env)
    other_chat = _received(held, "WA-O", chat=SOMEONE, sender=SOMEONE)
    sent = _sent(held)
    cases = [
        ({"chat": PHONE, "message_ids": ["00000000-0000-4000-8000-000000000009"]}, 404, "not_found"),
        ({"chat": PHONE, "message_ids": [other_chat]}, 422, "invalid_message"),
        ({"chat": PHONE, "message_ids": [sent]}, 422, "invalid_message"),
        ({"chat": PHONE}, 404, "no_received_messages"),  # only what this account sent
    ]
    for body, status, code in cases:
        refused = _call(held, "POST", "/chats/read", body)
        assert refused.status_code == status, (body, refused.text)
        assert refused.json()["error"]["code"] == code
    assert pushed_requests(held.connection_id or "") == []
