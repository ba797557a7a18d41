"""Events processor throughput (events/s per invocation) and inbound → webhook latency.

Everything real but AWS: moto (in-process, template.yaml resources), the worker-proxy app through
TestClient, the events processor's real handler zapgate_events.handler.handler with a fake
Lambda context (zapgate_devstack.events_worker.LambdaContext), and a receiver: a small Starlette
app under uvicorn on 127.0.0.1 in a *separate process* (so it does not share the GIL with the
processor), which verifies every signature with the webhook's secret, counts, and notes the
arrival time (time.time()) of each X-Zapgate-Event-Id.

Throughput: --events inbound messages are posted to /worker-proxy/inbound, so the envelopes are
built by the real code (zapgate_core.domain.events.inbound_event, from MessagesTable's stream by
the events outbox, polled by zapgate_devstack.stream_worker) and land on EventsQueue; they
are taken off the queue and replayed as SQS events of 1 or 10 records (the shape the Lambda
poller hands over, zapgate_devstack.events_worker.sqs_event). Only handler() is timed: SQS
receive and delete are the Lambda service's work, not the function's. With 3 webhooks the
handler fans each event out as 3 copies on EventsQueue; those are received (batch size as
configured) and handed to the handler too, and that second pass is timed as well, so the rate
covers every invocation it takes to deliver each event to all 3 webhooks.

Latency: one at a time, POST /worker-proxy/inbound (TestClient) → the outbox (the stream poller
in a background thread, every 150 ms as in make run, then the publisher's SendMessageBatch) →
receive_message in a tight loop (WaitTimeSeconds=0) → handler → receiver's arrival timestamp.
1 webhook.

Usage: .venv/bin/python bench/webhook_fanout.py [--events 100] [--reps 3] [--latency 150]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from typing import Any

from dynamodb_ops import API_KEY, TENANT, WORKER_SECRET, configure

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
    sender = f"55119{n % 50:08d}@s.whatsapp.net"  # 50 contacts writing to one instance
    return {
        "instanceId": instance_id, "from": sender, "to": "5511999999999@s.whatsapp.net", "body": f"olá {n}",
        "wa_message_id": f"3EB0{tag}{n:06d}", "from_me": False, "chat_id_norm": sender, "sender_jid_raw": sender,
        "push_name": "Maria", "timestamp": int(time.time()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100, help="events per throughput run (default 100)")
    parser.add_argument("--reps", type=int, default=3, help="runs per throughput scenario (default 3)")
    parser.add_argument("--latency", type=int, default=150, help="inbound messages timed end to end (default 150)")
    parser.add_argument("--serve-receiver", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_receiver:
        serve_receiver(args.serve_receiver)
        return 0

    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import httpx
    from fastapi.testclient import TestClient

    from zapgate_devstack.emulator import MotoServer
    from zapgate_devstack.events_worker import LambdaContext, sqs_event

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
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

        events_handler.deps.cache_clear()
        from zapgate_devstack.stream_worker import StreamWorker
        from zapgate_devstack.template import load_template, stream_sources

        # The events outbox (MessagesTable's stream → EventsPublisherFunction → EventsQueue), polled as
        # make run polls it: message events no longer leave on the inbound request.
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

        def receive(limit: int) -> list[dict[str, Any]]:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=limit, WaitTimeSeconds=0,
                                      AttributeNames=["All"], MessageAttributeNames=["All"])
            return list(got.get("Messages") or [])

        def delete(messages: list[dict[str, Any]]) -> None:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])  # fmt: skip

        # Attribution only (not in the rates' definition): where handler() time goes, per AWS operation
        # and for the webhook POST, summed over every invocation of the throughput runs.
        spent_in: dict[str, float] = {}
        calls_of: dict[str, int] = {}
        timing = {"on": False}
        open_calls: dict[int, tuple[float, str]] = {}
        table_names = {env[k]: k.removesuffix("_TABLE").lower() for k in env if k.endswith("_TABLE")}

        def before(model: Any, params: dict[str, Any], **_: Any) -> None:
            name = f"{model.service_model.service_name} {model.name}"
            if model.service_model.service_name == "dynamodb":
                request = json.loads(params.get("body") or b"{}")
                where = table_names.get(str(request.get("TableName")), "?")
                name += f" {where}" + (f"/{request['IndexName']}" if request.get("IndexName") else "")
            open_calls[id(model)] = (time.perf_counter(), name)

        def after(model: Any, **_: Any) -> None:
            started, name = open_calls.pop(id(model), (None, ""))
            if timing["on"] and started is not None:
                spent_in[name] = spent_in.get(name, 0.0) + time.perf_counter() - started
                calls_of[name] = calls_of.get(name, 0) + 1

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
                if timing["on"]:
                    spent_in["webhook POST (httpx)"] = spent_in.get("webhook POST (httpx)", 0.0) + (
                        time.perf_counter() - started)
                    calls_of["webhook POST (httpx)"] = calls_of.get("webhook POST (httpx)", 0) + 1

        sender.post = timed_post  # type: ignore[method-assign]
        handler_total = {"s": 0.0, "n": 0}

        def invoke(messages: list[dict[str, Any]]) -> float:
            started = time.perf_counter()
            answer = events_handler.handler(sqs_event(messages, queue_arn), LambdaContext())
            took = time.perf_counter() - started
            if timing["on"]:
                handler_total["s"] += took
                handler_total["n"] += len(messages)
            if answer.get("batchItemFailures"):
                raise RuntimeError(f"processor failed records: {answer['batchItemFailures']}")
            return took

        def stats() -> dict[str, Any]:
            return dict(http.get(f"{base}/stats").json())

        # The events, built and queued by the real worker-proxy code.
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

        def throughput(batch_size: int, hooks: int) -> tuple[float, int, float]:
            """(handler seconds, invocations, wall seconds incl. SQS for the fan-out pass)."""
            before = stats()["valid"]
            wall = time.perf_counter()
            spent, invocations = 0.0, 0
            for i in range(0, len(originals), batch_size):
                spent += invoke(originals[i:i + batch_size])
                invocations += 1
            if hooks > 1:  # the copies the fan-out put back on the queue, one per webhook
                while copies := receive(batch_size):
                    spent += invoke(copies)
                    invocations += 1
                    delete(copies)
            wall = time.perf_counter() - wall
            delivered = stats()["valid"] - before
            if delivered != len(originals) * hooks:
                raise RuntimeError(f"{delivered} valid deliveries, expected {len(originals) * hooks}")
            return spent, invocations, wall

        results: dict[tuple[int, int], list[tuple[float, int, float]]] = {}

        def run_scenarios(hooks: int) -> None:
            invoke(originals[:1])  # warm: the handler's clients and the receiver's connection
            if hooks > 1:
                while copies := receive(10):
                    invoke(copies)
                    delete(copies)
            for _ in range(args.reps):
                for batch_size in (1, 10):
                    timing["on"] = hooks == 1
                    results.setdefault((hooks, batch_size), []).append(throughput(batch_size, hooks))
                    timing["on"] = False

        add_webhook(0)
        run_scenarios(1)

        # Latency, 1 webhook: inbound POST → webhook arrival, one message at a time.
        stages: dict[str, list[float]] = {k: [] for k in ("post", "queue", "to_receiver", "total", "handler")}
        pending: list[tuple[str, float, float, float, float]] = []
        outbox.start()  # in the background, every POLL_INTERVAL_S, as make run runs it
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

    print(f"events processor: real handler, moto in-process, receiver = uvicorn in its own process on loopback; "
          f"python {sys.version.split()[0]}, nproc {os.cpu_count()}")
    print(f"signatures checked by the receiver: {final['valid']} valid, {final['invalid']} invalid\n")
    print(f"Throughput: {args.events} MESSAGE_INBOUND events per run, {args.reps} runs per row "
          "(median, min-max); time = handler() only")
    print(f"{'webhooks':>8} {'batch':>5} {'invocations':>11} {'events/s':>9} {'range':>13} {'deliveries/s':>12} "
          f"{'ms/event':>8} {'wall events/s':>13}")
    print(f"{'-' * 8} {'-' * 5} {'-' * 11} {'-' * 9} {'-' * 13} {'-' * 12} {'-' * 8} {'-' * 13}")
    baseline = statistics.median(args.events / s for s, _, _ in results[(1, 1)])
    for (hooks, batch_size), runs in sorted(results.items()):
        rates = [args.events / spent for spent, _, _ in runs]
        walls = [args.events / wall for _, _, wall in runs]
        rate = statistics.median(rates)
        print(f"{hooks:>8} {batch_size:>5} {runs[0][1]:>11} {rate:>9.1f} {min(rates):>6.1f}-{max(rates):<6.1f} "
              f"{rate * hooks:>12.1f} {1000 / rate:>8.2f} {statistics.median(walls):>13.1f}"
              f"   ({rate / baseline:.2f}x of 1 webhook, batch 1)")
    print("  wall events/s: the same runs timed end to end, including SQS receive/delete of the fan-out copies")

    print(f"\nWhere handler() time goes, 1 webhook, all its throughput runs ({handler_total['n']} records, "
          f"{handler_total['s'] * 1000 / handler_total['n']:.2f} ms per record)")
    print(f"{'part':<32} {'calls/record':>12} {'ms/call':>8} {'ms/record':>9} {'share':>6}")
    print(f"{'-' * 32} {'-' * 12} {'-' * 8} {'-' * 9} {'-' * 6}")
    accounted = 0.0
    for name, seconds in sorted(spent_in.items(), key=lambda kv: -kv[1]):
        accounted += seconds
        print(f"{name:<32} {calls_of[name] / handler_total['n']:>12.2f} {seconds * 1000 / calls_of[name]:>8.2f} "
              f"{seconds * 1000 / handler_total['n']:>9.2f} {seconds / handler_total['s']:>6.0%}")
    rest = handler_total["s"] - accounted
    print(f"{'rest (Powertools, JSON, HMAC)':<32} {'':>12} {'':>8} {rest * 1000 / handler_total['n']:>9.2f} "
          f"{rest / handler_total['s']:>6.0%}")

    print(f"\nLatency inbound → webhook, 1 webhook, {args.latency} messages one at a time (ms)")
    print(f"{'stage':<58} {'p50':>7} {'p99':>7}")
    print(f"{'-' * 58} {'-' * 7} {'-' * 7}")
    for key, label in (("post", "POST /worker-proxy/inbound (DynamoDB write)"),
                       ("queue", "stream poll (150 ms) + outbox publish → first receive"),
                       ("to_receiver", "handler start → receiver arrival"),
                       ("handler", "handler() total (incl. receiver's answer)"),
                       ("total", "TOTAL inbound POST start → receiver arrival")):
        values = stages[key]
        print(f"{label:<58} {statistics.median(values):>7.2f} {percentile(values, 0.99):>7.2f}")
    return 0


def _up(http: Any, base: str) -> bool:
    try:
        return bool(http.get(f"{base}/health", timeout=1).status_code == 200)
    except Exception:
        return False


if __name__ == "__main__":
    sys.exit(main())
