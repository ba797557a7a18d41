"""DynamoDB requests per operation for the outbound lifecycle and for inbound messages.

The real FastAPI apps (public API and worker-proxy) are driven with TestClient against moto, with
tables created from template.yaml. Every DynamoDB API call the apps make goes through the one
cached client zapgate_control.aws.client("dynamodb"); a botocore `before-parameter-build.dynamodb` hook on
that exact client counts calls by operation name and attributes them to the current stage.
Set-up calls (creating the instance, making it CONNECTED) are not counted.

Scenarios:
  outbound, one at a time   send -> poll -> mark-sent for each message (the poll finds one message)
  outbound, burst           send all, then poll (limit 10) until the queue is empty, then mark each
  inbound                   plain message; @lid sender with sender_pn (learns a mapping); duplicate
Figures are per message, averaged over --messages (default 50). Targets: <= 3 writes per outbound
lifecycle, <= 2 writes per inbound, 0 scans anywhere. Nothing is asserted: the table reports.

Usage: .venv/bin/python bench/dynamodb_ops.py [--messages 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from zapgate_devstack.emulator import LOCAL_CREDENTIALS, REGION, MotoServer, create_template_resources
from zapgate_devstack.template import function_environment, load_template, resources_of_type

WORKER_SECRET = "bench-worker-secret-0123456789abcdef"
API_KEY = "bench-api-key-tenant-a-0123456789abcdef"
TENANT = "tenant-a"
SEND_ROUTE = "/v1/instances/{instance_id}/messages"
HEARTBEAT_ROUTE = "/worker-proxy/heartbeat"
HEARTBEAT_STAGE = "(heartbeat wake-up, sidecar holds 1 lock)"
SIDECAR = "bench-host:1"
LOCK_TTL_MS = 60_000
IDLE_WAIT_MS = 1_000
MAX_OUTBOUND_WRITES = 3
MAX_INBOUND_WRITES = 2

# What each operation costs. Batch and transactional calls count their items, because DynamoDB
# bills (and throttles) each item of them as one read or write.
READS = {"GetItem", "Query", "BatchGetItem", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
SCANS = {"Scan"}
# SQS on the request path (events): message events left it for the outbox (MessagesTable's stream).
SQS_SENDS = {"SendMessage", "SendMessageBatch"}


@dataclass
class Tally:
    """DynamoDB work of one stage, over `samples` messages."""

    samples: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    reads: int = 0
    writes: int = 0
    scans: int = 0
    sqs: int = 0  # SQS sends made by the request itself

    def per(self, value: int) -> float:
        return value / self.samples if self.samples else 0.0


class DynamoCounter:
    """Counts calls on one botocore client, attributed to whichever stage is active."""

    def __init__(self) -> None:
        self.stages: dict[str, Tally] = {}
        self._current: Tally | None = None

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        tally = self._current
        if tally is None:  # set-up traffic
            return
        name = model.name
        tally.operations[name] += 1
        if name == "BatchWriteItem":
            tally.writes += sum(len(requests) for requests in params.get("RequestItems", {}).values())
        elif name == "TransactWriteItems":
            tally.writes += len(params.get("TransactItems", []))
        elif name == "BatchGetItem":
            tally.reads += sum(len(spec.get("Keys", [])) for spec in params.get("RequestItems", {}).values())
        elif name == "TransactGetItems":
            tally.reads += len(params.get("TransactItems", []))
        elif name in WRITES:
            tally.writes += 1
        elif name in READS:
            tally.reads += 1
        elif name in SCANS:
            tally.scans += 1
        elif name in SQS_SENDS:
            tally.sqs += 1

    @contextmanager
    def stage(self, name: str, samples: int = 1) -> Iterator[None]:
        """Count the calls made inside the block under `name`; `samples` messages were handled."""
        tally = self.stages.setdefault(name, Tally())
        tally.samples += samples
        self._current = tally
        try:
            yield
        finally:
            self._current = None


# --------------------------------------------------------------------------- set-up
def configure(server: MotoServer) -> dict[str, str]:
    """Template resources in moto and every function's template environment in os.environ."""
    names = create_template_resources(server, secrets={"WorkerSecret": WORKER_SECRET}, prefix="bench")
    template = load_template()
    env: dict[str, str] = {}
    for logical_id in resources_of_type(template, "AWS::Serverless::Function"):
        env.update(function_environment(template, logical_id, names))
    env.update(
        {
            "AWS_ENDPOINT_URL": server.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
            # Counting requests needs neither the EMF lines nor one INFO log per request on stdout.
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.update(env)
    # Settings, stores and clients are cached per process: drop anything built before the env was set.
    from zapgate_control import aws, settings, wiring

    settings.get_settings.cache_clear()
    wiring.get_stores.cache_clear()
    aws.client.cache_clear()
    return env


def _ok(response: Any, what: str, expected: int = 200) -> dict[str, Any]:
    if response.status_code != expected:
        raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def public_send_available() -> bool:
    """True when the public API app imports and has the send route (it was being written alongside)."""
    try:
        from zapgate_public_api.app import app
    except ImportError:
        return False
    # The OpenAPI document, not app.routes: included routers need not appear there as flat routes.
    return "post" in app.openapi().get("paths", {}).get(SEND_ROUTE, {})


# --------------------------------------------------------------------------- scenarios
def worker_route_available(path: str) -> bool:
    from zapgate_worker_proxy.app import app

    return path in app.openapi().get("paths", {})


def outbound(env: dict[str, str], counter: DynamoCounter, messages: int, use_api: bool, heartbeat: bool) -> None:
    from fastapi.testclient import TestClient

    from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_core.contract.outbound_content import OutboundContent
    from zapgate_worker_proxy.app import app as worker_app

    worker = TestClient(worker_app, headers={"Authorization": f"Bearer {WORKER_SECRET}"})
    public: TestClient | None = None
    if use_api:
        from zapgate_public_api.app import app as public_app

        public = TestClient(public_app, headers={"X-API-Key": API_KEY})

    def new_connected_instance() -> tuple[str, str]:
        """An instance as a sidecar leaves it: locked by that sidecar, then reported CONNECTED."""
        instance = DynamoInstanceStore(env["INSTANCES_TABLE"]).create(TENANT, "bench", 0, True)
        lock = _ok(worker.post("/worker-proxy/instance-lock/acquire", json={
            "instanceId": instance.id, "instance_owner": SIDECAR, "ttl_ms": LOCK_TTL_MS,
        }), "lock acquire")  # fmt: skip
        _ok(worker.post("/worker-proxy/update-status", json={
            "instanceId": instance.id, "status": "CONNECTED", "lock_token": lock["lock_token"],
            "jid": "5511900000000@s.whatsapp.net", "push_name": "bench",
        }), "update-status")  # fmt: skip
        return str(instance.id), str(lock["lock_token"])

    def send(instance_id: str, n: int) -> str:
        content = {"to": "5511999999999", "body": f"bench message {n}"}
        if public is not None:
            answer = _ok(public.post(SEND_ROUTE.format(instance_id=instance_id), json=content), "send", 202)
            return str(answer["id"])
        store = DynamoMessageStore(env["MESSAGES_TABLE"])
        return store.enqueue(TENANT, instance_id, OutboundContent.model_validate(content)).id

    def wake(instance_id: str, token: str) -> None:
        """The sidecar's heartbeat (renews its one lock) returning because this instance has work."""
        answer = _ok(worker.post(HEARTBEAT_ROUTE, json=heartbeat_body({instance_id: token}, wait_ms=0)), "heartbeat")
        if use_api and answer.get("ready") != [instance_id]:  # enqueue without the API sets no owner
            raise RuntimeError(f"heartbeat answered ready={answer.get('ready')}, expected [{instance_id}]")

    def poll(instance_id: str) -> list[str]:
        body = _ok(worker.get("/worker-proxy/queued-messages", params={"instanceId": instance_id}), "poll")
        return [str(m["id"]) for m in body["messages"]]

    def mark(message_id: str) -> None:
        _ok(worker.post("/worker-proxy/mark-sent", json={
            "messageId": message_id, "wa_message_id": f"3EB0{message_id[:8].upper()}",
            "send_debug": {"attempt": 1},
        }), "mark-sent")  # fmt: skip

    send_stage = "send (public API)" if use_api else "send (store.enqueue, no API)"

    # One at a time: what a quiet instance costs, every poll paying its own Query.
    instance_id, token = new_connected_instance()
    for n in range(messages):
        with counter.stage(f"one-at-a-time/{send_stage}"):
            sent = send(instance_id, n)
        if heartbeat:
            with counter.stage(f"one-at-a-time/{HEARTBEAT_STAGE}"):
                wake(instance_id, token)
        with counter.stage("one-at-a-time/poll queued-messages"):
            claimed = poll(instance_id)
        if claimed != [sent]:
            raise RuntimeError(f"poll returned {claimed}, expected [{sent}]")
        with counter.stage("one-at-a-time/mark-sent"):
            mark(sent)

    # Burst: a busy instance, where one wake-up and one poll's Query serve up to `limit` claims.
    instance_id, token = new_connected_instance()
    with counter.stage(f"burst/{send_stage}", messages):
        sent_ids = {send(instance_id, n) for n in range(messages)}
    if heartbeat:
        with counter.stage(f"burst/{HEARTBEAT_STAGE}", messages):
            wake(instance_id, token)
    claimed_ids: list[str] = []
    with counter.stage("burst/poll until empty", messages):
        while batch := poll(instance_id):
            claimed_ids.extend(batch)
    if set(claimed_ids) != sent_ids:
        raise RuntimeError(f"burst claimed {len(claimed_ids)} of {len(sent_ids)} messages")
    with counter.stage("burst/mark-sent", messages):
        for message_id in claimed_ids:
            mark(message_id)

    if heartbeat:
        # An idle sidecar's long-poll: what it costs per call while no message comes.
        with counter.stage(f"heartbeat/idle long-poll, wait_ms={IDLE_WAIT_MS}, 1 lock (per call)"):
            answer = _ok(worker.post(HEARTBEAT_ROUTE, json=heartbeat_body({instance_id: token}, IDLE_WAIT_MS)), "hb")
        if answer.get("ready"):
            raise RuntimeError(f"idle heartbeat found work: {answer}")


def heartbeat_body(locks: dict[str, str], wait_ms: int) -> dict[str, Any]:
    return {
        "instance_owner": SIDECAR,
        "ttl_ms": LOCK_TTL_MS,
        "locks": [{"instanceId": i, "lock_token": t} for i, t in locks.items()],
        "wait_ms": wait_ms,
    }


def inbound(env: dict[str, str], counter: DynamoCounter, messages: int) -> None:
    from fastapi.testclient import TestClient

    from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
    from zapgate_worker_proxy.app import app as worker_app

    worker = TestClient(worker_app, headers={"Authorization": f"Bearer {WORKER_SECRET}"})
    instance_id = DynamoInstanceStore(env["INSTANCES_TABLE"]).create(TENANT, "bench", 0, True).id

    def payload(n: int, **overrides: Any) -> dict[str, Any]:
        # The existing Node worker's payload shape (tests/integration/test_worker_proxy_inbound_*).
        return {
            "instanceId": instance_id,
            "from": "5511988887777@s.whatsapp.net",
            "to": "5511999999999:7@s.whatsapp.net",
            "body": f"olá {n}",
            "wa_message_id": f"3EB0PLAIN{n:06d}",
            "from_me": False,
            "chat_id_norm": "5511988887777@s.whatsapp.net",
            "sender_jid_raw": "5511988887777@s.whatsapp.net",
            "push_name": "Maria",
            "timestamp": 1_764_000_000 + n,
            **overrides,
        }

    def post(body: dict[str, Any], duplicate: bool) -> None:
        answer = _ok(worker.post("/worker-proxy/inbound", json=body), "inbound")
        if answer.get("duplicate") is not duplicate:
            raise RuntimeError(f"inbound answered {answer}, expected duplicate={duplicate}")

    for n in range(messages):
        with counter.stage("inbound/plain"):
            post(payload(n), duplicate=False)
    for n in range(messages):
        lid = f"{100000000000000 + n}@lid"
        body = payload(n, wa_message_id=f"3EB0LID{n:06d}", sender_jid_raw=lid, sender_pn="5511977776666",
                       chat_id_norm=lid, **{"from": lid})  # fmt: skip
        with counter.stage("inbound/@lid sender + sender_pn (learns mapping)"):
            post(body, duplicate=False)
    for n in range(messages):
        with counter.stage("inbound/duplicate of a plain one"):
            post(payload(n), duplicate=True)


# --------------------------------------------------------------------------- report
def _num(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def _ops(tally: Tally) -> str:
    return ", ".join(f"{name} {_num(tally.per(count))}" for name, count in sorted(tally.operations.items()))


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _row(name: str, tally: Tally) -> tuple[str, ...]:
    return (name, _num(tally.per(tally.reads)), _num(tally.per(tally.writes)), _num(tally.per(tally.scans)),
            _num(tally.per(tally.sqs)), _ops(tally))  # fmt: skip


def _add(total: Tally, tally: Tally) -> None:
    total.reads += tally.reads
    total.writes += tally.writes
    total.scans += tally.scans
    total.sqs += tally.sqs
    total.operations.update(tally.operations)


def report(counter: DynamoCounter, messages: int, use_api: bool, heartbeat: bool) -> None:
    header = ("scenario / stage", "reads", "writes", "scans", "sqs", "operations")
    # Outbound scenarios get a total per lifecycle (send -> poll -> mark handle the same messages
    # in turn) and, when the sidecar heartbeat exists, a second total that includes its wake-up.
    lifecycle: dict[str, Tally] = {}
    with_wake: dict[str, Tally] = {}
    for name, tally in counter.stages.items():
        scenario = name.split("/", 1)[0]
        if scenario not in ("one-at-a-time", "burst"):
            continue
        _add(with_wake.setdefault(scenario, Tally(samples=tally.samples)), tally)
        if HEARTBEAT_STAGE not in name:
            _add(lifecycle.setdefault(scenario, Tally(samples=tally.samples)), tally)
    ordered: list[tuple[str, ...]] = []
    names = list(counter.stages)
    for i, name in enumerate(names):
        ordered.append(_row(name, counter.stages[name]))
        scenario = name.split("/", 1)[0]
        last_of_scenario = i + 1 == len(names) or not names[i + 1].startswith(scenario + "/")
        if scenario in lifecycle and last_of_scenario:
            ordered.append(_row(f"{scenario}/TOTAL send -> poll -> mark", lifecycle[scenario]))
            if heartbeat:
                ordered.append(_row(f"{scenario}/TOTAL incl. heartbeat wake-up", with_wake[scenario]))
    widths = [max(len(r[i]) for r in [header, *ordered]) for i in range(len(header))]
    aligns = ["<", ">", ">", ">", ">", "<"]
    line = "  ".join(f"{{:{a}{w}}}" for a, w in zip(aligns, widths, strict=True))
    print(f"\nDynamoDB requests per message ({messages} messages per stage; heartbeat/ rows: per call)")
    print("sqs = SQS sends made on the request path (events); message events are published off it by the outbox\n")
    for row in [header, tuple("-" * w for w in widths), *ordered]:
        print(line.format(*row).rstrip())
    if not use_api:
        print(f"\nnote: POST {SEND_ROUTE} was not available; sends went through DynamoMessageStore.enqueue,")
        print("so the public API's own reads (API key, instance) are missing from the send rows.")
    if not heartbeat:
        print(f"\nnote: {HEARTBEAT_ROUTE} does not exist in this tree; no heartbeat rows.")

    print("\ntargets:")
    for scenario, total in lifecycle.items():
        writes = total.per(total.writes)
        extra = ""
        if heartbeat:
            woken = with_wake[scenario].per(with_wake[scenario].writes)
            extra = f"; {_num(woken)} with the heartbeat wake-up (+1 per lock the sidecar holds)"
        print(f"  {scenario}: {_num(writes)} writes per outbound lifecycle (<= {MAX_OUTBOUND_WRITES}): "
              f"{_verdict(writes <= MAX_OUTBOUND_WRITES)}{extra}")  # fmt: skip
    for name, tally in counter.stages.items():
        if name.startswith("inbound/"):
            writes = tally.per(tally.writes)
            print(f"  {name}: {_num(writes)} writes (<= {MAX_INBOUND_WRITES}): "
                  f"{_verdict(writes <= MAX_INBOUND_WRITES)}")  # fmt: skip
    scans = sum(t.scans for t in counter.stages.values())
    print(f"  scans anywhere: {scans} (0): {_verdict(scans == 0)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50, help="messages per stage (default 50)")
    args = parser.parse_args()

    # Starlette's TestClient warns about its httpx backend on import: noise in a report, not a finding.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    server = MotoServer().start()
    try:
        env = configure(server)
        from zapgate_control.adapters.dynamodb.api_keys import put_api_key
        from zapgate_control.aws import client

        put_api_key(env["API_KEYS_TABLE"], API_KEY, TENANT, "bench")
        dynamodb = client("dynamodb")
        counter = DynamoCounter()
        # The apps reach DynamoDB only through this cached client, so one hook sees every call. The hook
        # runs before serialisation: its `params` are the API's (RequestItems, TransactItems), which
        # batch and transaction calls are counted by; before-call would only see the HTTP body.
        dynamodb.meta.events.register("before-parameter-build.dynamodb", counter)
        client("sqs").meta.events.register("before-parameter-build.sqs", counter)  # events the request publishes
        use_api = public_send_available()
        heartbeat = worker_route_available(HEARTBEAT_ROUTE)
        outbound(env, counter, args.messages, use_api, heartbeat)
        inbound(env, counter, args.messages)
        if client("dynamodb") is not dynamodb:  # a cache clear mid-run would hide calls from the hook
            raise RuntimeError("the DynamoDB client was replaced during the run; counts are incomplete")
        report(counter, args.messages, use_api, heartbeat)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
