"""The instance manager: which instances this sidecar runs, their locks, and what wakes them.

Every DISCOVERY_POLL_MS: read settings and eligible instances, walk them in priority order
(stable ties) and take locks until this sidecar runs MAX_ACTIVE_INSTANCES (0 = no cap);
instances another sidecar holds are skipped without an acquire (the server says who holds
each). Runtimes that left the target stop, after a 60 s cooldown when connected (seed 000:
no thrash). The heartbeat (lock_heartbeat.py) renews every lock in one call and says which
instances have work waiting; against servers without it, each lock is renewed on its own and
runners poll.

How work is noticed (WAKE_MODE): `push` (default) keeps the push channel (push_channel.py) open;
its frames, routed here, wake an outbound runner, a short heartbeat (commands), a runtime's request runner
(requests to the phone, claimed by id) or discovery, and the
heartbeat is a short call once per renew interval. While the channel is down (or the server offers
none) the short heartbeat runs every QUEUE_POLL_MS instead: a bounded fallback, counted and shown in
health. `longpoll` is the design before it: the heartbeat waits server-side for work.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import httpx

from zapgate_core.contract.sidecar_push import SidecarPush
from zapgate_core.contract.worker_proxy import LockResponse, WorkerSettings
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyClient, WorkerProxyError
from zapgate_sidecar.lock_heartbeat import LockHeartbeat
from zapgate_sidecar.logs import log
from zapgate_sidecar.policies import (
    fair_share,
    fleet_owners,
    lapsed_holders,
    may_release,
    remember_holders,
    select_target,
)
from zapgate_sidecar.push_channel import PushChannel
from zapgate_sidecar.runtime import InstanceRuntime, RuntimeDeps
from zapgate_sidecar.settings import SidecarSettings
from zapgate_sidecar.waits import first_of

# Discovery passes a new sidecar makes in slow start: enough for sidecars starting together to announce
# themselves and see each other's first locks before any takes more than its share.
SLOW_START_DISCOVERIES = 3
RETREAT_S = {"stream_replaced": 300.0, "connect_failed": 600.0, "runtime_error": 30.0}


class InstanceManager:
    def __init__(self, settings: SidecarSettings, proxy: WorkerProxyClient, deps: RuntimeDeps) -> None:
        self.settings = settings
        self.proxy = proxy
        self.deps = deps
        deps.on_exit = self._forget
        self.runtimes: dict[str, InstanceRuntime] = {}
        self._left_target_at: dict[str, float] = {}
        self._retreat_until: dict[str, float] = {}
        self.stopping = asyncio.Event()
        # Shutdown waits for a discovery in flight: an acquire answered after the runtimes were
        # stopped would leave a lock held until its TTL, so a replacement waits 30 s for it.
        self._discovering = asyncio.Lock()
        self.last_discovery_error: str | None = None
        self.heartbeat = LockHeartbeat(self)
        # Presence (eligible-instances `announce`, zapgate extension): the live fleet as last answered,
        # refreshed at most once per PRESENCE_INTERVAL_MS; None until a server answered it.
        self._announced_at = float("-inf")
        self._sidecars: set[str] | None = None
        self._last_held: dict[str, frozenset[str]] = {}  # other sidecars → the instances they were seen holding
        # Wake-ups (push channel): a short heartbeat now (a command, a channel change: heartbeat.poll_now),
        # discovery now (instances or sidecars changed), and once more when a departed sidecar's locks can
        # have expired.
        self._discover_now = asyncio.Event()
        self._discover_again_at: float | None = None
        self._announce_next = False
        self._discoveries = 0  # completed discovery passes (slow start)
        self._settled = False  # the last discovery left nothing to do: wait for a push (or DISCOVERY_IDLE_MS)
        self._worker_settings: WorkerSettings | None = None
        self._worker_settings_at = float("-inf")
        self.push: PushChannel | None = None
        if settings.wake_mode == "push":
            self.push = PushChannel(
                settings.worker_secret, settings.instance_owner, self._on_push, self.heartbeat.poll_now.set,
                keepalive_s=settings.push_keepalive_ms / 1000, rotate_s=settings.push_rotate_ms / 1000,
                url=settings.push_url,
            )

    # ------------------------------------------------------------ discovery
    async def discovery_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                async with self._discovering:
                    if self.stopping.is_set():
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
        while not (self.stopping.is_set() or self._discover_now.is_set()):
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
            await first_of(self.stopping, self._discover_now,
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
            self.heartbeat.poll_now.set()  # a short heartbeat answers the doorbell: commands reach only the lock holder
        elif frame.type == "settings":  # the holder fetches them, fenced by its lock
            runtime = self.runtimes.get(frame.instance_id or "")
            if runtime is not None:
                runtime.settings_changed()
        elif frame.type == "request":
            runtime = self.runtimes.get(frame.instance_id or "")
            if runtime is not None and frame.request_id:  # not ours (any more): the claim would be refused anyway
                runtime.request(frame.request_id)
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
        # While young (slow start) every pass announces, so the presence it divides by includes a sidecar that
        # started a moment later and holds nothing yet: without it, a sidecar could take 4 of 6 in its three
        # slow-start passes and keep the surplus for as long as those instances show a QR (never released).
        young = self._discoveries < SLOW_START_DISCOVERIES
        announce = (
            young or (now - self._announced_at) * 1000 >= self.settings.presence_interval_ms or self._announce_next
        )
        self._announce_next = False
        answer = await self.proxy.eligible_instances(owner=owner, announce=announce)
        if announce:
            self._announced_at = now
            self._sidecars = set(answer.sidecars) if answer.sidecars is not None else None
        eligible = answer.instances
        held_by = {i.id: i.owner for i in eligible}
        lock_owners = {o for o in held_by.values() if o}
        announced = self._sidecars or set()
        self._last_held = remember_holders(self._last_held, held_by, owner, announced)
        lapsed = lapsed_holders(self._last_held, lock_owners)
        limit = fair_share(len(eligible), fleet_owners(owner, lock_owners, announced, lapsed), cap)
        # Slow start: a sidecar that just came up takes one instance, then doubles, so sidecars
        # starting together see each other's locks and split the instances instead of one taking all.
        # Only while young: afterwards this sidecar knows the fleet, the fair share bounds it, and a dead
        # peer's instances are taken in one pass instead of 1, 1, 2, 4... one discovery cycle apart.
        budget = max(1, len(self.runtimes)) if young else limit
        target: list[str] = []
        for instance_id in select_target(eligible, 0):
            if len(target) >= limit:
                break
            if instance_id in self.runtimes:
                target.append(instance_id)
                continue
            other = held_by[instance_id]
            if self.stopping.is_set():
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
        # at again within DISCOVERY_POLL_MS even while the push channel is up; once settled, it waits to be told.
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
        self.heartbeat.held_changed.set()

    def _forget(self, instance_id: str, why: str) -> None:
        self.runtimes.pop(instance_id, None)
        retreat = RETREAT_S.get(why.split(":", 1)[0])
        if retreat:
            self._retreat_until[instance_id] = time.monotonic() + retreat
        log.info("instance released", extra={"instance_id": instance_id, "why": why})

    # ------------------------------------------------------------ locks and wake-ups
    async def push_loop(self) -> None:
        if self.push is not None:
            await self.push.run(self.stopping)

    # ------------------------------------------------------------ shutdown and health
    async def shutdown(self) -> None:
        self.stopping.set()
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
            "fallback_polls": self.heartbeat.fallback_polls,
            "last_discovery_error": self.last_discovery_error,
            "instances": [r.describe() for r in self.runtimes.values()],
        }

