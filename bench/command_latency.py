"""Instance command latency: public-API accept (the 202 of POST /v1/instances/{id}/commands) -> the sidecar's
ack reaching the worker-proxy, with the command doorbell against without it, in the same run.

One process: moto (tables from template.yaml), the real worker-proxy app (uvicorn, a thread), the simulated
WhatsApp network and the real sidecar (its fleet and runtime, a thread) with the default lock TTL (30 s,
so renewals every 15 s), one connected instance. The public API is driven in-process with TestClient,
so the baseline can switch the doorbell off where it is rung:

  doorbell  as shipped: the request rings the doorbell and the sidecar's parked heartbeat long-poll
            (server tick 50 ms) answers the command at once.
  renewal   zapgate_control.services.commands.ring replaced by a no-op for the phase: the command
            waits for the sidecar's next renewing heartbeat (the design before the doorbell).

Each phase sends --commands (20) `fetch_groups` commands at random gaps of 2-3 s, without waiting for
the acks (at most ~8 pending, under the 10-command cap), so commands land at random phases of the
15 s renewal cycle; the ack time is taken where the worker-proxy handles /commands/ack (a wrapper
around commands.ack). Latency includes running the command (one groups report, a few ms). All parts
share one interpreter, so figures carry some GIL contention: compare the two rows, not absolutes.

It also counts, per command in each phase, the DynamoDB calls the doorbell adds (botocore hook on the
apps' one client): PutItem/DeleteItem on MessagesTable's doorbell items, and consistent GetItems of
the instance. Nothing is asserted.

Usage: .venv/bin/python bench/command_latency.py [--commands 20]
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from dynamodb_ops import API_KEY, TENANT, WORKER_SECRET, configure

REPO = Path(__file__).resolve().parents[1]
OWNER = "bench-sidecar"
LOCK_TTL_MS = 30_000  # the default: renewals every 15 s
GAP_S = (2.0, 3.0)
GROUP = "120363000000000001@g.us"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))  # nearest rank
    return ordered[rank]


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


class Acks:
    """When each command's ack reached the worker-proxy (wraps commands.ack, which its route calls)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self._changed = threading.Condition()

    @contextmanager
    def installed(self) -> Iterator[None]:
        from zapgate_control.services import commands

        original = commands.ack

        def ack(instances: Any, audit: Any, request: Any) -> Any:
            with self._changed:
                self.at.setdefault(request.id, time.monotonic())
                self._changed.notify_all()
            return original(instances, audit, request)

        commands.ack = ack  # type: ignore[assignment]
        try:
            yield
        finally:
            commands.ack = original  # type: ignore[assignment]

    def wait(self, ids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not all(i in self.at for i in ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"{sum(i not in self.at for i in ids)} command(s) never acked")
                self._changed.wait(left)


class DoorbellCalls:
    """DynamoDB calls the doorbell makes: a botocore hook (API parameters, before serialisation) on the apps'
    one cached client."""

    def __init__(self, messages_table: str, instances_table: str) -> None:
        self.messages_table, self.instances_table = messages_table, instances_table
        self.counts: Counter[str] = Counter()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        table, key = params.get("TableName"), str((params.get("Key") or params.get("Item") or {}).get("id"))
        if table == self.messages_table and "doorbell#" in key and model.name in ("PutItem", "DeleteItem"):
            self.counts[model.name] += 1
        elif table == self.instances_table and model.name == "GetItem" and params.get("ConsistentRead"):
            self.counts["GetItem (consistent)"] += 1


def phase(public: Any, instance_id: str, acks: Acks, calls: DoorbellCalls, count: int,
          rng: random.Random) -> tuple[list[float], Counter[str]]:
    calls.counts.clear()
    sent: dict[str, float] = {}
    for n in range(count):
        if n:
            time.sleep(rng.uniform(*GAP_S))
        response = public.post(f"/v1/instances/{instance_id}/commands", json={"type": "fetch_groups"})
        if response.status_code != 202:
            raise RuntimeError(f"command refused: HTTP {response.status_code} {response.text[:200]}")
        sent[response.json()["id"]] = time.monotonic()
    acks.wait(list(sent), timeout=LOCK_TTL_MS / 1000 + 10)
    return [(acks.at[i] - t) * 1000 for i, t in sent.items()], Counter(calls.counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=20, help="commands per design (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="random gaps seed")
    args = parser.parse_args()
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from zapgate_devstack.emulator import MotoServer

    server = MotoServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="zapgate-command-latency-"))
    try:
        env = configure(server)
        from fastapi.testclient import TestClient

        from tests.integration.background import BackgroundApp, BackgroundSidecar
        from zapgate_control.adapters.dynamodb.api_keys import put_api_key
        from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
        from zapgate_control.aws import client
        from zapgate_control.services import commands
        from zapgate_public_api.app import app as public_app
        from zapgate_sidecar.settings import load_settings
        from zapgate_sidecar.sim.server import BackgroundSim
        from zapgate_worker_proxy.app import app as worker_app

        put_api_key(env["API_KEYS_TABLE"], API_KEY, TENANT, "bench")
        store = DynamoInstanceStore(env["INSTANCES_TABLE"])
        instance_id = store.create(TENANT, "bench", 0, True)["id"]
        calls = DoorbellCalls(env["MESSAGES_TABLE"], env["INSTANCES_TABLE"])
        client("dynamodb").meta.events.register("before-parameter-build.dynamodb", calls)
        acks = Acks()
        with BackgroundApp(worker_app) as edge, BackgroundSim() as sim, acks.installed():
            sidecar = BackgroundSidecar(load_settings({
                "EDGE_BASE_URL": f"{edge.url}/worker-proxy", "WORKER_SECRET": WORKER_SECRET, "PORT": "0",
                "DISCOVERY_POLL_MS": "500", "INSTANCE_LOCK_TTL_MS": str(LOCK_TTL_MS),
                "AUTH_BASE": str(tmp / "auth"), "MEDIA_BASE": str(tmp / "media"), "ZAPGATE_TRANSPORT": "sim",
                "ZAPGATE_SIM_URL": sim.url, "INSTANCE_OWNER": OWNER,
            })).start()
            try:
                wait_for(lambda: (store.get(instance_id) or {}).get("qr_code"), 30, "the QR")
                httpx.post(f"{sim.url}/sim/instances/{instance_id}/scan", json={"phone": "5511999990000"})
                httpx.post(f"{sim.url}/sim/instances/{instance_id}/groups", json={"jid": GROUP, "name": "Vendas"})
                wait_for(lambda: store.get(instance_id)["status"] == "CONNECTED", 30, "CONNECTED")
                public = TestClient(public_app, headers={"X-API-Key": API_KEY})
                rng = random.Random(args.seed)
                print(f"{args.commands} fetch_groups commands per design, gaps {GAP_S[0]:.0f}-{GAP_S[1]:.0f} s, "
                      f"lock TTL {LOCK_TTL_MS // 1000} s (renewal every {LOCK_TTL_MS // 2000} s)...", flush=True)
                rows = {"doorbell": phase(public, instance_id, acks, calls, args.commands, rng)}
                ring = commands.ring
                commands.ring = lambda *_, **__: None  # type: ignore[assignment]
                try:
                    rows["renewal"] = phase(public, instance_id, acks, calls, args.commands, rng)
                finally:
                    commands.ring = ring  # type: ignore[assignment]
            finally:
                sidecar.stop()
                # The stopped sidecar's last long-poll is cut at shutdown; uvicorn would print its cancellation.
                logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        report(rows, args.commands)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def report(rows: dict[str, tuple[list[float], Counter[str]]], count: int) -> None:
    print(f"\ncommand accepted (202) -> ack at the worker-proxy, ms ({count} commands each)")
    print(f"{'design':<10} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'mean':>8}   doorbell calls per command")
    for design, (latencies, counts) in rows.items():
        per = ", ".join(f"{op} {counts[op] / count:.2f}" for op in ("PutItem", "GetItem (consistent)", "DeleteItem"))
        print(f"{design:<10} {percentile(latencies, 50):>8.0f} {percentile(latencies, 90):>8.0f} "
              f"{percentile(latencies, 99):>8.0f} {max(latencies):>8.0f} {statistics.fmean(latencies):>8.0f}   {per}")
    (fast, _), (slow, _) = rows["doorbell"], rows["renewal"]
    print(f"\nrenewal / doorbell: p50 x{percentile(slow, 50) / percentile(fast, 50):.0f}, "
          f"p99 x{percentile(slow, 99) / percentile(fast, 99):.0f}")


if __name__ == "__main__":
    sys.exit(main())
