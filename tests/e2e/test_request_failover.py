"""End to end through `make run`'s processes: a request to the phone whose sidecar is killed (SIGKILL)
between its claim and its answer (issue 10, docs/requests.md "At most once").

The sim network stalls the instance's next chat presence: it reaches the other party at once, its answer
is held. The API gives up waiting (504 with the request id), the request reads `claimed`, the holder dies,
the other sidecar takes the instance over; the request then reads `outcome_unknown` and the presence was
shown once, never re-run after the failover.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.stack import LocalStack, wait_until

pytestmark = pytest.mark.slow

LOCK_TTL_MS = 3000
DISCOVERY_MS = 500
REQUEST_WAIT_MS = 1000
STALL_S = 6  # outlives the API's wait and the kill; the dead sidecar never reads the answer
OWN_PHONE = "5511999990091"
FRIEND = "5511966665591"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(
        tmp_path_factory.mktemp("request-failover"), sidecars=2,
        INSTANCE_LOCK_TTL_MS=str(LOCK_TTL_MS), DISCOVERY_POLL_MS=str(DISCOVERY_MS), STOP_COOLDOWN_MS="500",
        ZAPGATE_PARAMETER_OVERRIDES=f"RequestWaitMs={REQUEST_WAIT_MS}",
    ).start()
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


def _owner(stack: LocalStack, instance_id: str) -> str | None:
    listed = stack.worker().get("/eligible-instances").json()["instances"]
    return next((i["owner"] for i in listed if i["id"] == instance_id), None)


def _connected_on(stack: LocalStack, index: int, instance_id: str) -> bool:
    return any(i["instance_id"] == instance_id and i["connected"] for i in stack.sidecar_health(index)["instances"])


def _request_state(api: httpx.Client, instance_id: str, request_id: str) -> str:
    answer = api.get(f"/instances/{instance_id}/requests/{request_id}")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["state"])


def test_a_claimed_request_whose_sidecar_is_killed_is_outcome_unknown_and_never_runs_again(
    stack: LocalStack,
) -> None:
    api, sim = stack.api(), stack.sim_client()
    created = api.post("/instances", json={"name": "request-failover"})
    assert created.status_code == 201, created.text
    instance_id = created.json()["id"]
    wait_until(lambda: api.get(f"/instances/{instance_id}").json()["qr_code"], 20, "QR")
    assert sim.post(f"/instances/{instance_id}/scan", json={"phone": OWN_PHONE}).status_code == 200
    wait_until(lambda: api.get(f"/instances/{instance_id}").json()["status"] == "CONNECTED", 15, "CONNECTED")
    assert sim.post("/accounts", json={"phone": FRIEND}).status_code == 200
    holder = wait_until(lambda: _owner(stack, instance_id), 10, "a lock holder")
    victim, survivor = (0, 1) if holder == "sidecar-0" else (1, 0)
    wait_until(lambda: all(stack.sidecar_health(i)["push"]["state"] == "up" for i in range(2)), 10, "push up")

    assert sim.post(f"/instances/{instance_id}/stall", json={"seconds": STALL_S}).status_code == 200
    asked = api.post(f"/instances/{instance_id}/chats/presence", json={"chat": FRIEND, "state": "composing"})
    assert asked.status_code == 504, asked.text
    assert asked.json()["error"]["code"] == "instance_timeout"
    request_id = asked.json()["error"]["request_id"]
    wait_until(lambda: _request_state(api, instance_id, request_id) == "claimed", 3, "claimed")  # held by the sim
    wait_until(lambda: [p["state"] for p in sim.get(f"/instances/{instance_id}/presences").json()] == ["composing"],
               3, "the presence on the network")

    health = stack.sidecar_health(victim)
    assert health["owner"] == holder
    os.kill(health["pid"], signal.SIGKILL)
    budget_s = (LOCK_TTL_MS + DISCOVERY_MS) / 1000 + 10  # lock TTL + one discovery cycle, plus CI slack
    wait_until(lambda: _owner(stack, instance_id) == f"sidecar-{survivor}", budget_s, "taken over")
    wait_until(lambda: _connected_on(stack, survivor, instance_id), 15, "reconnected by the survivor")

    assert _request_state(api, instance_id, request_id) == "outcome_unknown"
    # The survivor serves new requests, and the claimed one was never handed to it.
    answer = api.post(f"/instances/{instance_id}/chats/presence", json={"chat": FRIEND, "state": "paused"})
    assert answer.status_code == 200, answer.text
    time.sleep(1)  # a re-run, had there been one, lands within this
    assert [p["state"] for p in sim.get(f"/instances/{instance_id}/presences").json()] == ["composing", "paused"]
    assert _request_state(api, instance_id, request_id) == "outcome_unknown"
