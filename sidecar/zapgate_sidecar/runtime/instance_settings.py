"""The instance's settings as the control plane last answered them (contract/instance_settings.py).

Read once when the runtime starts, before its session opens (so the first connection already uses them:
a proxy must never be skipped on the first connect), and again whenever the control plane says the version
moved: a `settings` push frame (instance manager) or a renewal's `settings_version` (lock heartbeat). A
fetch is fenced by the lock (the answer may hold the proxy's credentials); 409 means the lock is gone.

Parts read `runtime.settings.current` and may register `on_change(listener)`: a listener runs on the
runtime's main task, between session events (never beside one), with the old and the new settings.
Nothing here logs a setting's value: they may be secrets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from zapgate_core.contract.instance_settings import InstanceSettings, defaults
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyError
from zapgate_sidecar.auth_persistence import LockLost
from zapgate_sidecar.logs import log

if TYPE_CHECKING:
    from zapgate_sidecar.runtime.instance import InstanceRuntime

SettingsListener = Callable[[InstanceSettings, InstanceSettings], Awaitable[None]]
LOAD_RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0)  # at start, while the control plane cannot answer


@dataclass(frozen=True)
class SettingsChanged:
    """Queued on the runtime's event queue: newer settings arrived; applied between session events."""

    settings: InstanceSettings


class InstanceSettingsFollower:
    def __init__(self, runtime: InstanceRuntime) -> None:
        self._runtime = runtime
        self.current: InstanceSettings = defaults(runtime.instance_id)
        self._listeners: list[SettingsListener] = []
        self._refreshing = False
        self._again = False
        self.fetches = 0

    def on_change(self, listener: SettingsListener) -> None:
        self._listeners.append(listener)

    async def load(self) -> None:
        """The first read, before the session opens: retried until answered (LockLost on a 409)."""
        attempt = 0
        runtime = self._runtime
        while not runtime.stopping.is_set():
            try:
                fetched = await self._fetch()
                break
            except (WorkerProxyError, httpx.HTTPError) as exc:
                delay = LOAD_RETRY_S[min(attempt, len(LOAD_RETRY_S) - 1)]
                attempt += 1
                log.warning("instance settings not read; retrying", extra={
                    "instance_id": runtime.instance_id, "error": type(exc).__name__,
                    "status": getattr(exc, "status", None), "delay_s": delay})
                await asyncio.sleep(delay)
        else:
            return
        if fetched is not None:
            self.current = fetched

    def version_seen(self, version: int | None) -> None:
        """The control plane reports the instance's settings_version (a renewal): fetch when ours is another."""
        if version is not None and version != self.current.version:
            self.changed()

    def changed(self) -> None:
        """The settings may have changed (a push frame): fetch them in the background, one fetch at a time."""
        if self._refreshing:
            self._again = True
            return
        self._refreshing = True
        self._runtime.spawn(self._refresh())

    async def apply(self, event: SettingsChanged) -> None:
        """On the runtime's main task: make them current, then tell the parts that listen."""
        old, new = self.current, event.settings
        if new.version == old.version and new == old:
            return
        self.current = new
        log.info("instance settings changed", extra={"instance_id": self._runtime.instance_id,
                                                     "version": new.version})
        for listener in self._listeners:
            await listener(old, new)

    async def _refresh(self) -> None:
        runtime = self._runtime
        try:
            while True:
                self._again = False
                try:
                    fetched = await self._fetch()
                except LockLost:
                    runtime.lock_lost()
                    return
                except (WorkerProxyError, httpx.HTTPError) as exc:  # the next renewal reports the version again
                    log.warning("instance settings not read", extra={"instance_id": runtime.instance_id,
                                                                     "error": type(exc).__name__})
                    return
                if fetched is not None and fetched.version != self.current.version:
                    runtime.events.put_nowait((0, SettingsChanged(fetched)))
                if not self._again:
                    return
        finally:
            self._refreshing = False

    async def _fetch(self) -> InstanceSettings | None:
        runtime = self._runtime
        self.fetches += 1
        try:
            return await runtime.deps.proxy.instance_settings(
                runtime.instance_id, runtime.deps.settings.instance_owner, runtime.lock_token)
        except WorkerProxyError as exc:
            if exc.status == 409:
                raise LockLost(runtime.instance_id) from exc
            raise
