"""What an Idempotency-Key costs on POST /v1/instances/{id}/messages: DynamoDB requests and latency.

The real public API app runs through TestClient against moto (tables from template.yaml, every
function's template environment), as in bench/dynamodb_ops.py. A botocore `before-call.dynamodb`
hook on the one cached client zapgate_control.aws.client("dynamodb") counts every call by
operation and table. Set-up (API key, instance, sidecar lock, CONNECTED) is not counted.

Three kinds of send, interleaved round-robin so drift (moto's tables growing, GC, CPU clock)
falls on all of them alike:
  no key        plain send
  new key       Idempotency-Key never seen before (a new message)
  replay        the same key and body again (answers the original message, queues nothing)
RATE_LIMIT_PER_MINUTE is raised to 10,000,000 so no request is refused (429) but every request
still pays the rate-limit counter's UpdateItem, as in production (0 would skip that write).
Latency is wall time of TestClient.post (in-process ASGI + moto over loopback HTTP).

Usage: .venv/bin/python bench/send_idempotency.py [--requests 300] [--warmup 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from collections import Counter
from typing import Any

from dynamodb_ops import API_KEY, SIDECAR, TENANT, WORKER_SECRET, configure

from zapgate_devstack.emulator import MotoServer

SEND_ROUTE = "/v1/instances/{instance_id}/messages"
KINDS = ("no key", "new key", "replay")
READS = {"GetItem", "Query", "BatchGetItem", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


class Counting:
    """Counts DynamoDB calls as (operation, table) for whichever kind of send is active."""

    def __init__(self, tables: dict[str, str]) -> None:
        self.tables = tables  # physical name -> short logical name
        self.by_kind: dict[str, Counter[tuple[str, str]]] = {kind: Counter() for kind in KINDS}
        self.samples: Counter[str] = Counter()
        self.current: str | None = None

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if self.current is None:
            return
        # before-call gets the serialised request: DynamoDB's JSON protocol carries the API params as the body.
        request = json.loads(params.get("body") or b"{}")
        name = str(request.get("TableName", "?"))
        table = self.tables.get(name, name)
        key_hash = str(request.get("Key", {}).get("key_hash", {}).get("S", ""))
        if model.name == "UpdateItem" and key_hash.startswith("rl#"):
            table += " (rate-limit counter)"
        elif model.name == "GetItem" and table == "ApiKeys":
            table += " (API key lookup)"
        self.by_kind[self.current][(model.name, table)] += 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per kind (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed rounds first (default 20)")
    args = parser.parse_args()

    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    server = MotoServer().start()
    try:
        env = configure(server)
        os.environ["RATE_LIMIT_PER_MINUTE"] = "10000000"
        from zapgate_control import settings, wiring

        settings.get_settings.cache_clear()
        wiring.get_stores.cache_clear()

        from fastapi.testclient import TestClient

        from zapgate_control.adapters.dynamodb.api_keys import put_api_key
        from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
        from zapgate_control.aws import client
        from zapgate_public_api.app import app as public_app
        from zapgate_worker_proxy.app import app as worker_app

        put_api_key(env["API_KEYS_TABLE"], API_KEY, TENANT, "bench")
        worker = TestClient(worker_app, headers={"Authorization": f"Bearer {WORKER_SECRET}"})
        public = TestClient(public_app, headers={"X-API-Key": API_KEY})
        instance_id = str(DynamoInstanceStore(env["INSTANCES_TABLE"]).create(TENANT, "bench", 0, True).id)
        lock = worker.post("/worker-proxy/instance-lock/acquire", json={
            "instanceId": instance_id, "instance_owner": SIDECAR, "ttl_ms": 600_000}).json()  # fmt: skip
        worker.post("/worker-proxy/update-status", json={
            "instanceId": instance_id, "status": "CONNECTED", "lock_token": lock["lock_token"]})  # fmt: skip

        tables = {env[name]: name.removesuffix("_TABLE").title().replace("_", "")
                  for name in env if name.endswith("_TABLE")}  # fmt: skip
        counting = Counting(tables)
        dynamodb = client("dynamodb")
        dynamodb.meta.events.register("before-call.dynamodb", counting)
        url = SEND_ROUTE.format(instance_id=instance_id)
        latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
        answers: dict[str, str] = {}

        def one(kind: str, n: int, timed: bool) -> None:
            body = {"to": "5511999999999", "body": f"bench {n}"}
            key = f"bench-key-{n}-{'t' if timed else 'w'}"
            headers = {} if kind == "no key" else {"Idempotency-Key": key}
            counting.current = kind if timed else None
            started = time.perf_counter()
            response = public.post(url, json=body, headers=headers)
            took = (time.perf_counter() - started) * 1000
            counting.current = None
            if response.status_code != 202:
                raise RuntimeError(f"{kind}: HTTP {response.status_code} {response.text[:300]}")
            message_id = str(response.json()["id"])
            if kind == "new key":
                answers[key] = message_id
            elif kind == "replay" and answers.get(key) != message_id:
                raise RuntimeError(f"replay of {key} answered {message_id}, not {answers.get(key)}")
            if timed:
                latencies[kind].append(took)
                counting.samples[kind] += 1

        for n in range(args.warmup):
            for kind in KINDS:
                one(kind, n, timed=False)
        for n in range(args.requests):
            # Rotate the order each round: no kind is always first after the previous round's replay.
            order = KINDS[n % 3:] + KINDS[: n % 3]
            if order.index("replay") < order.index("new key"):  # a replay needs its key sent first
                order = (*(k for k in order if k != "replay"), "replay")
            for kind in order:
                one(kind, n, timed=True)
        if client("dynamodb") is not dynamodb:
            raise RuntimeError("the DynamoDB client was replaced during the run; counts are incomplete")
    finally:
        server.stop()

    print(f"POST {SEND_ROUTE} (public API, TestClient + moto), {args.requests} timed requests per kind, "
          f"interleaved; {args.warmup} untimed rounds first")
    print(f"python {sys.version.split()[0]}, nproc {os.cpu_count()}\n")
    print("DynamoDB requests per send")
    print(f"{'send':<9} {'reads':>5} {'writes':>6}  operations (per request, by table)")
    print(f"{'-' * 9} {'-' * 5} {'-' * 6}  {'-' * 70}")
    for kind in KINDS:
        ops, samples = counting.by_kind[kind], counting.samples[kind]
        reads = sum(c for (op, _), c in ops.items() if op in READS) / samples
        writes = sum(c for (op, _), c in ops.items() if op in WRITES) / samples
        detail = ", ".join(f"{op} {table} {c / samples:g}" for (op, table), c in sorted(ops.items()))
        print(f"{kind:<9} {reads:>5g} {writes:>6g}  {detail}")

    base = latencies["no key"]
    print("\nLatency per request, ms (wall time of TestClient.post)")
    print(f"{'send':<9} {'median':>7} {'p90':>7} {'mean':>7}  {'median vs no key':>16} {'p90 vs no key':>13}")
    print(f"{'-' * 9} {'-' * 7} {'-' * 7} {'-' * 7}  {'-' * 16} {'-' * 13}")
    for kind in KINDS:
        values = latencies[kind]
        med, p90 = statistics.median(values), percentile(values, 0.9)
        print(f"{kind:<9} {med:>7.2f} {p90:>7.2f} {statistics.fmean(values):>7.2f}  "
              f"{med / statistics.median(base):>15.2f}x {p90 / percentile(base, 0.9):>12.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
