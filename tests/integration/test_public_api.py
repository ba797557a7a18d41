"""Public API (/v1) against moto: auth, tenant isolation, instances, sending, history, paging.

Nothing of the code under test is replaced: the app runs with its real adapters on fresh
template tables, and the sidecar's side of a message's life is played through the real
worker-proxy app, so a status seen here is the one a sidecar's calls produced.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY, WORKER_SECRET

PHONE = "5511999999999"
INSTANCE_FIELDS = {
    "id", "name", "priority", "enabled", "status", "qr_code", "pairing_code", "wa_jid", "push_name",
    "ingest_monitored_groups_only", "created_at", "updated_at",
}  # fmt: skip
MESSAGE_FIELDS = {
    "id", "direction", "status", "to", "from", "body", "media_type", "media_url", "mime_type", "file_name",
    "wa_message_id", "error", "chat_id", "push_name", "created_at", "finished_at",
    # the kind, the quote (inbound) and the typed kinds' object (null unless the message is of that kind)
    "type", "quoted_wa_message_id", "quoted_text", "location", "contact", "reaction", "poll", "poll_vote", "selection",
}  # fmt: skip
QR = "data:image/png;base64,iVBORw0KGgo="


# ------------------------------------------------------------------ clients and helpers
def _public(key: str | None) -> TestClient:
    from zapgate_public_api.app import app

    headers = {"X-API-Key": key} if key is not None else {}
    return TestClient(app, headers=headers, raise_server_exceptions=False)


@pytest.fixture
def api(aws_env: dict[str, str]) -> TestClient:
    """Tenant A."""
    return _public(API_KEY)


@pytest.fixture
def other(aws_env: dict[str, str]) -> TestClient:
    """Tenant B."""
    return _public(OTHER_API_KEY)


@pytest.fixture
def worker(aws_env: dict[str, str]) -> TestClient:
    from zapgate_worker_proxy.app import app

    return TestClient(
        app, headers={"Authorization": f"Bearer {WORKER_SECRET}"}, raise_server_exceptions=False
    )


def create(client: TestClient, name: str = "inst", **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/instances", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def set_status(worker: TestClient, instance_id: str, status: str, **fields: Any) -> None:
    response = worker.post(
        "/worker-proxy/update-status", json={"instanceId": instance_id, "status": status, **fields}
    )
    assert response.status_code == 200, response.text


def connected(api: TestClient, worker: TestClient, name: str = "inst") -> dict[str, Any]:
    instance = create(api, name)
    set_status(worker, instance["id"], "CONNECTED", jid=f"{PHONE}@s.whatsapp.net", push_name="Shop")
    return instance


def send(api: TestClient, instance_id: str, **fields: Any) -> dict[str, Any]:
    response = api.post(f"/v1/instances/{instance_id}/messages", json={"to": PHONE, "body": "hi", **fields})
    assert response.status_code == 202, response.text
    return response.json()


def claim(worker: TestClient, instance_id: str) -> list[dict[str, Any]]:
    """What a sidecar polling this instance is handed now (each message is then claimed)."""
    response = worker.get("/worker-proxy/queued-messages", params={"instanceId": instance_id})
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def eligible_ids(worker: TestClient) -> list[str]:
    response = worker.get("/worker-proxy/eligible-instances")
    assert response.status_code == 200
    return [i["id"] for i in response.json()["instances"]]


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


def page_through(
    client: TestClient, path: str, key: str, limit: int, **params: str
) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = {"limit": str(limit), **params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        pages.append(response.json()[key])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "paging does not end"


# ------------------------------------------------------------------ surface
ROUTES = [
    ("POST", "/v1/instances"),
    ("GET", "/v1/instances"),
    ("GET", "/v1/instances/{instance_id}"),
    ("PATCH", "/v1/instances/{instance_id}"),
    ("DELETE", "/v1/instances/{instance_id}"),
    ("POST", "/v1/instances/{instance_id}/messages"),
    ("GET", "/v1/instances/{instance_id}/messages"),
    ("GET", "/v1/instances/{instance_id}/messages/{message_id}"),
]
KEY_ROUTES = [("POST", "/v1/keys"), ("GET", "/v1/keys"), ("DELETE", "/v1/keys/{key_id}")]  # test_api_keys.py
COMMAND_GROUP_AUDIT_ROUTES = [  # test_commands_groups_audit.py
    ("POST", "/v1/instances/{instance_id}/commands"), ("GET", "/v1/instances/{instance_id}/groups"),
    ("PATCH", "/v1/instances/{instance_id}/groups/{jid}"), ("GET", "/v1/instances/{instance_id}/audit"),
]  # fmt: skip
WEBHOOK_ROUTES = [  # test_events_pipeline.py, test_webhook_secret_rotation.py
    ("POST", "/v1/webhooks"), ("GET", "/v1/webhooks"), ("DELETE", "/v1/webhooks/{webhook_id}"),
    ("POST", "/v1/webhooks/{webhook_id}/secret"),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"),  # test_webhook_deliveries_api.py
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{event_id}/redrive"),
]  # fmt: skip
UPLOAD_ROUTES = [("POST", "/v1/media-uploads")]  # test_media_uploads.py
LIVE_ROUTES = [("POST", "/v1/live/tickets")]  # test_live_updates.py
REQUEST_ROUTES = [  # test_phone_requests.py, test_phone_request_routes.py
    ("POST", "/v1/instances/{instance_id}/contacts/check"),
    ("POST", "/v1/instances/{instance_id}/chats/presence"),
    ("GET", "/v1/instances/{instance_id}/requests/{request_id}"),
    ("GET", "/v1/instances/{instance_id}/contacts/{contact}/info"),
    ("GET", "/v1/instances/{instance_id}/contacts/{contact}/picture"),
    ("POST", "/v1/instances/{instance_id}/contacts/{contact}/block"),
    ("POST", "/v1/instances/{instance_id}/contacts/{contact}/unblock"),
    ("GET", "/v1/instances/{instance_id}/blocklist"),
    ("POST", "/v1/instances/{instance_id}/messages/{message_id}/edit"),
    ("POST", "/v1/instances/{instance_id}/messages/{message_id}/revoke"),
    ("POST", "/v1/instances/{instance_id}/chats/read"),
    ("POST", "/v1/instances/{instance_id}/presence"),
    ("POST", "/v1/instances/{instance_id}/groups"),
    ("GET", "/v1/instances/{instance_id}/groups/{jid}"),
    ("PUT", "/v1/instances/{instance_id}/groups/{jid}/name"),
    ("PUT", "/v1/instances/{instance_id}/groups/{jid}/description"),
    ("PUT", "/v1/instances/{instance_id}/groups/{jid}/settings"),
    ("POST", "/v1/instances/{instance_id}/groups/{jid}/participants"),
    ("GET", "/v1/instances/{instance_id}/groups/{jid}/invite-link"),
    ("POST", "/v1/instances/{instance_id}/groups/{jid}/invite-link/reset"),
    ("POST", "/v1/instances/{instance_id}/groups/join"),
    ("POST", "/v1/instances/{instance_id}/groups/{jid}/leave"),
    ("PUT", "/v1/instances/{instance_id}/profile/name"),
    ("PUT", "/v1/instances/{instance_id}/profile/about"),
]
HISTORY_ROUTES = [  # test_conversations.py
    ("GET", "/v1/instances/{instance_id}/conversations"),
    ("GET", "/v1/instances/{instance_id}/chats/{chat_id}/messages"),
    ("GET", "/v1/instances/{instance_id}/metrics"),  # test_instance_metrics.py
]


AUTOMATION_ROUTES = [  # test_automations_api.py
    ("POST", "/v1/instances/{instance_id}/automations"),
    ("GET", "/v1/instances/{instance_id}/automations"),
    ("GET", "/v1/instances/{instance_id}/automations/{automation_id}"),
    ("PUT", "/v1/instances/{instance_id}/automations/{automation_id}"),
    ("PATCH", "/v1/instances/{instance_id}/automations/{automation_id}"),
    ("DELETE", "/v1/instances/{instance_id}/automations/{automation_id}"),
    ("GET", "/v1/instances/{instance_id}/interactions"),
    ("GET", "/v1/instances/{instance_id}/chats/{chat_id}/escalation"),
    ("DELETE", "/v1/instances/{instance_id}/chats/{chat_id}/escalation"),
]
UNAUTHENTICATED_ROUTES = [("GET", "/v1/healthz")]  # health checks carry no key and read no tenant data


def test_exactly_the_public_routes_are_served_with_openapi_under_v1(aws_env: dict[str, str]) -> None:
    client = _public(None)
    spec = client.get("/v1/openapi.json")
    assert spec.status_code == 200
    served = {(method.upper(), path) for path, ops in spec.json()["paths"].items() for method in ops}
    assert served == set(ROUTES) | set(KEY_ROUTES) | set(COMMAND_GROUP_AUDIT_ROUTES) | set(WEBHOOK_ROUTES) | set(
        UPLOAD_ROUTES
    ) | set(HISTORY_ROUTES) | set(UNAUTHENTICATED_ROUTES) | set(LIVE_ROUTES) | set(REQUEST_ROUTES) | set(
        AUTOMATION_ROUTES
    )
    schemes = spec.json()["components"]["securitySchemes"]
    assert [(s["type"], s["in"], s["name"]) for s in schemes.values()] == [("apiKey", "header", "X-API-Key")]
    for path, ops in spec.json()["paths"].items():
        for method, op in ops.items():
            if (method.upper(), path) in UNAUTHENTICATED_ROUTES:
                assert "security" not in op
            else:
                assert op["security"] == [{name: []} for name in schemes]
    assert client.get("/v1/docs").status_code == 200
    assert client.get("/docs").status_code == 404


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("key", [None, "", "wrong-key", "x" * 5_000])
def test_every_route_refuses_a_missing_or_unknown_key(
    api: TestClient, method: str, path: str, key: str | None
) -> None:
    instance = create(api)  # a real id: the 401 must not depend on what exists
    url = path.format(instance_id=instance["id"], message_id="m")
    response = _public(key).request(method, url, json={"name": "x", "to": PHONE, "body": "x"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert API_KEY not in response.text
    assert api.get(f"/v1/instances/{instance['id']}").status_code == 200  # nothing was touched


def test_a_revoked_key_is_refused(aws_env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.api_keys import put_api_key

    put_api_key(aws_env["API_KEYS_TABLE"], "revoked-key-0123456789", "tenant-a", "old")
    client = _public("revoked-key-0123456789")
    assert client.get("/v1/instances").status_code == 200
    from zapgate_control.adapters.dynamodb.api_keys import hash_key
    from zapgate_control.aws import client as aws_client

    aws_client("dynamodb").update_item(
        TableName=aws_env["API_KEYS_TABLE"],
        Key={"key_hash": {"S": hash_key("revoked-key-0123456789")}},
        UpdateExpression="SET revoked = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    assert client.get("/v1/instances").status_code == 401


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    from zapgate_control.observability import logger

    handler = _Records()
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def test_api_keys_never_reach_the_logs(
    api: TestClient, log_records: list[logging.LogRecord], capsys: pytest.CaptureFixture[str]
) -> None:
    create(api)
    _public("wrong-key-that-must-stay-secret").get("/v1/instances")
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in log_records) + " ".join(capsys.readouterr())
    assert any(
        r.getMessage() == "request" and r.__dict__.get("route") == "/v1/instances" for r in log_records
    )
    assert API_KEY not in logged
    assert "wrong-key-that-must-stay-secret" not in logged


# ------------------------------------------------------------------ instances
def test_create_answers_the_new_disconnected_instance(api: TestClient) -> None:
    response = api.post("/v1/instances", json={"name": "  Sales  "})
    assert response.status_code == 201
    instance = response.json()
    assert set(instance) == INSTANCE_FIELDS
    assert instance["name"] == "Sales"
    assert (instance["priority"], instance["enabled"], instance["status"]) == (0, True, "DISCONNECTED")
    assert instance["qr_code"] is None and instance["wa_jid"] is None
    assert instance["created_at"] == instance["updated_at"]
    assert api.get(f"/v1/instances/{instance['id']}").json() == instance

    explicit = create(api, "Support", priority=-1_000_000, enabled=False)
    assert (explicit["priority"], explicit["enabled"]) == (-1_000_000, False)
    assert create(api, "Top", priority=1_000_000)["priority"] == 1_000_000


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": 7},
        {"name": "a", "priority": 1_000_001},
        {"name": "a", "priority": -1_000_001},
        {"name": "a", "priority": "5"},
        {"name": "a", "priority": 1.5},
        {"name": "a", "priority": True},
        {"name": "a", "enabled": "yes"},
        {"name": "a", "enabled": 1},
        {"name": "a", "status": "CONNECTED"},
        {"name": "a", "tenant_id": "tenant-b"},
        [],
    ],
)
def test_create_refuses_bad_input(api: TestClient, body: Any) -> None:
    response = api.post("/v1/instances", json=body)
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "validation_error"
    assert api.get("/v1/instances").json()["instances"] == []


def test_malformed_json_is_400(api: TestClient, worker: TestClient) -> None:
    instance = connected(api, worker)
    headers = {"Content-Type": "application/json"}
    for method, path in [
        ("POST", "/v1/instances"),
        ("PATCH", f"/v1/instances/{instance['id']}"),
        ("POST", f"/v1/instances/{instance['id']}/messages"),
    ]:
        response = api.request(method, path, content=b'{"name": "x",', headers=headers)
        assert response.status_code == 400, (method, path, response.text)
        assert error_of(response)["code"] == "malformed_json"
    assert len(api.get("/v1/instances").json()["instances"]) == 1
    assert api.get(f"/v1/instances/{instance['id']}/messages").json()["messages"] == []


def test_get_shows_status_and_qr_as_the_sidecar_reports_them(api: TestClient, worker: TestClient) -> None:
    instance = create(api)
    set_status(worker, instance["id"], "CONNECTING", qr_code=QR, pairing_code="ABCD-1234")
    pairing = api.get(f"/v1/instances/{instance['id']}").json()
    assert (pairing["status"], pairing["qr_code"], pairing["pairing_code"]) == ("CONNECTING", QR, "ABCD-1234")

    set_status(worker, instance["id"], "CONNECTED", jid=f"{PHONE}@s.whatsapp.net", push_name="Shop")
    live = api.get(f"/v1/instances/{instance['id']}").json()
    assert set(live) == INSTANCE_FIELDS
    assert live["status"] == "CONNECTED" and live["qr_code"] is None and live["pairing_code"] is None
    assert (live["wa_jid"], live["push_name"]) == (f"{PHONE}@s.whatsapp.net", "Shop")


def test_unknown_instance_is_404_everywhere(api: TestClient) -> None:
    bodies = {"PATCH": {"name": "x"}, "POST": {"to": PHONE, "body": "x", "queue_if_offline": True}}
    for method, path in ROUTES[2:]:
        url = path.format(instance_id="no-such-instance", message_id="m")
        response = api.request(method, url, json=bodies.get(method))
        assert response.status_code == 404, (method, url, response.text)
        assert error_of(response)["code"] == "not_found"


def test_list_shows_only_the_tenants_instances_in_pages(api: TestClient, other: TestClient) -> None:
    mine = [create(api, f"a{n}")["id"] for n in range(5)]
    theirs = [create(other, f"b{n}")["id"] for n in range(2)]

    pages = page_through(api, "/v1/instances", "instances", limit=2)
    assert [len(p) for p in pages] in ([2, 2, 1], [2, 2, 1, 0])
    listed = [i["id"] for page in pages for i in page]
    assert listed == mine  # creation order, no overlap, nothing missing
    assert all(set(i) == INSTANCE_FIELDS for page in pages for i in page)

    assert [i["id"] for i in other.get("/v1/instances").json()["instances"]] == theirs
    default = api.get("/v1/instances").json()
    assert len(default["instances"]) == 5 and default["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
def test_list_limit_is_bounded(api: TestClient, limit: str) -> None:
    response = api.get("/v1/instances", params={"limit": limit})
    assert response.status_code == 422
    assert error_of(response)["code"] == "validation_error"


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        "%%%",
        _cursor(["a"]),
        _cursor({"id": "x"}),
        _cursor({"id": 1, "tenant_id": "tenant-a", "created_sk": "0"}),
        _cursor({"id": "x", "timeline_pk": "x#outbound", "timeline_sk": "0"}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_list_refuses_a_malformed_cursor(api: TestClient, cursor: str) -> None:
    create(api)
    response = api.get("/v1/instances", params={"cursor": cursor})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_cursor"


def test_another_tenants_cursor_is_refused_not_followed(api: TestClient, other: TestClient) -> None:
    for n in range(2):
        create(api, f"a{n}")
        create(other, f"b{n}")
    foreign = other.get("/v1/instances", params={"limit": "1"}).json()["next_cursor"]
    assert foreign
    response = api.get("/v1/instances", params={"cursor": foreign})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_cursor"


def test_patch_changes_only_what_is_given(api: TestClient) -> None:
    instance = create(api, "before", priority=3)
    time.sleep(0.002)  # updated_at has millisecond resolution
    response = api.patch(f"/v1/instances/{instance['id']}", json={"name": "after"})
    assert response.status_code == 200
    updated = response.json()
    assert set(updated) == INSTANCE_FIELDS
    assert (updated["name"], updated["priority"], updated["enabled"]) == ("after", 3, True)
    assert updated["updated_at"] > instance["updated_at"]
    assert updated["created_at"] == instance["created_at"]

    both = api.patch(f"/v1/instances/{instance['id']}", json={"priority": -7, "enabled": False}).json()
    assert (both["name"], both["priority"], both["enabled"]) == ("after", -7, False)
    assert api.get(f"/v1/instances/{instance['id']}").json() == both


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": None},
        {"enabled": None},
        {"name": ""},
        {"priority": 2_000_000},
        {"priority": "1"},
        {"enabled": "false"},
        {"status": "CONNECTED"},
        {"name": "ok", "colour": "red"},
        [],
    ],
)
def test_patch_refuses_bad_input(api: TestClient, body: Any) -> None:
    instance = create(api, "keep", priority=1)
    response = api.patch(f"/v1/instances/{instance['id']}", json=body)
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "validation_error"
    assert api.get(f"/v1/instances/{instance['id']}").json() == instance


def test_disabling_removes_from_eligible_and_priority_reorders(api: TestClient, worker: TestClient) -> None:
    first = create(api, "first", priority=0)
    second = create(api, "second", priority=10)
    create(api, "off", priority=99, enabled=False)
    assert eligible_ids(worker) == [second["id"], first["id"]]

    api.patch(f"/v1/instances/{first['id']}", json={"priority": 20})
    assert eligible_ids(worker) == [first["id"], second["id"]]

    api.patch(f"/v1/instances/{first['id']}", json={"enabled": False})
    assert eligible_ids(worker) == [second["id"]]

    api.patch(f"/v1/instances/{first['id']}", json={"enabled": True})
    assert eligible_ids(worker) == [first["id"], second["id"]]
    eligible = worker.get("/worker-proxy/eligible-instances").json()["instances"]
    assert (eligible[0]["id"], eligible[0]["priority"]) == (first["id"], 20)


def test_delete_removes_the_instance(api: TestClient, worker: TestClient) -> None:
    doomed = create(api, "doomed")
    kept = create(api, "kept")
    response = api.delete(f"/v1/instances/{doomed['id']}")
    assert response.status_code == 204
    assert response.content == b""

    assert api.get(f"/v1/instances/{doomed['id']}").status_code == 404
    assert api.delete(f"/v1/instances/{doomed['id']}").status_code == 404
    assert [i["id"] for i in api.get("/v1/instances").json()["instances"]] == [kept["id"]]
    assert eligible_ids(worker) == [kept["id"]]


def test_another_tenants_instance_is_invisible(
    api: TestClient, other: TestClient, worker: TestClient
) -> None:
    instance = connected(api, worker)
    message = send(api, instance["id"])
    base = f"/v1/instances/{instance['id']}"

    attempts = [
        other.get(base),
        other.patch(base, json={"enabled": False}),
        other.delete(base),
        other.post(f"{base}/messages", json={"to": PHONE, "body": "hijack"}),
        other.post(f"{base}/messages", json={"to": PHONE, "body": "hijack", "queue_if_offline": True}),
        other.get(f"{base}/messages"),
        other.get(f"{base}/messages", params={"direction": "inbound"}),
        other.get(f"{base}/messages/{message['id']}"),
    ]
    for response in attempts:
        assert response.status_code == 404, (response.request.method, response.request.url, response.text)
        assert error_of(response) == {"code": "not_found", "message": "instance not found"}
    assert other.get("/v1/instances").json() == {"instances": [], "next_cursor": None}

    # Nothing of tenant B's attempts landed on tenant A's instance.
    assert api.get(base).json()["enabled"] is True
    assert [m["id"] for m in api.get(f"{base}/messages").json()["messages"]] == [message["id"]]


# ------------------------------------------------------------------ sending
def test_send_to_a_connected_instance_queues_it_for_the_sidecar(api: TestClient, worker: TestClient) -> None:
    instance = connected(api, worker)
    raw_to = "+55 (11) 99999-9999"
    response = api.post(f"/v1/instances/{instance['id']}/messages", json={"to": raw_to, "body": "olá"})
    assert response.status_code == 202
    accepted = response.json()
    assert set(accepted) == {"id", "status"} and accepted["status"] == "queued"

    stored = api.get(f"/v1/instances/{instance['id']}/messages/{accepted['id']}").json()
    assert set(stored) == MESSAGE_FIELDS
    assert (stored["direction"], stored["status"]) == ("outbound", "queued")
    assert (stored["to"], stored["body"]) == (raw_to, "olá")
    assert stored["finished_at"] is None and stored["wa_message_id"] is None

    claimed = claim(worker, instance["id"])
    assert claimed == [
        {"id": accepted["id"], "to": raw_to, "body": "olá", "media_url": None, "media_type": None,
         "mime_type": None, "file_name": None}
    ]  # fmt: skip


def test_send_media(api: TestClient, worker: TestClient) -> None:
    instance = connected(api, worker)
    media = {
        "to": "120363012345678901@g.us",
        "media_url": "https://cdn.example.com/a.pdf",
        "media_type": "document",
        "mime_type": "application/pdf",
        "file_name": "a.pdf",
    }
    response = api.post(f"/v1/instances/{instance['id']}/messages", json=media)
    assert response.status_code == 202
    stored = api.get(f"/v1/instances/{instance['id']}/messages/{response.json()['id']}").json()
    assert {k: stored[k] for k in media} == media
    assert stored["body"] is None

    captioned = send(api, instance["id"], media_url="http://x.test/p.jpg", media_type="image", body="look")
    claimed = claim(worker, instance["id"])
    assert [m["media_type"] for m in claimed] == ["document", "image"]
    assert claimed[1] == {
        "id": captioned["id"],
        "to": PHONE,
        "body": "look",
        "media_url": "http://x.test/p.jpg",
        "media_type": "image",
        "mime_type": None,
        "file_name": None,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"to": PHONE},
        {"to": PHONE, "body": "   "},
        {"to": PHONE, "body": "x", "media_type": "image"},
        {"to": PHONE, "media_url": "https://x.test/a.jpg"},
        {"to": PHONE, "media_url": "ftp://x.test/a.jpg", "media_type": "image"},
        {"to": PHONE, "media_url": "javascript:alert(1)", "media_type": "image"},
        {"to": PHONE, "media_url": "/local/a.jpg", "media_type": "image"},
        {"to": PHONE, "media_url": "https://x.test/a.webp", "media_type": "sticker"},
        {"to": PHONE, "body": "x" * 65_537},
        {"to": PHONE, "body": "x", "queue_if_offline": "yes"},
        {"to": PHONE, "body": "x", "priority": 1},
        {"to": "", "body": "x"},
        {"to": "1" * 201, "body": "x"},
        {"body": "x"},
        {"to": 5511999999999, "body": "x"},
    ],
)
def test_send_refuses_bad_input(api: TestClient, worker: TestClient, body: dict[str, Any]) -> None:
    instance = connected(api, worker)
    response = api.post(f"/v1/instances/{instance['id']}/messages", json=body)
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "validation_error"
    assert api.get(f"/v1/instances/{instance['id']}/messages").json()["messages"] == []


@pytest.mark.parametrize(
    ("to", "reason"),
    [
        ("hello", "not-a-phone-number-or-jid"),
        ("123", "not-a-phone-number-or-jid"),
        ("123@g.us", "bad-group-id"),
        ("abc@s.whatsapp.net", "bad-phone-number"),
        ("@s.whatsapp.net", "missing-user"),
        ("5511999999999@example.com", "unknown-server:example.com"),
        ("   ", "empty"),
    ],
)
def test_send_refuses_a_destination_whatsapp_cannot_reach(
    api: TestClient, worker: TestClient, to: str, reason: str
) -> None:
    instance = connected(api, worker)
    response = api.post(f"/v1/instances/{instance['id']}/messages", json={"to": to, "body": "x"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_destination"
    assert reason in error["message"]
    assert api.get(f"/v1/instances/{instance['id']}/messages").json()["messages"] == []


@pytest.mark.parametrize(
    "to",
    [
        PHONE,
        "+55 11 99999-9999",
        f"{PHONE}@s.whatsapp.net",
        f"{PHONE}:12@c.us",
        "5511999999999-1234567890",
        "120363012345678901@g.us",
        "12345678901234@lid",
    ],
)
def test_send_accepts_every_destination_form_the_sidecar_understands(
    api: TestClient, worker: TestClient, to: str
) -> None:
    instance = connected(api, worker)
    accepted = send(api, instance["id"], to=to)
    assert api.get(f"/v1/instances/{instance['id']}/messages/{accepted['id']}").json()["to"] == to


@pytest.mark.parametrize("status", ["DISCONNECTED", "CONNECTING"])
def test_send_while_not_connected_is_409_with_the_current_status(
    api: TestClient, worker: TestClient, status: str
) -> None:
    instance = create(api)
    if status != "DISCONNECTED":
        set_status(worker, instance["id"], status, qr_code=QR)
    for flag in ({}, {"queue_if_offline": False}):
        response = api.post(
            f"/v1/instances/{instance['id']}/messages", json={"to": PHONE, "body": "x", **flag}
        )
        assert response.status_code == 409
        error = error_of(response)
        assert error["code"] == "INSTANCE_DISCONNECTED"
        assert error["status"] == status
        assert error["message"]
    assert api.get(f"/v1/instances/{instance['id']}/messages").json()["messages"] == []
    assert claim(worker, instance["id"]) == []


def test_connection_lost_after_connecting_is_409_again(api: TestClient, worker: TestClient) -> None:
    instance = connected(api, worker)
    send(api, instance["id"])
    set_status(worker, instance["id"], "DISCONNECTED", reason="logged_out")
    response = api.post(f"/v1/instances/{instance['id']}/messages", json={"to": PHONE, "body": "x"})
    assert response.status_code == 409
    assert error_of(response)["status"] == "DISCONNECTED"


def test_queue_if_offline_queues_for_a_disconnected_instance(api: TestClient, worker: TestClient) -> None:
    instance = create(api)
    accepted = send(api, instance["id"], queue_if_offline=True)
    assert accepted["status"] == "queued"
    assert api.get(f"/v1/instances/{instance['id']}/messages/{accepted['id']}").json()["status"] == "queued"

    # Once the sidecar connects, the queued message is handed out like any other.
    set_status(worker, instance["id"], "CONNECTED")
    claimed = claim(worker, instance["id"])
    assert [m["id"] for m in claimed] == [accepted["id"]]


# ------------------------------------------------------------------ history and status
def test_message_status_follows_the_sidecars_lifecycle(api: TestClient, worker: TestClient) -> None:
    instance = connected(api, worker)
    sent = send(api, instance["id"], body="one")
    failed = send(api, instance["id"], body="two")
    url = f"/v1/instances/{instance['id']}/messages"

    claimed = claim(worker, instance["id"])
    assert [m["id"] for m in claimed] == [sent["id"], failed["id"]]
    assert api.get(f"{url}/{sent['id']}").json()["status"] == "claimed"

    marked = worker.post(
        "/worker-proxy/mark-sent", json={"messageId": sent["id"], "wa_message_id": "3EB0ABCDEF"}
    )
    assert marked.status_code == 200, marked.text
    worker.post("/worker-proxy/mark-failed", json={"messageId": failed["id"], "error": "not on WhatsApp"})

    done = api.get(f"{url}/{sent['id']}").json()
    assert (done["status"], done["wa_message_id"], done["error"]) == ("sent", "3EB0ABCDEF", None)
    assert done["finished_at"] is not None and done["finished_at"] >= done["created_at"]
    broken = api.get(f"{url}/{failed['id']}").json()
    assert (broken["status"], broken["error"], broken["wa_message_id"]) == ("failed", "not on WhatsApp", None)
    assert "send_debug" not in done and "state" not in done and "queue_pk" not in done

    listed = {m["id"]: m["status"] for m in api.get(url).json()["messages"]}
    assert listed == {sent["id"]: "sent", failed["id"]: "failed"}


def test_a_message_is_only_visible_through_its_own_instance(api: TestClient, worker: TestClient) -> None:
    first = connected(api, worker, "first")
    second = connected(api, worker, "second")
    message = send(api, first["id"])
    assert api.get(f"/v1/instances/{first['id']}/messages/{message['id']}").status_code == 200

    wrong_instance = api.get(f"/v1/instances/{second['id']}/messages/{message['id']}")
    assert wrong_instance.status_code == 404
    assert error_of(wrong_instance) == {"code": "not_found", "message": "message not found"}
    unknown = api.get(f"/v1/instances/{first['id']}/messages/no-such-message")
    assert unknown.status_code == 404
    assert api.get(f"/v1/instances/{second['id']}/messages").json()["messages"] == []

    api.delete(f"/v1/instances/{first['id']}")
    assert api.get(f"/v1/instances/{first['id']}/messages/{message['id']}").status_code == 404


def test_history_is_newest_first_in_pages_per_direction(api: TestClient, worker: TestClient) -> None:
    instance = connected(api, worker)
    url = f"/v1/instances/{instance['id']}/messages"
    sent_ids = []
    for n in range(5):
        sent_ids.append(send(api, instance["id"], body=f"out {n}")["id"])
        time.sleep(0.003)  # distinct milliseconds: the timeline sorts by creation time
    for n in range(3):
        response = worker.post(
            "/worker-proxy/inbound",
            json={
                "instanceId": instance["id"],
                "from": "5511988887777@s.whatsapp.net",
                "chat_id_norm": "5511988887777@s.whatsapp.net",
                "body": f"in {n}",
                "wa_message_id": f"WA{n}",
                "push_name": "Ana",
            },
        )
        assert response.status_code == 200, response.text
        time.sleep(0.003)

    pages = page_through(api, url, "messages", limit=2)
    assert [len(p) for p in pages] in ([2, 2, 1], [2, 2, 1, 0])
    listed = [m for page in pages for m in page]
    assert [m["id"] for m in listed] == list(reversed(sent_ids))
    assert [m["body"] for m in listed] == [f"out {n}" for n in range(4, -1, -1)]
    assert all(set(m) == MESSAGE_FIELDS and m["direction"] == "outbound" for m in listed)
    assert [m["id"] for m in api.get(url, params={"direction": "outbound"}).json()["messages"]] == [
        m["id"] for m in listed
    ]

    inbound = [m for page in page_through(api, url, "messages", limit=2, direction="inbound") for m in page]
    assert [m["body"] for m in inbound] == ["in 2", "in 1", "in 0"]
    first = inbound[-1]
    assert (first["direction"], first["status"], first["from"]) == (
        "inbound", "received", "5511988887777@s.whatsapp.net"
    )  # fmt: skip
    assert (first["chat_id"], first["push_name"], first["wa_message_id"]) == (
        "5511988887777@s.whatsapp.net", "Ana", "WA0"
    )  # fmt: skip
    assert api.get(f"{url}/{first['id']}").json() == first


def test_history_query_validation(api: TestClient, worker: TestClient) -> None:
    instance = connected(api, worker)
    url = f"/v1/instances/{instance['id']}/messages"
    for n in range(3):
        send(api, instance["id"], body=str(n))
    outbound_cursor = api.get(url, params={"limit": "1"}).json()["next_cursor"]
    assert outbound_cursor

    for params in ({"direction": "sideways"}, {"limit": "0"}, {"limit": "101"}):
        response = api.get(url, params=params)
        assert response.status_code == 422, params
        assert error_of(response)["code"] == "validation_error"

    other_instance = connected(api, worker, "other")
    for bad_url, params in [
        (url, {"cursor": "garbage!"}),
        (url, {"cursor": _cursor({"id": "x", "tenant_id": "tenant-a", "created_sk": "0"})}),
        (url, {"cursor": outbound_cursor, "direction": "inbound"}),  # another listing's cursor
        (f"/v1/instances/{other_instance['id']}/messages", {"cursor": outbound_cursor}),
    ]:
        response = api.get(bad_url, params=params)
        assert response.status_code == 400, (bad_url, params, response.text)
        assert error_of(response)["code"] == "invalid_cursor"


# ------------------------------------------------------------------ Lambda entry point
def test_the_lambda_handler_serves_v1_through_api_gateway_events(api: TestClient) -> None:
    from zapgate_public_api.handler import handler

    instance = create(api, "via-lambda")

    def event(path: str, key: str, query: str = "") -> dict[str, Any]:
        return {
            "version": "2.0",
            "routeKey": "ANY /v1/{proxy+}",
            "rawPath": path,
            "rawQueryString": query,
            "headers": {"x-api-key": key, "host": "api.example.com"},
            "requestContext": {
                "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1",
                         "userAgent": "test"},
                "requestId": "req-1",
                "stage": "$default",
                "routeKey": "ANY /v1/{proxy+}",
            },
            "isBase64Encoded": False,
        }  # fmt: skip

    context = SimpleNamespace(
        function_name="public-api",
        memory_limit_in_mb=512,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:public-api",
        aws_request_id="req-1",
    )
    answer = handler(event(f"/v1/instances/{instance['id']}", API_KEY), context)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["name"] == "via-lambda"

    listed = handler(event("/v1/instances", API_KEY, "limit=1"), context)
    assert [i["id"] for i in json.loads(listed["body"])["instances"]] == [instance["id"]]

    refused = handler(event("/v1/instances", "wrong"), context)
    assert refused["statusCode"] == 401
    assert json.loads(refused["body"])["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"type": "location", "location": {"latitude": 91, "longitude": 0}}, "latitude"),
        ({"type": "location", "location": {"latitude": 0, "longitude": -181}}, "longitude"),
        ({"type": "location"}, "needs a location"),
        ({"type": "location", "location": {"latitude": 1, "longitude": 1}, "body": "x"}, "takes no body"),
        ({"type": "contact", "contact": {"display_name": "Ana"}}, "exactly one of vcard or phone"),
        ({"type": "contact", "contact": {"display_name": "Ana", "phone": "abc"}}, "contact.phone"),
        ({"type": "contact", "contact": {"display_name": "Ana", "vcard": "hello"}}, "vCard"),
        ({"type": "reaction", "reaction": {"message_id": "m", "emoji": "👍" * 17}}, "emoji"),
        ({"type": "reaction", "reaction": {"message_id": "m", "emoji": "ok"}}, "single emoji"),
        ({"type": "text", "body": "x", "location": {"latitude": 1, "longitude": 1}}, "only for type=location"),
        ({"type": "image", "body": "x"}, "needs a media_url"),
        ({"type": "reaction", "reaction": {"message_id": "m", "emoji": ""}, "reply_to": "m"}, "takes no reply_to"),
        ({"type": "poll"}, "needs a poll"),
        ({"type": "poll", "poll": {"name": "", "options": ["a", "b"]}}, "poll.name"),
        ({"type": "poll", "poll": {"name": "   ", "options": ["a", "b"]}}, "blank"),
        ({"type": "poll", "poll": {"name": "q" * 256, "options": ["a", "b"]}}, "255"),
        ({"type": "poll", "poll": {"options": ["a", "b"]}}, "poll.name: Field required"),
        ({"type": "poll", "poll": {"name": "q", "options": ["a"]}}, "at least 2"),
        ({"type": "poll", "poll": {"name": "q", "options": [f"o{i}" for i in range(13)]}}, "at most 12"),
        ({"type": "poll", "poll": {"name": "q", "options": ["a", ""]}}, "1 to 100 characters"),
        ({"type": "poll", "poll": {"name": "q", "options": ["a", " "]}}, "1 to 100 characters"),
        ({"type": "poll", "poll": {"name": "q", "options": ["a", "b" * 101]}}, "1 to 100 characters"),
        ({"type": "poll", "poll": {"name": "q", "options": ["a", "b", "a"]}}, "distinct"),
        ({"type": "poll", "poll": {"name": "q", "options": ["a", "a "]}}, "distinct"),  # the same once stripped
        ({"type": "poll", "poll": {"name": "q", "options": ["a", "b"], "selectable_count": 3}}, "cannot exceed"),
        ({"type": "poll", "poll": {"name": "q", "options": ["a", "b"], "selectable_count": -1}}, "greater than or"),
        ({"type": "poll", "poll": {"name": "q", "options": ["a", "b"], "selectable_count": "1"}}, "valid integer"),
        ({"type": "poll", "poll": {"name": "q", "options": ["a", "b"], "multi": True}}, "poll.multi"),
        ({"type": "poll", "poll": {"name": "q", "options": ["a", "b"]}, "body": "x"}, "takes no body"),
        ({"type": "poll", "poll": {"name": "q", "options": ["a", "b"]}, "reply_to": "m"}, "takes no reply_to"),
        ({"type": "text", "body": "x", "poll": {"name": "q", "options": ["a", "b"]}}, "only for type=poll"),
    ],
)
def test_send_message_types_are_validated(api: TestClient, worker: TestClient, body: dict[str, Any],
                                          fragment: str) -> None:
    instance = connected(api, worker)
    response = api.post(f"/v1/instances/{instance['id']}/messages", json={"to": "5511999999999", **body})
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "validation_error"
    assert fragment in response.text
    assert api.get(f"/v1/instances/{instance['id']}/messages").json()["messages"] == []
    assert claim(worker, instance["id"]) == []


def test_a_poll_is_queued_with_its_object_replayed_by_key_and_shown_in_history(
    api: TestClient, worker: TestClient
) -> None:
    instance = connected(api, worker)
    base = f"/v1/instances/{instance['id']}/messages"
    body = {"to": PHONE, "type": "poll", "poll": {"name": "Almoço?", "options": ["Sim", "Não", "Talvez"],
                                                    "selectable_count": 2}}
    headers = {"Idempotency-Key": "poll-1"}
    first = api.post(base, json=body, headers=headers)
    assert first.status_code == 202, first.text
    assert api.post(base, json=body, headers=headers).json()["id"] == first.json()["id"]
    other = api.post(base, json={**body, "poll": {**body["poll"], "options": ["Sim", "Não"]}}, headers=headers)
    assert (other.status_code, error_of(other)["code"]) == (422, "idempotency_key_reused")

    poll = {"name": "Almoço?", "options": ["Sim", "Não", "Talvez"], "selectable_count": 2}
    # The Node worker reads body/media only: like a location, a poll carries neither (the sidecar sends it).
    assert claim(worker, instance["id"]) == [
        {"id": first.json()["id"], "to": PHONE, "body": None, "media_url": None, "media_type": None,
         "mime_type": None, "file_name": None, "type": "poll", "poll": poll}
    ]  # fmt: skip
    worker.post("/worker-proxy/mark-sent", json={"messageId": first.json()["id"], "wa_message_id": "3EB0POLL"})
    listed = api.get(base).json()["messages"]
    assert [m["id"] for m in listed] == [first.json()["id"]]  # the replay and the refused body stored nothing
    shown = listed[0]
    assert (shown["type"], shown["status"], shown["body"], shown["wa_message_id"]) == ("poll", "sent", None, "3EB0POLL")
    assert shown["poll"] == poll
    assert shown["location"] is None and shown["poll_vote"] is None
    assert api.get(f"{base}/{shown['id']}").json() == shown


def test_reply_and_reaction_references_are_resolved(api: TestClient, worker: TestClient) -> None:
    instance = connected(api, worker)
    base = f"/v1/instances/{instance['id']}/messages"
    missing = api.post(base, json={"to": "5511999999999", "body": "x", "reply_to": "nope"})
    assert missing.status_code == 404
    queued = api.post(base, json={"to": "5511999999999", "body": "oi"}).json()["id"]
    claim(worker, instance["id"])
    not_sent = api.post(base, json={"to": "5511999999999", "type": "reaction",
                                    "reaction": {"message_id": queued, "emoji": "❤️"}})
    assert not_sent.status_code == 422 and "not sent" in not_sent.text
    worker.post("/worker-proxy/mark-sent", json={"messageId": queued, "wa_message_id": "3EBREF"})
    assert api.post(base, json={"to": "5511999999999", "type": "reaction",
                                "reaction": {"message_id": queued, "emoji": "❤️"}}).status_code == 202
    assert api.post(base, json={"to": "5511999999999", "body": "re", "reply_to": queued}).status_code == 202
    claimed = {m["type"]: m for m in claim(worker, instance["id"])}
    assert claimed["reaction"]["reaction"]["wa_message_id"] == "3EBREF"
    assert claimed["reaction"]["reaction"]["from_me"] is True
    assert claimed["text"]["reply_to"]["wa_message_id"] == "3EBREF" and claimed["text"]["reply_to"]["body"] == "oi"


def test_the_lambda_handler_serves_in_a_thread_asyncio_run_left_without_a_loop(api: TestClient) -> None:
    import asyncio

    from zapgate_public_api.handler import handler

    asyncio.run(asyncio.sleep(0))  # leaves the main thread with no current loop, as some code in a container may
    event = {
        "version": "2.0", "routeKey": "ANY /v1/{proxy+}", "rawPath": "/v1/healthz", "rawQueryString": "",
        "headers": {"host": "api.example.com"},
        "requestContext": {"http": {"method": "GET", "path": "/v1/healthz", "protocol": "HTTP/1.1",
                                    "sourceIp": "203.0.113.1", "userAgent": "test"},
                           "requestId": "req-2", "stage": "$default", "routeKey": "ANY /v1/{proxy+}"},
        "isBase64Encoded": False,
    }  # fmt: skip
    context = SimpleNamespace(function_name="public-api", memory_limit_in_mb=512, aws_request_id="req-2",
                              invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:public-api")
    assert handler(event, context)["statusCode"] == 200
