"""The sidecar's own code end to end in one process: real worker-proxy app (uvicorn, moto),
the simulated WhatsApp network, and the sidecar's fleet/runtime — nothing mocked."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, WORKER_SECRET
from tests.integration.background import BackgroundApp, BackgroundSidecar, wait_until
from tests.integration.worker_client import make_instance


def _instances(env: dict[str, str]) -> Any:
    from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore

    return DynamoInstanceStore(env["INSTANCES_TABLE"])


def _settings(edge: str, sim_url: str, tmp: Path, owner: str, **overrides: Any) -> Any:
    from zapgate_sidecar.settings import load_settings

    env = {
        "EDGE_BASE_URL": f"{edge}/worker-proxy",
        "WORKER_SECRET": WORKER_SECRET,
        "PORT": "0",
        "DISCOVERY_POLL_MS": "300",
        "INSTANCE_LOCK_TTL_MS": "4000",
        "AUTH_BASE": str(tmp / owner / "auth"),
        "MEDIA_BASE": str(tmp / owner / "media"),
        "ZAPGATE_TRANSPORT": "sim",
        "ZAPGATE_SIM_URL": sim_url,
        "INSTANCE_OWNER": owner,
        "AUTH_SAVE_INTERVAL_S": "0.5",
        **overrides,
    }
    return load_settings(env)


@pytest.fixture
def stack(aws_env: dict[str, str], tmp_path: Path):  # noqa: ANN201
    from zapgate_sidecar.sim.server import BackgroundSim
    from zapgate_worker_proxy.app import app as worker_app

    with BackgroundApp(worker_app) as edge, BackgroundSim() as sim:
        yield edge, sim, tmp_path


def test_qr_scan_send_and_receive(stack: tuple[Any, Any, Path], aws_env: dict[str, str]) -> None:
    from zapgate_public_api.app import app as public_app

    edge, sim, tmp = stack
    instance = make_instance(aws_env, "support")
    sidecar = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a")).start()
    try:
        store = _instances(aws_env)
        qr = wait_until(lambda: (store.get(instance["id"]) or {}).get("qr_code"), 15, "QR reported")
        assert qr.startswith("data:image/png;base64,")
        assert store.get(instance["id"])["status"] == "CONNECTING"
        assert store.get(instance["id"])["lock_owner"] == "sidecar-a"

        scan = httpx.post(f"{sim.url}/sim/instances/{instance['id']}/scan",
                          json={"phone": "5511999990000", "push_name": "Loja"})
        assert scan.status_code == 200
        wait_until(lambda: store.get(instance["id"])["status"] == "CONNECTED", 10, "CONNECTED")
        connected = store.get(instance["id"])
        assert connected["wa_jid"] == "5511999990000@s.whatsapp.net" and "qr_code" not in connected

        public = TestClient(public_app, headers={"X-API-Key": API_KEY})
        sent = public.post(f"/v1/instances/{instance['id']}/messages", json={"to": "5511988887777", "body": "oi"})
        assert sent.status_code == 202
        message_id = sent.json()["id"]
        delivered = wait_until(
            lambda: httpx.get(f"{sim.url}/sim/instances/{instance['id']}/sent").json(), 10, "message on the network")
        assert delivered[0]["to"] == "5511988887777@s.whatsapp.net" and delivered[0]["body"] == "oi"
        status = wait_until(lambda: (public.get(f"/v1/instances/{instance['id']}/messages/{message_id}").json()
                                     if public.get(f"/v1/instances/{instance['id']}/messages/{message_id}")
                                     .json()["status"] == "sent" else None), 10, "marked sent")
        assert status["wa_message_id"] == delivered[0]["id"]

        picture = b"\x89PNG\r\n\x1a\n" + b"p" * 5000
        inbound = httpx.post(f"{sim.url}/sim/instances/{instance['id']}/inbound", json={
            "id": "IN1", "chat": "5511988887777@s.whatsapp.net", "sender": "5511988887777@s.whatsapp.net",
            "push_name": "Maria", "body": "veja",
            "media": {"type": "image", "mime_type": "image/png", "file_name": "p.png",
                      "base64": base64.b64encode(picture).decode()}})
        assert inbound.status_code == 200
        received = wait_until(lambda: public.get(f"/v1/instances/{instance['id']}/messages?direction=inbound")
                              .json()["messages"], 10, "inbound stored")
        assert received[0]["body"] == "veja"
        assert received[0]["media_type"] == "image"
        media = httpx.get(received[0]["media_url"])
        assert hashlib.sha256(media.content).hexdigest() == hashlib.sha256(picture).hexdigest()
        assert (tmp / "sidecar-a" / "media" / instance["id"] / "IN1.png").read_bytes() == picture
    finally:
        sidecar.stop()
    released = _instances(aws_env).get(instance["id"])
    assert "lock_owner" not in released and released["status"] == "DISCONNECTED"
