"""Groups: create, read, rename, describe, settings, participants, invite links, join and leave."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from zapgate_core.contract.base import ContractModel
from zapgate_core.contract.common import MAX_ID

MAX_GROUP_NAME = 100  # WhatsApp's subject limit (characters)
MAX_GROUP_DESCRIPTION = 2_048
MAX_PARTICIPANTS_PER_CALL = 50  # how many one add/remove/promote/demote names
MAX_INVITE_LINK = 200

ParticipantAction = Literal["add", "remove", "promote", "demote"]


class GroupArgs(ContractModel):
    group: str = Field(min_length=1, max_length=MAX_ID, description="The group's JID (…@g.us)")


class Participant(ContractModel):
    jid: str
    lid: str | None = None
    phone_jid: str | None = Field(default=None, description="Their phone-number JID, when the group shows it")
    is_admin: bool = False
    is_super_admin: bool = Field(default=False, description="The group's creator")


class GroupInfo(ContractModel):
    jid: str
    name: str
    description: str = ""
    owner: str | None = None
    created_at: int | None = Field(default=None, description="Epoch seconds")
    announce: bool = Field(default=False, description="Only admins send messages")
    locked: bool = Field(default=False, description="Only admins edit the group's info")
    participants: list[Participant] = Field(default_factory=list)


class GroupCreateArgs(ContractModel):
    name: str = Field(min_length=1, max_length=MAX_GROUP_NAME)
    participants: list[str] = Field(default_factory=list, max_length=MAX_PARTICIPANTS_PER_CALL,
                                    description="Users' JIDs to add at creation")


class GroupNameArgs(GroupArgs):
    name: str = Field(min_length=1, max_length=MAX_GROUP_NAME)


class GroupDescriptionArgs(GroupArgs):
    description: str = Field(max_length=MAX_GROUP_DESCRIPTION, description="Empty removes it")


class GroupSettingsArgs(GroupArgs):
    announce: bool | None = Field(default=None, description="Only admins send messages")
    locked: bool | None = Field(default=None, description="Only admins edit the group's info")

    @model_validator(mode="after")
    def _something(self) -> GroupSettingsArgs:
        if self.announce is None and self.locked is None:
            raise ValueError("name at least one of announce, locked")
        return self


class GroupParticipantsArgs(GroupArgs):
    action: ParticipantAction
    participants: list[str] = Field(min_length=1, max_length=MAX_PARTICIPANTS_PER_CALL, description="Users' JIDs")


class ParticipantOutcome(ContractModel):
    jid: str = Field(description="The participant as asked")
    ok: bool
    error: str | None = Field(default=None, description="Why not, as WhatsApp said it (not_on_whatsapp, "
                                                        "already_participant, not_participant, forbidden, ...)")


class GroupParticipantsResult(ContractModel):
    participants: list[ParticipantOutcome]


class GroupCreated(GroupInfo):
    not_added: list[ParticipantOutcome] = Field(
        default_factory=list, description="Participants asked for who are not in the group, and why "
                                          "(not_on_whatsapp, forbidden: their privacy settings, ...)"
    )


class InviteLinkArgs(GroupArgs):
    reset: bool = Field(default=False, description="Revoke the current link and make a new one")


class InviteLink(ContractModel):
    link: str = Field(description="https://chat.whatsapp.com/<code>")


class GroupJoinArgs(ContractModel):
    link: str = Field(min_length=1, max_length=MAX_INVITE_LINK, description="An invite link or its code")


class GroupJoined(ContractModel):
    jid: str = Field(description="The group joined (or asked to join, when its admins approve members)")
