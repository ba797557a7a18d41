"""Events to applications end to end, through `make run`'s processes and a separate receiver process.

A message arriving on the simulated WhatsApp network goes sidecar → worker-proxy → EventsQueue
(moto) → the devstack's SQS poller → the real processor → `python -m zapgate_devstack.webhook_receiver`,
which gets it exactly once per delivery id, signed with the webhook's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.stack import LocalStack, free_ports, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("events"), sidecars=1, DISCOVERY_POLL_MS="500",
                       STOP_COOLDOWN_MS="500").start()
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


def _deliveries(port: int) -> list[dict[str, Any]]:
    return list(httpx.get(f"http://127.0.0.1:{port}/deliveries", timeout=5).json())


def test_an_inbound_message_reaches_the_webhook_once_and_signed(stack: LocalStack) -> None:
    assert any("zapgate_devstack.webhook_receiver" in line for line in stack.output)  # make run says how
    api, sim = stack.api(), stack.sim_client()
    port = free_ports(1)[0]
    created = api.post("/webhooks", json={"url": f"http://127.0.0.1:{port}/hook"})
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    receiver = subprocess.Popen(
        [sys.executable, "-m", "zapgate_devstack.webhook_receiver", "--port", str(port), "--secret", secret],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200, 15,
                   "receiver up")
        instance_id = api.post("/instances", json={"name": "events"}).json()["id"]
        wait_until(lambda: api.get(f"/instances/{instance_id}").json()["qr_code"], 20, "QR")
        assert sim.post(f"/instances/{instance_id}/scan", json={"phone": "5511999990009", "push_name": "E2E"}
                        ).status_code == 200
        wait_until(lambda: api.get(f"/instances/{instance_id}").json()["status"] == "CONNECTED", 15, "CONNECTED")
        assert sim.post(f"/instances/{instance_id}/inbound", json={
            "id": "E2E-EVT-1", "chat": "5511977776666@s.whatsapp.net", "sender": "5511977776666@s.whatsapp.net",
            "push_name": "Cliente", "body": "quero saber do pedido"}).status_code == 200

        def inbound() -> list[dict[str, Any]]:
            return [d for d in _deliveries(port) if d["type"] == "MESSAGE_INBOUND"]

        (first,) = wait_until(inbound, 20, "the inbound event at the receiver")
        time.sleep(1.5)  # a duplicate would come from a second poll of the same message: give it the chance
        everything = _deliveries(port)
    finally:
        receiver.terminate()
        output = receiver.communicate(timeout=10)[0]

    event = first["event"]
    assert event["instanceId"] == instance_id
    message = event["payload"]["message"]
    assert (message["waMessageId"], message["text"], message["type"]) == ("E2E-EVT-1", "quero saber do pedido", "text")
    assert event["payload"]["contact"]["phone"] == "5511977776666"
    assert first["event_id"] == event["id"] and first["signature_valid"] is True
    expected = hmac.new(secret.encode(), f"{first['timestamp']}.{first['body']}".encode(), hashlib.sha256).hexdigest()
    assert first["signature"] == f"v1={expected}"
    ids = [d["event_id"] for d in everything]
    assert len(ids) == len(set(ids)), ids  # exactly once per delivery id
    assert all(d["signature_valid"] and d["answered"] == 200 for d in everything)
    statuses = [d["event"]["payload"]["status"] for d in everything if d["type"] == "INSTANCE_STATUS"]
    assert "CONNECTED" in statuses
    assert "MESSAGE_INBOUND" in output and "signature=valid" in output  # what the developer sees
