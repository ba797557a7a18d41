"""The protobufs of what we send: text (quoted or not), media, location, contact, reaction and poll.

Images and documents use neonize's builders (upload + JPEG thumbnail for images). Audio and video are
assembled here because neonize's builders shell out to ffmpeg/ffprobe for duration and thumbnail, which
the sidecar image does not ship; WhatsApp plays them without. Reactions and polls are built as whatsmeow's
BuildReaction and BuildPollCreation make them.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from zapgate_core.domain.jids import chat_type_of
from zapgate_core.domain.message_kinds import TYPED_KINDS
from zapgate_sidecar.transport import Outgoing, Quoted, TransportError
from zapgate_sidecar.transports.neonize.errors import short_reason
from zapgate_sidecar.transports.neonize.loading import load_neonize
from zapgate_sidecar.transports.neonize.outbound_extras import build_extended_text, build_sticker, needs_extended_text

if TYPE_CHECKING:
    from neonize.client import NewClient
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

# The media content fields built here: where a quote's contextInfo goes.
_QUOTABLE_MEDIA = ("imageMessage", "videoMessage", "audioMessage", "documentMessage")


def build_outgoing(client: NewClient, message: Outgoing, jid: str = "") -> WAMessage | str:
    """The protobuf to send (a plain str for text: neonize adds mentions for "@digits")."""
    if message.kind in TYPED_KINDS:
        return build_structured(message, jid)
    if message.kind == "text":
        if not message.text:
            raise TransportError("send text: empty text")
        if needs_extended_text(message):  # a preview or mentions: never the plain str (neonize's own mentions)
            return build_extended_text(message, _context(message.quoted) if message.quoted else None)
        if message.quoted is not None:
            return build_quoted_text(message.text, message.quoted)
        return message.text
    if message.kind == "sticker":
        built = build_sticker(client, message)
        if message.quoted is not None:
            built.stickerMessage.contextInfo.CopyFrom(_context(message.quoted))
        return built
    if message.quoted is not None:
        return _with_quote(_build_media(client, message), message.quoted)
    return _build_media(client, message)


def _build_media(client: NewClient, message: Outgoing) -> WAMessage:
    if not message.data:
        raise TransportError(f"send {message.kind}: no media data")
    caption = message.text or None
    if message.kind == "image":
        try:
            built = client.build_image_message(message.data, caption=caption)
        except (OSError, ValueError) as exc:  # PIL cannot decode the bytes
            raise TransportError(f"send image: not a decodable image ({short_reason(str(exc))})") from exc
        if message.mime_type:
            built.imageMessage.mimetype = message.mime_type
        return built
    if message.kind == "document":
        return client.build_document_message(
            message.data,
            caption=caption,
            title=message.file_name,
            filename=message.file_name,
            mimetype=message.mime_type,
        )
    return _build_audio_video(client, message, caption)


def _build_audio_video(client: NewClient, message: Outgoing, caption: str | None) -> WAMessage:
    load_neonize()
    import magic
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import AudioMessage, VideoMessage
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage
    from neonize.utils.enum import MediaType

    mime = message.mime_type or magic.from_buffer(message.data, mime=True)
    media_type = MediaType.MediaAudio if message.kind == "audio" else MediaType.MediaVideo
    upload = client.upload(message.data, media_type)
    common: dict[str, Any] = {
        "URL": upload.url,
        "directPath": upload.DirectPath,
        "mediaKey": upload.MediaKey,
        "fileEncSHA256": upload.FileEncSHA256,
        "fileSHA256": upload.FileSHA256,
        "fileLength": upload.FileLength,
        "mimetype": mime,
        "mediaKeyTimestamp": int(time.time()),
    }
    if message.kind == "audio":
        # Captionless, as in WhatsApp. A voice note (PTT) is Opus in Ogg, and WhatsApp's own clients
        # label it with the codec; without the codec some clients show a file instead of a player.
        if message.voice_note and mime.split(";")[0].strip() == "audio/ogg":
            common["mimetype"] = "audio/ogg; codecs=opus"
        return WAMessage(audioMessage=AudioMessage(PTT=message.voice_note, **common))
    return WAMessage(videoMessage=VideoMessage(caption=caption, **common))


def _context(quoted: Quoted) -> Any:
    """ContextInfo quoting a message, as neonize's _make_quoted_message builds it (stanzaID + participant)."""
    load_neonize()
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContextInfo
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

    return ContextInfo(
        stanzaID=quoted.wa_message_id,
        participant=quoted.sender or None,
        quotedMessage=WAMessage(conversation=quoted.body or ""),
    )


def build_quoted_text(text: str, quoted: Quoted) -> WAMessage:
    load_neonize()
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ExtendedTextMessage
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

    return WAMessage(extendedTextMessage=ExtendedTextMessage(text=text, contextInfo=_context(quoted)))


def _with_quote(built: WAMessage, quoted: Quoted) -> WAMessage:
    for name in _QUOTABLE_MEDIA:
        if built.HasField(name):
            getattr(built, name).contextInfo.CopyFrom(_context(quoted))
    return built


def build_structured(message: Outgoing, jid: str) -> WAMessage:
    """Location, contact (vCard), reaction and poll messages (the reaction and the poll as whatsmeow's
    BuildReaction and BuildPollCreation make them)."""
    load_neonize()
    from neonize.proto.waCommon.WACommon_pb2 import MessageKey
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
        ContactMessage,
        LocationMessage,
        MessageContextInfo,
        PollCreationMessage,
        ReactionMessage,
    )
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

    if message.kind == "location" and message.location is not None:
        loc = message.location
        return WAMessage(locationMessage=LocationMessage(
            degreesLatitude=loc.latitude, degreesLongitude=loc.longitude, name=loc.name, address=loc.address
        ))
    if message.kind == "contact" and message.contact is not None:
        return WAMessage(contactMessage=ContactMessage(
            displayName=message.contact.display_name, vcard=message.contact.vcard
        ))
    if message.kind == "reaction" and message.reaction is not None:
        reaction = message.reaction
        chat = reaction.chat or jid
        key = MessageKey(remoteJID=chat, fromMe=bool(reaction.from_me), ID=reaction.wa_message_id)
        if not reaction.from_me and chat_type_of(chat) == "group" and reaction.sender:
            key.participant = reaction.sender
        return WAMessage(reactionMessage=ReactionMessage(
            key=key, text=reaction.emoji, senderTimestampMS=int(time.time() * 1000)
        ))
    if message.kind == "poll" and message.poll is not None:
        poll = message.poll
        count = poll.selectable_count
        if count is None or not 0 <= count <= len(poll.options):
            count = 0  # whatsmeow's rule: a count it cannot honour means any number
        # Voters encrypt their votes with this secret; whatsmeow stores it when the message is sent, which is
        # what lets the session decrypt the votes later. A fresh random one per poll, as whatsmeow makes it.
        return WAMessage(
            pollCreationMessage=PollCreationMessage(
                name=poll.name,
                options=[PollCreationMessage.Option(optionName=option) for option in poll.options],
                selectableOptionsCount=count,
            ),
            messageContextInfo=MessageContextInfo(messageSecret=os.urandom(32)),
        )
    raise TransportError(f"send {message.kind}: missing {message.kind} data")
