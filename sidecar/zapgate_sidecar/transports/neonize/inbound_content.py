"""What a WhatsApp message carries, read from its protobuf: text, media, a quote, or one typed object.

Pure: every function takes protobuf messages (or plain values) and returns port values, and never imports
neonize at runtime (importing any neonize module loads the Go library). Decisions (the port leaves them to
the adapter):

* Stickers are delivered as ``image`` media (``image/webp``): the inbound contract has no
  sticker kind and dropping them would lose a user's message. Video notes (``ptvMessage``)
  are ``video``.
* Edits, revokes, pins, key distribution and other protocol-only payloads are
  ``is_protocol``: the inbound contract delivers new messages only.
* Reactions are a user's action worth an event: kind ``reaction`` with the reacted-to message's
  id and the emoji ("" = the reaction was removed). The key is the reactor's (whatsmeow's
  BuildMessageKey): its ``fromMe`` means "the reactor's own message", its ``remoteJID`` in a
  direct chat is the reactor's view of the chat (our own JID), so the chat is the event's and
  ``from_me`` (ours) is inferred: False when the reactor reacted to their own message, True in
  a direct chat otherwise, unknown (None) in groups (the pure mapping does not know our JID).
* Locations, contact cards, polls and button/list replies get their kind and a small typed
  object (bounded to the worker-proxy contract's limits) and keep a plain text rendering
  (``fallback_text``) in ``text`` for consumers that only read text. Any other content kind
  is delivered with empty text and no media; the sidecar's ``has_content`` check decides.
* A reply carries its quote (``contextInfo.stanzaID`` and the quoted message's text, cut) from
  whichever content field holds the ``contextInfo``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from zapgate_core.contract.common import MAX_EMOJI, MAX_ID, MAX_LABEL, MAX_POLL_OPTIONS, MAX_QUOTED_TEXT, MAX_VCARD
from zapgate_core.domain.jids import chat_type_of
from zapgate_sidecar.transport import (
    Location,
    MediaKind,
    MediaRef,
    MessageKind,
    Poll,
    Quoted,
    Reaction,
    Selection,
    SharedContact,
)

if TYPE_CHECKING:
    from google.protobuf.message import Message as ProtoMessage
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

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
POLL_FIELDS = (
    "pollCreationMessage",
    "pollCreationMessageV2",
    "pollCreationMessageV3",
    "pollCreationMessageV5",
    "pollCreationMessageV6",
)


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


def media_of(content: WAMessage) -> tuple[MediaRef, str] | None:
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


def fallback_text(content: WAMessage) -> str | None:
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
    for name in POLL_FIELDS:
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
    found = media_of(content)
    if found is not None:
        return found[1]
    return fallback_text(content) or ""


def cut(text: str, limit: int = MAX_LABEL) -> str:
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


def quote_of(content: WAMessage) -> Quoted | None:
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
                      body=cut(text, MAX_QUOTED_TEXT) or None)
    return None


def _reaction(content: WAMessage, chat: str, sender: str) -> Reaction | None:
    key = content.reactionMessage.key
    if not key.ID or len(key.ID) > MAX_ID:
        return None
    is_group = chat_type_of(chat) == "group"
    participant = key.participant if len(key.participant) <= MAX_ID else ""
    if key.fromMe:  # the reactor reacted to their own message
        from_me: bool | None = False
        author: str | None = sender
    else:
        from_me = None if is_group else True
        author = participant or None
    return Reaction(wa_message_id=key.ID, emoji=cut(content.reactionMessage.text, MAX_EMOJI), chat=chat,
                    from_me=from_me, sender=author)


def _location(content: WAMessage) -> Location | None:
    for name in ("locationMessage", "liveLocationMessage"):
        if content.HasField(name):
            found = _field(content, name)
            latitude, longitude = found.degreesLatitude, found.degreesLongitude
            if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):  # NaN fails too
                return None
            return Location(latitude=latitude, longitude=longitude,
                            name=cut(getattr(found, "name", "")) or None,
                            address=cut(getattr(found, "address", "")) or None)
    return None


def _contact(content: WAMessage) -> SharedContact | None:
    if content.HasField("contactMessage"):
        card = content.contactMessage
        return SharedContact(display_name=cut(card.displayName), vcard=_bounded_vcard(card.vcard))
    if content.HasField("contactsArrayMessage") and content.contactsArrayMessage.contacts:
        cards = content.contactsArrayMessage.contacts
        return SharedContact(display_name=cut(cards[0].displayName), vcard=_bounded_vcard(cards[0].vcard),
                             count=min(len(cards), 1_000))
    return None


def _poll(content: WAMessage) -> Poll | None:
    for name in POLL_FIELDS:
        if content.HasField(name):
            poll = _field(content, name)
            selectable = poll.selectableOptionsCount if poll.HasField("selectableOptionsCount") else None
            return Poll(
                name=cut(poll.name),
                options=tuple(cut(option.optionName) for option in poll.options[:MAX_POLL_OPTIONS]),
                selectable_count=None if selectable is None else min(selectable, MAX_POLL_OPTIONS),
            )
    return None



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
        return kind, Selection(id=cut(ident) if ident else None, text=cut(text) if text else None)

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


def typed_object(content: WAMessage, chat: str, sender: str) -> dict[str, Any] | None:
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


def is_protocol(content: WAMessage, edit_attribute: str) -> bool:
    if edit_attribute:  # edit, pin or revoke of another message (whatsmeow's EditAttribute)
        return True
    fields = _set_fields(content) - _ANCILLARY
    return not fields or fields <= _PROTOCOL_ONLY
