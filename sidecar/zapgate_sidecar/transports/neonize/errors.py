"""What whatsmeow's and neonize's error texts mean for the port: unreachable network, logged out, banned,
or a plain failure of one command (a bad request, a server refusal).

neonize reports Go errors as text only (``NeonizeError`` and friends carry the Go error's message), so the
classification reads the text:

* Without a route (DNS failure, refused connection) ``connect()`` raises ``NeonizeError("failed to dial
  whatsapp web websocket: ...")`` within ~30 ms and emits no event at all: that becomes
  ``ConnectFailed("whatsapp unreachable: ...")``, never permanent (only the server says that).
* goneonize's event loop *returns* when it cannot marshal an event (a proto2 required field left unset:
  whatsmeow's server-error receipts, failure codes it does not know), and ``connect()`` raises Go's
  ``proto.Marshal`` error: the event it could not encode is named in the text.
* A command's error is ``NetworkUnreachable`` when the text says the socket or the network is down (the
  runtime retries those later), else a ``TransportError`` (the message fails).
"""

from __future__ import annotations

import re

from zapgate_sidecar.transport import (
    ConnectFailed,
    Disconnected,
    LoggedOut,
    NetworkUnreachable,
    TransportError,
    TransportEvent,
)

_MAX_REASON = 300
# Substrings of Go error texts that mean "the network / WhatsApp is not reachable".
_NETWORK_HINTS = (
    "dial",
    "no such host",
    "connection refused",
    "connection reset",
    "network is unreachable",
    "no route to host",
    "i/o timeout",
    "tls handshake",
    "websocket not connected",
    "not connected",
    "broken pipe",
    "unexpected eof",
    "context deadline exceeded",
)
_DETAIL_START = re.compile(r"(dial tcp|socks connect|lookup |tls: |read tcp|write tcp)")


def short_reason(text: str) -> str:
    """An error text on one line, cut to what a status reason holds."""
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


def _network_detail(text: str) -> str:
    """The informative tail of a Go error chain ("dial tcp: lookup web.whatsapp.com ...: no such host")."""
    match = _DETAIL_START.search(text)
    return short_reason(text[match.start() :] if match else text)


def is_network_error(text: str) -> bool:
    lowered = text.lower()
    return any(hint in lowered for hint in _NETWORK_HINTS)


def _unencodable_event(text: str) -> TransportEvent:
    """goneonize's event loop died marshalling an event with an unset required field."""
    detail = short_reason(text)
    if "neonize.LoggedOut" in text:
        return LoggedOut(reason=f"logged out (reason not encodable by neonize: {detail})")
    if "neonize.TemporaryBan" in text:
        return ConnectFailed(reason=f"temporary ban (code not encodable by neonize: {detail})", permanent=True)
    if "neonize.ConnectFailure" in text:
        return ConnectFailed(reason=f"connect failure (reason not encodable by neonize: {detail})")
    return Disconnected(reason=f"neonize event loop died: {detail}")


def connect_error_event(text: str) -> TransportEvent:
    """The event for a NeonizeError raised by connect().

    Before the socket is up that is a dial/store failure (never permanent: only the server
    says that). Afterwards it is goneonize's event loop ending on an event it cannot marshal.
    """
    if "required field" in text:
        return _unencodable_event(text)
    if is_network_error(text):
        return ConnectFailed(reason=f"whatsapp unreachable: {_network_detail(text)}", permanent=False)
    return ConnectFailed(reason=f"connect failed: {short_reason(text)}", permanent=False)


def command_error(action: str, exc: BaseException) -> TransportError:
    text = str(exc) or type(exc).__name__
    if is_network_error(text):
        return NetworkUnreachable(f"{action}: whatsapp unreachable: {_network_detail(text)}")
    return TransportError(f"{action}: {short_reason(text)}")
