"""Instance command latency: public-API accept (the 202 of POST /v1/instances/{id}/commands) -> the sidecar's
ack reaching the worker-proxy, for the push channel against the long-poll doorbell and against renewals
alone, in the same run.

One process: moto (tables from template.yaml), the real worker-proxy app under uvicorn (a thread) with the
template's WebSocket APIs (the local gateway's emulation, so the sidecars' push channel SidecarPushApi is
served at /sidecars with the real SidecarPushFunction), the simulated WhatsApp network and the real sidecar
(its fleet and runtime, a thread) with the default lock TTL (30 s, so renewals every 15 s), one connected
instance. The public API is driven in-process with TestClient, so the baseline can switch the wake-ups
off where they are made:

  push      as shipped (WAKE_MODE=push, the default): the request rings the doorbell and posts a
            `command` frame on the sidecar's push channel; the sidecar makes one short heartbeat
            (wait_ms 0), which answers the doorbell.
  longpoll  the design before the push channel: that sidecar is stopped (it releases its lock) and one
            with WAKE_MODE=longpoll takes the instance over (auth restored, no QR); its parked heartbeat
            long-poll (server tick 50 ms) sees the doorbell and answers the command at once.
  renewal   the longpoll sidecar with zapgate_control.services.commands.ring and SidecarWaker.wake
            replaced by no-ops for the phase: the command waits for the sidecar's next renewing
            heartbeat (the design before the doorbell).

Each phase sends --commands (20) `fetch_groups` commands at random gaps of 2-3 s, without waiting for
the acks (at most ~8 pending, under the 10-command cap), so commands land at random phases of the
15 s renewal cycle; the ack time is taken where the worker-proxy handles /commands/ack (a wrapper
around commands.ack). Latency includes running the command (one groups report, a few ms). All parts
share one interpreter, so figures carry some GIL contention: compare the rows, not absolutes.

It also counts, per command in each phase, the DynamoDB calls the wake-ups add (botocore hook on the
apps' one client): PutItem/DeleteItem on MessagesTable's doorbell items, consistent GetItems of the
instance, and the GetItem of the lock holder's push connection (FleetTable). Target (issue): push
p50 <= 100 ms. Nothing is asserted.

Usage: .venv/bin/python bench/command_latency.py [--commands 20]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
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
from typing import Any, NamedTuple

import httpx
from dynamodb_ops import API_KEY, TENANT, WORKER_SECRET, configure

REPO = Path(__file__).resolve().parents[1]
LOCK_TTL_MS = 30_000  # the default: renewals every 15 s
GAP_S = (2.0, 3.0)
GROUP = "120363000000000001@g.us"
TARGET_P50_MS = 100.0
PUSH_STAGE = "sidecars"  # SidecarPushApi's stage on the local gateway


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
    """DynamoDB calls the wake-ups make: a botocore hook (API parameters, before serialisation) on the apps'
    one cached client."""

    KINDS = ("PutItem", "GetItem (consistent)", "DeleteItem", "GetItem (push connection)")

    def __init__(self, messages_table: str, instances_table: str, fleet_table: str) -> None:
        self.messages_table, self.instances_table, self.fleet_table = messages_table, instances_table, fleet_table
        self.counts: Counter[str] = Counter()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        table, key = params.get("TableName"), str((params.get("Key") or params.get("Item") or {}).get("id"))
        if table == self.messages_table and "doorbell#" in key and model.name in ("PutItem", "DeleteItem"):
            self.counts[model.name] += 1
        elif table == self.instances_table and model.name == "GetItem" and params.get("ConsistentRead"):
            self.counts["GetItem (consistent)"] += 1
        elif table == self.fleet_table and model.name == "GetItem":
            self.counts["GetItem (push connection)"] += 1


class LateApp:
    """An ASGI app set after the server picked its port: the push channel's URLs name that port, and the
    WebSocket handlers must be imported after the environment holding them is in place."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@contextmanager
def patched(target: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, original)


class Result(NamedTuple):
    latencies: list[float]  # 202 -> ack, ms
    calls: Counter[str]
    api: list[float]  # the request itself, start -> 202, ms (a push frame is posted before the 202)


def phase(public: Any, instance_id: str, acks: Acks, calls: DoorbellCalls, count: int, rng: random.Random) -> Result:
    calls.counts.clear()
    sent: dict[str, float] = {}
    api: list[float] = []
    for n in range(count):
        if n:
            time.sleep(rng.uniform(*GAP_S))
        started = time.monotonic()
        response = public.post(f"/v1/instances/{instance_id}/commands", json={"type": "fetch_groups"})
        if response.status_code != 202:
            raise RuntimeError(f"command refused: HTTP {response.status_code} {response.text[:200]}")
        sent[response.json()["id"]] = accepted = time.monotonic()
        api.append((accepted - started) * 1000)
    acks.wait(list(sent), timeout=LOCK_TTL_MS / 1000 + 10)
    return Result([(acks.at[i] - t) * 1000 for i, t in sent.items()], Counter(calls.counts), api)


def health(port: int) -> dict[str, Any]:
    try:
        return dict(httpx.get(f"http://127.0.0.1:{port}/health/instances", timeout=5).json())
    except httpx.HTTPError:
        return {}


def start_sidecar(
    edge_url: str, sim_url: str, scratch: Path, mode: str, lock_ttl_ms: int = LOCK_TTL_MS
) -> tuple[Any, int]:
    """A real sidecar on the sim, in this process, woken the `mode` way (push | longpoll); with its health port."""
    from tests.integration.background import BackgroundSidecar, free_port
    from zapgate_sidecar.settings import load_settings

    port = free_port()
    return BackgroundSidecar(load_settings({
        "EDGE_BASE_URL": f"{edge_url}/worker-proxy", "WORKER_SECRET": WORKER_SECRET, "PORT": str(port),
        "DISCOVERY_POLL_MS": "500", "INSTANCE_LOCK_TTL_MS": str(lock_ttl_ms),
        "AUTH_BASE": str(scratch / "auth"), "MEDIA_BASE": str(scratch / "media"), "ZAPGATE_TRANSPORT": "sim",
        "ZAPGATE_SIM_URL": sim_url, "INSTANCE_OWNER": f"bench-sidecar-{mode}", "WAKE_MODE": mode,
    })).start(), port


def holds(store: Any, instance_id: str, port: int, owner: str) -> bool:
    """The sidecar on `port` runs the instance connected, and `owner` holds its live lock."""
    from zapgate_core.domain.locks import live_lock_owner

    runtimes = health(port).get("instances") or []
    record = store.get(instance_id)
    return (any(r["connected"] for r in runtimes) and record is not None and record.status == "CONNECTED"
            and live_lock_owner(record.lock, int(time.time() * 1000)) == owner)


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
    started = time.monotonic()
    try:
        env = configure(server)
        from fastapi.testclient import TestClient

        from tests.integration.background import BackgroundApp
        from zapgate_control import aws, settings, wiring
        from zapgate_control.adapters.dynamodb.api_keys import put_api_key
        from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
        from zapgate_control.aws import client
        from zapgate_control.services import commands
        from zapgate_control.services.sidecar_wakeups import SidecarWaker
        from zapgate_devstack.live_gateway import with_websocket_apis
        from zapgate_sim.server import BackgroundSim

        late = LateApp()
        edge = BackgroundApp(late)
        # The push channel on this gateway: advertised to sidecars in worker-settings, posted to by the apps.
        os.environ["SIDECAR_PUSH_URL"] = f"ws://127.0.0.1:{edge.port}/{PUSH_STAGE}"
        os.environ["SIDECAR_PUSH_ENDPOINT_URL"] = f"{edge.url}/{PUSH_STAGE}"
        settings.get_settings.cache_clear()
        wiring.get_stores.cache_clear()
        aws.client.cache_clear()
        from zapgate_public_api.app import app as public_app
        from zapgate_worker_proxy.app import app as worker_app

        late.app = with_websocket_apis(worker_app)
        put_api_key(env["API_KEYS_TABLE"], API_KEY, TENANT, "bench")
        store = DynamoInstanceStore(env["INSTANCES_TABLE"])
        instance_id = store.create(TENANT, "bench", 0, True).id
        calls = DoorbellCalls(env["MESSAGES_TABLE"], env["INSTANCES_TABLE"], env["FLEET_TABLE"])
        client("dynamodb").meta.events.register("before-parameter-build.dynamodb", calls)
        acks = Acks()
        rows: dict[str, Result] = {}
        notes: list[str] = []
        with edge, BackgroundSim() as sim, acks.installed():

            def sidecar_for(mode: str) -> tuple[Any, int]:
                return start_sidecar(edge.url, sim.url, tmp, mode)

            sidecar, port = sidecar_for("push")
            try:
                wait_for(lambda: getattr(store.get(instance_id), "qr_code", None), 30, "the QR")
                httpx.post(f"{sim.url}/sim/instances/{instance_id}/scan", json={"phone": "5511999990000"})
                httpx.post(f"{sim.url}/sim/instances/{instance_id}/groups", json={"jid": GROUP, "name": "Vendas"})
                wait_for(lambda: holds(store, instance_id, port, "bench-sidecar-push"), 30,
                         "CONNECTED on the push sidecar")
                wait_for(lambda: (health(port).get("push") or {}).get("state") == "up", 30, "the push channel up")
                qr_before = httpx.get(f"{sim.url}/sim/stats").json()["qr_shown"]
                public = TestClient(public_app, headers={"X-API-Key": API_KEY})
                rng = random.Random(args.seed)
                print(f"{args.commands} fetch_groups commands per design, gaps {GAP_S[0]:.0f}-{GAP_S[1]:.0f} s, "
                      f"lock TTL {LOCK_TTL_MS // 1000} s (renewal every {LOCK_TTL_MS // 2000} s)...", flush=True)
                frames = health(port)["push"]["frames"]
                rows["push"] = phase(public, instance_id, acks, calls, args.commands, rng)
                seen = health(port)
                notes.append(f"push: {seen['push']['frames'] - frames} push frames received for {args.commands} "
                             f"commands; channel {seen['push']['state']}, fallback polls {seen['fallback_polls']}")
                print(f"push done ({time.monotonic() - started:.0f}s)", flush=True)
                sidecar.stop()
                sidecar, port = sidecar_for("longpoll")
                wait_for(lambda: holds(store, instance_id, port, "bench-sidecar-longpoll"), 60,
                         "the longpoll sidecar to take the instance over")
                if health(port).get("push") is not None:
                    raise RuntimeError("the longpoll sidecar opened a push channel")
                rows["longpoll"] = phase(public, instance_id, acks, calls, args.commands, rng)
                print(f"longpoll done ({time.monotonic() - started:.0f}s)", flush=True)
                with patched(commands, "ring", lambda *_, **__: None), \
                        patched(SidecarWaker, "wake", lambda *_, **__: False):
                    rows["renewal"] = phase(public, instance_id, acks, calls, args.commands, rng)
                qr_after = httpx.get(f"{sim.url}/sim/stats").json()["qr_shown"]
                notes.append(f"QRs shown on the sim after the first scan: {qr_after - qr_before} "
                             "(the longpoll sidecar restored the auth)")
            finally:
                sidecar.stop()
                # The stopped sidecar's last long-poll is cut at shutdown; uvicorn would print its cancellation.
                logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        report(rows, args.commands, notes, time.monotonic() - started)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def report(rows: dict[str, Result], count: int, notes: list[str], elapsed: float) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\ncommand accepted (202) -> ack at the worker-proxy, ms ({count} commands each); nproc {os.cpu_count()}, "
          f"Python {platform.python_version()}, load average now {load}; run {elapsed:.0f}s")
    header = f"{'design':<10} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'mean':>8}"
    print(f"{header}   wake-up DynamoDB calls per command")
    for design, (latencies, counts, _api) in rows.items():
        per = ", ".join(f"{op} {counts[op] / count:.2f}" for op in DoorbellCalls.KINDS)
        print(f"{design:<10} {percentile(latencies, 50):>8.0f} {percentile(latencies, 90):>8.0f} "
              f"{percentile(latencies, 99):>8.0f} {max(latencies):>8.0f} {statistics.fmean(latencies):>8.0f}   {per}")
    push = rows["push"].latencies
    print()
    for design in ("longpoll", "renewal"):
        other = rows[design].latencies
        ratios = [f"{name} {percentile(other, q) / percentile(push, q):.1f}x" for name, q in (("p50", 50), ("p99", 99))]
        print(f"{design} / push: {', '.join(ratios)}, mean {statistics.fmean(other) / statistics.fmean(push):.1f}x")
    print("\nthe request itself, start -> 202 (ms; in-process TestClient; not in the figures above):")
    for design, result in rows.items():
        print(f"  {design:<10} p50 {percentile(result.api, 50):5.1f}  p90 {percentile(result.api, 90):5.1f}  "
              f"max {max(result.api):5.1f}")
    p50 = percentile(push, 50)
    print(f"\ntarget: push p50 {p50:.0f} ms <= {TARGET_P50_MS:.0f} ms: {'met' if p50 <= TARGET_P50_MS else 'not met'}")
    print("notes:")
    for note in notes:
        print(f"  {note}")


if __name__ == "__main__":
    sys.exit(main())
