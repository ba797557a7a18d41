"""Outbound latency: public-API accept (the 202 of POST /v1/instances/{id}/messages) -> the simulated
WhatsApp network holding the message, for the push channel against the designs before it, in one run.

Runs the real local stack as processes (tests/e2e/stack.py's LocalStack, i.e. `make run` with
SIDECARS=1: moto + gateway, the sim network, one sidecar) with one connected instance. The designs
(--designs, default all four) run in this order:

  push       the stack's own sidecar (WAKE_MODE=push, the default): the public API posts an `outbound`
             frame on the sidecar's push channel (SidecarPushApi, served by the local gateway at
             /sidecars), which wakes the instance's outbound runner directly.
  push-down  the same sidecar with the channel cut (POST /_local/websocket-apis/sidecars/stop): the
             bounded fallback, a short heartbeat every QUEUE_POLL_MS (2000 ms). The stage is started
             again afterwards.
  longpoll   the design before the push channel: the stack's sidecar is stopped (SIGTERM, it releases
             its lock) and a sidecar process with the very same environment plus WAKE_MODE=longpoll
             takes the instance over, straight to the gateway; its heartbeat long-polls server-side
             (the server Queries the owner's queue every 50 ms) and answers ready at once.
  seed       the seed design: a sidecar with the same environment (WAKE_MODE=longpoll, so no push
             channel either) through a small reverse proxy that answers 404 to /worker-proxy/heartbeat
             and forwards everything else. The sidecar then falls back to renewing each lock and
             polling queued-messages every QUEUE_POLL_MS (2000 ms). No sidecar code is changed.

The sim network keeps no timestamp per sent message, so arrival is the first time the bench sees
the instance's sent_count (GET /sim/instances/{id}) grow, polled every --poll-ms (5 ms) on a
keep-alive connection: figures are high by up to one poll period (~5-7 ms). Accept time is taken
when the 202 reaches the bench. Both clocks are this process's monotonic clock.

  single  push, longpoll: --messages (200) messages one at a time: send, wait until it is on the
          network, then a random 50-250 ms gap, so each one measures pickup from idle. push-down,
          seed: --poll-messages (30), with another uniform 0-2 s in the gap so messages land at a
          random phase of the 2 s poll (right after an arrival the next poll is always ~2 s away).
  burst   --burst (50) messages sent back to back as fast as the API takes them; latency per message.

Ratios are against push. Targets (issue): p50 <= 100 ms, p99 <= 500 ms (single) for push; the other
designs are shown against them for reference. Nothing is asserted.

With --explain N, after longpoll a sidecar (same environment, WAKE_MODE --explain-design, default
push) runs behind a pass-through proxy that journals every request; N more messages are split into:
accept -> (longpoll: heartbeat answers ready ->) queued-messages reaches the gateway -> claim answered
-> on the network. The push frame itself does not cross the proxy.

Usage: .venv/bin/python bench/sidecar_latency.py [--designs push,push-down,longpoll,seed] [--messages 200]
                                                 [--poll-messages 30] [--burst 50] [--explain 50]

This file also holds the helpers bench/sidecar_requests.py, bench/sidecar_memory.py and others share
(the reverse proxy, a sidecar process re-pointed at it, connecting instances on the sim).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve()
TARGET_P50_MS = 100.0
TARGET_P99_MS = 500.0
QUEUE_POLL_MS = 2000  # the sidecars' fallback / seed poll period, set explicitly on the stack
DESIGNS = ("push", "push-down", "longpoll", "seed")  # in the order they run
POLLING_DESIGNS = {"push-down", "seed"}  # fixed-period pollers: fewer messages, gaps spread over the period
PUSH_STAGE = "sidecars"  # the local gateway's SidecarPushApi stage
PROXY_COMMAND = "_proxy"
PROXY_CONTROL = "/_proxy"


# ====================================================================== shared harness
def local_stack(tmp: Path, sidecars: int = 1, **env: str) -> Any:
    """tests/e2e/stack.py's LocalStack (`make run` as processes), started."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.e2e.stack import LocalStack

    return LocalStack(tmp, sidecars=sidecars, **env).start(timeout=90)


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A temporary folder for the stack's state and the logs; kept (and named) when the run fails."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    except BaseException:
        print(f"run failed; logs kept in {path}", file=sys.stderr, flush=True)
        raise
    shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except (httpx.HTTPError, KeyError, ValueError, OSError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def process_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(): v.decode() for k, v in pairs}


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def take_over_stack_sidecar(stack: Any) -> dict[str, str]:
    """Stop the stack's sidecar 0 (SIGTERM: it releases its locks) and return its environment, so a
    sidecar started with it is the same `make run` sidecar, apart from what the caller changes."""
    health = wait_for(lambda: stack.sidecar_health(0), 30, "the stack's sidecar health")
    pid = int(health["pid"])
    env = process_environ(pid)
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: any(f"(pid {pid}) exited" in line for line in stack.output), 40, "the stack's sidecar to exit")
    return env


class Sidecar:
    """`python -m zapgate_sidecar` with a given environment; its log goes to a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = int(env["PORT"])
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zapgate_sidecar"], env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: self.health()["pid"], 30, "sidecar health")

    @classmethod
    def like(cls, base_env: dict[str, str], tmp: Path, owner: str, edge: str, **overrides: str) -> Sidecar:
        env = {**base_env, "EDGE_BASE_URL": edge, "INSTANCE_OWNER": owner, "PORT": str(free_port()),
               "PRINT_QR": "false", **overrides}
        return cls(env, tmp / f"{owner}.log")

    @property
    def pid(self) -> int:
        return self.process.pid

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(f"http://127.0.0.1:{self.port}/health/instances", timeout=5).json())

    def stop(self, timeout: float = 40) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class Proxy:
    """This file run as `_proxy`: a reverse proxy in its own process (no GIL shared with the bench)
    that counts requests by method and path, can answer 404 to the heartbeat, and can rewrite the
    `limit` of eligible-instances. Control: GET/DELETE /_proxy/counts, POST /_proxy/config."""

    def __init__(self, upstream: str, log_path: Path, heartbeat: bool = True, eligible_limit: int = 0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(HERE), PROXY_COMMAND, "--upstream", upstream, "--port", str(self.port),
             "--heartbeat", "on" if heartbeat else "off", "--eligible-limit", str(eligible_limit)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.control = httpx.Client(base_url=f"{self.url}{PROXY_CONTROL}", timeout=10, trust_env=False)
        wait_for(lambda: self.control.get("/counts").status_code == 200, 20, "proxy start")

    @property
    def edge(self) -> str:
        return f"{self.url}/worker-proxy"

    def counts(self) -> Counter[str]:
        return Counter(self.control.get("/counts").json())

    def reset(self) -> None:
        self.control.delete("/counts").raise_for_status()

    def journal(self) -> list[tuple[str, float, float, int, int]]:
        return [tuple(entry) for entry in self.control.get("/journal").json()]  # type: ignore[misc]

    def configure(self, **config: Any) -> None:
        self.control.post("/config", json=config).raise_for_status()

    def stop(self) -> None:
        self.control.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def serve_proxy(argv: list[str]) -> int:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    parser = argparse.ArgumentParser(prog=f"{HERE.name} {PROXY_COMMAND}")
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--heartbeat", choices=("on", "off"), default="on")
    parser.add_argument("--eligible-limit", type=int, default=0)
    args = parser.parse_args(argv)
    config: dict[str, Any] = {"heartbeat": args.heartbeat == "on", "eligible_limit": args.eligible_limit}
    counts: Counter[str] = Counter()
    # (path, arrival, answered, status, ready): wall-clock times, for --explain's breakdown
    journal: deque[tuple[str, float, float, int, int]] = deque(maxlen=20_000)
    upstream = httpx.AsyncClient(base_url=args.upstream, timeout=None, trust_env=False,
                                 limits=httpx.Limits(max_connections=None, max_keepalive_connections=200,
                                                     keepalive_expiry=2.0))  # < the gateway's 5 s idle close
    hop_by_hop = {b"host", b"content-length", b"connection", b"transfer-encoding", b"keep-alive"}

    async def control(request: Request) -> Response:
        what = request.path_params["what"]
        if what == "counts" and request.method == "DELETE":
            counts.clear()
        elif what == "config" and request.method == "POST":
            config.update(await request.json())
        elif what == "journal":
            return JSONResponse(list(journal))
        return JSONResponse(dict(counts) if what == "counts" else config)

    async def forward(request: Request) -> Response:
        arrived = time.time()
        path = request.url.path
        kind = path.removeprefix("/worker-proxy")
        counts[f"{request.method} {kind}"] += 1
        if kind == "/heartbeat" and not config["heartbeat"]:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        params = list(request.query_params.multi_items())
        if kind == "/eligible-instances" and config["eligible_limit"]:
            params = [(k, v) for k, v in params if k != "limit"] + [("limit", str(config["eligible_limit"]))]
        answer = await upstream.request(
            request.method, path, params=params, content=await request.body(),
            headers=[(k, v) for k, v in request.headers.raw if k.lower() not in hop_by_hop],
        )
        ready = 0
        if kind == "/heartbeat" and answer.status_code == 200:
            ready = len(answer.json().get("ready") or [])
        journal.append((kind, arrived, time.time(), answer.status_code, ready))
        headers = {k: v for k, v in answer.headers.items()
                   if k.lower().encode() not in hop_by_hop and k.lower() != "content-encoding"}
        return Response(answer.content, status_code=answer.status_code, headers=headers)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(routes=[
        Route(f"{PROXY_CONTROL}/{{what}}", control, methods=["GET", "POST", "DELETE"]),
        Route("/{path:path}", forward, methods=methods),
    ])
    # Idle connections stay open far longer than the sidecar's pool keeps them (5 s), so the proxy never
    # closes one under a request that the sidecar is just sending on it.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, timeout_keep_alive=300)
    return 0


def create_instances(api: httpx.Client, count: int, prefix: str) -> list[str]:
    ids = []
    for n in range(count):
        response = api.post("/instances", json={"name": f"{prefix}-{n}"})
        if response.status_code != 201:
            raise RuntimeError(f"create instance: {response.status_code} {response.text}")
        ids.append(str(response.json()["id"]))
    return ids


def connect_all(stack: Any, ids: list[str], phone_base: int, timeout: float = 120) -> None:
    """Scan each instance's QR on the sim as soon as its session waits for one; wait until CONNECTED."""
    sim, api = stack.sim_client(), stack.api()
    phones = {i: f"55{phone_base + n:011d}" for n, i in enumerate(ids)}
    pending = set(ids)
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} instances never showed a QR on the sim")
        for instance_id in sorted(pending):
            state = sim.get(f"/instances/{instance_id}").json()["state"]
            if state == "connected":
                pending.discard(instance_id)
            elif state == "waiting_qr":
                scan = sim.post(f"/instances/{instance_id}/scan", json={"phone": phones[instance_id],
                                                                      "push_name": "Bench"})
                if scan.status_code == 200:
                    pending.discard(instance_id)
        time.sleep(0.2)
    wait_for(lambda: connected_count(api, ids) == len(ids), max(5.0, deadline - time.monotonic()),
             f"{len(ids)} instances CONNECTED", interval=0.3)


def connected_count(api: httpx.Client, ids: list[str]) -> int:
    wanted, connected, cursor = set(ids), 0, None
    while True:
        page = api.get("/instances", params={"limit": 100, **({"cursor": cursor} if cursor else {})}).json()
        connected += sum(1 for i in page["instances"] if i["id"] in wanted and i["status"] == "CONNECTED")
        cursor = page.get("next_cursor")
        if not cursor:
            return connected


def machine_facts() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"nproc {os.cpu_count()}, {cpu}, Python {platform.python_version()}, load average now {load}"


def table(header: tuple[str, ...], rows: list[tuple[str, ...]], aligns: str) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:{a}{w}}}" for a, w in zip(aligns, widths, strict=True))
    return "\n".join(line.format(*r).rstrip() for r in [header, tuple("-" * w for w in widths), *rows])


# ====================================================================== latency
class NetworkWatch:
    """Polls the sim's sent_count for one instance; remembers when each count was first seen."""

    def __init__(self, sim_url: str, instance_id: str, poll_s: float) -> None:
        self._http = httpx.Client(base_url=f"{sim_url}/sim", timeout=10, trust_env=False)
        self._path = f"/instances/{instance_id}"
        self._poll_s = poll_s
        self.first_seen: dict[int, float] = {}  # sent index (0-based) -> monotonic time first seen
        self.count = self.read()

    def read(self) -> int:
        return int(self._http.get(self._path).json()["sent_count"])

    def poll_once(self) -> int:
        count = self.read()
        now = time.monotonic()
        for index in range(self.count, count):
            self.first_seen.setdefault(index, now)
        self.count = max(self.count, count)
        return count

    def wait_for_count(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.poll_once() < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"message #{count} not on the network after {timeout:.0f}s")
            time.sleep(self._poll_s)

    @contextlib.contextmanager
    def in_background(self) -> Iterator[None]:
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                self.poll_once()
                time.sleep(self._poll_s)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(5)

    def close(self) -> None:
        self._http.close()


def _send(api: httpx.Client, instance_id: str, body: str, requested: list[float] | None = None) -> float:
    if requested is not None:
        requested.append(time.monotonic())
    response = api.post(f"/instances/{instance_id}/messages", json={"to": "5511988887777", "body": body})
    accepted = time.monotonic()
    if response.status_code != 202:
        raise RuntimeError(f"send: {response.status_code} {response.text}")
    return accepted


Pair = tuple[float, float]  # (accepted, first seen on the network), monotonic seconds


def _arrivals(stack: Any, watch: NetworkWatch, instance_id: str, accepted: dict[str, float]) -> list[Pair]:
    """Per message, in send order: its accept time and the first time its index was seen on the network."""
    sent = stack.sim_client().get(f"/instances/{instance_id}/sent").json()
    out = []
    for index, message in enumerate(sent):
        body = message.get("body")
        if body in accepted:
            out.append((accepted[body], watch.first_seen[index]))
    if len(out) != len(accepted):
        raise RuntimeError(f"{len(accepted) - len(out)} messages missing on the network")
    return sorted(out)


def ms(pairs: list[Pair]) -> list[float]:
    return [(seen - accepted) * 1000 for accepted, seen in pairs]


def run_single(stack: Any, watch: NetworkWatch, instance_id: str, label: str, count: int, rng: random.Random,
               timeout: float, spread_s: float = 0.0, requested: list[float] | None = None) -> list[Pair]:
    """One at a time; after each arrival a 50-250 ms gap, plus uniform(0, spread_s): a poller with a
    fixed period (the seed design) must be hit at a random phase, not right after its last poll.
    `requested`, if given, gets each send request's start (monotonic), in send order."""
    api = stack.api()
    accepted: dict[str, float] = {}
    for n in range(count):
        body = f"{label}-single-{n}"
        expected = watch.count + 1
        accepted[body] = _send(api, instance_id, body, requested)
        watch.wait_for_count(expected, timeout)
        time.sleep(rng.uniform(0.05, 0.25) + rng.uniform(0, spread_s))
    return _arrivals(stack, watch, instance_id, accepted)


def run_burst(stack: Any, watch: NetworkWatch, instance_id: str, label: str, count: int,
              timeout: float) -> tuple[list[float], float]:
    api = stack.api()
    accepted: dict[str, float] = {}
    expected = watch.count + count
    with watch.in_background():
        for n in range(count):
            body = f"{label}-burst-{n}"
            accepted[body] = _send(api, instance_id, body)
        wait_for(lambda: watch.count >= expected, timeout, f"{count} burst messages on the network", interval=0.01)
    pairs = _arrivals(stack, watch, instance_id, accepted)
    drain = max(seen for _a, seen in pairs) - min(a for a, _s in pairs)
    return ms(pairs), drain * 1000


SEGMENTS_LONGPOLL = (
    "accept -> heartbeat answers ready",
    "ready -> queued-messages reaches the proxy",
    "queued-messages (claim) at the gateway",
    "claim answered -> first seen on the sim",
)
SEGMENTS_PUSH = (
    "send request -> 202 at the bench (not in the latency)",
    "send request -> queued-messages reaches the proxy",
    "queued-messages (claim) at the gateway",
    "claim answered -> first seen on the sim",
)


def breakdown(pairs: list[Pair], journal: list[tuple[str, float, float, int, int]], offset: float,
              requested: list[float], via_heartbeat: bool = True) -> tuple[dict[str, list[float]], list[int], int]:
    """Split each message's latency at the proxy's journal (wall clock; offset = wall - monotonic).
    via_heartbeat (longpoll): at the heartbeat that answered it ready, then at its claim. Push: the frame
    does not cross the proxy, and the API posts it before it answers 202, so the claim often reaches the
    proxy before the 202 reaches the bench: split from the send request's start instead.
    Also: heartbeat calls from one accept to the next (an idle long-poll sidecar has one parked)."""
    heartbeats = [e for e in journal if e[0] == "/heartbeat" and e[3] == 200]
    claims = [e for e in journal if e[0] == "/queued-messages"]
    names = SEGMENTS_LONGPOLL if via_heartbeat else SEGMENTS_PUSH
    segments: dict[str, list[float]] = {name: [] for name in names}
    calls: list[int] = []
    unexplained = 0
    for n, (accepted_m, seen_m) in enumerate(pairs):
        accepted, seen, sent = accepted_m + offset, seen_m + offset, requested[n] + offset
        following = pairs[n + 1][0] + offset if n + 1 < len(pairs) else float("inf")
        calls.append(sum(1 for e in heartbeats if accepted <= e[1] < following))
        if via_heartbeat:
            ready = next((e for e in heartbeats if e[4] and accepted <= e[2] <= seen), None)
            claim = next((e for e in claims if ready and ready[2] - 0.001 <= e[1] <= seen), None)
            if ready is None or claim is None:
                unexplained += 1
                continue
            values = (ready[2] - accepted, claim[1] - ready[2], claim[2] - claim[1], seen - claim[2])
        else:
            claim = next((e for e in claims if sent <= e[1] <= seen), None)
            if claim is None:
                unexplained += 1
                continue
            values = (accepted - sent, claim[1] - sent, claim[2] - claim[1], seen - claim[2])
        for name, value in zip(names, values, strict=True):
            segments[name].append(value * 1000)
    return segments, calls, unexplained


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))  # nearest rank
    return ordered[rank]


def summary(values: list[float]) -> tuple[float, float, float, float]:
    return percentile(values, 50), percentile(values, 90), percentile(values, 99), max(values)


def proxy_hop_ms(gateway: str, proxy: Proxy, secret: str, samples: int = 40) -> tuple[float, float]:
    """Median time of GET worker-settings straight to the gateway and through the proxy."""
    out = []
    for base in (gateway, proxy.url):
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, trust_env=False) as http:
            times = []
            for _ in range(samples):
                started = time.perf_counter()
                http.get("/worker-proxy/worker-settings").raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            out.append(statistics.median(times))
    return out[0], out[1]


def push_stage(stack: Any, action: str) -> None:
    """Cut (stop) or restore (start) the sidecars' push channel: the local gateway's SidecarPushApi stage."""
    httpx.post(f"{stack.url}/_local/websocket-apis/{PUSH_STAGE}/{action}", timeout=10).raise_for_status()


def push_state(health: dict[str, Any]) -> str | None:
    push = health.get("push")
    return str(push["state"]) if push else None


class Phase:
    """One design's measurement: single messages (from idle), then one burst."""

    def __init__(self, stack: Any, watch: NetworkWatch, instance_id: str, args: argparse.Namespace,
                 rng: random.Random, results: dict[tuple[str, str], list[float]], drains: dict[str, float],
                 api_ms: dict[str, list[float]]) -> None:
        self.stack, self.watch, self.instance_id, self.args, self.rng = stack, watch, instance_id, args, rng
        self.results, self.drains = results, drains
        self.api_ms = api_ms  # send request -> 202 at the bench, single messages

    def run(self, design: str) -> None:
        polling = design in POLLING_DESIGNS
        count = self.args.poll_messages if polling else self.args.messages
        spread_s = QUEUE_POLL_MS / 1000 if polling else 0.0
        run_single(self.stack, self.watch, self.instance_id, f"warmup-{design}", 2, self.rng, 30)
        requested: list[float] = []
        pairs = run_single(self.stack, self.watch, self.instance_id, design, count, self.rng, 30, spread_s=spread_s,
                           requested=requested)
        self.results[("single", design)] = ms(pairs)
        # The API's own answer: a push design posts the frame inside the send request, before its 202.
        self.api_ms[design] = [(accepted - start) * 1000 for (accepted, _seen), start in zip(pairs, requested,
                                                                                               strict=True)]
        self.api_ms[f"{design} e2e"] = [(seen - start) * 1000 for (_accepted, seen), start in zip(pairs, requested,
                                                                                                  strict=True)]
        time.sleep(0.5)
        self.results[("burst", design)], self.drains[design] = run_burst(
            self.stack, self.watch, self.instance_id, design, self.args.burst, 60)


def wait_connected(sidecar: Sidecar, what: str) -> None:
    wait_for(lambda: any(i["connected"] for i in sidecar.health()["instances"]), 60,
             f"{what} to take the instance over (auth restored, no QR)")


def measure_latency(args: argparse.Namespace) -> int:
    rng = random.Random(args.random_seed)
    designs = args.designs
    results: dict[tuple[str, str], list[float]] = {}
    drains: dict[str, float] = {}
    api_ms: dict[str, list[float]] = {}
    notes: list[str] = []
    explained: tuple[dict[str, list[float]], list[int], int, str] | None = None
    with workdir("zapgate-latency-") as tmp:
        started = time.monotonic()
        stack = local_stack(tmp / "stack", sidecars=1, STOP_COOLDOWN_MS="500", QUEUE_POLL_MS=str(QUEUE_POLL_MS))
        sidecar: Sidecar | None = None
        proxy: Proxy | None = None

        def step(what: str) -> None:
            print(f"[{time.monotonic() - started:4.0f}s] {what}", flush=True)

        try:
            api = stack.api()
            (instance_id,) = create_instances(api, 1, "latency")
            connect_all(stack, [instance_id], 11_900_000_000)
            wait_for(lambda: push_state(stack.sidecar_health(0)) == "up", 30, "the stack sidecar's push channel")
            qr_before = stack.sim_client().get("/stats").json()["qr_shown"]
            watch = NetworkWatch(stack.sim, instance_id, args.poll_ms / 1000)
            phase = Phase(stack, watch, instance_id, args, rng, results, drains, api_ms)
            health = stack.sidecar_health(0)
            step(f"stack up, instance connected; stack sidecar wake_mode={health['wake_mode']}, "
                 f"push channel {push_state(health)}")
            if "push" in designs:
                frames = health["push"]["frames"]
                phase.run("push")
                health = stack.sidecar_health(0)
                notes.append(f"push: the sidecar received {health['push']['frames'] - frames} push frames over "
                             f"{len(results[('single', 'push')]) + args.burst + 2} messages; push channel "
                             f"{push_state(health)}, fallback polls {health['fallback_polls']}")
                step("push done")
            if "push-down" in designs:
                push_stage(stack, "stop")
                wait_for(lambda: push_state(stack.sidecar_health(0)) == "down", 30, "the push channel down")
                polls = stack.sidecar_health(0)["fallback_polls"]
                phase.run("push-down")
                health = stack.sidecar_health(0)
                notes.append(f"push-down: SidecarPushApi stage stopped; {health['fallback_polls'] - polls} "
                             f"fallback heartbeats (every QUEUE_POLL_MS {QUEUE_POLL_MS} ms), channel "
                             f"{push_state(health)} throughout")
                push_stage(stack, "start")
                step("push-down done; stage started again")
            env: dict[str, str] = {}
            if {"longpoll", "seed"} & set(designs) or args.explain:
                env = take_over_stack_sidecar(stack)
            if "longpoll" in designs:
                sidecar = Sidecar.like(env, tmp, "sidecar-longpoll", env["EDGE_BASE_URL"], WAKE_MODE="longpoll")
                wait_connected(sidecar, "the longpoll sidecar")
                if sidecar.health()["push"] is not None:
                    raise RuntimeError("the longpoll sidecar opened a push channel")
                phase.run("longpoll")
                sidecar.stop()
                sidecar = None
                step("longpoll done")
            if args.explain or "seed" in designs:
                proxy = Proxy(stack.url, tmp / "proxy.log", heartbeat=True)
            if args.explain:
                assert proxy is not None
                mode = args.explain_design
                sidecar = Sidecar.like(env, tmp, f"sidecar-explain-{mode}", proxy.edge, WAKE_MODE=mode)
                wait_connected(sidecar, "the explain sidecar")
                if mode == "push":
                    wait_for(lambda: push_state(sidecar.health()) == "up", 30, "the explain sidecar's push channel")
                run_single(stack, watch, instance_id, "warmup-explain", 2, rng, 30)
                offset = time.time() - time.monotonic()
                requested: list[float] = []
                pairs = run_single(stack, watch, instance_id, "explain", args.explain, rng, 30, requested=requested)
                results[("single", f"{mode}+proxy")] = ms(pairs)
                explained = (*breakdown(pairs, proxy.journal(), offset, requested, via_heartbeat=mode == "longpoll"),
                             mode)
                sidecar.stop()
                sidecar = None
                step("explain done")
            if "seed" in designs:
                assert proxy is not None
                proxy.configure(heartbeat=False)
                proxy.reset()
                # The seed design has no push channel either: WAKE_MODE=longpoll, and its heartbeat answers 404.
                sidecar = Sidecar.like(env, tmp, "sidecar-seed", proxy.edge, QUEUE_POLL_MS=str(QUEUE_POLL_MS),
                                       WAKE_MODE="longpoll")
                wait_connected(sidecar, "the seed sidecar")
                if sidecar.health()["heartbeat"] is not False:
                    raise RuntimeError("the seed sidecar did not fall back from the heartbeat")
                phase.run("seed")
                counts = proxy.counts()
                notes.append(f"seed sidecar: {counts['POST /heartbeat']} heartbeat call(s) answered 404, then "
                             f"{counts['GET /queued-messages']} queued-messages polls, "
                             f"{counts['POST /instance-lock/renew']} lock renewals")
                step("seed done")
            if proxy is not None:
                direct, proxied = proxy_hop_ms(stack.url, proxy, stack.worker_secret)
                notes.append(f"proxy hop (seed, explain): GET worker-settings median {direct:.1f} ms direct, "
                             f"{proxied:.1f} ms through the proxy (+{proxied - direct:.1f} ms per request)")
            qr_after = stack.sim_client().get("/stats").json()["qr_shown"]
            notes.append(f"QRs shown on the sim after the first scan: {qr_after - qr_before} (takeovers restore auth)")
            watch.close()
        finally:
            if sidecar is not None:
                sidecar.stop()
            if proxy is not None:
                proxy.stop()
            code = stack.stop()
            if code != 0:
                notes.append(f"stack exited with {code}")
        elapsed = time.monotonic() - started
    report_latency(results, drains, args, notes, elapsed, api_ms)
    if explained is not None:
        report_breakdown(*explained)
    return 0


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.1f}x" if base > 0 else "-"


def report_latency(results: dict[tuple[str, str], list[float]], drains: dict[str, float], args: argparse.Namespace,
                   notes: list[str], elapsed: float, api_ms: dict[str, list[float]] | None = None) -> None:
    rows = []
    for mode in ("single", "burst"):
        for (row_mode, design), values in results.items():
            if row_mode != mode:
                continue
            p50, p90, p99, top = summary(values)
            drain = f"{drains[design]:.0f}" if mode == "burst" else "-"
            rows.append((mode, design, str(len(values)), f"{min(values):.0f}", f"{p50:.0f}", f"{p90:.0f}",
                         f"{p99:.0f}", f"{top:.0f}", f"{statistics.mean(values):.0f}", drain))
    ratio_rows = []
    for mode in ("single", "burst"):
        base = results.get((mode, "push"))
        if not base:
            continue
        for design in DESIGNS[1:]:
            other = results.get((mode, design))
            if not other:
                continue
            ratios = [_ratio(o, b) for o, b in zip(summary(other), summary(base), strict=True)]
            drain = _ratio(drains[design], drains["push"]) if mode == "burst" else ""
            ratio_rows.append((mode, f"{design}/push", "", _ratio(min(other), min(base)), *ratios,
                               _ratio(statistics.mean(other), statistics.mean(base)), drain))
    print(f"\nOutbound latency, 202 accepted -> on the sim network (ms); {machine_facts()}; run {elapsed:.0f}s\n")
    print(table(("mode", "design", "n", "min", "p50", "p90", "p99", "max", "mean", "drain"), rows + ratio_rows,
                "<<>>>>>>>>"))
    print(f"\ntargets (single; p50 <= {TARGET_P50_MS:.0f} ms, p99 <= {TARGET_P99_MS:.0f} ms; the target applies to "
          "push, the other rows for reference):")
    for design in DESIGNS:
        values = results.get(("single", design))
        if not values:
            continue
        p50, _p90, p99, _max = summary(values)
        print(f"  {design:<9}  p50 {p50:5.0f} ms: {'met' if p50 <= TARGET_P50_MS else 'not met':<7}  "
              f"p99 {p99:5.0f} ms: {'met' if p99 <= TARGET_P99_MS else 'not met'}")
    if api_ms:
        print("\nsingle messages from the send request's start (ms): -> 202 at the bench (the API's answer, not in the "
              "latency above),\nand -> on the sim network (end to end):\n")
        rows = []
        for design in DESIGNS:
            if design in api_ms:
                api, e2e = summary(api_ms[design]), summary(api_ms[f"{design} e2e"])
                rows.append((design, *(f"{v:.0f}" for v in api), *(f"{v:.0f}" for v in e2e)))
        print(table(("design", "202 p50", "p90", "p99", "max", "e2e p50", "p90", "p99", "max"), rows, "<>>>>>>>>"))
    print(f"\nnotes:\n  arrival = first sight of sent_count growing, polled every {args.poll_ms:g} ms "
          "(the sim stores no send timestamp)")
    print(f"  burst: {args.burst} messages sent back to back; drain = first accept -> last on the network (ms)")
    for note in notes:
        print(f"  {note}")


def report_breakdown(segments: dict[str, list[float]], calls: list[int], unexplained: int, design: str) -> None:
    rows = [(name, str(len(values)), f"{percentile(values, 50):.1f}", f"{percentile(values, 90):.1f}",
             f"{statistics.mean(values):.1f}") for name, values in segments.items() if values]
    print(f"\nwhere the {design} design's latency goes (--explain: the same sidecar behind a pass-through proxy "
          "that logs\neach request's arrival and answer; each hop through it costs the extra ms noted above):\n")
    print(table(("segment (ms)", "n", "p50", "p90", "mean"), rows, "<>>>>"))
    print(f"\n  heartbeat calls from one accept to the next: mean {statistics.mean(calls):.1f}, max {max(calls)}")
    if unexplained:
        print(f"  {unexplained} messages not matched to a claim (or, longpoll, to a ready heartbeat)")


def parse_designs(text: str) -> list[str]:
    chosen = [d.strip() for d in text.split(",") if d.strip()]
    unknown = [d for d in chosen if d not in DESIGNS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"designs are a comma-separated subset of {','.join(DESIGNS)}")
    return [d for d in DESIGNS if d in chosen]


def main() -> int:
    if sys.argv[1:2] == [PROXY_COMMAND]:
        return serve_proxy(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--designs", type=parse_designs, default=list(DESIGNS),
                        help=f"comma-separated; they run in the order {','.join(DESIGNS)} (default all)")
    parser.add_argument("--messages", type=int, default=200, help="push and longpoll, one at a time (default 200)")
    parser.add_argument("--poll-messages", "--seed-messages", type=int, default=30, dest="poll_messages",
                        help="push-down and seed (the polling designs), one at a time (default 30)")
    parser.add_argument("--burst", type=int, default=50, help="messages per burst (default 50)")
    parser.add_argument("--explain", type=int, default=0, metavar="N",
                        help="also send N messages through a sidecar behind a pass-through proxy and split their "
                             "latency into hops (default 0: off)")
    parser.add_argument("--explain-design", choices=("push", "longpoll"), default="push",
                        help="the explain sidecar's WAKE_MODE (default push)")
    parser.add_argument("--poll-ms", type=float, default=5, help="sim sent_count poll period (default 5)")
    parser.add_argument("--random-seed", type=int, default=1, help="random seed for the gaps (default 1)")
    return measure_latency(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
