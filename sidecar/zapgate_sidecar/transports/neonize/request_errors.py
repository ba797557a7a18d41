"""What a neonize failure on a request to the phone means for the port, and JID arguments as Go wants them.

neonize raises ``NeonizeError`` subclasses whose text is Go's error text (some carry bytes, or the answer's
protobuf with ``.Error``); there is no code to read, so the classification reads the text:

* not connected, not logged in, no registered client, or the server did not answer in time: the device
  cannot talk to WhatsApp now -> ``NetworkUnreachable`` (try later);
* whatsmeow's IQ errors keep WhatsApp's code (``info query returned status <code>: <text>``) -> ``Refused``
  with the code's kind;
* a few whatsmeow calls replace the IQ error by a sentence of their own (``wrapIQError``: group info and
  invite links, see whatsmeow errors.go); those sentences are matched as they are written there;
* anything else -> a plain ``TransportError`` (the request fails, ``failed``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zapgate_sidecar.transport import NetworkUnreachable, RefusalKind, Refused, TransportError
from zapgate_sidecar.transports.neonize.errors import is_network_error, short_reason
from zapgate_sidecar.transports.neonize.jids import jid_proto

if TYPE_CHECKING:
    from neonize.proto.Neonize_pb2 import JID

# Go error texts that mean this device cannot talk to WhatsApp now: no socket, no registered client, not
# logged in ("the store doesn't contain a device JID"), or the server did not answer in time.
_UNREACHABLE_HINTS = ("client is nil", "device jid", "disconnected", "timed out", "not logged in")
# whatsmeow's IQ error texts keep the code: `info query returned status <code>: <text>`.
_IQ_STATUS = "info query returned status "
_REFUSALS: dict[str, RefusalKind] = {
    "400": "bad_request", "406": "bad_request",
    "404": "not_found",
    "401": "forbidden", "403": "forbidden", "405": "forbidden",  # 405 not-allowed: this account may not
}
# whatsmeow's own sentences in place of an IQ error (errors.go, wrapIQError), and WhatsApp's "not an admin"
# texts: matched lowercase, anywhere in the text (callers wrap them, e.g. SetGroupTopic's
# "failed to get old group info to update topic: <this>").
_SENTENCES: tuple[tuple[str, RefusalKind], ...] = (
    ("that group does not exist", "not_found"),  # 404 on a group
    ("you're not participating in that group", "forbidden"),  # 403 on a group
    ("you don't have the permission to get the group's invite link", "forbidden"),  # 401 on an invite link
    ("that group invite link has been revoked", "not_found"),  # 410 gone
    ("that group invite link is not valid", "bad_request"),  # 406 not-acceptable
    ("not-admin", "forbidden"),
    ("not an admin", "forbidden"),
    ("not admin", "forbidden"),
)


# whatsmeow's texts for "sent, and no answer came": the IQ or the message send timed out, or the socket closed
# while waiting (DisconnectedError: "websocket disconnected before <action> returned response").
_SENT_WITHOUT_ANSWER = ("info query timed out", "timed out waiting for message send response", "returned response")


def sent_without_answer(text: str) -> bool:
    """Whether a failure's text says the request left this device and WhatsApp's answer never came."""
    lowered = text.lower()
    return any(hint in lowered for hint in _SENT_WITHOUT_ANSWER)


def error_text(exc: BaseException) -> str:
    """Go's error text; a few neonize exceptions carry bytes or a protobuf with `.Error` instead of a str."""
    text: Any = exc.args[0] if exc.args else ""
    if hasattr(text, "Error"):
        text = text.Error
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return str(text) or type(exc).__name__


def request_error(action: str, exc: BaseException) -> TransportError:
    """A neonize failure as the port says it: NetworkUnreachable, Refused(kind) or a plain TransportError."""
    text = error_text(exc)
    lowered = text.lower()
    if is_network_error(text) or any(hint in lowered for hint in _UNREACHABLE_HINTS):
        return NetworkUnreachable(f"{action}: whatsapp unreachable: {short_reason(text)}")
    if _IQ_STATUS in lowered:
        code = lowered.split(_IQ_STATUS, 1)[1][:3]
        if code in _REFUSALS:
            return Refused(f"{action}: {short_reason(text)}", _REFUSALS[code])
    for sentence, kind in _SENTENCES:
        if sentence in lowered:
            return Refused(f"{action}: {short_reason(text)}", kind)
    return TransportError(f"{action}: {short_reason(text)}")


def jid_arg(action: str, value: str) -> JID:
    """A JID argument as Go takes it; one that does not parse is refused before asking WhatsApp."""
    try:
        return jid_proto(value)
    except TransportError as exc:
        raise Refused(f"{action}: {exc}") from exc
