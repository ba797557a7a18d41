"""Contacts: who has WhatsApp, who someone is, their picture, and whom this account blocks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zapgate_core.contract.base import ContractModel
from zapgate_core.contract.common import MAX_ID

MAX_NUMBERS = 50  # phone numbers one check may name


class CheckNumbersArgs(ContractModel):
    numbers: list[str] = Field(min_length=1, max_length=MAX_NUMBERS, description="Phone numbers, any common form")


class NumberCheck(ContractModel):
    number: str = Field(description="The number as asked")
    exists: bool = Field(description="Whether it has a WhatsApp account")
    jid: str | None = Field(default=None, description="Its phone-number JID (…@s.whatsapp.net)")
    lid: str | None = Field(default=None, description="Its LID (…@lid), when WhatsApp told it")


class CheckNumbersResult(ContractModel):
    numbers: list[NumberCheck]


class UserArgs(ContractModel):
    """One WhatsApp user: user info, profile picture."""

    jid: str = Field(min_length=1, max_length=MAX_ID, description="The user's JID (…@s.whatsapp.net or …@lid)")


class UserInfo(ContractModel):
    jid: str
    lid: str | None = Field(default=None, description="The user's LID, when WhatsApp told it")
    push_name: str | None = Field(default=None, description="The name they set for themselves, when this "
                                                             "account has seen it (WhatsApp sends it with messages)")
    business_name: str | None = Field(default=None, description="A business account's name")
    verified_name: str | None = Field(default=None, description="A business account's verified name")
    about: str | None = Field(default=None, description="Their about text, when their privacy settings show it")
    picture_id: str | None = Field(default=None, description="Their current profile picture's id, if any")


class ProfilePictureArgs(UserArgs):
    jid: str = Field(min_length=1, max_length=MAX_ID, description="A user's or a group's JID")
    preview: bool = Field(default=False, description="The small thumbnail instead of the full picture")


class ProfilePicture(ContractModel):
    jid: str
    url: str | None = Field(default=None, description="A short-lived URL on WhatsApp's CDN; null when there is "
                                                      "no picture or their privacy settings hide it")
    picture_id: str | None = None


class BlockArgs(ContractModel):
    jid: str = Field(min_length=1, max_length=MAX_ID, description="The user's JID")
    action: Literal["block", "unblock"]


class NoArgs(ContractModel):
    pass


class Blocklist(ContractModel):
    jids: list[str] = Field(description="The users this account blocks, as WhatsApp lists them")
