"""The fleet's own rules: shutdown against a discovery in flight (no lock may outlive the
sidecar) and heartbeats a server accepts whatever the lock TTL.

The real Fleet and InstanceRuntime run; only the worker-proxy and the WhatsApp network are
swapped for in-memory stand-ins.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from zapgate_core.contract.worker_proxy import (
    MAX_HEARTBEAT_WAIT_MS,
    EligibleInstance,
    EligibleInstances,
    HeartbeatRequest,
    HeartbeatResponse,
    LockResponse,
    WorkerSettings,
)
from zapgate_sidecar.fleet import Fleet
from zapgate_sidecar.runtime import InstanceRuntime, RuntimeDeps
from zapgate_sidecar.settings import SidecarSettings


class _IdleSession:
    def start(self) -> None: ...
    def stop(self) -> None: ...


class _IdleNetwork:
    name = "idle"

    def open_session(self, instance_id: str, auth_dir: Path, sink: Any) -> _IdleSession:
        return _IdleSession()


class _SlowAcquireProxy:
    """Holds every acquire open until told to answer, and records which locks are held."""

    heartbeat_supported = None

    def __init__(self) -> None:
        self.acquiring = asyncio.Event()
        self.answer = asyncio.Event()
        self.held: set[str] = set()

    async def worker_settings(self) -> WorkerSettings:
        return WorkerSettings()

    async def eligible_instances(self, **_: Any) -> EligibleInstances:
        return EligibleInstances(instances=[EligibleInstance(id="i1"), EligibleInstance(id="i2")])

    async def acquire(self, instance_id: str, owner: str, ttl_ms: int) -> LockResponse:
        self.acquiring.set()
        await self.answer.wait()
        self.held.add(instance_id)
        return LockResponse(acquired=True, instance_owner=owner, lock_token=f"t-{instance_id}", fence=1)

    async def release(self, instance_id: str, owner: str, token: str | None) -> None:
        self.held.discard(instance_id)

    async def update_status(self, request: Any) -> None: ...

    async def queued_messages(self, instance_id: str, limit: int) -> list[Any]:
        await asyncio.sleep(3600)
        return []


async def _shutdown_during_acquire(tmp_path: Path) -> tuple[_SlowAcquireProxy, Fleet]:
    settings = SidecarSettings(edge_base_url="http://127.0.0.1:9", worker_secret="sidecar-secret-value-123",
                               auth_base=tmp_path / "auth", media_base=tmp_path / "media",
                               instance_owner="sidecar-a")
    proxy = _SlowAcquireProxy()
    deps = RuntimeDeps(settings=settings, proxy=proxy, transport=_IdleNetwork(), http=None,  # type: ignore[arg-type]
                       large_media=None, on_exit=lambda _i, _w: None)
    fleet = Fleet(settings, proxy, deps)  # type: ignore[arg-type]
    discovery = asyncio.create_task(fleet.discovery_loop())
    await asyncio.wait_for(proxy.acquiring.wait(), 5)
    shutdown = asyncio.create_task(fleet.shutdown())
    await asyncio.sleep(0.05)  # shutdown has begun while the acquire is still on the wire
    proxy.answer.set()
    await asyncio.wait_for(shutdown, 5)
    await asyncio.wait_for(discovery, 5)
    return proxy, fleet


def test_an_acquire_answered_during_shutdown_is_released(tmp_path: Path) -> None:
    proxy, fleet = asyncio.run(_shutdown_during_acquire(tmp_path))
    assert proxy.acquiring.is_set() and proxy.answer.is_set()
    assert proxy.held == set(), "a lock acquired while shutting down was left to expire"
    assert fleet.runtimes == {}


class _RecordingHeartbeatProxy:
    heartbeat_supported = True

    def __init__(self) -> None:
        self.requests: list[Any] = []

    async def heartbeat(self, request: Any) -> HeartbeatResponse:
        self.requests.append(request)
        return HeartbeatResponse(locks=[], ready=[])


def test_a_long_lock_ttl_never_asks_for_a_longer_wait_than_the_contract_allows(tmp_path: Path) -> None:
    """TTL 60 s renews every 30 s; a 30 s long-poll would be refused (422) and no lock ever renewed."""
    settings = SidecarSettings(edge_base_url="http://127.0.0.1:9", worker_secret="sidecar-secret-value-123",
                               auth_base=tmp_path / "auth", media_base=tmp_path / "media",
                               instance_owner="sidecar-a", instance_lock_ttl_ms=60_000)
    proxy = _RecordingHeartbeatProxy()
    deps = RuntimeDeps(settings=settings, proxy=proxy, transport=_IdleNetwork(), http=None,  # type: ignore[arg-type]
                       large_media=None, on_exit=lambda _i, _w: None)
    fleet = Fleet(settings, proxy, deps)  # type: ignore[arg-type]
    fleet.runtimes["i1"] = InstanceRuntime("i1", LockResponse(acquired=True, instance_owner="sidecar-a",
                                                              lock_token="t", fence=1), deps)
    assert asyncio.run(fleet.heartbeat_once(wait_ms=settings.lock_renew_ms)) is True
    sent = proxy.requests[0]
    assert sent.wait_ms == MAX_HEARTBEAT_WAIT_MS < settings.lock_renew_ms
    HeartbeatRequest.model_validate(sent.model_dump(by_alias=True))  # what the server validates
