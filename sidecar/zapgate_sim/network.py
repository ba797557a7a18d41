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

Events go to a per-instance, sequence-numbered log; each entry names the session it is
for, and sessions long-poll their own entries. Payloads are JSON-ready dicts whose
``type`` tag the sim transport maps back onto the port's event dataclasses.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from zapgate_core.domain.jids import GROUP_SERVER, LID_SERVER, USER_SERVER, InvalidDestination, normalize_destination
from zapgate_core.domain.message_kinds import MEDIA_KINDS, OBJECT_OF_KIND, SENDABLE_KINDS, TYPED_KINDS

ConnectionState = Literal["offline", "waiting_qr", "connected"]
SessionState = Literal["waiting_qr", "connected", "closed"]
# Typed inbound kinds → the one object each carries (as the sidecar's IncomingMessage fields).
TYPED_OBJECTS = OBJECT_OF_KIND
STRUCTURED_KINDS = TYPED_KINDS
MESSAGE_KINDS = SENDABLE_KINDS  # what the sim lets a test send

# Bounded so a sim left running for days does not grow without limit; pollers that fall this
# far behind just miss the oldest events, which no test relies on.
MAX_EVENTS_PER_INSTANCE = 10_000
MAX_EVENTS_PER_POLL = 500
MAX_CLOSED_SESSIONS = 50
MAX_NUMBERS_PER_CHECK = 50  # one usync query's worth, as the contract allows
MAX_PRESENCES = 1_000  # per instance, oldest dropped
CHAT_PRESENCE_STATES = ("composing", "recording", "paused")
# whatsmeow's linking-code alphabet (no 0/O/I/U ambiguity), so codes look like the real ones.
PAIRING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"

# Event type tags shared with the sim transport.
EV_QR_SHOWN = "qr_shown"
EV_PAIRING_CODE_ISSUED = "pairing_code_issued"
EV_CONNECTED = "connected"
EV_DISCONNECTED = "disconnected"
EV_LOGGED_OUT = "logged_out"
EV_STREAM_REPLACED = "stream_replaced"
EV_CONNECT_FAILED = "connect_failed"
EV_UNDECRYPTABLE = "undecryptable"
EV_INCOMING_MESSAGE = "incoming_message"
EV_RECEIPT_RECEIVED = "receipt_received"

DEFAULT_UNDECRYPTABLE_CHAT = "5500000000000@s.whatsapp.net"


# ---------------------------------------------------------------- errors (each carries its HTTP status)
class SimError(Exception):
    """A refused operation; str(self) is the short reason the HTTP layer returns as `detail`."""

    status: int = 409


class NotConnected(SimError):
    status = 409


class NoPendingPairing(SimError):
    status = 409


class NotPaired(SimError):
    status = 409


class InvalidRequest(SimError):
    status = 400


class NotFound(SimError):
    status = 404


class UnknownSession(SimError):
    """The session id is not (or no longer) known, e.g. after /sim/reset: the socket is gone."""

    status = 410


class ShuttingDown(SimError):
    status = 503


# ---------------------------------------------------------------- state
@dataclass
class _Session:
    id: str
    state: SessionState
    credential: str | None = None


@dataclass(frozen=True)
class _Event:
    seq: int
    session: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class _Media:
    data: bytes
    mime_type: str | None
    file_name: str | None


@dataclass
class _Instance:
    id: str
    seq: int = 0
    events: deque[_Event] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS_PER_INSTANCE))
    sessions: dict[str, _Session] = field(default_factory=dict)
    session_counter: int = 0
    connected: str | None = None  # session id
    pending: str | None = None  # session id waiting for a QR scan / pairing code
    qr_attempt: int = 0
    qr: str | None = None
    pairing_code: str | None = None
    pairing_phone: str | None = None
    credential: str | None = None  # the active one; every earlier one is in `revoked`
    credential_counter: int = 0
    revoked: set[str] = field(default_factory=set)
    phone: str | None = None
    push_name: str | None = None
    sent_counter: int = 0
    other_id_counter: int = 0
    media_counter: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, _Media] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # group jid -> subject (the account's groups)
    presences: list[dict[str, Any]] = field(default_factory=list)  # chat presences this account sent
    stall_s: float = 0.0  # the next check / presence answers this late (after it has run)
    # Its pollers wait here (on the network's one lock): an event wakes this instance's pollers only.
    changed: threading.Condition | None = field(default=None, repr=False, compare=False)

    @property
    def state(self) -> ConnectionState:
        if self.connected is not None:
            return "connected"
        if self.pending is not None:
            return "waiting_qr"
        return "offline"

    @property
    def jid(self) -> str | None:
        return f"{self.phone}@{USER_SERVER}" if self.phone else None


def _hex16(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:16].upper()


def sim_lid(digits: str) -> str:
    """The LID the network gives a phone number: 15 digits, stable for the number (real LIDs are opaque)."""
    return str(int(hashlib.sha256(f"lid:{digits}".encode()).hexdigest(), 16) % 10**15).rjust(15, "1")


def _phone_digits(phone: str) -> str:
    try:
        destination = normalize_destination(phone)
    except InvalidDestination as exc:
        raise InvalidRequest(f"invalid phone: {exc}") from exc
    if destination.kind != "pn":
        raise InvalidRequest("invalid phone: not a phone number")
    return destination.jid.split("@", 1)[0]


class SimNetwork:
    """All instances of the fake network. Every public method is atomic under one lock."""

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

    @staticmethod
    def _notify(instance: _Instance) -> None:
        if instance.changed is not None:
            instance.changed.notify_all()

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

    def _require_connected(self, instance_id: str) -> _Instance:
        instance = self._instances.get(instance_id)
        if instance is None or instance.connected is None:
            raise NotConnected("not connected")
        return instance

    def _next_other_id(self, instance: _Instance) -> str:
        instance.other_id_counter += 1
        return "SIMIN" + _hex16(instance.id, "in", instance.other_id_counter)

    # ------------------------------------------------------------ transport side
    def connect(self, instance_id: str, credential: str | None = None) -> tuple[str, int]:
        """Open a session; returns (session id, cursor). Its first event follows the cursor."""
        with self._cond:
            self._check_open()
            instance = self._instance(instance_id)
            instance.session_counter += 1
            session_id = f"s{instance.session_counter}"
            cursor = instance.seq
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

    def send(
        self,
        instance_id: str,
        session_id: str,
        to: str,
        kind: str,
        text: str = "",
        data: bytes = b"",
        mime_type: str | None = None,
        file_name: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """`extra`: the location / contact / reaction / poll / quoted objects and the voice_note flag, recorded as
        given."""
        extra = extra or {}
        with self._cond:
            self._check_open()
            instance = self._require_connected(instance_id)
            if instance.connected != session_id:
                raise NotConnected("not connected")
            if kind not in MESSAGE_KINDS:
                raise InvalidRequest(f"unsupported message type: {kind}")
            try:
                destination = normalize_destination(to)
            except InvalidDestination as exc:
                raise InvalidRequest(f"invalid destination: {exc}") from exc
            structured = kind in STRUCTURED_KINDS
            if structured and kind not in extra:
                raise InvalidRequest(f"{kind} message without its {kind}")
            is_media = kind not in STRUCTURED_KINDS and kind != "text"
            if kind == "text" and not text.strip():
                raise InvalidRequest("empty text")
            if is_media and not data:
                raise InvalidRequest("empty media")
            if extra.get("voice_note") and kind != "audio":
                raise InvalidRequest("only audio can be a voice note")
            instance.sent_counter += 1
            wa_id = "SIM" + _hex16(instance_id, instance.sent_counter)
            instance.sent.append(
                {
                    "id": wa_id,
                    "to": destination.jid,
                    "type": kind,
                    "body": None if is_media else text,
                    "caption": (text or None) if is_media else None,
                    "media_size": len(data) if is_media else None,
                    "media_sha256": hashlib.sha256(data).hexdigest() if is_media else None,
                    "mime_type": mime_type if is_media else None,
                    "file_name": file_name if is_media else None,
                    **{k: v for k, v in extra.items()
                       if k in ("location", "contact", "reaction", "poll", "quoted", "voice_note")},
                }
            )
            return wa_id

    def _account_exists(self, digits: str) -> bool:
        return digits in self._accounts or any(i.phone == digits for i in self._instances.values())

    def check_numbers(self, instance_id: str, session_id: str, numbers: list[str]) -> list[dict[str, Any]]:
        """whatsmeow IsOnWhatsApp: for each number (any common form), whether it has an account."""
        with self._cond:
            self._check_open()
            instance = self._require_connected(instance_id)
            if instance.connected != session_id:
                raise NotConnected("not connected")
            if not 1 <= len(numbers) <= MAX_NUMBERS_PER_CHECK:
                raise InvalidRequest(f"1..{MAX_NUMBERS_PER_CHECK} numbers per check")
            answers = []
            for number in numbers:
                digits = _phone_digits(number)
                exists = self._account_exists(digits)
                answers.append({"number": number, "exists": exists,
                                "jid": f"{digits}@{USER_SERVER}" if exists else None,
                                "lid": f"{sim_lid(digits)}@{LID_SERVER}" if exists else None})
            self._hold_answer(instance)
            return answers

    def send_chat_presence(self, instance_id: str, session_id: str, chat: str, state: str) -> None:
        """whatsmeow SendChatPresence: fire-and-forget, so only a malformed chat or state is refused."""
        if state not in CHAT_PRESENCE_STATES:
            raise InvalidRequest(f"unknown chat presence: {state}")
        try:
            destination = normalize_destination(chat)
        except InvalidDestination as exc:
            raise InvalidRequest(f"invalid chat: {exc}") from exc
        with self._cond:
            self._check_open()
            instance = self._require_connected(instance_id)
            if instance.connected != session_id:
                raise NotConnected("not connected")
            seen = destination.kind == "group" or self._account_exists(destination.jid.split("@", 1)[0])
            instance.presences.append({"from": instance.jid, "chat": destination.jid, "state": state,
                                       "seen": seen, "at": time.time()})
            del instance.presences[:-MAX_PRESENCES]
            self._hold_answer(instance)

    def stall(self, instance_id: str, seconds: float) -> None:
        """Test-only: the instance's next check_numbers or chat presence runs, then answers `seconds` late."""
        with self._cond:
            self._instance(instance_id).stall_s = seconds

    def _hold_answer(self, instance: _Instance) -> None:
        """Lock held: wait out a pending stall (once), releasing the lock meanwhile; a shutdown ends it."""
        seconds, instance.stall_s = instance.stall_s, 0.0
        if seconds > 0 and instance.changed is not None:
            instance.changed.wait_for(lambda: self._closing, timeout=seconds)

    def register_account(self, phone: str, push_name: str | None = None) -> dict[str, Any]:
        """Someone outside the gateway has WhatsApp on this number (check_numbers finds it)."""
        digits = _phone_digits(phone)
        with self._cond:
            self._accounts[digits] = push_name
            return {"jid": f"{digits}@{USER_SERVER}", "lid": f"{sim_lid(digits)}@{LID_SERVER}", "push_name": push_name}

    def presences(self, instance_id: str) -> list[dict[str, Any]]:
        with self._cond:
            instance = self._instances.get(instance_id)
            return [dict(p) for p in instance.presences] if instance else []

    def download(self, instance_id: str, handle: str) -> bytes:
        with self._cond:
            instance = self._instances.get(instance_id)
            media = instance.media.get(handle) if instance else None
            if media is None:
                raise NotFound("media not found")
            return media.data

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
            self._emit(instance, session_id, self._connected_payload(instance))
            return self._info(instance)

    def deliver_inbound(
        self,
        instance_id: str,
        chat: str,
        *,
        wa_message_id: str | None = None,
        sender: str | None = None,
        sender_pn: str | None = None,
        push_name: str | None = None,
        body: str = "",
        media: tuple[str, str | None, str | None, bytes] | None = None,
        from_me: bool = False,
        timestamp: int | None = None,
        quoted: dict[str, Any] | None = None,
        kind: str | None = None,
        typed: dict[str, dict[str, Any]] | None = None,
    ) -> str:
        """An incoming message; `media` is (kind, mime type, file name, bytes). Returns its id.

        `quoted` ({id, sender, body}) makes it a reply; `kind` a typed kind (location, contact, reaction,
        poll, poll_choice, buttons_response, list_response) whose one object is in `typed` ({"location": {...}}).
        """
        typed = typed or {}
        expected = TYPED_OBJECTS.get(kind or "")
        if (kind is not None and expected is None) or list(typed) != ([expected] if expected else []):
            raise InvalidRequest("a typed message needs its type and exactly its one object")
        if typed and media is not None:
            raise InvalidRequest("a typed message carries no media")
        with self._cond:
            instance = self._require_connected(instance_id)
            message_id = wa_message_id or self._next_other_id(instance)
            media_ref: dict[str, Any] | None = None
            if media is not None:
                kind, mime_type, file_name, data = media
                if kind not in MEDIA_KINDS:
                    raise InvalidRequest(f"unsupported media type: {kind}")
                instance.media_counter += 1
                handle = f"media-{instance.media_counter}"
                instance.media[handle] = _Media(data, mime_type, file_name)
                media_ref = {
                    "kind": kind,
                    "mime_type": mime_type,
                    "file_name": file_name,
                    "file_size": len(data),
                    "handle": handle,
                }
            assert instance.connected is not None
            self._emit(
                instance,
                instance.connected,
                {
                    "type": EV_INCOMING_MESSAGE,
                    "wa_message_id": message_id,
                    "chat_jid": chat,
                    "sender_jid": sender or chat,
                    "from_me": from_me,
                    "timestamp": int(time.time()) if timestamp is None else timestamp,
                    "text": body,
                    "sender_pn": sender_pn,
                    "push_name": push_name,
                    "media": media_ref,
                    "is_protocol": False,
                    "is_history": False,
                    **({"quoted": quoted} if quoted else {}),
                    **({"kind": kind, **typed} if kind else {}),
                },
            )
            return message_id

    def undecryptable(self, instance_id: str, count: int, chat: str | None = None) -> list[str]:
        with self._cond:
            instance = self._require_connected(instance_id)
            if not 1 <= count <= 1000:
                raise InvalidRequest("count must be 1..1000")
            ids = []
            for _ in range(count):
                message_id = self._next_other_id(instance)
                ids.append(message_id)
                assert instance.connected is not None
                self._emit(
                    instance,
                    instance.connected,
                    {
                        "type": EV_UNDECRYPTABLE,
                        "wa_message_id": message_id,
                        "chat_jid": chat or DEFAULT_UNDECRYPTABLE_CHAT,
                    },
                )
            return ids

    def receipt(self, instance_id: str, wa_message_id: str, kind: str, chat: str | None = None) -> None:
        with self._cond:
            instance = self._require_connected(instance_id)
            if chat is None:
                chat = next((m["to"] for m in instance.sent if m["id"] == wa_message_id), None)
                if chat is None:
                    raise NotFound("unknown message")
            assert instance.connected is not None
            self._emit(
                instance,
                instance.connected,
                {
                    "type": EV_RECEIPT_RECEIVED,
                    "wa_message_ids": [wa_message_id],
                    "chat_jid": chat,
                    "kind": kind,
                },
            )

    def set_group(self, instance_id: str, jid: str, name: str) -> dict[str, str]:
        """The account joins a group, or a group it is in gets a new subject."""
        group_jid = jid if "@" in jid else f"{jid}@{GROUP_SERVER}"
        user, _, server = group_jid.partition("@")
        if server != GROUP_SERVER or not user:
            raise InvalidRequest(f"invalid group jid: must be <id>@{GROUP_SERVER}")
        with self._cond:
            self._instance(instance_id).groups[group_jid] = name
            return {"jid": group_jid, "name": name}

    def list_groups(self, instance_id: str, session_id: str) -> list[dict[str, str]]:
        """What the connected session sees of the account's groups (whatsmeow GetJoinedGroups)."""
        with self._cond:
            self._check_open()
            instance = self._require_connected(instance_id)
            if instance.connected != session_id:
                raise NotConnected("not connected")
            return [{"jid": jid, "name": name} for jid, name in sorted(instance.groups.items())]

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

    # ------------------------------------------------------------ views
    def sent(self, instance_id: str) -> list[dict[str, Any]]:
        with self._cond:
            instance = self._instances.get(instance_id)
            return [dict(m) for m in instance.sent] if instance else []

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
        }
