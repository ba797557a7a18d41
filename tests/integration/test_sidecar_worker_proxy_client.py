"""The sidecar's worker-proxy client at scale: eligible-instances pages past the contract's 500 (zapgate
extension) and still works against a server that does not page (the Supabase edge functions / an older
control plane); a heartbeat renewing many locks gets the time its writes take."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import WORKER_SECRET
from tests.integration.background import BackgroundApp
from tests.integration.worker_client import make_instance
from zapgate_sidecar.adapters.worker_proxy import ELIGIBLE_PAGE, WorkerProxyClient


def _client(transport: httpx.AsyncBaseTransport) -> WorkerProxyClient:
    return WorkerProxyClient("http://gateway/worker-proxy", WORKER_SECRET, transport=transport)


def _recording_app_transport(seen: list[dict[str, str]]) -> httpx.AsyncBaseTransport:
    from zapgate_worker_proxy.app import app

    inner = httpx.ASGITransport(app=app)

    class Recording(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(dict(request.url.params))
            return await inner.handle_async_request(request)

    return Recording()


def test_the_sidecar_walks_every_page_and_announces_once(aws_env: dict[str, str]) -> None:
    made = [make_instance(aws_env, f"i{n}", priority=-n) for n in range(7)]
    seen: list[dict[str, str]] = []

    async def run() -> Any:
        client = _client(_recording_app_transport(seen))
        try:
            return await client.eligible_instances(limit=3, owner="sidecar-a", announce=True)
        finally:
            await client.close()

    answer = asyncio.run(run())
    assert [i.id for i in answer.instances] == [i["id"] for i in made]  # priority order across pages
    assert answer.sidecars == ["sidecar-a"] and answer.next_cursor is None
    assert len(seen) in (3, 4)
    assert seen[0]["paged"] == "true" and seen[0]["announce"] == "true"
    assert all("cursor" in params and "announce" not in params for params in seen[1:])  # presence: first page only


def test_leaving_the_fleet_is_one_request() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        return httpx.Response(200, json={"instances": [], "next_cursor": "more"})

    async def run() -> None:
        client = _client(httpx.MockTransport(handler))
        await client.eligible_instances(limit=1, owner="sidecar-a", announce=True, leave=True)
        await client.close()

    asyncio.run(run())
    assert len(seen) == 1 and seen[0]["leave"] == "true" and "paged" not in seen[0]


def test_a_server_without_paging_gives_one_page() -> None:
    """Servers that ignore `paged` answer the first `limit` (here a bare array, as the edge functions may)."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=[{"id": f"i{n}", "priority": 0} for n in range(ELIGIBLE_PAGE)])

    async def run() -> Any:
        client = _client(httpx.MockTransport(handler))
        try:
            return await client.eligible_instances()
        finally:
            await client.close()

    answer = asyncio.run(run())
    assert len(answer.instances) == ELIGIBLE_PAGE and len(calls) == 1
    assert calls[0].url.params["limit"] == str(ELIGIBLE_PAGE)


def test_a_large_renewal_gets_time_to_finish() -> None:
    """The client waits for the long-poll, 10 s, and the renewal's writes: 1,000 locks took ~4-13 s on the
    local stack, past the flat 10 s a wait_ms 0 heartbeat used to get."""
    from zapgate_core.contract.worker_proxy import HeartbeatRequest, HeldLock
    from zapgate_sidecar.adapters.worker_proxy import heartbeat_timeout_s

    locks = [HeldLock(instance_id=f"i{n}", lock_token="t") for n in range(1_000)]
    assert heartbeat_timeout_s(HeartbeatRequest(instance_owner="a", wait_ms=15_000, locks=locks[:1])) < 25.1
    assert heartbeat_timeout_s(HeartbeatRequest(instance_owner="a", wait_ms=0, locks=locks)) >= 25
    watch_only = HeartbeatRequest(instance_owner="a", wait_ms=0, locks=locks, renew=False)
    assert heartbeat_timeout_s(watch_only) == 10


def test_status_reports_queue_for_a_connection_and_never_hold_up_the_heartbeat() -> None:
    """350 runtimes reporting at once over 100 connections (a slow gateway: 1.2 s each): the fourth wave
    used to fail with PoolTimeout (3.6 s waiting > the 3 s timeout), and the heartbeat waited its turn; now
    they queue, and the fleet's calls have connections of their own. (Scaled up from 0.4 s / 1 s: opening
    100 connections at once took over 1 s on a loaded 2-CPU machine, a ConnectTimeout unrelated to pooling.)"""
    import time

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from zapgate_core.contract.worker_proxy import HeartbeatRequest, UpdateStatusRequest

    async def update_status(request: Request) -> JSONResponse:
        await asyncio.sleep(1.2)
        return JSONResponse({"ok": True})

    async def heartbeat(request: Request) -> JSONResponse:
        return JSONResponse({"locks": [], "ready": []})

    app = Starlette(routes=[Route("/worker-proxy/update-status", update_status, methods=["POST"]),
                            Route("/worker-proxy/heartbeat", heartbeat, methods=["POST"])])

    async def run(url: str) -> tuple[list[BaseException | None], float]:
        client = WorkerProxyClient(f"{url}/worker-proxy", WORKER_SECRET, timeout_s=3.0)
        try:
            reports = [asyncio.ensure_future(client.update_status(
                UpdateStatusRequest(instance_id=f"i{n}", status="CONNECTED"))) for n in range(350)]
            await asyncio.sleep(0.1)  # every connection of the runtimes' pool is busy now
            started = time.monotonic()
            await client.heartbeat(HeartbeatRequest(instance_owner="sidecar-a", wait_ms=0))
            heartbeat_s = time.monotonic() - started
            results = await asyncio.gather(*reports, return_exceptions=True)
            return [r if isinstance(r, BaseException) else None for r in results], heartbeat_s
        finally:
            await client.close()

    with BackgroundApp(app) as server:
        errors, heartbeat_s = asyncio.run(run(server.url))
    # Queued behind the reports it would wait >= 4.5 s (the rest of the first 1.2 s wave, then 3 more); a
    # loaded CI machine took 0.54 s with its own pool, so the bound leaves room for load, not for queueing.
    assert heartbeat_s < 3.0
    assert [type(e).__name__ for e in errors if e is not None] == []
