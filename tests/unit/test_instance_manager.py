"""The instance manager's own rules: shutdown against a discovery in flight (no lock may outlive the
sidecar) and heartbeats a server accepts whatever the lock TTL.

The real InstanceManager and InstanceRuntime run; only the worker-proxy and the WhatsApp network are
swapped for in-memory stand-ins.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from zapgate_core.contract.worker_proxy import (
    MAX_HEARTBEAT_WAIT_MS,
    EligibleInstance,
    EligibleInstances,
    HeartbeatRequest,
    HeartbeatResponse,
    LockResponse,
    WorkerSettings,
)
from zapgate_sidecar.instance_manager import InstanceManager
from zapgate_sidecar.outbound import SendOutcome
from zapgate_sidecar.runtime import InstanceRuntime, RuntimeDeps, outbound_runner
from zapgate_sidecar.settings import SidecarSettings
from zapgate_sidecar.transport import Connected, QrShown


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


async def _shutdown_during_acquire(tmp_path: Path) -> tuple[_SlowAcquireProxy, InstanceManager]:
    settings = SidecarSettings(edge_base_url="http://127.0.0.1:9", worker_secret="sidecar-secret-value-123",
                               auth_base=tmp_path / "auth", media_base=tmp_path / "media",
                               instance_owner="sidecar-a")
    proxy = _SlowAcquireProxy()
    deps = RuntimeDeps(settings=settings, proxy=proxy, transport=_IdleNetwork(), http=None,  # type: ignore[arg-type]
                       large_media=None, on_exit=lambda _i, _w: None)
    manager = InstanceManager(settings, proxy, deps)  # type: ignore[arg-type]
    discovery = asyncio.create_task(manager.discovery_loop())
    await asyncio.wait_for(proxy.acquiring.wait(), 5)
    shutdown = asyncio.create_task(manager.shutdown())
    await asyncio.sleep(0.05)  # shutdown has begun while the acquire is still on the wire
    proxy.answer.set()
    await asyncio.wait_for(shutdown, 5)
    await asyncio.wait_for(discovery, 5)
    return proxy, manager


def test_an_acquire_answered_during_shutdown_is_released(tmp_path: Path) -> None:
    proxy, manager = asyncio.run(_shutdown_during_acquire(tmp_path))
    assert proxy.acquiring.is_set() and proxy.answer.is_set()
    assert proxy.held == set(), "a lock acquired while shutting down was left to expire"
    assert manager.runtimes == {}


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
    manager = InstanceManager(settings, proxy, deps)  # type: ignore[arg-type]
    manager.runtimes["i1"] = InstanceRuntime("i1", LockResponse(acquired=True, instance_owner="sidecar-a",
                                                              lock_token="t", fence=1), deps)
    assert asyncio.run(manager.heartbeat.once(wait_ms=settings.lock_renew_ms)) is True
    sent = proxy.requests[0]
    assert sent.wait_ms == MAX_HEARTBEAT_WAIT_MS < settings.lock_renew_ms
    HeartbeatRequest.model_validate(sent.model_dump(by_alias=True))  # what the server validates


class _ScriptedSession:
    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def start(self) -> None: ...
    def stop(self) -> None: ...


class _ScriptedNetwork:
    """Keeps each session's event sink, so the test says when a QR shows and when the phone links."""

    name = "scripted"

    def __init__(self) -> None:
        self.sessions: dict[str, _ScriptedSession] = {}

    def open_session(self, instance_id: str, auth_dir: Path, sink: Any) -> _ScriptedSession:
        self.sessions[instance_id] = _ScriptedSession(sink)
        return self.sessions[instance_id]


class _RebalanceProxy:
    """A fleet of two announced sidecars; the test sets which instances are eligible."""

    heartbeat_supported = None

    def __init__(self) -> None:
        self.eligible: list[EligibleInstance] = []
        self.released: list[str] = []

    async def worker_settings(self) -> WorkerSettings:
        return WorkerSettings()

    async def eligible_instances(self, **_: Any) -> EligibleInstances:
        return EligibleInstances(instances=list(self.eligible), sidecars=["sidecar-a", "sidecar-b"])

    async def acquire(self, instance_id: str, owner: str, ttl_ms: int) -> LockResponse:
        return LockResponse(acquired=True, instance_owner=owner, lock_token=f"t-{instance_id}", fence=1)

    async def release(self, instance_id: str, owner: str, token: str | None) -> None:
        self.released.append(instance_id)

    async def update_status(self, request: Any) -> None: ...

    async def instance_settings(self, instance_id: str, owner: str, lock_token: str | None) -> None:
        return None  # a server without the settings extension: the defaults apply

    async def queued_messages(self, instance_id: str, limit: int) -> list[Any]:
        return []


async def _until(condition: Any, what: str) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def _rebalance_while_linking(tmp_path: Path) -> list[str]:
    cooldown_s = 0.3
    settings = SidecarSettings(edge_base_url="http://127.0.0.1:9", worker_secret="sidecar-secret-value-123",
                               auth_base=tmp_path / "auth", media_base=tmp_path / "media",
                               instance_owner="sidecar-a", stop_cooldown_ms=int(cooldown_s * 1000))
    proxy, network = _RebalanceProxy(), _ScriptedNetwork()
    deps = RuntimeDeps(settings=settings, proxy=proxy, transport=network, http=None,  # type: ignore[arg-type]
                       large_media=None, on_exit=lambda _i, _w: None)
    manager = InstanceManager(settings, proxy, deps)  # type: ignore[arg-type]
    try:
        proxy.eligible = [EligibleInstance(id="linking")]
        await manager.discover_once()
        await _until(lambda: "linking" in network.sessions, "a session for the instance")
        network.sessions["linking"].sink(QrShown(code="QR-1"))
        runtime = manager.runtimes["linking"]
        await _until(lambda: runtime.state == "waiting_qr", "the QR on screen")

        # A higher-priority instance appears: the fair share (2 eligible ÷ 2 sidecars) leaves "linking" out.
        proxy.eligible = [EligibleInstance(id="urgent", priority=9), EligibleInstance(id="linking")]
        for _ in range(4):  # well past the cooldown, QR still on screen
            await manager.discover_once()
            await asyncio.sleep(cooldown_s / 2)
        await manager.discover_once()
        assert "urgent" in manager.runtimes
        assert manager.runtimes.get("linking") is runtime and runtime.state == "waiting_qr"
        assert "linking" not in proxy.released

        network.sessions["linking"].sink(Connected(jid="5511999990001@s.whatsapp.net"))
        await _until(lambda: runtime.connected, "the phone linked")
        await manager.discover_once()  # the cooldown counts from the link, not from when it left the target
        assert manager.runtimes.get("linking") is runtime and "linking" not in proxy.released

        await asyncio.sleep(cooldown_s + 0.05)
        await manager.discover_once()
        assert "linking" not in manager.runtimes and proxy.released == ["linking"]
        assert runtime.last_reason == "left_target"
        return list(proxy.released)
    finally:
        await manager.shutdown()


def test_rebalancing_keeps_a_linking_runtime_until_it_connected_and_cooled_down(tmp_path: Path) -> None:
    assert asyncio.run(_rebalance_while_linking(tmp_path)) == ["linking"]  # released once, after the cooldown


class _OneMessageProxy(_RebalanceProxy):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[Any]] = [[object()]]

    async def queued_messages(self, instance_id: str, limit: int) -> list[Any]:
        return self.batches.pop(0) if self.batches else []


async def _rebalance_while_sending(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    cooldown_s = 0.2
    sending, finish = asyncio.Event(), asyncio.Event()

    async def slow_send(*_: Any) -> SendOutcome:
        sending.set()
        await finish.wait()
        return SendOutcome(message_id="m1", wa_message_id="WA1", error=None, elapsed_ms=1.0)

    monkeypatch.setattr(outbound_runner, "send_one", slow_send)
    settings = SidecarSettings(edge_base_url="http://127.0.0.1:9", worker_secret="sidecar-secret-value-123",
                               auth_base=tmp_path / "auth", media_base=tmp_path / "media",
                               instance_owner="sidecar-a", stop_cooldown_ms=int(cooldown_s * 1000))
    proxy, network = _OneMessageProxy(), _ScriptedNetwork()
    deps = RuntimeDeps(settings=settings, proxy=proxy, transport=network, http=None,  # type: ignore[arg-type]
                       large_media=None, on_exit=lambda _i, _w: None)
    manager = InstanceManager(settings, proxy, deps)  # type: ignore[arg-type]
    try:
        proxy.eligible = [EligibleInstance(id="busy")]
        await manager.discover_once()
        await _until(lambda: "busy" in network.sessions, "a session for the instance")
        runtime = manager.runtimes["busy"]
        assert runtime.sends_in_flight == 0
        network.sessions["busy"].sink(Connected(jid="5511999990002@s.whatsapp.net"))
        await asyncio.wait_for(sending.wait(), 2)  # connected: the queued message is claimed and sent
        assert runtime.sends_in_flight == 1

        proxy.eligible = [EligibleInstance(id="urgent", priority=9), EligibleInstance(id="busy")]
        for _ in range(3):  # past the cooldown, the send still on the wire
            await manager.discover_once()
            await asyncio.sleep(cooldown_s)
        await manager.discover_once()
        assert manager.runtimes.get("busy") is runtime and "busy" not in proxy.released

        finish.set()
        await _until(lambda: runtime.sends_in_flight == 0, "the send to finish")
        assert runtime.sent == 1
        await manager.discover_once()
        assert "busy" not in manager.runtimes and proxy.released == ["busy"]
        return list(proxy.released)
    finally:
        finish.set()
        await manager.shutdown()


def test_rebalancing_waits_for_sends_in_flight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert asyncio.run(_rebalance_while_sending(tmp_path, monkeypatch)) == ["busy"]  # once the send finished


class _FreeInstancesProxy:
    """Four free instances; every acquire succeeds; the heartbeat is not exercised here."""

    heartbeat_supported = None

    def __init__(self) -> None:
        self.acquired: list[str] = []

    async def worker_settings(self) -> WorkerSettings:
        return WorkerSettings()

    async def eligible_instances(self, **_: Any) -> EligibleInstances:
        return EligibleInstances(instances=[EligibleInstance(id=f"i{n}") for n in range(4)])

    async def acquire(self, instance_id: str, owner: str, ttl_ms: int) -> LockResponse:
        self.acquired.append(instance_id)
        return LockResponse(acquired=True, instance_owner=owner, lock_token=f"t-{instance_id}", fence=1)

    async def release(self, instance_id: str, owner: str, token: str | None) -> None: ...

    async def update_status(self, request: Any) -> None: ...

    async def queued_messages(self, instance_id: str, limit: int) -> list[Any]:
        await asyncio.sleep(3600)
        return []


async def _first_pass(tmp_path: Path, discoveries_before: int) -> list[str]:
    settings = SidecarSettings(edge_base_url="http://127.0.0.1:9", worker_secret="sidecar-secret-value-123",
                               auth_base=tmp_path / "auth", media_base=tmp_path / "media", instance_owner="sidecar-a")
    proxy = _FreeInstancesProxy()
    deps = RuntimeDeps(settings=settings, proxy=proxy, transport=_IdleNetwork(), http=None,  # type: ignore[arg-type]
                       large_media=None, on_exit=lambda _i, _w: None)
    manager = InstanceManager(settings, proxy, deps)  # type: ignore[arg-type]
    manager._discoveries = discoveries_before
    await manager.discover_once()
    await manager.shutdown()
    return proxy.acquired


def test_slow_start_only_while_young_then_a_dead_peers_instances_move_in_one_pass(tmp_path: Path) -> None:
    from zapgate_sidecar.instance_manager import SLOW_START_DISCOVERIES

    # A sidecar that just started takes one (others starting with it must get to announce themselves).
    assert asyncio.run(_first_pass(tmp_path / "young", 0)) == ["i0"]
    # One that has run a while knows the fleet: its fair share bounds it, not 1, 1, 2, 4... cycles apart.
    assert asyncio.run(_first_pass(tmp_path / "old", SLOW_START_DISCOVERIES)) == ["i0", "i1", "i2", "i3"]


def test_after_a_sidecar_left_discovery_runs_at_the_fast_rate_until_the_recheck(tmp_path: Path) -> None:
    from zapgate_core.contract.sidecar_push import SidecarPush

    async def scenario() -> None:
        settings = SidecarSettings(edge_base_url="http://127.0.0.1:9", worker_secret="sidecar-secret-value-123",
                                   auth_base=tmp_path / "auth", media_base=tmp_path / "media",
                                   instance_owner="sidecar-a", discovery_poll_ms=200, discovery_idle_ms=60_000)
        deps = RuntimeDeps(settings=settings, proxy=None, transport=_IdleNetwork(), http=None,  # type: ignore[arg-type]
                           large_media=None, on_exit=lambda _i, _w: None)
        manager = InstanceManager(settings, None, deps)  # type: ignore[arg-type]
        assert manager.push is not None
        manager.push.state = "up"
        manager._settled = True
        with pytest.raises(TimeoutError):  # settled, channel up: the idle interval (60 s)
            await asyncio.wait_for(manager._wait_for_discovery(), 0.6)
        manager._on_push(SidecarPush(type="discover", reason="sidecar_left"))
        await asyncio.wait_for(manager._wait_for_discovery(), 0.5)  # now, for the frame itself
        # Its locks lapse any time within one TTL: keep looking every DISCOVERY_POLL_MS until the re-check.
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(manager._wait_for_discovery(), 1.0)
        assert asyncio.get_running_loop().time() - started < 0.5

    asyncio.run(scenario())


async def _split_after_the_peers_instance_was_deleted(tmp_path: Path) -> list[str]:
    settings = SidecarSettings(edge_base_url="http://127.0.0.1:9", worker_secret="sidecar-secret-value-123",
                               auth_base=tmp_path / "auth", media_base=tmp_path / "media", instance_owner="sidecar-a")
    proxy = _RebalanceProxy()
    deps = RuntimeDeps(settings=settings, proxy=proxy, transport=_IdleNetwork(), http=None,  # type: ignore[arg-type]
                       large_media=None, on_exit=lambda _i, _w: None)
    manager = InstanceManager(settings, proxy, deps)  # type: ignore[arg-type]
    from zapgate_sidecar.instance_manager import SLOW_START_DISCOVERIES

    manager._discoveries = SLOW_START_DISCOVERIES
    try:
        proxy.eligible = [EligibleInstance(id="theirs", owner="sidecar-b")]
        await manager.discover_once()
        # "theirs" was deleted; sidecar-b is alive (still announced) and holds nothing; six new instances.
        proxy.eligible = [EligibleInstance(id=f"i{n}") for n in range(6)]
        await manager.discover_once()
        return sorted(manager.runtimes)
    finally:
        await manager.shutdown()


def test_a_peer_that_lost_its_instances_to_a_delete_still_gets_its_share(tmp_path: Path) -> None:
    # Regression (CI, test_sidecar_fleet): sidecar-a counted sidecar-b as dead and kept all six.
    assert asyncio.run(_split_after_the_peers_instance_was_deleted(tmp_path)) == ["i0", "i1", "i2"]
