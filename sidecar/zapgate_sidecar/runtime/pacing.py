"""One instance's pacing state on this sidecar: the rules in force, the time of the last send, the day's
first-contact count and the last number check (the rules themselves: zapgate_core/domain/pacing.py).

`rules` is None while pacing is off (the default, and whenever the instance's settings say so): the outbound
runner then takes its unpaced path, which does not touch this object at all beyond reading `rules` once per
wake, so pacing off costs nothing (bench/pacing_overhead.py measures it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from zapgate_core.domain.jids import InvalidDestination, normalize_destination
from zapgate_core.domain.pacing import FirstContactCounter, PacingRules, Rng, default_rng, next_day_start_ms
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyClient
from zapgate_sidecar.logs import log
from zapgate_sidecar.transport import TransportError, WhatsAppSession


def _monotonic_ms() -> float:
    return time.monotonic() * 1000


def _wall_ms() -> int:
    return int(time.time() * 1000)


class Pacer:
    def __init__(self, rng: Rng | None = None, monotonic_ms: Callable[[], float] = _monotonic_ms,
                 wall_ms: Callable[[], int] = _wall_ms) -> None:
        self.rules: PacingRules | None = None
        self._rng = rng or default_rng()
        self._monotonic_ms = monotonic_ms
        self.wall_ms = wall_ms
        self._last_send_ms: float | None = None
        self._last_check_ms: float | None = None
        self._check_lock = asyncio.Lock()
        self.first_contacts = FirstContactCounter()
        # Destinations known to have written first: once true it stays true, so it is asked once per runtime.
        self.wrote_first: set[str] = set()
        # Chats with a message held until a time: a later message to the same chat is held as long, so a chat's
        # messages still go in their queue order.
        self.held_chats: dict[str, int] = {}

    async def wait_turn(self, stopping: asyncio.Event) -> None:
        """Sleep until the next send may start: a random gap after the previous send. The runner calls it before
        it claims, so a claimed message's lease never runs during the gap."""
        rules = self.rules
        if rules is None:
            return
        wait_ms = rules.wait_before_send_ms(self._last_send_ms, rules.choose_delay_ms(self._rng),
                                            self._monotonic_ms())
        if wait_ms > 0:
            # A stop ends the wait at once: nothing is claimed yet, so nothing is left behind.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), wait_ms / 1000)

    async def show_presence(self, session: WhatsAppSession, jid: str, kind: str, text: str,
                            voice_note: bool) -> None:
        """Typing (or recording) in the chat for a time proportional to the text, then return to send."""
        rules = self.rules
        presence = rules.presence_for(kind, text, voice_note) if rules is not None else None
        if presence is None:
            return
        state, duration_ms = presence
        try:
            await asyncio.to_thread(session.send_chat_presence, jid, state)  # type: ignore[arg-type]
        except TransportError as exc:
            # Typing is cosmetic: a refused presence must never stop the message itself.
            log.info("pacing presence failed", extra={"error": str(exc)[:200]})
            return
        await asyncio.sleep(duration_ms / 1000)

    def sent(self) -> None:
        """A send finished (sent or failed): the next gap counts from now."""
        self._last_send_ms = self._monotonic_ms()

    async def wait_check_turn(self, max_wait_ms: float) -> bool:
        """Space number checks by the instance's interval (concurrent checks queue behind each other); False,
        without waiting, when this check's turn is more than `max_wait_ms` away (it is then not run: the API
        stopped waiting for it by then)."""
        rules = self.rules
        if rules is None or rules.check_numbers_interval_ms == 0:
            return True
        async with self._check_lock:
            wait_ms = rules.next_check_wait_ms(self._last_check_ms, self._monotonic_ms())
            if wait_ms > max_wait_ms:
                return False
            if wait_ms > 0:
                await asyncio.sleep(wait_ms / 1000)
            self._last_check_ms = self._monotonic_ms()
            return True

    async def cap_check(self, proxy: WorkerProxyClient, instance_id: str, to: str) -> tuple[int | None, bool]:
        """(held_until_ms or None, first_contact) for a claimed message to `to` under the first-contact daily
        cap: held when its chat already has a held message or the day's cap is reached; first_contact = the
        destination never wrote to the instance (the send then counts against the cap). Groups are not capped:
        the cap is about strangers' private chats."""
        rules = self.rules
        if rules is None or rules.first_contact_daily_cap is None:
            return None, False
        try:
            destination = normalize_destination(to)
        except InvalidDestination:
            return None, False  # send_one fails it with the reason
        if destination.kind == "group":
            return None, False
        jid, now = destination.jid, self.wall_ms()
        held_until = self.held_chats.get(jid)
        if held_until is not None and held_until > now:
            return held_until, False
        self.held_chats.pop(jid, None)
        if jid in self.wrote_first:
            return None, False
        wrote = await proxy.contact_wrote_first(instance_id, jid)
        if wrote is None or wrote:  # a server that cannot say (404): not capped, as before pacing
            if wrote:
                self.wrote_first.add(jid)
            return None, False
        if self.first_contacts.allows(rules.first_contact_daily_cap, now):
            return None, True
        held_until = next_day_start_ms(now)
        self.held_chats[jid] = held_until
        return held_until, False
