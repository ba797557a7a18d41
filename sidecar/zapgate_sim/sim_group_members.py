"""Who is in a group: add, remove, promote, demote; invite links; join and leave.

WhatsApp's rules, as the network enforces them:

* Only admins change participants: anyone else gets forbidden for the whole call and nothing changes. An admin's
  call answers per participant: `not_on_whatsapp` (no account), `already_participant` (add), `not_participant`
  (remove, promote, demote), `forbidden` (the super admin cannot be removed or demoted; someone who blocks the
  admin cannot be added), `bad_request` (not a user JID). Promoting an admin or demoting a member is ok.
* Invite links: admins only (get or reset). A reset makes a new code and the old one stops working at once.
* Joining by a link or its bare code: an unknown or revoked code is not_found; a member joining again is ok.
* Leaving: members only (forbidden otherwise). When the last admin leaves or is removed, WhatsApp makes another
  participant admin, here the longest-standing one.
"""

from __future__ import annotations

import re
from typing import Any

from .sim_groups import INVITE_PREFIX, GroupsMixin
from .sim_records import Group, phone_jid
from .sim_state import InvalidRequest, NotFound, _Instance

_CODE = re.compile(r"^[A-Za-z0-9]{6,40}$")


def invite_code(link: str) -> str:
    """The code of `https://chat.whatsapp.com/<code>` (scheme optional) or of a bare code."""
    value = link.strip()
    for prefix in (INVITE_PREFIX, "http://chat.whatsapp.com/", "chat.whatsapp.com/"):
        if value.startswith(prefix):
            value = value[len(prefix):].split("?", 1)[0].rstrip("/")
            break
    if not _CODE.match(value):
        raise InvalidRequest("not an invite link or code")
    return value


class GroupMembersMixin(GroupsMixin):
    """group_participants, group_invite_link, group_join, group_leave."""

    def _drop_member(self, group: Group, jid: str) -> None:
        """Lock held: `jid` is out of the group; its instance stops listing it; the group keeps an admin."""
        group.participants.pop(jid, None)
        member = self._instance_of(jid.split("@", 1)[0])
        if member is not None:
            member.groups.pop(group.jid, None)
        if group.participants and not any(r != "member" for r in group.participants.values()):
            group.participants[next(iter(group.participants))] = "admin"

    def _group_participants(self, instance: _Instance, group: str, action: str,
                            participants: list[str]) -> dict[str, Any]:
        found = self._group_for(instance, group)
        self._require_admin(instance, found, "change participants")
        assert instance.jid is not None
        outcomes = []
        for asked in participants:
            error = self._change_participant(instance.jid, found, action, asked)
            outcomes.append({"jid": asked, "ok": error is None, "error": error})
        return {"participants": outcomes}

    def _change_participant(self, admin: str, group: Group, action: str, asked: str) -> str | None:
        """One participant's change; returns why not (WhatsApp's per-participant error), None when done."""
        try:
            digits = self._user_digits(asked)
        except InvalidRequest:
            return "bad_request"
        if digits is None or not self._account_exists(digits):
            return "not_on_whatsapp"
        jid = phone_jid(digits)
        role = group.participants.get(jid)
        if action == "add":
            if role is not None:
                return "already_participant"
            if self._blocks(digits, admin):
                return "forbidden"
            group.participants[jid] = "member"
            return None
        if role is None:
            return "not_participant"
        if action == "promote":
            if role == "member":
                group.participants[jid] = "admin"
            return None
        if role == "superadmin":
            return "forbidden"  # the creator can be neither removed nor demoted by other admins
        if action == "demote":
            group.participants[jid] = "member"
            if not any(r != "member" for r in group.participants.values()):
                group.participants[jid] = "admin"  # the last admin cannot demote themselves away
                return "forbidden"
            return None
        self._drop_member(group, jid)  # remove
        return None

    def _group_invite_link(self, instance: _Instance, group: str, reset: bool) -> dict[str, Any]:
        found = self._group_for(instance, group)
        self._require_admin(instance, found, "see or reset the invite link")
        if reset:
            self._new_invite_code(found)
        return {"link": INVITE_PREFIX + found.invite_code}

    def _group_join(self, instance: _Instance, link: str) -> dict[str, Any]:
        assert instance.jid is not None
        code = invite_code(link)
        found = next((g for g in self._groups.values() if g.invite_code == code), None)
        if found is None:
            raise NotFound("invite link unknown or revoked")
        found.participants.setdefault(instance.jid, "member")
        return {"jid": found.jid}

    def _group_leave(self, instance: _Instance, group: str) -> dict[str, Any]:
        found = self._group_for(instance, group)
        assert instance.jid is not None
        self._drop_member(found, instance.jid)
        return {"done": True}
