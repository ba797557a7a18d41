"""End to end through `make run`'s processes: pacing (issue 13). An instance with pacing on sends five queued
messages to one chat in order, each preceded by typing on the simulated network, spaced by the configured
random gap; the settings reach the sidecar through the instance-settings channel (a PATCH while connected)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.e2e.stack import LocalStack, wait_until

pytestmark = pytest.mark.slow

OWN_PHONE = "5511999990131"
FRIEND = "5511966661313"
DELAY = {"min": 1_000, "max": 1_600}
TYPING_MS = 600  # a short text's typing: domain/pacing.py TYPING_MIN_MS


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("pacing"), sidecars=1, DISCOVERY_POLL_MS="500").start()
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


def test_paced_sends_arrive_in_order_spaced_and_typed(stack: LocalStack) -> None:
    api, sim = stack.api(), stack.sim_client()
    instance = api.post("/instances", json={"name": "paced"}).json()["id"]
    wait_until(lambda: api.get(f"/instances/{instance}").json()["qr_code"], 20, "QR")
    assert sim.post(f"/instances/{instance}/scan", json={"phone": OWN_PHONE}).status_code == 200
    wait_until(lambda: api.get(f"/instances/{instance}").json()["status"] == "CONNECTED", 15, "CONNECTED")
    assert sim.post("/accounts", json={"phone": FRIEND}).status_code == 200
    patched = api.patch(f"/instances/{instance}", json={"pacing": {"enabled": True, "delay_ms": DELAY,
                                                                   "typing": True}})
    assert patched.status_code == 200, patched.text
    wait_until(lambda: stack.sidecar_health(0)["instances"][0].get("settings_version") == 1
               if stack.sidecar_health(0).get("instances") else False, 20, "settings reached the sidecar")

    ids = [api.post(f"/instances/{instance}/messages", json={"to": FRIEND, "body": f"msg {i}"}).json()["id"]
           for i in range(5)]
    sent = wait_until(lambda: (lambda s: s if len(s) >= 5 else None)(
        sim.get(f"/instances/{instance}/sent").json()), 40, "five sent")
    assert [m["body"] for m in sent] == [f"msg {i}" for i in range(5)]  # the queue's order
    assert {m["to"] for m in sent} == {f"{FRIEND}@s.whatsapp.net"}

    typing = [p for p in sim.get(f"/instances/{instance}/presences").json() if p["state"] == "composing"]
    assert [p["sent_before"] for p in typing] == [0, 1, 2, 3, 4]  # each send came right after its own typing
    gaps_ms = [(b["at"] - a["at"]) * 1000 for a, b in itertools.pairwise(typing)]
    # typing i+1 starts one random gap after send i ended; send i ended TYPING_MS (+ the send) after typing i
    for gap in gaps_ms:
        assert DELAY["min"] + TYPING_MS <= gap <= DELAY["max"] + TYPING_MS + 700, gaps_ms
    statuses = {api.get(f"/instances/{instance}/messages/{m}").json()["status"] for m in ids}
    assert statuses <= {"sent", "delivered", "read"}
