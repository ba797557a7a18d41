"""Plain regression tests for the bugs the schemathesis runs (test_api_fuzz.py) led to.

Each was a 500 (or an answer breaking HTTP's own rules) for a request a client can send;
each test names the input and the answer it must get now.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, WORKER_SECRET
from tests.integration.worker_client import make_instance, worker_client

PHONE_JID = "5511999999999@s.whatsapp.net"


def _public() -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": API_KEY}, raise_server_exceptions=False)


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


def _inbound(instance_id: str, **fields: Any) -> dict[str, Any]:
    return {"instanceId": instance_id, "from": PHONE_JID, "chat_id": PHONE_JID, "body": "hi", **fields}


# ------------------------------------------------------------------ inbound
@pytest.mark.parametrize("sender", ["@lid", ":12@lid"])
def test_inbound_from_a_lid_without_user_is_stored_without_learning_a_mapping(
    aws_env: dict[str, str], sender: str
) -> None:
    """Was a 500 (InvalidDestination escaped learnt_lid_mapping) after the message was already stored."""
    instance = make_instance(aws_env)
    worker = worker_client()
    body = _inbound(instance["id"], sender_jid_raw=sender, sender_pn="5511999999999", wa_message_id="W1")
    first = worker.post("/worker-proxy/inbound", json=body)
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False
    resolved = worker.get("/worker-proxy/contacts/primary-jid", params={"instanceId": instance["id"], "jid": sender})
    assert resolved.status_code == 200
    assert resolved.json() == {"jid_pn": None, "jid": None}


def test_inbound_file_size_beyond_what_dynamodb_stores_is_a_422(aws_env: dict[str, str]) -> None:
    """Was a 500: DynamoDB numbers hold 38 digits, and boto3 refuses to round (decimal.Rounded/Inexact)."""
    instance = make_instance(aws_env)
    worker = worker_client()
    for size in (10**40, 12345678901234567890123456789012345678901, 2**64):
        response = worker.post("/worker-proxy/inbound", json=_inbound(instance["id"], file_size=size))
        assert response.status_code == 422, (size, response.text)
        assert _error(response)["code"] == "validation_error"
        assert "file_size" in _error(response)["message"]
    largest = worker.post("/worker-proxy/inbound", json=_inbound(instance["id"], file_size=2**64 - 1))
    assert largest.status_code == 200, largest.text  # WhatsApp's FileLength is a uint64


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_wa_message_id_is_no_wa_message_id(aws_env: dict[str, str], blank: str) -> None:
    """Was a 500: wa_message_id keys the by_wa_message_id index, and DynamoDB refuses "" as an index key.

    moto enforces that on PutItem (inbound) only; real DynamoDB on UpdateItem (mark-sent) too, so
    mark-sent is checked by what it stores.
    """
    instance = make_instance(aws_env)
    worker = worker_client()
    stored = worker.post("/worker-proxy/inbound", json=_inbound(instance["id"], wa_message_id=blank))
    assert stored.status_code == 200, stored.text
    again = worker.post("/worker-proxy/inbound", json=_inbound(instance["id"], wa_message_id=blank))
    assert again.status_code == 200 and again.json()["id"] != stored.json()["id"]  # no id: nothing to dedupe by

    api = _public()
    sent = api.post(f"/v1/instances/{instance['id']}/messages",
                    json={"to": "5511999999999", "body": "hi", "queue_if_offline": True})  # fmt: skip
    assert sent.status_code == 202, sent.text
    claimed = worker.get("/worker-proxy/queued-messages", params={"instanceId": instance["id"]})
    assert [m["id"] for m in claimed.json()["messages"]] == [sent.json()["id"]]
    marked = worker.post("/worker-proxy/mark-sent", json={"messageId": sent.json()["id"], "wa_message_id": blank})
    assert marked.status_code == 200, marked.text
    message = api.get(f"/v1/instances/{instance['id']}/messages/{sent.json()['id']}")
    assert message.json()["status"] == "sent" and message.json()["wa_message_id"] is None
    inbound = api.get(f"/v1/instances/{instance['id']}/messages/{stored.json()['id']}")
    assert inbound.json()["wa_message_id"] is None


# ------------------------------------------------------------------ media
@pytest.mark.parametrize("mime_type", ["text/plain\nX-Injected: 1", "a\r\nb", "image/png\x00", "image/\x7fpng"])
def test_upload_media_mime_type_with_control_characters_is_a_422(aws_env: dict[str, str], mime_type: str) -> None:
    """Was a 500: the mime type becomes the S3 Content-Type header, where CR/LF cannot travel."""
    response = worker_client().post(
        "/worker-proxy/upload-media",
        json={"instanceId": "i", "bytes_base64": base64.b64encode(b"data").decode(), "mime_type": mime_type},
    )
    assert response.status_code == 422, response.text
    assert _error(response)["code"] == "validation_error"


def test_upload_media_keeps_ordinary_mime_types(aws_env: dict[str, str]) -> None:
    for mime_type in ("audio/ogg; codecs=opus", "image/jpeg", 'application/x-foo; name="a b.txt"'):
        response = worker_client().post(
            "/worker-proxy/upload-media",
            json={"instanceId": "i", "bytes_base64": base64.b64encode(mime_type.encode()).decode(),
                  "mime_type": mime_type},
        )  # fmt: skip
        assert response.status_code == 200, (mime_type, response.text)


# ------------------------------------------------------------------ cursors
def test_a_deeply_nested_cursor_is_a_400_not_a_500(aws_env: dict[str, str]) -> None:
    """Was a 500: json.loads raised RecursionError, which decode_cursor did not treat as malformed."""
    from zapgate_public_api.app import app

    cursor = base64.urlsafe_b64encode(b"[" * 1_500).decode().rstrip("=")
    api = _public()
    instance_id = api.post("/v1/instances", json={"name": "i"}).json()["id"]
    paged = [path for path, ops in app.openapi()["paths"].items()
             if any(p["name"] == "cursor" for p in ops.get("get", {}).get("parameters", []))]  # fmt: skip
    assert "/v1/instances" in paged and "/v1/instances/{instance_id}/messages" in paged
    for path in paged:
        response = api.get(re.sub(r"{[^}]+}", instance_id, path), params={"cursor": cursor})
        # 400 invalid_cursor, or 422 where the cursor's documented maxLength is shorter than this one
        assert response.status_code in (400, 422), (path, response.text)
        assert _error(response)["code"] in ("invalid_cursor", "validation_error")


# ------------------------------------------------------------------ HTTP itself
@pytest.mark.parametrize(
    ("app_module", "path", "allowed"),
    [
        ("zapgate_public_api.app", "/v1/instances", {"GET", "POST"}),
        ("zapgate_public_api.app", "/v1/instances/x", {"GET", "PATCH", "DELETE"}),
        ("zapgate_worker_proxy.app", "/worker-proxy/heartbeat", {"POST"}),
    ],
)
def test_405_lists_the_allowed_methods(aws_env: dict[str, str], app_module: str, path: str, allowed: set[str]) -> None:
    """Was missing: the error handler dropped the exception's headers, so 405 had no Allow (RFC 9110 §15.5.6)."""
    import importlib

    app = importlib.import_module(app_module).app
    response = TestClient(app, raise_server_exceptions=False).request("TRACE", path)
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


@pytest.mark.parametrize("app_module", ["zapgate_public_api.app", "zapgate_worker_proxy.app"])
def test_every_operation_with_a_body_documents_the_malformed_json_400(aws_env: dict[str, str], app_module: str) -> None:
    """Was undocumented on POST /v1/media-uploads: a body that is not JSON answers 400 on every route."""
    import importlib

    app = importlib.import_module(app_module).app
    spec = app.openapi()
    with_body = [(m.upper(), p, op) for p, ops in spec["paths"].items() for m, op in ops.items() if "requestBody" in op]
    assert with_body
    missing = [(m, p) for m, p, op in with_body if not {"400", "422"} <= set(op["responses"])]
    assert missing == []
    client = TestClient(app, raise_server_exceptions=False,
                        headers={"X-API-Key": API_KEY, "Authorization": f"Bearer {WORKER_SECRET}"})  # fmt: skip
    for method, path, _ in with_body:
        url = re.sub(r"{[^}]+}", "x", path)
        response = client.request(method, url, content=b'{"not json', headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (method, path, response.text)
        assert _error(response)["code"] == "malformed_json"
