"""Own-device messages and history sync end to end on the simulated network (issue 13), through `make run`'s
processes and a webhook receiver process (the pattern of test_events_webhooks.py).

- A message "sent from the phone" shows in history as `source: phone` and reaches the webhook as a
  MESSAGE_STATUS `sent` marked `source: phone`; a location and a reaction from the phone keep their objects.
- A message sent through the API and echoed back by the network as an own-device message is stored once.
- A history sync of 200 messages after the scan fills history without 200 webhook deliveries (emit_events off).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.stack import LocalStack, free_ports, wait_until

pytestmark = pytest.mark.slow

CHAT = "5511977776666@s.whatsapp.net"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("own"), sidecars=1, DISCOVERY_POLL_MS="500",
                       STOP_COOLDOWN_MS="500").start()
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


def _deliveries(port: int) -> list[dict[str, Any]]:
    return list(httpx.get(f"http://127.0.0.1:{port}/deliveries", timeout=5).json())


def _history(api: httpx.Client, instance_id: str, direction: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"direction": direction, "limit": 100, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/instances/{instance_id}/messages", params=params).json()
        found.extend(page["messages"])
        cursor = page["next_cursor"]
        if not cursor:
            return found


def test_phone_messages_echoes_and_history_sync(stack: LocalStack) -> None:
    api, sim = stack.api(), stack.sim_client()
    port = free_ports(1)[0]
    created = api.post("/webhooks", json={"url": f"http://127.0.0.1:{port}/hook"})
    assert created.status_code == 201, created.text
    receiver = subprocess.Popen(
        [sys.executable, "-m", "zapgate_devstack.webhook_receiver", "--port", str(port),
         "--secret", created.json()["secret"]],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200, 15,
                   "receiver up")
        instance_id = api.post("/instances", json={"name": "own"}).json()["id"]
        patched = api.patch(f"/instances/{instance_id}",
                            json={"history_sync": {"enabled": True, "days": 30, "emit_events": False}})
        assert patched.status_code == 200, patched.text
        wait_until(lambda: api.get(f"/instances/{instance_id}").json()["qr_code"], 20, "QR")
        assert sim.post(f"/instances/{instance_id}/scan", json={"phone": "5511999990013", "push_name": "Own"}
                        ).status_code == 200
        wait_until(lambda: api.get(f"/instances/{instance_id}").json()["status"] == "CONNECTED", 15, "CONNECTED")

        # 1. the phone sends a message: history shows it, the webhook gets it marked source phone
        phone_id = sim.post(f"/instances/{instance_id}/from-phone",
                            json={"chat": CHAT, "body": "enviado do celular"}).json()["id"]

        def phone_in_history() -> list[dict[str, Any]]:
            return [m for m in _history(api, instance_id, "outbound") if m.get("wa_message_id") == phone_id]

        (stored,) = wait_until(phone_in_history, 20, "the phone's message in history")
        assert (stored["source"], stored["status"], stored["body"], stored["to"]) == (
            "phone", "sent", "enviado do celular", CHAT)

        def phone_event() -> list[dict[str, Any]]:
            return [d for d in _deliveries(port) if d["type"] == "MESSAGE_STATUS"
                    and d["event"]["payload"]["message"]["waMessageId"] == phone_id]

        (delivery,) = wait_until(phone_event, 20, "the phone's message at the webhook")
        message = delivery["event"]["payload"]["message"]
        assert (message["source"], message["status"], message["text"]) == ("phone", "sent", "enviado do celular")

        # 1b. a location and a reaction from the phone: history and the webhook show them typed, with their objects
        shop = {"latitude": -23.5613, "longitude": -46.6565, "name": "Loja"}
        location_id = sim.post(f"/instances/{instance_id}/from-phone",
                               json={"chat": CHAT, "body": "Loja", "type": "location", "location": shop}).json()["id"]
        reaction_id = sim.post(f"/instances/{instance_id}/from-phone", json={
            "chat": CHAT, "type": "reaction", "reaction": {"wa_message_id": phone_id, "emoji": "👍", "chat": CHAT,
                                                           "from_me": True}}).json()["id"]

        def typed_in_history() -> dict[str, dict[str, Any]] | None:
            found = {m["wa_message_id"]: m for m in _history(api, instance_id, "outbound")
                     if m.get("wa_message_id") in (location_id, reaction_id)}
            return found if len(found) == 2 else None

        typed = wait_until(typed_in_history, 20, "the phone's location and reaction in history")
        assert (typed[location_id]["type"], typed[location_id]["source"]) == ("location", "phone")
        assert typed[location_id]["location"] == {**shop, "address": None}
        assert typed[reaction_id]["type"] == "reaction"
        assert (typed[reaction_id]["reaction"]["wa_message_id"], typed[reaction_id]["reaction"]["emoji"]) == (
            phone_id, "👍")

        def location_event() -> list[dict[str, Any]]:
            return [d for d in _deliveries(port) if d["type"] == "MESSAGE_STATUS"
                    and d["event"]["payload"]["message"]["waMessageId"] == location_id]

        (located,) = wait_until(location_event, 20, "the phone's location at the webhook")
        assert located["event"]["payload"]["message"]["location"]["latitude"] == shop["latitude"]

        # 2. the API sends; the network echoes it back as an own-device message: stored once
        sent = api.post(f"/instances/{instance_id}/messages", json={"to": "5511977776666", "body": "pela API"})
        assert sent.status_code in (200, 201, 202), sent.text
        api_id = sent.json()["id"]
        wait_until(lambda: api.get(f"/instances/{instance_id}/messages/{api_id}").json()["status"] == "sent", 20,
                   "the API message sent")
        wa_id = api.get(f"/instances/{instance_id}/messages/{api_id}").json()["wa_message_id"]
        assert sim.post(f"/instances/{instance_id}/echo", json={"id": wa_id}).status_code == 200
        time.sleep(3)  # the echo's report (and any retry of it) has landed by now
        same = [m for m in _history(api, instance_id, "outbound") if m.get("wa_message_id") == wa_id]
        assert [m["id"] for m in same] == [api_id] and "source" not in same[0]

        # 3. a history sync of 200 messages after the scan: stored, not delivered to the webhook
        before = len(_deliveries(port))
        assert sim.post(f"/instances/{instance_id}/history", json={"chats": 4, "per_chat": 50}).json() == {
            "delivered": 200}

        def history_stored() -> int:
            both = _history(api, instance_id, "inbound") + _history(api, instance_id, "outbound")
            count = sum(1 for m in both if m.get("history"))
            return count if count >= 200 else 0

        assert wait_until(history_stored, 60, "200 history messages stored") == 200
        time.sleep(3)  # events would be on their way by now
        after = _deliveries(port)
    finally:
        receiver.terminate()
        receiver.communicate(timeout=10)

    history_events = [d for d in after if d["event"]["payload"].get("message", {}).get("history")]
    assert history_events == [] and len(after) - before < 10, len(after) - before
