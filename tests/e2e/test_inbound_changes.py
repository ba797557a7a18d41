"""End to end through `make run`'s processes (issue 10): on the simulated network a customer edits and then
deletes for everyone a message the instance received, and calls the instance, which rejects calls with a text.
The sidecar reports each change to the worker-proxy (/inbound-changes); MESSAGE_EDITED / MESSAGE_REVOKED leave
through the outbox, CALL_RECEIVED with the report, and all reach a webhook; history shows the message edited
and revoked (kept, marked); the call is rejected on the sim and the reply text sent there once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.stack import LocalStack, free_ports, wait_until

pytestmark = pytest.mark.slow

OWN_PHONE = "5511999990091"
CUSTOMER = "5511977776666@s.whatsapp.net"
REPLY = "Não atendemos ligações, escreva por aqui"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("changes"), sidecars=1, DISCOVERY_POLL_MS="500").start()
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


def _deliveries(port: int, kind: str) -> list[dict[str, Any]]:
    return [d for d in httpx.get(f"http://127.0.0.1:{port}/deliveries", timeout=5).json() if d["type"] == kind]


def test_edit_revoke_and_a_rejected_call_reach_events_history_and_the_phone(stack: LocalStack) -> None:
    api, sim = stack.api(), stack.sim_client()
    port = free_ports(1)[0]
    created = api.post("/webhooks", json={"url": f"http://127.0.0.1:{port}/hook"})
    assert created.status_code == 201, created.text
    receiver = subprocess.Popen(
        [sys.executable, "-m", "zapgate_devstack.webhook_receiver", "--port", str(port), "--secret",
         created.json()["secret"]],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200, 15,
                   "receiver up")
        instance = api.post("/instances", json={"name": "changes"}).json()["id"]
        patched = api.patch(f"/instances/{instance}", json={"reject_calls": True, "reject_call_message": REPLY})
        assert patched.status_code == 200, patched.text
        wait_until(lambda: api.get(f"/instances/{instance}").json()["qr_code"], 20, "QR")
        assert sim.post(f"/instances/{instance}/scan", json={"phone": OWN_PHONE}).status_code == 200
        wait_until(lambda: api.get(f"/instances/{instance}").json()["status"] == "CONNECTED", 15, "CONNECTED")

        # A message, then its edit, then its deletion for everyone.
        assert sim.post(f"/instances/{instance}/inbound", json={
            "id": "E2E-CHG-1", "chat": CUSTOMER, "sender": CUSTOMER, "body": "pedido 123"}).status_code == 200
        (stored,) = wait_until(lambda: api.get(f"/instances/{instance}/messages?direction=inbound").json()[
            "messages"], 20, "the message stored")
        assert sim.post(f"/instances/{instance}/edit", json={"chat": CUSTOMER, "id": "E2E-CHG-1",
                                                              "body": "pedido 124"}).status_code == 200
        wait_until(lambda: _deliveries(port, "MESSAGE_EDITED"), 20, "MESSAGE_EDITED at the webhook")
        assert sim.post(f"/instances/{instance}/revoke", json={"chat": CUSTOMER, "id": "E2E-CHG-1"}).status_code == 200
        wait_until(lambda: _deliveries(port, "MESSAGE_REVOKED"), 20, "MESSAGE_REVOKED at the webhook")

        # A call: rejected on the phone, the text sent back once, the event delivered.
        call_id = sim.post(f"/instances/{instance}/call", json={"from": CUSTOMER}).json()["call_id"]
        wait_until(lambda: sim.get(f"/instances/{instance}/calls").json()[0]["state"] == "rejected", 20,
                   "the call rejected on the sim")
        wait_until(lambda: [m for m in sim.get(f"/instances/{instance}/sent").json() if m.get("body") == REPLY],
                   20, "the reply sent")
        wait_until(lambda: _deliveries(port, "CALL_RECEIVED"), 20, "CALL_RECEIVED at the webhook")
        edited, revoked = _deliveries(port, "MESSAGE_EDITED"), _deliveries(port, "MESSAGE_REVOKED")
        calls = _deliveries(port, "CALL_RECEIVED")
        sent = sim.get(f"/instances/{instance}/sent").json()
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)

    message = edited[0]["event"]["payload"]["message"]
    assert (message["id"], message["text"], message["previousText"]) == (stored["id"], "pedido 124", "pedido 123")
    assert revoked[0]["event"]["payload"]["message"]["id"] == stored["id"]
    call = calls[0]["event"]["payload"]
    assert call["call"]["id"] == call_id and call["rejected"] is True and call["replyMessageId"]
    assert len([m for m in sent if m.get("body") == REPLY]) == 1
    shown = api.get(f"/instances/{instance}/messages/{stored['id']}").json()
    assert shown["body"] == "pedido 124" and shown["edited"]["original_body"] == "pedido 123"
    assert shown["revoked"]["at"] and shown["revoked"]["by"] == CUSTOMER
