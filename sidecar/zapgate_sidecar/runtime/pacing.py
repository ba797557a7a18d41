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

from zapgate_core.domain.pacing import FirstContactCounter, PacingRules, Rng, default_rng
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
