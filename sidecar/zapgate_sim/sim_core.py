"""SimCore: the network's one lock, its instances and the helpers every concern (connection,
messages, groups, requests) shares. SimNetwork is SimCore plus those concerns as mixins, so each lives in
a module of its own but all of them run under the same lock on the same state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from zapgate_core.domain.jids import InvalidDestination, normalize_destination

from .sim_records import Extras, Group
from .sim_state import InvalidRequest, NotConnected, ShuttingDown, _Event, _hex16, _Instance, sim_lid

Clock = Callable[[], float]


class SimCore:
    """The shared state and lock-held helpers; every public method of a subclass is atomic under the lock."""

    def __init__(self, clock: Clock | None = None) -> None:
        # One lock for everything, and one condition on it per instance: a poller waits on its
        # instance's, so an event wakes the pollers of that instance only. (A single condition woke
        # every parked poller on every event: O(instances) per event, O(instances^2) to link them all.)
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._instances: dict[str, _Instance] = {}
        self._accounts: dict[str, str | None] = {}  # phone digits -> push name: accounts outside the gateway
        self._closing = False
        # The network's clock decides WhatsApp's windows (edit 15 min, delete for everyone 48 h). Injectable, and
        # advanceable (advance_clock, test-only) so a test can step past a window without waiting it out.
        self._clock: Clock = clock or time.time
        self._clock_offset = 0.0
        self._groups: dict[str, Group] = {}  # group JID -> the group, whoever is in it
        self._extras: dict[str, Extras] = {}  # instance id -> what its requests to the phone left behind
        self._about: dict[str, str] = {}  # phone digits -> about text (accounts and paired instances alike)
        self._pictures: dict[str, str] = {}  # phone digits -> current profile picture id
        self._group_counter = 0

    # ------------------------------------------------------------ lifecycle
    def _wake_everyone(self) -> None:
        for instance in self._instances.values():
            if instance.changed is not None:
                instance.changed.notify_all()

    def reset(self) -> None:
        with self._cond:
            self._wake_everyone()
            self._instances.clear()
            self._accounts.clear()
            self._groups.clear()
            self._extras.clear()
            self._about.clear()
            self._pictures.clear()
            self._clock_offset = 0.0

    # ------------------------------------------------------------ the network's clock
    def now(self) -> float:
        with self._cond:
            return self._now()

    def advance_clock(self, seconds: float) -> float:
        """Test-only: move the network's clock forward (never back), e.g. past the 15-minute edit window."""
        if seconds < 0:
            raise InvalidRequest("the clock only moves forward")
        with self._cond:
            self._clock_offset += seconds
            return self._now()

    def shutdown(self) -> None:
        """Release every long-poll (503) so the HTTP server can stop without waiting them out."""
        with self._cond:
            self._closing = True
            self._wake_everyone()

    def reopen(self) -> None:
        with self._cond:
            self._closing = False

    # ------------------------------------------------------------ internals (lock held)
    def _now(self) -> float:
        return self._clock() + self._clock_offset

    def _require_session(self, instance_id: str, session_id: str) -> _Instance:
        """The instance, if this session is its connected one: a request on any other socket is not connected."""
        self._check_open()
        instance = self._require_connected(instance_id)
        if instance.connected != session_id or instance.phone is None:
            raise NotConnected("not connected")
        return instance

    def _extras_of(self, instance_id: str) -> Extras:
        extras = self._extras.get(instance_id)
        if extras is None:
            extras = self._extras[instance_id] = Extras()
        return extras

    def _instance_of(self, digits: str) -> _Instance | None:
        """The gateway instance paired with this number, if any (the network's other phones)."""
        return next((i for i in self._instances.values() if i.phone == digits), None)

    def _push_name(self, digits: str) -> str | None:
        instance = self._instance_of(digits)
        if instance is not None and instance.push_name is not None:
            return instance.push_name
        return self._accounts.get(digits)

    def _user_digits(self, jid: str) -> str | None:
        """A user's phone digits from a number, a phone JID or a LID; None when the LID names no known account.

        Raises InvalidRequest for anything that is not a user (a group JID, garbage)."""
        try:
            destination = normalize_destination(jid)
        except InvalidDestination as exc:
            raise InvalidRequest(f"invalid user: {exc}") from exc
        user = destination.jid.split("@", 1)[0]
        if destination.kind == "pn":
            return user
        if destination.kind == "lid":
            known = set(self._accounts) | {i.phone for i in self._instances.values() if i.phone}
            return next((d for d in sorted(known) if sim_lid(d) == user), None)
        raise InvalidRequest("invalid user: not a user JID")

    def _observe(self, instance: _Instance, payload: dict[str, Any]) -> None:
        """Hook: every event the network emits passes here (lock held); the message ops record inbound ones."""

    def _on_paired(self, instance: _Instance) -> None:
        """Hook: a QR scan just paired this instance with its number (lock held)."""

    def _instance(self, instance_id: str) -> _Instance:
        instance = self._instances.get(instance_id)
        if instance is None:
            instance = self._instances[instance_id] = _Instance(instance_id, changed=threading.Condition(self._lock))
        return instance

    def _check_open(self) -> None:
        if self._closing:
            raise ShuttingDown("sim network shutting down")

    def _emit(self, instance: _Instance, session_id: str, payload: dict[str, Any]) -> None:
        instance.seq += 1
        instance.events.append(_Event(instance.seq, session_id, payload))
        self._observe(instance, payload)
        self._notify(instance)

    @staticmethod
    def _notify(instance: _Instance) -> None:
        if instance.changed is not None:
            instance.changed.notify_all()

    def _require_connected(self, instance_id: str) -> _Instance:
        instance = self._instances.get(instance_id)
        if instance is None or instance.connected is None:
            raise NotConnected("not connected")
        return instance

    def _next_other_id(self, instance: _Instance) -> str:
        instance.other_id_counter += 1
        return "SIMIN" + _hex16(instance.id, "in", instance.other_id_counter)

    def _account_exists(self, digits: str) -> bool:
        return digits in self._accounts or any(i.phone == digits for i in self._instances.values())

    def _hold_answer(self, instance: _Instance) -> None:
        """Lock held: wait out a pending stall (once), releasing the lock meanwhile; a shutdown ends it."""
        seconds, instance.stall_s = instance.stall_s, 0.0
        if seconds > 0 and instance.changed is not None:
            instance.changed.wait_for(lambda: self._closing, timeout=seconds)
