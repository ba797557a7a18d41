"""The simulated WhatsApp network: deterministic, in memory, thread-safe, no HTTP.

Model (one linked device per instance, which is all the gateway ever needs):

* An instance is an account slot keyed by the gateway's instance id. It has at most one
  *connected* session and at most one session *waiting for a QR* (the pending pairing).
* A session connecting without a credential gets a QR (``SIM-QR:<instance>:<attempt>``).
  Scanning it (control API) pairs a phone: the network mints a credential, revokes the
  previous one (its session, if any, is logged out) and connects the session.
* A session connecting with the active credential connects at once; if another session
  holds that credential it gets ``stream_replaced`` (whatsmeow's behaviour when a second
  process opens the same keys). A revoked or unknown credential gets ``logged_out``.
* ``drop`` is a network blip (sessions get ``disconnected`` and may reconnect with their
  credential); ``remove_device`` is the account unlinking the device (credential revoked).
* Accounts: a phone number is on WhatsApp when it is a paired instance's number or an account the
  control API registered (``register_account``, the people the gateway talks to). ``check_numbers``
  answers that, with the account's phone JID and a LID derived from the number (stable, like the real
  one). ``send_chat_presence`` records who showed typing / recording / paused to which chat, as the
  other party would see it (``presences``); like WhatsApp, nothing answers it, so a presence to a number
  without an account is accepted and seen by nobody. ``stall`` (test-only) makes the instance's next one of
  those reach the network and then hold its answer, a slow WhatsApp to kill a sidecar in the middle of.
* Requests to the phone (issue 10): ``perform(instance, session, op, args)`` runs any operation of the
  contract (contract/requests.py) with WhatsApp's rules, on shared records (groups, messages, profiles) so what
  one account does the others see; each rule set is described in its module (sim_contacts, sim_message_ops,
  sim_groups, sim_group_members). The network's clock (injectable, ``advance_clock``) decides the time windows.

Events go to a per-instance, sequence-numbered log; each entry names the session it is
for, and sessions long-poll their own entries. Payloads are JSON-ready dicts whose
``type`` tag the sim transport maps back onto the port's event dataclasses.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from .sim_changes import ChangesMixin  # issue 10's injections: edits, revokes, groups, calls
from .sim_core import Clock, SimCore
from .sim_ops import OpsMixin
from .sim_proxies import record_proxy
from .sim_state import (  # errors and helpers re-exported: tests and callers import them from here
    EV_CONNECTED,
    EV_DISCONNECTED,
    EV_LOGGED_OUT,
    EV_PAIRING_CODE_ISSUED,
    EV_QR_SHOWN,
    EV_STREAM_REPLACED,
    MAX_CLOSED_SESSIONS,
    MAX_EVENTS_PER_POLL,
    MAX_NUMBERS_PER_CHECK,
    PAIRING_ALPHABET,
    Expired,
    Forbidden,
    InvalidRequest,
    NoPendingPairing,
    NotConnected,
    NotFound,
    NotOnWhatsApp,
    NotPaired,
    ShuttingDown,
    SimError,
    UnknownSession,
    _hex16,
    _Instance,
    _phone_digits,
    _Session,
    sim_lid,
)

__all__ = [
    "MAX_NUMBERS_PER_CHECK",
    "PAIRING_ALPHABET",
    "Expired",
    "Forbidden",
    "InvalidRequest",
    "NoPendingPairing",
    "NotConnected",
    "NotFound",
    "NotOnWhatsApp",
    "NotPaired",
    "ShuttingDown",
    "SimCore",
    "SimError",
    "SimNetwork",
    "UnknownSession",
    "sim_lid",
]


class SimNetwork(OpsMixin, ChangesMixin):
    """All instances of the fake network. Every public method is atomic under one lock.

    Each concern is a mixin in its own module over SimCore's shared state (sim_messages: sending and inbound;
    sim_requests: number checks and chat presence; sim_ops: `perform`, every other request to the phone, over
    sim_contacts, sim_message_ops, sim_groups and sim_group_members); this class keeps the connection life
    cycle: sessions, pairing, credentials, views. `clock` (default time.time) is the network's clock, which
    decides WhatsApp's time windows; tests inject one or call advance_clock.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__(clock)

    def _close(self, instance: _Instance, session_id: str, payload: dict[str, Any] | None = None) -> None:
        session = instance.sessions.get(session_id)
        if session is None or session.state == "closed":
            return
        if payload is not None:
            self._emit(instance, session_id, payload)
        session.state = "closed"
        if instance.connected == session_id:
            instance.connected = None
        if instance.pending == session_id:
            instance.pending = None
            instance.qr = None
            instance.pairing_code = None
            instance.pairing_phone = None
        self._prune_sessions(instance)
        self._notify(instance)

    def _prune_sessions(self, instance: _Instance) -> None:
        closed = [sid for sid, s in instance.sessions.items() if s.state == "closed"]
        for sid in closed[: max(0, len(closed) - MAX_CLOSED_SESSIONS)]:
            del instance.sessions[sid]

    def _connected_payload(self, instance: _Instance) -> dict[str, Any]:
        return {
            "type": EV_CONNECTED,
            "jid": instance.jid,
            "push_name": instance.push_name,
            "credential": instance.credential,
        }

    def _revoke(self, instance: _Instance, reason: str) -> None:
        if instance.credential is not None:
            instance.revoked.add(instance.credential)
        instance.credential = None
        instance.phone = None
        instance.push_name = None
        if instance.connected is not None:
            self._close(instance, instance.connected, {"type": EV_LOGGED_OUT, "reason": reason})

    # ------------------------------------------------------------ transport side
    def connect(self, instance_id: str, credential: str | None = None, proxy: str | None = None) -> tuple[str, int]:
        """Open a session; returns (session id, cursor). Its first event follows the cursor. `proxy`: the URL the
        session says it came through (issue 13), recorded with its credentials masked."""
        with self._cond:
            self._check_open()
            instance = self._instance(instance_id)
            instance.session_counter += 1
            session_id = f"s{instance.session_counter}"
            cursor = instance.seq
            record_proxy(instance, session_id, proxy)
            if credential:
                instance.sessions[session_id] = _Session(session_id, "connected", credential)
                if credential != instance.credential:
                    reason = "credential revoked" if credential in instance.revoked else "unknown credential"
                    self._close(instance, session_id, {"type": EV_LOGGED_OUT, "reason": reason})
                    return session_id, cursor
                if instance.connected is not None:
                    self._close(instance, instance.connected, {"type": EV_STREAM_REPLACED})
                instance.connected = session_id
                self._emit(instance, session_id, self._connected_payload(instance))
                return session_id, cursor
            instance.sessions[session_id] = _Session(session_id, "waiting_qr")
            if instance.pending is not None:
                # Only one QR can be pending: the scan endpoint pairs "the" QR of an instance.
                self._close(instance, instance.pending,
                            {"type": EV_DISCONNECTED, "reason": "superseded by a newer connection"})
            instance.qr_attempt += 1
            instance.qr = f"SIM-QR:{instance_id}:{instance.qr_attempt}"
            instance.pending = session_id
            self._emit(instance, session_id, {"type": EV_QR_SHOWN, "code": instance.qr})
            return session_id, cursor

    def poll(self, instance_id: str, session_id: str, after: int, wait_s: float) -> dict[str, Any]:
        """Events for one session after `after`, waiting up to wait_s for the first one.

        `closed` is true once the session is closed and every event for it was returned: the
        transport stops polling then.
        """
        deadline = time.monotonic() + max(0.0, wait_s)
        with self._cond:
            while True:
                self._check_open()
                instance = self._instances.get(instance_id)
                session = instance.sessions.get(session_id) if instance else None
                if instance is None or session is None:
                    raise UnknownSession("unknown session")
                events = [e for e in instance.events if e.seq > after and e.session == session_id]
                truncated = len(events) > MAX_EVENTS_PER_POLL
                events = events[:MAX_EVENTS_PER_POLL]
                closed = session.state == "closed" and not truncated
                remaining = deadline - time.monotonic()
                if events or closed or remaining <= 0:
                    return {
                        "events": [{"seq": e.seq, **e.payload} for e in events],
                        "next": events[-1].seq if events else max(after, 0),
                        "closed": closed,
                    }
                assert instance.changed is not None
                instance.changed.wait(remaining)

    def disconnect(self, instance_id: str, session_id: str) -> None:
        """The client closed its socket: no event (nobody is listening), the auth state stays."""
        with self._cond:
            instance = self._instances.get(instance_id)
            if instance is not None:
                self._close(instance, session_id)
    def logout_device(self, instance_id: str, session_id: str | None, credential: str | None) -> bool:
        """The device unlinks itself. True if a credential was revoked now, False if already dead."""
        with self._cond:
            self._check_open()
            instance = self._instances.get(instance_id)
            if instance is not None and instance.credential is not None and (
                (session_id is not None and instance.connected == session_id)
                or (credential is not None and credential == instance.credential)
            ):
                self._revoke(instance, "logged out by this device")
                return True
            if instance is not None and credential is not None and credential in instance.revoked:
                return False
            raise NotConnected("not logged in")

    def request_pairing_code(self, instance_id: str, session_id: str, phone: str) -> str:
        with self._cond:
            self._check_open()
            instance = self._instances.get(instance_id)
            if instance is None or instance.pending != session_id:
                raise NoPendingPairing("not waiting for pairing")
            digits = _phone_digits(phone)
            digest = hashlib.sha256(f"{instance_id}:{digits}:{instance.qr_attempt}".encode()).digest()
            code = "".join(PAIRING_ALPHABET[b % len(PAIRING_ALPHABET)] for b in digest[:8])
            instance.pairing_code = code
            instance.pairing_phone = digits
            self._emit(instance, session_id, {"type": EV_PAIRING_CODE_ISSUED, "code": code})
            return code

    # ------------------------------------------------------------ control side (the "phone" and the world)
    def scan(self, instance_id: str, phone: str, push_name: str | None = None) -> dict[str, Any]:
        """The phone scans the pending QR (or enters the pairing code): the waiting session connects."""
        with self._cond:
            digits = _phone_digits(phone)
            instance = self._instances.get(instance_id)
            if instance is None or instance.pending is None:
                raise NoPendingPairing("no QR pending")
            session_id = instance.pending
            # One linked device per instance: pairing again unlinks the previous device.
            self._revoke(instance, "device replaced by a new pairing")
            instance.credential_counter += 1
            token = _hex16(instance_id, digits, instance.credential_counter).lower()
            instance.credential = f"simcred-{token}"
            instance.phone = digits
            instance.push_name = push_name
            instance.pending = None
            instance.qr = None
            instance.pairing_code = None
            instance.pairing_phone = None
            session = instance.sessions[session_id]
            session.state = "connected"
            session.credential = instance.credential
            instance.connected = session_id
            self._on_paired(instance)
            self._emit(instance, session_id, self._connected_payload(instance))
            return self._info(instance)

    def remove_device(self, instance_id: str) -> None:
        """The account unlinks the device (phone → linked devices → log out)."""
        with self._cond:
            instance = self._instances.get(instance_id)
            if instance is None or instance.credential is None:
                raise NotPaired("not paired")
            self._revoke(instance, "device removed from the account")

    def drop(self, instance_id: str) -> None:
        """A network blip: live sockets close; credentials stay valid."""
        with self._cond:
            instance = self._instances.get(instance_id)
            live = [sid for sid in (instance.connected, instance.pending) if sid] if instance else []
            if instance is None or not live:
                raise NotConnected("no live connection")
            for session_id in live:
                self._close(instance, session_id, {"type": EV_DISCONNECTED, "reason": "network blip"})

    def stats(self) -> dict[str, Any]:
        """The whole network at a glance (benches with many instances): counts by state, QRs shown so far."""
        with self._cond:
            states: dict[str, int] = {}
            for instance in self._instances.values():
                states[instance.state] = states.get(instance.state, 0) + 1
            return {
                "instances": len(self._instances),
                "states": states,
                "paired": sum(1 for i in self._instances.values() if i.credential is not None),
                "qr_shown": sum(i.qr_attempt for i in self._instances.values()),
                "sessions_open": sum(1 for i in self._instances.values() for x in i.sessions.values()
                                     if x.state != "closed"),
            }

    def info(self, instance_id: str) -> dict[str, Any]:
        with self._cond:
            instance = self._instances.get(instance_id)
            return self._info(instance or _Instance(instance_id))

    def _info(self, instance: _Instance) -> dict[str, Any]:
        return {
            "instance_id": instance.id,
            "state": instance.state,
            "paired": instance.credential is not None,
            "phone": instance.phone,
            "jid": instance.jid,
            "push_name": instance.push_name,
            "qr": instance.qr,
            "pairing_code": instance.pairing_code,
            "pairing_phone": instance.pairing_phone,
            "sent_count": len(instance.sent),
            # Issue 13: the proxy of the newest session (null = direct) and every session's, masked.
            "proxy": instance.proxies[-1]["proxy"] if instance.proxies else None,
            "proxies": list(instance.proxies),
        }
