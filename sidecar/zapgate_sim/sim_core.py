"""SimCore: the network's one lock, its instances and the helpers every concern (connection,
messages, groups, requests) shares. SimNetwork is SimCore plus those concerns as mixins, so each lives in
a module of its own but all of them run under the same lock on the same state.
"""

from __future__ import annotations

import threading
from typing import Any

from .sim_state import NotConnected, ShuttingDown, _Event, _hex16, _Instance


class SimCore:
    """The shared state and lock-held helpers; every public method of a subclass is atomic under the lock."""

    def __init__(self) -> None:
        # One lock for everything, and one condition on it per instance: a poller waits on its
        # instance's, so an event wakes the pollers of that instance only. (A single condition woke
        # every parked poller on every event: O(instances) per event, O(instances^2) to link them all.)
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._instances: dict[str, _Instance] = {}
        self._accounts: dict[str, str | None] = {}  # phone digits -> push name: accounts outside the gateway
        self._closing = False

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

    def shutdown(self) -> None:
        """Release every long-poll (503) so the HTTP server can stop without waiting them out."""
        with self._cond:
            self._closing = True
            self._wake_everyone()

    def reopen(self) -> None:
        with self._cond:
            self._closing = False

    # ------------------------------------------------------------ internals (lock held)
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
