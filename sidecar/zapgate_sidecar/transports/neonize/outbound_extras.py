"""The protobufs of issue 13's send types: a sticker (WebP, sent as given) and a text with a link preview or
@-mentions (an ExtendedTextMessage, as WhatsApp's own clients send them).

The sticker is assembled here rather than with neonize's build_sticker_message, which re-encodes the file
(PIL / ffmpeg, not in the sidecar image): the API accepts WebP only, which is what WhatsApp shows.
"""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING, Any

from zapgate_sidecar.transport import Outgoing, TransportError
from zapgate_sidecar.transports.neonize.loading import load_neonize

if TYPE_CHECKING:
    from neonize.client import NewClient
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage


def webp_info(data: bytes) -> tuple[int, int, bool]:
    """(width, height, animated) read from a WebP's header; raises TransportError for what is not WebP.
    WhatsApp's clients size the bubble from width/height and loop only stickers marked animated."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise TransportError("send sticker: not a WebP image")
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: flags, then canvas size - 1 as 24-bit little-endian
        animated = bool(data[20] & 0x02)
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height, animated
    if chunk == b"VP8 ":  # lossy: the frame header's 14-bit sizes after the start code
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF, False
    if chunk == b"VP8L":  # lossless: 14-bit width - 1 and height - 1 packed after the signature byte
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, False
    raise TransportError("send sticker: unknown WebP chunk")


def build_sticker(client: NewClient, message: Outgoing) -> WAMessage:
    load_neonize()
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import StickerMessage
    from neonize.utils.enum import MediaType

    if not message.data:
        raise TransportError("send sticker: no media data")
    width, height, animated = webp_info(message.data)
    upload = client.upload(message.data, MediaType.MediaImage)  # stickers travel as image media
    return WAMessage(stickerMessage=StickerMessage(
        URL=upload.url, directPath=upload.DirectPath, mediaKey=upload.MediaKey,
        fileEncSHA256=upload.FileEncSHA256, fileSHA256=upload.FileSHA256, fileLength=upload.FileLength,
        mimetype="image/webp", width=width, height=height, isAnimated=animated,
        mediaKeyTimestamp=int(time.time()),
    ))


def needs_extended_text(message: Outgoing) -> bool:
    return message.link_preview is not None or bool(message.mentions)


def build_extended_text(message: Outgoing, context: Any | None) -> WAMessage:
    """A text with its preview (matchedText = the URL, title, description, JPEG thumbnail) and mentions
    (contextInfo.mentionedJID); `context` is a quote's ContextInfo, which the mentions join."""
    load_neonize()
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContextInfo, ExtendedTextMessage
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

    extended = ExtendedTextMessage(text=message.text)
    preview = message.link_preview
    if preview is not None:
        extended.matchedText = preview.url
        extended.previewType = ExtendedTextMessage.PreviewType.NONE  # a link card, not a video/image preview
        if preview.title:
            extended.title = preview.title
        if preview.description:
            extended.description = preview.description
        if preview.thumbnail:
            extended.JPEGThumbnail = preview.thumbnail
    if context is not None or message.mentions:
        info = ContextInfo()
        if context is not None:
            info.CopyFrom(context)
        info.mentionedJID.extend(message.mentions)
        extended.contextInfo.CopyFrom(info)
    return WAMessage(extendedTextMessage=extended)
