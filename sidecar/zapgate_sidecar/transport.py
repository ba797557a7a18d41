"""The port between the sidecar and a WhatsApp network: events in, commands out.

A transport opens one session per instance. Sessions report what happens as plain event
objects pushed to a sink callback; the sink must return at once (neonize runs callbacks
one at a time on one goroutine and blocks its dispatch when Python is slow), so the
sidecar only enqueues there and does HTTP and media work elsewhere.

Commands (send, download, logout, pair, list groups, and the requests to the phone: check numbers, chat
presence) are blocking calls; the sidecar runs them in a worker thread. Every failure a command can have
is a `TransportError` with a short reason that goes to mark-failed (or a request's answer) as is; its
subclasses say why when that matters: `NetworkUnreachable` (try later), `Refused` (the arguments).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from zapgate_core.domain.message_kinds import MediaKind, MessageKind, SendableKind
from zapgate_sidecar.transport_changes import ChangeEvent

if TYPE_CHECKING:  # the contract's models are pydantic: not imported on the sidecar's hot paths
    from zapgate_core.contract.base import ContractModel
    from zapgate_core.contract.requests import RequestOp


# ---------------------------------------------------------------- events (network → sidecar)
@dataclass(frozen=True)
class QrShown:
    """A QR to scan; `code` is the raw string the QR encodes (the sidecar renders it)."""

    code: str


@dataclass(frozen=True)
class PairingCodeIssued:
    """Phone-number pairing: the 8-character code the user types on the phone."""

    code: str


@dataclass(frozen=True)
class Connected:
    jid: str
    push_name: str | None = None


@dataclass(frozen=True)
class Disconnected:
    """The socket closed; the session may reconnect (the sidecar decides when)."""

    reason: str = ""


@dataclass(frozen=True)
class LoggedOut:
    """The account removed this device, or the server rejects the session: the auth state is dead."""

    reason: str = ""


@dataclass(frozen=True)
class StreamReplaced:
    """Another process connected with the same keys: a lock conflict, never fought back."""


@dataclass(frozen=True)
class ConnectFailed:
    """The server refused the connection; `permanent` (ban, outdated client) stops retries."""

    reason: str
    permanent: bool = False


@dataclass(frozen=True)
class Undecryptable:
    """A message could not be decrypted (the Baileys 'Bad MAC' equivalent)."""

    wa_message_id: str
    chat_jid: str


@dataclass(frozen=True)
class MediaRef:
    kind: MediaKind
    mime_type: str | None
    file_name: str | None
    file_size: int | None
    handle: object = field(compare=False, repr=False)  # transport-specific, passed back to download()




@dataclass(frozen=True)
class Location:
    """A shared location (outbound: what to send; inbound: what arrived)."""

    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class SharedContact:
    """A contact card that arrived; `count` > 1 when several were shared at once (this is the first)."""

    display_name: str
    vcard: str
    count: int = 1


@dataclass(frozen=True)
class Reaction:
    """A reaction to `wa_message_id` (outbound: what to send; inbound: what arrived); emoji "" = removed.

    `chat`: where the reacted-to message is; `from_me`: it was sent by this account (None = unknown);
    `sender`: its author when known.
    """

    wa_message_id: str
    emoji: str
    chat: str | None = None
    from_me: bool | None = False
    sender: str | None = None


@dataclass(frozen=True)
class Quoted:
    """The message a message replies to (outbound: what to quote; inbound: what was quoted)."""

    wa_message_id: str
    sender: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class Poll:
    """A new poll: its question, options and how many options a voter may pick (0 = any)."""

    name: str
    options: tuple[str, ...] = ()
    selectable_count: int | None = None


@dataclass(frozen=True)
class PollVote:
    """A vote on the poll `poll_message_id`: the chosen options as SHA-256 hashes of their names (lowercase
    hex; empty = the vote was removed) and the names of those the transport could resolve, in that order.

    WhatsApp sends only the hashes; a transport that saw the poll knows the names, one that did not (e.g. it
    restarted since) reports hashes only and a consumer matches them against its own poll.
    """

    poll_message_id: str
    option_hashes: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selection:
    """A button or list reply: the chosen button's / row's id and the text the user saw."""

    id: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class IncomingMessage:
    wa_message_id: str
    chat_jid: str
    sender_jid: str  # the real author: participant in groups, the chat in direct chats
    from_me: bool
    timestamp: int  # seconds since the epoch
    text: str = ""  # the text, the caption, or a plain rendering of a typed kind (location, poll...)
    sender_pn: str | None = None  # the phone JID beside a @lid sender, when WhatsApp gives it
    push_name: str | None = None
    media: MediaRef | None = None
    is_protocol: bool = False  # receipts, revokes, key distribution... nothing to deliver
    is_history: bool = False  # history sync, not a live message
    kind: MessageKind = "text"  # a media kind when `media` is set
    quoted: Quoted | None = None  # the message this one replies to
    # The typed kinds' content (at most one, matching `kind`; buttons_response / list_response: selection).
    location: Location | None = None
    contact: SharedContact | None = None
    reaction: Reaction | None = None
    poll: Poll | None = None
    poll_vote: PollVote | None = None  # kind poll_choice
    selection: Selection | None = None

    @property
    def typed_content(self) -> Location | SharedContact | Reaction | Poll | PollVote | Selection | None:
        return self.location or self.contact or self.reaction or self.poll or self.poll_vote or self.selection


@dataclass(frozen=True)
class ReceiptReceived:
    wa_message_ids: tuple[str, ...]
    chat_jid: str
    kind: str  # "delivered", "read", "played", ...


TransportEvent = (
    QrShown
    | PairingCodeIssued
    | Connected
    | Disconnected
    | LoggedOut
    | StreamReplaced
    | ConnectFailed
    | Undecryptable
    | IncomingMessage
    | ReceiptReceived
    | ChangeEvent  # edits, revokes, group changes, calls (transport_changes.py)
)
EventSink = Callable[[TransportEvent], None]


# ---------------------------------------------------------------- commands (sidecar → network)
OutLocation = Location  # outbound and inbound share the shapes


@dataclass(frozen=True)
class OutContact:
    display_name: str
    vcard: str


OutReaction = Reaction  # outbound: react in `chat` (the destination when None)
OutPoll = Poll


@dataclass(frozen=True)
class OutLinkPreview:
    """A text's link preview as the caller supplied it (never fetched here)."""

    url: str
    title: str | None = None
    description: str | None = None
    thumbnail: bytes = b""  # JPEG


@dataclass(frozen=True)
class Outgoing:
    kind: SendableKind
    text: str = ""  # the body, or the caption of media
    data: bytes = b""
    mime_type: str | None = None
    file_name: str | None = None
    location: OutLocation | None = None
    contact: OutContact | None = None
    reaction: OutReaction | None = None
    poll: OutPoll | None = None
    quoted: Quoted | None = None
    voice_note: bool = False  # audio only: a push-to-talk voice note instead of an audio file
    link_preview: OutLinkPreview | None = None  # text only
    mentions: tuple[str, ...] = ()  # text only: JIDs @-mentioned (the text carries "@<number>")


@dataclass(frozen=True)
class GroupInfo:
    """A group the account belongs to (members are never listed)."""

    jid: str  # "<id>@g.us"
    name: str = ""


@dataclass(frozen=True)
class NumberOnWhatsApp:
    """One number of a check: `number` as the transport was given it (digits only), whether it has an
    account, and the JIDs WhatsApp told (its phone-number JID, its LID; either may be unknown)."""

    number: str
    exists: bool
    jid: str | None = None
    lid: str | None = None


ChatPresenceState = Literal["composing", "recording", "paused"]  # typing, recording a voice note, stopped


class TransportError(Exception):
    """A command failed; str(self) is a short reason suitable for mark-failed."""


class NetworkUnreachable(TransportError):
    """WhatsApp could not be reached at all (or the session is not connected); retrying later is the only remedy."""


class AnswerLost(TransportError):
    """A change left this device and no answer came back (a timeout, the socket closed while waiting): it may or
    may not have happened on WhatsApp. Never retried as if it had not: creating a group twice is not harmless."""


RefusalKind = Literal["bad_request", "not_found", "forbidden", "not_on_whatsapp", "expired"]


class Refused(TransportError):
    """The arguments were refused, by WhatsApp or before asking it (an unparseable JID): asking again the same
    way fails the same way. `kind` says how: malformed, no such chat/user/message, not allowed (not a group
    admin, not the sender), no WhatsApp account, or past WhatsApp's window (an edit too late)."""

    def __init__(self, message: str, kind: RefusalKind = "bad_request") -> None:
        super().__init__(message)
        self.kind: RefusalKind = kind


class WhatsAppSession(Protocol):
    def start(self) -> None:
        """Begin connecting (QR or stored credentials); returns at once, events follow."""

    def stop(self) -> None:
        """Close the socket and keep the auth state."""

    def logout(self) -> None:
        """Unlink this device from the account (the auth state becomes useless)."""

    def request_pairing_code(self, phone: str) -> None:
        """Ask for a phone-number pairing code; a PairingCodeIssued event follows."""

    def send(self, jid: str, message: Outgoing) -> str:
        """Send and return WhatsApp's message id; raises TransportError."""

    def download(self, media: MediaRef) -> bytes:
        """The decrypted bytes of an incoming message's media; raises TransportError."""

    def list_groups(self) -> list[GroupInfo]:
        """The groups the connected account is in (id and subject); raises TransportError."""

    def check_numbers(self, numbers: list[str]) -> list[NumberOnWhatsApp]:
        """Which phone numbers (international, digits only) have a WhatsApp account: one entry per number, in
        the order given; raises TransportError (NetworkUnreachable when not connected)."""

    def send_chat_presence(self, chat: str, state: ChatPresenceState) -> None:
        """Show typing / recording / stopped in `chat` (a JID) to the other party; raises TransportError. WhatsApp
        never answers this stanza: success means it left this device."""

    def perform(self, op: RequestOp, args: ContractModel) -> ContractModel:
        """Run one request to the phone (contract/request_ops): `args` is an instance of ARGUMENTS[op], the answer
        one of RESULTS[op]. Raises TransportError: Refused(kind) when WhatsApp (or its rules) said no,
        NetworkUnreachable when not connected. Operations other than check_numbers and chat_presence come here."""


class WhatsAppTransport(Protocol):
    name: str

    def open_session(
        self, instance_id: str, auth_dir: Path, sink: EventSink, proxy: str | None = None
    ) -> WhatsAppSession:
        """A session whose credentials live under auth_dir (restored there before, persisted after).

        Issue 13: `proxy` is the instance's proxy URL (http(s):// or socks5://, credentials in the URL: never
        log it). The runtime passes it only when the instance has one (runtime/session.py), so a transport
        written before it (a test double) still works for every instance without a proxy."""
