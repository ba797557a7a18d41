"""Cold start of every Lambda in template.yaml, against a bare-libraries baseline, in fresh processes.

For each AWS::Serverless::Function (Handler "module.attr") a fresh interpreter measures, with
time.perf_counter:
  import       importing the handler module (what Lambda's init phase does);
  import+1st   that, plus serving a first real request through the Lambda handler itself
               (an API Gateway HTTP API v2 event and a fake LambdaContext), against moto;
  warm 2nd     a second, identical request in the same process (steady state, for contrast);
and time.process_time over the same spans (CPU time: what other processes' load barely moves).
The baseline is a fresh interpreter running `import fastapi, mangum, boto3, pydantic,
aws_lambda_powertools`. Runs are interleaved (baseline, fn1, fn2, baseline, ...) so that machine
noise hits every column alike; the table gives median and min, and the ratios are medians over
the baseline's median from the same run. No timing is asserted: the target (<= 1.25x) is reported.

The first request is real: a moto server in this process holds the tables and the secret created
from template.yaml, and each child gets its function's template environment plus AWS_ENDPOINT_URL,
so the worker-proxy reads its bearer secret from Secrets Manager and both APIs query DynamoDB.
Powertools metrics stay enabled as in Lambda; the children's stdout (logs, EMF) is captured and dropped.

--explain adds, per function, one child under -X importtime: what the handler imports beyond the
baseline, what the first request imports lazily, boto3 client creation and AWS call times, garbage
collection during the first request, and what compiling our own sources would cost.

--compare REV also measures every function of git revision REV (its own template.yaml and source,
exported to a temporary directory) in the same interleaved run, and gives per function the
work/REV ratios of the medians with a verdict (cold_start_compare.py says how, and why that way).
Each function child imports only its own tree's code (PYTHONPATH; checked in every child).

--snapstart also measures every function through its SnapStart hooks (cold_start_snapstart.py says what).

Usage: .venv/bin/python bench/cold_start.py [--runs 7] [--warmup 1] [--explain] [--compare REV [--tolerance 1.05]]
       [--json PATH] [--snapstart]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cold_start_compare as compare
import cold_start_snapstart as snapstart

from zapgate_devstack.emulator import LOCAL_CREDENTIALS, REGION, MotoServer, create_template_resources
from zapgate_devstack.template import LocalNames, function_environment, load_template, resources_of_type

BASELINE_MODULES = ("fastapi", "mangum", "boto3", "pydantic", "aws_lambda_powertools")
TARGET_RATIO = 1.25
WORKER_SECRET = "bench-worker-secret-0123456789abcdef"
API_KEY = "bench-api-key-tenant-a-0123456789abcdef"
TENANT = "tenant-a"
ACCOUNT = "123456789012"
API_ID = "bench0api1"
RESULT_MARK = "BENCH-RESULT"

# The first request each API serves: a representative read that touches DynamoDB (and, for the
# worker-proxy, Secrets Manager through the bearer check). Keyed by the HttpApi path prefix.
FIRST_REQUESTS: dict[str, tuple[str, str, dict[str, str]]] = {
    "/worker-proxy": (
        "/worker-proxy/eligible-instances",
        "limit=50",
        {"authorization": f"Bearer {WORKER_SECRET}"},
    ),
    "/v1": ("/v1/instances", "limit=50", {"x-api-key": API_KEY}),
}


@dataclass(frozen=True)
class HandlerSpec:
    """What a child needs to call one function's Lambda handler."""

    module: str
    attr: str
    context_class: str
    first_event: dict[str, Any]
    warm_event: dict[str, Any]


@dataclass
class Target:
    """One column of work: the baseline (spec None) or one function of the template."""

    label: str
    code: str
    env: dict[str, str]
    spec: HandlerSpec | None = None
    logical_id: str = ""
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: set[int] = field(default_factory=set)


# --------------------------------------------------------------------------- events and child code
def http_api_event(method: str, path: str, query: str, headers: dict[str, str], route_key: str) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, shaped like the ones Lambda receives."""
    request_id = str(uuid.uuid4())
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "host": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
            "user-agent": "zapgate-bench",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            "x-amzn-trace-id": f"Root=1-00000000-{uuid.uuid4().hex[:24]}",
            **headers,
        },
        "queryStringParameters": dict(part.split("=", 1) for part in query.split("&") if part) or None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "zapgate-bench",
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1_767_225_600_000,
        },
        "pathParameters": {"proxy": path.split("/", 2)[-1]},
        "isBase64Encoded": False,
    }


def sqs_event(body: str, attributes: dict[str, str], queue_arn: str) -> dict[str, Any]:
    """One SQS record, as Lambda's SQS poller delivers it."""
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": f"bench-{uuid.uuid4().hex}", "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1767225600000", "SenderId": ACCOUNT,
                       "ApproximateFirstReceiveTimestamp": "1767225600000"},
        "messageAttributes": {name: {"stringValue": value, "dataType": "String", "stringListValues": [],
                                     "binaryListValues": []} for name, value in attributes.items()},
        "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": REGION,
    }]}  # fmt: skip


def dynamodb_stream_event(new_image: dict[str, Any], table_arn: str) -> dict[str, Any]:
    """One INSERT record of a NEW_AND_OLD_IMAGES stream, as Lambda's stream poller delivers it."""
    return {"Records": [{
        "eventID": uuid.uuid4().hex, "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": REGION, "eventSourceARN": f"{table_arn}/stream/2026-01-01T00:00:00.000",
        "dynamodb": {"ApproximateCreationDateTime": 1767225600, "Keys": {"id": new_image["id"]},
                     "NewImage": new_image, "SequenceNumber": "100000000000000000001", "SizeBytes": 200,
                     "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }]}  # fmt: skip


def websocket_connect_event(headers: dict[str, str]) -> dict[str, Any]:
    """API Gateway WebSocket $connect (a server client presenting its API key in a header)."""
    return {
        "headers": {"Host": f"{API_ID}.execute-api.{REGION}.amazonaws.com", **headers},
        "multiValueHeaders": {"Host": [f"{API_ID}.execute-api.{REGION}.amazonaws.com"],
                              **{k: [v] for k, v in headers.items()}},
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "messageDirection": "IN",
                           "connectionId": f"bench{uuid.uuid4().hex[:8]}=", "connectedAt": 1767225600000,
                           "requestId": str(uuid.uuid4()), "apiId": API_ID, "stage": "live",
                           "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
                           "identity": {"sourceIp": "203.0.113.7"}},
        "isBase64Encoded": False,
    }  # fmt: skip


def _inbound_image() -> dict[str, Any]:
    """A stored inbound message in DynamoDB JSON (what a stream record carries)."""
    message_id = str(uuid.uuid4())
    return {
        "id": {"S": message_id}, "tenant_id": {"S": TENANT}, "instance_id": {"S": "bench-instance"},
        "direction": {"S": "inbound"}, "state": {"S": "received"}, "body": {"S": "olá"},
        "from": {"S": "5511988887777@s.whatsapp.net"}, "chat_id": {"S": "5511988887777@s.whatsapp.net"},
        "wa_message_id": {"S": f"BENCH{message_id[:8]}"}, "created_at": {"S": "2026-01-01T00:00:00.000Z"},
        "timeline_sk": {"S": f"1767225600000#{message_id}"},
    }  # fmt: skip


def _sources(template: dict[str, Any], logical_id: str) -> list[str]:
    """What invokes the function: its SAM event types, or "WebSocket" when an ApiGatewayV2 integration names it."""
    props = template["Resources"][logical_id]["Properties"]
    kinds = [event.get("Type", "") for event in props.get("Events", {}).values()]
    for integration in resources_of_type(template, "AWS::ApiGatewayV2::Integration").values():
        if logical_id in repr(integration["Properties"].get("IntegrationUri")):
            kinds.append("WebSocket")
    return kinds


def first_event(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A representative first invocation, by what invokes the function: each touches DynamoDB for real."""
    props = template["Resources"][logical_id]["Properties"]
    kinds = _sources(template, logical_id)
    if "HttpApi" in kinds:
        event = next(e for e in props["Events"].values() if e.get("Type") == "HttpApi")
        path = event["Properties"]["Path"]
        prefix, route_key = path.split("/{", 1)[0], f"{event['Properties'].get('Method', 'ANY')} {path}"
        # A function added later without an entry here still gets timed: a GET on its prefix.
        request_path, query, headers = FIRST_REQUESTS.get(prefix, (prefix, "", {}))
        return http_api_event("GET", request_path, query, headers, route_key)
    variables = (props.get("Environment") or {}).get("Variables") or {}
    if "SQS" in kinds and "AUTOMATIONS_TABLE" in variables:  # the automations runner: a job (instance read)
        job = {
            "tenantId": TENANT,
            "instanceId": "bench-instance",
            "messageId": str(uuid.uuid4()),
            "chatId": "5511988887777@s.whatsapp.net",
            "sender": "5511988887777@s.whatsapp.net",
            "text": "olá",
            "storedAt": "2026-01-01T00:00:00.000Z",
        }
        return sqs_event(json.dumps(job), {}, f"arn:aws:sqs:{REGION}:{ACCOUNT}:bench-automations.fifo")
    if "SQS" in kinds:  # the events processor: an event for a tenant (webhooks and live connections read)
        body = json.dumps(
            {
                "id": str(uuid.uuid4()),
                "type": "INSTANCE_STATUS",
                "instanceId": "bench-instance",
                "timestamp": "2026-01-01T00:00:00.000Z",
                "payload": {"status": "CONNECTED"},
            }
        )
        # Another tenant than the one LiveFunction's $connect registers: a push to the bench's (absent) live
        # endpoint would time the connection errors, not the processor.
        return sqs_event(
            body,
            {"tenantId": f"{TENANT}-events", "eventType": "INSTANCE_STATUS"},
            f"arn:aws:sqs:{REGION}:{ACCOUNT}:bench-events",
        )
    if "DynamoDB" in kinds:  # a stream consumer: one new inbound message
        return dynamodb_stream_event(_inbound_image(), f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/bench")
    if "WebSocket" in kinds and "WORKER_SECRET_ARN" in variables:  # the sidecars' push channel: a sidecar joins
        headers = {"Authorization": f"Bearer {WORKER_SECRET}", "X-Instance-Owner": "bench-sidecar"}
        return websocket_connect_event(headers)
    if "WebSocket" in kinds:  # $connect authenticates (API key) and stores the connection
        return websocket_connect_event({"X-API-Key": API_KEY})
    raise ValueError(f"{logical_id}: no first event for a function invoked by {kinds or 'nothing'}")


# The context object Lambda passes (the attributes Powertools' inject_lambda_context reads).
_CONTEXT_CLASS = """
class _Context:
    def __init__(self, request_id):
        self.function_name = {function_name!r}
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = {memory}
        self.invoked_function_arn = {arn!r}
        self.aws_request_id = request_id
        self.log_group_name = "/aws/lambda/" + self.function_name
        self.log_stream_name = "2026/01/01/[$LATEST]bench"

    def get_remaining_time_in_millis(self):
        return 15_000
"""

# Everything but the timed statements is set up before the first clock read: the event literals
# and the context class cost the same in every child and are not part of a cold start.
_HANDLER_CHILD = """
import sys
import time
{prelude}
{context_class}
_first_event = {first_event!r}
_warm_event = {warm_event!r}
_first_context = _Context("bench-first")
_warm_context = _Context("bench-warm")
_c0 = time.process_time()
_t0 = time.perf_counter()
import {module} as _module
_handler = _module.{attr}
_t1 = time.perf_counter()
_c1 = time.process_time()
_response = _handler(_first_event, _first_context)
_t2 = time.perf_counter()
_c2 = time.process_time()
_handler(_warm_event, _warm_context)
_t3 = time.perf_counter()
{postlude}
sys.stderr.write("\\n{mark} import=%.3f first=%.3f warm=%.3f cpu_import=%.3f cpu_first=%.3f status=%s stray=%s\\n" % (
    (_t1 - _t0) * 1000, (_t2 - _t0) * 1000, (_t3 - _t2) * 1000,
    (_c1 - _c0) * 1000, (_c2 - _c0) * 1000,
    _response.get("statusCode", 500 if _response.get("batchItemFailures") else 200), ",".join(_stray) or "-"))
"""

_BASELINE_CHILD = """
import sys
import time
_c0 = time.process_time()
_t0 = time.perf_counter()
import {modules}
_t1 = time.perf_counter()
_c1 = time.process_time()
sys.stderr.write("\\n{mark} import=%.3f cpu_import=%.3f\\n" % ((_t1 - _t0) * 1000, (_c1 - _c0) * 1000))
"""


def child_env(extra: dict[str, str], pycache: Path) -> dict[str, str]:
    """The parent's environment minus anything AWS/Powertools, plus `extra`.

    Bytecode is cached under a private prefix (PYTHONPYCACHEPREFIX) even when the shell sets
    PYTHONDONTWRITEBYTECODE: otherwise our own modules, which have no __pycache__ in the tree,
    would be compiled on every run while the libraries load .pyc files, skewing the comparison.
    The compile cost a package without .pyc would pay is reported by --explain instead.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    # No shared config or credentials files: Lambda has none, and reading them is not free.
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env.update(extra)
    return env


def run_child(code: str, env: dict[str, str], args: tuple[str, ...] = ()) -> tuple[list[str], str]:
    """Run `python [args] -c code`; return the fields of its result line and its stderr."""
    done = subprocess.run(
        [sys.executable, *args, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith(RESULT_MARK)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"child failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return lines[-1].split()[1:], done.stderr


# --------------------------------------------------------------------------- set-up
def function_targets(
    server: MotoServer,
    names: LocalNames,
    pycache: Path,
    *,
    root: Path = compare.ROOT,
    other_roots: Sequence[Path] = (),
    suffix: str = "",
    unresolved: dict[str, str] | None = None,
) -> list[Target]:
    """One target per function of root's template.yaml, its children importing root's code only.

    With `unresolved`, a function whose environment names a resource the local stack lacks (the
    resources come from the work tree's template) is left out and recorded there, not fatal.
    """
    template = load_template(root / "template.yaml")
    path_env, drop = compare.path_setup(root, other_roots)
    memory = template.get("Globals", {}).get("Function", {}).get("MemorySize", 128)
    aws = {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": "bench",  # Lambda hands out temporary credentials
    }
    targets = []
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = resource["Properties"]
        module, attr = props["Handler"].rsplit(".", 1)
        events = [first_event(template, logical_id) for _ in range(2)]
        function_name = f"zapgate-{logical_id}"
        spec = HandlerSpec(
            module=module,
            attr=attr,
            context_class=_CONTEXT_CLASS.format(
                function_name=function_name,
                memory=int(memory),
                arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}",
            ),
            first_event=events[0],
            warm_event=events[1],
        )
        code = _HANDLER_CHILD.format(
            prelude=compare.PATH_PRELUDE.format(drop=drop),
            postlude=compare.postlude(root, other_roots, module),
            context_class=spec.context_class,
            first_event=spec.first_event,
            warm_event=spec.warm_event,
            module=module,
            attr=attr,
            mark=RESULT_MARK,
        )
        try:
            environment = function_environment(template, logical_id, names)
        except KeyError as missing:
            if unresolved is None:
                raise
            unresolved[logical_id] = str(missing)
            continue
        lambda_env = {
            **environment,
            **aws,
            **path_env,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "_HANDLER": props["Handler"],
        }
        targets.append(
            Target(
                label=f"{logical_id}{suffix}",
                code=code,
                env=child_env(lambda_env, pycache),
                spec=spec,
                logical_id=logical_id,
            )
        )
    return targets


def seed(server: MotoServer, names: LocalNames) -> None:
    """An API key and one instance, so both first requests authenticate and return a row."""
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": server.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
        }
    )
    from zapgate_control.adapters.dynamodb.api_keys import put_api_key
    from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore

    put_api_key(names.physical["ApiKeysTable"], API_KEY, TENANT, "bench")
    DynamoInstanceStore(names.physical["InstancesTable"]).create(TENANT, "bench", 0, True)


# --------------------------------------------------------------------------- measuring
def measure(targets: list[Target], runs: int, warmup: int, order: Callable[[int], list[Target]] | None = None) -> None:
    """Every target once per round, in `order(round)` (default: as given)."""
    for round_no in range(warmup + runs):
        for target in order(round_no) if order else targets:
            fields, _ = run_child(target.code, target.env)
            values = dict(item.split("=", 1) for item in fields)
            stray = compare.stray_modules(values.pop("stray", "-"))
            if stray:  # checked in warm-up too: a wrong sys.path must fail before minutes of measuring
                raise RuntimeError(f"{target.label} loaded modules from another tree than its own: {stray}")
            if round_no < warmup:  # fills the bytecode cache and the OS page cache
                continue
            status = values.pop("status", None)
            if status is not None:
                target.statuses.add(int(status) if status.isdigit() else -1)
            for name, value in values.items():
                target.samples[name].append(float(value))
        print(
            f"  round {round_no + 1}/{warmup + runs}{' (warm-up, discarded)' if round_no < warmup else ''}",
            file=sys.stderr,
        )


def _median(target: Target, name: str) -> float:
    return statistics.median(target.samples[name])


def _cell(target: Target, name: str, how: str = "med") -> str:
    values = target.samples.get(name)
    if not values:
        return "-"
    return f"{(statistics.median(values) if how == 'med' else min(values)):.1f}"


def report(baseline: Target, functions: list[Target], runs: int, others: Sequence[Target] = ()) -> bool:
    """Print the table and the ratios; True when every function meets the target.

    `others` (a revision's functions under --compare) are rows of the table only."""
    header = ("target", "import med", "import min", "+1st med", "+1st min", "cpu import", "cpu +1st", "warm 2nd",
              "status")  # fmt: skip
    rows = []
    for target in [baseline, *functions, *others]:
        rows.append(
            (
                target.label,
                _cell(target, "import"),
                _cell(target, "import", "min"),
                _cell(target, "first"),
                _cell(target, "first", "min"),
                _cell(target, "cpu_import"),
                _cell(target, "cpu_first"),
                _cell(target, "warm"),
                ",".join(str(s) for s in sorted(target.statuses)) or "-",
            )
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print(f"\nCold start, {runs} fresh processes per target, ms measured inside each child process\n")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(line.format(*row))
    print(
        f"\n  baseline = import {', '.join(BASELINE_MODULES)}\n"
        + "".join(f"  {t.label} = {t.spec.module}.{t.spec.attr}\n" for t in [*functions, *others] if t.spec)
        + "  import: the handler module; +1st: import and the first request through the handler;\n"
        "  cpu: process CPU time (median) of the same spans, which load from other processes barely moves;\n"
        "  warm 2nd: a second request in the same process (median); status: first responses' HTTP status."
    )

    base = _median(baseline, "import")
    base_min = min(baseline.samples["import"])
    base_cpu = _median(baseline, "cpu_import")
    met = True
    print(f"\nratios to the baseline (median {base:.1f} ms); target for import+1st: <= {TARGET_RATIO:.2f}x")
    for target in functions:
        first = _median(target, "first")
        ok = first / base <= TARGET_RATIO
        met = met and ok
        print(
            f"  {target.label}: import+1st {first / base:.2f}x ({'met' if ok else 'NOT met'}), "
            f"import only {_median(target, 'import') / base:.2f}x"
        )
        # Load from other processes only ever adds wall time: min/min and CPU time are cross-checks.
        print(
            f"    min/min: import+1st {min(target.samples['first']) / base_min:.2f}x, "
            f"import only {min(target.samples['import']) / base_min:.2f}x; "
            f"cpu: import+1st {_median(target, 'cpu_first') / base_cpu:.2f}x, "
            f"import only {_median(target, 'cpu_import') / base_cpu:.2f}x"
        )
        if target.statuses - {200}:
            print(f"  warning: {target.label} answered {sorted(target.statuses)} to its first request")
    return met


# --------------------------------------------------------------------------- --explain
_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")
PHASE_MARK = "BENCH-PHASE"

# One child under -X importtime: the handler import, then the first request. The baseline libraries
# are not imported first: import order changes what gets imported (Powertools' batch module loads
# every parser model when pydantic is already in sys.modules, which it is not when a handler imports
# batch first), so what the handler adds is its imports minus the modules a baseline child holds. botocore client
# creation is wrapped and each AWS call timed (from provide-client-params, the first event of an
# API call, to after-call), so the first request splits into AWS work and the rest; the imports
# listed after the request marker are the ones deferred into the first request.
_EXPLAIN_CHILD = """
import gc
import sys
import time
import botocore.session
{context_class}
_first_event = {first_event!r}
_created = []
_calls = []
_original = botocore.session.Session.create_client

def _create_client(self, service_name, *args, **kwargs):
    started = time.perf_counter()
    client = _original(self, service_name, *args, **kwargs)
    _created.append((service_name, (time.perf_counter() - started) * 1000))
    starts = {{}}

    def _start(model, **_):
        starts[model.name] = time.perf_counter()

    def _end(model, **_):
        elapsed = (time.perf_counter() - starts.pop(model.name)) * 1000
        _calls.append((service_name + "." + model.name, elapsed))

    client.meta.events.register("provide-client-params", _start)
    client.meta.events.register("after-call", _end)
    return client

botocore.session.Session.create_client = _create_client
_gc = {{"ms": 0.0, "full": 0}}
_gc_started = [0.0]

def _on_gc(phase, info):
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        _gc["ms"] += (time.perf_counter() - _gc_started[0]) * 1000
        _gc["full"] += info["generation"] == 2

sys.stderr.write("\\n{phase} import\\n")
sys.stderr.flush()
import {module} as _module
sys.stderr.write("\\n{phase} request\\n")
sys.stderr.flush()
gc.callbacks.append(_on_gc)
_t0 = time.perf_counter()
_response = _module.{attr}(_first_event, _Context("bench-explain"))
_total = (time.perf_counter() - _t0) * 1000
gc.callbacks.remove(_on_gc)
sys.stderr.write("\\n{phase} end\\n")
sys.stderr.flush()
_compile = 0.0
for _name, _mod in list(sys.modules.items()):
    if _name.startswith("zapgate") and getattr(_mod, "__file__", None):
        _started = time.perf_counter()
        with open(_mod.__file__, encoding="utf-8") as _source:
            compile(_source.read(), _mod.__file__, "exec")
        _compile += (time.perf_counter() - _started) * 1000
_parts = ["total=%.1f" % _total, "compile=%.1f" % _compile, "gc=%.1f/%d" % (_gc["ms"], _gc["full"])]
_parts += ["client:%s=%.1f" % c for c in _created] + ["call:%s=%.1f" % c for c in _calls]
sys.stderr.write("\\n{mark} " + " ".join(_parts) + "\\n")
"""


@dataclass(frozen=True)
class Imported:
    module: str
    self_us: int
    cumulative_us: int


def imports_by_phase(stderr: str) -> dict[str, list[Imported]]:
    """-X importtime lines grouped by the phase marker that precedes them."""
    phases: dict[str, list[Imported]] = defaultdict(list)
    phase = "setup"
    for line in stderr.splitlines():
        if line.startswith(PHASE_MARK):
            phase = line.split()[1]
            continue
        match = _IMPORTTIME.match(line)
        if match:
            self_us, cumulative_us, _, module = match.groups()
            phases[phase].append(Imported(module, int(self_us), int(cumulative_us)))
    return phases


def _print_imports(title: str, rows: list[Imported], top: int) -> None:
    by_package: dict[str, int] = defaultdict(int)
    for row in rows:
        by_package[row.module.split(".")[0]] += row.self_us
    print(f"  {title}: {len(rows)} modules, {sum(r.self_us for r in rows) / 1000:.1f} ms self time")
    if not rows:
        return
    packages = sorted(by_package.items(), key=lambda kv: -kv[1])[:top]
    print("    by top-level package: " + ", ".join(f"{name} {us / 1000:.1f}" for name, us in packages))
    print("    slowest modules (self ms, cumulative ms):")
    for row in sorted(rows, key=lambda r: -r.self_us)[:top]:
        print(f"      {row.module:<58} {row.self_us / 1000:6.1f} {row.cumulative_us / 1000:8.1f}")


_BASELINE_MODULES_CHILD = """
import sys
import {baseline}
import botocore.session
sys.stderr.write("\\n{mark} " + " ".join(sorted(sys.modules)) + "\\n")
"""


def baseline_module_names(env: dict[str, str]) -> set[str]:
    """Every module a fresh interpreter holds after importing the baseline libraries."""
    fields, _ = run_child(_BASELINE_MODULES_CHILD.format(baseline=", ".join(BASELINE_MODULES), mark=RESULT_MARK), env)
    return set(fields)


def explain(functions: list[Target]) -> None:
    """What each handler adds on top of the baseline: imports, then the work of its first request."""
    in_baseline = baseline_module_names(functions[0].env) if functions else set()
    for target in functions:
        spec = target.spec
        assert spec is not None
        code = _EXPLAIN_CHILD.format(
            context_class=spec.context_class,
            first_event=spec.first_event,
            module=spec.module,
            attr=spec.attr,
            phase=PHASE_MARK,
            mark=RESULT_MARK,
        )
        fields, stderr = run_child(code, target.env, ("-X", "importtime"))
        phases = imports_by_phase(stderr)
        values = dict(item.split("=", 1) for item in fields)
        total = float(values.pop("total"))
        compile_ms = float(values.pop("compile"))
        gc_ms, gc_full = values.pop("gc").split("/")
        aws_ms = sum(float(v) for v in values.values())

        print(f"\n{target.label} (one run under -X importtime, which itself adds a little)")
        added = [row for row in phases["import"] if row.module not in in_baseline]
        _print_imports("imported by the handler module beyond the baseline", added, 8)
        _print_imports("imported lazily during the first request", phases["request"], 5)
        print(f"  first request after import: {total:.1f} ms, of which (overlapping the lines below)")
        print(f"    {'garbage collection, ' + gc_full + ' full collection(s)':<56} {float(gc_ms):6.1f}")
        for name, value in values.items():
            print(f"    {name:<56} {float(value):6.1f}")
        rest = "the rest (routing, validation, serialisation, lazy imports)"
        print(f"    {rest:<56} {total - aws_ms:6.1f}")
        print(f"  compiling our modules from source (per cold start if no .pyc ships): {compile_ms:.1f} ms")


# --------------------------------------------------------------------------- --compare REV
@dataclass
class Revision:
    """A revision's functions, measured beside the work tree's (see cold_start_compare.py)."""

    name: str
    sha: str
    targets: dict[str, Target]  # by logical id
    pairing: compare.Pairing
    unresolved: dict[str, str]  # logical id -> what its environment names that the local stack lacks
    resources_missing: list[str]  # resources REV's template declares and the work tree's does not


def revision(
    name: str, root: Path, sha: str, server: MotoServer, names: LocalNames, pycache: Path, work: list[Target]
) -> Revision:
    unresolved: dict[str, str] = {}
    targets = function_targets(
        server, names, pycache, root=root, other_roots=[compare.ROOT], suffix=f"@{name}", unresolved=unresolved
    )
    rev_ids = [*(t.logical_id for t in targets), *unresolved]
    pairing = compare.pair_functions([t.logical_id for t in work], rev_ids)
    work_resources = load_template()["Resources"]
    missing = [
        logical_id
        for logical_id, resource in load_template(root / "template.yaml")["Resources"].items()
        if logical_id not in work_resources and resource.get("Type") != "AWS::Serverless::Function"
    ]
    kept = {t.logical_id: t for t in targets if t.logical_id in pairing.both}
    return Revision(name, sha, kept, pairing, unresolved, missing)


def report_comparison(functions: list[Target], rev: Revision, tolerance: float, loads: tuple[float, float]) -> str:
    """Per shared function, work/REV ratios of the medians and a verdict; returns the overall verdict."""
    pairs = [(t, rev.targets[t.logical_id]) for t in functions if t.logical_id in rev.targets]
    rows = [compare.compare(work.logical_id, work.samples, old.samples, tolerance) for work, old in pairs]
    print(
        f"\nwork tree vs {rev.name} ({rev.sha[:12]}), same interleaved run: ratio = median(work) / median({rev.name});"
        f"\nverdicts on import+1st: no worse <= {tolerance:.2f}x; above it, WORSE if the 90% interval excludes 1.00,"
        " else inconclusive\n"
    )
    print("\n".join(compare.comparison_table(rows, rev.name)))
    for work, old in pairs:
        if work.statuses != old.statuses:
            here, there = sorted(work.statuses), sorted(old.statuses)
            print(f"  note: {work.logical_id} answered {here} here, {there} at {rev.name}")
    if rev.pairing.only_work:
        print(f"  only in the work tree (not compared): {', '.join(rev.pairing.only_work)}")
    if rev.pairing.only_rev:
        print(f"  only in {rev.name} (not compared): {', '.join(rev.pairing.only_rev)}")
    for logical_id, missing in rev.unresolved.items():
        print(f"  {logical_id}@{rev.name} needs a resource the work tree's template lacks: {missing}")
    if rev.resources_missing:
        missing_resources = ", ".join(rev.resources_missing)
        print(f"  resources {rev.name}'s template declares and the work tree's lacks: {missing_resources}")
    return "\n  ".join([*compare.summary(rows), *compare.load_note(*loads, os.cpu_count() or 1)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="measured fresh processes per target (default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="discarded rounds before measuring (default 1)")
    parser.add_argument("--explain", action="store_true", help="also break down what each handler adds")
    parser.add_argument("--compare", metavar="REV", help="also measure REV's functions in the same run, and compare")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write every sample, by target, to PATH")
    parser.add_argument(
        "--snapstart",
        action="store_true",
        help="also measure each function through its SnapStart hooks (cold_start_snapstart.py)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=compare.DEFAULT_TOLERANCE,
        help=f"--compare: work/REV ratio still 'no worse' (default {compare.DEFAULT_TOLERANCE})",
    )
    args = parser.parse_args()

    server = MotoServer().start()
    try:
        names = create_template_resources(server, secrets={"WorkerSecret": WORKER_SECRET}, prefix="bench")
        seed(server, names)
        with ExitStack() as cleanup:
            pycache = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="zapgate-bench-pycache-")))
            baseline = Target(
                label="baseline",
                code=_BASELINE_CHILD.format(modules=", ".join(BASELINE_MODULES), mark=RESULT_MARK),
                env=child_env({}, pycache),
            )
            rev: Revision | None = None
            if args.compare:
                rev_root, sha = cleanup.enter_context(compare.exported_revision(args.compare))
                functions = function_targets(server, names, pycache, other_roots=[rev_root])
                rev = revision(args.compare, rev_root, sha, server, names, pycache, functions)
            else:
                functions = function_targets(server, names, pycache)
            machine = f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
            print(f"{machine}; moto at {server.endpoint}", file=sys.stderr)
            load_before = os.getloadavg()[0]
            snaps = snapstart.snap_targets(functions, RESULT_MARK) if args.snapstart else []
            if rev is None:
                measure([baseline, *functions, *snaps], args.runs, args.warmup)
            else:
                work, paired = [(t.logical_id, t) for t in functions], rev.targets
                measure([], args.runs, args.warmup,
                        lambda n: [*compare.round_order(baseline, work, paired, n), *snaps])  # fmt: skip
            met = report(baseline, functions, args.runs, list(rev.targets.values()) if rev else ())
            if snaps:
                snapstart.report(baseline, functions, snaps)
            if args.json:
                measured = [baseline, *functions, *(rev.targets.values() if rev else ()), *snaps]
                args.json.write_text(json.dumps({t.label: t.samples for t in measured}, indent=1))
            if rev is not None:
                loads = (load_before, os.getloadavg()[0])
                print(f"\ncold start vs {rev.name}:\n  {report_comparison(functions, rev, args.tolerance, loads)}")
            if args.explain:
                explain(functions)
    finally:
        server.stop()
    print(f"\ntarget {'met' if met else 'NOT met'} (informational: this script asserts nothing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
