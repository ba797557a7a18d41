"""zapgate-only worker-proxy endpoint: what WhatsApp tells an instance besides new messages (issue 10).

`POST /worker-proxy/inbound-changes` takes one report: a message edited or deleted for everyone (revoked),
a group's participants or info changed, a call received. The Node worker never calls it (its contract,
../shared/contracts/worker-proxy.md, is unchanged); zapgate's sidecar does. Every report is idempotent: a
retry, or a second sidecar reporting the same thing after a failover, changes nothing more and publishes
the same event ids.

A call report is answered with what the instance's settings say (`reject`): the sidecar rejects the call
on the phone. The text back to the caller (`reject_call_message`) is queued by the worker-proxy on the
normal send queue with an id derived from the call, so it is sent at most once whoever reports the call.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from zapgate_core.contract.base import ContractModel
from zapgate_core.contract.common import MAX_BODY, MAX_ID

_InstanceId = Field(alias="instanceId", min_length=1, max_length=MAX_ID)
_Jid = Field(min_length=3, max_length=MAX_ID)
_GroupJid = Field(min_length=6, max_length=MAX_ID, pattern=r"^[^@\s]+@g\.us$")  # as GroupReport's
MAX_TIMESTAMP = 4_102_444_800_000  # 2100-01-01 in ms: epoch seconds or ms below it; above is garbage (no 500)
MAX_PARTICIPANTS = 1_024  # WhatsApp's group size limit
MAX_GROUP_DESCRIPTION = 2_048


class MessageEditedReport(ContractModel):
    """The sender changed a message's text. `edit_wa_message_id` is the edit's own WhatsApp id (it orders
    edits with `timestamp` and makes a repeat a no-op)."""

    kind: Literal["message_edited"]
    instance_id: str = _InstanceId
    wa_message_id: str = Field(min_length=1, max_length=MAX_ID, description="the edited message's WhatsApp id")
    edit_wa_message_id: str = Field(min_length=1, max_length=MAX_ID)
    chat_id: str = _Jid
    sender: str = Field(min_length=3, max_length=MAX_ID, description="who edited (the message's author)")
    sender_pn: str | None = Field(default=None, max_length=MAX_ID)
    from_me: bool = False
    text: str = Field(max_length=MAX_BODY)
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP, description="WhatsApp's time of the edit, epoch seconds or ms")


class MessageRevokedReport(ContractModel):
    """A message deleted for everyone, by its sender or (in a group) an admin."""

    kind: Literal["message_revoked"]
    instance_id: str = _InstanceId
    wa_message_id: str = Field(min_length=1, max_length=MAX_ID, description="the deleted message's WhatsApp id")
    chat_id: str = _Jid
    revoked_by: str | None = Field(default=None, max_length=MAX_ID)
    from_me: bool = False
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP)


class GroupParticipantsReport(ContractModel):
    kind: Literal["group_participants"]
    instance_id: str = _InstanceId
    group: str = _GroupJid
    action: Literal["add", "remove", "promote", "demote"]
    participants: list[Annotated[str, Field(min_length=3, max_length=MAX_ID)]] = Field(
        min_length=1, max_length=MAX_PARTICIPANTS
    )
    by: str | None = Field(default=None, max_length=MAX_ID)
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP)


class GroupInfoReport(ContractModel):
    """What changed in a group's info; absent (null) fields did not change."""

    kind: Literal["group_info"]
    instance_id: str = _InstanceId
    group: str = _GroupJid
    name: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=MAX_GROUP_DESCRIPTION)
    announce: bool | None = Field(default=None, description="only admins may send")
    locked: bool | None = Field(default=None, description="only admins may edit the info")
    by: str | None = Field(default=None, max_length=MAX_ID)
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP)


class CallReport(ContractModel):
    kind: Literal["call_received"]
    instance_id: str = _InstanceId
    call_id: str = Field(min_length=1, max_length=MAX_ID)
    caller: str = Field(alias="from", min_length=3, max_length=MAX_ID)
    video: bool = False
    is_group: bool = False
    group: str | None = Field(default=None, max_length=MAX_ID, description="the group of a group call, when known")
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP)


InboundChange = Annotated[
    MessageEditedReport | MessageRevokedReport | GroupParticipantsReport | GroupInfoReport | CallReport,
    Field(discriminator="kind"),
]

ChangeOutcome = Literal["applied", "duplicate", "unknown_message", "ignored"]


class InboundChangeResponse(ContractModel):
    """`applied`: stored / published; `duplicate`: reported before, nothing done; `unknown_message`: the edit or
    revoke names a message zapgate never stored (before pairing, ignored group, expired): nothing to mark;
    `ignored`: refused by a rule (an edit by someone else than the author, an edit after a revoke)."""

    outcome: ChangeOutcome
    message_id: str | None = Field(default=None, description="zapgate's id of the message edited or revoked")
    reject: bool = Field(default=False, description="call_received: reject the call (the instance's reject_calls)")
    reply_message_id: str | None = Field(default=None, description="call_received: the queued reply text's id")
