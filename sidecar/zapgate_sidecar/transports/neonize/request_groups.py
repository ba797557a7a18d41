"""Requests about groups over neonize: create, read, rename, describe, settings, participants, invite links,
join and leave. Each is one whatsmeow group IQ (``w:g2``) unless said otherwise; each ``<op>_on(client, args)``
runs inside the session's request fence (session_requests).

* ``create_group`` cannot be deduplicated here: a retry after a lost answer makes a second group. At most once
  is the control plane's claim (docs/requests.md); this code only never calls it twice. Participants WhatsApp
  refused to add (privacy settings, no account) come back with an error code and are left out of the group's
  members.
* ``set_group_topic`` is called without ids: whatsmeow first reads the group's info for the previous topic id
  (a second IQ); an empty description deletes it.
* Settings are two IQs when both are given (announce, then locked); if the second fails the first stays.
* ``update_group_participants`` answers per participant, with WhatsApp's code when it failed (codes below);
  the server may answer with the other JID form (a LID for a phone JID), so answers are matched by JID, LID
  and phone JID before position.
* ``join_group_with_link``: for a group whose admins approve members, whatsmeow answers the group's JID as
  for a join (``membership_approval_request``): the result cannot tell "joined" from "asked to join".
* neonize carries the creation time as a float32 (goneonize ``EncodeGroupInfo``): ``created_at`` is off by
  up to 64 s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zapgate_core.contract.request_ops.groups import (
    GroupArgs,
    GroupCreateArgs,
    GroupCreated,
    GroupDescriptionArgs,
    GroupInfo,
    GroupJoinArgs,
    GroupJoined,
    GroupNameArgs,
    GroupParticipantsArgs,
    GroupParticipantsResult,
    GroupSettingsArgs,
    InviteLink,
    InviteLinkArgs,
    Participant,
    ParticipantAction,
    ParticipantOutcome,
)
from zapgate_core.contract.request_ops.outcomes import Done
from zapgate_core.domain.jids import GROUP_SERVER
from zapgate_sidecar.transport import Refused, TransportError
from zapgate_sidecar.transports.neonize.jids import jid_to_str
from zapgate_sidecar.transports.neonize.loading import load_neonize
from zapgate_sidecar.transports.neonize.request_errors import jid_arg, request_error

if TYPE_CHECKING:
    from collections.abc import Iterable

    from neonize.client import NewClient
    from neonize.proto.Neonize_pb2 import JID

INVITE_PREFIX = "https://chat.whatsapp.com/"
# WhatsApp's per-participant codes (known from other clients' documentation; whatsmeow passes them through).
_PARTICIPANT_ERRORS: dict[int, str] = {
    403: "forbidden",  # add: their privacy settings allow invites only; otherwise: not allowed
    404: "not_on_whatsapp",  # the number has no account
    408: "recently_left",  # add: they left the group recently
    500: "group_full",
}


# ---------------------------------------------------------------- mapping
def _jid_or_none(jid: JID) -> str | None:
    return jid_to_str(jid) or None


def participant_from(p: Any) -> Participant:
    """neonize's GroupParticipant: JID as WhatsApp addresses them (often the LID), LID and phone JID when shown."""
    return Participant(
        jid=jid_to_str(p.JID) or jid_to_str(p.LID) or jid_to_str(p.PhoneNumber),
        lid=_jid_or_none(p.LID),
        phone_jid=_jid_or_none(p.PhoneNumber),
        is_admin=p.IsAdmin or p.IsSuperAdmin,
        is_super_admin=p.IsSuperAdmin,
    )


def group_info_from(info: Any) -> GroupInfo:
    """neonize's GroupInfo protobuf as the contract's; participants WhatsApp answered with an error (not added
    at creation) are not members and are left out."""
    created = int(info.GroupCreated)
    topic = info.GroupTopic
    return GroupInfo(
        jid=jid_to_str(info.JID),
        name=info.GroupName.Name,
        description="" if topic.TopicDeleted else topic.Topic,
        owner=_jid_or_none(info.OwnerJID) or _jid_or_none(info.OwnerPN),
        created_at=created if created > 0 else None,  # Go's zero time encodes as a date in year 1
        announce=info.GroupAnnounce.IsAnnounce,
        locked=info.GroupLocked.isLocked,
        participants=[participant_from(p) for p in info.Participants if not p.Error],
    )


def participant_error(code: int, action: ParticipantAction) -> str:
    """WhatsApp's code for one participant as the contract's text: a name where its meaning is known."""
    if code == 409:
        return "already_participant" if action == "add" else "not_participant"
    return _PARTICIPANT_ERRORS.get(code, str(code))


def participant_outcomes(
    asked: list[str], answers: Iterable[Any], action: ParticipantAction
) -> GroupParticipantsResult:
    """One outcome per participant asked, in order. Matched by any of the answer's JIDs; what is left is paired
    in order; a participant WhatsApp said nothing about is not ok ("no_answer")."""
    pending = list(answers)
    matched: dict[int, Any] = {}
    for index, jid in enumerate(asked):
        for answer in pending:
            if jid in {jid_to_str(answer.JID), jid_to_str(answer.LID), jid_to_str(answer.PhoneNumber)}:
                matched[index] = answer
                pending.remove(answer)
                break
    unmatched = [index for index in range(len(asked)) if index not in matched]
    for index, answer in zip(unmatched, pending, strict=False):
        matched[index] = answer
    outcomes = []
    for index, jid in enumerate(asked):
        answer = matched.get(index)
        if answer is None:
            outcomes.append(ParticipantOutcome(jid=jid, ok=False, error="no_answer"))
        elif answer.Error:
            outcomes.append(ParticipantOutcome(jid=jid, ok=False, error=participant_error(answer.Error, action)))
        else:
            outcomes.append(ParticipantOutcome(jid=jid, ok=True))
    return GroupParticipantsResult(participants=outcomes)


def invite_link(link_or_code: str) -> str:
    """whatsmeow answers the full link; a bare code (older neonize) is made one."""
    return link_or_code if link_or_code.startswith(("https://", "http://")) else INVITE_PREFIX + link_or_code


def invite_code(link: str) -> str:
    """The code of an invite link in any usual spelling (scheme or not, query string), or a bare code."""
    code = link.strip()
    for prefix in ("https://", "http://"):
        code = code.removeprefix(prefix)
    code = code.removeprefix("chat.whatsapp.com/").split("?", 1)[0].strip("/")
    if not code or "/" in code:
        raise Refused(f"group join: not an invite link: {link[:60]!r}")
    return code


# ---------------------------------------------------------------- calls
def _group(action: str, group: str) -> JID:
    jid = jid_arg(action, group)
    if jid.Server != GROUP_SERVER:
        raise Refused(f"{action}: {group} is not a group")
    return jid


def group_create_on(client: NewClient, args: GroupCreateArgs) -> GroupCreated:
    participants = [jid_arg("group create", jid) for jid in args.participants]
    try:
        info = client.create_group(args.name, participants)
    except Exception as exc:
        raise request_error("group create", exc) from exc
    if not jid_to_str(info.JID):
        raise TransportError("group create: no group in the server's answer")
    # The creation's answer lists every participant asked, each with WhatsApp's code (0 = added).
    outcomes = participant_outcomes(list(args.participants), info.Participants, "add").participants
    added = group_info_from(info)
    return GroupCreated(**dict(added), not_added=[o for o in outcomes if not o.ok and o.error != "no_answer"])


def group_info_on(client: NewClient, args: GroupArgs) -> GroupInfo:
    group = _group("group info", args.group)
    try:
        info = client.get_group_info(group)
    except Exception as exc:
        raise request_error("group info", exc) from exc
    return group_info_from(info)


def group_name_on(client: NewClient, args: GroupNameArgs) -> Done:
    group = _group("group name", args.group)
    try:
        client.set_group_name(group, args.name)
    except Exception as exc:
        raise request_error("group name", exc) from exc
    return Done()


def group_description_on(client: NewClient, args: GroupDescriptionArgs) -> Done:
    group = _group("group description", args.group)
    try:
        client.set_group_topic(group, "", "", args.description)  # ids "": whatsmeow finds and makes them
    except Exception as exc:
        raise request_error("group description", exc) from exc
    return Done()


def group_settings_on(client: NewClient, args: GroupSettingsArgs) -> Done:
    group = _group("group settings", args.group)
    action = "group settings"
    try:
        if args.announce is not None:
            client.set_group_announce(group, args.announce)
            action = "group settings (announce changed, locked not)"
        if args.locked is not None:
            client.set_group_locked(group, args.locked)
    except Exception as exc:
        raise request_error(action, exc) from exc
    return Done()


def group_participants_on(client: NewClient, args: GroupParticipantsArgs) -> GroupParticipantsResult:
    load_neonize()
    from neonize.utils.enum import ParticipantChange

    group = _group("group participants", args.group)
    participants = [jid_arg("group participants", jid) for jid in args.participants]
    try:
        answers = client.update_group_participants(group, participants, ParticipantChange(args.action))
    except Exception as exc:
        raise request_error(f"group participants ({args.action})", exc) from exc
    return participant_outcomes(args.participants, answers, args.action)


def group_invite_link_on(client: NewClient, args: InviteLinkArgs) -> InviteLink:
    group = _group("group invite link", args.group)
    try:
        link = client.get_group_invite_link(group, args.reset)
    except Exception as exc:
        raise request_error("group invite link", exc) from exc
    if not link:
        raise TransportError("group invite link: no link in the server's answer")
    return InviteLink(link=invite_link(link))


def group_join_on(client: NewClient, args: GroupJoinArgs) -> GroupJoined:
    code = invite_code(args.link)
    try:
        joined = client.join_group_with_link(code)
    except Exception as exc:
        raise request_error("group join", exc) from exc
    jid = jid_to_str(joined)
    if not jid:
        raise TransportError("group join: no group in the server's answer")
    return GroupJoined(jid=jid)


def group_leave_on(client: NewClient, args: GroupArgs) -> Done:
    group = _group("group leave", args.group)
    try:
        client.leave_group(group)
    except Exception as exc:
        raise request_error("group leave", exc) from exc
    return Done()
