"""State of the simulated WhatsApp network: constants, errors (each carrying its HTTP status), the
per-instance records and small pure helpers. No behaviour lives here; SimNetwork and its mixins do that.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from zapgate_core.domain.jids import USER_SERVER, InvalidDestination, normalize_destination
from zapgate_core.domain.message_kinds import OBJECT_OF_KIND, SENDABLE_KINDS, TYPED_KINDS

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
    """A refused operation; str(self) is the short reason the HTTP layer returns as `detail`.

    `kind`, when set, is the refusal the sidecar port names (Refused.kind): the HTTP layer returns it beside the
    detail, because a status alone cannot tell not_found from not_on_whatsapp (both 404, as the public API says).
    """

    status: int = 409
    kind: str | None = None


class NotConnected(SimError):
    status = 409


class NoPendingPairing(SimError):
    status = 409


class NotPaired(SimError):
    status = 409


class InvalidRequest(SimError):
    status = 400
    kind = "bad_request"


class NotFound(SimError):
    status = 404
    kind = "not_found"


class Forbidden(SimError):
    """Not allowed: not a group admin, not the sender, not a member."""

    status = 403
    kind = "forbidden"


class NotOnWhatsApp(SimError):
    status = 404
    kind = "not_on_whatsapp"


class Expired(SimError):
    """Past WhatsApp's window for it (an edit after 15 minutes, a delete for everyone after 48 hours)."""

    status = 422
    kind = "expired"


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
    # Issue 13: the proxy each session connected through, credentials masked (newest last, bounded).
    proxies: list[dict[str, Any]] = field(default_factory=list)
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

