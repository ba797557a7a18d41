"""Requests about messages over neonize: edit, delete for everyone, mark read, and this account's presence.

Each ``<op>_on(client, args)`` runs inside the session's request fence (session_requests): several of these
calls abort the Go process on a client Go no longer holds (``get_me`` after a stop, session_core), so
they are never made outside it.

* Edits and revocations are messages (whatsmeow ``SendMessage``) whose protocol message names the target by
  its key; whatsmeow reads the key to set the stanza's ``edit`` attribute (sender / admin revoke, edit).
  neonize's ``build_revoke`` is not used: it asks ``get_me`` for the own JID and compares phone users only, so
  a message sent under our LID would be revoked as an admin's; the key is built here instead, as whatsmeow's
  ``BuildMessageKey`` does.
* whatsmeow does not enforce the edit window and the server accepts late edits silently, so an edit whose
  ``sent_at`` is older than EDIT_WINDOW_S is refused here (``expired``) before anything is sent.
* A read receipt names one sender in groups: one ``MarkRead`` per sender. Receipts are stanzas WhatsApp
  never answers (success = it left this device); when this account hides read receipts, whatsmeow sends
  ``read-self`` instead, which marks them read on our other devices only.
* Own presence needs the account's push name (whatsmeow ``ErrNoPushName``), which arrives with the app state
  after login; before that it fails (``failed``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from zapgate_core.contract.request_ops.messages import (
    EDIT_WINDOW_S,
    EditMessageArgs,
    EditMessageResult,
    MarkReadArgs,
    MarkReadResult,
    OwnPresenceArgs,
    ReadMessage,
    RevokeMessageArgs,
    RevokeMessageResult,
)
from zapgate_core.contract.request_ops.outcomes import Done
from zapgate_core.domain.jids import GROUP_SERVER, InvalidJid, JidParts, parse_jid
from zapgate_sidecar.transport import Refused, TransportError
from zapgate_sidecar.transports.neonize.jids import jid_to_str
from zapgate_sidecar.transports.neonize.loading import load_neonize
from zapgate_sidecar.transports.neonize.request_errors import jid_arg, request_error

if TYPE_CHECKING:
    from neonize.client import NewClient
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message


# ---------------------------------------------------------------- edit
def check_edit_window(args: EditMessageArgs, now: float | None = None) -> None:
    """Refuse an edit past WhatsApp's window when the caller said when the message was sent (unknown: try)."""
    if args.sent_at is None:
        return
    age = (time.time() if now is None else now) - args.sent_at
    if age > EDIT_WINDOW_S:
        raise Refused(f"edit message: sent {int(age)} s ago, past WhatsApp's {EDIT_WINDOW_S} s edit window",
                      "expired")


def build_edit_message(chat: str, message_id: str, text: str) -> Message:
    """whatsmeow's BuildEdit (neonize's build_edit is the same protobuf): a MESSAGE_EDIT protocol message keyed
    by our message (fromMe), wrapped in editedMessage, the new text as a plain conversation."""
    load_neonize()
    from neonize.builder import build_edit
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

    return build_edit(jid_arg("edit message", chat), message_id, Message(conversation=text))


def edit_message_on(client: NewClient, args: EditMessageArgs) -> EditMessageResult:
    check_edit_window(args)  # perform() checked it before the fence too; the clock moved since
    chat = jid_arg("edit message", args.chat)
    message = build_edit_message(args.chat, args.message_id, args.text)
    try:
        response = client.send_message(chat, message)
    except Exception as exc:
        raise request_error("edit message", exc) from exc
    if not response.ID:
        raise TransportError("edit message: no message id in the server's answer")
    return EditMessageResult(edit_id=response.ID)


# ---------------------------------------------------------------- revoke
def build_revoke_message(chat: str, message_id: str, sender: str | None, own_users: Iterable[str] = ()) -> Message:
    """A REVOKE protocol message for `message_id` in `chat`: ours (no sender, or a sender whose user is one of
    `own_users`, our phone number and LID) is a sender revoke; someone else's is an admin revoke, possible in
    groups only, and names its author as the key's participant."""
    load_neonize()
    from neonize.proto.waCommon.WACommon_pb2 import MessageKey
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message, ProtocolMessage

    chat_parts = _parts("revoke message", chat)
    author = _parts("revoke message", sender) if sender else None
    from_me = author is None or author.user in set(own_users)
    key = MessageKey(remoteJID=chat_parts.to_str(), fromMe=from_me, ID=message_id)
    if not from_me and author is not None:
        if chat_parts.server != GROUP_SERVER:
            # WhatsApp lets only the sender delete for everyone in a direct chat; whatsmeow would send an
            # admin revoke the server drops.
            raise Refused("revoke message: only its sender can delete a message in a direct chat", "forbidden")
        key.participant = author.to_str()
    return Message(protocolMessage=ProtocolMessage(type=ProtocolMessage.REVOKE, key=key))


def _parts(action: str, value: str) -> JidParts:
    try:
        return parse_jid(value)
    except InvalidJid as exc:
        raise Refused(f"{action}: invalid jid: {exc}") from exc


def own_users(client: NewClient) -> set[str]:
    """This account's phone-number and LID users (whatsmeow's device store). Only in the fence: GetMe aborts
    the process on a client Go no longer holds (after a stop, session_core)."""
    try:
        me = client.get_me()
    except Exception:  # then a sender is taken as someone else; ours arrive with sender null anyway
        return set()
    return {jid.User for jid in (me.JID, me.LID) if jid_to_str(jid)}


def revoke_message_on(client: NewClient, args: RevokeMessageArgs) -> RevokeMessageResult:
    chat = jid_arg("revoke message", args.chat)
    mine = own_users(client) if args.sender else set()
    message = build_revoke_message(args.chat, args.message_id, args.sender, mine)
    try:
        response = client.send_message(chat, message)
    except Exception as exc:
        raise request_error("revoke message", exc) from exc
    if not response.ID:
        raise TransportError("revoke message: no message id in the server's answer")
    return RevokeMessageResult(revoke_id=response.ID)


# ---------------------------------------------------------------- mark read
def read_batches(chat: str, messages: list[ReadMessage]) -> list[tuple[str | None, list[str]]]:
    """The MarkRead calls for `messages`: (sender, ids), one per sender in first-seen order. In a direct chat
    the sender is left out (whatsmeow names no participant there), so it is one call; in a group every message
    must name its sender, which the receipt names."""
    is_group = _parts("mark read", chat).server == GROUP_SERVER
    batches: dict[str | None, list[str]] = {}
    for message in messages:
        if not message.id or any(char.isspace() for char in message.id):
            # goneonize passes the ids to Go joined by spaces and splits them there
            raise Refused(f"mark read: not a message id: {message.id[:40]!r}")
        if is_group and not message.sender:
            raise Refused(f"mark read: message {message.id} in a group needs its sender")
        sender = message.sender if is_group else None
        ids = batches.setdefault(sender, [])
        if message.id not in ids:
            ids.append(message.id)
    return list(batches.items())


def mark_read_on(client: NewClient, args: MarkReadArgs) -> MarkReadResult:
    load_neonize()
    from neonize.proto.Neonize_pb2 import JID
    from neonize.utils.enum import ReceiptType

    chat = jid_arg("mark read", args.chat)
    batches = read_batches(args.chat, args.messages)
    no_sender = JID(User="", Server="", Device=0, RawAgent=0, Integrator=0, IsEmpty=True)
    senders = {sender: jid_arg("mark read", sender) for sender, _ in batches if sender}
    marked = 0
    for sender, ids in batches:
        try:
            client.mark_read(*ids, chat=chat, sender=senders[sender] if sender else no_sender,
                             receipt=ReceiptType.READ, timestamp=int(time.time()))
        except Exception as exc:
            # Receipts already sent stay sent (marking read again is harmless): the error says how far it got.
            raise request_error(f"mark read ({marked} of {sum(len(i) for _, i in batches)} marked)", exc) from exc
        marked += len(ids)
    return MarkReadResult(marked=marked)


# ---------------------------------------------------------------- own presence
def own_presence_on(client: NewClient, args: OwnPresenceArgs) -> Done:
    load_neonize()
    from neonize.utils.enum import Presence

    presence = Presence.AVAILABLE if args.state == "available" else Presence.UNAVAILABLE
    try:
        client.send_presence(presence)
    except Exception as exc:
        raise request_error("own presence", exc) from exc
    return Done()
