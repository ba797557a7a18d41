"""One sidecar with 100, 500 and 1,000 simulated instances: memory, idle CPU, the size and server time of
its discovery and heartbeat calls, and how long a second sidecar takes to take over a killed one's
instances without a new QR. Per-instance figures are compared with the first count's, in the same run.

The local stack runs as processes (`make run` with SIDECARS=1, via tests/e2e/stack.py) with
MAX_ACTIVE_INSTANCES=0 (fair share: a sidecar alone takes all) and the public API's rate limit off
(RateLimitPerMinute=0: 1,000 instances are created through /v1). The stack's sidecar is stopped at once
(SIGTERM) and a sidecar with its environment, but its own INSTANCE_OWNER and AUTH_BASE/MEDIA_BASE, runs
straight against the gateway: that process is measured. At each count (--counts, ascending):

  link      instances are created through POST /v1/instances up to the count; each QR is scanned on the
            sim (POST /sim/instances/{id}/scan, retried until the session shows one); done when the
            sidecar's /health/instances shows them all connected and GET /v1/instances all CONNECTED.
  memory    VmRSS of the sidecar pid, median of 5 reads 0.4 s apart, after --settle s (+ --settle-per-instance
            x N: each runtime snapshots its auth state once or twice after connecting); per instance against
            the same process's RSS at 0 instances.
  idle CPU  once the sidecar is quiet (no failed heartbeat for a renew interval, two 5 s CPU readings within
            25%: a link burst's status reports, snapshots and retried heartbeats trail on for minutes at 500+),
            utime+stime of the sidecar (and of the gateway+moto process and the sim) from /proc/<pid>/stat
            over --idle s with nothing sent or received: ms of CPU per second, per instance; `children` is
            the CPU of the sidecar's child processes that ended in the window (auth-state snapshots).
  discovery the sidecar's own client (WorkerProxyClient.eligible_instances, every page) called from this
            process with the sidecar's owner, --samples times: query bytes sent, body bytes answered, round
            trip on loopback (~ the gateway's time: moto, FastAPI, JSON).
  heartbeat the sidecar's heartbeat for all its locks (owner and tokens read from the instances table on
            moto), wait_ms 0: `renew` (the N conditional writes of a renewal) and `watch` (renew=false,
            the early wake-up's call), --samples times each. Renewing with the holder's own tokens only
            extends its locks.
  takeover  a second sidecar (same environment, its own owner and empty AUTH_BASE) starts; after two
            discovery periods the measured one is killed with SIGKILL. Time from the kill until the second
            one's health shows all N connected, split at its first acquired instance (the wait for the
            dead one's locks to expire: up to INSTANCE_LOCK_TTL_MS) -- and checked: QRs the sim showed
            (must not grow), its log's `auth_restored` per instance (the credentials came from DynamoDB:
            its AUTH_BASE started empty). The survivor is the measured sidecar of the next count.

Nothing is asserted. --counts 20 50 --idle 10 runs in a few minutes.

Usage: .venv/bin/python bench/sidecar_scale.py [--counts 100 500 1000] [--idle 60] [--samples 5]
                                              [--settle 5] [--no-takeover] [--discovery-ms 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sidecar_latency as harness

from zapgate_core.contract.worker_proxy import HeartbeatRequest, HeldLock
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyClient

CLOCK_TICK_S = 1 / os.sysconf("SC_CLK_TCK")
TTL_MS = 30_000  # the sidecar's default INSTANCE_LOCK_TTL_MS, kept
RENEW_S = TTL_MS / 2000


# ====================================================================== processes
def cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of a process (all its threads) from /proc/<pid>/stat; with `children`, plus those of its
    children that ended (the auth-state snapshots run in a child interpreter each)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks * CLOCK_TICK_S


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def sim_pid(stack: Any) -> int | None:
    for child in children(stack.process.pid):
        try:
            if b"zapgate_sim" in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
        except OSError:
            continue
    return None


def rss_mb(pid: int) -> float:
    samples = []
    for _ in range(5):
        samples.append(harness.status_kb(pid, "VmRSS") / 1024)
        time.sleep(0.4)
    return statistics.median(samples)


def log_records(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def log_count(path: Path, message: str) -> int:
    return sum(1 for r in log_records(path) if r.get("message") == message)


# ====================================================================== stack actions
class Bench:
    """The stack, the environment its sidecar had, the instances and the sidecar being measured."""

    def __init__(self, stack: Any, env: dict[str, str], tmp: Path, owner_prefix: str = "scale") -> None:
        self.stack = stack
        self.env = env
        self.tmp = tmp
        self.edge = f"{stack.url}/worker-proxy"
        self.prefix = owner_prefix
        self.started = 0
        self.sidecar: Any = None
        self.ids: list[str] = []
        self.base_rss: dict[int, float] = {}  # pid -> RSS MB with no instance

    def start_sidecar(self) -> Any:
        self.started += 1
        owner = f"{self.prefix}-{self.started}"
        home = self.tmp / owner
        sidecar = harness.Sidecar.like(self.env, self.tmp, owner, self.edge, AUTH_BASE=str(home / "auth"),
                                       MEDIA_BASE=str(home / "media"))
        sidecar.owner = owner
        time.sleep(2)
        self.base_rss[sidecar.pid] = rss_mb(sidecar.pid)
        return sidecar


def connected_on(sidecar: Any) -> int:
    return sum(1 for i in sidecar.health()["instances"] if i["connected"])


def link(stack: Any, ids: list[str], phone_base: int, timeout: float) -> None:
    """Scan each instance's QR as soon as the sim shows one (409 until then)."""
    sim = stack.sim_client()
    pending = {i: f"55{phone_base + n:011d}" for n, i in enumerate(ids)}
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} instances never showed a QR on the sim")
        for instance_id, phone in list(pending.items()):
            answer = sim.post(f"/instances/{instance_id}/scan", json={"phone": phone, "push_name": "Scale"})
            if answer.status_code == 200:
                del pending[instance_id]
        if pending:
            time.sleep(0.5)


def wait_linked(stack: Any, sidecar: Any, ids: list[str], timeout: float) -> None:
    harness.wait_for(lambda: connected_on(sidecar) == len(ids), timeout,
                     f"the sidecar running {len(ids)} connected instances", interval=0.5)
    harness.wait_for(lambda: harness.connected_count(stack.api(), ids) == len(ids), 120,
                     f"{len(ids)} instances CONNECTED in the API", interval=1)


def held_locks(env: dict[str, str], owner: str) -> list[HeldLock]:
    """The owner's locks as the instances table holds them (moto), to replay the sidecar's heartbeat."""
    import boto3

    dynamodb = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env.get(
        "AWS_DEFAULT_REGION", "us-east-1"), aws_access_key_id=env.get("AWS_ACCESS_KEY_ID", "x"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", "x"))
    locks: list[HeldLock] = []
    for page in dynamodb.get_paginator("scan").paginate(
            TableName=env["INSTANCES_TABLE"], ProjectionExpression="id, lock_owner, lock_token"):
        for item in page["Items"]:
            if item.get("lock_owner", {}).get("S") == owner:
                locks.append(HeldLock(instance_id=item["id"]["S"], lock_token=item.get("lock_token", {}).get("S")))
    return locks


# ====================================================================== wire measurements
@dataclass
class Call:
    sent: int  # query string (GET) or JSON body (POST) bytes
    received: int  # body bytes answered
    ms: float


class Measuring(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls: list[Call] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        started = time.perf_counter()
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.calls.append(Call(len(request.url.query) + len(body), len(content), elapsed_ms))
        return httpx.Response(response.status_code, headers=response.headers, content=content)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Wire:
    pages: int = 0
    sent: int = 0
    received: int = 0
    ms: list[float] = field(default_factory=list)  # one per sample (all pages of a sample together)
    instances: int = 0

    @property
    def median_ms(self) -> float:
        return statistics.median(self.ms) if self.ms else float("nan")


def measure_wire(fleet: Bench, samples: int) -> tuple[Wire, Wire, Wire]:
    env, owner = fleet.env, fleet.sidecar.owner
    ttl = int(env.get("INSTANCE_LOCK_TTL_MS") or TTL_MS)
    locks = held_locks(env, owner)

    async def run() -> tuple[Wire, Wire, Wire]:
        transport = Measuring()
        client = WorkerProxyClient(fleet.edge, env["WORKER_SECRET"], timeout_s=120, transport=transport)
        discovery, renew, watch = Wire(), Wire(), Wire()
        try:
            for _ in range(samples):
                transport.calls.clear()
                answer = await client.eligible_instances(owner=owner)
                discovery.instances = len(answer.instances)
                discovery.pages = len(transport.calls)
                discovery.sent = sum(c.sent for c in transport.calls)
                discovery.received = sum(c.received for c in transport.calls)
                discovery.ms.append(sum(c.ms for c in transport.calls))
            for wire, renewing in ((renew, True), (watch, False)):
                for _ in range(samples):
                    transport.calls.clear()
                    request = HeartbeatRequest(instance_owner=owner, ttl_ms=ttl, locks=locks, wait_ms=0,
                                               renew=renewing)
                    answer = await client.heartbeat(request)
                    if answer is None:
                        raise RuntimeError("the gateway has no heartbeat")
                    if renewing and not all(s.acquired for s in answer.locks):
                        raise RuntimeError("a replayed renewal was refused: the lock moved")
                    call = transport.calls[-1]
                    wire.pages, wire.sent, wire.received, wire.instances = 1, call.sent, call.received, len(locks)
                    wire.ms.append(call.ms)
        finally:
            await client.close()
        return discovery, renew, watch

    return asyncio.run(run())


# ====================================================================== one count
@dataclass
class Point:
    n: int
    link_s: float
    rss: float
    base_rss: float
    threads: int
    cpu_ms_s: float  # sidecar CPU ms per wall second while idle
    children_ms_s: float  # and of its child processes (auth snapshots) in the same window
    gateway_cpu_ms_s: float
    sim_cpu_ms_s: float
    discovery: Wire
    renew: Wire
    watch: Wire
    takeover_s: float | None = None
    lock_wait_s: float | None = None
    restored: int | None = None
    new_qrs: int | None = None
    rss_after_takeover: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def mb_per_instance(self) -> float:
        return (self.rss - self.base_rss) / self.n


def wait_quiet(pid: int, log_path: Path, renew_s: float, max_s: float) -> float:
    """Until the sidecar is idle: no `heartbeat failed` for a renew interval and 5 s CPU windows that agree
    within 25% (after a link burst, status reports, snapshots and retried heartbeats trail on). Seconds waited."""
    started = time.monotonic()
    previous: float | None = None
    while time.monotonic() - started < max_s:
        before = cpu_seconds(pid, children=True)
        time.sleep(5)
        rate = cpu_seconds(pid, children=True) - before
        failed = [r for r in log_records(log_path) if r.get("message") == "heartbeat failed"]
        last_failure_s = _age_s(failed[-1]["timestamp"]) if failed else float("inf")
        if previous is not None and abs(rate - previous) <= 0.25 * max(previous, 0.05) and last_failure_s > renew_s:
            break
        previous = rate
    return time.monotonic() - started


def _age_s(timestamp: str) -> float:
    """Seconds since a Powertools log timestamp ("2026-12-03 09:12:14,462+0000")."""
    from datetime import datetime

    stamp = datetime.strptime(timestamp, "%Y-%m-%d %H:%M:%S,%f%z")
    return time.time() - stamp.timestamp()


def idle_cpu(pids: list[int | None], seconds: float) -> list[float]:
    """CPU ms per wall second of each pid over `seconds`; the first pid also with its children (last)."""
    first = pids[0]
    assert first is not None
    before = [cpu_seconds(p) if p else 0.0 for p in pids] + [cpu_seconds(first, children=True)]
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    after = [cpu_seconds(p) if p else float("nan") for p in pids] + [cpu_seconds(first, children=True)]
    return [(a - b) * 1000 / elapsed for a, b in zip(after, before, strict=True)]


def takeover(fleet: Bench, n: int, args: argparse.Namespace, point: Point) -> None:
    dead = fleet.sidecar
    survivor = fleet.start_sidecar()
    try:
        _take_over(fleet, n, args, point, dead, survivor)
    except BaseException:
        survivor.stop(30)  # measure()'s clean-up only knows the sidecar being measured
        raise


def _take_over(fleet: Bench, n: int, args: argparse.Namespace, point: Point, dead: Any, survivor: Any) -> None:
    stack = fleet.stack
    time.sleep(2 * args.discovery_ms / 1000)  # it has announced itself and seen every lock held
    if survivor.health()["instances"]:
        point.notes.append(f"takeover: the new sidecar took {len(survivor.health()['instances'])} instances "
                           "before the kill")
    sim = stack.sim_client()
    qrs_before = sim.get("/stats").json()["qr_shown"]
    killed_at = time.monotonic()
    os.kill(dead.pid, signal.SIGKILL)
    dead.process.wait()
    first_at: float | None = None
    deadline = killed_at + TTL_MS / 1000 + args.takeover_timeout
    while True:
        try:
            runtimes = survivor.health()["instances"]
        except (httpx.HTTPError, ValueError):
            runtimes = []
        now = time.monotonic()
        if runtimes and first_at is None:
            first_at = now
        if sum(1 for r in runtimes if r["connected"]) == n:
            break
        if now > deadline:
            raise RuntimeError(f"takeover: {sum(1 for r in runtimes if r['connected'])}/{n} connected after "
                               f"{now - killed_at:.0f}s")
        time.sleep(0.25)
    point.takeover_s = now - killed_at
    point.lock_wait_s = (first_at or now) - killed_at
    harness.wait_for(lambda: harness.connected_count(stack.api(), fleet.ids) == n, 120,
                     f"{n} instances CONNECTED in the API after the takeover", interval=1)
    point.new_qrs = sim.get("/stats").json()["qr_shown"] - qrs_before
    starts = [r for r in log_records(survivor.log_path) if r.get("message") == "instance starting"]
    point.restored = sum(1 for r in starts if r.get("auth_restored") is True)
    if len(starts) != n:
        point.notes.append(f"takeover: {len(starts)} runtime starts logged for {n} instances")
    time.sleep(args.settle)
    point.rss_after_takeover = rss_mb(survivor.pid)
    dead._log.close()
    fleet.sidecar = survivor


def measure(args: argparse.Namespace) -> tuple[list[Point], dict[str, Any]]:
    points: list[Point] = []
    facts: dict[str, Any] = {}
    with harness.workdir("zapgate-scale-") as tmp:
        stack = harness.local_stack(tmp / "stack", sidecars=1, MAX_ACTIVE_INSTANCES="0",
                                    DISCOVERY_POLL_MS=str(args.discovery_ms),
                                    ZAPGATE_PARAMETER_OVERRIDES="RateLimitPerMinute=0")
        fleet: Bench | None = None
        try:
            env = harness.take_over_stack_sidecar(stack)
            fleet = Bench(stack, env, tmp)
            fleet.sidecar = fleet.start_sidecar()
            facts["wake_mode"] = fleet.sidecar.health().get("wake_mode", "longpoll (no WAKE_MODE)")
            api = stack.api()
            gateway, sim = stack.process.pid, sim_pid(stack)
            for count in sorted(set(args.counts)):
                started = time.monotonic()
                new = harness.create_instances(api, count - len(fleet.ids), f"scale{count}")
                link(stack, new, 11_930_000_000 + len(fleet.ids), timeout=120 + count)
                fleet.ids += new
                wait_linked(stack, fleet.sidecar, fleet.ids, timeout=120 + count)
                link_s = time.monotonic() - started
                print(f"  {count} linked in {link_s:.0f}s", flush=True)
                # Each runtime snapshots its auth state once or twice after connecting (a child interpreter
                # each): let that pass before anything is read.
                time.sleep(args.settle + args.settle_per_instance * count)
                pid = fleet.sidecar.pid
                quiet_s = wait_quiet(pid, fleet.sidecar.log_path, RENEW_S, args.quiet_max)
                failures_before = log_count(fleet.sidecar.log_path, "heartbeat failed")
                rss = rss_mb(pid)
                threads = harness.status_kb(pid, "Threads")
                cpu, gateway_cpu, sim_cpu, with_children = idle_cpu([pid, gateway, sim], args.idle)
                failed_idle = log_count(fleet.sidecar.log_path, "heartbeat failed") - failures_before
                discovery, renew, watch = measure_wire(fleet, args.samples)
                point = Point(count, link_s, rss, fleet.base_rss[pid], threads, cpu, with_children - cpu,
                              gateway_cpu, sim_cpu, discovery, renew, watch)
                settle_s = args.settle + args.settle_per_instance * count
                failed_note = f"; {failed_idle} heartbeats failed in the idle window" if failed_idle else ""
                point.notes.append(f"quiet {quiet_s:.0f}s after the {settle_s:.0f}s settle{failed_note}")
                if discovery.instances != count:
                    point.notes.append(f"discovery saw {discovery.instances} of {count} eligible instances")
                if renew.instances != count:
                    point.notes.append(f"the sidecar holds {renew.instances} of {count} locks")
                for message in ("lock lost", "heartbeat failed", "discovery failed"):
                    if seen := log_count(fleet.sidecar.log_path, message):
                        point.notes.append(f"sidecar log so far: {seen} x '{message}'")
                print(f"  {count}: RSS {rss:.0f} MB, idle CPU {cpu:.1f} ms/s, discovery {discovery.median_ms:.0f} ms, "
                      f"renewal {renew.median_ms:.0f} ms ({time.monotonic() - started:.0f}s)", flush=True)
                if not args.no_takeover:
                    takeover(fleet, count, args, point)
                    print(f"  {count}: taken over in {point.takeover_s:.1f}s (locks free after "
                          f"{point.lock_wait_s:.1f}s), {point.restored} restored, {point.new_qrs} new QRs", flush=True)
                points.append(point)
        finally:
            if fleet is not None and fleet.sidecar is not None:
                fleet.sidecar.stop(90)
            stack.stop(120)
    return points, facts


# ====================================================================== report
def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "-"


def report(points: list[Point], facts: dict[str, Any], args: argparse.Namespace, elapsed: float) -> None:
    base = points[0]
    print(f"\nOne sidecar, N connected idle instances on the sim (auth state in DynamoDB/moto); wake mode "
          f"{facts.get('wake_mode')}; DISCOVERY_POLL_MS {args.discovery_ms}, lock TTL {TTL_MS} ms; "
          f"{harness.machine_facts()}; run {elapsed:.0f}s\n")
    rows = []
    for p in points:
        rows.append((str(p.n), f"{p.link_s:.0f}", f"{p.link_s / p.n * 100:.1f}", f"{p.rss:.0f}",
                     f"{p.mb_per_instance:.2f}", ratio(p.mb_per_instance, base.mb_per_instance), str(p.threads),
                     f"{p.cpu_ms_s:.1f}", f"{p.cpu_ms_s / p.n:.3f}", ratio(p.cpu_ms_s / p.n, base.cpu_ms_s / base.n),
                     f"{max(0.0, p.children_ms_s):.1f}", f"{p.gateway_cpu_ms_s:.0f}", f"{p.sim_cpu_ms_s:.0f}"))
    print("memory and idle CPU (CPU in ms per wall second: 10 = 1% of one core; idle window "
          f"{args.idle:.0f} s):")
    print(harness.table(("N", "link s", "s/100", "RSS MB", "MB/inst", "x base", "threads", "CPU ms/s",
                         "per inst", "x base", "children", "gateway+moto", "sim"), rows, ">" * 13))

    rows = []
    for p in points:
        for name, wire in (("discovery", p.discovery), ("heartbeat renew", p.renew), ("heartbeat watch", p.watch)):
            b = {"discovery": base.discovery, "heartbeat renew": base.renew, "heartbeat watch": base.watch}[name]
            rows.append((str(p.n), name, str(wire.pages), f"{wire.sent:,}", f"{wire.received:,}",
                         f"{wire.received / p.n:.0f}", ratio(wire.received / p.n, b.received / base.n),
                         f"{wire.median_ms:.0f}", f"{wire.median_ms / p.n:.2f}",
                         ratio(wire.median_ms / p.n, b.median_ms / base.n)))
    print(f"\ndiscovery and heartbeat, as the sidecar's client sends them (median of {args.samples}; sent = query "
          "string or JSON body, answered = body bytes; ms = round trip on loopback, pages together):")
    print(harness.table(("N", "call", "requests", "sent B", "answered B", "B/inst", "x base", "ms", "ms/inst",
                         "x base"), rows, "><" + ">" * 8))

    if any(p.takeover_s is not None for p in points):
        rows = []
        for p in points:
            if p.takeover_s is None:
                continue
            ramp = p.takeover_s - (p.lock_wait_s or 0)
            base_ramp = (base.takeover_s or 0) - (base.lock_wait_s or 0)
            rows.append((str(p.n), f"{p.takeover_s:.1f}", f"{p.lock_wait_s:.1f}", f"{ramp:.1f}",
                         f"{ramp / p.n * 100:.2f}", ratio(ramp / p.n, base_ramp / base.n), f"{p.restored}/{p.n}",
                         str(p.new_qrs), f"{p.rss_after_takeover:.0f}"))
        print("\ntakeover after kill -9 (s from the kill: until the first instance is acquired = the dead one's "
              "locks expiring, then the ramp to all connected):")
        print(harness.table(("N", "total s", "locks free s", "ramp s", "ramp s/100", "x base", "auth restored",
                             "new QRs", "RSS MB after"), rows, ">" * 9))
    for p in points:
        for note in p.notes:
            print(f"note (N={p.n}): {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 500, 1000],
                        help="instance counts, ascending (default 100 500 1000); the first is the baseline")
    parser.add_argument("--idle", type=float, default=60, help="idle CPU window in s (default 60)")
    parser.add_argument("--samples", type=int, default=5, help="discovery / heartbeat calls per count (default 5)")
    parser.add_argument("--settle", type=float, default=5, help="s to wait before reading RSS (default 5)")
    parser.add_argument("--settle-per-instance", type=float, default=0.03,
                        help="and this many s more per instance (default 0.03: 30 s at 1,000)")
    parser.add_argument("--discovery-ms", type=int, default=2000, help="DISCOVERY_POLL_MS (make run's 2000)")
    parser.add_argument("--quiet-max", type=float, default=300,
                        help="most s to wait for the sidecar to go quiet before the idle window (default 300)")
    parser.add_argument("--takeover-timeout", type=float, default=600,
                        help="s allowed for a takeover beyond the lock TTL (default 600)")
    parser.add_argument("--no-takeover", action="store_true", help="skip the kill -9 takeover at each count")
    args = parser.parse_args()
    started = time.monotonic()
    points, facts = measure(args)
    report(points, facts, args, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
