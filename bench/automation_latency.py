"""Automations (issue 11): inbound → automated reply queued, beside inbound → webhook, in the same run.

Everything real but AWS: moto (in-process, template.yaml resources), the worker-proxy and public API apps
through TestClient, the events outbox's stream poller in a background thread every 150 ms (as make run
and Lambda's ~4 polls a second), and two more threads playing Lambda's SQS pollers: one hands EventsQueue
to the events processor's real handler (webhook POSTs to a receiver on loopback), the other hands
AutomationsQueue to the automations runner's real handler (zapgate_automations.handler). The provider is
the local model server (infra/zapgate_devstack/llm_servers.py) answering at once, so what is timed is
zapgate's own hop, not a model's thinking.

Each inbound message, one at a time, is both a MESSAGE_INBOUND event (→ webhook) and an automation job
(→ a rule's reply, or an agent's: they alternate). Measured from the POST /worker-proxy/inbound start to
(a) the webhook's arrival at the receiver and (b) the reply stored on the send queue (the runner's
handler returned; the sidecar's claim is the same for every send and is not part of this hop).
Per automated reply it counts the runner's DynamoDB requests by operation (botocore events on its
thread) and the provider requests the local model recorded.

Usage: .venv/bin/python bench/automation_latency.py [--messages 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import warnings
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dynamodb_ops import API_KEY, TENANT, WORKER_SECRET, configure

RULE = {"kind": "rule", "name": "Preço", "trigger": {"type": "keyword", "keywords": ["preço"]},
        "reply": {"type": "text", "text": "Banho a partir de R$ 50"}}
AGENT = {"kind": "agent", "name": "Client AI", "audience": "customer", "provider": "openai", "model": "bench",
         "system_prompt": "Você é a recepcionista.", "memory_messages": 20}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Receiver:
    """The webhook endpoint: notes when each event id arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        arrived = self.arrived

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived[str(self.headers.get("X-Zapgate-Event-Id"))] = time.time()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Poller:
    """Lambda's SQS poller for one queue and one handler, in a thread; notes each job's end time."""

    def __init__(self, sqs: Any, queue_url: str, handler: Any, name: str) -> None:
        from zapgate_devstack.events_worker import LambdaContext, sqs_event

        self.sqs, self.queue_url, self.handler = sqs, queue_url, handler
        self.arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sqs_event, self.context = sqs_event, LambdaContext
        self.done: dict[str, float] = {}
        self.failures = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=0,
                                           AttributeNames=["All"], MessageAttributeNames=["All"])
            messages = got.get("Messages") or []
            if not messages:
                time.sleep(0.002)
                continue
            answer = self.handler(self.sqs_event(messages, self.arn), self.context())
            finished = time.time()
            if answer.get("batchItemFailures"):
                self.failures += 1
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            body = json.loads(messages[0]["Body"])
            self.done[str(body.get("messageId") or body.get("payload", {}).get("message", {}).get("id"))] = finished


def inbound_body(instance_id: str, n: int, text: str) -> dict[str, Any]:
    sender = f"55119{n % 50:08d}@s.whatsapp.net"
    return {"instanceId": instance_id, "from": sender, "body": text, "wa_message_id": f"3EB0AUTO{n:06d}",
            "chat_id_norm": sender, "sender_jid_raw": sender, "push_name": "Maria", "timestamp": int(time.time())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100, help="inbound messages timed (default 100)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

    from zapgate_devstack.emulator import MotoServer
    from zapgate_devstack.llm_servers import ServedModel

    server = MotoServer().start()
    model = ServedModel().start()
    receiver = Receiver()
    pollers: list[Poller] = []
    try:
        env = configure(server)
        os.environ["AUTOMATIONS_OPENAI_BASE_URL"] = model.openai_base_url
        os.environ["AUTOMATIONS_OPENAI_API_KEY"] = "bench"
        os.environ["AUTOMATIONS_ALLOW_HTTP"] = "true"
        from zapgate_automations import handler as automations_handler
        from zapgate_control.adapters.dynamodb.api_keys import put_api_key
        from zapgate_control.aws import client
        from zapgate_devstack.stream_worker import StreamWorker
        from zapgate_devstack.template import load_template, stream_sources
        from zapgate_events import handler as events_handler
        from zapgate_public_api.app import app as public_app
        from zapgate_worker_proxy.app import app as worker_app

        events_handler.deps.cache_clear()
        automations_handler.deps.cache_clear()
        put_api_key(env["API_KEYS_TABLE"], API_KEY, TENANT, "bench")
        public = TestClient(public_app, headers={"X-API-Key": API_KEY})
        worker = TestClient(worker_app, headers={"Authorization": f"Bearer {WORKER_SECRET}"})
        instance_id = public.post("/v1/instances", json={"name": "bench"}).json()["id"]
        for body in (RULE, AGENT):
            created = public.post(f"/v1/instances/{instance_id}/automations", json=body)
            if created.status_code != 201:
                raise RuntimeError(f"automation: HTTP {created.status_code} {created.text[:300]}")
        hook = public.post("/v1/webhooks", json={"url": receiver.url})
        if hook.status_code != 201:
            raise RuntimeError(f"webhook: HTTP {hook.status_code} {hook.text[:300]}")

        # The runner's DynamoDB requests, counted on its own thread only.
        runner_thread: dict[str, int | None] = {"id": None}
        current = {"kind": "warm"}  # one message at a time: the runner's requests belong to the current kind
        ddb_calls: Counter[tuple[str, str]] = Counter()
        table_names = {env[k]: k.removesuffix("_TABLE").lower() for k in env if k.endswith("_TABLE")}

        def count(model: Any, params: dict[str, Any], **_: Any) -> None:
            if threading.get_ident() != runner_thread["id"]:
                return
            request = json.loads(params.get("body") or b"{}")
            where = table_names.get(str(request.get("TableName")), "?")
            name = f"{model.name} {where}" + (f"/{request['IndexName']}" if request.get("IndexName") else "")
            ddb_calls[(current["kind"], name)] += 1

        client("dynamodb").meta.events.register("before-call.dynamodb", count)
        (source,) = [s for s in stream_sources(load_template()) if s.function == "EventsPublisherFunction"]
        outbox = StreamWorker(client("dynamodb"), client("dynamodbstreams"), env["MESSAGES_TABLE"], source)
        events = Poller(client("sqs"), env["EVENTS_QUEUE_URL"], events_handler.handler, "events")
        automations = Poller(client("sqs"), env["AUTOMATIONS_QUEUE_URL"], automations_handler.handler, "automations")
        pollers = [events, automations]
        for poller in pollers:
            poller.thread.start()
        runner_thread["id"] = automations.thread.ident
        outbox.start()

        def one(n: int, text: str) -> tuple[str, float]:
            t0 = time.time()
            answer = worker.post("/worker-proxy/inbound", json=inbound_body(instance_id, n, text))
            if answer.status_code != 200:
                raise RuntimeError(f"inbound: HTTP {answer.status_code}")
            message_id = str(answer.json()["id"])
            deadline = time.monotonic() + 20
            while message_id not in automations.done or message_id not in events.done:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"message {message_id}: no reply or no event within 20 s")
                time.sleep(0.001)
            return message_id, t0

        one(10_000, "preço")  # warm: clients, the openai import, the model's connection
        one(10_001, "oi")
        ddb_calls.clear()
        model_before = len(model.model.requests)
        timed: list[tuple[str, float, str]] = []
        for n in range(args.messages):
            kind = "rule" if n % 2 == 0 else "agent"
            current["kind"] = kind
            message_id, t0 = one(n, "qual o preço?" if kind == "rule" else f"oi, tudo bem? {n}")
            timed.append((message_id, t0, kind))
        outbox.stop()
        time.sleep(0.5)  # the last webhook's arrival
        provider_requests = len(model.model.requests) - model_before
    finally:
        for poller in pollers:
            poller.stop.set()
        for poller in pollers:
            poller.thread.join(5)
        model.stop()
        receiver.server.shutdown()
        server.stop()

    from zapgate_core.domain.events import MESSAGE_INBOUND, event_id

    webhook = [(receiver.arrived[event_id(m, MESSAGE_INBOUND)] - t0) * 1000 for m, t0, _ in timed]
    reply = {kind: [(automations.done[m] - t0) * 1000 for m, t0, k in timed if k == kind] for kind in ("rule", "agent")}
    replies = len(timed)
    print(f"automations runner: real handlers, moto in-process, local model answering at once; "
          f"python {sys.version.split()[0]}, nproc {os.cpu_count()}; {replies} messages one at a time, "
          f"rule and agent alternating; failures: runner {automations.failures}, events {events.failures}")
    print(f"\n{'from POST /worker-proxy/inbound start to':<52} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'-' * 52} {'-' * 8} {'-' * 8}")
    for label, values in (("webhook arrival (MESSAGE_INBOUND, 1 webhook)", webhook),
                          ("rule reply queued", reply["rule"]), ("agent reply queued (model answers at once)",
                                                                  reply["agent"])):
        print(f"{label:<52} {statistics.median(values):>8.1f} {percentile(values, 0.99):>8.1f}")
    print(f"\nprovider requests per agent reply: {provider_requests / (replies / 2):.2f}")
    print("the runner's DynamoDB requests per reply (the sidecar wake-up's GetItem of FleetTable is absent here:")
    print("no sidecar holds the instance's lock in this bench)")
    names = sorted({name for _, name in ddb_calls})
    print(f"  {'request':<40} {'rule':>6} {'agent':>6}")
    for name in names:
        print(f"  {name:<40} {ddb_calls[('rule', name)] / (replies / 2):>6.2f} "
              f"{ddb_calls[('agent', name)] / (replies / 2):>6.2f}")
    totals = {kind: sum(v for (k, _), v in ddb_calls.items() if k == kind) / (replies / 2)
              for kind in ("rule", "agent")}
    print(f"  {'total':<40} {totals['rule']:>6.2f} {totals['agent']:>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
