"""One instance's WhatsApp session: open, close, reconnect after backoff, start over, report status, keep the keys.

Transport events arrive on the runtime's queue (the transport's sink only enqueues), tagged with the
session generation that produced them, so events of a session we already closed are dropped instead of
acted on. This part owns reconnection: on any disconnect the session is closed and reopened after seed
000's backoff, so whatsmeow's own retry never runs beside ours.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import httpx

from zapgate_core.contract.instance_settings import InstanceSettings
from zapgate_core.contract.worker_proxy import Status, UpdateStatusRequest
from zapgate_sidecar import qr
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyError
from zapgate_sidecar.auth_persistence import LockLost
from zapgate_sidecar.logs import log
from zapgate_sidecar.policies import Backoff, BadMacBreaker
from zapgate_sidecar.transport import (
    Connected,
    ConnectFailed,
    Disconnected,
    LoggedOut,
    PairingCodeIssued,
    QrShown,
    StreamReplaced,
    TransportEvent,
    Undecryptable,
    WhatsAppSession,
)

if TYPE_CHECKING:
    from zapgate_sidecar.runtime.instance import InstanceRuntime

STATUS_ATTEMPTS = 4


class SessionLifecycle:
    def __init__(self, runtime: InstanceRuntime) -> None:
        settings = runtime.deps.settings
        self._runtime = runtime
        self.current: WhatsAppSession | None = None
        self.generation = 0
        self.pairing_phone: str | None = None
        self._backoff = Backoff(settings.reconnect_backoff_s)
        self._breaker = BadMacBreaker(settings.bad_mac_threshold, settings.bad_mac_window_ms,
                                      settings.bad_mac_cooldown_ms)
        self.command_waiting = asyncio.Event()  # set while a session command waits: cuts a backoff short
        runtime.settings.on_change(self._settings_changed)  # a new proxy reconnects through it (issue 13)

    def open(self) -> None:
        runtime = self._runtime
        self.generation += 1
        generation = self.generation
        loop = asyncio.get_running_loop()

        def sink(event: TransportEvent) -> None:
            # Called on a transport thread: hand over and return at once.
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
                loop.call_soon_threadsafe(runtime.events.put_nowait, (generation, event))

        proxy = runtime.settings.current.proxy
        if proxy is not None:  # only then: a transport without the keyword keeps working for the others
            self.current = runtime.deps.transport.open_session(runtime.instance_id, runtime.auth_dir, sink,
                                                               proxy=proxy.url)
        else:
            self.current = runtime.deps.transport.open_session(runtime.instance_id, runtime.auth_dir, sink)
        self.current.start()
        if self.pairing_phone:
            runtime.spawn(asyncio.to_thread(self.current.request_pairing_code, self.pairing_phone))

    async def close(self) -> None:
        session, self.current = self.current, None
        self.generation += 1  # whatever the old session still says is now stale
        self._runtime.connected = False
        if session is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(session.stop), 10)

    async def handle(self, event: TransportEvent) -> None:
        runtime = self._runtime
        match event:
            case QrShown(code=code):
                runtime.state = "waiting_qr"
                if runtime.deps.settings.print_qr:
                    print(f"\nScan to link instance {runtime.instance_id} (WhatsApp > Linked devices):\n"
                          f"{qr.terminal_text(code)}", flush=True)
                await self.report("CONNECTING", qr_code=qr.png_data_url(code))
            case PairingCodeIssued(code=code):
                runtime.state = "waiting_pairing"
                if runtime.deps.settings.print_qr:
                    print(f"\nPairing code for instance {runtime.instance_id}: {code}\n", flush=True)
                await self.report("CONNECTING", pairing_code=code)
            case Connected(jid=jid, push_name=push_name):
                runtime.connected, runtime.own_jid, runtime.state = True, jid, "connected"
                self.pairing_phone = None
                self._backoff.reset()
                await self.report("CONNECTED", jid=jid, push_name=push_name)
                await asyncio.to_thread(runtime.auth.save_now)  # fresh credentials: keep them at once
                runtime.outbound.wake()  # anything queued while we were away
            case Disconnected(reason=reason):
                await self.reconnect_later(f"disconnected:{reason}" if reason else "disconnected")
            case ConnectFailed(reason=reason, permanent=True):
                await self.close()
                await runtime.stop(f"connect_failed:{reason}")
            case ConnectFailed(reason=reason):
                await self.reconnect_later(reason)
            case LoggedOut(reason=reason):
                await self.start_over(f"logged_out:{reason}" if reason else "logged_out")
            case StreamReplaced():
                # Another process runs our keys: a lock conflict. Step aside, never fight back.
                await self.close()
                await runtime.stop("stream_replaced")
            case Undecryptable():
                if self._breaker.record(runtime.deps.now_ms()):
                    runtime.deps.telemetry.incr("BadMacTrips")
                    await self.start_over("bad_mac_breaker")

    async def reconnect_later(self, reason: str) -> None:
        runtime = self._runtime
        runtime.deps.telemetry.incr("Reconnects")
        await self.close()
        runtime.state = "reconnecting"
        await self.report("DISCONNECTED", reason=reason)
        delay = self._backoff.next_delay()
        log.info("reconnecting", extra={"instance_id": runtime.instance_id, "reason": reason, "delay_s": delay})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_or_session_command(), delay)
        if not runtime.stopping.is_set() and not self.command_waiting.is_set():  # else the command reopens
            self.open()

    async def _stop_or_session_command(self) -> None:
        waits = [asyncio.ensure_future(self._runtime.stopping.wait()),
                 asyncio.ensure_future(self.command_waiting.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def start_over(self, reason: str) -> None:
        """The credentials are dead: wipe them (here and in DynamoDB) and show a new QR."""
        runtime = self._runtime
        await self.close()
        runtime.state = "wiping"
        await self.report("DISCONNECTED", reason=reason)
        await asyncio.to_thread(runtime.auth.wipe)
        log.warning("auth state wiped", extra={"instance_id": runtime.instance_id, "reason": reason})
        self.open()

    async def reopen(self, reason: str) -> None:
        """Close and open again at once (a command asked), keys kept."""
        was_connected = self._runtime.connected
        await self.close()
        if was_connected:
            await self.report("DISCONNECTED", reason=reason)
        self._backoff.reset()
        self.open()

    async def _settings_changed(self, old: InstanceSettings, new: InstanceSettings) -> None:
        """The proxy changed (set, replaced or removed): close and reconnect through the new one at once. A session
        waiting out a backoff (none open) picks it up when it reopens. The URL is never logged."""
        if (old.proxy.url if old.proxy else None) == (new.proxy.url if new.proxy else None):
            return
        runtime = self._runtime
        if self.current is None or runtime.stopping.is_set():
            return
        log.info("proxy changed: reconnecting", extra={"instance_id": runtime.instance_id,
                                                       "proxy": "set" if new.proxy else "none"})
        await self.reopen("proxy_changed")

    async def request_pairing_code(self, phone: str) -> None:
        self.pairing_phone = phone
        if self.current is not None:
            await asyncio.to_thread(self.current.request_pairing_code, phone)

    async def report(self, status: Status, **fields: Any) -> None:
        runtime = self._runtime
        runtime.status = status
        runtime.last_reason = fields.get("reason", runtime.last_reason)
        request = UpdateStatusRequest(instance_id=runtime.instance_id, status=status, lock_token=runtime.lock_token,
                                      **fields)
        # A lost CONNECTED report leaves the API refusing sends, so transient failures are retried.
        for attempt in range(STATUS_ATTEMPTS):
            try:
                await runtime.deps.proxy.update_status(request)
                return
            except WorkerProxyError as exc:
                if exc.status == 409:
                    raise LockLost(runtime.instance_id) from exc
                if exc.status < 500:
                    log.warning("update-status refused", extra={"instance_id": runtime.instance_id,
                                                                "status": exc.status})
                    return
                error = f"http {exc.status}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            log.warning("update-status failed", extra={"instance_id": runtime.instance_id, "error": error,
                                                       "attempt": attempt + 1})
            await asyncio.sleep(0.5 * 2**attempt)

    async def save_keys_loop(self) -> None:
        """Every AUTH_SAVE_INTERVAL_S, the session's keys go to durable storage when they changed."""
        runtime = self._runtime
        while not runtime.stopping.is_set():
            await asyncio.sleep(runtime.deps.settings.auth_save_interval_s)
            try:
                await asyncio.to_thread(runtime.auth.save_if_changed)
            except LockLost:
                await runtime.stop("lock_lost", release=False)
                return
            except Exception as exc:
                log.warning("auth state save failed", extra={"instance_id": runtime.instance_id,
                                                             "error": type(exc).__name__})
