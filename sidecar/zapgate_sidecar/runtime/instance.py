"""One instance's life on this sidecar: the coordinator of its session, outbound, inbound, commands and requests.

Transport events and commands share one queue and run one at a time on the runtime's main task, so
a command never runs beside a session event. The parts (session.py, outbound_runner.py,
inbound_forwarding.py, commands.py) keep their own state and read the shared state kept here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from zapgate_core.contract.worker_proxy import LockResponse, PendingCommand
from zapgate_sidecar.auth_persistence import AuthPersistence, CorruptAuthState, LockLost, for_instance
from zapgate_sidecar.logs import log
from zapgate_sidecar.runtime.change_forwarding import ChangeForwarding
from zapgate_sidecar.runtime.commands import CommandRunner
from zapgate_sidecar.runtime.deps import RuntimeDeps
from zapgate_sidecar.runtime.inbound_forwarding import InboundForwarding
from zapgate_sidecar.runtime.instance_settings import InstanceSettingsFollower, SettingsChanged
from zapgate_sidecar.runtime.outbound_runner import OutboundRunner
from zapgate_sidecar.runtime.requests import RequestRunner
from zapgate_sidecar.runtime.session import SessionLifecycle
from zapgate_sidecar.transport import IncomingMessage, ReceiptReceived, TransportEvent
from zapgate_sidecar.transport_changes import (
    CallReceived,
    GroupInfoChanged,
    GroupParticipantsChanged,
    MessageEdited,
    MessageRevoked,
)


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
        self.auth_dir = settings.auth_base / instance_id
        self.auth_dir.mkdir(parents=True, exist_ok=True)
        self.auth: AuthPersistence = for_instance(settings, instance_id, self.auth_dir, lambda: self.lock_token)
        # (session generation, event); commands and settings changes carry generation 0 and are never stale
        self.events: asyncio.Queue[tuple[int, TransportEvent | PendingCommand | SettingsChanged]] = asyncio.Queue()
        self.stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._main: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[None] | None = None
        # The instance's settings (contract/instance_settings.py): `self.settings.current`, kept current.
        self.settings = InstanceSettingsFollower(self)
        self.session = SessionLifecycle(self)
        self.outbound = OutboundRunner(self)
        self.inbound = InboundForwarding(self)
        self.changes = ChangeForwarding(self)
        self.commands = CommandRunner(self)
        self.requests = RequestRunner(self, pacing=self.outbound.pacing)  # number checks at the instance's pace

    # ------------------------------------------------------------ what the instance manager calls
    def start(self) -> None:
        self._main = asyncio.create_task(self._run(), name=f"runtime-{self.instance_id}")

    def wake_outbound(self) -> None:
        self.outbound.wake()

    def command(self, command: PendingCommand) -> None:
        self.commands.queue(command)

    def request(self, request_id: str) -> None:
        """A request to the phone waits for this lock holder: claim it, run it, answer it (runtime/requests.py)."""
        self.requests.take(request_id)

    def settings_changed(self, version: int | None = None) -> None:
        """The control plane says the settings changed (push frame: version None) or reports their version
        (a renewal): fetch them when ours may be older."""
        if version is None:
            self.settings.changed()
        else:
            self.settings.version_seen(version)

    def lock_lost(self) -> None:
        self._schedule_stop("lock_lost", release=False)

    @property
    def linking(self) -> bool:
        """A QR or pairing code is on screen: a person may be linking this instance right now."""
        return self.state in ("waiting_qr", "waiting_pairing")

    @property
    def sends_in_flight(self) -> int:
        """Outbound messages claimed and not yet marked (a claim on the wire counts as one)."""
        return self.outbound.in_flight

    def describe(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "state": self.state,
            "status": self.status,
            "connected": self.connected,
            "jid": self.own_jid,
            "fence": self.fence,
            "settings_version": self.settings.current.version,
            "last_reason": self.last_reason,
            "sent": self.sent,
            "received": self.received,
        }

    async def stop(self, why: str, *, release: bool = True, report: bool = True) -> None:
        """Graceful stop: persist credentials (fenced), close the socket, report, release the lock."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.state = "stopping"
        if why == "lock_lost":
            self.deps.telemetry.incr("LocksLost")
        for task in [*self._tasks, *([self._main] if self._main else [])]:
            if task is not asyncio.current_task():
                task.cancel()
        if release:  # a lost lock means someone else owns the state: no save, no status, no release
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.auth.save_now)
        await self.session.close()
        if release and report:
            with contextlib.suppress(LockLost):
                await self.session.report("DISCONNECTED", reason=why)
        if release:
            with contextlib.suppress(Exception):
                await self.deps.proxy.release(self.instance_id, self.deps.settings.instance_owner, self.lock_token)
        self.state = "stopped"
        self.deps.on_exit(self.instance_id, why)

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
            await self.settings.load()  # before the first connect: it may need them (a proxy)
            if self.stopping.is_set():
                return
            log.info("instance starting", extra={"instance_id": self.instance_id, "auth_restored": restored,
                                                 "settings_version": self.settings.current.version})
            self.session.open()
            self.spawn(self.outbound.run())
            self.spawn(self.session.save_keys_loop())
            self.spawn(self.inbound.receipt_loop())
            while not self.stopping.is_set():
                generation, event = await self.events.get()
                if isinstance(event, PendingCommand):  # commands run between events, never beside them
                    await self.commands.run(event)
                elif isinstance(event, SettingsChanged):  # so do settings changes
                    await self.settings.apply(event)
                elif generation == self.session.generation:
                    await self._handle(event)
        except asyncio.CancelledError:
            raise
        except LockLost:
            self._schedule_stop("lock_lost", release=False)
        except Exception:
            log.exception("instance runtime failed", extra={"instance_id": self.instance_id})
            self._schedule_stop("runtime_error", release=True)

    async def _handle(self, event: TransportEvent) -> None:
        match event:
            case IncomingMessage():
                self.inbound.message(event)
            case ReceiptReceived():
                self.inbound.receipt(event)
            case MessageEdited() | MessageRevoked() | GroupParticipantsChanged() | GroupInfoChanged() | CallReceived():
                self.changes.change(event)
            case _:
                await self.session.handle(event)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run in the background until done or until the runtime stops (stop() cancels it)."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _schedule_stop(self, why: str, release: bool) -> None:
        # Kept on self: a task nobody references may be garbage-collected before it runs.
        self._stop_task = asyncio.create_task(self.stop(why, release=release))
