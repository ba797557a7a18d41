"""Wiring and the process lifecycle: settings → transport → instance manager → health server; SIGTERM stops all."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import os
import signal
import sys
from typing import Any

import httpx
import uvicorn

from zapgate_core.storage.media import ContentAddressedMedia
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyClient
from zapgate_sidecar.health import health_app
from zapgate_sidecar.instance_manager import InstanceManager
from zapgate_sidecar.logs import log
from zapgate_sidecar.runtime import RuntimeDeps
from zapgate_sidecar.settings import SettingsError, SidecarSettings, load_settings
from zapgate_sidecar.transport import WhatsAppTransport


def build_transport(settings: SidecarSettings) -> WhatsAppTransport:
    if settings.transport == "sim":
        return _sim_transport(settings.sim_url)
    from zapgate_sidecar.transports.neonize.transport import NeonizeTransport

    return NeonizeTransport()


def _sim_transport(sim_url: str) -> WhatsAppTransport:
    """The simulated network's transport, found by name only when asked for: the sidecar image has no zapgate_sim,
    and no import statement here names it (tests/unit/test_sidecar_image_has_no_simulator.py holds both)."""
    try:
        sim = importlib.import_module("zapgate_sim.transport")
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != "zapgate_sim":
            raise  # the simulator is there but something it needs is not: not ours to reword
        raise SettingsError(
            "ZAPGATE_TRANSPORT: sim needs the simulated network (the zapgate_sim package), which ships with the "
            "repository for make run, tests and benchmarks but not in the sidecar image; use neonize here"
        ) from None
    transport: WhatsAppTransport = sim.SimTransport(sim_url)
    return transport


def _large_media(settings: SidecarSettings) -> ContentAddressedMedia | None:
    if not settings.media_bucket:
        return None

    @functools.cache
    def s3() -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("s3", config=Config(signature_version="s3v4"))

    return ContentAddressedMedia(settings.media_bucket, 7 * 24 * 3600, s3)


async def run(settings: SidecarSettings, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT, or until `stop` is set when the caller owns the signals (tests)."""
    transport = build_transport(settings)  # first: a transport this process cannot run stops it before any I/O
    proxy = WorkerProxyClient(settings.base_url, settings.worker_secret)
    http = httpx.AsyncClient(follow_redirects=True)
    deps = RuntimeDeps(settings=settings, proxy=proxy, transport=transport, http=http,
                       large_media=_large_media(settings), on_exit=lambda _i, _w: None)
    manager = InstanceManager(settings, proxy, deps)
    server = uvicorn.Server(uvicorn.Config(health_app(manager.describe), host="0.0.0.0", port=settings.port,
                                           log_level="warning", lifespan="off"))
    # uvicorn's serve() takes SIGTERM/SIGINT while it runs (Server.capture_signals) and raises the signal
    # again once the health server has closed, so it still reaches the handlers below.
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    log.info("sidecar starting", extra={"owner": settings.instance_owner, "transport": settings.transport,
                                        "edge": settings.base_url, "port": settings.port})
    tasks = [asyncio.create_task(t) for t in (server.serve(), manager.discovery_loop(), manager.heartbeat.loop(),
                                              manager.push_loop())]
    await stop.wait()
    log.info("sidecar stopping: releasing instances")
    try:
        await asyncio.wait_for(manager.shutdown(), settings.stop_timeout_s)
    except TimeoutError:
        log.error("shutdown timed out; locks will expire on their own")
    server.should_exit = True
    for task in tasks[1:]:
        task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    await proxy.close()
    await http.aclose()


def main() -> None:
    settings = load_settings()
    asyncio.run(run(settings))
    # neonize runs its blocking Go call on a non-daemon thread that a hung dial or an unfinished
    # pairing never ends; everything is stopped and released by now, so leave without waiting.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
