"""Requests to the phone: the public API asks, the instance's lock holder answers (zapgate extension).

docs/requests.md describes the path. In short: the public API stores a request addressed to the
instance, wakes the lock holder's sidecar with a `request` push frame, and waits (bounded) for the
answer. The sidecar *claims* the request first (a conditional write fenced by its lock token), so a
request runs at most once: a claimed request whose sidecar died is `outcome_unknown`, never re-run.
Only sidecars on the push channel take requests; the Node worker never sees any of this.

Each operation has its arguments' model and its result's model (in `contract/request_ops/`, one module
per concern), mapped by name here and used by the public API (request
bodies and answers), the worker-proxy (claim and answer) and the sidecar (what it runs, what it says).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from zapgate_core.contract.base import ContractModel
from zapgate_core.contract.common import MAX_ID
from zapgate_core.contract.request_ops import contacts, groups, messages, profile
from zapgate_core.contract.request_ops.outcomes import Done

# What a sidecar can be asked. Each name has an entry in ARGUMENTS and RESULTS below.
RequestOp = Literal[
    # contacts
    "check_numbers", "user_info", "profile_picture", "block", "blocklist",
    # messages and chats
    "edit_message", "revoke_message", "mark_read", "chat_presence", "own_presence",
    # groups
    "group_create", "group_info", "group_name", "group_description", "group_settings", "group_participants",
    "group_invite_link", "group_join", "group_leave",
    # this account's profile
    "profile_name", "profile_about",
]
# Operations that change something on WhatsApp: a retry must never run them twice (docs/requests.md).
READ_ONLY_OPS: frozenset[str] = frozenset({"check_numbers", "user_info", "profile_picture", "blocklist", "group_info"})
# pending: stored, nobody took it; claimed: a sidecar took it and runs it; done / failed: answered;
# outcome_unknown: claimed, and the claimer lost its lock before answering (it may or may not have run).
RequestState = Literal["pending", "claimed", "done", "failed", "outcome_unknown"]
FINAL_STATES: tuple[RequestState, ...] = ("done", "failed", "outcome_unknown")

# Why WhatsApp (or the sidecar) refused; the public API maps each to its HTTP status (docs/requests.md).
RequestErrorCode = Literal[
    "bad_request",  # WhatsApp refused the arguments (400)
    "not_found",  # the chat, message or group does not exist for this account (404)
    "forbidden",  # not allowed: not a group admin, not the sender (403)
    "not_on_whatsapp",  # the number has no WhatsApp account (404)
    "expired",  # past WhatsApp's window for it: a message too old to edit (422)
    "unreachable",  # the sidecar cannot reach WhatsApp right now; nothing was sent (503)
    "outcome_unknown",  # a change was sent and no answer came back: it may have happened (502)
    "failed",  # anything else WhatsApp answered (502)
]

ARGUMENTS: dict[str, type[ContractModel]] = {
    "check_numbers": contacts.CheckNumbersArgs,
    "user_info": contacts.UserArgs,
    "profile_picture": contacts.ProfilePictureArgs,
    "block": contacts.BlockArgs,
    "blocklist": contacts.NoArgs,
    "edit_message": messages.EditMessageArgs,
    "revoke_message": messages.RevokeMessageArgs,
    "mark_read": messages.MarkReadArgs,
    "chat_presence": messages.ChatPresenceArgs,
    "own_presence": messages.OwnPresenceArgs,
    "group_create": groups.GroupCreateArgs,
    "group_info": groups.GroupArgs,
    "group_name": groups.GroupNameArgs,
    "group_description": groups.GroupDescriptionArgs,
    "group_settings": groups.GroupSettingsArgs,
    "group_participants": groups.GroupParticipantsArgs,
    "group_invite_link": groups.InviteLinkArgs,
    "group_join": groups.GroupJoinArgs,
    "group_leave": groups.GroupArgs,
    "profile_name": profile.ProfileNameArgs,
    "profile_about": profile.ProfileAboutArgs,
}
RESULTS: dict[str, type[ContractModel]] = {
    "check_numbers": contacts.CheckNumbersResult,
    "user_info": contacts.UserInfo,
    "profile_picture": contacts.ProfilePicture,
    "block": contacts.Blocklist,
    "blocklist": contacts.Blocklist,
    "edit_message": messages.EditMessageResult,
    "revoke_message": messages.RevokeMessageResult,
    "mark_read": messages.MarkReadResult,
    "chat_presence": messages.ChatPresenceResult,
    "own_presence": Done,
    "group_create": groups.GroupCreated,
    "group_info": groups.GroupInfo,
    "group_name": Done,
    "group_description": Done,
    "group_settings": Done,
    "group_participants": groups.GroupParticipantsResult,
    "group_invite_link": groups.InviteLink,
    "group_join": groups.GroupJoined,
    "group_leave": Done,
    "profile_name": Done,
    "profile_about": Done,
}


# ---------------------------------------------------------------- worker-proxy: claim and answer
class RequestError(ContractModel):
    code: RequestErrorCode
    message: str = Field(default="", max_length=300)


class ClaimRequest(ContractModel):
    """POST /worker-proxy/requests/claim: the lock holder takes a request before running it."""

    instance_owner: str = Field(min_length=1, max_length=MAX_ID, alias="instanceOwner")
    instance_id: str = Field(min_length=1, max_length=MAX_ID, alias="instanceId")
    lock_token: str = Field(min_length=1, max_length=MAX_ID, alias="lockToken")
    request_id: str = Field(min_length=1, max_length=MAX_ID, alias="requestId")


class ClaimedRequest(ContractModel):
    """What the claim answers: the request to run (a 409 when it is not claimable by the caller)."""

    request_id: str
    instance_id: str
    op: RequestOp
    args: dict[str, Any]


class AnswerRequest(ContractModel):
    """POST /worker-proxy/requests/answer: the claimer's result, or why it failed; exactly one of them."""

    instance_owner: str = Field(min_length=1, max_length=MAX_ID, alias="instanceOwner")
    instance_id: str = Field(min_length=1, max_length=MAX_ID, alias="instanceId")
    lock_token: str = Field(min_length=1, max_length=MAX_ID, alias="lockToken")
    request_id: str = Field(min_length=1, max_length=MAX_ID, alias="requestId")
    result: dict[str, Any] | None = None
    error: RequestError | None = None


class AnswerAccepted(ContractModel):
    state: RequestState
