"""Worker-proxy requests per idle connected instance per hour, counted on the server's side of the
wire, for the heartbeat design against the seed design.

The local stack runs as processes (`make run` with SIDECARS=1, via tests/e2e/stack.py). Its sidecar
is stopped at once and a sidecar with the very same environment is started pointed at a counting
reverse proxy (bench/sidecar_latency.py's `_proxy`) in front of the gateway: every worker-proxy
request the sidecar makes is counted there by method and path, before the gateway sees it.

Time is compressed by --k (10): INSTANCE_LOCK_TTL_MS 30000/k with INSTANCE_LOCK_RENEW_MS 15000/k
(set explicitly: the sidecar's TTL/2 default has a 2 s floor), DISCOVERY_POLL_MS 10000/k and, for
the seed design, QUEUE_POLL_MS 2000/k. Each window lasts --window seconds (30) after the instances
settle and stands for k x --window seconds of real time; counts are scaled to one real hour:
x 3600 / (k x window).

Phases (one stack, the same instances throughout):
  heartbeat N=1, heartbeat N=10   the sidecar as it is (one heartbeat per renew interval for all locks)
  seed N=10, seed N=1             a new sidecar, same environment, behind the proxy answering 404
                                  to /worker-proxy/heartbeat: it renews each lock every 15 s and
                                  polls queued-messages every 2 s per instance (the seed design)

Not compressible, added by calculation: the heartbeat design's safety-net queued-messages poll every
300 s per instance (runtime.SAFETY_NET_POLL_S, a constant), i.e. +12/h per instance; the window is
shorter than one period, so the run never sees it. The seed design's figure by calculation:
3600/2 polls + 3600/15 renewals = 2,040/h per instance, plus discovery (2 requests per 10 s =
720/h per sidecar, both designs). Target (issue): <= 200 requests/h per idle instance.

Usage: .venv/bin/python bench/sidecar_requests.py [--k 10] [--window 30] [--instances 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import sidecar_latency as harness

REAL_TTL_MS = 30_000
REAL_RENEW_MS = 15_000
REAL_DISCOVERY_MS = 10_000
REAL_QUEUE_POLL_MS = 2_000
SAFETY_NET_POLL_S = 300.0
TARGET_PER_INSTANCE_HOUR = 200
KINDS = ("heartbeat", "locks", "discovery", "queued", "status", "other")
SEED_PER_INSTANCE_HOUR = 3600 * 1000 / REAL_QUEUE_POLL_MS + 3600 * 1000 / REAL_RENEW_MS  # 1,800 + 240
DISCOVERY_PER_SIDECAR_HOUR = 2 * 3600 * 1000 / REAL_DISCOVERY_MS  # worker-settings + eligible-instances
SAFETY_NET_PER_INSTANCE_HOUR = 3600 / SAFETY_NET_POLL_S


def kind_of(key: str) -> str:
    """'METHOD /path' (the proxy's key, without /worker-proxy) -> one of KINDS."""
    path = key.split(" ", 1)[1]
    if path == "/heartbeat":
        return "heartbeat"
    if path.startswith("/instance-lock/"):
        return "locks"
    if path in ("/worker-settings", "/eligible-instances"):
        return "discovery"
    if path == "/queued-messages":
        return "queued"
    if path == "/update-status":
        return "status"
    return "other"


@dataclass
class Window:
    design: str
    instances: int
    seconds: float
    counts: Counter[str]

    def by_kind(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for key, count in self.counts.items():
            out[kind_of(key)] += count
        return out

    def per_hour(self, count: float, k: float) -> float:
        """The window stands for k x its length of real time."""
        return count * 3600 / (self.seconds * k)


def compressed_env(k: float) -> dict[str, str]:
    return {
        "INSTANCE_LOCK_TTL_MS": str(round(REAL_TTL_MS / k)),
        "INSTANCE_LOCK_RENEW_MS": str(round(REAL_RENEW_MS / k)),
        "DISCOVERY_POLL_MS": str(round(REAL_DISCOVERY_MS / k)),
        "QUEUE_POLL_MS": str(round(REAL_QUEUE_POLL_MS / k)),
        "STOP_COOLDOWN_MS": "500",
    }


def running(sidecar: Any, count: int) -> bool:
    instances = sidecar.health()["instances"]
    return len(instances) == count and all(i["connected"] for i in instances)


def window(proxy: Any, design: str, instances: int, settle_s: float, seconds: float) -> Window:
    time.sleep(settle_s)
    proxy.reset()
    started = time.monotonic()
    time.sleep(seconds)
    counts = proxy.counts()
    elapsed = time.monotonic() - started
    print(f"  {design} N={instances}: {sum(counts.values())} requests in {elapsed:.1f}s", flush=True)
    return Window(design, instances, elapsed, counts)


def measure(args: argparse.Namespace) -> list[Window]:
    windows: list[Window] = []
    with harness.workdir("zapgate-requests-") as tmp:
        stack = harness.local_stack(tmp / "stack", sidecars=1, **compressed_env(args.k))
        sidecar: Any = None
        proxy: Any = None
        try:
            env = harness.take_over_stack_sidecar(stack)
            proxy = harness.Proxy(stack.url, tmp / "proxy.log", heartbeat=True)
            sidecar = harness.Sidecar.like(env, tmp, "sidecar-heartbeat", proxy.edge)
            api = stack.api()
            ids = harness.create_instances(api, 1, "idle")
            harness.connect_all(stack, ids, 11_910_000_000)
            harness.wait_for(lambda: running(sidecar, 1), 30, "1 instance running")
            windows.append(window(proxy, "heartbeat", 1, args.settle, args.window))

            more = harness.create_instances(api, args.instances - 1, "idle")
            harness.connect_all(stack, more, 11_910_000_001)
            ids += more
            harness.wait_for(lambda: running(sidecar, len(ids)), 60, f"{len(ids)} instances running")
            windows.append(window(proxy, "heartbeat", len(ids), args.settle, args.window))

            sidecar.stop()  # releases every lock
            proxy.configure(heartbeat=False)
            sidecar = harness.Sidecar.like(env, tmp, "sidecar-seed", proxy.edge)
            harness.wait_for(lambda: running(sidecar, len(ids)), 90, f"seed sidecar running {len(ids)} instances")
            if sidecar.health()["heartbeat"] is not False:
                raise RuntimeError("the seed sidecar did not fall back from the heartbeat")
            windows.append(window(proxy, "seed", len(ids), args.settle, args.window))

            for instance_id in ids[1:]:
                api.delete(f"/instances/{instance_id}").raise_for_status()
            harness.wait_for(lambda: running(sidecar, 1), 60, "seed sidecar down to 1 instance")
            windows.append(window(proxy, "seed", 1, args.settle, args.window))
        finally:
            if sidecar is not None:
                sidecar.stop()
            if proxy is not None:
                proxy.stop()
            stack.stop()
    return windows


def report(windows: list[Window], args: argparse.Namespace, elapsed: float) -> None:
    k = args.k
    env = compressed_env(k)
    print(f"\nWorker-proxy requests of one sidecar with N idle connected instances, counted at a proxy in front "
          f"of the gateway;\ntime compressed x{k:g} (TTL {env['INSTANCE_LOCK_TTL_MS']} ms, renew "
          f"{env['INSTANCE_LOCK_RENEW_MS']} ms, discovery {env['DISCOVERY_POLL_MS']} ms, seed poll "
          f"{env['QUEUE_POLL_MS']} ms); {harness.machine_facts()}; run {elapsed:.0f}s\n")
    raw = [(w.design, str(w.instances), f"{w.seconds:.1f}", *(str(w.by_kind()[c]) for c in KINDS),
            str(sum(w.counts.values()))) for w in windows]
    print("Counted in each window (compressed time):")
    print(harness.table(("design", "N", "window s", *KINDS, "total"), raw, "<>>" + ">" * (len(KINDS) + 1)))

    rows = []
    verdicts = []
    for w in windows:
        kinds = w.by_kind()
        total = sum(kinds.values())
        sidecar_h = w.per_hour(total, k)
        discovery_h = w.per_hour(kinds["discovery"], k)
        safety = SAFETY_NET_PER_INSTANCE_HOUR if w.design == "heartbeat" else 0.0
        per_instance = (sidecar_h - discovery_h) / w.instances + safety
        with_discovery = sidecar_h / w.instances + safety
        rows.append((w.design, str(w.instances), *(f"{w.per_hour(kinds[c], k):,.0f}" for c in KINDS),
                     f"{sidecar_h + safety * w.instances:,.0f}", f"{per_instance:,.0f}", f"{with_discovery:,.0f}"))
        if w.design == "heartbeat":
            verdicts.append((w.instances, per_instance, with_discovery))
    rows.append(("seed (calc.)", "1", "-", f"{3600 * 1000 / REAL_RENEW_MS:,.0f}",
                 f"{DISCOVERY_PER_SIDECAR_HOUR:,.0f}", f"{3600 * 1000 / REAL_QUEUE_POLL_MS:,.0f}", "0", "0",
                 f"{SEED_PER_INSTANCE_HOUR + DISCOVERY_PER_SIDECAR_HOUR:,.0f}", f"{SEED_PER_INSTANCE_HOUR:,.0f}",
                 f"{SEED_PER_INSTANCE_HOUR + DISCOVERY_PER_SIDECAR_HOUR:,.0f}"))
    print("\nPer hour of real time (heartbeat rows include the 300 s safety-net poll, +12/h per instance):")
    print(harness.table(("design", "N", *(f"{c}/h" for c in KINDS), "sidecar/h", "inst/h excl. disc.",
                         "inst/h incl. disc."), rows, "<>" + ">" * (len(KINDS) + 3)))

    seed_measured = {w.instances: w for w in windows if w.design == "seed"}
    print("\nratios (seed / heartbeat, per instance excl. discovery):")
    for n, per_instance, _ in verdicts:
        seed = seed_measured.get(n)
        if seed is not None:
            kinds = seed.by_kind()
            seed_per = (seed.per_hour(sum(kinds.values()), k) - seed.per_hour(kinds["discovery"], k)) / n
            print(f"  N={n}: seed measured {seed_per:,.0f}/h vs heartbeat {per_instance:,.0f}/h -> "
                  f"{seed_per / per_instance:.1f}x fewer with the heartbeat; vs seed calc. "
                  f"{SEED_PER_INSTANCE_HOUR:,.0f}/h -> {SEED_PER_INSTANCE_HOUR / per_instance:.1f}x")
    print(f"\ntarget <= {TARGET_PER_INSTANCE_HOUR}/h per idle instance (heartbeat design):")
    for n, per_instance, with_discovery in verdicts:
        print(f"  N={n}: {per_instance:,.0f}/h excl. discovery: {_verdict(per_instance)}; "
              f"{with_discovery:,.0f}/h with the sidecar's discovery shared over its {n}: {_verdict(with_discovery)}")
    print("  discovery (worker-settings + eligible-instances) is per sidecar, not per instance: "
          f"{DISCOVERY_PER_SIDECAR_HOUR:,.0f}/h at DISCOVERY_POLL_MS={REAL_DISCOVERY_MS}")


def _verdict(value: float) -> str:
    return "met" if value <= TARGET_PER_INSTANCE_HOUR else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=float, default=10, help="time compression factor, <= 15 (default 10)")
    parser.add_argument("--window", type=float, default=30, help="seconds counted per phase (default 30)")
    parser.add_argument("--settle", type=float, default=3, help="seconds between a change and its window (3)")
    parser.add_argument("--instances", type=int, default=10, help="the larger N (default 10)")
    args = parser.parse_args()
    if not 1 <= args.k <= REAL_TTL_MS / 2000:
        parser.error("--k must keep INSTANCE_LOCK_TTL_MS >= 2000 (the sidecar's minimum): 1 <= k <= 15")
    started = time.monotonic()
    windows = measure(args)
    report(windows, args, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
