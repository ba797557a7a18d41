"""Pure mapping from neonize's protobuf events to the transport port's events.

Nothing here needs a client or the Go library: every function takes protobuf messages (or
plain values) and returns port events, so the mapping is tested with real neonize messages
and no network. This module never imports neonize at runtime: importing any neonize module
loads the Go shared library (~0.4-0.5 s, see loading.py), and enum names are read from the
messages' own descriptors instead. What a message carries is read by inbound_content.py; poll
votes, which the session decrypts first, are mapped by poll_votes.py.

Facts about goneonize's encoder (goneonize/utils/encoder.go, neonize 0.5.2) that shape it:

* ``MessageInfo.Timestamp`` is milliseconds (``Timestamp.UnixMilli()``); every other
  timestamp neonize sends is seconds. ``_seconds`` accepts both, so a future fix is harmless.
* ``Receipt.Type``: ``ReceiptTypePlayedSelf`` is encoded as ``SERVER_ERROR``, and whatsmeow's
  real ``server-error`` receipt is not mapped at all, leaving ``Type`` unset.
* Neonize.proto is proto2 with ``required`` fields (``Receipt.Type``, ``LoggedOut.Reason``,
  ``ConnectFailure.Reason``, ``TemporaryBan.Code``...). When the encoder leaves one unset
  (server-error receipts, failure codes it does not know such as 413-418), Go's
  ``proto.Marshal`` fails and goneonize's event loop *returns that error*: no further event
  reaches Python and ``connect()`` raises it. The session handles that (errors.py); here, an unset
  field is still read defensively (proto2 would otherwise report the enum's first value).
* ``Disconnected`` carries no reason.

Decisions (the port leaves them to the adapter):

* Statuses (``status@broadcast``) are ``is_protocol``: they are not a chat.
* ``is_history`` is always False for ``Message`` events: whatsmeow delivers history sync
  as a separate ``HistorySync`` blob (not subscribed), and the offline backlog replayed on
  connect arrives as ordinary, live ``Message`` events that must not be dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zapgate_core.domain.jids import LID_SERVER, USER_SERVER
from zapgate_sidecar.transport import (
    Connected,
    ConnectFailed,
    Disconnected,
    IncomingMessage,
    LoggedOut,
    QrShown,
    ReceiptReceived,
    StreamReplaced,
    TransportEvent,
    Undecryptable,
)
from zapgate_sidecar.transports.neonize.inbound_content import (
    fallback_text,
    is_protocol,
    media_of,
    quote_of,
    typed_object,
    unwrap,
)
from zapgate_sidecar.transports.neonize.jids import jid_to_str

if TYPE_CHECKING:
    from google.protobuf.message import Message as ProtoMessage
    from neonize.proto import Neonize_pb2 as nz

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

_MILLIS_THRESHOLD = 100_000_000_000  # 1973 in ms, year 5138 in s: the units cannot be confused


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
    found = media_of(content)
    if found is not None:
        media, caption = found
        text = text or caption
        typed["kind"] = media.kind
    else:
        text = text or fallback_text(content) or ""
        typed = typed_object(content, chat, sender) or {}
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
        is_protocol=chat == STATUS_BROADCAST or event.IsEdit or broken_reaction or is_protocol(content, info.Edit),
        is_history=False,
        quoted=quote_of(content),
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
    return mapper(event) if mapper is not None else None
