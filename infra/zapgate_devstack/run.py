"""`make run`: the whole control plane on one machine, no AWS account, no Docker.

moto emulates DynamoDB/S3/SQS/Secrets Manager with the resources template.yaml declares, the
gateway serves both Lambda apps on one port as the HTTP API would, a thread plays Lambda's SQS
poller for the events processor (events_worker.py), another Lambda's DynamoDB stream poller for the
events outbox (stream_worker.py), and SIDECARS sidecar processes point at it.
Settings come from the environment:

    ZAPGATE_PORT (8000; 0 = any free port)   ZAPGATE_AWS_PORT (0 = any free port)
    SIDECARS (0)   WORKER_SECRET, ZAPGATE_API_KEY (generated when unset)
    ZAPGATE_SIDECAR_BASE_PORT (3000: sidecar i listens on base + i)
    ZAPGATE_PARAMETER_OVERRIDES ("WebhookRetryBaseSeconds=0 ...": template parameters, as sam deploy's)

Sidecars get the environment `make run` was given (so e.g. ZAPGATE_TRANSPORT reaches them)
plus EDGE_BASE_URL, WORKER_SECRET and PORT; never the functions' settings or moto's endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from zapgate_devstack import automations_worker, live_gateway
from zapgate_devstack.emulator import LOCAL_CREDENTIALS, REGION, MotoServer, create_template_resources
from zapgate_devstack.events_worker import EventsWorker, register_hint
from zapgate_devstack.events_worker import start_for as start_events_worker
from zapgate_devstack.stream_worker import StreamWorker
from zapgate_devstack.stream_worker import start_for as start_stream_workers
from zapgate_devstack.template import LocalNames, load_template, parameter_overrides

READY_LINE = "zapgate local stack ready"
# Each sidecar's auth and media folders (the /data volume of seed 000), kept between runs.
LOCAL_STATE = Path(os.environ.get("ZAPGATE_LOCAL_STATE") or Path(__file__).resolve().parents[2] / ".local")
BOOTSTRAP_TENANT = "default"
HOST = "127.0.0.1"
# Sidecars release their instance locks through the gateway on SIGTERM, so the gateway is
# stopped only after them; they get a little longer than their own shutdown budget
# (STOP_TIMEOUT_S, 25 s) before being killed. A second Ctrl-C kills them at once.
SIDECAR_STOP_SECONDS = 30.0
# Bounds shutdown when a client holds a request open (e.g. a long poll).
GRACEFUL_SHUTDOWN_SECONDS = 5


@dataclass(frozen=True)
class Settings:
    port: int
    aws_port: int
    sidecars: int
    sidecar_base_port: int
    sim_port: int
    worker_secret: str
    api_key: str
    # The environment `make run` was given, before the functions' settings and moto's endpoint were
    # added: sidecars are separate services and must not inherit the control plane's configuration.
    sidecar_environment: Mapping[str, str]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            port=_int_setting(env, "ZAPGATE_PORT", 8000),
            aws_port=_int_setting(env, "ZAPGATE_AWS_PORT", 0),
            sidecars=_int_setting(env, "SIDECARS", 0),
            sidecar_base_port=_int_setting(env, "ZAPGATE_SIDECAR_BASE_PORT", 3000),
            sim_port=_int_setting(env, "ZAPGATE_SIM_PORT", 8001),
            worker_secret=env.get("WORKER_SECRET") or secrets.token_urlsafe(32),
            api_key=env.get("ZAPGATE_API_KEY") or "zg_" + secrets.token_urlsafe(32),
            sidecar_environment=dict(env),
        )


def _int_setting(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise SystemExit(f"{name} must not be negative, got {value}")
    return value


def local_aws_environment(endpoint: str) -> dict[str, str]:
    """What makes every boto3 client in this process (the apps' included) talk to moto."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
        # No CloudWatch or X-Ray locally: metrics would be printed as EMF noise, traces have nowhere to go.
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def apply_local_aws_environment(endpoint: str) -> None:
    # A developer's profile or session token must not leak into (or break) the fake credentials.
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    ):
        os.environ.pop(name, None)
    os.environ.update(local_aws_environment(endpoint))


def seed_api_key(names: LocalNames, raw_key: str) -> None:
    # Imported here: the adapter may build its boto3 client at import, which must see moto's endpoint.
    from zapgate_control.adapters.dynamodb.api_keys import put_api_key

    put_api_key(names.physical["ApiKeysTable"], raw_key, BOOTSTRAP_TENANT, "bootstrap key (make run)")


def sidecar_available() -> bool:
    try:
        return importlib.util.find_spec("zapgate_sidecar.__main__") is not None
    except ImportError:
        return False


def sidecar_aws_environment(names: LocalNames, moto_endpoint: str) -> dict[str, str]:
    """What a sidecar's ECS task definition gives it in AWS: its tables and bucket, here on moto."""
    return {
        **local_aws_environment(moto_endpoint),
        "AUTH_STATE_TABLE": names.physical["AuthStateTable"],
        "INSTANCES_TABLE": names.physical["InstancesTable"],
        "MEDIA_BUCKET": names.physical["MediaBucket"],
    }


def start_sim(settings: Settings) -> subprocess.Popen[bytes]:
    env = {**settings.sidecar_environment, "ZAPGATE_SIM_PORT": str(settings.sim_port)}
    return subprocess.Popen([sys.executable, "-m", "zapgate_sim"], env=env, start_new_session=True)


def start_sidecars(
    settings: Settings, edge_base_url: str, aws_env: Mapping[str, str], sim_url: str
) -> list[subprocess.Popen[bytes]]:
    children = []
    for index in range(settings.sidecars):
        local = LOCAL_STATE / f"sidecar-{index}"
        env = {
            # Local defaults a developer may override from the environment `make run` was given.
            "DISCOVERY_POLL_MS": "2000",
            "PRINT_QR": "true",
            **settings.sidecar_environment,
            **aws_env,
            "ZAPGATE_TRANSPORT": "sim",
            "ZAPGATE_SIM_URL": sim_url,
            "INSTANCE_OWNER": f"sidecar-{index}",
            "AUTH_BASE": str(local / "auth"),
            "MEDIA_BASE": str(local / "media"),
            "EDGE_BASE_URL": edge_base_url,
            "WORKER_SECRET": settings.worker_secret,
            "PORT": str(settings.sidecar_base_port + index),
        }
        # Own session: a terminal's Ctrl-C reaches only us, so we decide the order things stop in.
        children.append(subprocess.Popen([sys.executable, "-m", "zapgate_sidecar"], env=env, start_new_session=True))
    return children


def wait_for_http(url: str, child: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=1).close()
            return
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up (is port {url.split(':')[-1].split('/')[0]} free?)")


def stop_children(children: Sequence[subprocess.Popen[bytes]], timeout: float = SIDECAR_STOP_SECONDS) -> None:
    """Sidecars first (they release locks and close sessions through the others), then the rest."""
    sidecars = [c for c in children if list(c.args)[-1] == "zapgate_sidecar"]  # type: ignore[arg-type]
    for wave in (sidecars, [c for c in children if c not in sidecars]):
        for child in wave:
            if child.poll() is None:
                child.terminate()
        for child in wave:
            try:
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def banner(
    base_url: str,
    settings: Settings,
    moto_endpoint: str,
    sidecar_note: str,
    sim_url: str | None,
    live_url: str | None = None,
) -> str:
    curl = (
        f"curl -sS -X POST {base_url}/v1/instances -H 'X-API-Key: {settings.api_key}' "
        "-H 'Content-Type: application/json' -d '{\"name\": \"my-instance\"}'"
    )
    rows = [
        ("console", f"{base_url}/console/  (sign in with the ZAPGATE_API_KEY below)"),
        ("public API", f"{base_url}/v1"),
        ("OpenAPI docs", f"{base_url}/v1/docs"),
        ("EDGE_BASE_URL", f"{base_url}/worker-proxy"),
        ("WORKER_SECRET", settings.worker_secret),
        ("ZAPGATE_API_KEY", f"{settings.api_key}  (tenant {BOOTSTRAP_TENANT!r})"),
        ("AWS (moto)", f"{moto_endpoint}  (region {REGION}, credentials local/local)"),
        ("sidecars", sidecar_note),
    ]
    if sim_url:
        rows.append(("sim WhatsApp", f"{sim_url}  (docs: {sim_url}/sim/docs)"))
    if live_url:
        rows.append(("live (WebSocket)", live_url))
    width = max(len(label) for label, _ in rows)
    lines = ["", "=" * 72, "zapgate local stack", "-" * 72]
    lines += [f"  {label.ljust(width)}  {value}" for label, value in rows]
    lines += ["", "  1. create an instance:", f"    {curl}"]
    if sim_url:
        lines += [
            "  2. a sidecar takes it and prints its QR here; 'scan' it on the simulated network:",
            f"    curl -sS -X POST {sim_url}/sim/instances/<id>/scan -H 'Content-Type: application/json' "
            "-d '{\"phone\": \"5511999990000\", \"push_name\": \"Demo\"}'",
            "  3. send a message:",
            f"    curl -sS -X POST {base_url}/v1/instances/<id>/messages -H 'X-API-Key: {settings.api_key}' "
            "-H 'Content-Type: application/json' -d '{\"to\": \"5511988887777\", \"body\": \"hello\"}'",
            f"    curl -sS {sim_url}/sim/instances/<id>/sent",
        ]
    if live_url:
        lines += [
            "  watch live updates (WebSocket API): get a one-time ticket, then connect to the url it answers:",
            f"    curl -sS -X POST {base_url}/v1/live/tickets -H 'X-API-Key: {settings.api_key}'",
            f"    .venv/bin/python -m websockets '{live_url}?ticket=...'   (type {{\"action\": \"ping\"}} to test)",
        ]
    lines += ["", "  Ctrl-C stops everything.", "=" * 72]
    return "\n".join(lines)


class _Server(uvicorn.Server):
    """uvicorn that leaves signals to us: its own handler re-raises the signal after shutdown
    (so the process would die of SIGTERM instead of exiting 0) and would stop the gateway
    before the sidecars have released their locks through it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_gateway_socket(port: int) -> socket.socket:
    """The gateway's listening socket, bound before the functions' settings are built: they hold its URL
    (the WebSocket API's LIVE_URL / LIVE_ENDPOINT_URL), which with ZAPGATE_PORT=0 exists only once bound."""
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose proto says TCP, and
    # without it every keep-alive response's body waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _bound_port(server: uvicorn.Server, fallback: int) -> int:
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    return fallback


async def _watch(children: Sequence[subprocess.Popen[bytes]]) -> None:
    """Say when a sidecar dies; the control plane keeps running so the developer can read why."""
    reported: set[int] = set()
    while True:
        for index, child in enumerate(children):
            code = child.poll()
            if code is not None and index not in reported:
                reported.add(index)
                print(f"sidecar {index} (pid {child.pid}) exited with code {code}", flush=True)
        await asyncio.sleep(1)


async def _serve(server: uvicorn.Server, sock: socket.socket | None = None) -> bool:
    """False when uvicorn gave up at startup: it reports a busy port or a failed lifespan startup
    with sys.exit, and a SystemExit escaping a task would tear through the event loop."""
    try:
        await server.serve(sockets=[sock] if sock is not None else None)
    except SystemExit:
        return False
    return True


async def serve(
    app: ASGIApp,
    settings: Settings,
    on_ready: Callable[[int], list[subprocess.Popen[bytes]]],
    sock: socket.socket | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM; `on_ready(port)` starts whatever needs the gateway up."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    children: list[subprocess.Popen[bytes]] = []

    def on_signal() -> None:
        if stop.is_set():  # asked twice: stop waiting for the sidecars' graceful shutdown
            for child in children:
                if child.poll() is None:
                    child.kill()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    config = uvicorn.Config(
        app,
        host=HOST,
        port=settings.port,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = _Server(config)
    serving = asyncio.create_task(_serve(server, sock))
    while not server.started:
        if serving.done():
            print(f"the gateway could not start on {HOST}:{settings.port}", file=sys.stderr, flush=True)
            return 1
        if stop.is_set():
            server.should_exit = True
            await serving
            return 0
        await asyncio.sleep(0.05)

    children.extend(on_ready(_bound_port(server, settings.port)))
    watcher = asyncio.create_task(_watch(children))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({stopped, serving}, return_when=asyncio.FIRST_COMPLETED)
    watcher.cancel()
    print("stopping: sidecars, gateway, moto", flush=True)
    await asyncio.to_thread(stop_children, children)
    server.should_exit = True
    await serving
    stopped.cancel()
    # Without a signal, uvicorn stopped on its own: that is a failure, not a clean stop.
    return 0 if stop.is_set() else 1


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # Until the event loop takes over, SIGTERM behaves like Ctrl-C, so setup is unwound cleanly too.
    signal.signal(signal.SIGTERM, _interrupt)
    settings = Settings.from_env(os.environ)
    try:
        overrides = parameter_overrides(os.environ.get("ZAPGATE_PARAMETER_OVERRIDES", ""), load_template())
    except ValueError as exc:
        print(f"ZAPGATE_PARAMETER_OVERRIDES: {exc}", file=sys.stderr, flush=True)
        return 2
    moto: MotoServer | None = None
    events: EventsWorker | None = None
    automations: EventsWorker | None = None
    models: automations_worker.LocalModels | None = None
    streams: list[StreamWorker] = []
    try:
        sock = bind_gateway_socket(settings.port)
    except OSError as exc:
        print(f"the gateway could not start on {HOST}:{settings.port}: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        moto = MotoServer(settings.aws_port).start()
        moto_endpoint = moto.endpoint
        apply_local_aws_environment(moto_endpoint)
        names = create_template_resources(moto, secrets={"WorkerSecret": settings.worker_secret})
        names.parameters.update(overrides)  # before any function's environment is resolved
        origin = f"{HOST}:{sock.getsockname()[1]}"
        names.gateway_origin = origin  # LIVE_URL and LIVE_ENDPOINT_URL point at this gateway

        from zapgate_devstack.gateway import build_gateway

        app = live_gateway.with_websocket_apis(build_gateway(names))  # + the WebSocket API, if the template has one
        live_url = next((url for url in live_gateway.live_urls(origin) if url.endswith("/live")), None)
        seed_api_key(names, settings.api_key)
        events = start_events_worker(moto, names)  # Lambda's SQS poller for the events processor
        streams = start_stream_workers(moto, names)  # Lambda's stream poller for the events outbox
        models = automations_worker.start_models()  # the agents' local model (or ZAPGATE_OPENAI_BASE_URL)
        automations = automations_worker.start_worker(moto, names)  # Lambda's SQS poller for the runner

        def on_ready(port: int) -> list[subprocess.Popen[bytes]]:
            base_url = f"http://{HOST}:{port}"
            children: list[subprocess.Popen[bytes]] = []
            sim_url: str | None = None
            if settings.sidecars == 0:
                note = "none (SIDECARS=0)"
            elif not sidecar_available():
                note = "none: zapgate_sidecar is not available yet, running the control plane only"
                print(f"SIDECARS={settings.sidecars} requested, but {note}", flush=True)
            else:
                sim_url = f"http://{HOST}:{settings.sim_port}"
                sim = start_sim(settings)
                wait_for_http(f"{sim_url}/sim/health", sim)
                children = start_sidecars(
                    settings, f"{base_url}/worker-proxy", sidecar_aws_environment(names, moto_endpoint), sim_url
                )
                children.append(sim)  # stopped last: sidecars close their sessions on it first
                ports = ", ".join(str(settings.sidecar_base_port + i) for i in range(settings.sidecars))
                note = f"{settings.sidecars} running, simulated WhatsApp (health on ports {ports})"
            print(banner(base_url, settings, moto_endpoint, note, sim_url, live_url), flush=True)
            if models is not None:
                print(f"  automations model: {models.describe()}\n"
                      "    a demo rule answering on the simulated network: .venv/bin/python -m "
                      "zapgate_devstack.demo_automations (docs/automations.md#runner)", flush=True)
            print(register_hint(base_url, settings.api_key), flush=True)
            print(READY_LINE, flush=True)
            return children

        return asyncio.run(serve(app, settings, on_ready, sock))
    except KeyboardInterrupt:
        return 0
    finally:
        sock.close()
        for worker in streams:
            worker.stop()
        if events is not None:
            events.stop()
        if automations is not None:
            automations.stop()
        if models is not None:
            models.stop()
        if moto is not None:
            moto.stop()


if __name__ == "__main__":
    raise SystemExit(main())
