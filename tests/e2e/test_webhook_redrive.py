"""A tenant's dead delivery, listed and redriven through the public API, end to end on `make run`'s processes.

The stack runs with `WebhookRetryBaseSeconds=0` (retries at once). A webhook subscribed to MESSAGE_INBOUND points
at `python -m zapgate_devstack.webhook_receiver --fail-first 5`: the event's five attempts fail, the real events
processor (the devstack's SQS poller calls zapgate_events.handler) logs each and the last one as dead with its
envelope, SQS dead-letters the record. The API lists the attempts; the receiver now answers 200 ("fixed");
a person opens the console's webhooks page (headless Debian chromium, Playwright), sees the dead delivery and
clicks Redrive: the event is delivered once more, signed, same id, and the page shows it redriven; a second
redrive through the API is refused. (Here rather than in test_console_browser.py: it needs a stack whose
retries come at once, or an event takes ~16 minutes to die.)
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.browser import launch
from tests.e2e.stack import LocalStack, free_ports, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("redrive"), sidecars=1, DISCOVERY_POLL_MS="500",
                       STOP_COOLDOWN_MS="500", ZAPGATE_PARAMETER_OVERRIDES="WebhookRetryBaseSeconds=0").start()
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


def _deliveries(port: int) -> list[dict[str, Any]]:
    return list(httpx.get(f"http://127.0.0.1:{port}/deliveries", timeout=5).json())


def test_a_dead_delivery_is_listed_then_redriven_and_delivered(stack: LocalStack) -> None:
    api, sim = stack.api(), stack.sim_client()
    port = free_ports(1)[0]
    created = api.post("/webhooks", json={"url": f"http://127.0.0.1:{port}/hook", "events": ["MESSAGE_INBOUND"]})
    assert created.status_code == 201, created.text
    hook = created.json()
    receiver = subprocess.Popen(
        [sys.executable, "-m", "zapgate_devstack.webhook_receiver", "--port", str(port), "--secret", hook["secret"],
         "--fail-first", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200, 15,
                   "receiver up")
        instance_id = api.post("/instances", json={"name": "redrive"}).json()["id"]
        wait_until(lambda: api.get(f"/instances/{instance_id}").json()["qr_code"], 20, "QR")
        assert sim.post(f"/instances/{instance_id}/scan", json={"phone": "5511999990010", "push_name": "E2E"}
                        ).status_code == 200
        wait_until(lambda: api.get(f"/instances/{instance_id}").json()["status"] == "CONNECTED", 15, "CONNECTED")
        assert sim.post(f"/instances/{instance_id}/inbound", json={
            "id": "E2E-REDRIVE-1", "chat": "5511977776666@s.whatsapp.net",
            "sender": "5511977776666@s.whatsapp.net", "body": "ainda aí?"}).status_code == 200

        listing = f"/webhooks/{hook['id']}/deliveries"

        def dead() -> dict[str, Any] | None:
            found = api.get(listing).json()["deliveries"]
            return next((d for d in found if d["outcome"] == "dead"), None)

        last = wait_until(dead, 60, "the dead delivery in the API")
        attempts = api.get(listing).json()["deliveries"]
        assert [(d["attempt"], d["outcome"]) for d in attempts] == [
            (5, "dead"), (4, "failed"), (3, "failed"), (2, "failed"), (1, "failed")]
        assert {d["reason"] for d in attempts} and all("127.0.0.1" not in d["reason"] for d in attempts)
        failed = _deliveries(port)
        assert [d["answered"] for d in failed] == [500] * 5

        # The receiver answers 200 from now on (its first five failed): the application is fixed.
        _redrive_in_the_console(stack, hook["id"], last["event_id"])
        url = f"/webhooks/{hook['id']}/deliveries/{last['event_id']}/redrive"
        delivered = wait_until(lambda: [d for d in _deliveries(port) if d["answered"] == 200], 30, "the redrive")
        time.sleep(1.0)  # a duplicate would come from a second poll: give it the chance
        again = api.post(url)
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_redriven"
        everything = _deliveries(port)
    finally:
        receiver.terminate()
        receiver.communicate(timeout=10)

    assert len(delivered) == 1 and [d["answered"] for d in everything] == [500] * 5 + [200]
    assert delivered[0]["event_id"] == last["event_id"] == failed[0]["event_id"]
    assert delivered[0]["signature_valid"] is True
    assert delivered[0]["event"]["payload"]["message"]["waMessageId"] == "E2E-REDRIVE-1"
    assert api.get(listing).json()["deliveries"][0]["outcome"] == "redriven"


def _redrive_in_the_console(stack: LocalStack, webhook_id: str, event_id: str) -> None:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(30_000)
            page.goto(f"{stack.url}/console/#/webhooks")
            page.get_by_test_id("signin-key").fill(stack.api_key)
            page.get_by_test_id("signin-submit").click()
            box = page.locator(f'[data-testid="webhook-deliveries"][data-webhook-id="{webhook_id}"]')
            rows = box.get_by_test_id("delivery-row")
            expect(rows).to_have_count(5)
            dead = box.locator(f'[data-testid="delivery-row"][data-outcome="dead"][data-event-id="{event_id}"]')
            expect(dead).to_have_count(1)
            expect(box.get_by_test_id("delivery-redrive")).to_have_count(1)  # on the dead one only
            dead.get_by_test_id("delivery-redrive").click()
            expect(box.locator('[data-testid="delivery-row"][data-outcome="redriven"]')).to_have_count(1)
            expect(box.get_by_test_id("delivery-redrive")).to_have_count(0)
            expect(page.get_by_test_id("error-banner")).to_be_hidden()
        finally:
            browser.close()
