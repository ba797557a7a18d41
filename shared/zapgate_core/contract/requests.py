"""Requests to the phone: the public API asks, the instance's lock holder answers (zapgate extension).

docs/requests.md describes the path. In short: the public API stores a request addressed to the
instance, wakes the lock holder's sidecar with a `request` push frame, and waits (bounded) for the
answer. The sidecar *claims* the request first (a conditional write fenced by its lock token), so a
request runs at most once: a claimed request whose sidecar died is `outcome_unknown`, never re-run.
Only sidecars on the push channel take requests; the Node worker never sees any of this.

Each operation has its arguments' model and its result's model here, used by the public API (request
bodies and answers), the worker-proxy (claim and answer) and the sidecar (what it runs, what it says).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from zapgate_core.contract.base import ContractModel
from zapgate_core.contract.common import MAX_ID

# What a sidecar can be asked. Each name has an entry in ARGUMENTS and RESULTS below.
RequestOp = Literal["check_numbers", "chat_presence"]
# pending: stored, nobody took it; claimed: a sidecar took it and runs it; done / failed: answered;
# outcome_unknown: claimed, and the claimer lost its lock before answering (it may or may not have run).
RequestState = Literal["pending", "claimed", "done", "failed", "outcome_unknown"]
FINAL_STATES: tuple[RequestState, ...] = ("done", "failed", "outcome_unknown")

MAX_NUMBERS = 50  # phone numbers one check may name
# Why WhatsApp (or the sidecar) refused; the public API maps each to its HTTP status (docs/requests.md).
RequestErrorCode = Literal[
    "bad_request",  # WhatsApp refused the arguments (400)
    "not_found",  # the chat, message or group does not exist for this account (404)
    "forbidden",  # not allowed: not a group admin, not the sender (403)
    "not_on_whatsapp",  # the number has no WhatsApp account (404)
    "unreachable",  # the sidecar cannot reach WhatsApp right now (503)
    "failed",  # anything else WhatsApp answered (502)
]


# ---------------------------------------------------------------- operations
class CheckNumbersArgs(ContractModel):
    numbers: list[str] = Field(min_length=1, max_length=MAX_NUMBERS, description="Phone numbers, any common form")


class NumberCheck(ContractModel):
    number: str = Field(description="The number as asked")
    exists: bool = Field(description="Whether it has a WhatsApp account")
    jid: str | None = Field(default=None, description="Its phone-number JID (…@s.whatsapp.net)")
    lid: str | None = Field(default=None, description="Its LID (…@lid), when WhatsApp told it")


class CheckNumbersResult(ContractModel):
    numbers: list[NumberCheck]


class ChatPresenceArgs(ContractModel):
    chat: str = Field(min_length=1, max_length=MAX_ID, description="Phone number, group id or JID")
    state: Literal["composing", "recording", "paused"] = Field(
        description="composing (typing), recording (a voice note) or paused (stopped)"
    )


class ChatPresenceResult(ContractModel):
    sent: bool = True


ARGUMENTS: dict[str, type[ContractModel]] = {"check_numbers": CheckNumbersArgs, "chat_presence": ChatPresenceArgs}
RESULTS: dict[str, type[ContractModel]] = {"check_numbers": CheckNumbersResult, "chat_presence": ChatPresenceResult}


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
