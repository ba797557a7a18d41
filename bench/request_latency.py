"""Requests to the phone (docs/requests.md): public-API call -> answer latency, and the DynamoDB requests
each request/answer makes, counted on the wire.

The same in-process stack as bench/command_latency.py (whose helpers this reuses): moto (tables from
template.yaml), the real worker-proxy app under uvicorn (a thread) with the template's WebSocket APIs (the
local gateway's emulation, so the sidecars' push channel SidecarPushApi is served at /sidecars), the
simulated WhatsApp network, and the real sidecar (a thread) holding one connected instance with the
default lock TTL (30 s). The public API is driven in-process with TestClient.

Each phase makes --calls (200) calls one after another, alternating `POST contacts/check` (one number,
registered on the sim) and `POST chats/presence` (composing), each timed from the call to its answer,
after --warmup (5) calls that are not counted (the first call builds the request models):

  push      as shipped (WAKE_MODE=push): the API stores the request, posts a `request` frame on the
            holder's push connection, and polls the item; the sidecar claims, runs and answers it.
  longpoll  that sidecar stopped, one with WAKE_MODE=longpoll takes the instance over (auth restored).

Baseline: the issue asks for "the same call answered only at the next lock renewal (no wake-up)". The code
has no such path: a sidecar learns of a request only from the push frame (instance_manager.py handles
`frame.type == "request"`; the heartbeat that renews locks returns commands and doorbells, never requests),
and the API answers 501 worker_unsupported at once, storing nothing, when the holder has no push connection.
A request made with the wake-up switched off would sit pending until the API's 10 s wait ends (504). So the
comparison is with the longpoll sidecar, whose calls get that 501: it shows what the wait for an answer
costs over a call that only reads the instance and the holder's push connection, not a slower answer.

DynamoDB: a botocore hook (before-parameter-build) on the apps' one client counts every call by operation
and table; an ASGI wrapper around each app labels the calls with the route that made them (a ContextVar,
which follows a sync endpoint into its worker thread): the public API's route, the worker-proxy's
/requests/claim and /requests/answer, anything else the sidecar does meanwhile (heartbeats, discovery:
"background", reported as a total, not per call). Calls are sequential, so each call's counts are taken
between its start and its answer. Targets (issue): push p50 <= 150 ms, p99 <= 500 ms. Nothing is asserted.

--per-op N then makes N calls (after 2 uncounted) of each of ten operations on the push sidecar (reads,
changes, groups, edits; what they act on is made first) and prints, per operation, p50/p99 and the DynamoDB
requests per call split between the public API and the sidecar's claim + answer.

Usage: .venv/bin/python bench/request_latency.py [--calls 200] [--warmup 5] [--per-op 20]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter, defaultdict
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NamedTuple

import command_latency
import httpx
import sidecar_latency as harness
from command_latency import PUSH_STAGE, LateApp, health, holds, percentile, start_sidecar, wait_for
from dynamodb_ops import API_KEY, TENANT, configure

REPO = Path(__file__).resolve().parents[1]
LOCK_TTL_MS = command_latency.LOCK_TTL_MS
OWN_PHONE = "5511999990000"
FRIEND = "5511966665555"  # registered on the simulated network
OPS = ("contacts/check", "chats/presence")
BODIES: dict[str, dict[str, Any]] = {
    "contacts/check": {"numbers": [FRIEND]},
    "chats/presence": {"chat": FRIEND, "state": "composing"},
}
TARGET_P50_MS = 150.0
TARGET_P99_MS = 500.0
BACKGROUND = "background"

ROUTE: ContextVar[str | None] = ContextVar("route", default=None)


def route_label(side: str, path: str) -> str:
    """The part of a request/answer an HTTP path is, or BACKGROUND (the sidecar's other traffic)."""
    if side == "public":
        return next((f"API {op}" for op in OPS if path.endswith("/" + op)), "API other")
    if path.endswith("/worker-proxy/requests/claim"):
        return "sidecar claim"
    if path.endswith("/worker-proxy/requests/answer"):
        return "sidecar answer"
    if path.startswith(f"/{PUSH_STAGE}/@connections"):
        return "push post"
    return BACKGROUND


class Labelled:
    """An ASGI app whose DynamoDB calls are labelled with the route that made them."""

    def __init__(self, app: Any, side: str) -> None:
        self.app, self.side = app, side

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        token = ROUTE.set(route_label(self.side, str(scope.get("path", ""))))
        try:
            await self.app(scope, receive, send)
        finally:
            ROUTE.reset(token)


class WireCounter:
    """DynamoDB calls by (route label, 'Operation Table'), from a botocore hook on the apps' one client."""

    def __init__(self, tables: dict[str, str]) -> None:
        self.tables = tables  # table name -> short name
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        table = self.tables.get(str(params.get("TableName")), str(params.get("TableName")))
        consistent = " (consistent)" if params.get("ConsistentRead") else ""
        with self._lock:
            self.counts[(ROUTE.get() or "unlabelled", f"{model.name} {table}{consistent}")] += 1

    def take(self) -> Counter[tuple[str, str]]:
        with self._lock:
            taken, self.counts = self.counts, Counter()
        return taken


class Call(NamedTuple):
    op: str
    status: int
    ms: float
    calls: Counter[tuple[str, str]]


def phase(public: Any, instance_id: str, counter: WireCounter, count: int, warmup: int) -> list[Call]:
    done: list[Call] = []
    for n in range(warmup + count):
        op = OPS[n % len(OPS)]
        counter.take()
        started = time.monotonic()
        response = public.post(f"/v1/instances/{instance_id}/{op}", json=BODIES[op])
        elapsed = (time.monotonic() - started) * 1000
        if n >= warmup:
            done.append(Call(op, response.status_code, elapsed, counter.take()))
    return done


# ---------------------------------------------------------------- --per-op: every kind of request, by operation
def op_calls(public: Any, sim_url: str, instance_id: str) -> list[tuple[str, str, str, dict[str, Any] | None]]:
    """(op, method, path, body) of one call per operation, after making what they act on: a group, a sent
    text, a received message. Edits of the same text and promote/demote alternate so each call changes
    something."""
    base = f"/v1/instances/{instance_id}"
    created = public.post(f"{base}/groups", json={"name": "bench", "participants": [FRIEND]})
    if created.status_code != 201:
        raise RuntimeError(f"group create: {created.status_code} {created.text[:200]}")
    group = created.json()["jid"]
    sent = public.post(f"{base}/messages", json={"to": FRIEND, "body": "bench 0"}).json()["id"]
    wait_for(lambda: public.get(f"{base}/messages/{sent}").json()["status"] == "sent", 30, "the text sent")
    chat = f"{FRIEND}@s.whatsapp.net"
    httpx.post(f"{sim_url}/sim/instances/{instance_id}/inbound", json={"chat": chat, "sender": chat, "body": "hi"})
    wait_for(lambda: public.get(f"{base}/messages", params={"direction": "inbound"}).json()["messages"], 30,
             "the inbound message stored")
    return [
        ("check_numbers", "POST", f"{base}/contacts/check", {"numbers": [FRIEND]}),
        ("user_info", "GET", f"{base}/contacts/{FRIEND}/info", None),
        ("chat_presence", "POST", f"{base}/chats/presence", {"chat": FRIEND, "state": "composing"}),
        ("own_presence", "POST", f"{base}/presence", {"state": "available"}),
        ("mark_read", "POST", f"{base}/chats/read", {"chat": FRIEND}),
        ("edit_message", "POST", f"{base}/messages/{sent}/edit", {"text": "bench {n}"}),
        ("group_info", "GET", f"{base}/groups/{group}", None),
        ("group_participants", "POST", f"{base}/groups/{group}/participants",
         {"action": "promote|demote", "participants": [FRIEND]}),
        ("group_create", "POST", f"{base}/groups", {"name": "bench {n}", "participants": [FRIEND]}),
        ("profile_about", "PUT", f"{base}/profile/about", {"about": "bench {n}"}),
    ]


def _body(template: dict[str, Any] | None, n: int) -> dict[str, Any] | None:
    if template is None:
        return None
    body = {k: v.format(n=n) if isinstance(v, str) else v for k, v in template.items()}
    if body.get("action") == "promote|demote":
        body["action"] = "promote" if n % 2 == 0 else "demote"
    return body


def per_op_phase(public: Any, sim_url: str, instance_id: str, counter: WireCounter, count: int,
                 warmup: int) -> list[Call]:
    done: list[Call] = []
    for op, method, path, template in op_calls(public, sim_url, instance_id):
        for n in range(warmup + count):
            counter.take()
            started = time.monotonic()
            response = public.request(method, path, json=_body(template, n))
            elapsed = (time.monotonic() - started) * 1000
            if n >= warmup:
                done.append(Call(op, response.status_code, elapsed, counter.take()))
    return done


def report_per_op(calls: list[Call]) -> None:
    print("\nBy operation (push): call -> answer, and DynamoDB requests per call (API = the public API's, "
          "auth included; sidecar = claim + answer):")
    lines = []
    for op in dict.fromkeys(c.op for c in calls):
        group = [c for c in calls if c.op == op]
        counts = per_call(group)
        api = sum(v for (label, _), v in counts.items() if label.startswith("API"))
        side = sum(v for (label, _), v in counts.items() if label.startswith("sidecar"))
        writes = sum(v for (_, operation), v in counts.items()
                     if operation.split(" ", 1)[0] in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"))
        n, codes, p50, _p90, p99, _max, _mean = summary(group)
        lines.append((op, n, codes, p50, p99, f"{api:.2f}", f"{side:.2f}", f"{api + side:.2f}", f"{writes:.2f}"))
    print(harness.table(("operation", "n", "HTTP", "p50", "p99", "API", "sidecar", "total", "of them writes"),
                        lines, "<><>>>>>>"))


def summary(calls: list[Call]) -> tuple[str, ...]:
    ms = [c.ms for c in calls]
    codes = ", ".join(f"{code} x{n}" for code, n in sorted(Counter(c.status for c in calls).items()))
    return (str(len(calls)), codes, f"{percentile(ms, 50):.0f}", f"{percentile(ms, 90):.0f}",
            f"{percentile(ms, 99):.0f}", f"{max(ms):.0f}", f"{statistics.fmean(ms):.0f}")


def per_call(calls: list[Call]) -> dict[tuple[str, str], float]:
    """Mean DynamoDB calls per call by (label, operation), background traffic left out."""
    total: Counter[tuple[str, str]] = Counter()
    for call in calls:
        total.update({k: v for k, v in call.calls.items() if k[0] != BACKGROUND})
    return {k: v / len(calls) for k, v in sorted(total.items())}


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "-"


def report(rows: dict[str, list[Call]], notes: list[str], elapsed: float) -> None:
    print(f"\ncall -> answer, ms ({harness.machine_facts()}; run {elapsed:.0f}s)")
    lines: list[tuple[str, ...]] = []
    for design, calls in rows.items():
        lines.append((design, "both", *summary(calls)))
        for op in OPS:
            lines.append((design, op, *summary([c for c in calls if c.op == op])))
    print(harness.table(("design", "route", "n", "HTTP", "p50", "p90", "p99", "max", "mean"), lines, "<<>>>>>>>"))
    push, longpoll = ([c.ms for c in rows[d]] for d in ("push", "longpoll"))
    print("\npush / longpoll (a 501 at once; see the docstring: there is no answer-at-renewal path): "
          + ", ".join(f"{name} {ratio(percentile(push, q), percentile(longpoll, q))}"
                      for name, q in (("p50", 50), ("p99", 99)))
          + f", max {ratio(max(push), max(longpoll))}"
          + f", mean {ratio(statistics.fmean(push), statistics.fmean(longpoll))}")

    print("\nDynamoDB requests per call, by operation and outcome (background traffic excluded):")
    table_rows: list[tuple[str, ...]] = []
    for design, calls in rows.items():
        groups: dict[tuple[str, int], list[Call]] = defaultdict(list)
        for call in calls:
            groups[(call.op, call.status)].append(call)
        for (op, status), group in sorted(groups.items()):
            counts = per_call(group)
            for (label, operation), mean in counts.items():
                table_rows.append((design, op, str(status), label, operation, f"{mean:.2f}"))
            table_rows.append((design, op, str(status), "total", f"({len(group)} calls)",
                               f"{sum(counts.values()):.2f}"))
    print(harness.table(("design", "route", "HTTP", "made by", "operation table", "per call"), table_rows,
                        "<<><<>"))
    for design, calls in rows.items():
        background = sum(v for call in calls for k, v in call.calls.items() if k[0] == BACKGROUND)
        print(f"  {design}: background (sidecar heartbeats, discovery) during the phase: {background} calls")

    p50, p99 = percentile(push, 50), percentile(push, 99)
    print(f"\ntargets (push): p50 {p50:.0f} ms <= {TARGET_P50_MS:.0f}: {'met' if p50 <= TARGET_P50_MS else 'not met'}; "
          f"p99 {p99:.0f} ms <= {TARGET_P99_MS:.0f}: {'met' if p99 <= TARGET_P99_MS else 'not met'}")
    print("notes:")
    for note in notes:
        print(f"  {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="calls per design (default 200)")
    parser.add_argument("--warmup", type=int, default=5, help="uncounted calls first (default 5)")
    parser.add_argument("--per-op", type=int, default=20,
                        help="then this many calls of each operation on the push sidecar (default 20; 0: skip)")
    args = parser.parse_args()
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from zapgate_devstack.emulator import MotoServer

    server = MotoServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="zapgate-request-latency-"))
    started = time.monotonic()
    try:
        env = configure(server)
        from fastapi.testclient import TestClient

        from tests.integration.background import BackgroundApp
        from zapgate_control import aws, settings, wiring
        from zapgate_control.adapters.dynamodb.api_keys import put_api_key
        from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
        from zapgate_control.aws import client
        from zapgate_devstack.live_gateway import with_websocket_apis
        from zapgate_sim.server import BackgroundSim

        late = LateApp()
        edge = BackgroundApp(late)
        os.environ["SIDECAR_PUSH_URL"] = f"ws://127.0.0.1:{edge.port}/{PUSH_STAGE}"
        os.environ["SIDECAR_PUSH_ENDPOINT_URL"] = f"{edge.url}/{PUSH_STAGE}"
        settings.get_settings.cache_clear()
        wiring.get_stores.cache_clear()
        aws.client.cache_clear()
        from zapgate_public_api.app import app as public_app
        from zapgate_worker_proxy.app import app as worker_app

        late.app = Labelled(with_websocket_apis(worker_app), "edge")
        put_api_key(env["API_KEYS_TABLE"], API_KEY, TENANT, "bench")
        store = DynamoInstanceStore(env["INSTANCES_TABLE"])
        instance_id = store.create(TENANT, "bench", 0, True).id
        tables = {env[k]: k.removesuffix("_TABLE").title().replace("_", "")
                  for k in env if k.endswith("_TABLE") and env[k]}
        counter = WireCounter(tables)
        client("dynamodb").meta.events.register("before-parameter-build.dynamodb", counter)
        rows: dict[str, list[Call]] = {}
        notes: list[str] = [f"{args.warmup} uncounted warm-up calls per design; lock TTL {LOCK_TTL_MS // 1000} s"]
        with edge, BackgroundSim() as sim:

            def sidecar_for(mode: str) -> tuple[Any, int]:
                return start_sidecar(edge.url, sim.url, tmp, mode)

            sidecar, port = sidecar_for("push")
            try:
                wait_for(lambda: getattr(store.get(instance_id), "qr_code", None), 30, "the QR")
                httpx.post(f"{sim.url}/sim/instances/{instance_id}/scan", json={"phone": OWN_PHONE})
                httpx.post(f"{sim.url}/sim/accounts", json={"phone": FRIEND, "push_name": "Friend"})
                wait_for(lambda: holds(store, instance_id, port, "bench-sidecar-push"), 30,
                         "CONNECTED on the push sidecar")
                wait_for(lambda: (health(port).get("push") or {}).get("state") == "up", 30, "the push channel up")
                public = TestClient(Labelled(public_app, "public"), headers={"X-API-Key": API_KEY})
                print(f"{args.calls} calls per design (+{args.warmup} warm-up), alternating {' / '.join(OPS)}...",
                      flush=True)
                frames = health(port)["push"]["frames"]
                rows["push"] = phase(public, instance_id, counter, args.calls, args.warmup)
                seen = health(port)
                presences = len(httpx.get(f"{sim.url}/sim/instances/{instance_id}/presences").json())
                notes.append(f"push: {seen['push']['frames'] - frames} push frames received for "
                             f"{args.calls + args.warmup} calls; {presences} presences seen on the sim")
                print(f"push done ({time.monotonic() - started:.0f}s)", flush=True)
                if args.per_op:
                    by_op = per_op_phase(public, sim.url, instance_id, counter, args.per_op, 2)
                    print(f"per operation done ({time.monotonic() - started:.0f}s)", flush=True)
                sidecar.stop()
                sidecar, port = sidecar_for("longpoll")
                wait_for(lambda: holds(store, instance_id, port, "bench-sidecar-longpoll"), 60,
                         "the longpoll sidecar to take the instance over")
                if health(port).get("push") is not None:
                    raise RuntimeError("the longpoll sidecar opened a push channel")
                rows["longpoll"] = phase(public, instance_id, counter, args.calls, args.warmup)
                print(f"longpoll done ({time.monotonic() - started:.0f}s)", flush=True)
            finally:
                sidecar.stop()
                logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        report(rows, notes, time.monotonic() - started)
        if args.per_op:
            report_per_op(by_op)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
