"""A text's extras on send (issue 13): a link preview the caller supplies, and @-mentions in groups."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from zapgate_core.contract.message_objects import MAX_MENTIONS, MAX_PREVIEW_THUMBNAIL, MAX_PREVIEW_URL
from zapgate_core.domain.jids import InvalidDestination, jid_user, normalize_destination
from zapgate_public_api.models.base import RequestModel

PREVIEW_LABEL_MAX = 1_000


class LinkPreview(RequestModel):
    url: str = Field(min_length=1, max_length=MAX_PREVIEW_URL, description="The URL, as it appears in the body")
    title: str | None = Field(default=None, max_length=PREVIEW_LABEL_MAX)
    description: str | None = Field(default=None, max_length=PREVIEW_LABEL_MAX)
    thumbnail: str | None = Field(
        default=None, max_length=MAX_PREVIEW_THUMBNAIL, description="Base64 JPEG (small: WhatsApp shows ~100 px)"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError("link_preview.url must be an http(s) URL")
        return value

    @field_validator("thumbnail")
    @classmethod
    def _base64(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("link_preview.thumbnail must be base64") from None
        return value


def mention_jids(mentions: list[str], body: str) -> list[str]:
    """The mentioned accounts as phone or LID JIDs; each must appear in the body as `@<number>` (what WhatsApp
    renders as the mention: a JID without it in the text notifies a person who sees no mention)."""
    if len(mentions) > MAX_MENTIONS:
        raise ValueError(f"at most {MAX_MENTIONS} mentions")
    jids: list[str] = []
    for raw in mentions:
        try:
            destination = normalize_destination(raw)
        except InvalidDestination:
            raise ValueError("each mention must be a phone number or a user JID") from None
        if destination.kind == "group":
            raise ValueError("a mention names a person, not a group")
        if f"@{jid_user(destination.jid)}" not in body:
            raise ValueError("each mentioned number must appear in the body as @<number>")
        if destination.jid not in jids:
            jids.append(destination.jid)
    return jids
