"""What a rule answers: a text, or media by URL or by upload (`type` tells them apart), and that reply as
the one outbound content model every send uses (`reply_content`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from zapgate_core.contract.automations.common import MAX_URL, AutomationModel, invalid
from zapgate_core.contract.common import MAX_BODY, MAX_ID
from zapgate_core.domain.automations import definitions as domain
from zapgate_core.domain.message_kinds import FileKind

if TYPE_CHECKING:  # built by the first reply, not at import: the public API imports this module on its cold start
    from zapgate_core.contract.outbound_content import OutboundContent

UPLOAD_ID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class TextReplyModel(AutomationModel):
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=MAX_BODY)

    def to_domain(self) -> domain.TextReply:
        return domain.TextReply(self.text)


class MediaReplyModel(AutomationModel):
    """Media as a send describes it (OutboundContent's media_type, media_url, mime_type, file_name; the
    caption is the send's body), by URL or by the id of a POST /v1/media-uploads object."""

    type: Literal["media"]
    media_type: FileKind  # not a sticker: a reply's media has a caption
    media_url: str | None = Field(default=None, max_length=MAX_URL, description="http(s) URL; or upload_id")
    upload_id: str | None = Field(default=None, pattern=UPLOAD_ID, description="An uploaded object's id")
    caption: str | None = Field(default=None, max_length=MAX_BODY)
    mime_type: str | None = Field(default=None, max_length=MAX_ID, pattern=r"^[\w.+-]+/[\w.+-]+$")
    file_name: str | None = Field(default=None, max_length=500)

    @field_validator("media_url")
    @classmethod
    def _media_url(cls, value: str | None) -> str | None:
        # The same rule as a send's media_url: the sidecar fetches it, http or https.
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
                raise invalid("media_url", "media_url must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> MediaReplyModel:
        if (self.media_url is None) == (self.upload_id is None):
            raise invalid("media_source", "a media reply needs exactly one of media_url or upload_id")
        return self

    def to_domain(self) -> domain.MediaReply:
        return domain.MediaReply(
            self.media_type, self.media_url, self.upload_id, self.caption, self.mime_type, self.file_name
        )


ReplyModel = Annotated[TextReplyModel | MediaReplyModel, Field(discriminator="type")]


def reply_content(reply: domain.Reply, to: str, *, media_url: str | None = None) -> OutboundContent:
    """A rule's reply as a send to `to`, as the public API's send builds it (no `type` for text and media:
    the JSON the Node worker has always read). media_url: the link the sender resolved an upload_id to."""
    from zapgate_core.contract.outbound_content import OutboundContent

    if isinstance(reply, domain.TextReply):
        return OutboundContent(to=to, body=reply.text)
    url = reply.media_url or media_url
    if url is None:
        raise ValueError("a media reply by upload_id needs the upload's media_url")
    return OutboundContent(
        to=to, body=reply.caption, media_url=url, media_type=reply.media_type, mime_type=reply.mime_type,
        file_name=reply.file_name,
    )
