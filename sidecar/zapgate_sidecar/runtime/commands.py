"""The public API's instance commands (delivered with the heartbeat): each id runs once, then is acked.

Commands queue behind the session's events on the runtime's event loop, so a command never runs beside
a session event; a session command (refresh_qr, restart, logout, disconnect) cuts a reconnect backoff short.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Literal

import httpx

from zapgate_core.contract.worker_proxy import CommandAckRequest, GroupReport, GroupsRequest, PendingCommand
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyError
from zapgate_sidecar.logs import log
from zapgate_sidecar.transport import TransportError

if TYPE_CHECKING:
    from zapgate_sidecar.runtime.instance import InstanceRuntime

SESSION_COMMANDS = frozenset({"refresh_qr", "restart", "logout", "disconnect"})
MAX_REMEMBERED_COMMANDS = 100
Result = Literal["done", "failed"]


class CommandFailed(Exception):
    """A command could not do what it asks; str(self) goes to the ack as the error."""


class CommandRunner:
    def __init__(self, runtime: InstanceRuntime) -> None:
        self._runtime = runtime
        self._outcomes: dict[str, tuple[Result, str | None] | None] = {}  # id -> (result, error); None: queued/running

    def queue(self, command: PendingCommand) -> None:
        """Queue a command behind the session's events; each id runs once and is acked once it ran."""
        runtime = self._runtime
        if runtime.stopping.is_set():
            return  # not acked: it stays pending for whoever holds the lock next (or expires)
        if command.id in self._outcomes:
            outcome = self._outcomes[command.id]
            if outcome is not None:  # it ran, but the ack did not land: say it again
                runtime.spawn(self._ack(command, *outcome))
            return
        self._outcomes[command.id] = None
        while len(self._outcomes) > MAX_REMEMBERED_COMMANDS:
            self._outcomes.pop(next(iter(self._outcomes)))
        if command.type in SESSION_COMMANDS:
            runtime.session.command_waiting.set()
        runtime.events.put_nowait((0, command))

    async def run(self, command: PendingCommand) -> None:
        runtime = self._runtime
        runtime.session.command_waiting.clear()
        log.info("command", extra={"instance_id": runtime.instance_id, "command": command.type, "id": command.id})
        outcome: tuple[Result, str | None] = ("done", None)
        try:
            await self._execute(command)
        except (TransportError, CommandFailed, WorkerProxyError, httpx.HTTPError, ValueError) as exc:
            outcome = ("failed", (str(exc) or type(exc).__name__)[:500])
            log.warning("command failed", extra={"instance_id": runtime.instance_id, "command": command.type,
                                                 "error": outcome[1]})
        self._outcomes[command.id] = outcome
        await self._ack(command, *outcome)

    async def _execute(self, command: PendingCommand) -> None:
        runtime = self._runtime
        session = runtime.session
        match command.type:
            case "refresh_qr":  # keys kept: paired → reconnects; unpaired → a fresh QR
                session.pairing_phone = None
                await session.reopen("refresh_qr")
            case "restart":
                await session.reopen("restart")
            case "logout":
                await self._logout()
            case "disconnect":
                # stop() marks the runtime stopping first, so discovery (the control plane disabled the
                # instance) cannot stop it beside us; it reports DISCONNECTED and releases the lock. This
                # task is spared its cancellation, so the ack below still goes out.
                await runtime.stop("disconnect_command")
            case "pairing_code":
                if not command.phone:
                    raise CommandFailed("pairing_code needs a phone")
                if runtime.connected:
                    raise CommandFailed("already paired")
                await session.request_pairing_code(command.phone)
            case "fetch_groups":
                current = session.current
                if current is None or not runtime.connected:
                    raise CommandFailed("not connected")
                found = await asyncio.to_thread(current.list_groups)
                groups = [GroupReport(jid=g.jid, name=g.name) for g in found if g.jid.endswith("@g.us")]
                await runtime.deps.proxy.report_groups(GroupsRequest(instance_id=runtime.instance_id, groups=groups))
            case other:
                raise CommandFailed(f"unsupported command: {other}")

    async def _logout(self) -> None:
        """Unlink on the server (when a session is up), then wipe the keys and show a new QR either way."""
        runtime = self._runtime
        session, was_connected, error = runtime.session.current, runtime.connected, None
        if session is not None:
            try:
                await asyncio.wait_for(asyncio.to_thread(session.logout), 30)
            except (TransportError, TimeoutError) as exc:
                error = str(exc) or type(exc).__name__  # unpaired or offline: only the local keys can go
        runtime.session.pairing_phone = None
        await runtime.session.start_over("logout_command")
        if error and was_connected:
            raise CommandFailed(f"unlink refused ({error[:200]}); local keys wiped, new QR shown")

    async def _ack(self, command: PendingCommand, result: Result, error: str | None) -> None:
        runtime = self._runtime
        request = CommandAckRequest(instance_id=runtime.instance_id, id=command.id, result=result, error=error)
        try:
            await runtime.deps.proxy.ack_command(request)
        except (WorkerProxyError, httpx.HTTPError) as exc:  # redelivered with the next renewal, acked again
            log.warning("command ack failed", extra={"instance_id": runtime.instance_id, "error": str(exc)[:200]})
