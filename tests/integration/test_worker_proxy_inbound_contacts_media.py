"""Inbound (stored once, LID learning), contacts/resolve under concurrency, media upload and dedupe."""

from __future__ import annotations

import base64
import hashlib
import threading
from typing import Any

import httpx
import pytest

from tests.integration.worker_client import make_instance, worker_client

SIM, NAO = (hashlib.sha256(name.encode()).hexdigest() for name in ("Sim", "Não"))  # how a vote names options


def _inbound(instance_id: str, **overrides: Any) -> dict[str, Any]:
    # The existing Node worker's real payload.
    body = {
        "instanceId": instance_id,
        "from": "5511988887777@s.whatsapp.net",
        "to": "5511999999999:7@s.whatsapp.net",
        "body": "olá",
        "wa_message_id": "3EB0C0FFEE",
        "from_me": False,
        "chat_id_norm": "5511988887777@s.whatsapp.net",
        "sender_jid_raw": "5511988887777@s.whatsapp.net",
        "push_name": "Maria",
        "timestamp": 1_764_000_000,
    }
    body.update(overrides)
    return body


def _stored(env: dict[str, str], message_id: str) -> dict[str, Any] | None:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore

    return DynamoMessageStore(env["MESSAGES_TABLE"]).item(message_id)


def test_inbound_is_stored_once_per_whatsapp_id(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    client = worker_client()
    first = client.post("/worker-proxy/inbound", json=_inbound(instance["id"]))
    assert first.status_code == 200
    assert first.json()["duplicate"] is False
    again = client.post("/worker-proxy/inbound", json=_inbound(instance["id"], body="changed on retry"))
    assert again.json() == {"id": first.json()["id"], "duplicate": True}
    stored = _stored(aws_env, first.json()["id"])
    assert stored["body"] == "olá" and stored["chat_type"] == "direct" and stored["direction"] == "inbound"
    assert stored["push_name"] == "Maria" and stored["wa_timestamp"] == "1764000000"

    other = make_instance(aws_env, "other")
    same_id_elsewhere = client.post("/worker-proxy/inbound", json=_inbound(other["id"]))
    assert same_id_elsewhere.json()["duplicate"] is False  # dedupe is per instance


def test_inbound_accepts_seed_aliases_and_derives_group_chat_type(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    payload = _inbound(instance["id"], wa_message_id="G1", chat_id="120363012345678901@g.us",
                       sender_jid_raw="5511911112222@s.whatsapp.net")
    del payload["chat_id_norm"]
    response = worker_client().post("/worker-proxy/inbound", json=payload)
    assert response.status_code == 200
    assert _stored(aws_env, response.json()["id"])["chat_type"] == "group"


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"body": "", "wa_message_id": "E1"}, 400, "empty_message"),
        ({"body": None, "wa_message_id": "E2"}, 400, "empty_message"),
        ({"body": "", "media_type": "image", "wa_message_id": "E3"}, 400, "invalid_media"),
        ({"media_type": "sticker"}, 422, "validation_error"),
        ({"from": ""}, 422, "validation_error"),
    ],
)
def test_inbound_rejects_bad_input_and_stores_nothing(aws_env: dict[str, str], overrides: dict[str, Any],
                                                      status: int, code: str) -> None:
    instance = make_instance(aws_env)
    response = worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], **overrides))
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore

    assert DynamoMessageStore(aws_env["MESSAGES_TABLE"]).timeline(instance["id"], "inbound", 10, None)[0] == []


def test_inbound_for_unknown_instance_is_404(aws_env: dict[str, str]) -> None:
    assert worker_client().post("/worker-proxy/inbound", json=_inbound("ghost")).status_code == 404


def test_media_inbound_needs_url_and_keeps_metadata(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    response = worker_client().post("/worker-proxy/inbound", json=_inbound(
        instance["id"], body="", wa_message_id="M1", media_type="document", media_url="https://x.test/f.pdf",
        mime_type="application/pdf", file_name="f.pdf", file_size=1234))
    assert response.status_code == 200
    stored = _stored(aws_env, response.json()["id"])
    assert (stored["media_type"], stored["file_name"], stored["file_size"]) == ("document", "f.pdf", 1234)


def test_lid_sender_with_phone_teaches_primary_jid(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    client = worker_client()
    url = f"/worker-proxy/contacts/primary-jid?instanceId={instance['id']}&jid=123456789012345@lid"
    assert client.get(url).json() == {"jid_pn": None, "jid": None}
    client.post("/worker-proxy/inbound", json=_inbound(
        instance["id"], wa_message_id="L1", **{"from": "123456789012345@lid"},
        sender_jid_raw="123456789012345@lid", sender_pn="5511977776666"))
    assert client.get(url).json() == {"jid_pn": "5511977776666@s.whatsapp.net",
                                      "jid": "5511977776666@s.whatsapp.net"}
    pn = client.get(f"/worker-proxy/contacts/primary-jid?instanceId={instance['id']}&jid=5511@s.whatsapp.net")
    assert pn.status_code == 200


def test_contacts_resolve_operations(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    client = worker_client()
    body = {"instanceId": instance["id"], "jid": "5511988887777@s.whatsapp.net", "jid_type": "pn", "push_name": "A"}
    created = client.post("/worker-proxy/contacts/resolve", json=body).json()
    assert created["operation"] == "created"
    same = client.post("/worker-proxy/contacts/resolve", json=body).json()
    assert same == {"contact_id": created["contact_id"], "operation": "already_exists"}
    renamed = client.post("/worker-proxy/contacts/resolve", json={**body, "push_name": "B"}).json()
    assert renamed == {"contact_id": created["contact_id"], "operation": "updated"}
    assert client.post("/worker-proxy/contacts/resolve",
                       json={**body, "jid_type": "email"}).status_code == 422


def test_concurrent_resolve_creates_exactly_once(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)
    barrier = threading.Barrier(8)
    answers: list[dict[str, Any]] = []

    def resolve() -> None:
        client = worker_client()
        barrier.wait()
        response = client.post("/worker-proxy/contacts/resolve",
                               json={"instanceId": instance["id"], "jid": "99887766@lid", "jid_type": "lid"})
        assert response.status_code == 200
        answers.append(response.json())

    threads = [threading.Thread(target=resolve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 8
    assert [a["operation"] for a in answers].count("created") == 1
    assert len({a["contact_id"] for a in answers}) == 1


def test_upload_media_dedupes_by_content_and_serves_a_presigned_url(aws_env: dict[str, str],
                                                                     moto_server: Any) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    body = {"instanceId": "i", "messageId": "3EB0", "mime_type": "image/png", "file_name": "x.png",
            "bytes_base64": base64.b64encode(data).decode()}
    client = worker_client()
    first = client.post("/worker-proxy/upload-media", json=body)
    assert first.status_code == 200
    assert first.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert first.json()["size"] == len(data)
    second = client.post("/worker-proxy/upload-media", json={**body, "messageId": "other", "file_name": "y.png"})
    assert second.json()["sha256"] == first.json()["sha256"]

    objects = moto_server.client("s3").list_objects_v2(Bucket=aws_env["MEDIA_BUCKET"])["Contents"]
    assert [o["Key"] for o in objects] == [f"media/{first.json()['sha256']}"]
    fetched = httpx.get(first.json()["media_url"])
    assert fetched.status_code == 200 and fetched.content == data
    assert "X-Amz-Signature" in first.json()["media_url"]


def test_upload_media_rejects_bad_base64_and_oversize(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                                      moto_server: Any) -> None:
    from zapgate_control.settings import get_settings
    from zapgate_control.wiring import get_stores

    client = worker_client()
    bad = client.post("/worker-proxy/upload-media", json={"instanceId": "i", "bytes_base64": "not base64!!"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_base64"
    assert "not base64" not in bad.text  # error bodies never echo media

    monkeypatch.setenv("MEDIA_MAX_BYTES", "1000")
    get_settings.cache_clear()
    get_stores.cache_clear()
    big = base64.b64encode(b"a" * 1001).decode()
    response = client.post("/worker-proxy/upload-media", json={"instanceId": "i", "bytes_base64": big})
    assert response.status_code == 413 and response.json()["error"]["code"] == "media_too_large"
    just_fits = base64.b64encode(b"a" * 1000).decode()
    assert client.post("/worker-proxy/upload-media", json={"instanceId": "i", "bytes_base64": just_fits}
                       ).status_code == 200
    listed = moto_server.client("s3").list_objects_v2(Bucket=aws_env["MEDIA_BUCKET"]).get("Contents", [])
    assert len(listed) == 1


def test_session_refresh_is_acknowledged_and_audited(aws_env: dict[str, str], moto_server: Any) -> None:
    response = worker_client().post("/worker-proxy/sessions/refresh",
                                    json={"instanceId": "i-1", "jid": "5511@s.whatsapp.net",
                                          "trigger": "no matching sessions found"})
    assert response.status_code == 200
    items = moto_server.client("dynamodb").query(
        TableName=aws_env["AUDIT_TABLE"], KeyConditionExpression="instance_id = :i",
        ExpressionAttributeValues={":i": {"S": "i-1"}})["Items"]
    assert len(items) == 1 and items[0]["event"]["S"] == "session_refresh"


# ------------------------------------------------------------------ zapgate extensions: typed kinds and quotes
def test_the_node_workers_inbound_bodies_are_stored_exactly_as_before(aws_env: dict[str, str]) -> None:
    """The additive extensions change nothing for the existing worker: same item, no new attribute."""
    from zapgate_core.domain.events import inbound_event

    instance = make_instance(aws_env)
    text = worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"]))
    media = worker_client().post("/worker-proxy/inbound", json=_inbound(
        instance["id"], body="", wa_message_id="M1", media_type="image", media_url="https://x.test/a.jpg",
        mime_type="image/jpeg", file_name="a.jpg", file_size=10))
    assert text.status_code == media.status_code == 200
    stored = _stored(aws_env, text.json()["id"])
    volatile = {"id", "created_at", "expires_at_epoch", "timeline_sk"}
    assert {k: v for k, v in stored.items() if k not in volatile} == {
        "instance_id": instance["id"], "tenant_id": "tenant-a", "direction": "inbound", "state": "received",
        "timeline_pk": f"{instance['id']}#inbound", "chat_pk": f"{instance['id']}#5511988887777@s.whatsapp.net",
        "from": "5511988887777@s.whatsapp.net", "to": "5511999999999:7@s.whatsapp.net", "body": "olá",
        "wa_message_id": "3EB0C0FFEE", "from_me": False, "chat_id_norm": "5511988887777@s.whatsapp.net",
        "chat_type": "direct", "sender_jid_raw": "5511988887777@s.whatsapp.net", "push_name": "Maria",
        "wa_timestamp": "1764000000",
    }
    assert set(stored) == set(volatile) | {
        "instance_id", "tenant_id", "direction", "state", "timeline_pk", "chat_pk", "from", "to", "body",
        "wa_message_id", "from_me", "chat_id_norm", "chat_type", "sender_jid_raw", "push_name", "wa_timestamp",
    }
    with_media = _stored(aws_env, media.json()["id"])
    assert not {"message_type", "quoted_wa_message_id", "quoted_text", "location", "contact", "reaction", "poll",
                "poll_vote", "selection"} & (set(stored) | set(with_media))
    assert inbound_event(with_media)["payload"]["message"]["type"] == "image"


def test_typed_and_quoted_inbound_messages_are_stored_and_shown_in_history(aws_env: dict[str, str]) -> None:
    from fastapi.testclient import TestClient

    from tests.conftest import API_KEY
    from zapgate_core.domain.events import inbound_event
    from zapgate_public_api.app import app as public_app

    instance = make_instance(aws_env)
    client = worker_client()
    posted = {
        "location": _inbound(instance["id"], body="", wa_message_id="T1", message_type="location",
                             location={"latitude": -23.55052, "longitude": -46.633308, "name": "Sé"}),
        "reaction": _inbound(instance["id"], body="", wa_message_id="T2", message_type="reaction",
                             reaction={"wa_message_id": "3EB0OURS", "emoji": "", "from_me": True}),
        "poll": _inbound(instance["id"], body="Almoço?\n- Sim\n- Não", wa_message_id="T3", message_type="poll",
                         poll={"name": "Almoço?", "options": ["Sim", "Não"], "selectable_count": 1}),
        "quote": _inbound(instance["id"], body="sim", wa_message_id="T4", quoted_wa_message_id="3EB0Q",
                          quoted_text="vem amanhã?"),
        "list": _inbound(instance["id"], body="Plano anual", wa_message_id="T5", message_type="list_response",
                         selection={"id": "row-12", "text": "Plano anual"}),
        "vote": _inbound(instance["id"], body="Sim", wa_message_id="T6", message_type="poll_choice",
                         poll_vote={"poll_message_id": "T3", "option_hashes": [SIM, NAO], "options": ["Sim"]}),
        "unvote": _inbound(instance["id"], body="", wa_message_id="T7", message_type="poll_choice",
                           poll_vote={"poll_message_id": "T3"}),
    }
    ids = {}
    for name, body in posted.items():
        response = client.post("/worker-proxy/inbound", json=body)
        assert response.status_code == 200, (name, response.text)
        ids[name] = response.json()["id"]

    location = _stored(aws_env, ids["location"])
    assert location["message_type"] == "location" and "body" in location and location["body"] == ""
    assert location["location"] == {"latitude": "-23.55052", "longitude": "-46.633308", "name": "Sé"}  # decimal text
    assert _stored(aws_env, ids["reaction"])["reaction"] == {"wa_message_id": "3EB0OURS", "emoji": "", "from_me": True}
    assert _stored(aws_env, ids["vote"])["poll_vote"] == {"poll_message_id": "T3", "option_hashes": [SIM, NAO],
                                                          "options": ["Sim"]}
    assert inbound_event(_stored(aws_env, ids["vote"]))["payload"]["message"]["pollVote"] == {
        "pollMessageId": "T3", "optionHashes": [SIM, NAO], "options": ["Sim"]}
    unvote = _stored(aws_env, ids["unvote"])
    assert (unvote["message_type"], unvote["body"]) == ("poll_choice", "")
    assert unvote["poll_vote"] == {"poll_message_id": "T3", "option_hashes": [], "options": []}
    quote = _stored(aws_env, ids["quote"])
    assert (quote["quoted_wa_message_id"], quote["quoted_text"]) == ("3EB0Q", "vem amanhã?")
    assert "message_type" not in quote  # a quoted text is still a text

    public = TestClient(public_app, headers={"X-API-Key": API_KEY})

    def shown(name: str) -> dict[str, Any]:
        response = public.get(f"/v1/instances/{instance['id']}/messages/{ids[name]}")
        assert response.status_code == 200
        return dict(response.json())

    assert shown("location")["type"] == "location"
    assert shown("location")["location"] == {"latitude": -23.55052, "longitude": -46.633308, "name": "Sé",
                                             "address": None}
    assert shown("reaction")["reaction"] == {"emoji": "", "message_id": None, "wa_message_id": "3EB0OURS",
                                             "from_me": True}
    assert shown("poll")["poll"] == {"name": "Almoço?", "options": ["Sim", "Não"], "selectable_count": 1}
    assert shown("list")["selection"] == {"id": "row-12", "text": "Plano anual"}
    vote = shown("vote")
    assert (vote["type"], vote["body"], vote["poll"]) == ("poll_choice", "Sim", None)
    assert vote["poll_vote"] == {"poll_message_id": "T3", "option_hashes": [SIM, NAO], "options": ["Sim"]}
    assert shown("unvote")["poll_vote"] == {"poll_message_id": "T3", "option_hashes": [], "options": []}
    assert shown("poll")["poll_vote"] is None
    quoted = shown("quote")
    assert (quoted["type"], quoted["quoted_wa_message_id"], quoted["quoted_text"]) == ("text", "3EB0Q", "vem amanhã?")
    assert quoted["location"] is None and quoted["poll"] is None
    listed = public.get(f"/v1/instances/{instance['id']}/messages?direction=inbound").json()["messages"]
    assert {m["id"]: m["type"] for m in listed} == {
        ids["location"]: "location", ids["reaction"]: "reaction", ids["poll"]: "poll", ids["quote"]: "text",
        ids["list"]: "list_response", ids["vote"]: "poll_choice", ids["unvote"]: "poll_choice",
    }


@pytest.mark.parametrize(
    "overrides",
    [
        {"body": "", "location": {"latitude": 1, "longitude": 2}},
        {"body": "", "message_type": "location"},
        {"body": "", "message_type": "location", "location": {"latitude": 91, "longitude": 2}},
        {"body": "", "message_type": "reaction", "reaction": {"emoji": "👍"}},
        {"body": "x", "quoted_text": "q" * 1_001},
        {"body": "", "message_type": "poll", "poll": {"name": "q", "options": [str(i) for i in range(33)]}},
        {"body": "", "message_type": "poll_choice"},
        {"body": "", "message_type": "poll_choice", "poll_vote": {"poll_message_id": "T3", "option_hashes": ["Sim"]}},
        {"body": "Sim", "poll_vote": {"poll_message_id": "T3", "option_hashes": [SIM]}},
    ],
)
def test_bad_typed_inbound_is_422_and_stores_nothing(aws_env: dict[str, str], overrides: dict[str, Any]) -> None:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore

    instance = make_instance(aws_env)
    response = worker_client().post("/worker-proxy/inbound", json=_inbound(instance["id"], **overrides))
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"
    assert DynamoMessageStore(aws_env["MESSAGES_TABLE"]).timeline(instance["id"], "inbound", 10, None)[0] == []
