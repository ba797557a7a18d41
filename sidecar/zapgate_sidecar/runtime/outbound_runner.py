"""One instance's outbound runner: while connected, claim queued messages in batches and send them.

It sleeps until woken (a push frame, the heartbeat's `ready`, a reconnect) or, as a safety net, for
SAFETY_NET_POLL_S; against servers without a heartbeat it polls every QUEUE_POLL_MS.

With pacing on (runtime/pacing.py, the instance's settings) it claims one message at a time, and only after the
random gap since the previous send has passed: the lease then covers typing and the send, never the wait, and
the queue's order (per chat too) is the order of the sends. With pacing off it takes the batch path below,
untouched: the only cost is reading `pacer.rules` once per wake.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import httpx

from zapgate_sidecar.adapters.worker_proxy import WorkerProxyError
from zapgate_sidecar.logs import log
from zapgate_sidecar.outbound import NotConnected, send_one
from zapgate_sidecar.runtime.pacing import Pacer
from zapgate_sidecar.transport import Outgoing, WhatsAppSession

if TYPE_CHECKING:
    from zapgate_sidecar.runtime.instance import InstanceRuntime

SAFETY_NET_POLL_S = 300.0  # with the heartbeat, polls only catch messages queued for no owner


class OutboundRunner:
    def __init__(self, runtime: InstanceRuntime) -> None:
        self._runtime = runtime
        self._wake = asyncio.Event()
        self.in_flight = 0  # claimed messages not yet sent or failed (rebalancing waits for them)
        self.pacer = Pacer()
        self._pacing_version: int | None = None  # the settings version `pacer.rules` was built from

    def pacing(self) -> Pacer:
        """The pacer with the rules of the instance's current settings (rebuilt only when their version moves:
        with pacing off a wake costs one attribute read and one comparison)."""
        current = self._runtime.settings.current
        if current.version != self._pacing_version:
            self._pacing_version = current.version
            self.pacer.rules = current.pacing.rules() if current.pacing is not None else None
        return self.pacer

    def wake(self) -> None:
        self._wake.set()

    def _poll_interval_s(self) -> float:
        deps = self._runtime.deps
        if deps.proxy.heartbeat_supported:
            return SAFETY_NET_POLL_S
        return deps.settings.queue_poll_ms / 1000

    async def run(self) -> None:
        runtime = self._runtime
        deps = runtime.deps
        batch_size = deps.settings.outbound_batch
        while not runtime.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval_s())
            self._wake.clear()
            session = runtime.session.current
            if not runtime.connected or session is None:
                continue
            if self.pacing().rules is not None:
                await self._run_paced(session)
                continue
            self.in_flight = 1  # the claim's answer may hold claimed messages
            try:
                try:
                    batch = await deps.proxy.queued_messages(runtime.instance_id, batch_size)
                except (WorkerProxyError, httpx.HTTPError) as exc:
                    log.warning("queued-messages failed", extra={"instance_id": runtime.instance_id,
                                                                 "error": str(exc)[:200]})
                    self.in_flight = 0  # nothing to send; whatever it claimed returns with its lease
                    await asyncio.sleep(1)
                    continue
                self.in_flight = len(batch)
                for message in batch:
                    try:
                        outcome = await send_one(deps.proxy, deps.http, session, runtime.instance_id, message,
                                                 lambda: runtime.connected)
                    except NotConnected:
                        break
                    finally:
                        self.in_flight -= 1
                    runtime.sent += outcome.wa_message_id is not None
                    deps.telemetry.incr("OutboundSent" if outcome.wa_message_id is not None else "OutboundFailed")
            finally:
                self.in_flight = 0
            if len(batch) >= batch_size:
                self._wake.set()  # more may be waiting: do not wait for a tick

    async def _run_paced(self, session: WhatsAppSession) -> None:
        """Send what is queued one message at a time, each after its gap and its typing; return when the queue
        is empty, the session drops, pacing is turned off or the runtime stops."""
        runtime = self._runtime
        deps = runtime.deps
        pacer = self.pacer

        async def typing(jid: str, outgoing: Outgoing) -> None:
            await pacer.show_presence(session, jid, outgoing.kind, outgoing.text, outgoing.voice_note)

        while self.pacing().rules is not None and runtime.connected and not runtime.stopping.is_set():
            await pacer.wait_turn(runtime.stopping)
            if not runtime.connected or runtime.stopping.is_set():
                return
            self.in_flight = 1
            try:
                try:
                    batch = await deps.proxy.queued_messages(runtime.instance_id, 1)
                except (WorkerProxyError, httpx.HTTPError) as exc:
                    log.warning("queued-messages failed", extra={"instance_id": runtime.instance_id,
                                                                 "error": str(exc)[:200]})
                    await asyncio.sleep(1)
                    return
                if not batch:
                    return
                held_until, first_contact = await pacer.cap_check(deps.proxy, runtime.instance_id, batch[0].to)
                if held_until is not None and await self._hold(batch[0].id, held_until):
                    continue
                try:
                    outcome = await send_one(deps.proxy, deps.http, session, runtime.instance_id, batch[0],
                                             lambda: runtime.connected, before_send=typing)
                except NotConnected:
                    return
                if first_contact and outcome.wa_message_id is not None:
                    pacer.first_contacts.record(pacer.wall_ms())
                pacer.sent()
                runtime.sent += outcome.wa_message_id is not None
                deps.telemetry.incr("OutboundSent" if outcome.wa_message_id is not None else "OutboundFailed")
            finally:
                self.in_flight = 0

    async def _hold(self, message_id: str, held_until_ms: int) -> bool:
        """Hand a claimed message back until `held_until_ms` (never dropped: claimable again then) and wake this
        runner at that time; True when it must not be sent now. False when the server has no hold endpoint: a
        message cannot wait claimed (its lease would expire, and after OutboundMaxClaims it would fail), so it
        is sent and the cap goes unmet (logged)."""
        runtime = self._runtime
        try:
            held = await runtime.deps.proxy.hold_message(message_id, held_until_ms, "first_contact_daily_cap")
        except (WorkerProxyError, httpx.HTTPError) as exc:  # 409: no longer ours; otherwise its lease brings it back
            log.warning("pacing hold failed", extra={"instance_id": runtime.instance_id, "message_id": message_id,
                                                     "error": str(exc)[:200]})
            return True
        if not held:
            log.warning("pacing hold unsupported by the server: sent over the cap",
                        extra={"instance_id": runtime.instance_id})
            return False
        delay_s = max(0.0, held_until_ms / 1000 - time.time()) + 1  # a second late: the hold has surely ended
        asyncio.get_running_loop().call_later(delay_s, self.wake)
        return True
