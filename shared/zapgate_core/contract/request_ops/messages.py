"""Messages and chats: edit, delete for everyone, mark read, typing, own presence."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zapgate_core.contract.base import ContractModel
from zapgate_core.contract.common import MAX_BODY, MAX_ID

MAX_READ = 100  # messages one mark-read names
EDIT_WINDOW_S = 15 * 60  # WhatsApp lets the sender edit a message for 15 minutes


class ChatPresenceArgs(ContractModel):
    chat: str = Field(min_length=1, max_length=MAX_ID, description="Phone number, group id or JID")
    state: Literal["composing", "recording", "paused"] = Field(
        description="composing (typing), recording (a voice note) or paused (stopped)"
    )


class ChatPresenceResult(ContractModel):
    sent: bool = True


class EditMessageArgs(ContractModel):
    chat: str = Field(min_length=1, max_length=MAX_ID, description="The chat's JID")
    message_id: str = Field(min_length=1, max_length=MAX_ID, description="WhatsApp's id of the message to edit")
    text: str = Field(min_length=1, max_length=MAX_BODY, description="The new text")
    sent_at: int | None = Field(default=None, description="When the message was sent (epoch seconds), if known: "
                                                          "edits are refused past WhatsApp's window")


class EditMessageResult(ContractModel):
    edit_id: str = Field(description="WhatsApp's id of the edit itself")


class RevokeMessageArgs(ContractModel):
    chat: str = Field(min_length=1, max_length=MAX_ID, description="The chat's JID")
    message_id: str = Field(min_length=1, max_length=MAX_ID, description="WhatsApp's id of the message")
    sender: str | None = Field(default=None, max_length=MAX_ID,
                               description="Who sent it, when it is not this account (a group admin deleting "
                                           "someone's message); null for our own messages")


class RevokeMessageResult(ContractModel):
    revoke_id: str = Field(description="WhatsApp's id of the revocation")


class ReadMessage(ContractModel):
    id: str = Field(min_length=1, max_length=MAX_ID, description="WhatsApp's id of a received message")
    sender: str | None = Field(default=None, max_length=MAX_ID, description="Who sent it (groups)")


class MarkReadArgs(ContractModel):
    chat: str = Field(min_length=1, max_length=MAX_ID, description="The chat's JID")
    messages: list[ReadMessage] = Field(min_length=1, max_length=MAX_READ)


class MarkReadResult(ContractModel):
    marked: int = Field(description="How many messages got a read receipt")


class OwnPresenceArgs(ContractModel):
    state: Literal["available", "unavailable"] = Field(
        description="available: online (contacts see it; the phone stops getting notifications), unavailable: offline"
    )
