"""Seed 002's circuit: with no WhatsApp worker deployed, sends and commands answer 503
WHATSAPP_NOT_CONFIGURED and change nothing; /v1/healthz says so; everything else keeps working."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY


def _client(monkeypatch: pytest.MonkeyPatch, workers: str, image: str = "") -> TestClient:
    from zapgate_control import settings, wiring
    from zapgate_public_api.app import app

    monkeypatch.setenv("WHATSAPP_WORKERS", workers)
    monkeypatch.setenv("SIDECAR_IMAGE_URI", image)
    settings.get_settings.cache_clear()
    wiring.get_stores.cache_clear()
    return TestClient(app, headers={"X-API-Key": API_KEY}, raise_server_exceptions=False)


@pytest.mark.parametrize(("workers", "image"), [("sidecar", ""), ("none", "")])
def test_sends_and_commands_are_refused_and_nothing_is_queued(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, workers: str, image: str
) -> None:
    api = _client(monkeypatch, workers, image)
    instance = api.post("/v1/instances", json={"name": "configured-later"})
    assert instance.status_code == 201  # configuration itself never needs WhatsApp
    base = f"/v1/instances/{instance.json()['id']}"

    sent = api.post(f"{base}/messages", json={"to": "5511999999999", "body": "oi", "queue_if_offline": True},
                    headers={"Idempotency-Key": "k-1"})
    command = api.post(f"{base}/commands", json={"type": "refresh_qr"})
    for response in (sent, command):
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "WHATSAPP_NOT_CONFIGURED" and "not configured" in error["message"]

    assert api.get(f"{base}/messages").json()["messages"] == []
    assert api.get(f"{base}/audit").json()["events"] == []  # no command was recorded
    runtime = api.get("/v1/healthz").json()["whatsapp"]["runtime"]
    assert runtime == {"mode": "http", "transport": workers, "status": "not_configured", "disabled": True}

    # Once a worker is configured, the same key sends: the refusal kept nothing behind.
    api = _client(monkeypatch, workers="sidecar", image="123.dkr.ecr.eu-west-1.amazonaws.com/zapgate-sidecar:1")
    assert api.get("/v1/healthz").json()["whatsapp"]["runtime"]["status"] == "configured"
    again = api.post(f"{base}/messages", json={"to": "5511999999999", "body": "oi", "queue_if_offline": True},
                     headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 202 and len(api.get(f"{base}/messages").json()["messages"]) == 1


def test_external_workers_are_configured(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    health = _client(monkeypatch, "external").get("/v1/healthz", headers={"X-API-Key": ""})
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "whatsapp": {"runtime": {
        "mode": "http", "transport": "external", "status": "configured", "disabled": False}}}
