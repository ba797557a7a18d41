"""Outbound media by presigned upload, with WhatsApp's per-type MIME and size limits (413/415)."""

from __future__ import annotations

import os

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY


def _public() -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": API_KEY})


def test_upload_ticket_then_upload_then_fetch(aws_env: dict[str, str]) -> None:
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(2048)
    ticket = _public().post("/v1/media-uploads", json={"media_type": "image", "mime_type": "image/png",
                                                       "size": len(data)})
    assert ticket.status_code == 201, ticket.text
    upload = ticket.json()["upload"]
    stored = httpx.post(upload["url"], data=upload["fields"], files={"file": ("a.png", data, "image/png")})
    assert stored.status_code in (200, 201, 204), stored.text
    assert httpx.get(ticket.json()["media_url"]).content == data
    assert "uploads/tenant-a/" in ticket.json()["media_url"]
    upload_id = ticket.json()["upload_id"]
    assert f"uploads/tenant-a/{upload_id}" in ticket.json()["media_url"]  # the id names this object


def test_an_upload_id_resolves_to_a_fresh_link_for_its_tenant_only(aws_env: dict[str, str]) -> None:
    from zapgate_control.wiring import get_stores

    data = os.urandom(512)
    ticket = _public().post("/v1/media-uploads", json={"media_type": "document", "mime_type": "application/pdf",
                                                       "size": len(data)}).json()
    media = get_stores().media
    assert media.upload_url("tenant-a", ticket["upload_id"]) is None  # not uploaded yet
    upload = ticket["upload"]
    httpx.post(upload["url"], data=upload["fields"], files={"file": ("a.pdf", data, "application/pdf")})
    link = media.upload_url("tenant-a", ticket["upload_id"])
    assert link is not None and httpx.get(link).content == data
    assert media.upload_url("tenant-b", ticket["upload_id"]) is None  # another tenant's id names nothing


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"media_type": "image", "mime_type": "image/png", "size": 6 * 1024 * 1024}, 413, "media_too_large"),
        ({"media_type": "image", "mime_type": "application/zip", "size": 10}, 415, "unsupported_media_type"),
        ({"media_type": "audio", "mime_type": "video/mp4", "size": 10}, 415, "unsupported_media_type"),
        ({"media_type": "document", "mime_type": "application/zip", "size": 50 * 1024 * 1024}, 201, None),
        ({"media_type": "sticker", "mime_type": "image/webp", "size": 10}, 422, "validation_error"),
        ({"media_type": "image", "mime_type": "image/png", "size": 0}, 422, "validation_error"),
    ],
)
def test_limits_per_media_type(aws_env: dict[str, str], body: dict[str, object], status: int,
                               code: str | None) -> None:
    response = _public().post("/v1/media-uploads", json=body)
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code


def test_send_with_a_mime_type_whatsapp_refuses_is_415(aws_env: dict[str, str]) -> None:
    api = _public()
    instance_id = api.post("/v1/instances", json={"name": "x"}).json()["id"]
    response = api.post(f"/v1/instances/{instance_id}/messages", json={
        "to": "5511988887777", "media_url": "https://x.test/a.exe", "media_type": "image",
        "mime_type": "application/x-msdownload", "queue_if_offline": True})
    assert response.status_code == 415
    assert api.get(f"/v1/instances/{instance_id}/messages").json()["messages"] == []


def test_uploads_need_a_key(aws_env: dict[str, str]) -> None:
    from zapgate_public_api.app import app

    response = TestClient(app).post("/v1/media-uploads", json={"media_type": "image", "mime_type": "image/png",
                                                                "size": 10})
    assert response.status_code == 401
