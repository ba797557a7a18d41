"""Contacts and this account's profile: user info, profile pictures, the blocklist, push name, about, presence.

WhatsApp's rules, as the network enforces them:

* A user is on WhatsApp when a gateway instance is paired with the number or a test registered the account
  (POST /sim/accounts). Anyone else: not_on_whatsapp. A LID is resolved to the account it was derived from.
* user_info shows the push name (an instance's as it last set it with profile_name, else the registered one),
  the about text and the current picture id; profile_picture a fake CDN URL for accounts that have a picture,
  null otherwise. A gateway account that blocks the asker hides its about and picture from them (as WhatsApp's
  privacy does).
* The blocklist is per account, in blocking order; blocking twice or unblocking someone not blocked is ok.
"""

from __future__ import annotations

from typing import Any

from .sim_groups import GroupsMixin, group_jid
from .sim_records import Extras, lid_jid, phone_jid, sim_picture_url
from .sim_state import InvalidRequest, NotFound, NotOnWhatsApp, _Instance


class ContactOpsMixin(GroupsMixin):
    """user_info, profile_picture, block, blocklist, own_presence, profile_name, profile_about."""

    def _account_digits(self, jid: str) -> str:
        """The digits of a user with a WhatsApp account; not_on_whatsapp otherwise (lock held)."""
        digits = self._user_digits(jid)
        if digits is None or not self._account_exists(digits):
            raise NotOnWhatsApp("not on WhatsApp")
        return digits

    def _user_info(self, instance: _Instance, jid: str) -> dict[str, Any]:
        assert instance.jid is not None
        digits = self._account_digits(jid)
        hidden = self._blocks(digits, instance.jid)
        return {"jid": jid if "@" in jid else phone_jid(digits), "lid": lid_jid(digits),
                "push_name": self._push_name(digits),
                "about": None if hidden else self._about.get(digits),
                "picture_id": None if hidden else self._pictures.get(digits)}

    def _profile_picture(self, instance: _Instance, jid: str, preview: bool) -> dict[str, Any]:
        assert instance.jid is not None
        if jid.endswith("@g.us"):
            group = self._groups.get(group_jid(jid))
            if group is None:
                raise NotFound("no such group")
            return {"jid": group.jid, "url": None, "picture_id": None}  # groups in the sim have no picture
        digits = self._account_digits(jid)
        picture_id = None if self._blocks(digits, instance.jid) else self._pictures.get(digits)
        url = sim_picture_url(digits, picture_id, preview) if picture_id else None
        return {"jid": jid, "url": url, "picture_id": picture_id}

    def _block(self, instance: _Instance, jid: str, action: str) -> dict[str, Any]:
        digits = self._account_digits(jid)
        if digits == instance.phone:
            raise InvalidRequest("an account cannot block itself")
        blocked = self._extras_of(instance.id).blocked
        target = phone_jid(digits)
        if action == "block" and target not in blocked:
            blocked.append(target)
        elif action == "unblock" and target in blocked:
            blocked.remove(target)
        return {"jids": list(blocked)}

    def _blocklist(self, instance: _Instance) -> dict[str, Any]:
        return {"jids": list(self._extras_of(instance.id).blocked)}

    def _own_presence(self, instance: _Instance, state: str) -> dict[str, Any]:
        self._extras_of(instance.id).presence = state
        return {"done": True}

    def _profile_name(self, instance: _Instance, name: str) -> dict[str, Any]:
        instance.push_name = name  # what others' user_info shows from now on
        return {"done": True}

    def _profile_about(self, instance: _Instance, about: str) -> dict[str, Any]:
        assert instance.phone is not None
        if about:
            self._about[instance.phone] = about
        else:
            self._about.pop(instance.phone, None)
        return {"done": True}

    # ------------------------------------------------------------ views
    def account_view(self, phone: str) -> dict[str, Any]:
        """A number as the network knows it: on WhatsApp or not, its profile as others see it."""
        with self._cond:
            digits = self._user_digits(phone)
            if digits is None:
                raise NotFound("unknown LID")
            instance = self._instance_of(digits)
            return {"jid": phone_jid(digits), "lid": lid_jid(digits), "on_whatsapp": self._account_exists(digits),
                    "push_name": self._push_name(digits), "about": self._about.get(digits),
                    "picture_id": self._pictures.get(digits), "instance_id": instance.id if instance else None}

    def profile_view(self, instance_id: str) -> dict[str, Any]:
        """What an instance's requests changed about it: blocklist, own presence, about, push name."""
        with self._cond:
            instance = self._instances.get(instance_id)
            extras = self._extras.get(instance_id) or Extras()
            phone = instance.phone if instance else None
            return {"push_name": instance.push_name if instance else None,
                    "about": self._about.get(phone) if phone else None,
                    "presence": extras.presence, "blocklist": list(extras.blocked)}
