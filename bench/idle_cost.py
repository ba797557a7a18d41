"""Idle cost per instance: every billable AWS unit an idle connected fleet causes, counted on the real
processes, priced with bench/aws_prices.json, for three wake-up designs side by side.

Designs (one sidecar each, the same instances, linked on the sim and CONNECTED, no traffic):
  seed      seed 000's polling, as the Node worker did it: the sidecar with WAKE_MODE=longpoll behind
            bench/sidecar_latency.py's proxy answering 404 to /worker-proxy/heartbeat, so it renews each
            lock every 15 s and polls queued-messages every 2 s per instance; discovery (worker-settings
            + eligible-instances) every DISCOVERY_POLL_MS, worker-settings at every discovery
  longpoll  today's design before the push channel: one heartbeat per renew interval held open
            server-side (the server Queries the owner_queue index every TICK_S = 50 ms); discovery as above
  push      WAKE_MODE=push with the sidecar's own defaults: one WebSocket to SidecarPushApi, a keepalive
            frame every PUSH_KEEPALIVE_MS, a make-before-break reconnect every PUSH_ROTATE_MS, a short
            heartbeat (wait_ms 0) per renew interval, discovery every DISCOVERY_IDLE_MS while the channel
            is up. Printed as "n/a (not in this tree)" when the sidecar has no WAKE_MODE setting.

How it counts. The local stack (tests/e2e/stack.py's LocalStack: `make run`'s processes) runs with a tap
inside the process that runs the functions: the bench writes a sitecustomize.py into its temporary folder
and puts that folder on PYTHONPATH; only the process that receives ZAPGATE_IDLE_COST_TAP (the devstack,
which removes it before starting its children) installs it. The tap
  - times every HTTP request a function's app handles, from the gateway handing it over to the last byte
    of the answer (Lambda duration as handled; billed rounded up to 1 ms, times the function's MemorySize
    from template.yaml), and every WebSocket route invocation the same way;
  - records each WebSocket connection's lifetime (connection-minutes) and each frame in or out (messages,
    per started 32 KB);
  - sees every request that reaches moto: for DynamoDB it computes the units from the items' sizes in moto
    (reads: the items read, index projections for a GSI, summed then rounded for a Query; writes: the item
    before and after, plus every GSI entry written), and names the function request that made it (botocore
    adds a header from a context variable), so units are attributed to request kinds. DynamoDB calls from
    another process are the sidecar's own (its auth state); the devstack's Lambda pollers are told apart.
No function, sidecar or devstack code is changed.

Time. The costs are counted per window (--window s of wall-clock time once a phase's fleet is in place)
and extrapolated to an hour; this is "measure per-interval costs and extrapolate". What the server does on
its own clock runs in real time (the 15 s renewals, the long-poll's 50 ms tick, the seed's 2 s poll). The
slow, sidecar-only intervals are compressed so that a short window sees them, and the request kinds they
drive are scaled back: discovery (DISCOVERY_POLL_MS, DISCOVERY_IDLE_MS, PRESENCE_INTERVAL_MS,
WORKER_SETTINGS_REFRESH_MS) by --k-discovery (10; the loop's own time, measured, is added to both periods:
it waits its interval after each discovery), and the push channel's keepalive and rotation
(PUSH_KEEPALIVE_MS, PUSH_ROTATE_MS, with the $connect/$disconnect invocations and the short heartbeat a
rotation triggers) by --k-push (300). Each periodic stream of requests (one per kind and instance) is
weighted by the share of the window each request stands for (until the next request of the stream), so a
15 s renewal counts as 2.0 in a 30 s window rather than 1 or 3; requests made before the fleet was in place
only time the streams (a deleted instance's last status report is not the idle fleet's). A long-poll
window starts 17 s after the fleet is in place: long-polls the sidecar cut short while taking locks run on
server-side until their deadline. Not compressible, added by calculation: the safety-net queued-messages
poll every runtime.SAFETY_NET_POLL_S (300 s) per instance in the longpoll and push designs, priced from
idle queued-messages requests measured at the end.

N = 1 and 10 are measured; N = 100 is extrapolated linearly from them (units per sidecar = a + b.N, with b
never below 0) unless --n100 measures it. The bench asserts nothing.

Usage: .venv/bin/python bench/idle_cost.py [--window 30] [--designs seed longpoll push] [--n100] [--quick]
         [--k-discovery 10] [--k-push 300] [--detail] [--keep-tap PATH]   (about 4.5 min with the defaults)
       .venv/bin/python bench/idle_cost.py --from-tap PATH [--detail]    (cost a kept run again)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import contextvars
import io
import itertools
import json
import math
import os
import re
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PRICES_PATH = BENCH / "aws_prices.json"
TAP_ENV = "ZAPGATE_IDLE_COST_TAP"
TAP_HEADER = "x-zapgate-idle-cost"
DESIGNS = ("seed", "longpoll", "push")
DESIGN_TITLES = {"seed": "seed 000 polling", "longpoll": "today's long-poll", "push": "push channel"}
GOAL_N10_USD = 0.10  # per idle instance-month with 10 instances per sidecar
GOAL_N1_USD = 0.50  # per idle instance-month for a sidecar holding one instance
GOAL_CONCURRENCY = 0.01  # invocations held open (parked, waiting) per sidecar, on average, below this: "none held"
PUSH_API = "SidecarPushApi"
BACKGROUND = "bg"


# ====================================================================== prices and units (pure)
@dataclass(frozen=True)
class Prices:
    """USD per single unit, from bench/aws_prices.json."""

    taken_on: str
    region: str
    hours_per_month: float
    lambda_gb_second: float
    lambda_request: float
    http_request: float
    http_request_increment: int
    ws_message: float
    ws_message_increment: int
    ws_connection_minute: float
    ddb_wru: float
    ddb_rru: float
    ddb_write_unit_bytes: int
    ddb_read_unit_bytes: int
    sqs_request: float

    @classmethod
    def load(cls, path: Path = PRICES_PATH) -> Prices:
        raw = json.loads(path.read_text())
        million = 1_000_000
        lam, http, ws = raw["lambda"], raw["apigateway_http_api"], raw["apigateway_websocket"]
        ddb, sqs = raw["dynamodb_on_demand"], raw["sqs"]
        return cls(
            taken_on=raw["taken_on"], region=raw["region"], hours_per_month=float(raw["hours_per_month"]),
            lambda_gb_second=lam["usd_per_gb_second_arm64"], lambda_request=lam["usd_per_million_requests"] / million,
            http_request=http["usd_per_million_requests"] / million,
            http_request_increment=int(http["request_increment_bytes"]),
            ws_message=ws["usd_per_million_messages"] / million,
            ws_message_increment=int(ws["message_increment_bytes"]),
            ws_connection_minute=ws["usd_per_million_connection_minutes"] / million,
            ddb_wru=ddb["usd_per_million_write_request_units"] / million,
            ddb_rru=ddb["usd_per_million_read_request_units"] / million,
            ddb_write_unit_bytes=int(ddb["write_unit_bytes"]), ddb_read_unit_bytes=int(ddb["read_unit_bytes"]),
            sqs_request=sqs["usd_per_million_requests"] / million,
        )  # fmt: skip


@dataclass
class Units:
    """Billable units (of one sidecar, over whatever period the caller says)."""

    http_requests: float = 0.0  # API Gateway HTTP API requests
    lambda_requests: float = 0.0  # Lambda invocations (HTTP API and WebSocket routes)
    lambda_gb_seconds: float = 0.0  # billed duration (ms, rounded up) x memory
    ws_messages: float = 0.0  # WebSocket messages, per started 32 KB, both directions
    ws_connection_minutes: float = 0.0
    ddb_rru: float = 0.0
    ddb_wru: float = 0.0
    sqs_requests: float = 0.0
    lambda_busy_seconds: float = 0.0  # not billed as such: concurrency = busy seconds per second
    lambda_held_seconds: float = 0.0  # the part spent in invocations that park, waiting for work

    BILLED = ("http_requests", "lambda_requests", "lambda_gb_seconds", "ws_messages", "ws_connection_minutes",
              "ddb_rru", "ddb_wru", "sqs_requests")

    def __add__(self, other: Units) -> Units:
        return Units(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def scaled(self, factor: float) -> Units:
        return Units(**{f.name: getattr(self, f.name) * factor for f in fields(self)})


UNIT_LABELS = {
    "http_requests": "API Gateway HTTP requests",
    "lambda_requests": "Lambda requests",
    "lambda_gb_seconds": "Lambda GB-seconds",
    "ws_messages": "WebSocket messages",
    "ws_connection_minutes": "WebSocket connection-minutes",
    "ddb_rru": "DynamoDB read units",
    "ddb_wru": "DynamoDB write units",
    "sqs_requests": "SQS requests",
}


def dollars(units: Units, prices: Prices) -> dict[str, float]:
    """USD per unit category (same period as `units`)."""
    return {
        "http_requests": units.http_requests * prices.http_request,
        "lambda_requests": units.lambda_requests * prices.lambda_request,
        "lambda_gb_seconds": units.lambda_gb_seconds * prices.lambda_gb_second,
        "ws_messages": units.ws_messages * prices.ws_message,
        "ws_connection_minutes": units.ws_connection_minutes * prices.ws_connection_minute,
        "ddb_rru": units.ddb_rru * prices.ddb_rru,
        "ddb_wru": units.ddb_wru * prices.ddb_wru,
        "sqs_requests": units.sqs_requests * prices.sqs_request,
    }


def per_instance_month(usd_per_sidecar_hour: float, instances: int, prices: Prices) -> float:
    """A sidecar's cost per hour, shared by the instances it holds, over a month of `hours_per_month`."""
    return usd_per_sidecar_hour * prices.hours_per_month / instances


def lambda_billed_ms(seconds: float) -> int:
    """Lambda bills duration rounded up to the next millisecond (at least 1)."""
    return max(1, math.ceil(seconds * 1000 - 1e-9))


def gb_seconds(billed_ms: float, memory_mb: int) -> float:
    return billed_ms / 1000 * memory_mb / 1024


def increments(size_bytes: int, increment: int) -> int:
    """Requests and messages are metered per started increment (API Gateway: 512 KB / 32 KB; SQS: 64 KB)."""
    return max(1, math.ceil(size_bytes / increment))


def read_units(total_bytes: int, consistent: bool, unit_bytes: int = 4096) -> float:
    """One unit per started 4 KB of what one request reads (a Query's items summed first), at least one;
    half of it when eventually consistent."""
    units = max(1, math.ceil(total_bytes / unit_bytes))
    return float(units) if consistent else units / 2


def write_units(size_bytes: int, unit_bytes: int = 1024) -> int:
    """One unit per started KB of the item written, at least one."""
    return max(1, math.ceil(size_bytes / unit_bytes))


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def number_size(text: str) -> int:
    """DynamoDB stores a number in about 1 byte per two significant digits plus 1 (plus 1 if negative)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return _utf8(text)
    if value.is_zero():
        return 1
    digits = value.as_tuple().digits
    significant = len("".join(map(str, digits)).strip("0")) or 1
    return math.ceil(significant / 2) + 1 + (1 if value < 0 else 0)


def value_size(value: Mapping[str, Any]) -> int:
    """Size of one attribute value in DynamoDB's JSON form ({"S": ...}, {"M": {...}}, ...), per the
    Developer Guide's item-size rules: strings and binaries by length, lists and maps 3 bytes plus 1 per
    element, sets the sum of their elements, booleans and nulls 1 byte."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return _utf8(inner)
    if kind == "N":
        return number_size(inner)
    if kind == "B":
        return len(base64.b64decode(inner)) if isinstance(inner, str) else len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(s) for s in inner)
    if kind == "NS":
        return sum(number_size(n) for n in inner)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) if isinstance(b, str) else len(b) for b in inner)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(_utf8(k) + value_size(v) + 1 for k, v in inner.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Mapping[str, Any] | None) -> int:
    """An item's size: each attribute's name length plus its value's size."""
    if not item:
        return 0
    return sum(_utf8(name) + value_size(value) for name, value in item.items())


@dataclass(frozen=True)
class IndexSpec:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    include: tuple[str, ...] = ()

    def entry(self, item: Mapping[str, Any] | None, table_keys: Sequence[str]) -> dict[str, Any] | None:
        """The item as this index holds it; None when the item is not in the index (a key attribute missing)."""
        if not item or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        wanted = set(table_keys) | set(self.keys) | (set(self.include) if self.projection == "INCLUDE" else set())
        return {name: value for name, value in item.items() if name in wanted}


def index_write_units(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
                      table_keys: Sequence[str], indexes: Iterable[IndexSpec]) -> int:
    """Write units a table write costs in its global secondary indexes: an entry added or removed is one
    write of its size, an index key changed is two (delete + put), a projected attribute changed is one,
    and a write that changes nothing the index holds costs it nothing."""
    total = 0
    for index in indexes:
        old, new = index.entry(before, table_keys), index.entry(after, table_keys)
        if old is None and new is None:
            continue
        if old is None or new is None:
            total += write_units(item_size(old if new is None else new))
        elif any(old[key] != new[key] for key in index.keys):
            total += write_units(item_size(old)) + write_units(item_size(new))
        elif old != new:
            total += write_units(max(item_size(old), item_size(new)))
    return total


def table_write_units(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> int:
    """A put, update or delete pays for the larger of the item before and after it."""
    return write_units(max(item_size(before), item_size(after)))


def stream_weights(starts: Sequence[float], t0: float, t1: float, typical: float | None = None) -> list[float]:
    """How much of the window [t0, t1) each event of one periodic stream stands for.

    Event i stands for the interval until event i+1 (the last one: the stream's median interval); its
    weight is the share of that interval inside the window. For a strictly periodic stream of period P the
    weights add up to (t1 - t0) / P whatever the phase, where plain counting would give the floor or the
    ceiling. When the data has no event before the window (the stream is younger than the window's start)
    and the first one comes within 1.5 intervals, its weight also covers the gap before it: the unseen
    predecessor's share, of the same cost. `typical` is the interval to use when the stream shows fewer
    than two events (the same kind's interval in other streams); without one a lone event counts 1 if inside.
    """
    starts = sorted(starts)
    if not starts:
        return []
    if len(starts) >= 2:
        typical = statistics.median(b - a for a, b in itertools.pairwise(starts))
    elif not typical:
        return [1.0 if t0 <= starts[0] < t1 else 0.0]
    weights = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else start + typical
        span = end - start
        inside = max(0.0, min(end, t1) - max(start, t0))
        weights.append(inside / span if span > 0 else (1.0 if t0 <= start < t1 else 0.0))
    gap = min(starts[0], t1) - t0
    if gap > 0 and typical > 0 and starts[0] - t0 <= 1.5 * typical:
        weights[0] += gap / typical
    return weights


def clipped(start: float, end: float, t0: float, t1: float) -> float:
    return max(0.0, min(end, t1) - max(start, t0))


def extrapolate(at_1: Units, at_10: Units, n: int) -> Units:
    """Units per sidecar at N instances from N = 1 and N = 10, as a + b.N with b >= 0 (more idle instances
    never make a sidecar cheaper; a negative slope is measurement noise)."""
    values = {}
    for f in fields(Units):
        one, ten = getattr(at_1, f.name), getattr(at_10, f.name)
        slope = max(0.0, (ten - one) / 9)
        values[f.name] = ten + slope * (n - 10)
    return Units(**values)


# ====================================================================== the tap (inside the devstack process)
@dataclass
class _Request:
    """The function request (HTTP or WebSocket route) the current code runs for."""

    id: str
    slept: float = 0.0  # seconds it spent waiting in sleep() (parked: a long-poll waiting for work)


_tap_request: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("idle_cost_request", default=None)
_tap_lock = threading.Lock()
_tap_ids = itertools.count(1)
_tap_file: Any = None
_DDB_TARGET = "DynamoDB_20120810."
_READ_OPS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
_WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def _emit(record: dict[str, Any]) -> None:
    line = json.dumps(record, separators=(",", ":"))
    with _tap_lock:
        _tap_file.write(line + "\n")
        _tap_file.flush()


def _new_id(prefix: str) -> str:
    return f"{prefix}{next(_tap_ids)}"


def install_tap(log_path: str) -> None:
    """Called by the bench's sitecustomize in the devstack process, before zapgate_devstack.run starts."""
    global _tap_file
    _tap_file = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    import botocore.client

    from zapgate_devstack import emulator, gateway, live_gateway

    for owner, name in ((gateway.Gateway, "__call__"), (live_gateway.LiveGateway, "_call"),
                        (live_gateway.LiveGateway, "_websocket"), (live_gateway.LiveGateway, "_message"),
                        (live_gateway.LiveConnection, "_deliver"), (emulator, "DomainDispatcherApplication")):
        if not hasattr(owner, name):
            where = f"{getattr(owner, '__name__', owner)}.{name}"
            raise RuntimeError(f"idle-cost tap: {where} is gone; update bench/idle_cost.py")
    _tap_botocore(botocore.client.BaseClient)
    _tap_sleeps()
    _tap_gateway(gateway.Gateway)
    _tap_live_gateway(live_gateway.LiveGateway, live_gateway.LiveConnection)
    dispatcher = emulator.DomainDispatcherApplication
    emulator.DomainDispatcherApplication = lambda *a, **k: _MotoTap(dispatcher(*a, **k))  # type: ignore[assignment,misc]
    _emit({"t": "tap", "time": time.time(), "pid": os.getpid()})


def _tap_botocore(base_client: Any) -> None:
    """Every botocore client of the process names the function request it works for (a header moto sees)."""
    original_init = base_client.__init__

    def tag(request: Any, **_: Any) -> None:
        # "bg": this process, outside any request (the devstack's Lambda pollers, start-up); no header at all:
        # another process (the sidecar's own calls).
        current = _tap_request.get()
        request.headers[TAP_HEADER] = current.id if current is not None else BACKGROUND

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.meta.events.register("before-send", tag)

    base_client.__init__ = init


def _tap_sleeps() -> None:
    """A request that sleeps is parked waiting for work (the long-poll's tick): its time asleep is noted."""
    import asyncio

    original_sleep, original_async_sleep = time.sleep, asyncio.sleep

    def sleep(seconds: float) -> None:
        started = time.monotonic()
        try:
            original_sleep(seconds)
        finally:
            if (current := _tap_request.get()) is not None:
                current.slept += time.monotonic() - started

    async def async_sleep(delay: float, result: Any = None) -> Any:
        current = _tap_request.get() if delay > 0 else None
        started = time.monotonic()
        try:
            return await original_async_sleep(delay, result)
        finally:
            if current is not None:
                current.slept += time.monotonic() - started

    time.sleep = sleep
    asyncio.sleep = async_sleep  # type: ignore[assignment]


def _instance_of(query_string: bytes, body: bytes) -> tuple[str | None, bool | None]:
    """The request's instanceId (query or JSON body) and, for a heartbeat, whether it renews."""
    from urllib.parse import parse_qs

    instance = (parse_qs(query_string.decode("latin-1")).get("instanceId") or [None])[0]
    renew = None
    if body[:1] == b"{":
        with contextlib.suppress(ValueError):
            data = json.loads(body)
            if isinstance(data, dict):
                instance = instance or data.get("instanceId")
                renew = data.get("renew", True) if "locks" in data else None
    return instance, renew


def _tap_gateway(gateway_class: Any) -> None:
    original = gateway_class.__call__

    async def call(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await original(self, scope, receive, send)
            return
        rid = _new_id("h")
        body: list[bytes] = []
        answer = {"status": 0, "bytes": 0}

        async def tap_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
            return message

        async def tap_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["bytes"] += len(message.get("body", b""))
            await send(message)

        start = time.time()
        _emit({"t": "start", "id": rid, "path": scope["path"], "method": scope["method"], "start": start})
        current = _Request(rid)
        token = _tap_request.set(current)  # the threadpool running a sync endpoint copies the context
        try:
            await original(self, scope, tap_receive, tap_send)
        finally:
            _tap_request.reset(token)
            raw = b"".join(body)
            instance, renew = _instance_of(scope.get("query_string", b""), raw)
            _emit({"t": "http", "id": rid, "method": scope["method"], "path": scope["path"], "inst": instance,
                   "renew": renew, "start": start, "end": time.time(), "status": answer["status"],
                   "bytes": len(raw) + answer["bytes"], "slept": round(current.slept, 4)})

    gateway_class.__call__ = call


def _tap_live_gateway(live_class: Any, connection_class: Any) -> None:
    original_call, original_ws = live_class._call, live_class._websocket
    original_message, original_deliver = live_class._message, connection_class._deliver

    def call(self: Any, route: Any, event: dict[str, Any]) -> Any:
        api_id = (event.get("requestContext") or {}).get("apiId")
        api = next((a.logical_id for a in self.apis if a.api_id == api_id), api_id)
        rid = _new_id("w")
        start = time.time()
        _emit({"t": "start", "id": rid, "path": f"ws:{api}:{route.key}", "method": "WS", "start": start})
        current = _Request(rid)
        token = _tap_request.set(current)  # run_in_executor copies no context: set it in the worker thread
        try:
            return original_call(self, route, event)
        finally:
            _tap_request.reset(token)
            _emit({"t": "invoke", "id": rid, "api": api, "route": route.key, "fn": route.function,
                   "start": start, "end": time.time(), "slept": round(current.slept, 4)})

    async def websocket(self: Any, api: Any, stage: str, scope: Any, receive: Any, send: Any) -> None:
        cid = _new_id("c")
        opened: dict[str, float] = {}

        async def tap_send(message: Any) -> None:
            await send(message)
            if message["type"] == "websocket.accept":
                opened["at"] = time.time()
                _emit({"t": "ws_open", "id": cid, "api": api.logical_id, "start": opened["at"]})

        try:
            await original_ws(self, api, stage, scope, receive, tap_send)
        finally:
            if "at" in opened:
                _emit({"t": "ws_close", "id": cid, "api": api.logical_id, "start": opened["at"], "end": time.time()})

    async def message(self: Any, connection: Any, data: str | bytes) -> None:
        api = connection.info.api
        route = api.select_route(data) if isinstance(data, str) else None
        size = len(data.encode() if isinstance(data, str) else data)
        _emit({"t": "ws_in", "api": api.logical_id, "route": route.key if route else None, "bytes": size,
               "time": time.time()})
        await original_message(self, connection, data)

    async def deliver(self: Any, frame: dict[str, Any]) -> None:
        await original_deliver(self, frame)
        if frame.get("type") == "websocket.send":
            data = frame.get("text") if frame.get("text") is not None else frame.get("bytes") or b""
            size = len(data.encode() if isinstance(data, str) else data)
            _emit({"t": "ws_out", "api": self.info.api.logical_id, "bytes": size, "time": time.time()})

    live_class._call, live_class._websocket, live_class._message = call, websocket, message
    connection_class._deliver = deliver


def _service(environ: Mapping[str, Any]) -> tuple[str, str]:
    """(service, operation) of a request to moto, from its X-Amz-Target or its SigV4 credential scope."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        prefix, _, op = target.partition(".")
        service = {"AmazonSQS": "sqs", "secretsmanager": "secretsmanager"}.get(prefix, prefix.lower())
        return service, op
    scope = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    return (scope[1] if scope else "?"), environ.get("REQUEST_METHOD", "?")


class _MotoTap:
    """Wraps moto's WSGI app inside the devstack's one-request-at-a-time lock: every DynamoDB request is
    costed from the items as moto holds them, read before and after with requests straight to moto."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.schemas: dict[str, tuple[tuple[str, ...], dict[str, IndexSpec]]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = environ.get("HTTP_" + TAP_HEADER.upper().replace("-", "_"))
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(_DDB_TARGET):
            service, op = _service(environ)
            if service not in ("dynamodbstreams", "?"):
                _emit({"t": "aws", "svc": service, "op": op, "req": request, "time": time.time()})
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        op = target[len(_DDB_TARGET):]
        try:
            payload = json.loads(body or b"{}")
            writes = self._write_targets(environ, op, payload) if op in _WRITE_OPS else []
            before = [self._get(environ, table, key) for table, key, _ in writes]
        except Exception as exc:  # the tap must never break a request
            payload, writes, before = {}, [], []
            _emit({"t": "tap_error", "where": f"before {op}", "error": repr(exc)[:300], "time": time.time()})
        status: list[str] = []

        def tap_start(code: str, headers: Any, *rest: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *rest)

        chunks = list(self.app(environ, tap_start))
        try:
            answer = json.loads(b"".join(chunks) or b"{}")
            record = {"t": "ddb", "op": op, "req": request, "time": time.time(), "table": payload.get("TableName"),
                      "index": payload.get("IndexName"), "rru": 0.0, "wru": 0, "gsi_wru": 0}
            ok = bool(status) and status[0].startswith("200")
            error = str(answer.get("__type", "")) if not ok else ""
            if op in _READ_OPS and ok:
                record["rru"] = self._read_units(environ, op, payload, answer)
            elif op in _WRITE_OPS and (ok or "ConditionalCheckFailed" in error or "TransactionCanceled" in error):
                for (table, key, factor), old in zip(writes, before, strict=True):
                    if ok:
                        new = self._get(environ, table, key)
                        keys, indexes = self._schema(environ, table)
                        record["wru"] += factor * table_write_units(old, new)
                        record["gsi_wru"] += factor * index_write_units(old, new, keys, indexes.values())
                    else:  # a failed condition still pays for the item it looked at
                        record["wru"] += factor * write_units(item_size(old))
            record["error"] = error.rsplit("#", 1)[-1] or None
            _emit(record)
        except Exception as exc:
            _emit({"t": "tap_error", "where": f"after {op}", "error": repr(exc)[:300], "time": time.time()})
        return chunks

    # ------------------------------------------------------------ straight to moto (inside the lock)
    def _moto(self, environ: Mapping[str, Any], op: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        headers = {"X-Amz-Target": _DDB_TARGET + op, "Content-Type": "application/x-amz-json-1.0",
                   "Authorization": environ.get("HTTP_AUTHORIZATION", ""),
                   "X-Amz-Date": environ.get("HTTP_X_AMZ_DATE", "")}
        builder = EnvironBuilder(method="POST", path="/", base_url=f"http://{environ.get('HTTP_HOST', 'localhost')}",
                                 headers=headers, data=json.dumps(payload))
        try:
            chunks, status, _ = run_wsgi_app(self.app, builder.get_environ())
            body = b"".join(chunks)
        finally:
            builder.close()
        if not status.startswith("200"):
            raise RuntimeError(f"moto {op}: {status} {body[:200]!r}")
        return dict(json.loads(body or b"{}"))

    def _schema(self, environ: Mapping[str, Any], table: str) -> tuple[tuple[str, ...], dict[str, IndexSpec]]:
        if table not in self.schemas:
            described = self._moto(environ, "DescribeTable", {"TableName": table})["Table"]
            keys = tuple(k["AttributeName"] for k in described["KeySchema"])
            indexes = {}
            for index in described.get("GlobalSecondaryIndexes", []) + described.get("LocalSecondaryIndexes", []):
                projection = index.get("Projection") or {}
                indexes[index["IndexName"]] = IndexSpec(
                    index["IndexName"], tuple(k["AttributeName"] for k in index["KeySchema"]),
                    projection.get("ProjectionType", "ALL"), tuple(projection.get("NonKeyAttributes", [])))
            self.schemas[table] = (keys, indexes)
        return self.schemas[table]

    def _get(self, environ: Mapping[str, Any], table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        item = self._moto(environ, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}).get("Item")
        return dict(item) if item else None

    def _write_targets(self, environ: Mapping[str, Any], op: str,
                       payload: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], int]]:
        """(table, key, unit factor) of every item the write touches; transactions pay twice."""
        def key_of(table: str, item: Mapping[str, Any]) -> dict[str, Any]:
            keys, _ = self._schema(environ, table)
            return {k: item[k] for k in keys}

        if op == "PutItem":
            return [(payload["TableName"], key_of(payload["TableName"], payload["Item"]), 1)]
        if op in ("UpdateItem", "DeleteItem"):
            return [(payload["TableName"], dict(payload["Key"]), 1)]
        targets = []
        if op == "BatchWriteItem":
            for table, requests in payload.get("RequestItems", {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        targets.append((table, key_of(table, request["PutRequest"]["Item"]), 1))
                    elif "DeleteRequest" in request:
                        targets.append((table, dict(request["DeleteRequest"]["Key"]), 1))
        elif op == "TransactWriteItems":
            for action in payload.get("TransactItems", []):
                ((kind, spec),) = action.items()
                key = key_of(spec["TableName"], spec["Item"]) if kind == "Put" else dict(spec["Key"])
                targets.append((spec["TableName"], key, 2))
        return targets

    def _read_units(self, environ: Mapping[str, Any], op: str, payload: dict[str, Any],
                    answer: Mapping[str, Any]) -> float:
        if op == "GetItem":
            item = answer.get("Item")
            if item and ("ProjectionExpression" in payload or "AttributesToGet" in payload):
                item = self._get(environ, payload["TableName"], payload["Key"])
            return read_units(item_size(item), bool(payload.get("ConsistentRead")))
        if op in ("Query", "Scan"):
            table, index = payload["TableName"], payload.get("IndexName")
            items = answer.get("Items")
            if items is None or any(k in payload for k in ("ProjectionExpression", "FilterExpression",
                                                          "AttributesToGet", "QueryFilter", "ScanFilter")):
                items = self._moto(environ, op, _full_read(payload)).get("Items", [])  # what DynamoDB reads
            keys, indexes = self._schema(environ, table)
            spec = indexes.get(index) if index else None
            total = sum(item_size(spec.entry(i, keys) if spec else i) for i in items)
            return read_units(total, bool(payload.get("ConsistentRead")) and spec is None)
        if op == "BatchGetItem":
            total = 0.0
            for table, request in payload.get("RequestItems", {}).items():
                for key in request.get("Keys", []):
                    total += read_units(item_size(self._get(environ, table, key)), bool(request.get("ConsistentRead")))
            return total
        if op == "TransactGetItems":
            return sum(2 * read_units(item_size(self._get(environ, g["Get"]["TableName"], g["Get"]["Key"])), True)
                       for g in payload.get("TransactItems", []))
        return 0.0


def _full_read(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The same Query/Scan without what only trims the answer (projection, filter, count), which DynamoDB
    bills as if absent: the items it reads are the ones the key condition and the limit select."""
    full = {k: v for k, v in payload.items() if k not in ("ProjectionExpression", "FilterExpression", "Select",
                                                           "AttributesToGet", "QueryFilter", "ScanFilter",
                                                           "ConditionalOperator", "ReturnConsumedCapacity")}
    used = set(re.findall(r"[:#][A-Za-z0-9_]+", str(payload.get("KeyConditionExpression", ""))))
    names = {k: v for k, v in payload.get("ExpressionAttributeNames", {}).items() if k in used}
    values = {k: v for k, v in payload.get("ExpressionAttributeValues", {}).items() if k in used}
    full.pop("ExpressionAttributeNames", None)
    full.pop("ExpressionAttributeValues", None)
    if names:
        full["ExpressionAttributeNames"] = names
    if values:
        full["ExpressionAttributeValues"] = values
    return full


# ====================================================================== reading the tap and costing a window
SITECUSTOMIZE = '''# Written by bench/idle_cost.py: its tap, installed only in the process given {env}; the variable
# is removed here, so the devstack's children (sim, sidecars) never install it.
import os as _os
import sys as _sys

_log = _os.environ.pop("{env}", "")
if _log:
    _sys.path.insert(0, {bench!r})
    import idle_cost as _idle_cost

    _idle_cost.install_tap(_log)
'''


@dataclass
class Call:
    """One function invocation (HTTP request or WebSocket route) as the tap saw it."""

    id: str
    kind: str
    instance: str | None
    start: float
    end: float | None  # None: still running when the log was read
    function: str
    bytes: int = 0  # request + answer (HTTP API metering)
    http: bool = True
    slept: float = 0.0  # seconds parked in sleep(): the call waited for work
    rru: float = 0.0
    wru: float = 0.0
    sqs: int = 0
    other_aws: Counter[str] = field(default_factory=Counter)


@dataclass
class TapLog:
    calls: list[Call]
    loose_ddb: list[dict[str, Any]]  # DynamoDB requests no function request made (sidecar, pollers)
    connections: list[dict[str, Any]]  # {api, start, end}
    frames: list[dict[str, Any]]  # ws_in / ws_out
    errors: list[dict[str, Any]]
    read_at: float

    @classmethod
    def read(cls, path: Path, function_of: Callable[[str], str]) -> TapLog:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        calls: dict[str, Call] = {}
        for r in records:
            if r["t"] == "start":
                kind = r["path"] if r["method"] == "WS" else f"{r['method']} {r['path']}"
                calls[r["id"]] = Call(r["id"], kind, None, r["start"], None,
                                      function_of(r["path"]), http=r["method"] != "WS")
            elif r["t"] == "http" and r["id"] in calls:
                call = calls[r["id"]]
                call.end, call.instance, call.bytes = r["end"], r.get("inst"), int(r.get("bytes") or 0)
                call.slept = float(r.get("slept") or 0.0)
                if r.get("renew") is not None:
                    call.kind += " (renewal)" if r["renew"] else " (wake)"
            elif r["t"] == "invoke" and r["id"] in calls:
                call = calls[r["id"]]
                call.end, call.function, call.kind = r["end"], r["fn"], f"ws {r['api']} {r['route']}"
                call.slept = float(r.get("slept") or 0.0)
        loose, errors, frames = [], [], []
        opened: dict[str, dict[str, Any]] = {}
        for r in records:
            if r["t"] == "ddb" and r["op"] in _READ_OPS | _WRITE_OPS:
                call = calls.get(r.get("req") or "")
                if call is None:
                    loose.append(r)  # req None: the sidecar's; BACKGROUND: the devstack's pollers
                else:
                    call.rru += r["rru"]
                    call.wru += r["wru"] + r["gsi_wru"]
            elif r["t"] == "aws" and r.get("req") in calls:
                call = calls[r["req"]]
                if r["svc"] == "sqs":
                    call.sqs += 1
                else:
                    call.other_aws[f"{r['svc']} {r['op']}"] += 1
            elif r["t"] == "ws_open":
                opened[r["id"]] = {"api": r["api"], "start": r["start"], "end": None}
            elif r["t"] == "ws_close":
                opened[r["id"]] = {"api": r["api"], "start": r["start"], "end": r["end"]}
            elif r["t"] in ("ws_in", "ws_out"):
                frames.append(r)
            elif r["t"] == "tap_error":
                errors.append(r)
        return cls(list(calls.values()), loose, list(opened.values()), frames, errors, time.time())


@dataclass
class Window:
    design: str
    instances: int
    started: float  # the phase's sidecar started: its earlier requests time the streams the window cuts
    since: float  # the fleet was in place: requests from then on are the phase's steady state
    t0: float
    t1: float
    scale: dict[str, float]  # driver -> compression factor the run used
    health: dict[str, Any] = field(default_factory=dict)
    discovery_s: tuple[float, float] = (0.0, 0.0)  # the discovery interval: real, and as the run compressed it

    @property
    def seconds(self) -> float:
        return self.t1 - self.t0


def driver_of(design: str, kind: str) -> str:
    """Which interval drives a request kind: its compression is undone by that factor."""
    if kind.startswith(("GET /worker-proxy/worker-settings", "GET /worker-proxy/eligible-instances")):
        return "discovery"
    if kind == "GET /worker-proxy/queued-messages" and design != "seed":
        return "excluded"  # the 300 s safety net: added by calculation
    if kind.startswith(f"ws {PUSH_API} $default"):
        return "keepalive"
    if kind.startswith((f"ws {PUSH_API} $connect", f"ws {PUSH_API} $disconnect")):
        return "rotation"
    if design == "push" and kind == "POST /worker-proxy/heartbeat (wake)":
        return "rotation"  # idle, only a channel change (a rotation) wakes the short heartbeat
    return "real"


@dataclass
class Costed:
    """A window's units per sidecar-hour, in total and per request kind."""

    window: Window
    total: Units
    by_kind: dict[str, Units]


def call_units(call: Call, memory_mb: int, prices: Prices, end_if_running: float) -> Units:
    end = call.end if call.end is not None else end_if_running
    busy = max(0.0, end - call.start)
    return Units(
        lambda_held_seconds=busy if call.slept > 0 else 0.0,
        http_requests=increments(call.bytes, prices.http_request_increment) if call.http else 0.0,
                 lambda_requests=1.0, lambda_gb_seconds=gb_seconds(lambda_billed_ms(busy), memory_mb),
                 ddb_rru=call.rru, ddb_wru=call.wru, sqs_requests=call.sqs, lambda_busy_seconds=busy)


def cost_window(log: TapLog, window: Window, memory: Mapping[str, int], prices: Prices) -> Costed:
    by_kind: dict[str, Units] = defaultdict(Units)
    per_hour = 3600 / window.seconds

    scales = dict(window.scale)
    scales["discovery"] = discovery_scale(log, window)

    def factor(kind: str) -> float | None:
        driver = driver_of(window.design, kind)
        return None if driver == "excluded" else 1 / scales.get(driver, 1.0)

    streams: dict[tuple[str, str | None], list[Call]] = defaultdict(list)
    for call in log.calls:
        if window.started <= call.start < window.t1 and (not call.http or call.kind.split(" ", 1)[1].startswith(
                "/worker-proxy/")):
            streams[(call.kind, call.instance)].append(call)
    gaps: dict[str, list[float]] = defaultdict(list)  # the interval of each kind, over all its streams
    for (kind, _), calls in streams.items():
        starts = sorted(c.start for c in calls if c.start >= window.since)
        gaps[kind] += [b - a for a, b in itertools.pairwise(starts)]
    for (kind, _), calls in streams.items():
        scale = factor(kind)
        if scale is None:
            continue
        calls.sort(key=lambda c: c.start)
        # A stream of the steady state has a request once the fleet is in place; before that, only the last
        # request counts, for its timing (the window may begin inside its interval). A stream that ended
        # before (a deleted instance's last status report) is no part of the idle fleet.
        before = [c for c in calls if c.start < window.since]
        after = [c for c in calls if c.start >= window.since]
        if not after and driver_of(window.design, kind) != "discovery":
            continue
        calls = before[-1:] + after if after else before[-2:]
        # The steady state's requests: finished, made once the fleet was in place.
        steady = [c for c in calls if c.end is not None and c.start >= window.since]
        typical = _mean(call_units(c, memory.get(c.function, 512), prices, 0) for c in steady) if steady else None
        kind_interval = statistics.median(gaps[kind]) if gaps[kind] else None
        weights = stream_weights([c.start for c in calls], window.t0, window.t1, kind_interval)
        for call, weight in zip(calls, weights, strict=True):
            if weight <= 0:
                continue
            if typical is not None and (call.end is None or call.start < window.since):
                units = typical  # still running when read, or from before the fleet was in place (its timing only)
            else:
                units = call_units(call, memory.get(call.function, 512), prices, log.read_at)
            by_kind[kind] = by_kind[kind] + units.scaled(weight * scale * per_hour)

    frame_streams: dict[tuple[str, str, str | None], list[dict[str, Any]]] = defaultdict(list)
    for frame in log.frames:
        if window.started <= frame["time"] < window.t1:
            frame_streams[(frame["t"], frame["api"], frame.get("route"))].append(frame)
    for (direction, api, route), frames in frame_streams.items():
        kind = f"ws {api} {route or ''} frames {direction[3:]}".replace("  ", " ")
        scale = factor(f"ws {api} {route}") or 1.0
        frames.sort(key=lambda f: f["time"])
        for frame, weight in zip(frames, stream_weights([f["time"] for f in frames], window.t0, window.t1),
                                 strict=True):
            messages = increments(frame["bytes"], prices.ws_message_increment)
            by_kind[kind] = by_kind[kind] + Units(ws_messages=messages * weight * scale * per_hour)

    for connection in log.connections:
        end = connection["end"] if connection["end"] is not None else log.read_at
        minutes = clipped(connection["start"], end, window.t0, window.t1) / 60
        if minutes > 0:
            kind = f"ws {connection['api']} connection"
            by_kind[kind] = by_kind[kind] + Units(ws_connection_minutes=minutes * per_hour)

    for op in log.loose_ddb:  # the sidecar's own DynamoDB requests (auth state), the pollers': as they come
        if window.t0 <= op["time"] < window.t1:
            who = "control plane pollers" if op.get("req") == BACKGROUND else "sidecar"
            kind = f"{who} DynamoDB {op['op']}"
            by_kind[kind] = by_kind[kind] + Units(ddb_rru=op["rru"] * per_hour,
                                                  ddb_wru=(op["wru"] + op["gsi_wru"]) * per_hour)
    total = sum(by_kind.values(), Units())
    return Costed(window, total, dict(by_kind))


def discovery_scale(log: TapLog, window: Window) -> float:
    """How many real discovery periods one compressed period stands for. The loop waits its interval after each
    discovery, so its period is the interval plus the discovery's own time (tens of ms): measured here, added to
    both. Without it a 1 s compressed interval would undercount a real 10 s one by several per cent."""
    real, compressed = window.discovery_s
    default = window.scale.get("discovery", 1.0)
    starts = sorted(c.start for c in log.calls if c.kind == "GET /worker-proxy/eligible-instances"
                    and window.since <= c.start < window.t1)
    if real <= 0 or compressed <= 0 or len(starts) < 3:
        return default
    period = statistics.median(b - a for a, b in itertools.pairwise(starts))
    own = max(0.0, period - compressed)
    return (real + own) / period if own < compressed else default


def _mean(units: Iterable[Units]) -> Units:
    items = list(units)
    return sum(items, Units()).scaled(1 / len(items)) if items else Units()


def safety_net(log: TapLog, t0: float, t1: float, memory: Mapping[str, int], prices: Prices) -> Units | None:
    """One idle queued-messages request as the bench's probes measured it (median duration, mean units)."""
    probes = [c for c in log.calls if c.kind == "GET /worker-proxy/queued-messages" and t0 <= c.start < t1
              and c.end is not None]
    if not probes:
        return None
    units = [call_units(c, memory.get(c.function, 512), prices, 0) for c in probes]
    mean = _mean(units)
    busy = statistics.median(u.lambda_busy_seconds for u in units)
    mean.lambda_busy_seconds = busy
    mean.lambda_held_seconds = busy if any(c.slept > 0 for c in probes) else 0.0
    mean.lambda_gb_seconds = gb_seconds(lambda_billed_ms(busy), memory.get(probes[0].function, 512))
    return mean


# ====================================================================== the run
@dataclass
class Measurement:
    windows: list[Window]
    unavailable: dict[str, str]  # design -> why it has no row
    probe: tuple[float, float] | None
    tap_log: TapLog
    memory: dict[str, int]  # MB per function
    safety_net_s: float
    elapsed: float = 0.0


def _harness() -> Any:
    """bench/sidecar_latency.py: the stack, proxy and sidecar helpers the sidecar benches share (imported when
    a measurement starts, so the pricing arithmetic loads without it)."""
    import sidecar_latency  # bench/ is on sys.path: the script's own folder

    return sidecar_latency


def sidecar_defaults() -> dict[str, Any]:
    """The sidecar's own setting defaults and which of the push design's settings it has."""
    from zapgate_sidecar import settings as sidecar_settings

    model = sidecar_settings.SidecarSettings.model_fields
    env_names = getattr(sidecar_settings, "_ENV", {})
    return {name: model[attr].default for name, attr in env_names.items() if attr in model}


def push_missing(defaults: Mapping[str, Any]) -> str | None:
    """Why the push row cannot run in this tree, or None."""
    needed = ("WAKE_MODE", "PUSH_KEEPALIVE_MS", "PUSH_ROTATE_MS", "DISCOVERY_IDLE_MS")
    if any(name not in defaults for name in needed):
        return "not in this tree (the sidecar has no WAKE_MODE=push)"
    from zapgate_devstack.template import load_template
    from zapgate_devstack.websocket_api_template import websocket_apis

    if not any(api.logical_id == PUSH_API for api in websocket_apis(load_template())):
        return f"not in this tree (template.yaml has no {PUSH_API})"
    return None


def design_env(design: str, defaults: Mapping[str, Any], k_discovery: float, k_push: float) -> dict[str, str]:
    """The sidecar's environment for a design: production intervals, the slow sidecar-only ones compressed."""
    env = {
        "INSTANCE_LOCK_TTL_MS": "30000", "INSTANCE_LOCK_RENEW_MS": "", "QUEUE_POLL_MS": "2000",
        "MAX_ACTIVE_INSTANCES": "0", "STOP_COOLDOWN_MS": "500",
        "DISCOVERY_POLL_MS": str(round(10_000 / k_discovery)),
        "PRESENCE_INTERVAL_MS": str(round(int(defaults.get("PRESENCE_INTERVAL_MS", 60_000)) / k_discovery)),
    }  # fmt: skip
    if "WAKE_MODE" in defaults:
        env["WAKE_MODE"] = "push" if design == "push" else "longpoll"
    if "DISCOVERY_IDLE_MS" in defaults:
        env["DISCOVERY_IDLE_MS"] = str(round(int(defaults["DISCOVERY_IDLE_MS"]) / k_discovery))
    if "WORKER_SETTINGS_REFRESH_MS" in defaults:
        # seed 000 and the long-poll as it shipped read worker-settings at every discovery; push: its default
        refresh = int(defaults["WORKER_SETTINGS_REFRESH_MS"]) if design == "push" else 0
        env["WORKER_SETTINGS_REFRESH_MS"] = str(round(refresh / k_discovery))
    if design == "push":
        env["PUSH_KEEPALIVE_MS"] = str(max(1000, round(int(defaults["PUSH_KEEPALIVE_MS"]) / k_push)))
        env["PUSH_ROTATE_MS"] = str(max(5000, round(int(defaults["PUSH_ROTATE_MS"]) / k_push)))
        env["PUSH_URL"] = ""  # the one the server advertises
    return env


def push_scale(defaults: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, float]:
    """The factors actually applied (the sidecar's minimums may have capped a compression)."""
    return {"keepalive": int(defaults["PUSH_KEEPALIVE_MS"]) / int(env["PUSH_KEEPALIVE_MS"]),
            "rotation": int(defaults["PUSH_ROTATE_MS"]) / int(env["PUSH_ROTATE_MS"])}


def plan(designs: Sequence[str], sizes: Sequence[int]) -> list[tuple[str, int]]:
    """Phases in snake order (sizes up for one design, down for the next), so the fleet changes size as
    little as possible between them."""
    order, up = [], True
    for design in designs:
        order += [(design, n) for n in (sizes if up else list(reversed(sizes)))]
        up = not up
    return order


def measure(args: argparse.Namespace) -> Measurement:
    harness = _harness()
    started = time.monotonic()
    defaults = sidecar_defaults()
    unavailable: dict[str, str] = {}
    if "push" in args.designs and (why := push_missing(defaults)):
        unavailable["push"] = why
    designs = [d for d in args.designs if d not in unavailable]
    sizes = [1, 10] + ([100] if args.n100 else [])
    windows: list[Window] = []
    probe: tuple[float, float] | None = None
    with harness.workdir("zapgate-idle-cost-") as tmp:
        tap_path = tmp / "tap.jsonl"
        site = tmp / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(env=TAP_ENV, bench=str(BENCH)))
        pythonpath = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
        stack = harness.local_stack(tmp / "stack", sidecars=1, PYTHONPATH=pythonpath,
                                    **{TAP_ENV: str(tap_path)}, **design_env("longpoll", defaults, args.k_discovery,
                                                                             args.k_push))
        sidecar: Any = None
        proxy: Any = None
        try:
            if not any('"t":"tap"' in line for line in tap_path.read_text().splitlines()[:1]):
                raise RuntimeError("the tap did not start in the devstack process (see its log)")
            env = harness.take_over_stack_sidecar(stack)
            proxy = harness.Proxy(stack.url, tmp / "proxy.log", heartbeat=True)
            api = stack.api()
            ids: list[str] = []
            current: str | None = None
            sidecar_started = 0.0
            phone = itertools.count(11_920_000_000, 1000)  # each batch its own phone numbers
            for number, (design, n) in enumerate(plan(designs, sizes)):
                if n > len(ids):
                    more = harness.create_instances(api, n - len(ids), f"idle-{len(ids)}")
                    if sidecar is not None:
                        harness.connect_all(stack, more, next(phone), timeout=300)
                    ids += more
                elif n < len(ids):
                    for instance_id in ids[n:]:
                        api.delete(f"/instances/{instance_id}").raise_for_status()
                    del ids[n:]
                if design != current:
                    if sidecar is not None:
                        sidecar.stop()
                    proxy.configure(heartbeat=design != "seed")
                    overrides = design_env(design, defaults, args.k_discovery, args.k_push)
                    current, sidecar_started = design, time.time()
                    sidecar = harness.Sidecar.like(env, tmp, f"idle-{design}-{number}", proxy.edge, **overrides)
                    scale = {"discovery": float(args.k_discovery)}
                    idle = "DISCOVERY_IDLE_MS" if design == "push" else "DISCOVERY_POLL_MS"
                    discovery = (int(defaults.get(idle, 10_000)) / 1000, int(overrides[idle]) / 1000)
                    if design == "push":
                        scale.update(push_scale(defaults, overrides))
                    if number == 0:
                        harness.connect_all(stack, ids, next(phone), timeout=300)
                try:
                    harness.wait_for(lambda s=sidecar, d=design, k=n: _ready(s, d, k), 60 + 3 * n,
                                     f"{design} sidecar running {n} connected instances")
                except RuntimeError:
                    health = _safe_health(sidecar)
                    if design == "push" and (health.get("push") or {}).get("state") != "up":
                        unavailable["push"] = f"push channel not up: {health.get('push')}"
                        windows = [w for w in windows if w.design != "push"]
                        current = None
                        continue
                    raise
                ready = time.time()
                # A long-poll the sidecar cut short while it took locks keeps running server-side until its
                # deadline (one renew interval): let those end before counting.
                time.sleep(max(args.settle, 17.0) if design == "longpoll" else args.settle)
                t0 = time.time()
                print(f"  {design} N={n}: counting {args.window:.0f}s ...", flush=True)
                time.sleep(args.window)
                health = _safe_health(sidecar)
                windows.append(Window(design, n, sidecar_started, ready, t0, time.time(), dict(scale), health,
                                      discovery))
                print(f"    window {t0:.3f} .. {windows[-1].t1:.3f} (fleet in place at {ready:.3f})", flush=True)
            if sidecar is not None:
                sidecar.stop()
                sidecar = None
            if ids:  # the safety-net poll's cost: idle queued-messages requests, nothing else running
                worker = stack.worker()
                probe_t0 = time.time()
                for _ in range(args.probes):
                    worker.get("/queued-messages", params={"instanceId": ids[0]}).raise_for_status()
                    time.sleep(0.2)
                probe = (probe_t0, time.time())
        finally:
            if sidecar is not None:
                sidecar.stop()
            if proxy is not None:
                proxy.stop()
            stack.stop()
        memory, function_of = function_memory()
        log = TapLog.read(tap_path, function_of)
        if args.keep_tap:
            Path(args.keep_tap).write_bytes(tap_path.read_bytes())
    from zapgate_sidecar.runtime.outbound_runner import SAFETY_NET_POLL_S

    if args.keep_tap:
        Path(args.keep_tap + ".run.json").write_text(json.dumps({
            "windows": [vars(w) for w in windows], "unavailable": unavailable, "probe": probe,
            "safety_net_s": float(SAFETY_NET_POLL_S), "elapsed": time.monotonic() - started}, default=list))
    return Measurement(windows, unavailable, probe, log, memory, float(SAFETY_NET_POLL_S),
                       time.monotonic() - started)


def reanalyse(path: str) -> Measurement:
    """A run kept with --keep-tap, costed again (prices or costing changed; nothing is measured)."""
    saved = json.loads(Path(path + ".run.json").read_text())
    memory, function_of = function_memory()
    windows = [Window(**{**w, "discovery_s": tuple(w["discovery_s"])}) for w in saved["windows"]]
    probe = tuple(saved["probe"]) if saved["probe"] else None
    return Measurement(windows, saved["unavailable"], probe, TapLog.read(Path(path), function_of), memory,  # type: ignore[arg-type]
                       saved["safety_net_s"], saved["elapsed"])


def _ready(sidecar: Any, design: str, n: int) -> bool:
    health = sidecar.health()
    instances = health["instances"]
    ok = len(instances) == n and all(i["connected"] for i in instances)
    if design == "push":
        ok = ok and (health.get("push") or {}).get("state") == "up"
    if design == "seed":
        ok = ok and health.get("heartbeat") is False
    return ok


def _safe_health(sidecar: Any) -> dict[str, Any]:
    try:
        return dict(sidecar.health())
    except Exception as exc:
        return {"error": repr(exc)}


def function_memory() -> tuple[dict[str, int], Callable[[str], str]]:
    """Each function's MemorySize (template.yaml, else Globals) and which function serves a path."""
    from zapgate_devstack.template import http_routes, load_template, resources_of_type

    template = load_template()
    default = int(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    functions = resources_of_type(template, "AWS::Serverless::Function")
    memory = {fid: int(r["Properties"].get("MemorySize", default)) for fid, r in functions.items()}
    by_handler = {r["Properties"]["Handler"]: fid for fid, r in functions.items()}
    prefixes = sorted(((p, by_handler[h]) for p, h in http_routes(template)), key=lambda x: -len(x[0]))

    def function_of(path: str) -> str:
        return next((fid for prefix, fid in prefixes if path.startswith(prefix + "/")), "?")

    return memory, function_of


# ====================================================================== the report
SAFETY_NET_KIND = "GET /worker-proxy/queued-messages (safety net, calc.)"


@dataclass
class Row:
    design: str
    instances: int
    units: Units  # per sidecar-hour
    measured: bool
    by_kind: dict[str, Units] = field(default_factory=dict)


def analyse(m: Measurement, prices: Prices) -> tuple[dict[str, list[Row]], Units | None]:
    """Rows per design (N = 1, 10, 100), with the safety-net poll added where the design has it."""
    net = safety_net(m.tap_log, *m.probe, m.memory, prices) if m.probe else None
    rows: dict[str, list[Row]] = defaultdict(list)
    for window in m.windows:
        costed = cost_window(m.tap_log, window, m.memory, prices)
        by_kind = dict(costed.by_kind)
        total = costed.total
        if window.design != "seed" and net is not None:
            extra = net.scaled(3600 / m.safety_net_s * window.instances)
            by_kind[SAFETY_NET_KIND] = extra
            total = total + extra
        rows[window.design].append(Row(window.design, window.instances, total, True, by_kind))
    for design, found in rows.items():
        found.sort(key=lambda r: r.instances)
        sizes = {r.instances: r for r in found}
        if 100 not in sizes and 1 in sizes and 10 in sizes:
            found.append(Row(design, 100, extrapolate(sizes[1].units, sizes[10].units, 100), False))
    return rows, net


def _usd(value: float) -> str:
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def _num(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def report(m: Measurement, args: argparse.Namespace, prices: Prices, machine: str) -> None:
    rows, net = analyse(m, prices)
    print(f"\nIdle cost per instance: billable AWS units of one sidecar with N idle CONNECTED instances, priced at "
          f"{prices.region} list prices\n(bench/aws_prices.json, taken {prices.taken_on}; on-demand, no free tier), "
          f"{prices.hours_per_month:g} h per month. The sidecar's own Fargate task is out of scope.\n"
          f"Counted on the local stack's processes: real time, with discovery compressed x{args.k_discovery:g} and "
          f"the push keepalive/rotation x{args.k_push:g}\n(their requests scaled back); {args.window:g} s per "
          f"window; * = extrapolated from N=1 and N=10.\n{machine}; run {m.elapsed:.0f}s\n")

    header = ("design", "N", "HTTP API req", "Lambda req", "Lambda GB-s", "WS msgs", "WS conn-min", "DDB RRU",
              "DDB WRU", "SQS req", "in flight", "held open")
    lines = []
    for design in DESIGNS:
        for row in rows.get(design, []):
            u = row.units
            lines.append((design, f"{row.instances}{'' if row.measured else '*'}", _num(u.http_requests),
                          _num(u.lambda_requests), _num(u.lambda_gb_seconds), _num(u.ws_messages),
                          _num(u.ws_connection_minutes), _num(u.ddb_rru), _num(u.ddb_wru), _num(u.sqs_requests),
                          f"{u.lambda_busy_seconds / 3600:.2f}", f"{u.lambda_held_seconds / 3600:.2f}"))
    print("Units per sidecar-hour. Lambda concurrency of the sidecar: mean invocations in flight, and of them those "
          "held open (invocations that park, waiting for work):")
    print(_table(header, lines, "<>" + ">" * (len(header) - 2)))

    print("\n$ per idle instance-month (Lambda concurrency: held open / in flight, per sidecar):")
    cost_header = ("design", "N=1", "N=10", "N=100", "dominant unit at N=10", "concurrency N=1", "N=10", "N=100")
    cost_lines = []
    monthly: dict[str, dict[int, float]] = {}
    for design in DESIGNS:
        if design not in args.designs:
            continue
        if design in m.unavailable or design not in rows:
            why = m.unavailable.get(design, "not run")
            cost_lines.append((DESIGN_TITLES[design], f"n/a ({why})", "", "", "", "", "", ""))
            continue
        by_n = {r.instances: r for r in rows[design]}
        monthly[design] = {n: per_instance_month(sum(dollars(r.units, prices).values()), n, prices)
                           for n, r in by_n.items()}
        dominant = ""
        if 10 in by_n:
            spend = dollars(by_n[10].units, prices)
            top = max(spend, key=lambda k: spend[k])
            dominant = f"{UNIT_LABELS[top]} {spend[top] / max(sum(spend.values()), 1e-12):.0%}"
        money = [(_usd(monthly[design][n]) + ("" if by_n[n].measured else "*")) if n in by_n else "-"
                 for n in (1, 10, 100)]
        held = [f"{by_n[n].units.lambda_held_seconds / 3600:.2f} / {by_n[n].units.lambda_busy_seconds / 3600:.2f}"
                if n in by_n else "-" for n in (1, 10, 100)]
        cost_lines.append((DESIGN_TITLES[design], *money, dominant, *held))
    print(_table(cost_header, cost_lines, "<>>><>>>"))

    print(f"\nWhere the money goes{'' if args.detail else ' at N=10'} ($ per instance-month by unit; share and units "
          f"per sidecar-hour by kind):")
    for design in DESIGNS:
        for row in rows.get(design, []):
            if row.measured and (row.instances == 10 or args.detail):
                _where(row, prices)

    print("\nGoals:")
    goals = ((f"<= ${GOAL_N10_USD:.2f} per idle instance-month at N=10", 10, GOAL_N10_USD),
             (f"<= ${GOAL_N1_USD:.2f} per idle instance-month, a sidecar holding one instance", 1, GOAL_N1_USD))
    for label, n, goal in goals:
        verdicts = []
        for design in (d for d in DESIGNS if d in args.designs):
            value = monthly.get(design, {}).get(n)
            verdicts.append(f"{design} n/a" if value is None
                            else f"{design} {_usd(value)} {'met' if value <= goal else 'NOT met'}")
        print(f"  {label}: " + "; ".join(verdicts))
    verdicts = []
    for design in (d for d in DESIGNS if d in args.designs):
        if design not in rows:
            verdicts.append(f"{design} n/a")
            continue
        worst = max(rows[design], key=lambda r: r.units.lambda_held_seconds)
        held_open = worst.units.lambda_held_seconds / 3600
        where = f"at N={worst.instances}{'' if worst.measured else '*'}" if held_open >= 0.005 else "at every N"
        verdicts.append(f"{design} {held_open:.2f} {where} {'met' if held_open < GOAL_CONCURRENCY else 'NOT met'}")
    print(f"  0 Lambda concurrency held while idle (held open < {GOAL_CONCURRENCY} per sidecar at every N): "
          + "; ".join(verdicts))

    print("\nNotes:")
    if net is not None:
        print(f"  safety-net poll (longpoll and push): one idle queued-messages every {m.safety_net_s:g} s per "
              f"instance, {1000 * net.lambda_busy_seconds:.0f} ms median, {net.ddb_rru:g} RRU each, by calculation")
    for w in m.windows:
        if w.design == "push":
            push = w.health.get("push") or {}
            print(f"  push N={w.instances}: channel {push.get('state')}, {push.get('connects')} connects so far; "
                  f"compression keepalive x{w.scale.get('keepalive', 1):g}, rotation x{w.scale.get('rotation', 1):g}")
    other: Counter[str] = Counter()
    for call in m.tap_log.calls:
        if any(w.t0 <= call.start < w.t1 for w in m.windows):
            other.update(call.other_aws)
    if other:
        print("  other AWS calls the functions made in the windows (not priced): "
              + ", ".join(f"{k} x{v}" for k, v in other.most_common()))
    if m.tap_log.errors:
        print(f"  tap errors: {len(m.tap_log.errors)} (first: {m.tap_log.errors[0]})")
    print("  not priced: CloudWatch Logs and metrics, X-Ray (Tracing: Active), Secrets Manager, data transfer, the "
          "Lambda SQS/stream pollers (per deployment, not per instance), the Fargate task")


def _where(row: Row, prices: Prices) -> None:
    spend = dollars(row.units, prices)
    total = sum(spend.values()) or 1e-12
    units = ", ".join(f"{UNIT_LABELS[k]} {_usd(per_instance_month(v, row.instances, prices))} ({v / total:.0%})"
                      for k, v in sorted(spend.items(), key=lambda kv: -kv[1]) if v / total >= 0.005)
    print(f"  {DESIGN_TITLES[row.design]}, N={row.instances}: {units}")
    kinds = {kind: sum(dollars(u, prices).values()) for kind, u in row.by_kind.items()}
    for kind, value in sorted(kinds.items(), key=lambda kv: -kv[1]):
        if value / total >= 0.005:
            print(f"    {value / total:4.0%}  {kind}: {_kind_rate(row.by_kind[kind])}")


def _kind_rate(u: Units) -> str:
    parts = [f"{u.lambda_requests:,.1f} calls" if u.lambda_requests else "",
             f"{u.ddb_rru:,.0f} RRU" if u.ddb_rru else "", f"{u.ddb_wru:,.0f} WRU" if u.ddb_wru else "",
             f"{u.lambda_gb_seconds:,.1f} GB-s" if u.lambda_gb_seconds else "",
             f"{u.ws_messages:,.1f} messages" if u.ws_messages else "",
             f"{u.ws_connection_minutes:,.0f} connection-minutes" if u.ws_connection_minutes else ""]
    return ", ".join(p for p in parts if p) or "-"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], aligns: str) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:{a}{w}}}" for a, w in zip(aligns, widths, strict=True))
    return "\n".join(line.format(*r).rstrip() for r in [header, tuple("-" * w for w in widths), *rows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=30, help="seconds counted per phase (default 30)")
    parser.add_argument("--settle", type=float, default=3, help="seconds between a phase's fleet and its window (3)")
    parser.add_argument("--designs", nargs="+", choices=DESIGNS, default=list(DESIGNS))
    parser.add_argument("--n100", action="store_true", help="measure N=100 instead of extrapolating it (slower)")
    parser.add_argument("--k-discovery", type=float, default=10, help="discovery compression factor (default 10)")
    parser.add_argument("--k-push", type=float, default=300, help="push keepalive/rotation compression (default 300)")
    parser.add_argument("--probes", type=int, default=8, help="idle queued-messages requests for the safety net (8)")
    parser.add_argument("--quick", action="store_true", help="15 s windows")
    parser.add_argument("--keep-tap", metavar="PATH", help="copy the tap's JSON-lines log there")
    parser.add_argument("--detail", action="store_true", help="the by-kind breakdown of every window, not only N=10")
    parser.add_argument("--from-tap", metavar="PATH", help="cost a run kept with --keep-tap again, measuring nothing")
    args = parser.parse_args()
    if args.quick:
        args.window = min(args.window, 15)
    if args.k_discovery < 1 or args.k_push < 1:
        parser.error("compression factors are >= 1")
    prices = Prices.load()
    measurement = reanalyse(args.from_tap) if args.from_tap else measure(args)
    report(measurement, args, prices, _harness().machine_facts())
    return 0


if __name__ == "__main__":
    sys.exit(main())
