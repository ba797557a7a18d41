"""The instance manager's heartbeat: one call renews every lock this sidecar holds and says which
instances have work waiting (`ready`: wake their outbound runner) and which commands are pending.

In `push` mode the heartbeat is a short call once per renew interval, or at once when the push channel
rings (a command); while the channel is down it runs every QUEUE_POLL_MS instead (the fallback, counted
in `fallback_polls`). In `longpoll` mode it waits server-side for work. Against servers without a
heartbeat each lock is renewed on its own and the outbound runners poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import httpx

from zapgate_core.contract.worker_proxy import MAX_HEARTBEAT_WAIT_MS, HeartbeatRequest, HeldLock, LockResponse
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyError
from zapgate_sidecar.logs import log
from zapgate_sidecar.waits import first_of

if TYPE_CHECKING:
    from zapgate_sidecar.instance_manager import InstanceManager
    from zapgate_sidecar.runtime import InstanceRuntime


class LockHeartbeat:
    def __init__(self, manager: InstanceManager) -> None:
        self._manager = manager
        self.poll_now = asyncio.Event()  # a short heartbeat now: a command's doorbell, a channel change
        self.held_changed = asyncio.Event()  # a runtime was added: the heartbeat in flight lists old locks
        self.fallback_polls = 0
        self._renewed_at = float("-inf")

    async def loop(self) -> None:
        manager = self._manager
        push = manager.push
        if push is None:
            await self._long_poll_loop()
            return
        settings = manager.settings
        renew_s = settings.lock_renew_ms / 1000
        while not manager.stopping.is_set():
            self.poll_now.clear()
            self.held_changed.clear()
            polling = not push.up  # the fallback: the channel cannot wake us, so we look
            try:
                # Renew only when due (90% of the interval: timers wake a little early), never on a wake-up.
                handled = await self.once(wait_ms=0, renew_after_ms=settings.lock_renew_ms * 0.9)
            except (WorkerProxyError, httpx.HTTPError, ValueError) as exc:
                log.warning("heartbeat failed", extra={"error": str(exc)[:200]})
                handled = False
            if handled and polling and manager.runtimes:
                self.fallback_polls += 1
                manager.deps.telemetry.incr("FallbackPolls")
            if not handled:  # no heartbeat on this server (runtimes poll), or an error: pace the renewals
                wait_s = renew_s
            else:
                wait_s = renew_s - (time.monotonic() - self._renewed_at)
                if not push.up:
                    wait_s = min(wait_s, settings.queue_poll_ms / 1000)
            await self._pause(max(wait_s, 0.05), also=self.poll_now)

    async def _long_poll_loop(self) -> None:
        manager = self._manager
        renew_s = manager.settings.lock_renew_ms / 1000
        while not manager.stopping.is_set():
            started = time.monotonic()
            self.held_changed.clear()
            try:
                handled = await self._heartbeat_until_held_changes(wait_ms=int(renew_s * 1000))
            except (WorkerProxyError, httpx.HTTPError, ValueError) as exc:
                log.warning("heartbeat failed", extra={"error": str(exc)[:200]})
                handled = False
            # Without a heartbeat (or after an error) renewals pace themselves; a long-poll already waited.
            if not handled or time.monotonic() - started < 0.05:
                await self._pause(renew_s if not handled else 0.05)

    async def _heartbeat_until_held_changes(self, wait_ms: int) -> bool:
        """once(), cut short when a runtime is added.

        The server long-polls for work on the locks the request lists, so a message queued for an
        instance acquired meanwhile would otherwise wait for the next renewal (up to TTL/2, 15 s).
        """
        beat = asyncio.ensure_future(self.once(wait_ms))
        changed = asyncio.ensure_future(self.held_changed.wait())
        try:
            await asyncio.wait({beat, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
        if beat.done():
            return beat.result()
        beat.cancel()  # a renewal it may have made is made again next time: one write, never a lost lock
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        return True

    async def _pause(self, seconds: float, also: asyncio.Event | None = None) -> None:
        """Sleep, but not past a stop or a newly added runtime (which needs a heartbeat listing it)."""
        await first_of(self._manager.stopping, self.held_changed, *([also] if also else []), timeout_s=seconds)

    async def once(self, wait_ms: int, renew_after_ms: float | None = None) -> bool:
        """True when the server's heartbeat did the work; False when it must be done per lock."""
        manager = self._manager
        settings = manager.settings
        held = dict(manager.runtimes)
        if not held and manager.proxy.heartbeat_supported is not None:
            return False
        # A wake-up soon after a renewal only waits again: renewing N locks on every message
        # would cost N writes per message on a busy sidecar.
        since_renewal_ms = (time.monotonic() - self._renewed_at) * 1000
        renew = since_renewal_ms >= (renew_after_ms if renew_after_ms is not None else settings.lock_renew_ms / 2)
        if not renew:  # come back when the renewal is due, not a full interval later
            wait_ms = min(wait_ms, max(50, int(settings.lock_renew_ms - since_renewal_ms)))
        request = HeartbeatRequest(
            instance_owner=settings.instance_owner,
            ttl_ms=settings.instance_lock_ttl_ms,
            locks=[HeldLock(instance_id=i, lock_token=r.lock_token) for i, r in held.items()],
            # The contract caps a long-poll; a renew interval above it (TTL > 40 s) would fail validation.
            wait_ms=min(wait_ms, MAX_HEARTBEAT_WAIT_MS) if held else 0,
            renew=renew,
        )
        started = time.monotonic()
        answer = await manager.proxy.heartbeat(request)
        if answer is None:
            await self._renew_each(held)
            return False
        if renew:
            self._renewed_at = started
        runtimes = manager.runtimes  # as they are now: some may have stopped while the call was out
        for status in answer.locks:
            runtime = runtimes.get(status.instance_id)
            if runtime is not None and not status.acquired:
                log.warning("lock lost", extra={"instance_id": status.instance_id, "owner": status.instance_owner})
                runtime.lock_lost()
            elif runtime is not None and status.settings_version is not None:  # a lost `settings` frame, caught up
                runtime.settings_changed(status.settings_version)
        for instance_id in answer.ready:
            if instance_id in runtimes:
                runtimes[instance_id].wake_outbound()
        # Instance commands (public API): with a renewal, or at once when the control plane's doorbell rang. The
        # same id may come twice (doorbell, then a renewal before the ack landed): the runtime runs it once.
        for command in answer.commands:
            if command.instance_id in runtimes:
                runtimes[command.instance_id].command(command)
        return True

    async def _renew_each(self, held: dict[str, InstanceRuntime]) -> None:
        manager = self._manager
        settings = manager.settings
        for instance_id, runtime in held.items():
            try:
                answer = await manager.proxy.renew(instance_id, settings.instance_owner,
                                                   settings.instance_lock_ttl_ms, runtime.lock_token)
            except WorkerProxyError as exc:
                if exc.status != 404:
                    continue
                answer = LockResponse(acquired=False)
            if not answer.acquired:
                runtime.lock_lost()
