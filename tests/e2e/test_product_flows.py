"""Issue 4's product flows end to end, through `make run`'s processes and the simulated WhatsApp network.

* A send repeated with the same Idempotency-Key is one message, sent once on the network; the
  same key with another body is a 422.
* Receipts from the network move a sent message to delivered, then read, in the public API, and a
  webhook receiver gets MESSAGE_STATUS sent, delivered and read, each once and signed.
* A receiver that keeps failing gets each event 5 times, then the event sits in the dead-letter
  queue; `python -m zapgate_control.admin redrive-dlq` against the stack's moto puts it back and the
  now healthy receiver gets it, signed.

The stack runs with `ZAPGATE_PARAMETER_OVERRIDES=WebhookRetryBaseSeconds=0`: retries come at once
(retry_delay_s is 0 with base 0, no jitter), so five failed attempts take well under a second.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import httpx
import pytest

from tests.e2e.stack import LocalStack, free_ports, wait_until

pytestmark = pytest.mark.slow

QUEUE_POLL_S = 0.2
# The sidecar learns of queued sends through its heartbeat, every lock renewal (TTL/2, at least 2 s);
# an instance it has just taken joins the heartbeat only at the next one: with the default TTL (30 s)
# the first send after connecting could wait 15 s.
LOCK_TTL_MS = 4000
# A duplicate delivery would come from another poll of the events queue (the local poller
# long-polls for 1 s) or of the outbox's stream: this long is enough for it to show.
QUIET_S = 1.5


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(
        tmp_path_factory.mktemp("flows"), sidecars=1, DISCOVERY_POLL_MS="300", STOP_COOLDOWN_MS="500",
        INSTANCE_LOCK_TTL_MS=str(LOCK_TTL_MS),
        QUEUE_POLL_MS=str(int(QUEUE_POLL_S * 1000)), ZAPGATE_PARAMETER_OVERRIDES="WebhookRetryBaseSeconds=0",
    ).start()
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


@pytest.fixture(scope="module")
def instance_id(stack: LocalStack) -> str:
    return _connected_instance(stack, "flows", "5511999990201")


# ---------------------------------------------------------------- helpers
def _connected_instance(stack: LocalStack, name: str, phone: str) -> str:
    api, sim = stack.api(), stack.sim_client()
    created = api.post("/instances", json={"name": name})
    assert created.status_code == 201, created.text
    instance_id = str(created.json()["id"])
    wait_until(lambda: api.get(f"/instances/{instance_id}").json()["qr_code"], 20, f"the QR of {name}")
    scanned = sim.post(f"/instances/{instance_id}/scan", json={"phone": phone, "push_name": "E2E"})
    assert scanned.status_code == 200, scanned.text
    wait_until(lambda: api.get(f"/instances/{instance_id}").json()["status"] == "CONNECTED", 15,
               f"{name} CONNECTED")
    return instance_id


class Receiver:
    """`python -m zapgate_devstack.webhook_receiver` on `port`, checking signatures with `secret`."""

    def __init__(self, port: int, secret: str, fail_first: int = 0) -> None:
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zapgate_devstack.webhook_receiver", "--port", str(port), "--secret", secret,
             "--fail-first", str(fail_first)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.output = ""
        try:
            wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200, 15,
                       f"the webhook receiver on port {port}")
        except AssertionError:
            self.stop()
            raise AssertionError(f"receiver did not start:\n{self.output}") from None

    def deliveries(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"http://127.0.0.1:{self.port}/deliveries", timeout=5).json())

    def stop(self) -> str:
        if self.process.returncode is None:  # not stopped yet (stopping twice is fine)
            self.process.terminate()
            self.output = self.process.communicate(timeout=10)[0]
        return self.output


@contextmanager
def _webhook(stack: LocalStack, events: list[str], fail_first: int = 0) -> Iterator[tuple[str, int, Receiver]]:
    """A webhook for `events` at a receiver of its own; (secret, port, receiver). Deleted afterwards,
    so no other test's events fan out to it."""
    api = stack.api()
    port = free_ports(1)[0]
    created = api.post("/webhooks", json={"url": f"http://127.0.0.1:{port}/hook", "events": events})
    assert created.status_code == 201, created.text
    receiver: Receiver | None = None
    try:
        receiver = Receiver(port, created.json()["secret"], fail_first)
        yield created.json()["secret"], port, receiver
    finally:
        assert api.delete(f"/webhooks/{created.json()['id']}").status_code == 204
        if receiver is not None:
            receiver.stop()


def _assert_signed(delivery: dict[str, Any], secret: str) -> None:
    assert delivery["signature_valid"] is True and delivery["event_id"] == delivery["event"]["id"]
    expected = hmac.new(secret.encode(), f"{delivery['timestamp']}.{delivery['body']}".encode(),
                        hashlib.sha256).hexdigest()
    assert delivery["signature"] == f"v1={expected}"


def _moto_endpoint(stack: LocalStack) -> str:
    """What the banner prints as `AWS (moto)`."""
    for line in stack.output:
        found = re.search(r"AWS \(moto\)\s+(http://127\.0\.0\.1:\d+)", line)
        if found:
            return found[1]
    raise AssertionError("the banner names no moto endpoint")


def _aws_env(stack: LocalStack) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**environment, "AWS_ENDPOINT_URL": _moto_endpoint(stack), "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def _events_queues(stack: LocalStack) -> tuple[Any, str, str]:
    """(sqs client, EventsQueue url, EventsDeadLetterQueue url) on the stack's moto."""
    sqs = boto3.client("sqs", endpoint_url=_moto_endpoint(stack), region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    urls = sqs.list_queues(QueueNamePrefix="zapgate-local-Events")["QueueUrls"]
    (queue,) = [u for u in urls if "-EventsQueue-" in u]
    (dlq,) = [u for u in urls if "-EventsDeadLetterQueue-" in u]
    return sqs, queue, dlq


def _depth(sqs: Any, url: str) -> int:
    """Messages in the queue, visible or in flight (moto counts them exactly)."""
    found = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(found["ApproximateNumberOfMessages"]) + int(found["ApproximateNumberOfMessagesNotVisible"])


# ---------------------------------------------------------------- tests
def test_a_reused_idempotency_key_sends_once(stack: LocalStack, instance_id: str) -> None:
    api, sim = stack.api(), stack.sim_client()
    path, key = f"/instances/{instance_id}/messages", {"Idempotency-Key": "order-4242"}
    body = {"to": "5511988880201", "body": "pedido #4242 confirmado"}

    first = api.post(path, json=body, headers=key)
    again = api.post(path, json=body, headers=key)
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    message_id = first.json()["id"]
    assert again.json()["id"] == message_id

    wait_until(lambda: api.get(f"{path}/{message_id}").json()["status"] == "sent", 15, "the message sent")
    after_sent = api.post(path, json=body, headers=key)
    assert after_sent.status_code == 202 and after_sent.json() == {"id": message_id, "status": "sent"}
    other = api.post(path, json={**body, "body": "pedido #4242 cancelado"}, headers=key)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused", other.text

    time.sleep(3 * QUEUE_POLL_S)  # a second copy, had one been queued, would be sent within a queue poll
    sent = [m for m in sim.get(f"/instances/{instance_id}/sent").json() if m["to"] == "5511988880201@s.whatsapp.net"]
    assert [(m["type"], m["body"]) for m in sent] == [("text", "pedido #4242 confirmado")]
    assert api.get(f"{path}/{message_id}").json()["wa_message_id"] == sent[0]["id"]
    outbound = api.get(f"{path}?direction=outbound").json()["messages"]
    assert [m["id"] for m in outbound if m["to"] == "5511988880201"] == [message_id]


def test_receipts_move_a_message_to_delivered_then_read(stack: LocalStack, instance_id: str) -> None:
    api, sim = stack.api(), stack.sim_client()
    path = f"/instances/{instance_id}/messages"
    with _webhook(stack, ["MESSAGE_STATUS"]) as (secret, _, receiver):
        accepted = api.post(path, json={"to": "5511988880202", "body": "seu pedido saiu"})
        assert accepted.status_code == 202, accepted.text
        message_id = accepted.json()["id"]

        def statuses() -> list[dict[str, Any]]:
            return [d for d in receiver.deliveries()
                    if d["type"] == "MESSAGE_STATUS" and d["event"]["payload"]["message"]["id"] == message_id]

        def moved_to(status: str) -> None:
            wait_until(lambda: api.get(f"{path}/{message_id}").json()["status"] == status, 15,
                       f"the public API's status {status}")
            wait_until(lambda: any(d["event"]["payload"]["message"]["status"] == status for d in statuses()), 15,
                       f"MESSAGE_STATUS {status} at the receiver")

        moved_to("sent")
        wa_id = api.get(f"{path}/{message_id}").json()["wa_message_id"]
        assert [m["id"] for m in sim.get(f"/instances/{instance_id}/sent").json()
                if m["to"] == "5511988880202@s.whatsapp.net"] == [wa_id]
        for kind in ("delivered", "read"):
            receipt = sim.post(f"/instances/{instance_id}/receipt", json={"wa_message_id": wa_id, "kind": kind})
            assert receipt.status_code == 200, receipt.text
            moved_to(kind)
        time.sleep(QUIET_S)
        got = statuses()

    assert [d["event"]["payload"]["message"]["status"] for d in got] == ["sent", "delivered", "read"]
    assert len({d["event_id"] for d in got}) == 3  # three events, each delivered exactly once
    for delivery in got:
        _assert_signed(delivery, secret)
        assert delivery["answered"] == 200 and delivery["event"]["instanceId"] == instance_id
        message = delivery["event"]["payload"]["message"]
        assert (message["waMessageId"], message["chatId"]) == (wa_id, "5511988880202@s.whatsapp.net")
    assert got[0]["event"]["payload"]["contact"]["phone"] == "5511988880202"


def test_a_failing_receiver_ends_in_the_dlq_and_redrive_delivers(stack: LocalStack) -> None:
    sqs, queue_url, dlq_url = _events_queues(stack)
    assert _depth(sqs, dlq_url) == 0
    with _webhook(stack, ["INSTANCE_STATUS"], fail_first=1_000) as (secret, port, failing):
        instance_id = _connected_instance(stack, "dlq", "5511999990203")

        def dead_lettered() -> Counter[str] | None:
            attempts = Counter(d["event_id"] for d in failing.deliveries())
            connected = any(d["event"]["payload"]["status"] == "CONNECTED" and d["event"]["instanceId"] == instance_id
                            for d in failing.deliveries())
            # Settled: every event tried 5 times and dead-lettered, and none still waiting (a later status event
            # of the instance can still be in the queue when the first ones reach the DLQ).
            settled = connected and set(attempts.values()) == {5} and _depth(sqs, dlq_url) == len(attempts) \
                and _depth(sqs, queue_url) == 0
            return attempts if settled else None

        attempts = wait_until(dead_lettered, 30, "every event 5 times at the failing receiver, then in the DLQ")
        assert _depth(sqs, queue_url) == 0
        failed = failing.deliveries()
        assert all(d["answered"] == 500 for d in failed)
        for delivery in failed:
            _assert_signed(delivery, secret)
        assert "-> 500" in failing.stop()

        healthy = Receiver(port, secret)  # the receiver is fixed, on the same URL
        try:
            redrive = subprocess.run(
                [sys.executable, "-m", "zapgate_control.admin", "redrive-dlq", "--queue-url", queue_url],
                env=_aws_env(stack), capture_output=True, text=True, timeout=60,
            )
            assert redrive.returncode == 0, redrive.stdout + redrive.stderr
            assert redrive.stdout.strip() == f"{len(attempts)} event(s) redriven", redrive.stdout + redrive.stderr
            assert f"redriving {dlq_url} -> {queue_url}" in redrive.stderr

            wait_until(lambda: len(healthy.deliveries()) >= len(attempts), 15, "the redriven events at the receiver")
            time.sleep(QUIET_S)
            redriven = healthy.deliveries()
        finally:
            healthy.stop()

    assert sorted(d["event_id"] for d in redriven) == sorted(attempts)  # each exactly once
    for delivery in redriven:
        _assert_signed(delivery, secret)
        assert delivery["answered"] == 200
    first = {d["event_id"]: d["body"] for d in failed}
    assert all(d["body"] == first[d["event_id"]] for d in redriven)  # the same event, byte for byte
    assert any(d["event"]["payload"]["status"] == "CONNECTED" for d in redriven)
    assert _depth(sqs, dlq_url) == 0 and _depth(sqs, queue_url) == 0
