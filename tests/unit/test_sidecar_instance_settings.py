"""The runtime's instance settings (runtime/instance_settings.py): read before the session opens, fetched again
when a frame or a renewal says the version moved, applied between events, fenced (409 = the lock is gone)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from zapgate_core.contract.instance_settings import InstanceSettings
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyError
from zapgate_sidecar.auth_persistence import LockLost
from zapgate_sidecar.runtime.instance_settings import InstanceSettingsFollower, SettingsChanged


class _Proxy:
    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, str | None]] = []

    async def instance_settings(self, instance_id: str, owner: str, lock_token: str | None) -> Any:
        self.calls.append((instance_id, owner, lock_token))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class _Runtime(SimpleNamespace):
    def __init__(self, proxy: _Proxy) -> None:
        super().__init__(instance_id="i1", lock_token="tok", stopping=asyncio.Event(), events=asyncio.Queue(),
                         deps=SimpleNamespace(proxy=proxy, settings=SimpleNamespace(instance_owner="sc-1")),
                         tasks=[], lost=0)

    def spawn(self, coroutine: Any) -> None:
        self.tasks.append(asyncio.ensure_future(coroutine))

    def lock_lost(self) -> None:
        self.lost += 1


def _settings(version: int, **fields: Any) -> InstanceSettings:
    return InstanceSettings(instance_id="i1", version=version, **fields)


def test_the_first_read_is_fenced_and_a_server_without_it_leaves_the_defaults() -> None:
    async def scenario() -> tuple[Any, ...]:
        proxy = _Proxy([None])
        runtime = _Runtime(proxy)
        follower = InstanceSettingsFollower(runtime)  # type: ignore[arg-type]
        await follower.load()
        return proxy.calls, follower.current

    calls, current = asyncio.run(scenario())
    assert calls == [("i1", "sc-1", "tok")]
    assert current == _settings(0)


def test_a_failing_first_read_is_retried_and_a_409_is_a_lost_lock(monkeypatch: Any) -> None:
    monkeypatch.setattr("zapgate_sidecar.runtime.instance_settings.LOAD_RETRY_S", (0.0,))

    async def scenario() -> tuple[Any, ...]:
        proxy = _Proxy([WorkerProxyError("GET", "/x", 503, ""), _settings(3, reject_calls=True)])
        follower = InstanceSettingsFollower(_Runtime(proxy))  # type: ignore[arg-type]
        await follower.load()
        refused = InstanceSettingsFollower(_Runtime(_Proxy([WorkerProxyError("GET", "/x", 409, "")])))  # type: ignore[arg-type]
        try:
            await refused.load()
            lost = False
        except LockLost:
            lost = True
        return follower.current, len(proxy.calls), lost

    current, calls, lost = asyncio.run(scenario())
    assert (current.version, current.reject_calls, calls, lost) == (3, True, 2, True)


def test_a_newer_version_is_fetched_queued_and_applied_to_the_listeners() -> None:
    async def scenario() -> tuple[Any, ...]:
        proxy = _Proxy([_settings(2, reject_calls=True), _settings(2, reject_calls=True)])
        runtime = _Runtime(proxy)
        follower = InstanceSettingsFollower(runtime)  # type: ignore[arg-type]
        seen: list[tuple[int, int]] = []

        async def listener(old: InstanceSettings, new: InstanceSettings) -> None:
            seen.append((old.version, new.version))

        follower.on_change(listener)
        follower.version_seen(0)  # the version we have: nothing fetched
        follower.version_seen(None)
        assert proxy.calls == []
        follower.version_seen(2)  # a renewal reports a newer one
        await asyncio.gather(*runtime.tasks)
        _, event = runtime.events.get_nowait()
        assert isinstance(event, SettingsChanged)
        await follower.apply(event)
        await follower.apply(event)  # a second copy changes nothing
        follower.changed()  # a push frame: fetched, same version, nothing queued
        await asyncio.gather(*runtime.tasks)
        return seen, follower.current, runtime.events.qsize(), len(proxy.calls)

    seen, current, queued, calls = asyncio.run(scenario())
    assert seen == [(0, 2)]
    assert current.reject_calls is True and queued == 0 and calls == 2


def test_a_refused_refresh_stops_the_runtime_as_a_lost_lock() -> None:
    async def scenario() -> int:
        runtime = _Runtime(_Proxy([WorkerProxyError("GET", "/x", 409, "")]))
        follower = InstanceSettingsFollower(runtime)  # type: ignore[arg-type]
        follower.changed()
        await asyncio.gather(*runtime.tasks)
        return int(runtime.lost)

    assert asyncio.run(scenario()) == 1
