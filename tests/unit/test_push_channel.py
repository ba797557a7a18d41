"""The sidecar's end of the push channel against a real WebSocket server (websockets, on loopback):
the handshake it makes, frames in, keepalives out, make-before-break rotation, reconnect after a
drop, and how the instance manager routes each frame. No API Gateway here: tests/e2e/test_push_channel.py runs
the local emulation of SidecarPushApi with the real $connect function."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve

from zapgate_core.contract.sidecar_push import KEEPALIVE_ACTION, OWNER_HEADER, SidecarPush, push_frame
from zapgate_sidecar.push_channel import PushChannel

SECRET = "sidecar-secret-value-123"


class _PushServer:
    """Accepts connections with the right bearer and owner; records what each one sent."""

    def __init__(self) -> None:
        self.connections: list[ServerConnection] = []
        self.received: list[tuple[int, str]] = []  # (connection index, frame)
        self.closed: list[int] = []
        self.refused = 0
        self.server: Server | None = None

    async def handler(self, connection: ServerConnection) -> None:
        index = len(self.connections)
        self.connections.append(connection)
        try:
            async for frame in connection:
                self.received.append((index, str(frame)))
        finally:
            self.closed.append(index)

    def process_request(self, connection: ServerConnection, request: Any) -> Any:
        if request.headers.get("Authorization") != f"Bearer {SECRET}" or request.headers.get(OWNER_HEADER) != "sc-1":
            self.refused += 1
            return connection.respond(401, "Unauthorized\n")
        return None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = next(iter(self.server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}"


@asynccontextmanager
async def _push_server() -> AsyncIterator[_PushServer]:
    state = _PushServer()
    async with serve(state.handler, "127.0.0.1", 0, process_request=state.process_request) as server:
        state.server = server
        yield state


async def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def _channel(url: str | None, frames: list[SidecarPush], changes: list[str], *, secret: str = SECRET,
             keepalive_s: float = 60, rotate_s: float = 600) -> PushChannel:
    channel: PushChannel

    def on_change() -> None:
        changes.append(channel.state)

    channel = PushChannel(secret, "sc-1", frames.append, on_change, keepalive_s=keepalive_s, rotate_s=rotate_s,
                          url=url)
    return channel


def test_frames_reach_the_fleet_and_keepalives_go_out() -> None:
    async def scenario() -> None:
        async with _push_server() as server:
            frames: list[SidecarPush] = []
            changes: list[str] = []
            channel = _channel(server.url, frames, changes, keepalive_s=0.2)
            stopping = asyncio.Event()
            task = asyncio.create_task(channel.run(stopping))
            await _until(lambda: channel.up)
            assert changes == ["up"]  # the fleet polls once at once: it drains what it could have missed
            await server.connections[0].send(push_frame("outbound", "inst-1").decode())
            await server.connections[0].send(push_frame("discover", reason="sidecar_left").decode())
            await server.connections[0].send("not json at all")  # ignored, the channel stays up
            await _until(lambda: len(frames) == 2)
            assert frames == [SidecarPush(type="outbound", instance_id="inst-1"),
                              SidecarPush(type="discover", reason="sidecar_left")]
            await _until(lambda: len(server.received) >= 2)
            assert {json.loads(frame)["action"] for _, frame in server.received} == {KEEPALIVE_ACTION}
            assert channel.up and channel.describe()["frames"] == 3
            stopping.set()
            await asyncio.wait_for(task, 5)
            await _until(lambda: server.closed == [0])

    asyncio.run(scenario())


def test_a_refused_handshake_is_down_and_retried_never_up() -> None:
    async def scenario() -> None:
        async with _push_server() as server:
            frames: list[SidecarPush] = []
            changes: list[str] = []
            channel = _channel(server.url, frames, changes, secret="wrong-secret-value")
            stopping = asyncio.Event()
            task = asyncio.create_task(channel.run(stopping))
            await _until(lambda: channel.state == "down")
            assert channel.last_error == "handshake refused: HTTP 401"
            assert changes == ["down"] and server.connections == []
            stopping.set()
            await asyncio.wait_for(task, 5)

    asyncio.run(scenario())


def test_rotation_opens_the_new_connection_before_closing_the_old() -> None:
    async def scenario() -> None:
        async with _push_server() as server:
            changes: list[str] = []
            channel = _channel(server.url, [], changes, rotate_s=0.3)
            stopping = asyncio.Event()
            task = asyncio.create_task(channel.run(stopping))
            await _until(lambda: len(server.connections) >= 2)
            # The old connection closes only after the new one is open: no gap in which pushes are lost.
            await _until(lambda: 0 in server.closed)
            assert 1 not in server.closed
            assert channel.up and channel.connects >= 2
            assert "down" not in changes and changes.count("up") >= 2  # a rotation drains too, never "down"
            stopping.set()
            await asyncio.wait_for(task, 5)

    asyncio.run(scenario())


def test_a_dropped_connection_goes_down_then_reconnects() -> None:
    async def scenario() -> None:
        async with _push_server() as server:
            changes: list[str] = []
            channel = _channel(server.url, [], changes)
            stopping = asyncio.Event()
            task = asyncio.create_task(channel.run(stopping))
            await _until(lambda: channel.up)
            await server.connections[0].close(1001, "going away")
            await _until(lambda: len(server.connections) == 2 and channel.up, timeout=8)
            assert changes == ["up", "down", "up"]
            stopping.set()
            await asyncio.wait_for(task, 5)

    asyncio.run(scenario())


def test_without_a_url_the_channel_is_off_until_the_server_advertises_one() -> None:
    async def scenario() -> None:
        async with _push_server() as server:
            channel = _channel(None, [], [])
            stopping = asyncio.Event()
            task = asyncio.create_task(channel.run(stopping))
            await asyncio.sleep(0.1)
            assert channel.state == "off" and server.connections == []
            channel.use_url(server.url)  # worker-settings answered push_url
            await _until(lambda: channel.up)
            channel.use_url("ws://127.0.0.1:9/elsewhere")  # the first URL (or an explicit PUSH_URL) stays
            assert channel.url == server.url
            stopping.set()
            await asyncio.wait_for(task, 5)

    asyncio.run(scenario())


# ------------------------------------------------------------------ the instance manager's routing of frames


def _manager(tmp_path: Path, **settings: Any) -> Any:
    from zapgate_sidecar.instance_manager import InstanceManager
    from zapgate_sidecar.runtime import RuntimeDeps
    from zapgate_sidecar.settings import SidecarSettings

    config = SidecarSettings(edge_base_url="http://127.0.0.1:9", worker_secret=SECRET, auth_base=tmp_path / "a",
                             media_base=tmp_path / "m", instance_owner="sc-1", **settings)
    deps = RuntimeDeps(settings=config, proxy=SimpleNamespace(heartbeat_supported=True),  # type: ignore[arg-type]
                       transport=SimpleNamespace(name="none"), http=None,  # type: ignore[arg-type]
                       large_media=None, on_exit=lambda _i, _w: None)
    return InstanceManager(config, deps.proxy, deps)


class _Runtime:
    def __init__(self) -> None:
        self.woken = 0

    def wake_outbound(self) -> None:
        self.woken += 1


def test_the_fleet_routes_each_frame_to_what_it_wakes(tmp_path: Path) -> None:
    async def scenario() -> None:
        manager = _manager(tmp_path, instance_lock_ttl_ms=30_000)
        runtime = _Runtime()
        manager.runtimes = {"inst-1": runtime}
        manager._on_push(SidecarPush(type="outbound", instance_id="inst-1"))
        manager._on_push(SidecarPush(type="outbound", instance_id="someone-elses"))  # ignored
        assert runtime.woken == 1 and not manager.heartbeat.poll_now.is_set() and not manager._discover_now.is_set()
        manager._on_push(SidecarPush(type="command", instance_id="inst-1"))
        assert manager.heartbeat.poll_now.is_set()  # a short heartbeat: commands come only to the verified lock holder
        manager._on_push(SidecarPush(type="discover", reason="sidecar_joined"))
        assert manager._discover_now.is_set() and manager._announce_next  # its presence changes the fair share
        assert manager._discover_again_at is None
        manager._announce_next = False
        manager._on_push(SidecarPush(type="discover", reason="sidecar_left"))
        assert manager._announce_next  # its presence is gone server-side: the next discovery re-reads the fleet
        loop_now = asyncio.get_running_loop().time()
        assert manager._discover_again_at is not None and 30 < manager._discover_again_at - loop_now <= 32

    asyncio.run(scenario())


def test_wake_mode_longpoll_has_no_channel(tmp_path: Path) -> None:
    assert _manager(tmp_path, wake_mode="longpoll").push is None
    manager = _manager(tmp_path)
    assert manager.push is not None and manager.push.state == "off"
    assert manager.describe()["push"]["state"] == "off" and manager.describe()["wake_mode"] == "push"


@pytest.mark.parametrize("reason", ["instances_changed", "lock_released"])
def test_other_discover_reasons_only_discover_now(tmp_path: Path, reason: str) -> None:
    manager = _manager(tmp_path)
    manager._on_push(SidecarPush(type="discover", reason=reason))
    assert manager._discover_now.is_set() and not manager._announce_next and manager._discover_again_at is None


class _CountingProxy:
    heartbeat_supported = True

    def __init__(self) -> None:
        self.beats: list[tuple[float, bool, int]] = []  # (when, renew, wait_ms)

    async def heartbeat(self, request: Any) -> Any:
        from zapgate_core.contract.worker_proxy import HeartbeatResponse, LockStatus

        self.beats.append((asyncio.get_running_loop().time(), request.renew, request.wait_ms))
        return HeartbeatResponse(locks=[LockStatus(instance_id=lock.instance_id, acquired=True,
                                                   instance_owner=request.instance_owner, lock_token="t-1")
                                        for lock in request.locks], ready=[])


class _HeldRuntime(_Runtime):
    lock_token = "t-1"

    def describe(self) -> dict[str, Any]:
        return {"instance_id": "inst-1"}


async def _beats_for(manager: Any, seconds: float) -> list[tuple[float, bool, int]]:
    proxy = _CountingProxy()
    manager.proxy = proxy
    manager.runtimes = {"inst-1": _HeldRuntime()}
    task = asyncio.create_task(manager.heartbeat.loop())
    await asyncio.sleep(seconds)
    manager.stopping.set()
    await asyncio.wait_for(task, 5)
    return proxy.beats


def test_channel_up_means_one_short_renewal_per_interval_and_a_command_wake_renews_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        manager = _manager(tmp_path, instance_lock_ttl_ms=2_000, instance_lock_renew_ms=500, queue_poll_ms=100)
        manager.push.state = "up"
        asyncio.get_running_loop().call_later(0.7, manager._on_push, SidecarPush(type="command", instance_id="inst-1"))
        beats = await _beats_for(manager, 1.3)
        assert all(wait == 0 for _, _, wait in beats)  # never a long-poll: no Lambda waits for us
        renewals = [when for when, renew, _ in beats if renew]
        assert 2 <= len(renewals) <= 4, beats  # every ~0.5 s
        assert len(beats) - len(renewals) == 1, beats  # the command's wake-up: one heartbeat, no renewal
        assert manager.heartbeat.fallback_polls == 0

    asyncio.run(scenario())


def test_channel_down_means_polling_at_queue_poll_ms_but_renewing_only_when_due(tmp_path: Path) -> None:
    async def scenario() -> None:
        manager = _manager(tmp_path, instance_lock_ttl_ms=2_000, instance_lock_renew_ms=500, queue_poll_ms=100)
        manager.push.state = "down"
        beats = await _beats_for(manager, 1.3)
        assert all(wait == 0 for _, _, wait in beats)
        assert 8 <= len(beats) <= 16, len(beats)  # bounded: one per QUEUE_POLL_MS
        assert 2 <= sum(renew for _, renew, _ in beats) <= 4  # the locks' writes do not follow the polling rate
        assert manager.heartbeat.fallback_polls == len(beats)  # counted (FallbackPolls) and shown in /health/instances
        assert manager.describe()["fallback_polls"] == len(beats)

    asyncio.run(scenario())


def test_longpoll_mode_is_the_design_before_the_channel(tmp_path: Path) -> None:
    async def scenario() -> None:
        manager = _manager(tmp_path, instance_lock_ttl_ms=2_000, instance_lock_renew_ms=500, wake_mode="longpoll")
        beats = await _beats_for(manager, 0.3)
        assert beats and beats[0][2] == 500  # the server holds the call for up to the renew interval

    asyncio.run(scenario())
