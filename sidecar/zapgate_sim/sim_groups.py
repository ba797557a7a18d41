"""Groups on the simulated network: one record per group, shared by its members (so a rename by one is what all
of them read), with the operations that create, read and edit them.

WhatsApp's rules, as the network enforces them (members and invites are in sim_group_members):

* The creator is the group's super admin. Participants named at creation that have no WhatsApp account (or
  that block the creator) are simply not added: the group comes back without them, as WhatsApp creates the
  group anyway and the caller compares the participants it asked for with the ones it got.
* Only members read a group (group_info): anyone else gets forbidden; a group that does not exist, not_found.
* Name and description: any member, unless the group is locked (then admins only: forbidden). Settings
  (announce, locked): admins only.
* Discovery (list_groups, whatsmeow GetJoinedGroups) lists the groups the account is a member of, by its number.
  `set_group` (control API) makes a group exist with that subject and the instance a plain member of it; an
  instance not paired yet becomes a member when it pairs.
"""

from __future__ import annotations

import hashlib
from typing import Any

from zapgate_core.contract.request_ops.groups import MAX_GROUP_DESCRIPTION, MAX_GROUP_NAME
from zapgate_core.domain.jids import GROUP_SERVER, InvalidDestination, normalize_destination

from .sim_core import SimCore
from .sim_records import Group, Role, lid_jid, phone_jid
from .sim_state import Forbidden, InvalidRequest, NotFound, _Instance

INVITE_PREFIX = "https://chat.whatsapp.com/"
_INVITE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def group_jid(value: str) -> str:
    """A group JID from the argument (…@g.us or a legacy <digits>-<digits> id); anything else → bad_request."""
    try:
        destination = normalize_destination(value)
    except InvalidDestination as exc:
        raise InvalidRequest(f"invalid group: {exc}") from exc
    if destination.kind != "group":
        raise InvalidRequest(f"invalid group: must be <id>@{GROUP_SERVER}")
    return destination.jid


def _subject(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidRequest("a group needs a name")
    if len(name) > MAX_GROUP_NAME:
        raise InvalidRequest(f"a group name has at most {MAX_GROUP_NAME} characters")
    return name


class GroupsMixin(SimCore):
    """The network's groups: discovery, create, info, name, description, settings, and their views."""

    # ------------------------------------------------------------ helpers (lock held)
    def _new_invite_code(self, group: Group) -> None:
        """A fresh 22-character code (WhatsApp's length); the previous one stops working at once."""
        group.invite_counter += 1
        digest = hashlib.sha256(f"invite:{group.jid}:{group.invite_counter}".encode()).digest()
        group.invite_code = "".join(_INVITE_ALPHABET[b % len(_INVITE_ALPHABET)] for b in digest[:22])

    def _make_group(self, jid: str, name: str, owner: str | None) -> Group:
        group = Group(jid=jid, name=name, created_at=self._now(), owner=owner)
        self._new_invite_code(group)
        self._groups[jid] = group
        return group

    def _group_for(self, instance: _Instance, group: str) -> Group:
        """The group, if this account is in it: not_found when it does not exist, forbidden when not a member."""
        found = self._groups.get(group_jid(group))
        if found is None:
            raise NotFound("no such group")
        if instance.jid not in found.participants:
            raise Forbidden("not a participant of this group")
        return found

    def _require_admin(self, instance: _Instance, group: Group, what: str) -> None:
        if not group.is_admin(instance.jid):
            raise Forbidden(f"only group admins {what}")

    def _may_edit_info(self, instance: _Instance, group: Group) -> None:
        if group.locked:
            self._require_admin(instance, group, "edit the info of a locked group")

    @staticmethod
    def _participant_json(jid: str, role: Role) -> dict[str, Any]:
        return {"jid": jid, "lid": lid_jid(jid.split("@", 1)[0]), "phone_jid": jid,
                "is_admin": role in ("admin", "superadmin"), "is_super_admin": role == "superadmin"}

    def _group_info(self, group: Group) -> dict[str, Any]:
        """The group as the contract's GroupInfo says it."""
        return {"jid": group.jid, "name": group.name, "description": group.description, "owner": group.owner,
                "created_at": int(group.created_at), "announce": group.announce, "locked": group.locked,
                "participants": [self._participant_json(j, r) for j, r in group.participants.items()]}

    def _on_paired(self, instance: _Instance) -> None:
        super()._on_paired(instance)
        assert instance.jid is not None
        for jid in instance.groups:  # groups a test declared before the instance had a number
            if jid in self._groups:
                self._groups[jid].participants.setdefault(instance.jid, "member")

    # ------------------------------------------------------------ discovery (control API and GetJoinedGroups)
    def set_group(self, instance_id: str, jid: str, name: str) -> dict[str, str]:
        """The account joins a group, or a group it is in gets a new subject."""
        group_id = jid if "@" in jid else f"{jid}@{GROUP_SERVER}"
        user, _, server = group_id.partition("@")
        if server != GROUP_SERVER or not user:
            raise InvalidRequest(f"invalid group jid: must be <id>@{GROUP_SERVER}")
        with self._cond:
            instance = self._instance(instance_id)
            instance.groups[group_id] = name
            group = self._groups.get(group_id)
            if group is None:
                group = self._make_group(group_id, name, None)
            group.name = name
            if instance.jid is not None:
                group.participants.setdefault(instance.jid, "member")
            return {"jid": group_id, "name": name}

    def list_groups(self, instance_id: str, session_id: str) -> list[dict[str, str]]:
        """What the connected session sees of the account's groups (whatsmeow GetJoinedGroups)."""
        with self._cond:
            instance = self._require_session(instance_id, session_id)
            return [{"jid": g.jid, "name": g.name} for g in sorted(self._groups.values(), key=lambda g: g.jid)
                    if instance.jid in g.participants]

    # ------------------------------------------------------------ the operations (lock held, session checked)
    def _group_create(self, instance: _Instance, name: str, participants: list[str]) -> dict[str, Any]:
        assert instance.jid is not None and instance.phone is not None
        subject = _subject(name)
        self._group_counter += 1
        number = int(hashlib.sha256(f"group:{instance.phone}:{self._group_counter}".encode()).hexdigest(), 16)
        jid = f"120363{number % 10**12:012d}@{GROUP_SERVER}"
        added: dict[str, Role] = {instance.jid: "superadmin"}
        not_added: list[dict[str, Any]] = []
        for asked in participants:
            digits = self._user_digits(asked)
            if digits is None or not self._account_exists(digits):
                not_added.append({"jid": asked, "ok": False, "error": "not_on_whatsapp"})
            elif self._blocks(digits, instance.jid):  # WhatsApp answers 403 for their privacy settings
                not_added.append({"jid": asked, "ok": False, "error": "forbidden"})
            else:
                added.setdefault(phone_jid(digits), "member")
        group = self._make_group(jid, subject, instance.jid)
        group.participants = added
        return {**self._group_info(group), "not_added": not_added}

    def _blocks(self, digits: str, jid: str) -> bool:
        """Whether the gateway account on this number blocks `jid` (accounts outside the gateway block nobody)."""
        other = self._instance_of(digits)
        return other is not None and jid in self._extras_of(other.id).blocked

    def _group_info_op(self, instance: _Instance, group: str) -> dict[str, Any]:
        return self._group_info(self._group_for(instance, group))

    def _group_name(self, instance: _Instance, group: str, name: str) -> dict[str, Any]:
        found = self._group_for(instance, group)
        self._may_edit_info(instance, found)
        found.name = _subject(name)
        return {"done": True}

    def _group_description(self, instance: _Instance, group: str, description: str) -> dict[str, Any]:
        found = self._group_for(instance, group)
        self._may_edit_info(instance, found)
        if len(description) > MAX_GROUP_DESCRIPTION:
            raise InvalidRequest(f"a description has at most {MAX_GROUP_DESCRIPTION} characters")
        found.description = description
        return {"done": True}

    def _group_settings(self, instance: _Instance, group: str, announce: bool | None,
                        locked: bool | None) -> dict[str, Any]:
        found = self._group_for(instance, group)
        self._require_admin(instance, found, "change the group's settings")
        if announce is not None:
            found.announce = announce
        if locked is not None:
            found.locked = locked
        return {"done": True}

    # ------------------------------------------------------------ views
    def group_view(self, jid: str) -> dict[str, Any]:
        """Everything about a group, for tests and the demo (no membership needed: this is the network's view)."""
        with self._cond:
            group = self._groups.get(group_jid(jid))
            if group is None:
                raise NotFound("no such group")
            return {**self._group_info(group), "created_at": group.created_at,
                    "admins": [j for j, r in group.participants.items() if r != "member"],
                    "invite_code": group.invite_code, "invite_link": INVITE_PREFIX + group.invite_code}

    def groups_view(self) -> list[dict[str, Any]]:
        with self._cond:
            return [{"jid": g.jid, "name": g.name, "participants": len(g.participants)}
                    for g in sorted(self._groups.values(), key=lambda g: g.jid)]
