"""Events processor throughput (events/s per invocation) and inbound → webhook latency, against a baseline.

One run measures two revisions of the processor, one after the other, each in its own process on a fresh
moto: the baseline (--baseline, default HEAD~1: its functions/ and shared/ extracted with git archive and
put first on PYTHONPATH) and the working tree. Everything is real but AWS: moto (in-process, template.yaml
resources), the worker-proxy app through TestClient, the events outbox (zapgate_devstack.stream_worker),
the processor's real handler zapgate_events.handler.handler with a fake Lambda context
(zapgate_devstack.events_worker.LambdaContext), and a receiver: a small Starlette app under uvicorn on
127.0.0.1 in a *separate process* (so it does not share the GIL with the processor), which verifies every
signature with the webhook's secret, counts, and notes the arrival time of each X-Zapgate-Event-Id.

Throughput: --events inbound messages are posted to /worker-proxy/inbound, so the envelopes are built by
the real code and land on EventsQueue; they are taken off the queue once and replayed as SQS events of 1
or 10 records (zapgate_devstack.events_worker.sqs_event). Only handler() is timed: SQS receive and delete
are the Lambda service's work. With 3 webhooks, whatever the handler put back on the queue (the baseline:
one copy per webhook; now: copies only for failed deliveries, none here) is received and handed to the
handler too, and that pass is timed as well, so the rate covers every invocation it takes to deliver each
event to all 3 webhooks. The time handler() spends in DynamoDB calls (moto, a Python walk of the table on
every GSI Query) is measured by botocore hooks and shown apart: "delivery stage" = handler time minus it.

Billable units per event (3 webhooks, batch 10): SQS requests counted (the handler's, and the bench's
receive/delete of the copies, which the Lambda poller would make; the originals' own receive and delete,
1 each per batch, are the same for both and added as 0.2 per event); DynamoDB read/write units estimated
from the sizes of the items each request read or wrote (moto does not report consumed capacity): a Query
or GetItem max(1, ceil(bytes / 4 KB)) * (1 strongly consistent, 0.5 eventually), an UpdateItem
ceil(bytes / 1 KB) per copy of the item (the table and each ALL-projection index holding it: 3 for a
message).

Latency: one at a time, POST /worker-proxy/inbound (TestClient) → the outbox (the stream poller in a
background thread, every 150 ms as in make run, then the publisher's SendMessageBatch) → receive_message in
a tight loop (WaitTimeSeconds=0) → handler → receiver's arrival timestamp. 1 webhook.

Usage: .venv/bin/python bench/webhook_fanout.py [--events 100] [--reps 3] [--latency 150] [--baseline REV]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from typing import Any

from dynamodb_ops import API_KEY, TENANT, WORKER_SECRET, configure

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The message table's copies of an item an UpdateItem rewrites: the table, the timeline and chat indexes (ALL).
MESSAGE_ITEM_COPIES = 3

# --------------------------------------------------------------------------- receiver (own process)


def serve_receiver(port: int) -> None:
    import threading

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    from zapgate_core.domain.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

    secrets: dict[str, str] = {}
    state: dict[str, Any] = {"valid": 0, "invalid": 0, "arrived": {}}
    lock = threading.Lock()

    async def hook(request: Request) -> Response:
        body = await request.body()
        now = time.time()
        secret = secrets.get(request.path_params["n"])
        ok = secret is not None and verify(secret, request.headers.get(TIMESTAMP_HEADER), body,
                                           request.headers.get(SIGNATURE_HEADER))
        with lock:
            state["valid" if ok else "invalid"] += 1
            state["arrived"][f"{request.path_params['n']}/{request.headers.get(EVENT_ID_HEADER)}"] = now
        return PlainTextResponse("ok")

    async def configure_secrets(request: Request) -> Response:
        secrets.update(await request.json())
        return PlainTextResponse("ok")

    async def stats(request: Request) -> Response:
        with lock:
            return JSONResponse(state)

    app = Starlette(routes=[
        Route("/hook/{n}", hook, methods=["POST"]),
        Route("/secrets", configure_secrets, methods=["POST"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/health", lambda request: PlainTextResponse("ok"), methods=["GET"]),
    ])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --------------------------------------------------------------------------- helpers


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def inbound_body(instance_id: str, n: int, tag: str) -> dict[str, Any]:
    # 25 contacts writing to one instance; every other message a photo, so a contact's text and photo
    # 25 messages apart link (seed 001) and parent linking writes too.
    sender = f"55119{n % 25:08d}@s.whatsapp.net"
    media = {"media_type": "image", "media_url": "https://media.example/p.jpg", "mime_type": "image/jpeg"}
    return {
        "instanceId": instance_id, "from": sender, "to": "5511999999999@s.whatsapp.net",
        "body": "" if n % 2 else f"olá {n}", "wa_message_id": f"3EB0{tag}{n:06d}", "from_me": False,
        "chat_id_norm": sender, "sender_jid_raw": sender, "push_name": "Maria", "timestamp": int(time.time()),
        **(media if n % 2 else {}),
    }


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's size of a typed item (names + values), as it bills reads and writes."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def value_size(value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return (len(str(raw).lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in raw)
    return sum(len(str(e)) for e in raw)  # sets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100, help="events per throughput run (default 100)")
    parser.add_argument("--reps", type=int, default=3, help="runs per throughput scenario (default 3)")
    parser.add_argument("--latency", type=int, default=150, help="inbound messages timed end to end (default 150)")
    parser.add_argument("--baseline", default="HEAD~1", help="git revision measured as the baseline (HEAD~1)")
    parser.add_argument("--serve-receiver", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--child", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_receiver:
        serve_receiver(args.serve_receiver)
        return 0
    if args.child:
        with open(args.child, "w") as child_out:
            json.dump(measure(args), child_out)
        return 0
    started = time.time()
    revisions = {"baseline": _git("rev-parse", "--short", args.baseline),
                 "current": _git("rev-parse", "--short", "HEAD") + (
                     " + working tree" if _git("status", "--porcelain", "--", "functions", "shared") else "")}
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        code = os.path.join(tmp, "baseline")
        os.mkdir(code)
        archive = subprocess.run(["git", "-C", ROOT, "archive", args.baseline, "functions", "shared"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", code], input=archive, check=True)
        for label in ("baseline", "current"):
            env = dict(os.environ)
            if label == "baseline":
                env["PYTHONPATH"] = os.pathsep.join([os.path.join(code, "functions"), os.path.join(code, "shared")])
            path = os.path.join(tmp, f"{label}.json")
            subprocess.run([sys.executable, os.path.abspath(__file__), "--child", path, "--events", str(args.events),
                            "--reps", str(args.reps), "--latency", str(args.latency)], env=env, check=True)
            with open(path) as answer:
                results[label] = json.load(answer)
    report(args, revisions, results, time.time() - started)
    return 0


def _git(*argv: str) -> str:
    return subprocess.run(["git", "-C", ROOT, *argv], capture_output=True, text=True, check=True).stdout.strip()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """The whole measurement of the code on sys.path, as JSON-able figures."""
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import httpx
    from fastapi.testclient import TestClient

    from zapgate_devstack.emulator import MotoServer
    from zapgate_devstack.events_worker import LambdaContext, sqs_event

    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    from background import free_port, wait_until  # tests/integration/background.py

    port = free_port()
    receiver = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve-receiver", str(port)])
    server = MotoServer().start()
    base = f"http://127.0.0.1:{port}"
    http = httpx.Client(timeout=10)
    try:
        wait_until(lambda: _up(http, base), 20, "receiver up")
        env = configure(server)
        from zapgate_control.adapters.dynamodb.api_keys import put_api_key
        from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
        from zapgate_control.aws import client
        from zapgate_events import handler as events_handler
        from zapgate_public_api.app import app as public_app
        from zapgate_worker_proxy.app import app as worker_app

        code_root = os.path.dirname(os.path.dirname(os.path.abspath(events_handler.__file__)))
        events_handler.deps.cache_clear()
        from zapgate_devstack.stream_worker import StreamWorker
        from zapgate_devstack.template import load_template, stream_sources

        (source,) = [s for s in stream_sources(load_template()) if s.function == "EventsPublisherFunction"]
        outbox = StreamWorker(client("dynamodb"), client("dynamodbstreams"), env["MESSAGES_TABLE"], source)
        put_api_key(env["API_KEYS_TABLE"], API_KEY, TENANT, "bench")
        public = TestClient(public_app, headers={"X-API-Key": API_KEY})
        worker = TestClient(worker_app, headers={"Authorization": f"Bearer {WORKER_SECRET}"})
        sqs, queue_url = client("sqs"), env["EVENTS_QUEUE_URL"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        instance_id = str(DynamoInstanceStore(env["INSTANCES_TABLE"]).create(TENANT, "bench", 0, True).id)

        def add_webhook(n: int) -> None:
            created = public.post("/v1/webhooks", json={"url": f"{base}/hook/{n}"})
            if created.status_code != 201:
                raise RuntimeError(f"webhook: HTTP {created.status_code} {created.text[:300]}")
            http.post(f"{base}/secrets", json={str(n): created.json()["secret"]}).raise_for_status()

        # Counters, on while a throughput run is timed: time and calls per AWS operation (and the POSTs),
        # SQS requests, DynamoDB units. The handler may call from several threads: one lock.
        lock = threading.Lock()
        timing = {"on": False}
        spent_in: dict[str, float] = {}
        calls_of: dict[str, int] = {}
        units = {"rru": 0.0, "wru": 0.0, "sqs": 0}
        sqs_ops: dict[str, int] = {}
        item_bytes: dict[str, int] = {}  # message id -> its size, from the reads (for the UpdateItem's units)
        open_calls: dict[int, tuple[float, str, dict[str, Any]]] = {}
        table_names = {env[k]: k.removesuffix("_TABLE").lower() for k in env if k.endswith("_TABLE")}

        def before(model: Any, params: dict[str, Any], **_: Any) -> None:
            name = f"{model.service_model.service_name} {model.name}"
            request: dict[str, Any] = {}
            if model.service_model.service_name == "dynamodb":
                request = json.loads(params.get("body") or b"{}")
                where = table_names.get(str(request.get("TableName")), "?")
                name += f" {where}" + (f"/{request['IndexName']}" if request.get("IndexName") else "")
            with lock:
                open_calls[threading.get_ident()] = (time.perf_counter(), name, request)

        def after(model: Any, parsed: dict[str, Any], **_: Any) -> None:
            with lock:
                started, name, request = open_calls.pop(threading.get_ident(), (0.0, "", {}))
                if not timing["on"] or not started:
                    return
                spent_in[name] = spent_in.get(name, 0.0) + time.perf_counter() - started
                calls_of[name] = calls_of.get(name, 0) + 1
                if model.service_model.service_name == "sqs":
                    units["sqs"] += 1
                    sqs_ops[model.name] = sqs_ops.get(model.name, 0) + 1
                    return
                items = parsed.get("Items") or ([parsed["Item"]] if parsed.get("Item") else [])
                for item in items:
                    if "id" in item and "S" in item["id"]:
                        item_bytes[item["id"]["S"]] = item_size(item)
                if model.name in ("Query", "GetItem", "Scan"):
                    read = sum(item_size(item) for item in items)
                    units["rru"] += max(1, math.ceil(read / 4096)) * (1.0 if request.get("ConsistentRead") else 0.5)
                elif model.name in ("UpdateItem", "PutItem", "DeleteItem"):
                    key = (request.get("Key") or request.get("Item") or {}).get("id", {}).get("S", "")
                    copies = MESSAGE_ITEM_COPIES if table_names.get(str(request.get("TableName"))) == "messages" else 1
                    units["wru"] += max(1, math.ceil(item_bytes.get(key, 1024) / 1024)) * copies

        for service in ("dynamodb", "sqs"):
            client(service).meta.events.register(f"before-call.{service}", before)
            client(service).meta.events.register(f"after-call.{service}", after)
        sender = events_handler.deps().sender
        real_post = sender.post

        def timed_post(url: str, body: bytes, headers: dict[str, str]) -> str | None:
            started = time.perf_counter()
            try:
                return real_post(url, body, headers)
            finally:
                with lock:
                    if timing["on"]:
                        name = "webhook POST (httpx), summed over threads"
                        spent_in[name] = spent_in.get(name, 0.0) + time.perf_counter() - started
                        calls_of[name] = calls_of.get(name, 0) + 1

        sender.post = timed_post  # type: ignore[method-assign]

        def receive(limit: int) -> list[dict[str, Any]]:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=limit, WaitTimeSeconds=0,
                                      AttributeNames=["All"], MessageAttributeNames=["All"])
            return list(got.get("Messages") or [])

        def delete(messages: list[dict[str, Any]]) -> None:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])  # fmt: skip

        def in_dynamodb() -> float:
            return sum(seconds for name, seconds in spent_in.items() if name.startswith("dynamodb "))

        def invoke(messages: list[dict[str, Any]]) -> tuple[float, float]:
            """(handler seconds, of which in DynamoDB calls)."""
            dynamodb_before = in_dynamodb()
            started = time.perf_counter()
            answer = events_handler.handler(sqs_event(messages, queue_arn), LambdaContext())
            took = time.perf_counter() - started
            if answer.get("batchItemFailures"):
                raise RuntimeError(f"processor failed records: {answer['batchItemFailures']}")
            return took, in_dynamodb() - dynamodb_before

        def stats() -> dict[str, Any]:
            return dict(http.get(f"{base}/stats").json())

        for n in range(args.events):
            answer = worker.post("/worker-proxy/inbound", json=inbound_body(instance_id, n, "TP"))
            if answer.status_code != 200:
                raise RuntimeError(f"inbound: HTTP {answer.status_code} {answer.text[:300]}")
        if outbox.drain(max_polls=args.events + 5).failed:
            raise RuntimeError("the outbox failed to publish")
        originals: list[dict[str, Any]] = []
        while batch := receive(10):
            originals.extend(batch)
            delete(batch)
        if len(originals) != args.events:
            raise RuntimeError(f"{len(originals)} events on the queue, expected {args.events}")

        def throughput(batch_size: int, hooks: int) -> dict[str, Any]:
            before_valid = stats()["valid"]
            with lock:
                counted = dict(units)
            wall = time.perf_counter()
            spent = dynamodb = 0.0
            invocations = 0
            for i in range(0, len(originals), batch_size):
                took, in_db = invoke(originals[i:i + batch_size])
                spent, dynamodb, invocations = spent + took, dynamodb + in_db, invocations + 1
            while copies := receive(batch_size):  # whatever the handler put back on the queue
                took, in_db = invoke(copies)
                spent, dynamodb, invocations = spent + took, dynamodb + in_db, invocations + 1
                delete(copies)
            wall = time.perf_counter() - wall
            delivered = stats()["valid"] - before_valid
            if delivered != len(originals) * hooks:
                raise RuntimeError(f"{delivered} valid deliveries, expected {len(originals) * hooks}")
            with lock:
                per_event = {k: (units[k] - counted[k]) / len(originals) for k in units}
            return {"handler_s": spent, "dynamodb_s": dynamodb, "invocations": invocations, "wall_s": wall,
                    "units": per_event}

        results: dict[str, list[dict[str, Any]]] = {}
        attribution: dict[str, Any] = {}

        def run_scenarios(hooks: int) -> None:
            invoke(originals[:1])  # warm: the handler's clients and the receiver's connection
            while copies := receive(10):
                invoke(copies)
                delete(copies)
            for _ in range(args.reps):
                for batch_size in (1, 10):
                    timing["on"] = True
                    results.setdefault(f"{hooks}x{batch_size}", []).append(throughput(batch_size, hooks))
                    timing["on"] = False
            if hooks == 1:
                with lock:
                    attribution.update(spent={**spent_in}, calls={**calls_of})
                    spent_in.clear()
                    calls_of.clear()

        add_webhook(0)
        run_scenarios(1)

        stages: dict[str, list[float]] = {k: [] for k in ("post", "queue", "to_receiver", "total", "handler")}
        pending: list[tuple[str, float, float, float, float]] = []
        outbox.start()
        for n in range(args.latency):
            t0 = time.time()
            answer = worker.post("/worker-proxy/inbound", json=inbound_body(instance_id, n, "LAT"))
            t1 = time.time()
            if answer.status_code != 200:
                raise RuntimeError(f"inbound: HTTP {answer.status_code}")
            while not (messages := receive(10)):
                pass
            t2 = time.time()
            invoke(messages)
            t3 = time.time()
            delete(messages)
            if len(messages) != 1:
                raise RuntimeError(f"expected one event, got {len(messages)}")
            pending.append((json.loads(messages[0]["Body"])["id"], t0, t1, t2, t3))
        outbox.stop()
        arrived = stats()["arrived"]
        for event_id, t0, t1, t2, t3 in pending:
            at = arrived[f"0/{event_id}"]
            stages["post"].append((t1 - t0) * 1000)
            stages["queue"].append((t2 - t1) * 1000)
            stages["to_receiver"].append((at - t2) * 1000)
            stages["handler"].append((t3 - t2) * 1000)
            stages["total"].append((at - t0) * 1000)

        add_webhook(1)
        add_webhook(2)
        run_scenarios(3)
        final = stats()
    finally:
        server.stop()
        receiver.terminate()
        receiver.wait(10)
        http.close()
    return {"code": code_root, "python": sys.version.split()[0], "nproc": os.cpu_count(), "valid": final["valid"],
            "invalid": final["invalid"], "rows": results, "attribution": attribution, "latency": stages,
            "sqs_ops": sqs_ops}


def report(args: argparse.Namespace, revisions: dict[str, str], results: dict[str, dict[str, Any]],
           took_s: float) -> None:
    base, now = results["baseline"], results["current"]
    print(f"events processor: real handler, moto in-process, receiver = uvicorn in its own process on loopback; "
          f"python {now['python']}, nproc {now['nproc']}; run took {took_s / 60:.1f} min")
    print(f"baseline = {revisions['baseline']} ({base['code']}), current = {revisions['current']}")
    print(f"signatures checked by the receiver: baseline {base['valid']} valid / {base['invalid']} invalid, "
          f"current {now['valid']} valid / {now['invalid']} invalid\n")

    def rate(runs: list[dict[str, Any]], key: str = "handler_s", minus: str | None = None) -> float:
        return statistics.median(args.events / (r[key] - (r[minus] if minus else 0.0)) for r in runs)

    print(f"Throughput: {args.events} MESSAGE_INBOUND events per run, {args.reps} runs per row, median; "
          "events/s = events / handler() time")
    print("  delivery stage = handler() time minus its DynamoDB (moto) calls; "
          "wall = incl. SQS receive/delete of copies")
    header = (f"{'webhooks':>8} {'batch':>5} | {'events/s':>17} {'ratio':>6} | {'delivery stage ev/s':>19} "
              f"{'ratio':>6} | {'DynamoDB ms/ev':>14} | {'wall ev/s':>13} | {'invocations':>11}")
    print(header)
    print(f"{'':>8} {'':>5} | {'base → now':>17} {'':>6} | {'base → now':>19} {'':>6} | {'base → now':>14} | "
          f"{'base → now':>13} | {'base → now':>11}")
    print("-" * len(header))
    for key in sorted(now["rows"], key=lambda k: tuple(int(p) for p in k.split("x"))):
        hooks, batch = key.split("x")
        b, n = base["rows"][key], now["rows"][key]
        rb, rn = rate(b), rate(n)
        db, dn = rate(b, minus="dynamodb_s"), rate(n, minus="dynamodb_s")
        mb = statistics.median(r["dynamodb_s"] * 1000 / args.events for r in b)
        mn = statistics.median(r["dynamodb_s"] * 1000 / args.events for r in n)
        wb, wn = rate(b, "wall_s"), rate(n, "wall_s")
        print(f"{hooks:>8} {batch:>5} | {rb:>7.1f} → {rn:>7.1f} {rn / rb:>5.1f}x | {db:>8.1f} → {dn:>8.1f} "
              f"{dn / db:>5.1f}x | {mb:>5.1f} → {mn:>6.1f} | {wb:>5.1f} → {wn:>5.1f} | "
              f"{b[0]['invocations']:>4} → {n[0]['invocations']:>4}")

    print("\nBillable units per event, 3 webhooks, batch 10 (median run; originals' receive + delete = 0.2 added)")
    print(f"{'unit':<40} {'baseline':>9} {'current':>9}")
    for unit, label in (("sqs", "SQS requests"), ("rru", "DynamoDB RRU (estimated)"),
                        ("wru", "DynamoDB WRU (estimated)")):
        values = []
        for side in (base, now):
            runs = side["rows"]["3x10"]
            extra = 0.2 if unit == "sqs" else 0.0
            values.append(statistics.median(r["units"][unit] for r in runs) + extra)
        print(f"{label:<40} {values[0]:>9.2f} {values[1]:>9.2f}")
    print(f"{'SQS requests by operation, whole run':<40} baseline {base['sqs_ops']}")
    print(f"{'':<40} current  {now['sqs_ops']}")

    for label, side in (("baseline", base), ("current", now)):
        spent, calls = side["attribution"]["spent"], side["attribution"]["calls"]
        records = sum(r["invocations"] for key in ("1x1", "1x10") for r in side["rows"][key])  # 1 webhook: no copies
        total = sum(r["handler_s"] for key in ("1x1", "1x10") for r in side["rows"][key])
        print(f"\nWhere handler() time goes, {label}, 1 webhook, all its throughput runs "
              f"({total * 1000 / (args.events * args.reps * 2):.2f} ms per record, {records} invocations)")
        print(f"{'part':<44} {'calls/record':>12} {'ms/call':>8} {'ms/record':>9} {'share':>6}")
        n_records = args.events * args.reps * 2
        for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
            print(f"{name:<44} {calls[name] / n_records:>12.2f} {seconds * 1000 / calls[name]:>8.2f} "
                  f"{seconds * 1000 / n_records:>9.2f} {seconds / total:>6.0%}")

    print(f"\nLatency inbound → webhook, 1 webhook, {args.latency} messages one at a time (ms)")
    print(f"{'stage':<54} {'p50 base → now':>17} {'p99 base → now':>17}")
    for key, label in (("post", "POST /worker-proxy/inbound (DynamoDB write)"),
                       ("queue", "stream poll (150 ms) + outbox publish → first receive"),
                       ("to_receiver", "handler start → receiver arrival"),
                       ("handler", "handler() total (incl. receiver's answer)"),
                       ("total", "TOTAL inbound POST start → receiver arrival")):
        b, n = base["latency"][key], now["latency"][key]
        print(f"{label:<54} {statistics.median(b):>7.1f} → {statistics.median(n):>6.1f} "
              f"{percentile(b, 0.99):>7.1f} → {percentile(n, 0.99):>6.1f}")


def _up(http: Any, base: str) -> bool:
    try:
        return bool(http.get(f"{base}/health", timeout=1).status_code == 200)
    except Exception:
        return False


if __name__ == "__main__":
    sys.exit(main())
