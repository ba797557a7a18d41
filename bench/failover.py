"""Failover: a sidecar holding N connected instances is killed (SIGKILL, no goodbye); how long until all
of them are CONNECTED on the surviving sidecar, without a new QR, for the push channel against long-poll.

Each round starts its own local stack (tests/e2e/stack.py's LocalStack, `make run` as processes: moto +
gateway, the sim network, one sidecar), so no round inherits another's fleet state (a killed sidecar's
presence outlives it by up to 3 minutes and would count in a later survivor's fair share):

  1. the stack's sidecar (the victim) runs with WAKE_MODE=<design>, INSTANCE_LOCK_TTL_MS=--ttl-ms,
     DISCOVERY_POLL_MS=--discovery-ms and a one-hour STOP_COOLDOWN_MS (so it keeps all N instances
     rather than handing half to the survivor once that one joins); --instances (4) instances are
     created and scanned on the sim, and all become CONNECTED on it;
  2. a second sidecar with the victim's environment (read from /proc/<pid>/environ; own owner name,
     port) and the same WAKE_MODE starts, sees every instance held and takes none;
  3. after two discovery cycles and a random 0 to TTL/2 s more (a random phase of the victim's renewal
     cycle; the set-up takes about the same time every round), the victim gets SIGKILL. Timed from the
     kill: (push) the survivor's first push frame after it, i.e. the `discover` frame with reason
     `sidecar_left` posted from the victim's $disconnect; each instance first seen connected in the
     survivor's /health/instances (polled every 50 ms); all N.

push: the survivor learns of the death from the push channel's $disconnect (sidecar_left), discovers at
once (the locks are still live) and again at TTL + 1 s after the frame, then every DISCOVERY_POLL_MS
while instances are left. longpoll: its regular discovery every DISCOVERY_POLL_MS finds the locks
expired. The victim renewed every TTL/2, so its locks expire between TTL/2 and TTL after the kill. A new
sidecar's slow start takes 1 instance, then doubles per discovery (1, 1, 2, ...): N = 4 needs three
discoveries.

Bound (issue): TTL + one discovery cycle (--ttl-ms + --discovery-ms), printed against the first
instance and against all N. "No new QR": the sim's qr_shown total is the same after the round as
before the kill. Rounds alternate the designs (--rounds per design). Nothing is asserted.

Usage: .venv/bin/python bench/failover.py [--instances 4] [--rounds 2] [--ttl-ms 10000] [--discovery-ms 2000]
                                          [--designs push,longpoll]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sidecar_latency as harness

DESIGNS = ("push", "longpoll")
VICTIM_COOLDOWN_MS = 3_600_000
HEALTH_POLL_S = 0.05


@dataclass
class Round:
    design: str
    number: int
    frame_s: float | None = None  # push: first push frame the survivor got after the kill
    connected_s: dict[str, float] = field(default_factory=dict)  # instance -> seconds after the kill
    new_qrs: int = 0
    api_connected: int = 0
    survivor_held_before: int = 0
    error: str | None = None
    phase_s: float = 0.0  # the random extra wait before the kill

    @property
    def first_s(self) -> float | None:
        return min(self.connected_s.values()) if self.connected_s else None

    @property
    def all_s(self) -> float | None:
        return max(self.connected_s.values()) if self.connected_s else None


def connected_ids(health: dict[str, Any]) -> set[str]:
    return {i["instance_id"] for i in health.get("instances", []) if i["connected"]}


def run_round(design: str, number: int, args: argparse.Namespace, tmp: Path, log: Any, rng: random.Random) -> Round:
    result = Round(design, number)
    stack = harness.local_stack(
        tmp / f"stack-{design}-{number}", sidecars=1, WAKE_MODE=design, INSTANCE_LOCK_TTL_MS=str(args.ttl_ms),
        DISCOVERY_POLL_MS=str(args.discovery_ms), STOP_COOLDOWN_MS=str(VICTIM_COOLDOWN_MS),
    )
    survivor: Any = None
    try:
        api, sim = stack.api(), stack.sim_client()
        ids = harness.create_instances(api, args.instances, f"failover-{design}-{number}")
        harness.connect_all(stack, ids, 11_800_000_000 + number * 1000)
        victim = harness.wait_for(lambda: stack.sidecar_health(0), 30, "the victim's health")
        harness.wait_for(lambda: connected_ids(stack.sidecar_health(0)) >= set(ids), 60,
                         f"{len(ids)} instances connected on the victim")
        victim_pid = int(victim["pid"])
        env = harness.process_environ(victim_pid)
        survivor = harness.Sidecar.like(env, tmp, f"survivor-{design}-{number}", env["EDGE_BASE_URL"])
        if design == "push":
            harness.wait_for(lambda: (survivor.health().get("push") or {}).get("state") == "up", 30,
                             "the survivor's push channel")
        # Two discovery cycles: the survivor has seen every instance held by the victim (and taken none). Then a
        # random part of the victim's renew interval (TTL/2): the set-up takes about the same time every round, so
        # without it the kill would hit the same phase of the renewal cycle each time.
        result.phase_s = rng.uniform(0, args.ttl_ms / 2000)
        time.sleep(2 * args.discovery_ms / 1000 + 1 + result.phase_s)
        result.survivor_held_before = len(survivor.health()["instances"])
        qr_before = sim.get("/stats").json()["qr_shown"]
        frames_before = (survivor.health().get("push") or {}).get("frames", 0)
        log(f"  {design} round {number}: victim pid {victim_pid} holds {len(ids)} connected, survivor holds "
            f"{result.survivor_held_before}; SIGKILL")
        killed = time.monotonic()
        os.kill(victim_pid, signal.SIGKILL)
        deadline = killed + args.ttl_ms / 1000 + 60
        while len(result.connected_s) < len(ids) and time.monotonic() < deadline:
            try:
                health = survivor.health()
            except Exception:  # the survivor is busy: try again
                time.sleep(HEALTH_POLL_S)
                continue
            now = time.monotonic() - killed
            push = health.get("push") or {}
            if result.frame_s is None and push.get("frames", 0) > frames_before:
                result.frame_s = now
            for instance_id in connected_ids(health) & set(ids):
                result.connected_s.setdefault(instance_id, now)
            time.sleep(HEALTH_POLL_S)
        if len(result.connected_s) < len(ids):
            result.error = f"only {len(result.connected_s)}/{len(ids)} connected on the survivor within the deadline"
        harness.wait_for(lambda: harness.connected_count(api, ids) == len(ids), 20, "all CONNECTED in the API")
        result.api_connected = harness.connected_count(api, ids)
        result.new_qrs = sim.get("/stats").json()["qr_shown"] - qr_before
        log(f"  {design} round {number}: first {result.first_s:.1f} s, all {result.all_s:.1f} s after the kill"
            + (f", sidecar_left frame at {result.frame_s:.2f} s" if result.frame_s is not None else "")
            + f", new QRs {result.new_qrs}")
    except Exception as exc:  # reported, and the next round still runs
        result.error = f"{type(exc).__name__}: {exc}"[:300]
        log(f"  {design} round {number} failed: {result.error}")
    finally:
        if survivor is not None:
            survivor.stop()
        stack.stop()
    return result


def report(rounds: list[Round], args: argparse.Namespace, elapsed: float) -> None:
    bound = (args.ttl_ms + args.discovery_ms) / 1000
    print(f"\nFailover after SIGKILL of the sidecar holding {args.instances} connected instances -> all CONNECTED "
          f"on the survivor (s);\nINSTANCE_LOCK_TTL_MS {args.ttl_ms}, DISCOVERY_POLL_MS {args.discovery_ms}: "
          f"bound TTL + one discovery cycle = {bound:.1f} s; {harness.machine_facts()}; run {elapsed:.0f}s\n")
    rows = []
    for r in rounds:
        if r.error and not r.connected_s:
            rows.append((r.design, str(r.number), f"{r.phase_s:.1f}", "-", "-", "-", "-", "-", "-", "-", r.error[:60]))
            continue
        first, last = r.first_s or 0.0, r.all_s or 0.0
        rows.append((
            r.design, str(r.number), f"{r.phase_s:.1f}", f"{r.frame_s:.2f}" if r.frame_s is not None else "-",
            f"{first:.1f}", "met" if first <= bound else "not met",
            f"{last:.1f}", "met" if last <= bound and len(r.connected_s) == args.instances else "not met",
            " ".join(f"{s:.1f}" for s in sorted(r.connected_s.values())), str(r.new_qrs), r.error or "",
        ))
    header = ("design", "round", "phase", "frame", "first", "first<=bound", "all", "all<=bound", "each", "new QRs",
              "note")
    print(harness.table(header, rows, "<>>>>>>><><"))
    print()
    for design in DESIGNS:
        done = [r for r in rounds if r.design == design and r.all_s is not None]
        if not done:
            continue
        firsts, alls = [r.first_s or 0.0 for r in done], [r.all_s or 0.0 for r in done]
        print(f"  {design:<8}  first: mean {statistics.mean(firsts):5.1f} s (min {min(firsts):.1f}, max "
              f"{max(firsts):.1f});  all: mean {statistics.mean(alls):5.1f} s (min {min(alls):.1f}, "
              f"max {max(alls):.1f})")
    push = [r.all_s for r in rounds if r.design == "push" and r.all_s is not None]
    longpoll = [r.all_s for r in rounds if r.design == "longpoll" and r.all_s is not None]
    if push and longpoll:
        print(f"  push / longpoll (all N, means): {statistics.mean(push) / statistics.mean(longpoll):.2f}x")
    print("\nnotes:\n  frame = the survivor's first push frame after the kill (the victim's $disconnect -> "
          "sidecar_left)")
    print("  phase = the random extra wait before the kill (s), within the victim's renew interval")
    print("  each = every instance's time, sorted (a new sidecar's slow start takes 1, 1, 2, ... per discovery)")
    print("  first/all = seconds from SIGKILL until the first / the last instance is connected on the survivor "
          f"(its /health/instances, polled every {HEALTH_POLL_S * 1000:.0f} ms); the API showed CONNECTED for all "
          "afterwards in every round without a note")
    print(f"  survivor held {sorted({r.survivor_held_before for r in rounds})} instance(s) before the kill")


def parse_designs(text: str) -> list[str]:
    chosen = [d.strip() for d in text.split(",") if d.strip()]
    if not chosen or any(d not in DESIGNS for d in chosen):
        raise argparse.ArgumentTypeError(f"designs are a comma-separated subset of {','.join(DESIGNS)}")
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=4, help="connected instances on the victim (default 4)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per design, alternating (default 2)")
    parser.add_argument("--ttl-ms", type=int, default=10_000, help="INSTANCE_LOCK_TTL_MS (default 10000)")
    parser.add_argument("--discovery-ms", type=int, default=2_000, help="DISCOVERY_POLL_MS (default 2000)")
    parser.add_argument("--designs", type=parse_designs, default=list(DESIGNS),
                        help="comma-separated subset of push,longpoll (default both)")
    parser.add_argument("--random-seed", type=int, default=1, help="seed of the random wait before each kill")
    args = parser.parse_args()
    started = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - started:4.0f}s] {line.strip()}", flush=True)

    rounds: list[Round] = []
    rng = random.Random(args.random_seed)
    with harness.workdir("zapgate-failover-") as tmp:
        for number in range(1, args.rounds + 1):
            for design in args.designs:
                rounds.append(run_round(design, number, args, tmp, log, rng))
    report(rounds, args, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
