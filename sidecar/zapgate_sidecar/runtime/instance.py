"""One instance's life on this sidecar: session, status reports, reconnects, outbound and inbound.

Transport events arrive on a queue (the transport's sink only enqueues), tagged with the
session generation that produced them, so events of a session we already closed are
dropped instead of acted on. This layer owns reconnection: on any disconnect the session
is closed and reopened after seed 000's backoff, so whatsmeow's own retry never runs
beside ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from zapgate_core.contract.worker_proxy import (
    CommandAckRequest,
    GroupReport,
    GroupsRequest,
    LockResponse,
    PendingCommand,
    ReceiptReport,
    ReceiptsRequest,
    UpdateStatusRequest,
)
from zapgate_core.storage.media import ContentAddressedMedia
from zapgate_sidecar import qr
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyClient, WorkerProxyError
from zapgate_sidecar.auth_persistence import AuthPersistence, CorruptAuthState, LockLost, for_instance
from zapgate_sidecar.inbound import InboundPipeline
from zapgate_sidecar.logs import log
from zapgate_sidecar.outbound import NotConnected, send_one
from zapgate_sidecar.policies import Backoff, BadMacBreaker
from zapgate_sidecar.settings import SidecarSettings
from zapgate_sidecar.telemetry import SidecarTelemetry
from zapgate_sidecar.transport import (
    Connected,
    ConnectFailed,
    Disconnected,
    IncomingMessage,
    LoggedOut,
    PairingCodeIssued,
    QrShown,
    ReceiptReceived,
    StreamReplaced,
    TransportError,
    TransportEvent,
    Undecryptable,
    WhatsAppSession,
    WhatsAppTransport,
)

SESSION_COMMANDS = frozenset({"refresh_qr", "restart", "logout", "disconnect"})
MAX_REMEMBERED_COMMANDS = 100
SAFETY_NET_POLL_S = 300.0  # with the heartbeat, polls only catch messages queued for no owner
MAX_INBOUND_IN_FLIGHT = 8
RECEIPT_FLUSH_S = 0.5
STATUS_ATTEMPTS = 4


@dataclass
class RuntimeDeps:
    settings: SidecarSettings
    proxy: WorkerProxyClient
    transport: WhatsAppTransport
    http: httpx.AsyncClient
    large_media: ContentAddressedMedia | None
    on_exit: Callable[[str, str], None]  # (instance_id, why): the fleet forgets the runtime
    now_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    telemetry: SidecarTelemetry = field(default_factory=SidecarTelemetry)  # EMF counters the fleet flushes


class InstanceRuntime:
    def __init__(self, instance_id: str, lock: LockResponse, deps: RuntimeDeps) -> None:
        settings = deps.settings
        self.instance_id = instance_id
        self.deps = deps
        self.lock_token = lock.lock_token
        self.fence = lock.fence
        self.state = "starting"
        self.status: str | None = None
        self.connected = False
        self.own_jid: str | None = None
        self.last_reason: str | None = None
        self.sent = 0
        self.received = 0
        self._sends_in_flight = 0  # claimed messages not yet sent or failed (rebalancing waits for them)
        self.auth_dir = settings.auth_base / instance_id
        self.auth_dir.mkdir(parents=True, exist_ok=True)
        self.auth: AuthPersistence = for_instance(settings, instance_id, self.auth_dir, lambda: self.lock_token)
        self.inbound = InboundPipeline(
            deps.proxy, instance_id, settings.media_base / instance_id, settings.upload_media_max_bytes,
            deps.large_media, {},
        )
        self._events: asyncio.Queue[tuple[int, TransportEvent | PendingCommand]] = asyncio.Queue()
        self._generation = 0
        self._session: WhatsAppSession | None = None
        self._backoff = Backoff(settings.reconnect_backoff_s)
        self._breaker = BadMacBreaker(settings.bad_mac_threshold, settings.bad_mac_window_ms,
                                      settings.bad_mac_cooldown_ms)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._inbound_slots = asyncio.Semaphore(MAX_INBOUND_IN_FLIGHT)
        self._main: asyncio.Task[None] | None = None
        self._pairing_phone: str | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._receipts: list[ReceiptReport] = []
        self._receipts_waiting = asyncio.Event()  # the receipt loop sleeps on it, not on a 0.5 s timer
        self._commands: dict[str, tuple[str, str | None] | None] = {}  # id -> (result, error); None: queued/running
        self._session_command = asyncio.Event()  # set while a session command waits: cuts a backoff short

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._main = asyncio.create_task(self._run(), name=f"runtime-{self.instance_id}")

    def wake_outbound(self) -> None:
        self._wake.set()

    @property
    def linking(self) -> bool:
        """A QR or pairing code is on screen: a person may be linking this instance right now."""
        return self.state in ("waiting_qr", "waiting_pairing")

    @property
    def sends_in_flight(self) -> int:
        """Outbound messages claimed and not yet marked (a claim on the wire counts as one)."""
        return self._sends_in_flight

    def describe(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "state": self.state,
            "status": self.status,
            "connected": self.connected,
            "jid": self.own_jid,
            "fence": self.fence,
            "last_reason": self.last_reason,
            "sent": self.sent,
            "received": self.received,
        }

    async def stop(self, why: str, *, release: bool = True, report: bool = True) -> None:
        """Graceful stop: persist credentials (fenced), close the socket, report, release the lock."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self.state = "stopping"
        if why == "lock_lost":
            self.deps.telemetry.incr("LocksLost")
        for task in [*self._tasks, *([self._main] if self._main else [])]:
            if task is not asyncio.current_task():
                task.cancel()
        if release:  # a lost lock means someone else owns the state: no save, no status, no release
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.auth.save_now)
        await self._close_session()
        if release and report:
            with contextlib.suppress(LockLost):
                await self._report("DISCONNECTED", reason=why)
        if release:
            with contextlib.suppress(Exception):
                await self.deps.proxy.release(self.instance_id, self.deps.settings.instance_owner, self.lock_token)
        self.state = "stopped"
        self.deps.on_exit(self.instance_id, why)

    async def request_pairing_code(self, phone: str) -> None:
        self._pairing_phone = phone
        if self._session is not None:
            await asyncio.to_thread(self._session.request_pairing_code, phone)

    # ------------------------------------------------------------ main loop
    async def _run(self) -> None:
        try:
            try:
                restored = await asyncio.to_thread(self.auth.restore)
            except CorruptAuthState:
                # Unusable either way; a fresh QR is the only way forward. Any other restore error
                # (DynamoDB unreachable) stops the runtime instead: a new pairing would later
                # overwrite credentials that are fine.
                log.error("stored auth state is corrupt; starting over", extra={"instance_id": self.instance_id})
                await asyncio.to_thread(self.auth.wipe)
                restored = False
            log.info("instance starting", extra={"instance_id": self.instance_id, "auth_restored": restored})
            self._open_session()
            self._spawn(self._outbound_loop())
            self._spawn(self._auth_loop())
            self._spawn(self._receipt_loop())
            while not self._stopping.is_set():
                generation, event = await self._events.get()
                if isinstance(event, PendingCommand):  # commands run between events, never beside them
                    await self._run_command(event)
                elif generation == self._generation:
                    await self._handle(event)
        except asyncio.CancelledError:
            raise
        except LockLost:
            self._schedule_stop("lock_lost", release=False)
        except Exception:
            log.exception("instance runtime failed", extra={"instance_id": self.instance_id})
            self._schedule_stop("runtime_error", release=True)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _open_session(self) -> None:
        self._generation += 1
        generation = self._generation
        loop = asyncio.get_running_loop()

        def sink(event: TransportEvent) -> None:
            # Called on a transport thread: hand over and return at once.
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
                loop.call_soon_threadsafe(self._events.put_nowait, (generation, event))

        self._session = self.deps.transport.open_session(self.instance_id, self.auth_dir, sink)
        self._session.start()
        if self._pairing_phone:
            self._spawn(asyncio.to_thread(self._session.request_pairing_code, self._pairing_phone))

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        self._generation += 1  # whatever the old session still says is now stale
        self.connected = False
        if session is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(session.stop), 10)

    async def _handle(self, event: TransportEvent) -> None:
        match event:
            case QrShown(code=code):
                self.state = "waiting_qr"
                if self.deps.settings.print_qr:
                    print(f"\nScan to link instance {self.instance_id} (WhatsApp > Linked devices):\n"
                          f"{qr.terminal_text(code)}", flush=True)
                await self._report("CONNECTING", qr_code=qr.png_data_url(code))
            case PairingCodeIssued(code=code):
                self.state = "waiting_pairing"
                if self.deps.settings.print_qr:
                    print(f"\nPairing code for instance {self.instance_id}: {code}\n", flush=True)
                await self._report("CONNECTING", pairing_code=code)
            case Connected(jid=jid, push_name=push_name):
                self.connected, self.own_jid, self.state = True, jid, "connected"
                self._pairing_phone = None
                self._backoff.reset()
                await self._report("CONNECTED", jid=jid, push_name=push_name)
                await asyncio.to_thread(self.auth.save_now)  # fresh credentials: keep them at once
                self._wake.set()  # anything queued while we were away
            case Disconnected(reason=reason):
                await self._reconnect_later(f"disconnected:{reason}" if reason else "disconnected")
            case ConnectFailed(reason=reason, permanent=True):
                await self._close_session()
                await self.stop(f"connect_failed:{reason}")
            case ConnectFailed(reason=reason):
                await self._reconnect_later(reason)
            case LoggedOut(reason=reason):
                await self._start_over(f"logged_out:{reason}" if reason else "logged_out")
            case StreamReplaced():
                # Another process runs our keys: a lock conflict. Step aside, never fight back.
                await self._close_session()
                await self.stop("stream_replaced")
            case Undecryptable():
                if self._breaker.record(self.deps.now_ms()):
                    self.deps.telemetry.incr("BadMacTrips")
                    await self._start_over("bad_mac_breaker")
            case IncomingMessage():
                self._spawn(self._deliver(event))
            case ReceiptReceived(wa_message_ids=ids, kind=kind):
                self._receipts.extend(ReceiptReport(wa_message_id=i, kind=kind) for i in ids)
                self._receipts_waiting.set()

    async def _reconnect_later(self, reason: str) -> None:
        self.deps.telemetry.incr("Reconnects")
        await self._close_session()
        self.state = "reconnecting"
        await self._report("DISCONNECTED", reason=reason)
        delay = self._backoff.next_delay()
        log.info("reconnecting", extra={"instance_id": self.instance_id, "reason": reason, "delay_s": delay})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_or_session_command(), delay)
        if not self._stopping.is_set() and not self._session_command.is_set():  # else the command reopens
            self._open_session()

    async def _start_over(self, reason: str) -> None:
        """The credentials are dead: wipe them (here and in DynamoDB) and show a new QR."""
        await self._close_session()
        self.state = "wiping"
        await self._report("DISCONNECTED", reason=reason)
        await asyncio.to_thread(self.auth.wipe)
        log.warning("auth state wiped", extra={"instance_id": self.instance_id, "reason": reason})
        self._open_session()

    async def _report(self, status: str, **fields: Any) -> None:
        self.status = status
        self.last_reason = fields.get("reason", self.last_reason)
        request = UpdateStatusRequest(instance_id=self.instance_id, status=status, lock_token=self.lock_token, **fields)
        # A lost CONNECTED report leaves the API refusing sends, so transient failures are retried.
        for attempt in range(STATUS_ATTEMPTS):
            try:
                await self.deps.proxy.update_status(request)
                return
            except WorkerProxyError as exc:
                if exc.status == 409:
                    raise LockLost(self.instance_id) from exc
                if exc.status < 500:
                    log.warning("update-status refused", extra={"instance_id": self.instance_id, "status": exc.status})
                    return
                error = f"http {exc.status}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            log.warning("update-status failed", extra={"instance_id": self.instance_id, "error": error,
                                                       "attempt": attempt + 1})
            await asyncio.sleep(0.5 * 2**attempt)

    # ------------------------------------------------------------ background work
    async def _deliver(self, message: IncomingMessage) -> None:
        async with self._inbound_slots:
            session = self._session
            if session is not None and await self.inbound.deliver(message, session, self.own_jid):
                self.received += 1
                self.deps.telemetry.incr("InboundDelivered")

    def _poll_interval_s(self) -> float:
        if self.deps.proxy.heartbeat_supported:
            return SAFETY_NET_POLL_S
        return self.deps.settings.queue_poll_ms / 1000

    async def _outbound_loop(self) -> None:
        batch_size = self.deps.settings.outbound_batch
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval_s())
            self._wake.clear()
            session = self._session
            if not self.connected or session is None:
                continue
            self._sends_in_flight = 1  # the claim's answer may hold claimed messages
            try:
                try:
                    batch = await self.deps.proxy.queued_messages(self.instance_id, batch_size)
                except (WorkerProxyError, httpx.HTTPError) as exc:
                    log.warning("queued-messages failed", extra={"instance_id": self.instance_id,
                                                                 "error": str(exc)[:200]})
                    self._sends_in_flight = 0  # nothing to send; whatever it claimed returns with its lease
                    await asyncio.sleep(1)
                    continue
                self._sends_in_flight = len(batch)
                for message in batch:
                    try:
                        outcome = await send_one(self.deps.proxy, self.deps.http, session, self.instance_id, message,
                                                 lambda: self.connected)
                    except NotConnected:
                        break
                    finally:
                        self._sends_in_flight -= 1
                    self.sent += outcome.wa_message_id is not None
                    self.deps.telemetry.incr("OutboundSent" if outcome.wa_message_id is not None
                                             else "OutboundFailed")
            finally:
                self._sends_in_flight = 0
            if len(batch) >= batch_size:
                self._wake.set()  # more may be waiting: do not wait for a tick

    async def _receipt_loop(self) -> None:
        """Receipts go up in batches: a read receipt for 50 messages is one request, not 50.

        An idle instance's loop waits for the first receipt instead of waking every RECEIPT_FLUSH_S (2 wake-ups
        a second per instance: ~11 ms of CPU a second at 1,000 instances, for nothing)."""
        while not self._stopping.is_set():
            await self._receipts_waiting.wait()
            await asyncio.sleep(RECEIPT_FLUSH_S)  # what arrives meanwhile goes in the same batch
            batch, self._receipts = self._receipts[:500], self._receipts[500:]
            if not self._receipts:
                self._receipts_waiting.clear()
            if not batch:
                continue
            try:
                await self.deps.proxy.receipts(ReceiptsRequest(instance_id=self.instance_id, receipts=batch))
            except (WorkerProxyError, httpx.HTTPError) as exc:
                log.warning("receipts not delivered", extra={"instance_id": self.instance_id, "error": str(exc)[:200]})

    async def _auth_loop(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(self.deps.settings.auth_save_interval_s)
            try:
                await asyncio.to_thread(self.auth.save_if_changed)
            except LockLost:
                await self.stop("lock_lost", release=False)
                return
            except Exception as exc:
                log.warning("auth state save failed", extra={"instance_id": self.instance_id,
                                                             "error": type(exc).__name__})

    def lock_lost(self) -> None:
        self._schedule_stop("lock_lost", release=False)

    def _schedule_stop(self, why: str, release: bool) -> None:
        # Kept on self: a task nobody references may be garbage-collected before it runs.
        self._stop_task = asyncio.create_task(self.stop(why, release=release))

    # ------------------------------------------------------------ commands (public API, via the heartbeat)
    def command(self, command: PendingCommand) -> None:
        """Queue a command behind the session's events; each id runs once and is acked once it ran."""
        if self._stopping.is_set():
            return  # not acked: it stays pending for whoever holds the lock next (or expires)
        if command.id in self._commands:
            outcome = self._commands[command.id]
            if outcome is not None:  # it ran, but the ack did not land: say it again
                self._spawn(self._ack(command, *outcome))
            return
        self._commands[command.id] = None
        while len(self._commands) > MAX_REMEMBERED_COMMANDS:
            self._commands.pop(next(iter(self._commands)))
        if command.type in SESSION_COMMANDS:
            self._session_command.set()
        self._events.put_nowait((0, command))

    async def _stop_or_session_command(self) -> None:
        waits = [asyncio.ensure_future(self._stopping.wait()), asyncio.ensure_future(self._session_command.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _run_command(self, command: PendingCommand) -> None:
        self._session_command.clear()
        log.info("command", extra={"instance_id": self.instance_id, "command": command.type, "id": command.id})
        outcome: tuple[str, str | None] = ("done", None)
        try:
            await self._execute(command)
        except (TransportError, CommandFailed, WorkerProxyError, httpx.HTTPError, ValueError) as exc:
            outcome = ("failed", (str(exc) or type(exc).__name__)[:500])
            log.warning("command failed", extra={"instance_id": self.instance_id, "command": command.type,
                                                 "error": outcome[1]})
        self._commands[command.id] = outcome
        await self._ack(command, *outcome)

    async def _execute(self, command: PendingCommand) -> None:
        match command.type:
            case "refresh_qr":  # keys kept: paired → reconnects; unpaired → a fresh QR
                self._pairing_phone = None
                await self._reopen("refresh_qr")
            case "restart":
                await self._reopen("restart")
            case "logout":
                await self._logout()
            case "disconnect":
                # stop() marks the runtime stopping first, so discovery (the control plane disabled the
                # instance) cannot stop it beside us; it reports DISCONNECTED and releases the lock. This
                # task is spared its cancellation, so the ack below still goes out.
                await self.stop("disconnect_command")
            case "pairing_code":
                if not command.phone:
                    raise CommandFailed("pairing_code needs a phone")
                if self.connected:
                    raise CommandFailed("already paired")
                await self.request_pairing_code(command.phone)
            case "fetch_groups":
                session = self._session
                if session is None or not self.connected:
                    raise CommandFailed("not connected")
                found = await asyncio.to_thread(session.list_groups)
                groups = [GroupReport(jid=g.jid, name=g.name) for g in found if g.jid.endswith("@g.us")]
                await self.deps.proxy.report_groups(GroupsRequest(instance_id=self.instance_id, groups=groups))
            case other:
                raise CommandFailed(f"unsupported command: {other}")

    async def _reopen(self, reason: str) -> None:
        was_connected = self.connected
        await self._close_session()
        if was_connected:
            await self._report("DISCONNECTED", reason=reason)
        self._backoff.reset()
        self._open_session()

    async def _logout(self) -> None:
        """Unlink on the server (when a session is up), then wipe the keys and show a new QR either way."""
        session, was_connected, error = self._session, self.connected, None
        if session is not None:
            try:
                await asyncio.wait_for(asyncio.to_thread(session.logout), 30)
            except (TransportError, TimeoutError) as exc:
                error = str(exc) or type(exc).__name__  # unpaired or offline: only the local keys can go
        self._pairing_phone = None
        await self._start_over("logout_command")
        if error and was_connected:
            raise CommandFailed(f"unlink refused ({error[:200]}); local keys wiped, new QR shown")

    async def _ack(self, command: PendingCommand, result: str, error: str | None) -> None:
        request = CommandAckRequest(instance_id=self.instance_id, id=command.id, result=result, error=error)
        try:
            await self.deps.proxy.ack_command(request)
        except (WorkerProxyError, httpx.HTTPError) as exc:  # redelivered with the next renewal, acked again
            log.warning("command ack failed", extra={"instance_id": self.instance_id, "error": str(exc)[:200]})


class CommandFailed(Exception):
    """A command could not do what it asks; str(self) goes to the ack as the error."""
