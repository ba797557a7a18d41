"""The typed objects a test may hand the sim as what a phone sent (a location, contact card, reaction, poll, poll
vote, button or list choice): the request bodies of server.py's inbound route and server_own.py's from-phone."""

from __future__ import annotations

from pydantic import BaseModel


class InboundLocation(BaseModel):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


class InboundContact(BaseModel):
    display_name: str
    vcard: str
    count: int = 1


class InboundReaction(BaseModel):
    wa_message_id: str
    emoji: str = ""
    chat: str | None = None
    from_me: bool | None = None
    sender: str | None = None


class InboundPoll(BaseModel):
    name: str
    options: list[str] = []
    selectable_count: int | None = None


class InboundPollVote(BaseModel):
    """A vote as the sidecar reports it: chosen options' SHA-256 hashes (hex), the names it resolved."""

    poll_message_id: str
    option_hashes: list[str] = []
    options: list[str] = []


class InboundSelection(BaseModel):
    id: str | None = None
    text: str | None = None
