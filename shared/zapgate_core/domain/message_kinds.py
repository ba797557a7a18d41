"""What kind of WhatsApp message a message is: the one list every other list is derived from.

`message.type` in events and history, `message_type` on the worker-proxy, the sidecar's
inbound `kind` and the public API's send `type` all name these. Literal types nest (PEP 586),
so the narrower ones are spelt once and the wider ones are built from them; the tuples come
from the types with `get_args`, never retyped.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

# Media that carries a caption or a file name: what an automation may reply with (seed 003).
FileKind = Literal["image", "video", "audio", "document"]
# A sticker is WebP media sent as WhatsApp's stickerMessage (issue 13): no caption. Received stickers are still
# mapped to "image" by the inbound mapping, as before.
MediaKind = Literal[FileKind, "sticker"]
# Each carries its one small object (location, contact, ...) and no body or media.
TypedKind = Literal["location", "contact", "reaction", "poll"]
# What can be sent: text, media, or one typed object.
SendableKind = Literal["text", MediaKind, TypedKind]
# Only received: a vote on a poll, a reply to buttons or to a list.
ReplyKind = Literal["poll_choice", "buttons_response", "list_response"]
MessageKind = Literal[SendableKind, ReplyKind]

MEDIA_KINDS: Final[tuple[MediaKind, ...]] = get_args(MediaKind)
FILE_KINDS: Final[tuple[FileKind, ...]] = get_args(FileKind)
TYPED_KINDS: Final[tuple[TypedKind, ...]] = get_args(TypedKind)
SENDABLE_KINDS: Final[tuple[SendableKind, ...]] = get_args(SendableKind)
MESSAGE_KINDS: Final[tuple[MessageKind, ...]] = get_args(MessageKind)

# A typed kind -> the one object it carries (the envelope's key is the same name, camelCased: pollVote).
OBJECT_OF_KIND: Final[dict[str, str]] = {
    "location": "location", "contact": "contact", "reaction": "reaction", "poll": "poll", "poll_choice": "poll_vote",
    "buttons_response": "selection", "list_response": "selection",
}  # fmt: skip

