"""What a message to send says: the one model of outbound content.

The public API's send request builds it (models/sending.py), the send queue stores it (MessageStore
.enqueue) and answers it (OutboundMessage.content), and the worker-proxy hands it to sidecars as
`QueuedMessage` (this model plus the message id, contract/worker_proxy.py). Light on purpose
(pydantic, contract/common and the message objects only): the public API imports it on its cold start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, Field, model_serializer

from zapgate_core.contract.base import ContractModel
from zapgate_core.contract.common import MediaType
from zapgate_core.contract.message_objects import (
    MAX_MENTIONS,
    ContactCard,
    LinkPreview,
    Location,
    Poll,
    Reaction,
    ReplyTo,
)

# Only present when used: a plain text or media message keeps the exact JSON the Node worker has always seen.
EXTENSIONS = ("type", "location", "contact", "reaction", "poll", "reply_to", "voice_note", "link_preview", "mentions")


class OutboundContent(ContractModel):
    # Stored as the client gave it (the sidecar normalises `to` when it sends); the sidecar's parse of the
    # wire (QueuedMessage) strips, as it always has.
    model_config = ConfigDict(str_strip_whitespace=False)

    to: str
    body: str | None = None
    media_url: str | None = None
    media_type: MediaType | None = None
    mime_type: str | None = None
    file_name: str | None = None
    # zapgate extensions (optional: the Node worker ignores them and only sends text/media)
    type: str | None = None  # text | image | video | audio | document | location | contact | reaction | poll
    location: Location | None = None
    contact: ContactCard | None = None
    reaction: Reaction | None = None
    poll: Poll | None = None
    reply_to: ReplyTo | None = None
    voice_note: bool | None = None  # audio sent as a voice note (push-to-talk), not as a file
    link_preview: LinkPreview | None = None  # text only: the preview shown for a URL in the body (issue 13)
    mentions: list[str] | None = Field(default=None, max_length=MAX_MENTIONS)  # JIDs @-mentioned in the text

    @model_serializer(mode="wrap")
    def _omit_absent_extensions(self, handler: Any) -> Any:
        return omit_absent_extensions(handler(self))


def omit_absent_extensions(data: Any) -> Any:
    """A dumped content without the extensions it does not use (a subclass's serializer calls it too)."""
    if isinstance(data, dict):
        for name in EXTENSIONS:
            if data.get(name) in (None, False):
                data.pop(name, None)
    return data


@dataclass(frozen=True)
class ReactionTo:
    """A send's reaction as the client names it: our id of the message (or a received message's WhatsApp id)
    and the emoji. The enqueue resolves it to WhatsApp's ids (OutboundContent.reaction)."""

    message_id: str
    emoji: str
