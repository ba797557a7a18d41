"""Instance commands end to end in one process: public API → instance item → heartbeat → sidecar
runtime → sim network → worker-proxy (groups, status, ack). Same set-up as test_sidecar_with_sim."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY
from tests.integration.background import BackgroundApp, BackgroundSidecar, wait_until
from tests.integration.test_sidecar_with_sim import _instances, _settings
from tests.integration.worker_client import make_instance

GROUP_A, GROUP_B = "120363000000000001@g.us", "120363000000000002@g.us"


@pytest.fixture
def stack(aws_env: dict[str, str], tmp_path: Path):
    from zapgate_sim.server import BackgroundSim
    from zapgate_worker_proxy.app import app as worker_app

    with BackgroundApp(worker_app) as edge, BackgroundSim() as sim:
        yield edge, sim, tmp_path


def test_commands_refresh_the_qr_fetch_groups_and_log_out(stack: tuple[Any, Any, Path],
                                                          aws_env: dict[str, str]) -> None:
    from zapgate_public_api.app import app as public_app

    edge, sim, tmp = stack
    instance = make_instance(aws_env)
    instance_id = instance["id"]
    store = _instances(aws_env)
    public = TestClient(public_app, headers={"X-API-Key": API_KEY})
    # TTL 4 s: renewals (which carry commands) every 2 s.
    sidecar = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a")).start()

    def command(kind: str, **extra: Any) -> str:
        response = public.post(f"/v1/instances/{instance_id}/commands", json={"type": kind, **extra})
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def acked(command_id: str) -> dict[str, Any] | None:
        events = public.get(f"/v1/instances/{instance_id}/audit", params={"limit": 100}).json()["events"]
        return next((e for e in events if e["event"].startswith("command_") and e["detail"]["id"] == command_id),
                    None)

    try:
        first_qr = wait_until(lambda: getattr(store.get(instance_id), "qr_code", None), 15, "QR reported")
        refresh = command("refresh_qr")
        wait_until(lambda: store.get(instance_id).qr_code not in (None, first_qr), 10, "a fresh QR")
        assert httpx.get(f"{sim.url}/sim/instances/{instance_id}").json()["qr"].endswith(":2")
        assert wait_until(lambda: acked(refresh), 5, "refresh_qr acked")["event"] == "command_done"

        assert httpx.post(f"{sim.url}/sim/instances/{instance_id}/scan", json={"phone": "5511999990000"}).is_success
        wait_until(lambda: store.get(instance_id).status == "CONNECTED", 10, "CONNECTED")
        for jid, name in ((GROUP_A, "Vendas"), (GROUP_B, "Suporte")):
            assert httpx.post(f"{sim.url}/sim/instances/{instance_id}/groups",
                              json={"jid": jid, "name": name}).is_success
        fetch = command("fetch_groups")

        def groups() -> list[tuple[str, str, bool]]:
            listed = public.get(f"/v1/instances/{instance_id}/groups").json()["groups"]
            return [(g["jid"], g["name"], g["monitor"]) for g in listed]

        # Discovery upserts one group after the other: a listing in between shows the first only.
        listed = wait_until(lambda: (lambda g: g if len(g) == 2 else None)(groups()), 10, "both groups listed")
        assert listed == [(GROUP_A, "Vendas", False), (GROUP_B, "Suporte", False)]
        assert wait_until(lambda: acked(fetch), 5, "fetch_groups acked")["event"] == "command_done"

        credentials = tmp / "sidecar-a" / "auth" / instance_id / "sim-credentials.json"
        assert credentials.exists()
        logout = command("logout")
        wait_until(lambda: store.get(instance_id).qr_code, 10, "a new QR after logout")
        assert store.get(instance_id).status == "CONNECTING"
        assert not credentials.exists()
        assert httpx.get(f"{sim.url}/sim/instances/{instance_id}").json()["paired"] is False
        assert wait_until(lambda: acked(logout), 5, "logout acked")["event"] == "command_done"

        pairing = command("pairing_code", phone="5511911112222")
        code = wait_until(lambda: store.get(instance_id).pairing_code, 10, "pairing code reported")
        assert httpx.get(f"{sim.url}/sim/instances/{instance_id}").json()["pairing_code"] == code
        assert wait_until(lambda: acked(pairing), 5, "pairing_code acked")["event"] == "command_done"

        # disconnect (of a connected instance: the sidecar's 60 s cooldown leaves it to the command):
        # session closed, DISCONNECTED reported, lock released, and it stays so (disabled).
        assert httpx.post(f"{sim.url}/sim/instances/{instance_id}/scan", json={"phone": "5511911112222"}).is_success
        wait_until(lambda: store.get(instance_id).status == "CONNECTED", 10, "CONNECTED by pairing code")
        disconnect = command("disconnect")
        wait_until(lambda: store.get(instance_id).lock.owner is None, 10, "lock released")
        stopped = store.get(instance_id)
        assert (stopped.status, stopped.status_reason, stopped.enabled) == (
            "DISCONNECTED", "disconnect_command", False)
        # The ack may land just after the release (seen under load): wait for it like the other commands'.
        assert wait_until(lambda: acked(disconnect), 5, "disconnect acked")["event"] == "command_done"
        assert httpx.get(f"{sim.url}/sim/instances/{instance_id}").json()["state"] == "offline"
        with pytest.raises(AssertionError):  # several discovery cycles (300 ms) later: still not taken
            wait_until(lambda: store.get(instance_id).lock.owner is not None, 1.5, "taken again")

        events = [e["event"] for e in public.get(f"/v1/instances/{instance_id}/audit",
                                                 params={"limit": 100}).json()["events"]]
        assert {"qr_generated", "pairing_code", "connect", "disconnect", "discovery", "command",
                "command_done"} <= set(events)
    finally:
        sidecar.stop()


def test_a_command_arrives_within_the_long_poll_not_the_renewal_and_runs_once(
        stack: tuple[Any, Any, Path], aws_env: dict[str, str]) -> None:
    """TTL 40 s: renewals are 20 s apart (the longest long-poll a heartbeat may ask for), so a command acked
    within a few seconds came by the doorbell. A second delivery of an id the sidecar already ran (its ack
    lost, say) is only acked again."""
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_control.ports.instances import InstanceCommand
    from zapgate_control.services.commands import COMMAND_TTL_MS, MAX_PENDING
    from zapgate_public_api.app import app as public_app

    edge, sim, tmp = stack
    instance_id = make_instance(aws_env)["id"]
    store = _instances(aws_env)
    public = TestClient(public_app, headers={"X-API-Key": API_KEY})
    sidecar = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a", INSTANCE_LOCK_TTL_MS="40000")).start()

    def sim_qr() -> str:
        return str(httpx.get(f"{sim.url}/sim/instances/{instance_id}").json()["qr"])

    try:
        wait_until(lambda: getattr(store.get(instance_id), "qr_code", None), 15, "QR reported")
        assert sim_qr().endswith(":1")
        accepted = public.post(f"/v1/instances/{instance_id}/commands", json={"type": "refresh_qr"})
        assert accepted.status_code == 202
        command_id = accepted.json()["id"]
        wait_until(lambda: not store.get(instance_id).commands, 3, "refresh_qr acked within 3 s")
        assert sim_qr().endswith(":2")

        # The same id again, as if its ack had not landed: acked again, not run again.
        store.add_command("tenant-a", instance_id, InstanceCommand(command_id, "refresh_qr", int(time.time() * 1000)),
                          MAX_PENDING, 0)
        DynamoMessageStore(aws_env["MESSAGES_TABLE"]).ring_doorbell(instance_id, "sidecar-a", COMMAND_TTL_MS)
        wait_until(lambda: not store.get(instance_id).commands, 3, "the repeat acked")
        time.sleep(0.3)
        assert sim_qr().endswith(":2")
    finally:
        sidecar.stop()
