"""The send request (POST /v1/instances/{id}/messages) and its answer.

The request describes what the client says (a contact by phone, a reaction or a quote by our message id);
`content()` turns it into the one outbound content model (zapgate_core.contract.outbound_content) that
the queue stores and sidecars receive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, StrictBool, StrictInt, field_validator, model_validator

from zapgate_core.contract.common import (
    MAX_BODY,
    MAX_ID,
    SEND_POLL_OPTIONS,
    MediaType,
)
from zapgate_core.domain.message_kinds import FILE_KINDS, TYPED_KINDS, SendableKind
from zapgate_public_api.models.base import FILE_NAME_MAX, MEDIA_URL_MAX, NAME_MAX, RequestModel, stripped_name
from zapgate_public_api.models.send_extras import LinkPreview, mention_jids

if TYPE_CHECKING:  # the contract's content models are built on the first send, not at import (cold start)
    from zapgate_core.contract.outbound_content import OutboundContent, ReactionTo

MessageType = SendableKind
LABEL_MAX = 1_000
VCARD_MAX = 10_000
EMOJI_MAX = 16  # code points: one emoji with skin tone / ZWJ sequence
POLL_NAME_MAX = 255  # WhatsApp's limits on a poll's question and on each option
POLL_OPTION_MAX = 100


class Location(RequestModel):
    latitude: float = Field(ge=-90, le=90, description="Degrees, -90..90")
    longitude: float = Field(ge=-180, le=180, description="Degrees, -180..180")
    name: str | None = Field(default=None, max_length=LABEL_MAX)
    address: str | None = Field(default=None, max_length=LABEL_MAX)


class Contact(RequestModel):
    display_name: str = Field(min_length=1, max_length=NAME_MAX)
    vcard: str | None = Field(default=None, max_length=VCARD_MAX, description="A full vCard; or give phone")
    phone: str | None = Field(default=None, max_length=40, description="Digits (with optional +): builds a vCard")

    @field_validator("display_name")
    @classmethod
    def _stripstripped_name(cls, value: str) -> str:
        return stripped_name(value)

    @model_validator(mode="after")
    def _vcard_or_phone(self) -> Contact:
        if (self.vcard is None) == (self.phone is None):
            raise ValueError("contact needs exactly one of vcard or phone")
        if self.vcard is not None and "BEGIN:VCARD" not in self.vcard.upper():
            raise ValueError("contact.vcard must be a vCard (BEGIN:VCARD ... END:VCARD)")
        if self.phone is not None:
            digits = self.phone.strip().removeprefix("+")
            if not digits.isdigit() or not 5 <= len(digits) <= 20:
                raise ValueError("contact.phone must be 5 to 20 digits, optionally after +")
        return self

    def built_vcard(self) -> str:
        if self.vcard is not None:
            return self.vcard
        digits = (self.phone or "").strip().removeprefix("+")
        name = self.display_name.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        return (
            "BEGIN:VCARD\nVERSION:3.0\n"
            f"FN:{name}\n"
            f"TEL;type=CELL;type=VOICE;waid={digits}:+{digits}\n"
            "END:VCARD"
        )


class Reaction(RequestModel):
    message_id: str = Field(
        min_length=1, max_length=MAX_ID, description="Our message id, or a received message's WhatsApp id",
    )
    emoji: str = Field(max_length=EMOJI_MAX, description='One emoji; "" removes the reaction')

    @field_validator("emoji")
    @classmethod
    def _one_emoji(cls, value: str) -> str:
        if value and (value.strip() != value or any(ch.isalnum() for ch in value)):
            raise ValueError('emoji must be a single emoji, or "" to remove the reaction')
        return value


class Poll(RequestModel):
    name: str = Field(min_length=1, max_length=POLL_NAME_MAX, description="The question")
    options: list[str] = Field(
        min_length=2, max_length=SEND_POLL_OPTIONS, description=f"2 to {SEND_POLL_OPTIONS} distinct options"
    )
    selectable_count: StrictInt = Field(
        default=1, ge=0, description="How many options a voter may pick, up to all of them; 0 = any number"
    )

    @field_validator("name")
    @classmethod
    def _stripstripped_name(cls, value: str) -> str:
        return stripped_name(value)

    @field_validator("options")
    @classmethod
    def _options(cls, value: list[str]) -> list[str]:
        # Stripped as the worker-proxy contract strips them, so what is stored is what voters see; votes name
        # options by the hash of their text, so two options with the same text could never be told apart.
        options = [option.strip() for option in value]
        if any(not option or len(option) > POLL_OPTION_MAX for option in options):
            raise ValueError(f"each poll option must be 1 to {POLL_OPTION_MAX} characters")
        if len(set(options)) != len(options):
            raise ValueError("poll options must be distinct")
        return options

    @model_validator(mode="after")
    def _selectable(self) -> Poll:
        if self.selectable_count > len(self.options):
            raise ValueError("poll.selectable_count cannot exceed the number of options (0 = any number)")
        return self


class SendMessage(RequestModel):
    type: MessageType = Field(
        default="text",
        description="text (default), image/video/audio/document/sticker (WebP), location, contact, reaction, poll",
    )
    to: str = Field(min_length=1, max_length=MAX_ID, description="Phone number, group id or full JID")
    body: str | None = Field(default=None, max_length=MAX_BODY)
    media_url: str | None = Field(default=None, max_length=MEDIA_URL_MAX)
    media_type: MediaType | None = None
    mime_type: str | None = Field(default=None, max_length=MAX_ID)
    file_name: str | None = Field(default=None, max_length=FILE_NAME_MAX)
    location: Location | None = None
    contact: Contact | None = None
    reaction: Reaction | None = None
    poll: Poll | None = None
    reply_to: str | None = Field(
        default=None, min_length=1, max_length=MAX_ID, description="Our id of the message to quote (text and media)"
    )
    voice_note: StrictBool = Field(
        default=False,
        description="type=audio only: send as a voice note (push-to-talk) instead of an audio file; Ogg/Opus",
    )
    link_preview: LinkPreview | None = Field(
        default=None, description="type=text only: the preview shown for `url`, which must appear in the body"
    )
    mentions: list[str] | None = Field(
        default=None, description="type=text only: numbers or JIDs @-mentioned; each appears in the body as @<number>"
    )
    queue_if_offline: StrictBool = Field(
        default=False, description="Queue even when the instance is not CONNECTED (otherwise 409)"
    )

    @field_validator("body")
    @classmethod
    def _blank_body_is_none(cls, value: str | None) -> str | None:
        # A blank caption is no body: it must not satisfy "body or media_url".
        return value if value and value.strip() else None

    @field_validator("media_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError("media_url must be an http(s) URL")
        return value

    @model_validator(mode="before")
    @classmethod
    def _media_type_implies_type(cls, data: Any) -> Any:
        # Older clients send media without `type`: the media_type says what it is. Only for the kinds they knew:
        # a sticker is asked for by `type` (issue 13).
        if isinstance(data, dict) and "type" not in data and data.get("media_type") in FILE_KINDS:
            return {**data, "type": data["media_type"]}
        return data

    @model_validator(mode="after")
    def _content(self) -> SendMessage:
        kind = self.type
        if self.voice_note and kind != "audio":
            raise ValueError("voice_note is only for type=audio")
        if self.voice_note and self.mime_type is not None and self.mime_type.split(";")[0].strip() != "audio/ogg":
            raise ValueError("a voice note is Opus in Ogg: mime_type must be audio/ogg")
        for name in TYPED_KINDS:
            if getattr(self, name) is not None and kind != name:
                raise ValueError(f"{name} is only for type={name}")
        if kind in TYPED_KINDS:
            if getattr(self, kind) is None:
                raise ValueError(f"type={kind} needs a {kind} object")
            extra = [n for n in ("body", "media_url", "media_type", "mime_type", "file_name", "reply_to")
                     if getattr(self, n) is not None]
            if extra:
                raise ValueError(f"type={kind} takes no {', '.join(extra)}")
            return self
        if (self.link_preview is not None or self.mentions) and kind != "text":
            raise ValueError("link_preview and mentions are only for type=text")
        if kind == "text":
            if self.body is not None and self.link_preview is not None and self.link_preview.url not in self.body:
                raise ValueError("link_preview.url must appear in the body")
            if self.mentions:
                self.mentions = mention_jids(self.mentions, self.body or "")
            if self.media_url is not None or self.media_type is not None:
                raise ValueError("media_url needs type (or media_type) image, video, audio or document")
            if self.body is None:
                raise ValueError("type=text needs a body")
            return self
        if self.media_url is None:
            raise ValueError(f"type={kind} needs a media_url")
        if self.media_type is None:
            self.media_type = kind  # type: ignore[assignment]  # a media kind: the typed kinds returned above
        elif self.media_type != kind:
            raise ValueError("media_type and type disagree")
        return self

    def content(self) -> OutboundContent:
        """What to send, but the quoted / reacted-to message: those the enqueue resolves to WhatsApp's ids
        (`reply_to`, `reaction_to()`)."""
        from zapgate_core.contract import message_objects as objects
        from zapgate_core.contract.outbound_content import OutboundContent

        location = self.location
        return OutboundContent(
            **self.model_dump(include={"to", "body", "media_url", "media_type", "mime_type", "file_name"}),
            type=self.type if self.type in TYPED_KINDS or self.reply_to is not None else None,
            location=objects.Location(latitude=location.latitude, longitude=location.longitude, name=location.name,
                                      address=location.address) if location is not None else None,
            contact=objects.ContactCard(display_name=self.contact.display_name, vcard=self.contact.built_vcard())
            if self.contact is not None else None,
            poll=objects.Poll(**self.poll.model_dump()) if self.poll is not None else None,
            voice_note=True if self.voice_note else None,
            link_preview=objects.LinkPreview(**self.link_preview.model_dump())
            if self.link_preview is not None else None,
            mentions=self.mentions or None,
        )

    def reaction_to(self) -> ReactionTo | None:
        from zapgate_core.contract.outbound_content import ReactionTo

        return ReactionTo(self.reaction.message_id, self.reaction.emoji) if self.reaction is not None else None


class MessageAccepted(BaseModel):
    id: str
    status: str = Field(default="queued", description='"queued"; a replayed Idempotency-Key answers the current status')

