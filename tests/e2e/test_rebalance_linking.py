"""End to end: rebalancing never moves an instance a person is linking.

The user's report: `make run SIDECARS=2`, six new instances; a sidecar above its fair share
released two of them seconds after their QR appeared (`why: left_target`), so scanning them
answered `409 no QR pending`. A linking runtime now stays where it is until it connects.

A sidecar ends up above its share when it took instances before it could count the other one
(slow start and presence narrow that window, they do not close it). The test makes that happen
every time: sidecar "late" holds a first instance and is paused; the other takes MAX_ACTIVE_INSTANCES=4
of six new instances (created with a higher priority, so they come before the first one even once
late's lock on it lapsed); the first instance is deleted, so late counts again as a live, idle sidecar
(it lost its instance, it did not die) and the fair share drops to 3; then late resumes and takes the
two left, leaving the other one above its share while all six QRs are on screen.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.stack import LocalStack, wait_until

pytestmark = pytest.mark.slow

DISCOVERY_MS = 300
WATCH_S = 6.0  # ~20 discovery cycles per sidecar with every QR on screen


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # Discovery every 300 ms, push channel up or not (DISCOVERY_IDLE_MS), so the watch spans ~20 cycles.
    local = LocalStack(tmp_path_factory.mktemp("stack"), sidecars=2, DISCOVERY_POLL_MS=str(DISCOVERY_MS),
                       DISCOVERY_IDLE_MS=str(DISCOVERY_MS), INSTANCE_LOCK_TTL_MS="3000", STOP_COOLDOWN_MS="500",
                       MAX_ACTIVE_INSTANCES="4").start()
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


def _left_target_releases(stack: LocalStack, ids: set[str]) -> list[dict[str, Any]]:
    released = []
    for line in list(stack.output):
        if "instance released" not in line or "left_target" not in line:
            continue
        try:
            record = json.loads(line[line.index("{"):])
        except ValueError:
            continue
        if record.get("instance_id") in ids and record.get("why") == "left_target":
            released.append(record)
    return released


def _owners(worker: httpx.Client, ids: list[str]) -> dict[str, Any]:
    listed = {i["id"]: i["owner"] for i in worker.get("/eligible-instances").json()["instances"]}
    return {i: listed.get(i) for i in ids}


def _create(api: httpx.Client, name: str, priority: int = 0) -> str:
    response = api.post("/instances", json={"name": name, "priority": priority})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_a_linking_instance_is_never_moved_by_rebalancing(stack: LocalStack) -> None:
    api, sim, worker = stack.api(), stack.sim_client(), stack.worker()

    # Whoever takes a first instance is "late": the other sees it hold a lock.
    first = _create(api, "first")
    late_owner = wait_until(lambda: _owners(worker, [first])[first], 15, "the first instance taken")
    late = int(late_owner.rsplit("-", 1)[1])
    time.sleep(5 * DISCOVERY_MS / 1000)  # the other sidecar's discovery saw it holding
    late_pid = stack.sidecar_health(late)["pid"]
    os.kill(late_pid, signal.SIGSTOP)
    try:
        ids = [_create(api, f"linking-{n}", priority=1) for n in range(6)]
        early_owner = f"sidecar-{1 - late}"
        taken = wait_until(lambda: (lambda o: o if list(o.values()).count(early_owner) == 4 else None)(
            _owners(worker, ids)), 20, "four instances on the sidecar that runs alone")
        early_ids = [i for i, o in taken.items() if o == early_owner]
        wait_until(lambda: all(sim.get(f"/instances/{i}").json()["qr"] for i in early_ids), 15, "their QRs")
        # Late lost its instance rather than died: it counts again, so the share drops to 3 (6 over 2).
        assert api.delete(f"/instances/{first}").status_code == 204
        time.sleep(3 * DISCOVERY_MS / 1000)
    finally:
        os.kill(late_pid, signal.SIGCONT)

    def all_show_a_qr() -> dict[str, str] | None:
        shown = {i: sim.get(f"/instances/{i}").json()["qr"] for i in ids}
        api_qr = all(api.get(f"/instances/{i}").json()["qr_code"] for i in ids)
        return shown if api_qr and all(shown.values()) else None

    qrs = wait_until(all_show_a_qr, 30, "a QR for all six instances", interval=0.2)
    assert _left_target_releases(stack, set(ids)) == [], "rebalancing released an instance showing its QR"
    owners = _owners(worker, ids)
    assert sorted(owners.values(), key=str) == sorted([early_owner] * 4 + [late_owner] * 2), owners

    # Several discovery cycles with every QR on screen: nothing moves, no QR is replaced.
    deadline = time.monotonic() + WATCH_S
    while time.monotonic() < deadline:
        for instance_id in ids:
            info = sim.get(f"/instances/{instance_id}").json()
            assert info["state"] == "waiting_qr" and info["qr"] == qrs[instance_id], (
                f"{instance_id}'s QR went away while shown: {info} "
                f"(released: {_left_target_releases(stack, set(ids))})")
        assert _owners(worker, ids) == owners
        time.sleep(0.2)
    assert _left_target_releases(stack, set(ids)) == [], "rebalancing released an instance showing its QR"

    for n, instance_id in enumerate(ids):
        scanned = sim.post(f"/instances/{instance_id}/scan", json={"phone": f"55119100000{n:02d}"})
        assert scanned.status_code == 200, f"{instance_id}: {scanned.status_code} {scanned.text}"
    for instance_id in ids:
        wait_until(lambda i=instance_id: api.get(f"/instances/{i}").json()["status"] == "CONNECTED", 15,
                   f"{instance_id} CONNECTED")
    def split_evenly() -> bool:
        held = list(_owners(worker, ids).values())
        return held.count(early_owner) == held.count(late_owner) == 3

    # Once connected (and after the cooldown) the surplus may move: it resumes without a new QR.
    wait_until(split_evenly, 20, "a 3/3 split once linked")
    for instance_id in ids:
        wait_until(lambda i=instance_id: sim.get(f"/instances/{i}").json()["state"] == "connected"
                   and api.get(f"/instances/{i}").json()["status"] == "CONNECTED", 15, f"{instance_id} connected")
        assert sim.get(f"/instances/{instance_id}").json()["qr"] is None
