"""Sidecar RSS per managed instance, sim transport: one sidecar process from 0 to --steps' last
count (100) connected instances.

The local stack runs as processes (`make run` with SIDECARS=1, via tests/e2e/stack.py), with
MAX_ACTIVE_INSTANCES=0 (fair share: the only sidecar takes all). Its sidecar is stopped at once and
one with the very same environment is started behind bench/sidecar_latency.py's reverse proxy, so
that this one process is measured from 0 instances up. At each step, instances are created via
/v1 until there are that many, each QR is scanned on the sim's control API, and once every one is
CONNECTED (and the sidecar reports it connected) and a few seconds have passed, VmRSS and Threads
of the sidecar pid (from its /health/instances) are read 5 times, 0.4 s apart (median).

The sidecar asks GET /worker-proxy/eligible-instances with limit=50 and never pages, so as it is
it runs at most 50 instances, whatever the fleet holds. To measure 100, the proxy rewrites that
limit to --eligible-limit (500; 0 = leave the sidecar's request alone, then steps above 50 are
skipped). At the end the rewrite is switched off and the count the sidecar settles at is reported.

The neonize per-client figure is quoted from docs/benchmarks-sidecar.md (bench/neonize_client_memory.py),
not rerun.

Usage: .venv/bin/python bench/sidecar_memory.py [--steps 0 10 50 100] [--eligible-limit 500]
                                              [--auth dynamodb|local] [--churn]
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
from typing import Any

import sidecar_latency as harness

from zapgate_sidecar.adapters.worker_proxy import WorkerProxyClient

# What the sidecar asks eligible-instances for (WorkerProxyClient.eligible_instances' default).
SIDECAR_ELIGIBLE_LIMIT = inspect.signature(WorkerProxyClient.eligible_instances).parameters["limit"].default
# docs/benchmarks-sidecar.md, "neonize client memory" (medians of 5 runs, unpaired clients).
NEONIZE_BASELINE_MB = 64.8
NEONIZE_MARGINAL_MB = (0.47, 0.69)


def connected_runtimes(sidecar: Any) -> int:
    return sum(1 for i in sidecar.health()["instances"] if i["connected"])


def sample(pid: int, settle_s: float) -> tuple[float, int]:
    time.sleep(settle_s)
    rss, threads = [], []
    for _ in range(5):
        rss.append(harness.status_kb(pid, "VmRSS") / 1024)
        threads.append(harness.status_kb(pid, "Threads"))
        time.sleep(0.4)
    return statistics.median(rss), int(statistics.median(threads))


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares MB per instance."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)


def measure(args: argparse.Namespace) -> tuple[list[tuple[int, int, float, int]], list[str]]:
    steps = sorted(set(args.steps))
    notes: list[str] = []
    if not args.eligible_limit and steps[-1] > SIDECAR_ELIGIBLE_LIMIT:
        notes.append(f"steps above {SIDECAR_ELIGIBLE_LIMIT} skipped: the sidecar runs at most "
                     f"{SIDECAR_ELIGIBLE_LIMIT} without --eligible-limit")
        steps = [s for s in steps if s <= SIDECAR_ELIGIBLE_LIMIT]
    points: list[tuple[int, int, float, int]] = []  # (instances, runtimes, RSS MB, threads)
    with harness.workdir("zapgate-memory-") as tmp:
        stack = harness.local_stack(tmp / "stack", sidecars=1, MAX_ACTIVE_INSTANCES="0",
                                    DISCOVERY_POLL_MS="500", STOP_COOLDOWN_MS="500")
        sidecar: Any = None
        proxy: Any = None
        try:
            env = harness.take_over_stack_sidecar(stack)
            proxy = harness.Proxy(stack.url, tmp / "proxy.log", eligible_limit=args.eligible_limit)
            overrides = {"AUTH_STATE_TABLE": ""} if args.auth == "local" else {}
            sidecar = harness.Sidecar.like(env, tmp, "sidecar-memory", proxy.edge, **overrides)
            started = time.monotonic()
            api = stack.api()
            ids: list[str] = []
            for step in steps:
                new = harness.create_instances(api, step - len(ids), f"mem{step}")
                harness.connect_all(stack, new, 11_920_000_000 + len(ids), timeout=180)
                ids += new
                harness.wait_for(lambda n=len(ids): connected_runtimes(sidecar) == n, 60,
                                 f"the sidecar running {len(ids)} connected instances")
                rss, threads = sample(sidecar.pid, args.settle)
                points.append((len(ids), connected_runtimes(sidecar), rss, threads))
                print(f"  {len(ids):4d} instances: RSS {rss:.1f} MB, {threads} threads "
                      f"({time.monotonic() - started:.0f}s)", flush=True)
            if args.eligible_limit and len(ids) > SIDECAR_ELIGIBLE_LIMIT:
                proxy.configure(eligible_limit=0)
                harness.wait_for(lambda: len(sidecar.health()["instances"]) <= SIDECAR_ELIGIBLE_LIMIT, 60,
                                 "the sidecar to shed instances beyond the eligible limit")
                time.sleep(3)
                kept = len(sidecar.health()["instances"])
                rss, _ = sample(sidecar.pid, 1)
                notes.append(f"with its own eligible-instances limit ({SIDECAR_ELIGIBLE_LIMIT}) the same sidecar, "
                             f"{len(ids)} instances "
                             f"CONNECTED in the fleet, settles at {kept} runtimes (RSS then {rss:.1f} MB): "
                             f"{len(ids) - kept} connected instances are stopped and never picked up again")
                if args.churn:
                    proxy.configure(eligible_limit=args.eligible_limit)
                    harness.wait_for(lambda n=len(ids): connected_runtimes(sidecar) == n, 90,
                                     "the sidecar to take the shed instances back")
                    rss, _ = sample(sidecar.pid, args.settle)
                    notes.append(f"churn: limit lifted again, the sidecar runs {len(ids)} again: RSS {rss:.1f} MB "
                                 f"({rss - points[-1][2]:+.1f} MB vs the first time at {len(ids)})")
        finally:
            if sidecar is not None:
                sidecar.stop(60)
            if proxy is not None:
                proxy.stop()
            stack.stop(90)
    return points, notes


def report(points: list[tuple[int, int, float, int]], notes: list[str], elapsed: float, auth: str) -> None:
    base = points[0][2]
    rows = []
    previous: tuple[int, int, float, int] | None = None
    for n, runtimes, rss, threads in points:
        per = f"{(rss - base) / n:.3f}" if n else "-"
        marginal = f"{(rss - previous[2]) / (n - previous[0]):.3f}" if previous and n > previous[0] else "-"
        rows.append((str(n), str(runtimes), f"{rss:.1f}", f"{rss - base:+.1f}", per, marginal, str(threads)))
        previous = (n, runtimes, rss, threads)
    print(f"\nSidecar RSS with N connected instances, sim transport, auth state {auth}; {harness.machine_facts()}; "
          f"run {elapsed:.0f}s\n")
    print(harness.table(("N", "runtimes", "RSS MB", "+MB vs 0", "MB/inst", "marginal", "threads"), rows, ">>>>>>>"))
    if len(points) >= 2:
        fitted = slope([(n, rss) for n, _r, rss, _t in points])
        print(f"\nslope (least squares over all steps): {fitted:.3f} MB per instance "
              f"({fitted * 1024:.0f} KB); 100 instances ~ {base + 100 * fitted:.0f} MB")
        low, high = NEONIZE_MARGINAL_MB
        print(f"neonize, for comparison (docs/benchmarks-sidecar.md, not rerun): {NEONIZE_BASELINE_MB} MB with "
              f"neonize imported, +{low}-{high} MB per further unpaired whatsmeow client (a lower bound per "
              "connected one); with neonize a runtime costs both its share above and its client")
    for note in notes:
        print(f"note: {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[0, 10, 50, 100],
                        help="instance counts to measure at (default 0 10 50 100)")
    parser.add_argument("--eligible-limit", type=int, default=500,
                        help="rewrite the sidecar's eligible-instances limit (default 500; 0 = as it is)")
    parser.add_argument("--auth", choices=("dynamodb", "local"), default="dynamodb",
                        help="auth state as make run has it (dynamodb, default) or local disk only (AUTH_STATE_TABLE "
                             "unset: no DynamoDB auth store per instance)")
    parser.add_argument("--churn", action="store_true",
                        help="after shedding to 50, lift the limit again and read RSS once more (reuse or leak?)")
    parser.add_argument("--settle", type=float, default=3, help="seconds to wait before reading RSS (default 3)")
    args = parser.parse_args()
    started = time.monotonic()
    points, notes = measure(args)
    report(points, notes, time.monotonic() - started, args.auth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
