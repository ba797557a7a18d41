"""History (issue 4) against moto: media links signed on read, conversations, one chat's messages.

Messages are made the way they are in production: outbound through the public API, inbound
through the real worker-proxy app, media through /worker-proxy/upload-media.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY
from tests.integration.worker_client import worker_client

X = "5511911111111"
Y = "5511922222222"
GROUP = "120363111111111111@g.us"


def _public(key: str) -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": key}, raise_server_exceptions=False)


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def api(aws_env: dict[str, str]) -> TestClient:
    return _public(API_KEY)


@pytest.fixture
def instance_id(api: TestClient) -> str:
    return _ok(api.post("/v1/instances", json={"name": "history"}), 201)["id"]


def _inbound(instance_id: str, chat: str, body: str, sender: str | None = None, **extra: Any) -> str:
    time.sleep(0.003)  # distinct milliseconds: the timeline orders by them
    return _ok(worker_client().post("/worker-proxy/inbound", json={
        "instanceId": instance_id, "from": sender or chat, "chat_id": chat, "body": body,
        "wa_message_id": f"wa-{body}", **extra,
    }))["id"]  # fmt: skip


def _outbound(api: TestClient, instance_id: str, to: str, body: str) -> str:
    time.sleep(0.003)
    return _ok(api.post(f"/v1/instances/{instance_id}/messages",
                        json={"to": to, "body": body, "queue_if_offline": True}), 202)["id"]  # fmt: skip


# ------------------------------------------------------------------ media links
def test_media_url_is_signed_again_on_every_read(api: TestClient, instance_id: str) -> None:
    data = b"\x89PNG fake image bytes"
    uploaded = _ok(worker_client().post("/worker-proxy/upload-media", json={
        "instanceId": instance_id, "bytes_base64": base64.b64encode(data).decode(), "mime_type": "image/png",
    }))  # fmt: skip
    sha256 = uploaded["sha256"]
    assert sha256 == hashlib.sha256(data).hexdigest()
    # What the sidecar stored long ago: a URL whose signature no longer holds.
    stale = uploaded["media_url"].split("?", 1)[0] + "?X-Amz-Signature=expired"
    message_id = _inbound(instance_id, f"{X}@s.whatsapp.net", "photo", media_type="image", media_url=stale,
                          mime_type="image/png")
    external = _inbound(instance_id, f"{X}@s.whatsapp.net", "elsewhere", media_type="image",
                        media_url="https://cdn.example.com/media/x.png")

    one = _ok(api.get(f"/v1/instances/{instance_id}/messages/{message_id}"))
    listed = _ok(api.get(f"/v1/instances/{instance_id}/messages", params={"direction": "inbound"}))["messages"]
    in_chat = _ok(api.get(f"/v1/instances/{instance_id}/chats/{X}/messages"))["messages"]
    for message in (one, next(m for m in listed if m["id"] == message_id),
                    next(m for m in in_chat if m["id"] == message_id)):
        url = message["media_url"]
        assert url != stale and f"/media/{sha256}" in url and "X-Amz-Signature" in url
        fetched = httpx.get(url)
        assert fetched.status_code == 200 and fetched.content == data
    assert "media_sha256" not in one
    # Not one of ours: answered as stored.
    assert _ok(api.get(f"/v1/instances/{instance_id}/messages/{external}"))["media_url"] == (
        "https://cdn.example.com/media/x.png"
    )


# ------------------------------------------------------------------ conversations
def _seed_chats(api: TestClient, instance_id: str) -> dict[str, str]:
    ids = {}
    ids["x1"] = _inbound(instance_id, f"{X}@s.whatsapp.net", "x1")
    ids["to_x"] = _outbound(api, instance_id, X, "reply to x")  # digits: normalised to X's JID
    ids["y1"] = _inbound(instance_id, f"{Y}@s.whatsapp.net", "y1")
    ids["g1"] = _inbound(instance_id, GROUP, "g1", sender="5511933333333@s.whatsapp.net")
    ids["x2"] = _inbound(instance_id, f"{X}@s.whatsapp.net", "x2")
    ids["x3"] = _inbound(instance_id, f"{X}@s.whatsapp.net", "x3")
    ids["to_y"] = _outbound(api, instance_id, "+55 11 92222-2222", "reply to y")
    return ids


def test_conversations_newest_first_with_last_message_and_unread_count(api: TestClient, instance_id: str) -> None:
    ids = _seed_chats(api, instance_id)
    page = _ok(api.get(f"/v1/instances/{instance_id}/conversations"))
    assert page["next_cursor"] is None
    chats = page["conversations"]
    assert [c["chat_id"] for c in chats] == [f"{Y}@s.whatsapp.net", f"{X}@s.whatsapp.net", GROUP]
    y, x, group = chats
    assert y["last_message"]["id"] == ids["to_y"] and y["last_message"]["direction"] == "outbound"
    assert y["last_message"]["body"] == "reply to y" and y["unread_count"] == 0  # the reply read y1
    assert y["chat_type"] == "direct"
    assert x["last_message"] == {
        "id": ids["x3"], "direction": "inbound", "body": "x3", "media_type": None,
        "created_at": x["last_message"]["created_at"], "from": f"{X}@s.whatsapp.net",
    }  # fmt: skip
    assert x["unread_count"] == 2  # x2, x3: after the reply; x1 was answered
    assert group["chat_type"] == "group" and group["unread_count"] == 1
    assert group["last_message"]["from"] == "5511933333333@s.whatsapp.net"


def test_conversations_page_with_a_cursor(api: TestClient, instance_id: str) -> None:
    _seed_chats(api, instance_id)
    url = f"/v1/instances/{instance_id}/conversations"
    first = _ok(api.get(url, params={"limit": 2}))
    assert [c["chat_id"] for c in first["conversations"]] == [f"{Y}@s.whatsapp.net", f"{X}@s.whatsapp.net"]
    second = _ok(api.get(url, params={"limit": 2, "cursor": first["next_cursor"]}))
    assert [c["chat_id"] for c in second["conversations"]] == [GROUP] and second["next_cursor"] is None
    bad = api.get(url, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"


def test_a_reply_sent_from_the_phone_marks_the_chat_read(api: TestClient, instance_id: str) -> None:
    _inbound(instance_id, f"{X}@s.whatsapp.net", "hello")
    _inbound(instance_id, f"{X}@s.whatsapp.net", "from the phone", sender="5511000000000@s.whatsapp.net",
             from_me=True)
    (chat,) = _ok(api.get(f"/v1/instances/{instance_id}/conversations"))["conversations"]
    assert chat["unread_count"] == 0 and chat["last_message"]["body"] == "from the phone"


# ------------------------------------------------------------------ one chat's messages
def test_chat_messages_both_directions_newest_first_with_paging(api: TestClient, instance_id: str) -> None:
    ids = _seed_chats(api, instance_id)
    url = f"/v1/instances/{instance_id}/chats/{X}@s.whatsapp.net/messages"
    everything = _ok(api.get(url))
    assert [m["id"] for m in everything["messages"]] == [ids["x3"], ids["x2"], ids["to_x"], ids["x1"]]
    assert [m["direction"] for m in everything["messages"]] == ["inbound", "inbound", "outbound", "inbound"]
    # A phone number names the same chat as its JID.
    assert _ok(api.get(f"/v1/instances/{instance_id}/chats/{X}/messages")) == everything

    first = _ok(api.get(url, params={"limit": 3}))
    assert [m["id"] for m in first["messages"]] == [ids["x3"], ids["x2"], ids["to_x"]]
    rest = _ok(api.get(url, params={"limit": 3, "cursor": first["next_cursor"]}))
    assert [m["id"] for m in rest["messages"]] == [ids["x1"]]
    assert rest["next_cursor"] is None

    group = _ok(api.get(f"/v1/instances/{instance_id}/chats/{GROUP}/messages"))["messages"]
    assert [m["id"] for m in group] == [ids["g1"]]
    assert _ok(api.get(f"/v1/instances/{instance_id}/chats/5511955555555/messages")) == {
        "messages": [], "next_cursor": None
    }
    # A cursor of another chat is refused, not followed.
    group_url = f"/v1/instances/{instance_id}/chats/{GROUP}/messages"
    assert api.get(group_url, params={"cursor": first["next_cursor"]}).status_code == 400
    assert api.get(url, params={"cursor": first["next_cursor"] + "x"}).status_code == 400


# ------------------------------------------------------------------ tenants
def test_another_tenant_gets_404_for_conversations_and_chats(
    api: TestClient, instance_id: str, aws_env: dict[str, str]
) -> None:
    _seed_chats(api, instance_id)
    other = _public(OTHER_API_KEY)
    for path in (f"/v1/instances/{instance_id}/conversations", f"/v1/instances/{instance_id}/chats/{X}/messages"):
        response = other.get(path)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
        assert X not in response.text
        unknown = other.get(path.replace(instance_id, "00000000-0000-4000-8000-000000000000"))
        assert unknown.json() == response.json()


def test_conversations_carry_the_contacts_push_name_when_known(api: TestClient, instance_id: str) -> None:
    """Direct chats: the name from the contact's newest message that has one (the console shows it, not the
    number); groups and chats without one: no `push_name` at all, so those answers read exactly as before."""
    _inbound(instance_id, f"{X}@s.whatsapp.net", "old name", push_name="Xavi")
    _inbound(instance_id, f"{X}@s.whatsapp.net", "new name", push_name="Xavier Souza")
    _inbound(instance_id, f"{X}@s.whatsapp.net", "no name this time")
    _inbound(instance_id, GROUP, "in the group", sender="5511933333333@s.whatsapp.net", push_name="Member")
    _outbound(api, instance_id, Y, "only outbound to y")
    chats = {c["chat_id"]: c for c in _ok(api.get(f"/v1/instances/{instance_id}/conversations"))["conversations"]}
    assert chats[f"{X}@s.whatsapp.net"]["push_name"] == "Xavier Souza"
    assert "push_name" not in chats[GROUP]  # a member's name is not the group's
    assert "push_name" not in chats[f"{Y}@s.whatsapp.net"]


def test_the_last_message_says_when_it_was_deleted_for_everyone(api: TestClient, instance_id: str) -> None:
    import os

    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_control.ports.messages import MessageRevoke

    _inbound(instance_id, f"{X}@s.whatsapp.net", "first")
    last = _inbound(instance_id, f"{X}@s.whatsapp.net", "oops")
    (chat,) = _ok(api.get(f"/v1/instances/{instance_id}/conversations"))["conversations"]
    assert "revoked" not in chat["last_message"] and "edited" not in chat["last_message"]  # unchanged: absent
    DynamoMessageStore(os.environ["MESSAGES_TABLE"]).mark_revoked(
        last, MessageRevoke(revoked_at="2025-11-24T16:00:00.000Z", revoked_by=f"{X}@s.whatsapp.net"))
    (chat,) = _ok(api.get(f"/v1/instances/{instance_id}/conversations"))["conversations"]
    assert chat["last_message"]["id"] == last
    assert chat["last_message"]["revoked"] == {"at": "2025-11-24T16:00:00.000Z", "by": f"{X}@s.whatsapp.net"}
