"""The small objects a typed WhatsApp message carries, one model each, the same both ways: queued for
sending (contract/outbound_content.py) and reported by a sidecar (worker-proxy `/inbound`, where a
reaction names the reacted-to message the same way). Stores and history read them back too.

Light on purpose (pydantic and contract/common only): the public API uses them on its cold start.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from zapgate_core.contract.base import ContractModel
from zapgate_core.contract.common import (
    MAX_EMOJI,
    MAX_ID,
    MAX_LABEL,
    MAX_POLL_OPTIONS,
    MAX_VCARD,
    POLL_OPTION_HASH,
)


class Location(ContractModel):
    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)
    name: str | None = Field(default=None, max_length=MAX_LABEL)
    address: str | None = Field(default=None, max_length=MAX_LABEL)


MAX_PREVIEW_URL = 2_048
MAX_PREVIEW_THUMBNAIL = 65_536  # base64 of a small JPEG: WhatsApp shows previews' thumbnails at ~100 px
MAX_MENTIONS = 256  # a large group's members; more is not a mention, it is a broadcast


class LinkPreview(ContractModel):
    """The preview a text shows for a URL in it (issue 13), supplied by the caller: the sidecar never fetches
    the URL (an open fetcher on a gateway is an SSRF risk and leaks the instance's address to the site)."""

    url: str = Field(min_length=1, max_length=MAX_PREVIEW_URL)
    title: str | None = Field(default=None, max_length=MAX_LABEL)
    description: str | None = Field(default=None, max_length=MAX_LABEL)
    thumbnail: str | None = Field(default=None, max_length=MAX_PREVIEW_THUMBNAIL, description="base64 JPEG")


class ContactCard(ContractModel):
    display_name: str = Field(max_length=MAX_LABEL)
    vcard: str = Field(max_length=MAX_VCARD)


class SharedContact(ContactCard):
    """A contact card received; `count` > 1 when several were shared at once (the card is the first)."""

    count: int | None = Field(default=None, ge=1, le=1_000)


class Reaction(ContractModel):
    """The reacted-to message, resolved to WhatsApp's id when the message was queued."""

    wa_message_id: str = Field(min_length=1, max_length=MAX_ID)
    emoji: str = Field(default="", max_length=MAX_EMOJI)  # "" removes the reaction
    chat: str | None = Field(default=None, max_length=MAX_ID)
    from_me: bool | None = None
    sender: str | None = Field(default=None, max_length=MAX_ID)
    # Outbound only: our id of the reacted-to message, for history. Never on the wire (exclude): the
    # sidecar needs WhatsApp's id alone, and the Node worker's JSON stays what it always was.
    message_id: str | None = Field(default=None, max_length=MAX_ID, exclude=True)


class Poll(ContractModel):
    """A poll: its question, options and how many options a voter may pick. Bounded leniently, for polls
    received from any client; the public API sends at most SEND_POLL_OPTIONS, unique and non-empty."""

    name: str = Field(max_length=MAX_LABEL)
    options: list[Annotated[str, Field(max_length=MAX_LABEL)]] = Field(
        default_factory=list, max_length=MAX_POLL_OPTIONS
    )
    selectable_count: int | None = Field(default=None, ge=0, le=MAX_POLL_OPTIONS, description="0 = any number")


class ReplyTo(ContractModel):
    """The quoted message, resolved to WhatsApp's id when the message was queued."""

    wa_message_id: str
    sender: str | None = None
    body: str | None = None
    # Our id of the quoted message, as the send named it; never on the wire (see Reaction.message_id).
    message_id: str | None = Field(default=None, max_length=MAX_ID, exclude=True)


class PollVote(ContractModel):
    """A vote on a poll: WhatsApp sends the chosen options as SHA-256 hashes of their names (lowercase hex),
    and `options` holds the names the sidecar could resolve (it saw the poll), in the same order. No hashes:
    the voter removed their vote. A vote replaces the voter's previous one."""

    poll_message_id: str = Field(min_length=1, max_length=MAX_ID, description="WhatsApp id of the poll voted on")
    option_hashes: list[Annotated[str, Field(pattern=POLL_OPTION_HASH)]] = Field(
        default_factory=list, max_length=MAX_POLL_OPTIONS
    )
    options: list[Annotated[str, Field(max_length=MAX_LABEL)]] = Field(
        default_factory=list, max_length=MAX_POLL_OPTIONS
    )

    @model_validator(mode="after")
    def _no_more_names_than_hashes(self) -> PollVote:
        if len(self.options) > len(self.option_hashes):
            raise ValueError("a poll vote names at most the options it selects (option_hashes)")
        return self


class Selection(ContractModel):
    """A button or list reply: the chosen button's / row's id and the text the user saw."""

    id: str | None = Field(default=None, max_length=MAX_LABEL)
    text: str | None = Field(default=None, max_length=MAX_LABEL)
