"""The instance manager: which instances this sidecar runs, their locks, and the heartbeat.

Every DISCOVERY_POLL_MS: read settings and eligible instances, walk them in priority order
(stable ties) and take locks until this sidecar runs MAX_ACTIVE_INSTANCES (0 = no cap);
instances another sidecar holds are skipped without an acquire (the server says who holds
each). Runtimes that left the target stop, after a 60 s cooldown when connected (seed 000:
no thrash). One heartbeat call renews every lock and says which instances have work waiting;
against servers without it, each lock is renewed on its own and runners poll.

How work is noticed (WAKE_MODE): `push` (default) keeps the push channel (push_channel.py) open;
its frames wake an outbound runner, a short heartbeat (commands) or discovery, and the heartbeat
is a short call once per renew interval. While the channel is down (or the server offers none) the
short heartbeat runs every QUEUE_POLL_MS instead: a bounded fallback, counted and shown in health.
`longpoll` is the design before it: the heartbeat waits server-side for work.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

import httpx

from zapgate_core.contract.sidecar_push import SidecarPush
from zapgate_core.contract.worker_proxy import (
    MAX_HEARTBEAT_WAIT_MS,
    HeartbeatRequest,
    HeldLock,
    LockResponse,
    WorkerSettings,
)
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyClient, WorkerProxyError
from zapgate_sidecar.logs import log
from zapgate_sidecar.policies import fair_share, fleet_owners, may_release, select_target
from zapgate_sidecar.push_channel import PushChannel
from zapgate_sidecar.runtime import InstanceRuntime, RuntimeDeps
from zapgate_sidecar.settings import SidecarSettings

# Discovery passes a new sidecar makes in slow start: enough for sidecars starting together to announce
# themselves and see each other's first locks before any takes more than its share.
SLOW_START_DISCOVERIES = 3
RETREAT_S = {"stream_replaced": 300.0, "connect_failed": 600.0, "runtime_error": 30.0}


class Fleet:
    def __init__(self, settings: SidecarSettings, proxy: WorkerProxyClient, deps: RuntimeDeps) -> None:
        self.settings = settings
        self.proxy = proxy
        self.deps = deps
        deps.on_exit = self._forget
        self.runtimes: dict[str, InstanceRuntime] = {}
        self._left_target_at: dict[str, float] = {}
        self._retreat_until: dict[str, float] = {}
        self._stopping = asyncio.Event()
        # Shutdown waits for a discovery in flight: an acquire answered after the runtimes were
        # stopped would leave a lock held until its TTL, so a replacement waits 30 s for it.
        self._discovering = asyncio.Lock()
        self._held_changed = asyncio.Event()  # a runtime was added: the heartbeat in flight lists old locks
        self.last_discovery_error: str | None = None
        self._renewed_at = float("-inf")
        # Presence (eligible-instances `announce`, zapgate extension): the live fleet as last answered,
        # refreshed at most once per PRESENCE_INTERVAL_MS; None until a server answered it.
        self._announced_at = float("-inf")
        self._sidecars: set[str] | None = None
        self._seen_holding: set[str] = set()  # other sidecars seen holding a lock
        # Wake-ups (push channel): a short heartbeat now (a command, a channel change), discovery now
        # (instances or sidecars changed), and once more when a departed sidecar's locks can have expired.
        self._poll_now = asyncio.Event()
        self._discover_now = asyncio.Event()
        self._discover_again_at: float | None = None
        self._announce_next = False
        self._discoveries = 0  # completed discovery passes (slow start)
        self._settled = False  # the last discovery left nothing to do: wait for a push (or DISCOVERY_IDLE_MS)
        self._worker_settings: WorkerSettings | None = None
        self._worker_settings_at = float("-inf")
        self.fallback_polls = 0
        self.push: PushChannel | None = None
        if settings.wake_mode == "push":
            self.push = PushChannel(
                settings.worker_secret, settings.instance_owner, self._on_push, self._poll_now.set,
                keepalive_s=settings.push_keepalive_ms / 1000, rotate_s=settings.push_rotate_ms / 1000,
                url=settings.push_url,
            )

    # ------------------------------------------------------------ discovery
    async def discovery_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                async with self._discovering:
                    if self._stopping.is_set():
                        break
                    await self.discover_once()
                self.last_discovery_error = None
            except (WorkerProxyError, httpx.HTTPError, ValueError) as exc:
                self.last_discovery_error = str(exc)[:200]
                log.warning("discovery failed", extra={"error": self.last_discovery_error})
            self.report_metrics()
            await self._wait_for_discovery()

    async def _wait_for_discovery(self) -> None:
        """Until the next discovery: DISCOVERY_IDLE_MS while the push channel is up (its frames ask for one
        when something changed), DISCOVERY_POLL_MS otherwise, or sooner when a frame or a departure asks."""
        started = time.monotonic()
        while not (self._stopping.is_set() or self._discover_now.is_set()):
            # A departed sidecar's locks lapse any time within one TTL: look at the fast rate until the re-check.
            idle = self.push is not None and self.push.up and self._settled and self._discover_again_at is None
            interval_s = (self.settings.discovery_idle_ms if idle else self.settings.discovery_poll_ms) / 1000
            due = started + interval_s
            if self._discover_again_at is not None:
                due = min(due, self._discover_again_at)
            remaining = due - time.monotonic()
            if remaining <= 0:
                break
            # Re-checked at least every DISCOVERY_POLL_MS: a channel that went down shortens the wait.
            await _first_of(self._stopping, self._discover_now,
                            timeout_s=min(remaining, self.settings.discovery_poll_ms / 1000))
        self._discover_now.clear()
        if self._discover_again_at is not None and time.monotonic() >= self._discover_again_at:
            self._discover_again_at = None

    def _on_push(self, frame: SidecarPush) -> None:
        if frame.type == "outbound":
            runtime = self.runtimes.get(frame.instance_id or "")
            if runtime is not None:
                runtime.wake_outbound()
        elif frame.type == "command":
            self._poll_now.set()  # a short heartbeat answers the doorbell: commands reach only the lock holder
        else:
            self._discover_now.set()
            if frame.reason == "sidecar_joined":
                self._announce_next = True  # its presence changes everyone's fair share
            elif frame.reason == "sidecar_left":  # its locks may lapse within one TTL: look again then
                self._announce_next = True  # the server dropped its presence: refresh the fleet we divide by
                again = time.monotonic() + self.settings.instance_lock_ttl_ms / 1000 + 1
                self._discover_again_at = min(self._discover_again_at or again, again)

    async def _current_worker_settings(self) -> WorkerSettings:
        """worker-settings, fetched again every WORKER_SETTINGS_REFRESH_MS (they rarely change)."""
        now = time.monotonic()
        age_ms = (now - self._worker_settings_at) * 1000
        if self._worker_settings is None or age_ms >= self.settings.worker_settings_refresh_ms:
            self._worker_settings = await self.proxy.worker_settings()
            self._worker_settings_at = now
            if self.push is not None:
                self.push.use_url(self._worker_settings.push_url)
        return self._worker_settings

    async def discover_once(self) -> None:
        worker_settings = await self._current_worker_settings()
        cap = worker_settings.max_active_instances or self.settings.max_active_instances
        owner = self.settings.instance_owner
        now = time.monotonic()
        announce = (now - self._announced_at) * 1000 >= self.settings.presence_interval_ms or self._announce_next
        self._announce_next = False
        answer = await self.proxy.eligible_instances(owner=owner, announce=announce)
        if announce:
            self._announced_at = now
            self._sidecars = set(answer.sidecars) if answer.sidecars is not None else None
        eligible = answer.instances
        held_by = {i.id: i.owner for i in eligible}
        lock_owners = {o for o in held_by.values() if o}
        announced = self._sidecars or set()
        limit = fair_share(len(eligible), fleet_owners(owner, lock_owners, announced, self._seen_holding), cap)
        self._seen_holding = (self._seen_holding & (announced | lock_owners)) | (lock_owners - {owner})
        # Slow start: a sidecar that just came up takes one instance, then doubles, so sidecars
        # starting together see each other's locks and split the fleet instead of one taking all.
        # Only while young: afterwards this sidecar knows the fleet, the fair share bounds it, and a dead
        # peer's instances are taken in one pass instead of 1, 1, 2, 4... one discovery cycle apart.
        budget = max(1, len(self.runtimes)) if self._discoveries < SLOW_START_DISCOVERIES else limit
        target: list[str] = []
        for instance_id in select_target(eligible, 0):
            if len(target) >= limit:
                break
            if instance_id in self.runtimes:
                target.append(instance_id)
                continue
            other = held_by[instance_id]
            if self._stopping.is_set():
                return  # shutdown stops what this pass started
            if (other and other != owner) or self._retreat_until.get(instance_id, 0) > now or budget <= 0:
                continue
            budget -= 1
            if await self._try_start(instance_id):
                target.append(instance_id)
        in_target = set(target)  # `in` on the list was O(n) per runtime: 7 ms a pass at 1,000, 29 ms at 2,000
        for instance_id, runtime in list(self.runtimes.items()):
            if instance_id in in_target:
                self._left_target_at.pop(instance_id, None)
                continue
            left = self._left_target_at.setdefault(instance_id, now)
            rebalanced = instance_id in held_by  # still eligible: fair share, cap or surplus moved it out
            if rebalanced and runtime.linking:  # kept while a person links it; the cooldown counts from the link
                left = self._left_target_at[instance_id] = now
            if may_release(rebalanced=rebalanced, connected=runtime.connected, linking=runtime.linking,
                           sends_in_flight=runtime.sends_in_flight, since_left_s=now - left,
                           cooldown_s=self.settings.stop_cooldown_ms / 1000):
                self._left_target_at.pop(instance_id, None)
                await runtime.stop("left_target")
        # Unfinished business (slow start left free instances, or a release waits out its cooldown) is looked
        # at again within DISCOVERY_POLL_MS even while the push channel is up; a settled fleet waits to be told.
        free = [i for i, holder in held_by.items() if holder is None and i not in self.runtimes]
        self._settled = not self._left_target_at and (len(target) >= limit or not free)
        self._discoveries += 1

    def report_metrics(self) -> None:
        """Instance gauges for the operations dashboard, flushed with the runtimes' counters once a minute."""
        runtimes = list(self.runtimes.values())
        telemetry = self.deps.telemetry
        telemetry.gauge("InstancesManaged", len(runtimes))
        telemetry.gauge("InstancesConnected", sum(r.connected for r in runtimes))
        telemetry.gauge("InstancesDisconnected", sum(r.status == "DISCONNECTED" for r in runtimes))
        telemetry.gauge("InstancesWaitingQr", sum(r.state in ("waiting_qr", "waiting_pairing") for r in runtimes))
        if self.push is not None:
            telemetry.gauge("PushChannelUp", 1 if self.push.up else 0)
        try:
            telemetry.flush_if_due()
        except Exception as exc:  # metrics must never stop discovery
            log.warning("metrics flush failed", extra={"error": type(exc).__name__})

    async def _try_start(self, instance_id: str) -> bool:
        try:
            lock = await self.proxy.acquire(instance_id, self.settings.instance_owner,
                                            self.settings.instance_lock_ttl_ms)
        except WorkerProxyError as exc:
            if exc.status == 404:
                return False  # deleted since discovery
            raise
        if not lock.acquired:
            return False
        self._start_runtime(instance_id, lock)
        return True

    def _start_runtime(self, instance_id: str, lock: LockResponse) -> None:
        runtime = InstanceRuntime(instance_id, lock, self.deps)
        self.runtimes[instance_id] = runtime
        log.info("instance acquired", extra={"instance_id": instance_id, "fence": lock.fence})
        runtime.start()
        self._held_changed.set()

    def _forget(self, instance_id: str, why: str) -> None:
        self.runtimes.pop(instance_id, None)
        retreat = RETREAT_S.get(why.split(":", 1)[0])
        if retreat:
            self._retreat_until[instance_id] = time.monotonic() + retreat
        log.info("instance released", extra={"instance_id": instance_id, "why": why})

    # ------------------------------------------------------------ locks and wake-ups
    async def push_loop(self) -> None:
        if self.push is not None:
            await self.push.run(self._stopping)

    async def heartbeat_loop(self) -> None:
        if self.push is None:
            await self._long_poll_loop()
            return
        renew_s = self.settings.lock_renew_ms / 1000
        while not self._stopping.is_set():
            self._poll_now.clear()
            self._held_changed.clear()
            polling = not self.push.up  # the fallback: the channel cannot wake us, so we look
            try:
                # Renew only when due (90% of the interval: timers wake a little early), never on a wake-up.
                handled = await self.heartbeat_once(wait_ms=0, renew_after_ms=self.settings.lock_renew_ms * 0.9)
            except (WorkerProxyError, httpx.HTTPError, ValueError) as exc:
                log.warning("heartbeat failed", extra={"error": str(exc)[:200]})
                handled = False
            if handled and polling and self.runtimes:
                self.fallback_polls += 1
                self.deps.telemetry.incr("FallbackPolls")
            if not handled:  # no heartbeat on this server (runtimes poll), or an error: pace the renewals
                wait_s = renew_s
            else:
                wait_s = renew_s - (time.monotonic() - self._renewed_at)
                if not self.push.up:
                    wait_s = min(wait_s, self.settings.queue_poll_ms / 1000)
            await self._pause(max(wait_s, 0.05), also=self._poll_now)

    async def _long_poll_loop(self) -> None:
        renew_s = self.settings.lock_renew_ms / 1000
        while not self._stopping.is_set():
            started = time.monotonic()
            self._held_changed.clear()
            try:
                handled = await self._heartbeat_until_held_changes(wait_ms=int(renew_s * 1000))
            except (WorkerProxyError, httpx.HTTPError, ValueError) as exc:
                log.warning("heartbeat failed", extra={"error": str(exc)[:200]})
                handled = False
            # Without a heartbeat (or after an error) renewals pace themselves; a long-poll already waited.
            if not handled or time.monotonic() - started < 0.05:
                await self._pause(renew_s if not handled else 0.05)

    async def _heartbeat_until_held_changes(self, wait_ms: int) -> bool:
        """heartbeat_once, cut short when a runtime is added.

        The server long-polls for work on the locks the request lists, so a message queued for an
        instance acquired meanwhile would otherwise wait for the next renewal (up to TTL/2, 15 s).
        """
        beat = asyncio.ensure_future(self.heartbeat_once(wait_ms))
        changed = asyncio.ensure_future(self._held_changed.wait())
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
        await _first_of(self._stopping, self._held_changed, *([also] if also else []), timeout_s=seconds)

    async def heartbeat_once(self, wait_ms: int, renew_after_ms: float | None = None) -> bool:
        """True when the server's heartbeat did the work; False when it must be done per lock."""
        held = dict(self.runtimes)
        if not held and self.proxy.heartbeat_supported is not None:
            return False
        # A wake-up soon after a renewal only waits again: renewing N locks on every message
        # would cost N writes per message on a busy sidecar.
        since_renewal_ms = (time.monotonic() - self._renewed_at) * 1000
        renew = since_renewal_ms >= (renew_after_ms if renew_after_ms is not None else self.settings.lock_renew_ms / 2)
        if not renew:  # come back when the renewal is due, not a full interval later
            wait_ms = min(wait_ms, max(50, int(self.settings.lock_renew_ms - since_renewal_ms)))
        request = HeartbeatRequest(
            instance_owner=self.settings.instance_owner,
            ttl_ms=self.settings.instance_lock_ttl_ms,
            locks=[HeldLock(instance_id=i, lock_token=r.lock_token) for i, r in held.items()],
            # The contract caps a long-poll; a renew interval above it (TTL > 40 s) would fail validation.
            wait_ms=min(wait_ms, MAX_HEARTBEAT_WAIT_MS) if held else 0,
            renew=renew,
        )
        started = time.monotonic()
        answer = await self.proxy.heartbeat(request)
        if answer is None:
            await self._renew_each(held)
            return False
        if renew:
            self._renewed_at = started
        for status in answer.locks:
            runtime = self.runtimes.get(status.instance_id)
            if runtime is not None and not status.acquired:
                log.warning("lock lost", extra={"instance_id": status.instance_id, "owner": status.instance_owner})
                runtime.lock_lost()
        for instance_id in answer.ready:
            if instance_id in self.runtimes:
                self.runtimes[instance_id].wake_outbound()
        # Instance commands (public API): with a renewal, or at once when the control plane's doorbell rang. The
        # same id may come twice (doorbell, then a renewal before the ack landed): the runtime runs it once.
        for command in answer.commands:
            if command.instance_id in self.runtimes:
                self.runtimes[command.instance_id].command(command)
        return True

    async def _renew_each(self, held: dict[str, InstanceRuntime]) -> None:
        for instance_id, runtime in held.items():
            try:
                answer = await self.proxy.renew(instance_id, self.settings.instance_owner,
                                                self.settings.instance_lock_ttl_ms, runtime.lock_token)
            except WorkerProxyError as exc:
                if exc.status != 404:
                    continue
                answer = LockResponse(acquired=False)
            if not answer.acquired:
                runtime.lock_lost()

    # ------------------------------------------------------------ shutdown and health
    async def shutdown(self) -> None:
        self._stopping.set()
        async with self._discovering:  # no acquire lands after the runtimes below are stopped
            pass
        runtimes = list(self.runtimes.values())
        await asyncio.gather(*(r.stop("shutdown") for r in runtimes), return_exceptions=True)
        if self._sidecars is not None:  # best effort: the presence would otherwise expire in 3 min
            try:
                await self.proxy.eligible_instances(limit=1, owner=self.settings.instance_owner, announce=True,
                                                    leave=True, timeout_s=3)
            except (WorkerProxyError, httpx.HTTPError, ValueError) as exc:
                log.warning("leaving the fleet failed", extra={"error": str(exc)[:200]})

    def describe(self) -> dict[str, Any]:
        return {
            "owner": self.settings.instance_owner,
            "pid": os.getpid(),
            "transport": self.deps.transport.name,
            "heartbeat": self.proxy.heartbeat_supported,
            "wake_mode": self.settings.wake_mode,
            "push": self.push.describe() if self.push is not None else None,
            "fallback_polls": self.fallback_polls,
            "last_discovery_error": self.last_discovery_error,
            "instances": [r.describe() for r in self.runtimes.values()],
        }


async def _first_of(*events: asyncio.Event, timeout_s: float) -> None:
    """Wait until one of `events` is set, or `timeout_s` passed."""
    waits = {asyncio.ensure_future(event.wait()) for event in events}
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
