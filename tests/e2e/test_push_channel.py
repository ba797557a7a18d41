"""End to end through `make run`'s processes: the sidecars' push channel (SidecarPushApi, emulated by the
local gateway with the real SidecarPushFunction) wakes an idle sidecar for a message and a command;
with the channel cut (the local stage stopped) both still arrive through the bounded fallback polling,
and once it is back the channel carries them again; nothing is lost or sent twice.

The lock TTL is 60 s here, so a renewal comes every 30 s: anything delivered within a few seconds while
the channel is up was woken by it, not found by a renewal.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.stack import LocalStack, wait_until

pytestmark = pytest.mark.slow

FALLBACK_POLL_MS = 500


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(
        tmp_path_factory.mktemp("push"), sidecars=1,
        INSTANCE_LOCK_TTL_MS="60000", QUEUE_POLL_MS=str(FALLBACK_POLL_MS), DISCOVERY_POLL_MS="500",
    ).start()
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


def _stage(stack: LocalStack, action: str) -> None:
    answer = httpx.post(f"{stack.url}/_local/websocket-apis/sidecars/{action}", timeout=10)
    assert answer.status_code == 200, answer.text


def _push_state(stack: LocalStack) -> str:
    return str(stack.sidecar_health(0)["push"]["state"])


def _send(stack: LocalStack, instance_id: str, body: str) -> float:
    """Seconds from the 202 to the simulated network holding the message."""
    api, sim = stack.api(), stack.sim_client()
    accepted = api.post(f"/instances/{instance_id}/messages", json={"to": "5511988887777", "body": body})
    assert accepted.status_code == 202, accepted.text
    started = time.monotonic()
    wait_until(lambda: body in [m["body"] for m in sim.get(f"/instances/{instance_id}/sent").json()], 10,
               f"{body!r} on the network")
    return time.monotonic() - started


def _command_done(stack: LocalStack, instance_id: str) -> float:
    api = stack.api()
    accepted = api.post(f"/instances/{instance_id}/commands", json={"type": "fetch_groups"})
    assert accepted.status_code == 202, accepted.text
    command_id = accepted.json()["id"]
    started = time.monotonic()

    def done() -> bool:
        events = api.get(f"/instances/{instance_id}/audit").json()["events"]
        return any(e["event"] == "command_done" and e["detail"].get("id") == command_id for e in events)

    wait_until(done, 10, "fetch_groups done")
    return time.monotonic() - started


def test_wakeups_by_push_then_by_the_fallback_then_by_push_again(stack: LocalStack) -> None:
    api, sim = stack.api(), stack.sim_client()
    created = api.post("/instances", json={"name": "push"})
    assert created.status_code == 201
    instance_id = created.json()["id"]
    wait_until(lambda: api.get(f"/instances/{instance_id}").json()["qr_code"], 20, "QR")
    assert sim.post(f"/instances/{instance_id}/scan", json={"phone": "5511999990077"}).status_code == 200
    wait_until(lambda: api.get(f"/instances/{instance_id}").json()["status"] == "CONNECTED", 15, "CONNECTED")
    wait_until(lambda: _push_state(stack) == "up", 10, "push channel up")

    # Idle and connected: the channel wakes the sidecar (a renewal is 30 s away).
    frames = stack.sidecar_health(0)["push"]["frames"]
    assert _send(stack, instance_id, "by push") < 3
    assert _command_done(stack, instance_id) < 3
    health = stack.sidecar_health(0)
    assert health["push"]["frames"] >= frames + 2 and health["fallback_polls"] == 0

    # The channel cut: the sidecar says so and polls at QUEUE_POLL_MS; nothing waits for a renewal.
    _stage(stack, "stop")
    wait_until(lambda: _push_state(stack) == "down", 10, "push channel down")
    assert _send(stack, instance_id, "by fallback") < 5
    assert _command_done(stack, instance_id) < 5
    polls = stack.sidecar_health(0)["fallback_polls"]
    assert polls > 0
    time.sleep(1.0)
    later = stack.sidecar_health(0)["fallback_polls"]
    assert 0 < later - polls <= 1.0 / (FALLBACK_POLL_MS / 1000) + 2  # bounded: about one per QUEUE_POLL_MS

    # Back: the sidecar reconnects by itself and stops polling.
    _stage(stack, "start")
    wait_until(lambda: _push_state(stack) == "up", 40, "push channel up again")
    polls = stack.sidecar_health(0)["fallback_polls"]
    assert _send(stack, instance_id, "by push again") < 3
    time.sleep(1.0)
    assert stack.sidecar_health(0)["fallback_polls"] <= polls + 1  # at most the poll of the moment it came back

    bodies = [m["body"] for m in sim.get(f"/instances/{instance_id}/sent").json()]
    for body in ("by push", "by fallback", "by push again"):
        assert bodies.count(body) == 1, bodies  # not lost, not twice
    assert api.delete(f"/instances/{instance_id}").status_code == 204
