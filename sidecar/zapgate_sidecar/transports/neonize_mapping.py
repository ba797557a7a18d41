"""Pure mapping from neonize's protobuf events to the transport port's events.

Nothing here needs a client or the Go library: every function takes protobuf messages (or
plain values) and returns port events, so the mapping is tested with real neonize messages
and no network. This module never imports neonize at runtime: importing any neonize module
loads the Go shared library (~0.4-0.5 s, see NeonizeTransport), and enum names are read
from the messages' own descriptors instead.

Facts about goneonize's encoder (goneonize/utils/encoder.go, neonize 0.5.2) that shape it:

* ``MessageInfo.Timestamp`` is milliseconds (``Timestamp.UnixMilli()``); every other
  timestamp neonize sends is seconds. ``_seconds`` accepts both, so a future fix is harmless.
* ``Receipt.Type``: ``ReceiptTypePlayedSelf`` is encoded as ``SERVER_ERROR``, and whatsmeow's
  real ``server-error`` receipt is not mapped at all, leaving ``Type`` unset.
* Neonize.proto is proto2 with ``required`` fields (``Receipt.Type``, ``LoggedOut.Reason``,
  ``ConnectFailure.Reason``, ``TemporaryBan.Code``...). When the encoder leaves one unset
  (server-error receipts, failure codes it does not know such as 413-418), Go's
  ``proto.Marshal`` fails and goneonize's event loop *returns that error*: no further event
  reaches Python and ``connect()`` raises it. The transport handles that; here, an unset
  field is still read defensively (proto2 would otherwise report the enum's first value).
* ``Disconnected`` carries no reason.

Decisions (the port leaves them to the adapter):

* Stickers are delivered as ``image`` media (``image/webp``): the inbound contract has no
  sticker kind and dropping them would lose a user's message. Video notes (``ptvMessage``)
  are ``video``.
* Edits, revokes, pins, key distribution and other protocol-only payloads are
  ``is_protocol``: the inbound contract delivers new messages only. Statuses
  (``status@broadcast``) are ``is_protocol`` too: they are not a chat.
* Reactions are a user's action worth an event: kind ``reaction`` with the reacted-to message's
  id and the emoji ("" = the reaction was removed). The key is the reactor's (whatsmeow's
  BuildMessageKey): its ``fromMe`` means "the reactor's own message", its ``remoteJID`` in a
  direct chat is the reactor's view of the chat (our own JID), so the chat is the event's and
  ``from_me`` (ours) is inferred: False when the reactor reacted to their own message, True in
  a direct chat otherwise, unknown (None) in groups (the pure mapping does not know our JID).
* Poll votes (``pollUpdateMessage``) are encrypted with the poll's secret; decrypting needs the
  client (``NewClient.decrypt_poll_vote``, whatsmeow's message-secret store), so the session does
  it (``vote_to_decrypt`` says which events) and ``map_poll_vote`` maps the result: kind
  ``poll_choice`` with the poll's id and the chosen options' SHA-256 hashes (all a vote carries;
  none = the vote was removed). Names come from ``PollOptionsCache``, filled from every poll
  creation the session maps (``poll_option_names``, our own polls too) and every poll it sends
  (``poll_options_by_hash``); a poll it never saw (a restart since) gives hashes only.
  ``map_message`` alone keeps a vote protocol: a vote that could not be decrypted is never
  reported with a made-up selection.
* Locations, contact cards, polls and button/list replies get their kind and a small typed
  object (bounded to the worker-proxy contract's limits) and keep a plain text rendering
  (``_fallback_text``) in ``text`` for consumers that only read text. Any other content kind
  is delivered with empty text and no media; the sidecar's ``has_content`` check decides.
* A reply carries its quote (``contextInfo.stanzaID`` and the quoted message's text, cut) from
  whichever content field holds the ``contextInfo``.
* ``is_history`` is always False for ``Message`` events: whatsmeow delivers history sync
  as a separate ``HistorySync`` blob (not subscribed), and the offline backlog replayed on
  connect arrives as ordinary, live ``Message`` events that must not be dropped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from zapgate_core.contract.common import (
    MAX_EMOJI,
    MAX_ID,
    MAX_LABEL,
    MAX_POLL_OPTIONS,
    MAX_QUOTED_TEXT,
    MAX_VCARD,
)
from zapgate_sidecar.transport import (
    Connected,
    ConnectFailed,
    Disconnected,
    IncomingMessage,
    Location,
    LoggedOut,
    MediaKind,
    MediaRef,
    MessageKind,
    Poll,
    PollVote,
    QrShown,
    Quoted,
    Reaction,
    ReceiptReceived,
    Selection,
    SharedContact,
    StreamReplaced,
    TransportEvent,
    Undecryptable,
)

if TYPE_CHECKING:
    from google.protobuf.message import Message as ProtoMessage
    from neonize.proto import Neonize_pb2 as nz
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

USER_SERVER = "s.whatsapp.net"
LID_SERVER = "lid"
STATUS_BROADCAST = "status@broadcast"

# whatsmeow's own strings for receipt types (types.ReceiptType*), keyed by neonize's enum names.
_RECEIPT_KINDS = {
    "DELIVERED": "delivered",  # whatsmeow's "" (the plain delivery receipt)
    "SENDER": "sender",
    "RETRY": "retry",
    "READ": "read",
    "READ_SELF": "read-self",
    "PLAYED": "played",
    "PLAYED_SELF": "played-self",
    "SERVER_ERROR": "played-self",  # goneonize encodes PlayedSelf as SERVER_ERROR (encoder bug)
    "INACTIVE": "inactive",
    "PEER_MSG": "peer_msg",
    "HISTORY_SYNC": "hist_sync",
}
# Only whatsmeow's "server-error" receipt has Type unset (the encoder maps every other type),
# so an absent Type means server-error, never "delivered" (what proto2 reports by default).
_RECEIPT_TYPE_UNSET = "server-error"

# ConnectFailureReason values whatsmeow treats as "the device is gone" (IsLoggedOut()).
_LOGGED_OUT_REASONS = frozenset({"LOGGED_OUT", "MAIN_DEVICE_GONE", "UNKNOWN_LOGOUT"})
# Failures that retrying cannot fix: a ban, or a client WhatsApp no longer accepts.
_PERMANENT_REASONS = frozenset({"TEMP_BANNED", "CLIENT_OUTDATED", "BAD_USER_AGENT"})
_REASON_CODES = {
    "GENERIC": 400,
    "LOGGED_OUT": 401,
    "TEMP_BANNED": 402,
    "MAIN_DEVICE_GONE": 403,
    "CLIENT_OUTDATED": 405,
    "UNKNOWN_LOGOUT": 406,
    "BAD_USER_AGENT": 409,
    "INTERNAL_SERVER_ERROR": 500,
    "EXPERIMENTAL": 501,
    "SERVICE_UNAVAILABLE": 503,
}

# Wrappers whatsmeow normally unwraps already (events.Message.UnwrapRaw); unwrapping again
# is cheap and keeps the mapping right if a wrapped payload ever reaches Python.
_WRAPPERS = (
    "deviceSentMessage",
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
    "lottieStickerMessage",
    "botInvokeMessage",
    "groupMentionedMessage",
    "spoilerMessage",
    "pollCreationMessageV4",  # a FutureProofMessage around the poll (V1..V6 otherwise are the poll itself)
)
# Fields that ride along with real content and never count as content themselves.
_ANCILLARY = frozenset(
    {"messageContextInfo", "senderKeyDistributionMessage", "fastRatchetKeySenderKeyDistributionMessage"}
)
# Payloads with nothing for the inbound contract: state changes of other messages, keys, calls.
_PROTOCOL_ONLY = frozenset(
    {
        "protocolMessage",
        "encReactionMessage",
        "pollUpdateMessage",
        "keepInChatMessage",
        "pinInChatMessage",
        "editedMessage",
        "secretEncryptedMessage",
        "encEventResponseMessage",
        "encCommentMessage",
        "stickerSyncRmrMessage",
        "call",
        "callLogMesssage",  # sic: the field name in WAWebProtobufsE2E
        "bcallMessage",
        "groupRootKeyShare",
        "rootSecretDistributeMessage",
        "placeholderMessage",
        "messageHistoryNotice",
        "messageHistoryBundle",
    }
)
_MEDIA_FIELDS: tuple[tuple[str, MediaKind], ...] = (
    ("imageMessage", "image"),
    ("videoMessage", "video"),
    ("ptvMessage", "video"),
    ("audioMessage", "audio"),
    ("documentMessage", "document"),
    ("stickerMessage", "image"),
)
_POLL_FIELDS = (
    "pollCreationMessage",
    "pollCreationMessageV2",
    "pollCreationMessageV3",
    "pollCreationMessageV5",
    "pollCreationMessageV6",
)
_POLL_VOTE = "pollUpdateMessage"
_OPTION_HASH_BYTES = 32  # SHA-256
# Polls whose option names a session keeps for resolving votes: the most recently seen/voted first to stay.
POLL_CACHE_POLLS = 1_000
POLL_CACHE_CHARS = 2_000_000  # ~1,000 ordinary polls; caps the worst case (32 options of 1,000 characters each)
_MILLIS_THRESHOLD = 100_000_000_000  # 1973 in ms, year 5138 in s: the units cannot be confused


# ---------------------------------------------------------------- JIDs
class JidParts(NamedTuple):
    user: str
    server: str
    device: int = 0
    raw_agent: int = 0


def jid_to_str(jid: nz.JID, *, keep_device: bool = False) -> str:
    """whatsmeow's ``JID.String()``; without keep_device, the ``ToNonAD()`` form (chat and user ids).

    An empty JID (goneonize sends ``IsEmpty`` for the zero value) gives "".
    """
    if jid.IsEmpty or not (jid.User or jid.Server):
        return ""
    if not jid.User:
        return jid.Server
    if keep_device and jid.RawAgent > 0:
        return f"{jid.User}.{jid.RawAgent}:{jid.Device}@{jid.Server}"
    if keep_device and jid.Device > 0:
        return f"{jid.User}:{jid.Device}@{jid.Server}"
    return f"{jid.User}@{jid.Server}"


def parse_jid(value: str) -> JidParts:
    """Inverse of jid_to_str (whatsmeow's ParseJID); bare digits (an optional '+') mean a phone number.

    Raises ValueError on a value that cannot be a JID.
    """
    raw = value.strip()
    if not raw:
        raise ValueError("empty jid")
    if "@" not in raw:
        digits = raw.removeprefix("+")
        if not digits.isdigit():
            raise ValueError(f"not a jid or phone number: {raw[:60]!r}")
        return JidParts(digits, USER_SERVER)
    user, _, server = raw.rpartition("@")
    if not user or not server:
        raise ValueError(f"jid without user or server: {raw[:60]!r}")
    device = raw_agent = 0
    if ":" in user:
        user, _, device_part = user.partition(":")
        if not device_part.isdigit():
            raise ValueError(f"bad device in jid: {raw[:60]!r}")
        device = int(device_part)
    if "." in user and server in (USER_SERVER, LID_SERVER):
        user, _, agent_part = user.partition(".")
        if not agent_part.isdigit():
            raise ValueError(f"bad agent in jid: {raw[:60]!r}")
        raw_agent = int(agent_part)
    return JidParts(user, server, device, raw_agent)


# ---------------------------------------------------------------- helpers
def _seconds(timestamp: int) -> int:
    return timestamp // 1000 if timestamp >= _MILLIS_THRESHOLD else timestamp


def _enum_name(message: ProtoMessage, field_name: str) -> str | None:
    """The enum value's name, or None when the field is unset (proto2 keeps presence)."""
    if not message.HasField(field_name):
        return None
    field = message.DESCRIPTOR.fields_by_name[field_name]
    value = field.enum_type.values_by_number.get(getattr(message, field_name))
    return value.name if value is not None else str(getattr(message, field_name))


def _set_fields(message: ProtoMessage) -> set[str]:
    return {field.name for field, _ in message.ListFields()}


def _field(message: ProtoMessage, name: str) -> Any:
    return getattr(message, name)


def unwrap(message: WAMessage) -> WAMessage:
    """The innermost content message below ephemeral / view-once / device-sent wrappers."""
    for _ in range(8):  # wrappers nest a few levels at most; the bound guards a malformed loop
        for name in _WRAPPERS:
            if message.HasField(name) and _field(message, name).HasField("message"):
                message = _field(message, name).message
                break
        else:
            return message
    return message


def _media(content: WAMessage) -> tuple[MediaRef, str] | None:
    """(MediaRef, caption) of the first media payload; the handle is the message download_any needs."""
    for name, kind in _MEDIA_FIELDS:
        if not content.HasField(name):
            continue
        media = _field(content, name)
        mime = media.mimetype or None
        if name == "stickerMessage" and not mime:
            mime = "image/webp"
        file_name = None
        if name == "documentMessage":
            file_name = media.fileName or media.title or None
        size = media.fileLength if media.HasField("fileLength") else None
        caption = media.caption if "caption" in media.DESCRIPTOR.fields_by_name else ""
        return MediaRef(kind=kind, mime_type=mime, file_name=file_name, file_size=size, handle=content), caption
    return None


def _fallback_text(content: WAMessage) -> str | None:
    """A plain rendering of content kinds beyond text and media (kept in `text`); None if not one."""
    if content.HasField("extendedTextMessage"):
        return content.extendedTextMessage.text
    if content.HasField("reactionMessage"):
        return content.reactionMessage.text
    for name in ("locationMessage", "liveLocationMessage"):
        if content.HasField(name):
            location = _field(content, name)
            lines = [getattr(location, "name", ""), getattr(location, "address", "")]
            lines.append(f"geo:{location.degreesLatitude:.6f},{location.degreesLongitude:.6f}")
            caption = getattr(location, "caption", "") or getattr(location, "comment", "")
            lines.append(caption)
            return "\n".join(line for line in lines if line)
    if content.HasField("contactMessage"):
        return content.contactMessage.vcard or content.contactMessage.displayName
    if content.HasField("contactsArrayMessage"):
        cards = [c.vcard or c.displayName for c in content.contactsArrayMessage.contacts]
        return "\n".join(card for card in cards if card) or content.contactsArrayMessage.displayName
    for name in _POLL_FIELDS:
        if content.HasField(name):
            poll = _field(content, name)
            return "\n".join([poll.name, *(f"- {option.optionName}" for option in poll.options)])
    if content.HasField("buttonsResponseMessage"):
        return content.buttonsResponseMessage.selectedDisplayText
    if content.HasField("templateButtonReplyMessage"):
        return content.templateButtonReplyMessage.selectedDisplayText
    if content.HasField("listResponseMessage"):
        reply = content.listResponseMessage
        return reply.title or reply.singleSelectReply.selectedRowID
    if content.HasField("interactiveResponseMessage"):
        return content.interactiveResponseMessage.body.text
    return None


def _text_of(content: WAMessage) -> str:
    """What a message says as text: the text, the media caption, or the plain rendering."""
    if content.conversation:
        return content.conversation
    found = _media(content)
    if found is not None:
        return found[1]
    return _fallback_text(content) or ""


def _cut(text: str, limit: int = MAX_LABEL) -> str:
    return text[:limit]


def _bounded_vcard(vcard: str) -> str:
    """The vCard within the contract's limit: without its photo (most of a big card), else cut."""
    if len(vcard) <= MAX_VCARD:
        return vcard
    kept: list[str] = []
    skipping = False
    for line in vcard.splitlines():
        if line[:1] in (" ", "\t"):  # a folded continuation of the previous property
            if not skipping:
                kept.append(line)
            continue
        skipping = line.split(":", 1)[0].split(";", 1)[0].rsplit(".", 1)[-1].upper() == "PHOTO"
        if not skipping:
            kept.append(line)
    return "\n".join(kept)[:MAX_VCARD]


def _quote(content: WAMessage) -> Quoted | None:
    """The quoted message of a reply: contextInfo of the content field that carries one."""
    for field, value in content.ListFields():
        if field.name in _ANCILLARY or field.message_type is None:
            continue
        if "contextInfo" not in field.message_type.fields_by_name or not value.HasField("contextInfo"):
            continue
        context = value.contextInfo
        if not context.stanzaID or len(context.stanzaID) > MAX_ID:
            continue
        text = _text_of(unwrap(context.quotedMessage)) if context.HasField("quotedMessage") else ""
        sender = context.participant if len(context.participant) <= MAX_ID else ""
        return Quoted(wa_message_id=context.stanzaID, sender=sender or None,
                      body=_cut(text, MAX_QUOTED_TEXT) or None)
    return None


def _reaction(content: WAMessage, chat: str, sender: str) -> Reaction | None:
    key = content.reactionMessage.key
    if not key.ID or len(key.ID) > MAX_ID:
        return None
    is_group = chat.endswith("@g.us")
    participant = key.participant if len(key.participant) <= MAX_ID else ""
    if key.fromMe:  # the reactor reacted to their own message
        from_me: bool | None = False
        author: str | None = sender
    else:
        from_me = None if is_group else True
        author = participant or None
    return Reaction(wa_message_id=key.ID, emoji=_cut(content.reactionMessage.text, MAX_EMOJI), chat=chat,
                    from_me=from_me, sender=author)


def _location(content: WAMessage) -> Location | None:
    for name in ("locationMessage", "liveLocationMessage"):
        if content.HasField(name):
            found = _field(content, name)
            latitude, longitude = found.degreesLatitude, found.degreesLongitude
            if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):  # NaN fails too
                return None
            return Location(latitude=latitude, longitude=longitude,
                            name=_cut(getattr(found, "name", "")) or None,
                            address=_cut(getattr(found, "address", "")) or None)
    return None


def _contact(content: WAMessage) -> SharedContact | None:
    if content.HasField("contactMessage"):
        card = content.contactMessage
        return SharedContact(display_name=_cut(card.displayName), vcard=_bounded_vcard(card.vcard))
    if content.HasField("contactsArrayMessage") and content.contactsArrayMessage.contacts:
        cards = content.contactsArrayMessage.contacts
        return SharedContact(display_name=_cut(cards[0].displayName), vcard=_bounded_vcard(cards[0].vcard),
                             count=min(len(cards), 1_000))
    return None


def _poll(content: WAMessage) -> Poll | None:
    for name in _POLL_FIELDS:
        if content.HasField(name):
            poll = _field(content, name)
            selectable = poll.selectableOptionsCount if poll.HasField("selectableOptionsCount") else None
            return Poll(
                name=_cut(poll.name),
                options=tuple(_cut(option.optionName) for option in poll.options[:MAX_POLL_OPTIONS]),
                selectable_count=None if selectable is None else min(selectable, MAX_POLL_OPTIONS),
            )
    return None


def _option_hash(name: str) -> str:
    """whatsmeow's HashPollOptions: SHA-256 of the option's name, as a vote names it (lowercase hex)."""
    return hashlib.sha256(name.encode()).hexdigest()


def poll_options_by_hash(names: Iterable[str]) -> dict[str, str]:
    """{hash of each option's full name: the name cut to the contract}, as PollOptionsCache keeps a poll.

    The hash is of the name as sent, so a name longer than MAX_LABEL still resolves (to its cut form).
    """
    return {_option_hash(name): _cut(name) for name in list(names)[:MAX_POLL_OPTIONS]}


def poll_option_names(event: nz.Message) -> tuple[str, dict[str, str]] | None:
    """(poll message id, poll_options_by_hash of its options) of a poll creation, ours or not; None for
    any other message."""
    ident = event.Info.ID
    if not ident or len(ident) > MAX_ID:
        return None
    content = unwrap(event.Message)
    for name in _POLL_FIELDS:
        if content.HasField(name):
            return ident, poll_options_by_hash(option.optionName for option in _field(content, name).options)
    return None


def vote_to_decrypt(event: nz.Message) -> str | None:
    """The poll id a vote names, when the vote is worth decrypting: someone else's ``pollUpdateMessage``
    in a chat (our own votes and statuses are never delivered), naming a poll by a usable id; else None."""
    info = event.Info
    if info.MessageSource.IsFromMe or event.IsEdit or info.Edit:
        return None
    if jid_to_str(info.MessageSource.Chat) == STATUS_BROADCAST:
        return None
    content = unwrap(event.Message)
    if not content.HasField(_POLL_VOTE):
        return None
    poll_id = content.pollUpdateMessage.pollCreationMessageKey.ID
    return poll_id if poll_id and len(poll_id) <= MAX_ID else None


def map_poll_vote(event: nz.Message, selected: Iterable[bytes], known: Mapping[str, str] | None) -> IncomingMessage:
    """A decrypted vote (whatsmeow's ``PollVoteMessage.selectedOptions``) as kind poll_choice.

    `known`: {option hash: name} of the poll when the session saw it (PollOptionsCache). Every chosen hash
    is reported; names only for those `known` resolves. Text: the resolved names joined by ", " ("" when
    the vote was removed or the poll is unknown). An event that is no vote to report stays protocol.
    """
    base = map_message(event)
    poll_id = vote_to_decrypt(event)
    if poll_id is None:
        return base
    # Hashes of another length name no option; repeats add nothing. Bounded to the contract.
    hashes = tuple(dict.fromkeys(h.hex() for h in selected if len(h) == _OPTION_HASH_BYTES))[:MAX_POLL_OPTIONS]
    names = tuple(known[h] for h in hashes if h in known) if known else ()
    return dataclasses.replace(
        base,
        kind="poll_choice",
        text=", ".join(names),
        is_protocol=False,
        poll_vote=PollVote(poll_message_id=poll_id, option_hashes=hashes, options=names),
    )


class PollOptionsCache:
    """Option names of the polls a session saw, by poll message id ({option hash: name}), to name votes.

    Bounded in polls and in characters (a session sees polls for as long as it runs): the least recently
    seen or voted-on poll leaves first. Thread-safe: Go's callbacks of a restarted client may overlap.
    """

    def __init__(self, max_polls: int = POLL_CACHE_POLLS, max_chars: int = POLL_CACHE_CHARS) -> None:
        self._max_polls = max_polls
        self._max_chars = max_chars
        self._chars = 0
        self._polls: OrderedDict[str, tuple[dict[str, str], int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._polls)

    def remember(self, poll_id: str, options: dict[str, str]) -> None:
        size = sum(len(name) for name in options.values()) + len(poll_id)
        with self._lock:
            previous = self._polls.pop(poll_id, None)
            if previous is not None:
                self._chars -= previous[1]
            self._polls[poll_id] = (dict(options), size)
            self._chars += size
            while self._polls and (len(self._polls) > self._max_polls or self._chars > self._max_chars):
                _, (_, dropped) = self._polls.popitem(last=False)
                self._chars -= dropped

    def options(self, poll_id: str) -> dict[str, str] | None:
        with self._lock:
            found = self._polls.get(poll_id)
            if found is None:
                return None
            self._polls.move_to_end(poll_id)  # a poll being voted on stays
            return found[0]


def _native_flow_id(params_json: str) -> str | None:
    """The `id` a native-flow button or list reply carries in its paramsJSON, when it has one."""
    try:
        params = json.loads(params_json) if params_json else None
    except ValueError:
        return None
    value = params.get("id") if isinstance(params, dict) else None
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def _selection(content: WAMessage) -> tuple[MessageKind, Selection] | None:
    def make(kind: MessageKind, ident: str | None, text: str | None) -> tuple[MessageKind, Selection]:
        return kind, Selection(id=_cut(ident) if ident else None, text=_cut(text) if text else None)

    if content.HasField("buttonsResponseMessage"):
        reply = content.buttonsResponseMessage
        return make("buttons_response", reply.selectedButtonID, reply.selectedDisplayText)
    if content.HasField("templateButtonReplyMessage"):
        reply = content.templateButtonReplyMessage
        return make("buttons_response", reply.selectedID, reply.selectedDisplayText)
    if content.HasField("listResponseMessage"):
        reply = content.listResponseMessage
        return make("list_response", reply.singleSelectReply.selectedRowID, reply.title)
    if content.HasField("interactiveResponseMessage"):
        reply = content.interactiveResponseMessage
        flow = reply.nativeFlowResponseMessage
        kind: MessageKind = "list_response" if flow.name == "single_select" else "buttons_response"
        return make(kind, _native_flow_id(flow.paramsJSON), reply.body.text)
    return None


def _typed(content: WAMessage, chat: str, sender: str) -> dict[str, Any] | None:
    """The kind and typed object of a location, contact, reaction, poll or button/list reply; None otherwise."""
    if content.HasField("reactionMessage"):
        reaction = _reaction(content, chat, sender)
        return {"kind": "reaction", "reaction": reaction} if reaction is not None else None
    location = _location(content)
    if location is not None:
        return {"kind": "location", "location": location}
    contact = _contact(content)
    if contact is not None:
        return {"kind": "contact", "contact": contact}
    poll = _poll(content)
    if poll is not None:
        return {"kind": "poll", "poll": poll}
    selection = _selection(content)
    if selection is not None:
        return {"kind": selection[0], "selection": selection[1]}
    return None


def _is_protocol(content: WAMessage, edit_attribute: str) -> bool:
    if edit_attribute:  # edit, pin or revoke of another message (whatsmeow's EditAttribute)
        return True
    fields = _set_fields(content) - _ANCILLARY
    return not fields or fields <= _PROTOCOL_ONLY


# ---------------------------------------------------------------- events
def map_message(event: nz.Message) -> IncomingMessage:
    info = event.Info
    source = info.MessageSource
    chat = jid_to_str(source.Chat)
    sender = jid_to_str(source.Sender) or chat
    sender_pn = None
    if source.Sender.Server == LID_SERVER and source.SenderAlt.Server == USER_SERVER:
        sender_pn = jid_to_str(source.SenderAlt) or None

    content = unwrap(event.Message)
    text = content.conversation
    media = None
    typed: dict[str, Any] = {}
    found = _media(content)
    if found is not None:
        media, caption = found
        text = text or caption
        typed["kind"] = media.kind
    else:
        text = text or _fallback_text(content) or ""
        typed = _typed(content, chat, sender) or {}
    # A reaction without a usable key names no message: nothing to report.
    broken_reaction = content.HasField("reactionMessage") and typed.get("kind") != "reaction" and media is None

    return IncomingMessage(
        wa_message_id=info.ID,
        chat_jid=chat,
        sender_jid=sender,
        from_me=source.IsFromMe,
        timestamp=_seconds(info.Timestamp),
        text=text,
        sender_pn=sender_pn,
        push_name=info.Pushname or None,
        media=media,
        is_protocol=chat == STATUS_BROADCAST or event.IsEdit or broken_reaction or _is_protocol(content, info.Edit),
        is_history=False,
        quoted=_quote(content),
        **typed,
    )


def map_receipt(event: nz.Receipt) -> ReceiptReceived | None:
    """None for a receipt without message ids (nothing to update)."""
    ids = tuple(event.MessageIDs)
    if not ids:
        return None
    name = _enum_name(event, "Type")
    kind = _RECEIPT_TYPE_UNSET if name is None else _RECEIPT_KINDS.get(name, name.lower())
    return ReceiptReceived(wa_message_ids=ids, chat_jid=jid_to_str(event.MessageSource.Chat), kind=kind)


def _reason_label(name: str | None) -> str:
    if name is None:
        return "unknown reason"
    code = _REASON_CODES.get(name)
    return f"{name.lower()} ({code})" if code else name.lower()


def map_logged_out(event: nz.LoggedOut) -> LoggedOut:
    label = _reason_label(_enum_name(event, "Reason"))
    return LoggedOut(reason=f"{label} on connect" if event.OnConnect else label)


def map_stream_replaced(_event: nz.StreamReplaced) -> StreamReplaced:
    return StreamReplaced()


def map_connected(me: nz.Device | None) -> Connected:
    """Connected for the account in ``client.get_me()`` (the session fetches it; the mapping stays pure)."""
    if me is None:
        return Connected(jid="")
    return Connected(jid=jid_to_str(me.JID), push_name=me.PushName or None)


def map_disconnected(_event: nz.Disconnected) -> Disconnected:
    # goneonize sends no reason; whatsmeow reconnects by itself after this event.
    return Disconnected(reason="socket closed")


def map_stream_error(event: nz.StreamError) -> Disconnected:
    return Disconnected(reason=f"stream error {event.Code}".strip())


def map_temporary_ban(event: nz.TemporaryBan) -> ConnectFailed:
    code = _enum_name(event, "Code") or "unknown"
    return ConnectFailed(reason=f"temporary ban: {code.lower()}, expires in {event.Expire}s", permanent=True)


def map_client_outdated(_event: nz.ClientOutdated) -> ConnectFailed:
    return ConnectFailed(reason="client outdated (405): update neonize/whatsmeow", permanent=True)


def map_connect_failure(event: nz.ConnectFailure) -> ConnectFailed | LoggedOut:
    """whatsmeow emits LoggedOut / TemporaryBan / ClientOutdated for those codes itself; the
    same codes seen here are mapped the same way in case a version routes them differently."""
    name = _enum_name(event, "Reason")
    label = _reason_label(name)
    detail = f"{label}: {event.Message}" if event.Message else label
    if name in _LOGGED_OUT_REASONS:
        return LoggedOut(reason=detail)
    return ConnectFailed(reason=f"connect failure {detail}", permanent=name in _PERMANENT_REASONS)


def map_undecryptable(event: nz.UndecryptableMessage) -> Undecryptable:
    return Undecryptable(wa_message_id=event.Info.ID, chat_jid=jid_to_str(event.Info.MessageSource.Chat))


def map_pair_status(event: nz.PairStatus) -> ConnectFailed | None:
    """Success needs no event (Connected follows); a pairing error is a retryable failure."""
    if _enum_name(event, "Status") == "ERROR":
        return ConnectFailed(reason=f"pairing failed: {event.Error or 'unknown error'}", permanent=False)
    return None


def map_qr(code: bytes | str) -> QrShown:
    return QrShown(code=code.decode() if isinstance(code, bytes) else code)


# whatsmeow's QR-channel outcomes (whatsmeow.QRChannel*), reported by neonize's login-status callback.
_LOGIN_FAILURES = {
    "timeout": ConnectFailed(reason="pairing timed out: no QR was scanned", permanent=False),
    "err-client-outdated": ConnectFailed(reason="client outdated (405): update neonize/whatsmeow", permanent=True),
    "err-scanned-without-multidevice": ConnectFailed(
        reason="pairing failed: QR scanned by a phone without multi-device", permanent=False
    ),
    "err-unexpected-state": ConnectFailed(reason="pairing failed: unexpected state", permanent=False),
}


def map_login_status(status: bytes | str) -> ConnectFailed | None:
    text = status.decode(errors="replace") if isinstance(status, bytes) else status
    if text in ("success", "code", ""):
        return None
    return _LOGIN_FAILURES.get(text, ConnectFailed(reason=f"pairing failed: {text}", permanent=False))


_BY_TYPE = {
    "neonize.Message": map_message,
    "neonize.Receipt": map_receipt,
    "neonize.LoggedOut": map_logged_out,
    "neonize.StreamReplaced": map_stream_replaced,
    "neonize.Disconnected": map_disconnected,
    "neonize.StreamError": map_stream_error,
    "neonize.TemporaryBan": map_temporary_ban,
    "neonize.ClientOutdated": map_client_outdated,
    "neonize.ConnectFailure": map_connect_failure,
    "neonize.UndecryptableMessage": map_undecryptable,
    "neonize.PairStatus": map_pair_status,
}
MAPPED_EVENT_TYPES = frozenset(name.removeprefix("neonize.") for name in _BY_TYPE)


def map_event(event: ProtoMessage) -> TransportEvent | None:
    """Any event above by its protobuf type; None for events with no port counterpart.

    ``Connected`` is absent on purpose: it needs ``client.get_me()``, see ``map_connected``.
    """
    mapper = _BY_TYPE.get(event.DESCRIPTOR.full_name)
    return mapper(event) if mapper is not None else None  # type: ignore[operator]
